"""The JSON contract between the service and the sandboxed worker.

The service writes a spec as JSON; ``python -m sandbox.train SPEC.json`` and
``python -m sandbox.evaluate SPEC.json`` read it. Nothing here imports ``app``.
All paths are absolute; the worker writes only under ``output_dir``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

RewardSource = Literal["candidate", "env", "fitness"]
"""Which reward trains the policy: the candidate's code, the env's own reward
(the human baseline) or the fitness metric itself (the sparse baseline)."""

RewardBackend = Literal["numpy", "torch"]
"""What candidate reward code computes with: numpy arrays on the CPU, or torch
tensors on the device the policy trains on."""

DEVICE_PATTERN = r"auto|cpu|cuda(:[0-9]{1,2})?"
"""The devices a spec may name (checked in full by ``sandbox.device.resolve_device``)."""

# Files a training worker leaves in output_dir.
STATS_FILE = "stats.json"  # size-capped JSON statistics (see sandbox.stats)
POLICY_FILE = "policy.pt"  # torch.save of {name: tensor}: policy state_dict + obs_rms
RESULT_FILE = "result.json"  # {"status": "ok"|"invalid"|"failed"|"screened", "error": str|None}
HEARTBEAT_FILE = "heartbeat.json"  # {"steps": int, "time": float}, rewritten as training goes
CHECKPOINT_DIR = "checkpoint"  # optimizer + policy + normalisation, to resume training
TENSORBOARD_DIR = "tensorboard"  # SB3's TensorBoard event files, when tensorboard is installed
TENSORBOARD_MAX_BYTES = 8 * 1024 * 1024  # more than that is deleted: the disk quota is shared
EVAL_FILE = "evaluation.json"  # written by the evaluator
VIDEO_FILE = "rollout.mp4"
EPISODES_FILE = "episodes.npz"  # recorded episodes (sandbox.episodes), when the spec asks
SCREEN_FILE = "screen.json"  # the reward's screen on archived episodes (sandbox.screen)


@dataclass
class TrainSpec:
    env_id: str
    fitness_metric: str
    output_dir: str
    reward_source: RewardSource = "candidate"
    reward_code: str | None = None
    reward_backend: RewardBackend = "numpy"
    card_spec: str | None = None  # "pkg.module:factory" for a user's own env card
    algorithm: Literal["PPO", "SAC"] = "PPO"
    timesteps: int = 100_000
    n_envs: int = 4
    seed: int = 0
    normalize_obs: bool = True
    hyperparams: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    tuned_n_envs: int | None = None  # the n_envs ``hyperparams`` were tuned for; None: the card's
    checkpoints: int = 10
    device: str = "cpu"
    simulator: str = "mujoco"  # or "mujoco_warp": all envs batched on one device (sandbox.batched)
    resume_from: str | None = None  # a CHECKPOINT_DIR of an earlier run of this candidate
    smoke_batch: int = 8  # states in the pre-training smoke test of the reward
    screen_archive: str | None = None  # an EPISODES_FILE of earlier candidates, read-only
    screen_min_correlation: float | None = None  # below this rank correlation: no training

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainSpec:
        return cls(**json.loads(text))


@dataclass
class EvalSpec:
    env_id: str
    fitness_metric: str
    policy_path: str  # a POLICY_FILE written by a training worker
    output_dir: str
    card_spec: str | None = None
    algorithm: Literal["PPO", "SAC"] = "PPO"
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    episodes: int = 5
    seed: int = 10_000
    video: bool = True
    video_max_steps: int = 1000  # the first episode is filmed up to this many steps
    video_max_seconds: float = 20.0  # ... or this much simulated time, whichever ends first
    device: str = "cpu"
    record_episodes: bool = False  # write EPISODES_FILE with every episode's states
    episode_max_floats: int = 65_536  # per episode: stored steps x numbers per step

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> EvalSpec:
        return cls(**json.loads(text))


def read_spec(path: str | Path, kind: type[TrainSpec] | type[EvalSpec]) -> Any:
    return kind.from_json(Path(path).read_text())
