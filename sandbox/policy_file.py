"""The policy file: trained weights as a flat dict of tensors, and how to use it.

The training worker writes ``policy.pt`` with :func:`save_policy_file`; the
trusted evaluator reads it with ``torch.load(weights_only=True)`` (tensors only,
nothing to unpickle) and rebuilds the same SB3 policy from the spaces and the
policy kwargs. Keys:

- the policy's ``state_dict()`` entries, unchanged;
- ``obs_rms.mean``, ``obs_rms.var``, ``obs_rms.clip``, ``obs_rms.epsilon`` when
  observations were normalised (VecNormalize's running statistics);
- ``meta.use_sde``: 1 when the policy was built with generalised state-dependent
  exploration (it changes the shape of the policy's parameters).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize
from stable_baselines3.sac.policies import SACPolicy

from envs.training import sb3_policy_kwargs

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"PPO": PPO, "SAC": SAC}
POLICY_CLASSES: dict[str, type[BasePolicy]] = {"PPO": ActorCriticPolicy, "SAC": SACPolicy}
_EXTRA_PREFIXES = ("obs_rms.", "meta.")


def save_policy_file(path: Path, model: BaseAlgorithm, venv: VecNormalize) -> None:
    """Write the model's policy weights and the observation statistics to ``path``."""
    tensors = {k: v.detach().cpu().clone() for k, v in model.policy.state_dict().items()}
    if venv.norm_obs:
        rms = venv.obs_rms
        assert isinstance(rms, RunningMeanStd)  # a Box observation space has one
        tensors["obs_rms.mean"] = torch.as_tensor(np.asarray(rms.mean), dtype=torch.float64)
        tensors["obs_rms.var"] = torch.as_tensor(np.asarray(rms.var), dtype=torch.float64)
        tensors["obs_rms.clip"] = torch.tensor(float(venv.clip_obs), dtype=torch.float64)
        tensors["obs_rms.epsilon"] = torch.tensor(float(venv.epsilon), dtype=torch.float64)
    tensors["meta.use_sde"] = torch.tensor(int(bool(getattr(model, "use_sde", False))))
    torch.save(tensors, path)


def load_policy_file(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a policy file; refuses anything but a flat dict of tensors.

    ``weights_only`` loading never runs code the file names: a pickle that asks
    for any callable (``os.system``, a class of the candidate's) is refused.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).split("WeightsUnpickler error:")[-1].split("Check the documentation")[0]
        raise ValueError(
            f"{path} is not a plain tensor file; refused to unpickle it (weights_only): "
            f"{' '.join(detail.split())[:300]}"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    ):
        raise ValueError(f"{path} is not a flat dict of named tensors")
    return data


class ObsNormalizer:
    """VecNormalize's observation transform, from the stored running statistics."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.mean = tensors["obs_rms.mean"].numpy()
        self.std = np.sqrt(tensors["obs_rms.var"].numpy() + float(tensors["obs_rms.epsilon"]))
        self.clip = float(tensors["obs_rms.clip"])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.clip((obs - self.mean) / self.std, -self.clip, self.clip).astype(np.float32)

    @staticmethod
    def from_file(tensors: dict[str, torch.Tensor]) -> ObsNormalizer | None:
        """The normaliser stored with the policy, or None when training did not normalise."""
        return ObsNormalizer(tensors) if "obs_rms.mean" in tensors else None


class _NoOptimizer:
    """Takes the place of the optimiser SB3 builds with every policy: evaluation never
    steps one, and building a torch optimiser first imports TorchDynamo (about a
    second of every evaluation)."""

    def __init__(self, params: Any, lr: float = 0.0, **kwargs: Any) -> None:
        self.param_groups: list[dict[str, Any]] = []


def build_policy(
    algorithm: str,
    observation_space: gym.Space,
    action_space: gym.Space,
    policy_kwargs: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    device: str = "cpu",
) -> BasePolicy:
    """The trained SB3 policy, rebuilt from spaces and kwargs and loaded from ``tensors``."""
    if algorithm not in POLICY_CLASSES:
        raise ValueError(f"unknown algorithm {algorithm!r}; known: {', '.join(POLICY_CLASSES)}")
    use_sde = bool(int(tensors.get("meta.use_sde", torch.tensor(0))))
    policy = POLICY_CLASSES[algorithm](
        observation_space,
        action_space,
        lambda _: 0.0,  # the learning rate: no optimiser step ever runs here
        use_sde=use_sde,
        **{**sb3_policy_kwargs(policy_kwargs), "optimizer_class": _NoOptimizer},
    )
    weights = {k: v for k, v in tensors.items() if not k.startswith(_EXTRA_PREFIXES)}
    policy.load_state_dict(weights)
    policy.set_training_mode(False)
    return policy.to(device)
