"""Training to the budget: a spec's ``timesteps`` is the number of env steps trained.

Left to itself SB3 overshoots: PPO learns in whole rollouts of ``n_steps`` per
env (a 500-step halving rung with 4 envs x 1024 steps trained 4,096), SAC in
whole ``train_freq`` collections. So :func:`plan` fixes the env steps to reach,
and :func:`learn` gets there exactly:

- PPO trains the whole rollouts that fit, then one shorter rollout for the rest
  (its rollout buffer shrunk to the steps left), so no step is collected that
  the policy does not learn from;
- SAC (off-policy) stops collecting at the target (:class:`StopAtSteps`).

The envs step together, so env steps come in multiples of ``n_envs``: a budget
that is not one is rounded down (to one step of every env at least), and the
plan's ``note`` says so; it also explains a resumed run already past its budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm


@dataclass(frozen=True)
class Budget:
    """Train from ``start`` to ``target`` env steps; ``note`` says why ``target`` is not
    the budget asked for (None when it is)."""

    start: int
    target: int
    note: str | None = None


def plan(timesteps: int, start: int, n_envs: int) -> Budget:
    """The steps to reach from ``start`` (a resumed model's) for a budget of ``timesteps``."""
    remaining = timesteps - start
    if remaining <= 0:
        note = None
        if remaining < 0:
            note = f"already trained {start} env steps, past the budget of {timesteps}"
        return Budget(start, start, note)
    steps = max(1, remaining // n_envs) * n_envs
    if steps == remaining:
        return Budget(start, timesteps)
    note = (
        f"trained {start + steps} env steps, not {timesteps}: the {n_envs} envs step "
        f"together, so the budget was rounded to a multiple of {n_envs}"
    )
    return Budget(start, start + steps, note)


class StopAtSteps(BaseCallback):
    """Ends ``learn`` once the model has taken ``target`` env steps in all."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target

    def _on_step(self) -> bool:
        return self.num_timesteps < self.target


def learn(model: BaseAlgorithm, budget: Budget, callback: BaseCallback, *, fresh: bool) -> None:
    """Train ``model`` from ``budget.start`` to exactly ``budget.target`` env steps.

    ``fresh``: a new model (its step count starts at zero), not a resumed one.
    """
    steps = budget.target - budget.start
    if steps <= 0:
        return
    if isinstance(model, OnPolicyAlgorithm):
        nominal = model.n_steps
        try:
            for n_steps, phase_steps in rollout_phases(steps, nominal, model.n_envs):
                set_rollout_steps(model, n_steps)
                model.learn(phase_steps, callback=callback, reset_num_timesteps=fresh)
                fresh = False
        finally:
            set_rollout_steps(model, nominal)  # the checkpoint resumes with the spec's rollouts
        return
    assert isinstance(model, OffPolicyAlgorithm)
    stop = CallbackList([callback, StopAtSteps(budget.target)])
    model.learn(steps, callback=stop, reset_num_timesteps=fresh)


def rollout_phases(steps: int, n_steps: int, n_envs: int) -> list[tuple[int, int]]:
    """``(n_steps, env steps)`` of each ``learn`` call that trains ``steps`` env steps
    (a multiple of ``n_envs``): whole rollouts of ``n_steps``, then one shorter."""
    full, rest = divmod(steps // n_envs, n_steps)
    phases = [(n_steps, full * n_steps * n_envs)] if full else []
    return phases + ([(rest, rest * n_envs)] if rest else [])


def set_rollout_steps(model: OnPolicyAlgorithm, n_steps: int) -> None:
    """Make each rollout of ``model`` ``n_steps`` per env (a new, empty rollout buffer)."""
    if model.n_steps == n_steps:
        return
    assert model.rollout_buffer_class is not None  # set when the model was built
    model.n_steps = n_steps
    model.rollout_buffer = model.rollout_buffer_class(
        n_steps,
        model.observation_space,
        model.action_space,
        device=model.device,
        gamma=model.gamma,
        gae_lambda=model.gae_lambda,
        n_envs=model.n_envs,
        **model.rollout_buffer_kwargs,
    )
