"""What a run is asked to do: one typed model with one set of defaults and bounds.

The CLI, the API and the dashboard form all build a :class:`RunSpec`;
:func:`app.run_prepare.prepare_run` checks it against the env catalog and fills in
the card's defaults; the run store keeps it (``Run.llm`` and ``Run.options`` hold the two
nested models as JSON) and :func:`spec_of` reads it back typed. Nothing else
reads run options with ``.get(...) or default``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from envs.zoo import SHORT_BUDGET_MAX_FRACTION
from sandbox.batched import MAX_BATCHED_ENVS
from sandbox.spec import DEVICE_PATTERN

MAX_ITERATIONS = 50
MAX_SAMPLES = 64
MIN_TIMESTEPS = 1_000
MAX_TIMESTEPS = 10_000_000
MAX_FINAL_SEEDS = 20
MAX_FINAL_TOP_K = 10
MAX_N_ENVS = 256  # simulator mujoco: Gymnasium's envs, stepped one after another
MAX_RUN_ENV_STEPS = 500_000_000  # card defaults fit: 29 trainings x 10M (Humanoid)
FINAL_SOURCES = 3  # the best reward, the env's own reward, the fitness as reward
DEFAULT_HALVING_RUNGS = (0.25, 0.5, 1.0)
DEFAULT_HALVING_KEEP = 0.5
HALVING_MIN_SAMPLES = 4  # "halving": null turns it on from this many samples per iteration

API_KEY_REFUSED = (
    "API keys are never accepted in requests (they would be stored with the run); "
    "configure REWARDFORGE_LLM_API_KEY on the server instead"
)

Printable = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]


def refuse_api_key(data: Any) -> Any:
    """Refuse input with a field named like a key, saying where keys are configured."""
    if isinstance(data, dict) and any("key" in str(name).lower() for name in data):
        raise ValueError(API_KEY_REFUSED)
    return data


class LLMOptions(BaseModel):
    """Which LLM writes the rewards. The API key always comes from the server's settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"model": "gpt-4o", "temperature": 1.0}, {"offline": True}]
        },
    )

    model: Printable | None = Field(
        None, description="model name; default REWARDFORGE_LLM_MODEL, none -> offline proposer"
    )
    base_url: Annotated[str, StringConstraints(pattern=r"^https?://[\x21-\x7e]{1,500}$")] | None = (
        Field(None, description="an OpenAI-compatible endpoint; default REWARDFORGE_LLM_BASE_URL")
    )
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="sampling temperature")
    offline: bool = Field(False, description="use the built-in offline proposer, no LLM")

    @model_validator(mode="before")
    @classmethod
    def _no_api_key(cls, data: Any) -> Any:
        return refuse_api_key(data)


