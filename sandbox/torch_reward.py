"""The ``"torch"`` reward backend: candidate code computes on torch tensors.

The wrapper and the smoke test speak numpy; this adapter sits between them and
the candidate's function. Each call hands the function private tensor copies of
the state and the action on the training device (float32 for real-valued
arrays, as the policy computes), and turns every tensor it returns back into a
float64 numpy array for the contract checks. Anything else it returns passes
through unchanged, so the checks describe it as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from sandbox.reward_code import RewardFn


def torch_reward(fn: RewardFn, device: str) -> RewardFn:
    """``fn`` (written for tensors on ``device``) as a reward on numpy arrays."""
    target = torch.device(device)

    def on_tensors(state: Mapping[str, np.ndarray], action: np.ndarray) -> object:
        tensors = {key: to_tensor(value, target) for key, value in state.items()}
        with torch.no_grad():
            output = fn(tensors, to_tensor(action, target))  # type: ignore[arg-type]
        return _to_numpy(output)

    return on_tensors  # type: ignore[return-value]


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
