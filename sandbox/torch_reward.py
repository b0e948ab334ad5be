"""The ``"torch"`` reward backend: candidate code computes on torch tensors.

The wrapper and the smoke test speak numpy; this adapter sits between them and
the candidate's function. Each call hands the function private tensor copies of
the state and the action on the training device (float32 for real-valued
arrays, as the policy computes), and turns every tensor it returns back into a
float64 numpy array for the contract checks. Anything else it returns passes
through unchanged, so the checks describe it as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import torch

from sandbox.reward_code import RewardFn


def torch_reward(fn: RewardFn, device: str) -> RewardFn:
    """``fn`` (written for tensors on ``device``) as a reward on numpy arrays."""
    target = torch.device(device)

    def on_tensors(state: Mapping[str, np.ndarray], action: np.ndarray) -> object:
        with torch.no_grad():
            output = fn(TensorState(state, target), to_tensor(action, target))  # type: ignore[arg-type]
        return _to_numpy(output)

    return on_tensors  # type: ignore[return-value]


class TensorState(Mapping[str, torch.Tensor]):
    """The state as tensors, each made on first read: a reward pays the copy to the
    device only for the variables it uses."""

    def __init__(self, state: Mapping[str, np.ndarray], device: torch.device) -> None:
        self._state = state
        self._device = device
        self._made: dict[str, torch.Tensor] = {}

    def __getitem__(self, key: str) -> torch.Tensor:
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = to_tensor(self._state[key], self._device)
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)

    def __repr__(self) -> str:
        return f"TensorState({sorted(self._state)}, device={self._device})"


def to_tensor(value: np.ndarray, device: torch.device) -> torch.Tensor:
    """A tensor of its own on ``device``: writing into it never reaches env memory."""
    array = np.asarray(value)
    # Both branches copy, so the tensor shares nothing with the read-only input.
    array = array.astype(np.float32) if array.dtype.kind == "f" else array.copy()
    return torch.from_numpy(array).to(device)


def _to_numpy(output: object) -> object:
    if not isinstance(output, tuple) or len(output) != 2:
        return output
    total, components = output
    if isinstance(components, dict):
        components = {name: _array(value) for name, value in components.items()}
    return _array(total), components


def _array(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64).numpy()
    return value