class TrainingOptions(BaseModel):
    """How each candidate trains (overrides of the env card's defaults, None: the card's),
    how the final reward is chosen and scored, and the run's budgets."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["PPO", "SAC"] | None = Field(None, description="default: the card's")
    tuning: Literal["auto", "zoo", "short"] = Field(
        "auto",
        description="the card's training settings: zoo (rl-baselines3-zoo's, tuned for the "
        "card's full budget) or short (small nets, lr 1e-3: for candidates that train on a "
        "small fraction of it, on the cards that have them); auto: short where the card has "
        f"them and timesteps is at most {SHORT_BUDGET_MAX_FRACTION:g} of the card's budget, "
        "else zoo. A stored run keeps what auto chose",
    )
    # Before n_envs: the n_envs check reads it.
    simulator: Literal["mujoco", "mujoco_warp"] = Field(
        "mujoco",
        description="mujoco: Gymnasium's own MuJoCo envs on the CPU; mujoco_warp: all of a "
        "candidate's envs batched on one device with MuJoCo Warp (on CUDA when the device "
        "is a GPU), for HalfCheetah, Hopper, Walker2d and Swimmer; the evaluator always "
        "scores on Gymnasium's env",
    )
    n_envs: int | None = Field(
        None,
        ge=1,
        json_schema_extra={"maximum": MAX_BATCHED_ENVS},
        description=f"parallel envs per candidate, at most {MAX_N_ENVS} with simulator mujoco "
        f"and {MAX_BATCHED_ENVS} with mujoco_warp; default: the card's",
    )
    device: str = Field(
        "auto",
        max_length=8,
        description="auto, cpu or cuda[:N]: torch device of the policy (and of torch "
        "rewards); auto takes CUDA where the sandbox sees a GPU",
    )
    reward_backend: Literal["numpy", "torch"] = Field(
        "numpy", description="what reward code computes with: numpy arrays or torch tensors"
    )
    eval_episodes: int = Field(5, ge=1, le=100, description="evaluation episodes per policy")
    video: StrictBool = Field(True, description="render a rollout video of every trained policy")
    halving: StrictBool | None = Field(
        None, description="successive halving within an iteration; null: on when samples >= 4"
    )
    halving_rungs: list[float] = Field(
        default_factory=lambda: list(DEFAULT_HALVING_RUNGS),
        max_length=8,
        description="budget fractions of the halving rungs: increasing, ending at 1.0",
    )
    halving_keep: StrictFloat = Field(
        DEFAULT_HALVING_KEEP, gt=0, lt=1, description="fraction kept at each halving cut"
    )
    final_top_k: int = Field(
        3,
        ge=1,
        le=MAX_FINAL_TOP_K,
        description="before the final test, the best k search candidates train again on "
        "final_seeds fresh seeds each and the best mean is finalised; 1: the single-seed best",
    )
    env_reward_is_baseline: bool | None = Field(
        None,
        description="whether the env's own reward is a fair human baseline for this task "
        "(the human-normalised score is computed only then); null: yes only for the "
        "card's default metric",
    )
    max_env_steps: int | None = Field(
        None,
        ge=MIN_TIMESTEPS,
        le=MAX_RUN_ENV_STEPS,
        description="stop searching before the run's env steps, final test included, "
        "could pass this; null: no limit",
    )
    max_cost_usd: float | None = Field(
        None, gt=0, le=1e6, description="stop searching once the LLM calls cost this much"
    )
    max_wall_s: float | None = Field(
        None, gt=0, le=30 * 86400.0, description="stop searching once the run has run this long"
    )
    screening: StrictBool = Field(
        True,
        description="keep an archive of the evaluator's episodes; before a reward trains, its "
        "sandbox ranks the archived episodes by the reward's returns and the rank "
        "correlation with their fitness goes to the next prompt",
    )
    screen_min_correlation: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="skip training a reward whose rank correlation on the archive is below "
        "this (status screened, its env steps saved); null: train every reward",
    )

    @model_validator(mode="before")
    @classmethod
    def _nulls_mean_defaults(cls, data: Any) -> Any:
        # Stored runs and clients may send null for "the default".
        if isinstance(data, dict):
            fixed: tuple[str, ...] = ("simulator", "device", "reward_backend", "eval_episodes")
            fixed += ("tuning",)
            fixed += ("video", "halving_rungs", "halving_keep", "final_top_k", "screening")
            return {k: v for k, v in data.items() if not (k in fixed and v is None)}
        return data

    @field_validator("screen_min_correlation")
    @classmethod
    def _threshold_needs_screening(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("screening") is False:
            raise ValueError(
                "screen_min_correlation needs screening on: without the archive of "
                "evaluated episodes there is nothing to screen a reward on"
            )
        return value

    @field_validator("n_envs")
    @classmethod
    def _n_envs_fit_the_simulator(cls, value: int | None, info: ValidationInfo) -> int | None:
        # A field validator rather than a model one, so the error's loc names n_envs.
        # No simulator in info.data: it was refused, and that error is the one to read.
        simulator = info.data.get("simulator")
        limits = {"mujoco": MAX_N_ENVS, "mujoco_warp": MAX_BATCHED_ENVS}
        if value is None or simulator not in limits or value <= limits[simulator]:
            return value
        raise ValueError(
            f"n_envs {value} is over {limits[simulator]}, the most for simulator "
            f"{simulator!r}; the limits are {MAX_N_ENVS} for 'mujoco' (Gymnasium's envs, "
            f"stepped one after another) and {MAX_BATCHED_ENVS} for 'mujoco_warp' (batched "
            "on one device)"
        )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not re.fullmatch(DEVICE_PATTERN, value):
            raise ValueError(f"device must be auto, cpu or cuda[:N], not {value!r}")
        return value

    @field_validator("halving_rungs")
    @classmethod
    def _rungs(cls, value: list[float]) -> list[float]:
        if (
            not value
            or not all(math.isfinite(f) and 0 < f <= 1 for f in value)
            or value != sorted(set(value))
            or value[-1] != 1
        ):
            raise ValueError(
                "halving_rungs must be increasing budget fractions in (0, 1] ending at 1.0, "
                f"e.g. [0.25, 0.5, 1.0]; got {value!r}"
            )
        return value


class RunSpec(BaseModel):
    """A run: an env, a task in words, a trusted fitness metric, the budgets and options.

    ``fitness_metric`` and ``timesteps`` may be None on the way in (the card's
    default); :func:`prepare_run` fills them, and a stored run always has them.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    env_id: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")] = Field(
        description="an env of the catalog (GET /api/envs)"
    )
    task: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    fitness_metric: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")] | None = (
        Field(
            None,
            alias="fitness",
            description="trusted fitness metric of the env; default: the card's first",
        )
    )
    iterations: int = Field(5, ge=1, le=MAX_ITERATIONS, description="rounds of evolution")
    samples: int = Field(4, ge=1, le=MAX_SAMPLES, description="candidates per iteration")
    timesteps: int | None = Field(
        None,
        ge=MIN_TIMESTEPS,
        le=MAX_TIMESTEPS,
        description="env steps per candidate; default: the card's",
    )
    final_seeds: int = Field(
        3, ge=0, le=MAX_FINAL_SEEDS, description="seeds of the final test; 0 skips it"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    card_spec: str | None = Field(
        None, description="a custom card, pkg.mod:factory (CLI only; the API refuses it)"
    )
    llm: LLMOptions = Field(default_factory=LLMOptions)
    feedback_mode: Literal["none", "wait"] = Field(
        "none", alias="feedback", description="'wait': pause after each iteration for feedback"
    )
    feedback_timeout_s: float = Field(
        3600.0, ge=1.0, le=7 * 86400.0, description="how long a waiting run waits"
    )
    options: TrainingOptions = Field(default_factory=TrainingOptions)

    @model_validator(mode="before")
    @classmethod
    def _no_api_key(cls, data: Any) -> Any:
        return refuse_api_key(data)

    @property
    def metric_name(self) -> str:
        """The fitness metric of a prepared (or stored) spec."""
        if self.fitness_metric is None:
            raise ValueError("the run spec has no fitness metric yet: prepare_run fills it")
        return self.fitness_metric

    @field_validator("task")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class _StoredRun(Protocol):
    env_id: str
    card_spec: str | None
    task: str
    fitness_metric: str
    iterations: int
    samples: int
    timesteps: int
    final_seeds: int
    seed: int
    llm: dict[str, Any]
    options: dict[str, Any]
    feedback_mode: str
    feedback_timeout_s: float


def spec_of(run: _StoredRun) -> RunSpec:
    """A stored run's spec, read back typed (old rows' missing options take the defaults)."""
    return RunSpec(
        env_id=run.env_id,
        card_spec=run.card_spec,
        task=run.task,
        fitness_metric=run.fitness_metric,
        iterations=run.iterations,
        samples=run.samples,
        timesteps=run.timesteps,
        final_seeds=run.final_seeds,
        seed=run.seed,
        llm=LLMOptions.model_validate(run.llm or {}),
        feedback_mode=run.feedback_mode,  # type: ignore[arg-type]
        feedback_timeout_s=run.feedback_timeout_s,
        options=TrainingOptions.model_validate(run.options or {}),
    )
