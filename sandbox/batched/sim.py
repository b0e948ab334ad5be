"""All of a candidate's worlds in one MuJoCo Warp model, seen from torch.

``WarpSim`` owns the Warp model and data (``nworld`` worlds of one MjModel) and
hands out torch views of the arrays the tasks read (``wp.to_torch`` shares the
memory: no copy, on the CPU or on the GPU). One :meth:`step` applies the
controls and runs the env's frame skip of ``mj_step``s (Gymnasium then runs
``mj_rnePostConstraint`` for the contact forces, which no covered env reads); on
CUDA those launches are captured once into a graph and replayed. :meth:`reset`
puts chosen worlds back to ``mj_resetData`` and writes their new qpos and qvel.
"""

from __future__ import annotations

from typing import Any

import mujoco
import torch

from sandbox.batched.tasks import Sim


def warp_device(device: str) -> str:
    """The Warp device for a torch device name: ``cuda``/``cuda:N`` or ``cpu``."""
    if device.startswith("cuda"):
        return device if ":" in device else "cuda:0"
    return "cpu"


def _import_warp() -> tuple[Any, Any]:
    import mujoco_warp as mjw
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING  # not a line per kernel module loaded
    wp.init()
    return wp, mjw


class WarpSim:
    """``nworld`` copies of ``model`` stepped together on ``device``."""

    def __init__(
        self, model: mujoco.MjModel, nworld: int, frame_skip: int, device: str = "cpu"
    ) -> None:
        wp, mjw = _import_warp()
        self._wp, self._mjw = wp, mjw
        self.device = warp_device(device)
        self.nworld = nworld
        self.frame_skip = frame_skip
        self._graph: Any = None
        # Per-world contact and constraint room: generous for bodies on a floor.
        nconmax = max(32, 4 * model.ngeom)
        with wp.ScopedDevice(self.device):
            self.model = mjw.put_model(model)
            self.data = mjw.make_data(model, nworld=nworld, nconmax=nconmax, njmax=8 * nconmax)
            mjw.forward(self.model, self.data)
        d = self.data
        self.ctrl = wp.to_torch(d.ctrl)
        self.qpos = wp.to_torch(d.qpos)
        self.qvel = wp.to_torch(d.qvel)
        self.torch_device = self.qpos.device
        self._reset_mask = wp.zeros(nworld, dtype=bool, device=self.device)
        self._reset_mask_t = wp.to_torch(self._reset_mask)
        if self.device != "cpu":
            self._capture()

    @property
    def view(self) -> Sim:
        return Sim(self.qpos, self.qvel)

    def _substeps(self) -> None:
        for _ in range(self.frame_skip):
            self._mjw.step(self.model, self.data)

    def _capture(self) -> None:
        """On CUDA: run the substeps once (Warp compiles kernels on first launch, and a
        graph can only record loaded ones), then record them into a graph. The warm-up
        step leaves the worlds moved: callers reset every world before stepping."""
        wp = self._wp
        with wp.ScopedDevice(self.device):
            self._substeps()
            with wp.ScopedCapture() as capture:
                self._substeps()
        self._graph = capture.graph

    def step(self, ctrl: torch.Tensor) -> None:
        """Apply ``ctrl`` (nworld, nu) and advance every world by one env step."""
        self.ctrl.copy_(ctrl)
        if self._graph is not None:
            self._wp.capture_launch(self._graph)
            return
        with self._wp.ScopedDevice(self.device):
            self._substeps()

    def reset(self, worlds: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """``mj_resetData`` for the worlds in the bool mask ``worlds``, then their rows of
        ``qpos`` (nworld, nq) and ``qvel`` (nworld, nv); the other rows are not read."""
        self._reset_mask_t.copy_(worlds)
        with self._wp.ScopedDevice(self.device):
            self._mjw.reset_data(self.model, self.data, reset=self._reset_mask)
        self.qpos[worlds] = qpos[worlds].to(self.qpos.dtype)
        self.qvel[worlds] = qvel[worlds].to(self.qvel.dtype)

    def synchronize(self) -> None:
        self._wp.synchronize_device(self.device)
