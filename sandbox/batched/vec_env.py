"""``BatchedVecEnv``: an SB3 VecEnv whose envs are the worlds of one MuJoCo Warp model.

It keeps the semantics of a DummyVecEnv of ``gym.make(env_id)`` (each env a
TimeLimit around the Gymnasium env): the same observation and action spaces,
reward, termination (the healthy checks), truncation at the registered
episode length, reset noise and frame skip, and SB3's auto-reset with
``terminal_observation`` and ``TimeLimit.truncated`` in the infos.

Everything is computed on the simulator's device as torch tensors; SB3 gets
numpy where its buffers need it: one device-to-host copy per step carries the
observation, the reward, the done flags and the info columns. The infos are a
:class:`~envs.extract.BatchInfos`: one small dict per env (SB3 writes into
them) that also carries every info field as one column, which the card
extractors read without a loop over envs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from envs.extract import BatchInfos
from sandbox.batched.sim import WarpSim
from sandbox.batched.tasks import task_for


class BatchedVecEnv(VecEnv):
    """``n_envs`` worlds of ``env_id`` on ``device`` (a torch device name)."""

    def __init__(
        self,
        env_id: str,
        n_envs: int,
        *,
        device: str = "cpu",
        make_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        env = gym.make(env_id, **(make_kwargs or {}))
        self.max_episode_steps = env.spec.max_episode_steps if env.spec else None
        unwrapped: Any = env.unwrapped
        self.task = task_for(unwrapped)
        self.sim = WarpSim(unwrapped.model, n_envs, self.task.frame_skip, device)
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        obs_space = gym.spaces.Box(-np.inf, np.inf, space.shape, np.float32)
        self.render_mode = None
        super().__init__(n_envs, obs_space, env.action_space)
        env.close()
        dev = self.sim.torch_device
        self.torch_device = dev
        self._generator = torch.Generator(device=dev)
        self._generator.manual_seed(int(np.random.randint(2**31)) if seed is None else seed)
        self._init_qpos = torch.tensor(self.task.init_qpos, dtype=torch.float32, device=dev)
        self._init_qvel = torch.tensor(self.task.init_qvel, dtype=torch.float32, device=dev)
        self._elapsed = torch.zeros(n_envs, dtype=torch.int64, device=dev)
        self._anchor = self.task.anchor(self.sim.view).clone()
        self._actions = torch.zeros((n_envs, self.sim.ctrl.shape[1]), device=dev)
        self.obs_tensor = torch.zeros((n_envs, *obs_space.shape), device=dev)
        """The latest observation on the device (the same values SB3 got as numpy)."""

    # --- resets -------------------------------------------------------------------

    def _noise(self, count: int, size: int, kind: str) -> torch.Tensor:
        scale = self.task.noise_scale
        shape = (count, size)
        if kind == "normal":
            draw = torch.randn(shape, generator=self._generator, device=self.torch_device)
            return scale * draw
        draw = torch.rand(shape, generator=self._generator, device=self.torch_device)
        return (2.0 * draw - 1.0) * scale

    def reset_state(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One fresh reset state (qpos, qvel) per env, drawn as Gymnasium draws them."""
        n = self.num_envs
        qpos = self._init_qpos + self._noise(n, self._init_qpos.numel(), "uniform")
        qvel = self._init_qvel + self._noise(n, self._init_qvel.numel(), self.task.qvel_noise)
        return qpos, qvel

    def reset_worlds(self, worlds: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Start new episodes in the worlds of the bool mask ``worlds`` from their rows of
        ``qpos`` and ``qvel`` (one row per world; the other rows are not read)."""
        self.sim.reset(worlds, qpos, qvel)
        view = self.sim.view
        self.obs_tensor[worlds] = self.task.observe(view)[worlds]
        self._anchor[worlds] = self.task.anchor(view)[worlds]
        self._elapsed[worlds] = 0

    def reset(self) -> VecEnvObs:
        if self._seeds[0] is not None:
            self._generator.manual_seed(int(self._seeds[0]))
        self._reset_seeds()
        every = torch.ones(self.num_envs, dtype=torch.bool, device=self.torch_device)
        qpos, qvel = self.reset_state()
        self.reset_worlds(every, qpos, qvel)
        columns = self.task.reset_info(self.sim.qpos)
        self.reset_infos = list(BatchInfos.of(self.num_envs, _host(columns)))
        return _host({"obs": self.obs_tensor})["obs"]

    # --- steps --------------------------------------------------------------------

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = torch.as_tensor(
            np.asarray(actions, dtype=np.float32), device=self.torch_device
        ).reshape(self._actions.shape)

    def step_wait(self) -> VecEnvStepReturn:
        sim, task = self.sim, self.task
        sim.step(self._actions)
        view = sim.view
        outcome = task.outcome(view, self._anchor, self._actions)
        self.obs_tensor = task.observe(view)
        self._anchor = task.anchor(view).clone()
        self._elapsed += 1
        terminated = outcome.terminated
        truncated = torch.zeros_like(terminated)
        if self.max_episode_steps is not None:
            truncated = self._elapsed >= self.max_episode_steps
        done = terminated | truncated
        host = _host(
            {
                "obs": self.obs_tensor,
                "reward": outcome.reward,
                "done": done,
                "timeout": truncated & ~terminated,
                **outcome.info,
            }
        )
        obs, reward, dones, timeout = (host.pop(k) for k in ("obs", "reward", "done", "timeout"))
        infos = BatchInfos.of(self.num_envs, host)
        finished = np.flatnonzero(dones)
        if finished.size:
            for i in finished:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(timeout[i])
            qpos, qvel = self.reset_state()
            self.reset_worlds(done, qpos, qvel)
            obs[finished] = self.obs_tensor[done].cpu().numpy()
        return obs, reward.astype(np.float32), dones.astype(bool), infos

    # --- the rest of the VecEnv interface -------------------------------------------

    def close(self) -> None:
        self.sim.synchronize()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(self._indices(indices))
        raise AttributeError(f"the batched simulator's envs have no attribute {attr_name!r}")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"the batched simulator's envs have no attribute {attr_name!r}")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kw: Any) -> list:
        raise AttributeError(f"the batched simulator's envs have no method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


def _host(columns: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Every (B, ...) tensor as a numpy array on the host, in one device-to-host copy: the
    columns travel as one float32 block (bool columns come back as bool). The block is
    new memory each step, so no array aliases the simulator's, which resets overwrite."""
    flat = [
        value.detach().reshape(value.shape[0], -1).to(torch.float32) for value in columns.values()
    ]
    block = torch.cat(flat, dim=1).cpu().numpy()
    out, start = {}, 0
    for (name, value), part in zip(columns.items(), flat, strict=True):
        width = part.shape[1]
        array = block[:, start : start + width].reshape(value.shape)
        out[name] = array.astype(bool) if value.dtype == torch.bool else array
        start += width
    return out
