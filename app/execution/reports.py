"""The validated shapes of what a sandbox leaves behind.

Sandbox output is untrusted: it is read as JSON with a size cap (never
unpickled), checked against these models, and only the known fields, with
bounded strings and lists, go on to the database and the prompts. The shapes
are documented where they are written: ``sandbox.train`` (result.json),
``sandbox.stats`` (stats.json), ``sandbox.evaluate`` (evaluation.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from app.execution.process import read_json_file
from sandbox.spec import VIDEO_FILE

RESULT_MAX_BYTES = 64 * 1024
STATS_MAX_BYTES = 256 * 1024  # the worker caps stats.json at 64 KiB
EVAL_MAX_BYTES = 256 * 1024
MAX_ERROR_CHARS = 8000
MAX_EPISODES = 10_000
MAX_NAME_CHARS = 64
MAX_NOTE_CHARS = 500
MAX_STATE_VARS = 64
MAX_SCREEN_EPISODES = 256
SCREEN_MAX_BYTES = 64 * 1024


def _clip(limit: int) -> AfterValidator:
    return AfterValidator(lambda text: text[:limit])


def _own_video(name: str) -> str:
    if name != VIDEO_FILE:  # a path here would point the service at any file
        raise ValueError(f"video must be {VIDEO_FILE!r}")
    return name


Error = Annotated[str, _clip(MAX_ERROR_CHARS)]
Name = Annotated[str, _clip(MAX_NAME_CHARS)]
Note = Annotated[str, _clip(MAX_NOTE_CHARS)]
Number = float | None


class _Report(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


R = TypeVar("R", bound=_Report)


class TrainResult(_Report):
    """result.json of a training worker."""

    status: Literal["ok", "invalid", "failed", "screened"]
    error: Error | None = None
    error_kind: Literal["smoke", "reward", "training", "screened"] | None = None
    steps: int = Field(0, ge=0)


class Misranked(_Report):
    """The archived pair the reward orders most wrongly: the metric's better episode
    and the worse one, each with its fitness and the reward's return."""

    better_fitness: Number = None
    better_return: Number = None
    worse_fitness: Number = None
    worse_return: Number = None


class Screen(_Report):
    """screen.json of a training worker (see sandbox.screen): the reward's returns on
    the run's archived episodes and their rank correlation with the fitness."""

    episodes: int = Field(ge=0, le=MAX_SCREEN_EPISODES)
    rank_correlation: Number = Field(None, ge=-1.0, le=1.0)
    returns: list[Number] = Field(default_factory=list, max_length=MAX_SCREEN_EPISODES)
    fitness: list[Number] = Field(default_factory=list, max_length=MAX_SCREEN_EPISODES)
    misranked: Misranked | None = None
    threshold: Number = None
    screened: bool = False


class Summary(_Report):
    mean: Number = None
    min: Number = None
    max: Number = None


class Checkpoint(_Report):
    steps: int = Field(ge=0)
    episodes: int = Field(ge=0)
    length: Summary | None = None
    reward: Summary | None = None
    env_reward: Summary | None = None
    fitness: Summary | None = None
    components: dict[Name, Summary] = Field(default_factory=dict, max_length=64)


class TrainStats(_Report):
    """stats.json of a training worker (see sandbox.stats)."""

    version: int
    env_id: Name
    algorithm: Name
    reward_source: Name
    fitness_metric: Name
    fitness_reduce: Name
    timesteps: int = Field(ge=0)
    steps: int = Field(ge=0)
    episodes: int = Field(ge=0)
    train_seconds: Number = None
    steps_per_second: Number = None
    correlation: Number = None
    component_names: list[Name] = Field(default_factory=list, max_length=64)
    checkpoints: list[Checkpoint] = Field(default_factory=list, max_length=1000)
    truncated: bool = False
    budget_note: Note | None = None  # why steps differs from timesteps


class Behaviour(_Report):
    """How an evaluated policy behaved (see sandbox.evaluate.behaviour)."""

    ended_early: int = Field(0, ge=0)
    state_means: dict[Name, Number] = Field(default_factory=dict, max_length=MAX_STATE_VARS)


class Evaluation(_Report):
    """evaluation.json of the evaluator (see sandbox.evaluate)."""

    status: Literal["ok"]
    metric: Name
    reduce: Name
    higher_is_better: bool
    success_threshold: Number
    episodes: int = Field(ge=1)
    fitness: Number
    fitness_std: Number
    success_rate: Number
    env_return: Number
    env_return_std: Number
    episode_fitness: list[Number] = Field(max_length=MAX_EPISODES)
    episode_env_return: list[Number] = Field(max_length=MAX_EPISODES)
    episode_length: list[int] = Field(max_length=MAX_EPISODES)
    episode_success: list[bool] = Field(max_length=MAX_EPISODES)
    behaviour: Behaviour | None = None
    video: Annotated[str, AfterValidator(_own_video)] | None = None
    video_frames: int = Field(0, ge=0)
    episodes_file: Literal["episodes.npz"] | None = None  # the recorded episodes, if asked


def read_report(path: Path, model: type[R], max_bytes: int) -> R:
    """Read and validate one report; ValueError says what is wrong with it."""
    data: Any = read_json_file(path, max_bytes)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ValueError(f"{path.name} is malformed at {where}: {first['msg']}") from None
