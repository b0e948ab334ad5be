"""Train one candidate reward: ``python -m sandbox.train SPEC.json``.

The path from job spec to weights and statistics, top to bottom:

1. read the :class:`~sandbox.spec.TrainSpec`, look up the env card and metric;
2. load the candidate's ``compute_reward`` (for the torch backend, behind the
   adapter of :mod:`sandbox.torch_reward`) and smoke-test it on a batch of real
   states (a failure is an *invalid* candidate: exit code 3);
3. with ``screen_archive``, screen it (:mod:`sandbox.screen`): its returns on the
   archived episodes of earlier candidates, ranked against their fitness, go to
   ``screen.json``; below ``screen_min_correlation`` the candidate is not trained
   (status ``screened``, exit code 0). An unreadable archive is logged and skipped;
4. only then import torch and SB3 and learn (:mod:`sandbox.learn`): envs
   -> :class:`~sandbox.reward_wrapper.RewardWrapper` -> VecNormalize -> PPO or
   SAC, with checkpoint statistics and the heartbeat, then the policy file
   (tensors only) and a checkpoint to resume from.

``result.json`` says how it ended: ``{"status": "ok"|"invalid"|"failed"|"screened",
"error", "error_kind": None|"smoke"|"reward"|"training"|"screened", "steps"}``. The
worker reads nothing but its spec (and ``resume_from``, ``screen_archive``) and
writes only under ``output_dir``.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import gymnasium as gym
import numpy as np

from envs import get_card
from envs.card import EnvCard, FitnessMetric, State
from sandbox.episodes import EpisodeFileError
from sandbox.outputs import write_heartbeat, write_json
from sandbox.reward_code import RewardContractError, RewardFn, check_reward, load_reward
from sandbox.screen import screen
from sandbox.spec import RESULT_FILE, SCREEN_FILE, TrainSpec, read_spec

EXIT_INVALID = 3
_ERROR_CHARS = 4000


def sample_states(card: EnvCard, batch: int, seed: int) -> tuple[State, np.ndarray]:
    """``batch`` real states of one env driven by random actions, and those actions."""
    env = gym.make(card.env_id, **card.make_kwargs)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    observations, infos, actions = [], [], []
    for _ in range(batch):
        action = env.action_space.sample()
        obs, _, terminated, truncated, info = env.step(action)
        observations.append(obs)
        infos.append(info)
        actions.append(action)
        if terminated or truncated:
            env.reset()
    env.close()
    return card.extract(np.stack(observations), infos), np.stack(actions)


def smoke_test(reward_fn: RewardFn, card: EnvCard, spec: TrainSpec) -> None:
    """Call the reward once on ``spec.smoke_batch`` real states (see check_reward)."""
    state, actions = sample_states(card, spec.smoke_batch, spec.seed)
    check_reward(reward_fn, state, actions)


def screen_reward(
    reward_fn: RewardFn, card: EnvCard, metric: FitnessMetric, spec: TrainSpec, archive: str
) -> str | None:
    """Screen the reward on the episodes of ``archive`` and write screen.json; the
    reason not to train it, or None. An unreadable archive is logged and skips the screen."""
    names = [var.name for var in card.state_vars]
    try:
        report = screen(reward_fn, archive, metric.higher_is_better, names)
    except (OSError, EpisodeFileError) as exc:
        print(f"not screening: cannot use the archive {archive}: {exc}", file=sys.stderr)
        return None
    rho, threshold = report["rank_correlation"], spec.screen_min_correlation
    screened = threshold is not None and rho is not None and rho < threshold
    write_json(
        Path(spec.output_dir) / SCREEN_FILE,
        {**report, "threshold": threshold, "screened": screened},
    )
    if not screened:
        return None
    return (
        f"screened out: the reward's returns on {report['episodes']} archived episodes rank them "
        f"with correlation {rho:.2f} against the fitness, below the threshold {threshold:.2f}"
    )


def _load(spec: TrainSpec) -> RewardFn:
    """The candidate's reward as a function of numpy arrays, whatever its backend."""
    reward_fn = load_reward(spec.reward_code or "")
    if spec.reward_backend == "torch":
        from sandbox.device import resolve_device
        from sandbox.torch_reward import torch_reward

        reward_fn = torch_reward(reward_fn, resolve_device(spec.device))
    return reward_fn


def run(spec: TrainSpec) -> int:
    """Smoke-test, train and save; writes result.json and returns the exit code."""
    out = Path(spec.output_dir)
    write_heartbeat(out, 0)
    try:
        card = get_card(spec.env_id, spec.card_spec)
        metric = card.metric(spec.fitness_metric)
        reward_fn = None
        if spec.reward_source == "candidate":
            reward_fn = _load(spec)
            smoke_test(reward_fn, card, spec)
    except RewardContractError as exc:
        return _result(out, "invalid", f"smoke test failed: {exc}", "smoke")
    except Exception:
        return _crashed(out)
    if reward_fn is not None and spec.screen_archive is not None:
        try:
            reason = screen_reward(reward_fn, card, metric, spec, spec.screen_archive)
        except RewardContractError as exc:
            return _result(out, "invalid", f"screening failed: {exc}", "smoke")
        except Exception:
            return _crashed(out)
        if reason is not None:
            return _result(out, "screened", reason, "screened")
    try:
        from sandbox.learn import train  # torch and SB3 load only for a reward that passed

        steps = train(spec, card, metric, reward_fn)
    except RewardContractError as exc:
        return _result(out, "failed", f"reward failed {exc}", "reward")
    except Exception:
        return _crashed(out)
    return _result(out, "ok", None, None, steps=steps)


def _crashed(out: Path) -> int:
    traceback.print_exc()
    return _result(out, "failed", traceback.format_exc()[-_ERROR_CHARS:], "training")


def _result(
    out: Path, status: str, error: str | None, error_kind: str | None, steps: int = 0
) -> int:
    write_json(
        out / RESULT_FILE,
        {"status": status, "error": error, "error_kind": error_kind, "steps": steps},
    )
    return {"ok": 0, "screened": 0, "invalid": EXIT_INVALID}.get(status, 1)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one argument, the path of a TrainSpec JSON file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sandbox.train SPEC.json", file=sys.stderr)
        return 2
    spec: TrainSpec = read_spec(args[0], TrainSpec)
    Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
    return run(spec)


if __name__ == "__main__":
    sys.exit(main())
