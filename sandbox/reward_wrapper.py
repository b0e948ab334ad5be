"""Where the reward is applied each step: a VecEnv wrapper around the raw envs.

On every step it builds the batched state with the card's extractor (from the
terminal observation for envs that just finished), evaluates the trusted
fitness metric, calls the candidate's ``compute_reward`` once for the whole
batch, and hands the policy the reward chosen by ``reward_source``. It also
keeps per-episode totals of every reward component, the env's own reward, the
training reward and the fitness, which :mod:`sandbox.stats` summarises.

VecNormalize goes outside this wrapper, so the state holds raw observations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from envs.card import EnvCard, FitnessMetric
from sandbox.reward_code import (
    FUNCTION_NAME,
    RewardContractError,
    RewardFn,
    describe_exception,
    read_only_copy,
    validate_output,
)
from sandbox.spec import RewardSource

_STATE_CHARS = 1500  # how much of the offending state an error message quotes


@dataclass
class FinishedEpisodes:
    """Totals of the episodes that ended since the last :meth:`RewardWrapper.pop_finished`.

    ``reward`` is the return of the reward the policy trained on, ``fitness`` the
    episode's fitness (the metric's per-step values folded with its reduce).
    """

    reward: list[float] = field(default_factory=list)
    env_reward: list[float] = field(default_factory=list)
    fitness: list[float] = field(default_factory=list)
    length: list[int] = field(default_factory=list)
    components: dict[str, list[float]] = field(default_factory=dict)


class RewardWrapper(VecEnvWrapper):
    """Replace the env's reward by the candidate's (or the fitness) and log episodes."""

    def __init__(
        self,
        venv: VecEnv,
        *,
        card: EnvCard,
        metric: FitnessMetric,
        reward_source: RewardSource,
        reward_fn: RewardFn | None,
    ) -> None:
        if not isinstance(venv.observation_space, gym.spaces.Box):
            raise TypeError(
                f"observations must be a Box (one array per env), not {venv.observation_space}"
            )
        super().__init__(venv)
        if reward_source == "candidate" and reward_fn is None:
            raise ValueError("reward_source 'candidate' needs reward code")
        self._extract = card.extract
        self._metric = metric
        self._metric_step = metric.step
        self._reduce = metric.reduce
        # An episode's fitness is folded step by step, starting from the fold's
        # identity element ("mean" sums here and divides when the episode ends).
        self._fold = {"sum": np.add, "mean": np.add, "max": np.maximum, "min": np.minimum}.get(
            metric.reduce
        )
        self._fitness_start = {"max": -np.inf, "min": np.inf}.get(metric.reduce, 0.0)
        self._source = reward_source
        self._reward_fn = reward_fn if reward_source == "candidate" else None
        self._actions = np.empty(0)
        self.steps = 0  # vectorised steps taken, for error messages
        self.finished = FinishedEpisodes()
        self._reset_totals()

    def _reset_totals(self) -> None:
        n = self.num_envs
        self._reward = np.zeros(n)
        self._env_reward = np.zeros(n)
        self._fitness = np.full(n, self._fitness_start)
        self._length = np.zeros(n, dtype=np.int64)
        self._components: dict[str, np.ndarray] = {}

    def reset(self) -> VecEnvObs:
        obs = self.venv.reset()
        self._reset_totals()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.array(actions, copy=True)
        self._actions.flags.writeable = False
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, env_reward, dones, infos = self.venv.step_wait()
        assert isinstance(obs, np.ndarray)  # a Box observation space, checked in __init__
        self.steps += 1
        done_idx = np.flatnonzero(dones)
        state = self._state(obs, done_idx, infos)
        # The trusted metric reads the state before candidate code sees it.
        fitness = np.asarray(self._metric_step(state, self._actions), dtype=np.float64)
        if self._reward_fn is not None:
            reward = self._candidate_reward(state)
        elif self._source == "env":
            reward = env_reward
        else:
            reward = self._sparse_reward(fitness)
        self._accumulate(reward, env_reward, fitness)
        if done_idx.size:
            self._finish(done_idx)
        return obs, reward.astype(np.float32), dones, infos

    def _sparse_reward(self, fitness: np.ndarray) -> np.ndarray:
        """The task's own signal as a reward (the sparse baseline): a summed metric is
        paid step by step (signed so that more reward is better); any other metric
        pays 1 on the steps where the episode meets its success threshold."""
        metric = self._metric
        if metric.reduce == "sum":
            return fitness if metric.higher_is_better else -fitness
        if metric.higher_is_better:
            return (fitness >= metric.success_threshold).astype(np.float64)
        return (fitness <= metric.success_threshold).astype(np.float64)

    def pop_finished(self) -> FinishedEpisodes:
        """The episodes finished since the last call (and forget them)."""
        finished, self.finished = self.finished, FinishedEpisodes()
        return finished

    def _state(self, obs: np.ndarray, done_idx: np.ndarray, infos: list[dict]) -> dict:
        if done_idx.size:
            obs = obs.copy()  # never write terminal rows into the obs the policy sees
            for i in done_idx:
                obs[i] = infos[i]["terminal_observation"]
        state = self._extract(obs, infos)
        # Cards' extractors hand back read-only copies already; anything still
        # writeable may alias env or policy memory, so it is copied, not frozen.
        for key, value in state.items():
            if value.flags.writeable:
                state[key] = read_only_copy(value)
        return state

    def _candidate_reward(self, state: dict[str, np.ndarray]) -> np.ndarray:
        assert self._reward_fn is not None
        try:
            output = self._reward_fn(state, self._actions)
        except (Exception, SystemExit) as exc:
            detail = f"{FUNCTION_NAME} raised {describe_exception(exc)}"
            raise self._error(detail, state, 0) from None
        try:
            total, components = validate_output(output, self.num_envs)
        except RewardContractError as exc:
            raise self._error(str(exc), state, exc.env_index) from None
        if components.keys() != self._components.keys():
            self._start_components(components)
        for name, value in components.items():
            self._components[name] += value
        return total

    def _start_components(self, components: dict[str, np.ndarray]) -> None:
        if self._components:
            raise RewardContractError(
                f"component names changed during training, from {sorted(self._components)} "
                f"to {sorted(components)}; return the same components on every call"
            )
        self._components = {name: np.zeros(self.num_envs) for name in components}

    def _accumulate(self, reward: np.ndarray, env_reward: np.ndarray, fitness: np.ndarray) -> None:
        self._reward += reward
        self._env_reward += env_reward
        self._length += 1
        if self._fold is None:  # "last"
            self._fitness[:] = fitness
        else:
            self._fold(self._fitness, fitness, out=self._fitness)

    def _finish(self, done_idx: np.ndarray) -> None:
        out = self.finished
        for i in done_idx:
            fitness = (
                self._fitness[i] / self._length[i] if self._reduce == "mean" else self._fitness[i]
            )
            out.reward.append(float(self._reward[i]))
            out.env_reward.append(float(self._env_reward[i]))
            out.fitness.append(float(fitness))
            out.length.append(int(self._length[i]))
            for name, value in self._components.items():
                out.components.setdefault(name, []).append(float(value[i]))
                value[i] = 0.0
        for totals in (self._reward, self._env_reward, self._length):
            totals[done_idx] = 0
        self._fitness[done_idx] = self._fitness_start

    def _error(
        self, detail: str, state: dict[str, np.ndarray], env: int | None
    ) -> RewardContractError:
        where = f"at training step {self.steps} (env steps {self.steps * self.num_envs})"
        if env is None:
            return RewardContractError(f"{where}: {detail}")
        values = ", ".join(
            f"{key}={np.array2string(np.asarray(value[env]), precision=4, threshold=12)}"
            for key, value in state.items()
        )
        action = np.array2string(self._actions[env], precision=4, threshold=12)
        context = f"state of env {env}: {values}; action={action}"[:_STATE_CHARS]
        return RewardContractError(f"{where}: {detail}\n{context}", env)
