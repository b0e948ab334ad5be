"""The trusted evaluator on a real trained policy: fitness, determinism, video,
and its refusal to unpickle anything but tensors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from sandbox.episodes import read_episodes
from sandbox.spec import EPISODES_FILE, EVAL_FILE, POLICY_FILE, VIDEO_FILE
from tests.sandbox.jobs import Trained, one_episode, run_module


@pytest.fixture(scope="module")
def evaluated(trained_pendulum: Trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert trained_pendulum.returncode == 0, trained_pendulum.stderr
    out = tmp_path_factory.mktemp("evaluated")
    spec = replace(trained_pendulum.eval, output_dir=str(out), video=True, video_max_steps=60)
    done = run_module("sandbox.evaluate", spec, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    return out


def test_evaluation_scores_episodes_with_the_metric(evaluated: Path) -> None:
    report = json.loads((evaluated / EVAL_FILE).read_text())
    assert report["metric"] == "mean_uprightness" and report["reduce"] == "mean"
    assert report["episodes"] == 2 and report["episode_length"] == [200, 200]
    assert report["fitness"] == pytest.approx(np.mean(report["episode_fitness"]))
    assert all(-1.0 <= f <= 1.0 for f in report["episode_fitness"])
    assert report["success_rate"] == np.mean([f >= 0.6 for f in report["episode_fitness"]])
    assert report["episode_success"] == [f >= 0.6 for f in report["episode_fitness"]]
    # Behaviour: Pendulum only ends at its time limit, and the per-step mean of its
    # uprightness is the metric mean_uprightness itself.
    behaviour = report["behaviour"]
    assert behaviour["ended_early"] == 0
    assert behaviour["state_means"]["uprightness"] == pytest.approx(report["fitness"])
    assert "angular_velocity" in behaviour["state_means"]


def test_an_episode_the_env_ends_counts_as_ended_early() -> None:
    import gymnasium as gym

    from envs import get_card
    from sandbox.evaluate import behaviour

    card = get_card("Hopper-v5")
    env = gym.make("Hopper-v5")
    rng = np.random.default_rng(0)
    falls = one_episode(env, lambda obs: rng.uniform(-1, 1, 3), card, card.default_metric, seed=0)
    assert falls.ended_early and falls.length < 1000
    summary = behaviour([falls])
    assert summary["ended_early"] == 1
    assert summary["state_means"]["is_healthy"] < 1.0  # its last step was unhealthy


def test_episodes_run_side_by_side_step_as_if_each_ran_alone() -> None:
    """Hopper episodes under one fixed linear policy fall at different steps; run side by
    side (one policy call per step for those still going) each is the episode it is alone."""
    import gymnasium as gym

    from envs import get_card
    from sandbox.evaluate import EpisodeRun, run_episodes

    card = get_card("Hopper-v5")
    weights = np.random.default_rng(0).normal(0, 0.5, (11, 3))

    def act(batch: np.ndarray) -> np.ndarray:  # row by row: no batched rounding
        return np.stack([np.tanh(obs @ weights) for obs in batch])

    envs = [gym.make("Hopper-v5") for _ in range(4)]
    together = run_episodes(
        [EpisodeRun(env, card, card.default_metric, seed) for seed, env in enumerate(envs)], act
    )
    alone = [
        one_episode(envs[0], lambda obs: act(obs[None])[0], card, card.default_metric, seed)
        for seed in range(4)
    ]
    assert len({e.length for e in together}) > 1  # they did end at different steps
    assert [(e.fitness, e.length, e.env_return, e.ended_early) for e in together] == [
        (e.fitness, e.length, e.env_return, e.ended_early) for e in alone
    ]


def test_more_episodes_than_run_at_once_keep_their_seeds(
    trained_pendulum: Trained, evaluated: Path, tmp_path: Path
) -> None:
    from sandbox.evaluate import SIDE_BY_SIDE

    many = SIDE_BY_SIDE + 2
    spec = replace(trained_pendulum.eval, output_dir=str(tmp_path), episodes=many, video=False)
    done = run_module("sandbox.evaluate", spec, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / EVAL_FILE).read_text())
    assert report["episodes"] == many and report["episode_length"] == [200] * many
    two = json.loads((evaluated / EVAL_FILE).read_text())["episode_fitness"]
    # Episode i starts from seed + i however many run beside it.
    assert report["episode_fitness"][:2] == pytest.approx(two, abs=1e-6)


def test_recorded_episodes_read_back_with_the_evaluations_fitness(
    trained_pendulum: Trained, tmp_path: Path
) -> None:
    spec = replace(trained_pendulum.eval, output_dir=str(tmp_path), record_episodes=True)
    done = run_module("sandbox.evaluate", spec, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / EVAL_FILE).read_text())
    assert report["episodes_file"] == EPISODES_FILE
    episodes = read_episodes(tmp_path / EPISODES_FILE)
    assert [e.fitness for e in episodes] == report["episode_fitness"]
    assert [e.length for e in episodes] == report["episode_length"] == [200, 200]
    for episode in episodes:
        # 7 state numbers and 1 action per step fit 65,536 floats: every step is kept,
        # and the mean uprightness over them is the fitness itself.
        assert episode.stride == 1 and episode.action.shape == (200, 1)
        assert set(episode.states) == {
            "angle",
            "uprightness",
            "angular_velocity",
            "is_upright",
            "obs",
        }
        assert episode.states["obs"].shape == (200, 3)
        assert np.mean(episode.states["uprightness"]) == pytest.approx(episode.fitness, abs=1e-6)

    # A cap of 500 numbers per episode holds 62 steps of 8: every 4th step of 200 (50).
    small = replace(spec, output_dir=str(tmp_path / "small"), episode_max_floats=500)
    done = run_module("sandbox.evaluate", small, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    again = read_episodes(tmp_path / "small" / EPISODES_FILE)
    assert [e.fitness for e in again] == report["episode_fitness"]  # recording changes nothing
    for episode, full in zip(again, episodes, strict=True):
        assert episode.stride == 4 and episode.length == 200
        assert episode.action.shape[0] == math.ceil(200 / 4) == 50
        np.testing.assert_array_equal(episode.states["angle"], full.states["angle"][::4])


def test_recording_keeps_discrete_actions_as_the_env_got_them() -> None:
    import gymnasium as gym

    from envs import get_card
    from sandbox.evaluate import EpisodeRecorder

    card = get_card("CartPole-v1")
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    recorder = EpisodeRecorder(max_floats=100)  # 10 numbers a step: 10 steps at most
    episode = one_episode(
        env, lambda obs: rng.integers(2), card, card.default_metric, 0, None, recorder
    )
    recorded = episode.recorded
    assert recorded is not None and recorded.length == episode.length
    assert recorded.fitness == episode.fitness
    assert recorded.action.dtype.kind == "i" and recorded.action.ndim == 1
    assert recorded.action.shape[0] == math.ceil(episode.length / recorded.stride) <= 10
    assert recorded.states["obs"].shape == (recorded.action.shape[0], 4)


def test_evaluation_is_deterministic(trained_pendulum: Trained, evaluated: Path, tmp_path: Path):
    again = replace(trained_pendulum.eval, output_dir=str(tmp_path))
    done = run_module("sandbox.evaluate", again, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    first = json.loads((evaluated / EVAL_FILE).read_text())
    second = json.loads((tmp_path / EVAL_FILE).read_text())
    assert first["episode_fitness"] == second["episode_fitness"]
    assert second["video"] is None and not (tmp_path / VIDEO_FILE).exists()
    assert "episodes_file" not in second and not (tmp_path / EPISODES_FILE).exists()


def test_rollout_video_is_a_browser_playable_mp4(evaluated: Path) -> None:
    report = json.loads((evaluated / EVAL_FILE).read_text())
    assert report["video"] == VIDEO_FILE and report["video_frames"] == 60
    reader = imageio.get_reader(evaluated / VIDEO_FILE)
    meta = reader.get_meta_data()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    frame = reader.get_data(0)
    assert frame.ndim == 3 and frame.shape[1] <= 320 and frame.shape[2] == 3
    reader.close()


def test_evaluator_refuses_a_policy_file_that_is_not_plain_tensors(
    trained_pendulum: Trained, tmp_path: Path
) -> None:
    torch.save({"weight": torch.zeros(2), "hook": os.system}, tmp_path / POLICY_FILE)
    spec = replace(
        trained_pendulum.eval, output_dir=str(tmp_path), policy_path=str(tmp_path / POLICY_FILE)
    )
    done = run_module("sandbox.evaluate", spec, "eval_spec.json")
    assert done.returncode != 0
    assert "Weights only load failed" in done.stderr
    assert not (tmp_path / EVAL_FILE).exists()


def test_evaluator_never_loads_the_reward_code_machinery() -> None:
    probe = (
        "import sys, sandbox.evaluate; "
        "print(sorted(m for m in sys.modules if m.startswith(('sandbox.reward', 'app'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
