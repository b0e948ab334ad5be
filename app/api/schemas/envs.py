"""The environment catalog as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from envs.card import EnvCard


class StateVarRead(BaseModel):
    name: str
    shape: list[int] = Field(description="per env, without the batch dimension")
    unit: str
    description: str


class FitnessMetricRead(BaseModel):
    name: str
    description: str
    reduce: str = Field(description="how one episode's per-step values become its fitness")
    success_threshold: float
    higher_is_better: bool
    unit: str


class TrainingDefaultsRead(BaseModel):
    algorithm: str
    timesteps: int
    n_envs: int


class EnvCardRead(BaseModel):
    env_id: str
    description: str
    action: str
    state_vars: list[StateVarRead]
    fitness_metrics: list[FitnessMetricRead] = Field(description="the first is the default")
    training: TrainingDefaultsRead

    @classmethod
    def from_card(cls, card: EnvCard) -> EnvCardRead:
        """The card's public part: no extractor or metric functions, no hyperparameters."""
        return cls(
            env_id=card.env_id,
            description=card.description,
            action=card.action_description,
            state_vars=[
                StateVarRead(
                    name=v.name, shape=list(v.shape), unit=v.unit, description=v.description
                )
                for v in card.state_vars
            ],
            fitness_metrics=[
                FitnessMetricRead(
                    name=m.name,
                    description=m.description,
                    reduce=m.reduce,
                    success_threshold=m.success_threshold,
                    higher_is_better=m.higher_is_better,
                    unit=m.unit,
                )
                for m in card.fitness_metrics
            ],
            training=TrainingDefaultsRead(
                algorithm=card.training.algorithm,
                timesteps=card.training.timesteps,
                n_envs=card.training.n_envs,
            ),
        )


class EnvList(BaseModel):
    items: list[EnvCardRead]
