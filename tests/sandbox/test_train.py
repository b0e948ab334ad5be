"""The training worker end to end: real envs, real PPO/SAC, tiny budgets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from envs import get_card
from sandbox import train as train_module
from sandbox.spec import (
    CHECKPOINT_DIR,
    EVAL_FILE,
    POLICY_FILE,
    RESULT_FILE,
    SCREEN_FILE,
    STATS_FILE,
    VIDEO_FILE,
    EvalSpec,
    TrainSpec,
)
from tests.sandbox.jobs import HALF_CHEETAH_REWARD, Trained, pendulum_job, run_module
from tests.sandbox.test_screen import DOWN, UPRIGHT, pendulum_archive


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_training_ends_ok_with_policy_stats_and_checkpoint(trained_pendulum: Trained) -> None:
    assert trained_pendulum.returncode == 0, trained_pendulum.stderr
    out = trained_pendulum.out
    assert _json(out / RESULT_FILE) == {
        "status": "ok",
        "error": None,
        "error_kind": None,
        "steps": 2048,
    }
    assert {"model.zip", "vecnormalize.pkl", "stats_state.json"} <= {
        p.name for p in (out / CHECKPOINT_DIR).iterdir()
    }


def test_policy_file_is_tensors_only_with_obs_statistics(trained_pendulum: Trained) -> None:
    tensors = torch.load(trained_pendulum.out / POLICY_FILE, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    assert tensors["obs_rms.mean"].shape == (3,)
    assert torch.all(tensors["obs_rms.var"] > 0)
    assert float(tensors["obs_rms.clip"]) == 10.0
    assert int(tensors["meta.use_sde"]) == 1  # the Pendulum card trains with gSDE
    assert any(k.startswith("mlp_extractor.policy_net") for k in tensors)


def test_stats_summarise_every_component_at_each_checkpoint(trained_pendulum: Trained) -> None:
    stats = _json(trained_pendulum.out / STATS_FILE)
    assert stats["steps"] == stats["timesteps"] == 2048
    assert stats["component_names"] == ["upright", "spin", "effort"]
    assert [c["steps"] for c in stats["checkpoints"]] == [512, 1024, 1536, 2048]
    with_episodes = [c for c in stats["checkpoints"] if c["episodes"]]
    assert sum(c["episodes"] for c in stats["checkpoints"]) == stats["episodes"] == 8
    for point in with_episodes:
        assert set(point["components"]) == {"upright", "spin", "effort"}
        assert point["length"] == {"mean": 200.0, "min": 200.0, "max": 200.0}
        assert point["reward"]["min"] <= point["reward"]["mean"] <= point["reward"]["max"]
    assert -1.0 <= stats["correlation"] <= 1.0
    assert stats["steps_per_second"] > 0


def test_resume_continues_from_the_checkpoint_to_the_total(
    trained_pendulum: Trained, tmp_path: Path
) -> None:
    first = _json(trained_pendulum.out / STATS_FILE)
    more = replace(
        trained_pendulum.train,
        output_dir=str(tmp_path),
        timesteps=3072,
        resume_from=str(trained_pendulum.out / CHECKPOINT_DIR),
    )
    done = run_module("sandbox.train", more, "train_spec.json")
    assert done.returncode == 0, done.stderr
    assert _json(tmp_path / RESULT_FILE)["steps"] == 3072
    stats = _json(tmp_path / STATS_FILE)
    assert stats["steps"] == 3072
    # The earlier checkpoints are kept; the new ones, every 3072 / 4 steps, start
    # where training left off.
    assert stats["checkpoints"][: len(first["checkpoints"])] == first["checkpoints"]
    assert [c["steps"] for c in stats["checkpoints"]][len(first["checkpoints"]) :] == [2304, 3072]
    assert stats["episodes"] == first["episodes"] + 4
    assert stats["train_seconds"] > first["train_seconds"]


def test_reward_with_wrong_shape_is_invalid_before_training(tmp_path: Path) -> None:
    bad = "import numpy as np\ndef compute_reward(state, action):\n    return 0.0, {}\n"
    train, _ = pendulum_job(tmp_path, reward_code=bad)
    done = run_module("sandbox.train", train, "train_spec.json")
    assert done.returncode == 3
    result = _json(tmp_path / RESULT_FILE)
    assert result["status"] == "invalid" and result["error_kind"] == "smoke"
    assert "total is a float, expected a numpy array of shape (8,)" in result["error"]
    assert not (tmp_path / POLICY_FILE).exists()


def test_reward_that_breaks_mid_training_fails_with_its_step(tmp_path: Path) -> None:
    breaks = (
        "import numpy as np\ncalls = 0\n"
        "def compute_reward(state, action):\n"
        "    global calls\n    calls += 1\n"
        "    r = state['uprightness'] / (100 - calls)\n"
        "    return r, {'upright': r}\n"
    )
    train, _ = pendulum_job(tmp_path, reward_code=breaks)
    done = run_module("sandbox.train", train, "train_spec.json")
    assert done.returncode == 1
    result = _json(tmp_path / RESULT_FILE)
    assert result["status"] == "failed" and result["error_kind"] == "reward"
    # Call 1 was the smoke test, so training step 99 is the 100th call.
    assert result["error"].startswith("reward failed at training step 99 (env steps 396)")
    assert "total is not finite for env 0" in result["error"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight random Pendulum episodes of 40 steps, with their mean uprightness as fitness."""
    path = tmp_path_factory.mktemp("archive") / "episodes.npz"
    pendulum_archive(path, episodes=8)
    return path


def _screened_job(out: Path, reward: str, archive: str, threshold: float | None) -> TrainSpec:
    """A Pendulum job of 256 steps (4 envs x 64) that screens on ``archive`` first."""
    hyperparams = {**get_card("Pendulum-v1").training.hyperparams, "n_steps": 64, "n_epochs": 1}
    train, _ = pendulum_job(
        out,
        reward_code=reward,
        timesteps=256,
        hyperparams={**hyperparams, "batch_size": 64},
        checkpoints=1,
        screen_archive=archive,
        screen_min_correlation=threshold,
    )
    return train


def test_a_reward_that_ranks_the_archive_badly_is_not_trained(archive: Path, tmp_path: Path):
    assert train_module.run(_screened_job(tmp_path, DOWN, str(archive), 0.3)) == 0
    result = _json(tmp_path / RESULT_FILE)
    assert result == {
        "status": "screened",
        "error": "screened out: the reward's returns on 8 archived episodes rank them with "
        "correlation -1.00 against the fitness, below the threshold 0.30",
        "error_kind": "screened",
        "steps": 0,
    }
    screen = _json(tmp_path / SCREEN_FILE)
    assert screen["screened"] is True and screen["threshold"] == 0.3
    assert screen["episodes"] == 8 and screen["rank_correlation"] == pytest.approx(-1.0)
    assert screen["misranked"]["better_fitness"] == max(screen["fitness"])
    assert not (tmp_path / POLICY_FILE).exists() and not (tmp_path / STATS_FILE).exists()


def test_a_reward_above_the_threshold_trains_after_its_screen(archive: Path, tmp_path: Path):
    assert train_module.run(_screened_job(tmp_path, UPRIGHT, str(archive), 0.3)) == 0
    assert _json(tmp_path / RESULT_FILE)["status"] == "ok"
    assert (tmp_path / POLICY_FILE).exists()
    screen = _json(tmp_path / SCREEN_FILE)
    assert screen["screened"] is False and screen["rank_correlation"] == pytest.approx(1.0)
    assert len(screen["returns"]) == len(screen["fitness"]) == 8


def test_a_missing_archive_is_logged_and_training_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nowhere" / "episodes.npz")
    assert train_module.run(_screened_job(tmp_path, DOWN, missing, 0.3)) == 0
    assert "not screening: cannot use the archive" in capsys.readouterr().err
    assert _json(tmp_path / RESULT_FILE)["status"] == "ok"
    assert not (tmp_path / SCREEN_FILE).exists()


def test_a_reward_that_breaks_on_the_archive_is_invalid(archive: Path, tmp_path: Path) -> None:
    breaks = UPRIGHT.replace("return", "assert len(action) < 20\n    return")
    assert train_module.run(_screened_job(tmp_path, breaks, str(archive), None)) == 3
    result = _json(tmp_path / RESULT_FILE)
    assert result["status"] == "invalid" and result["error_kind"] == "smoke"
    assert result["error"].startswith("screening failed: on archived episode 0: compute_reward")
    assert not (tmp_path / SCREEN_FILE).exists() and not (tmp_path / POLICY_FILE).exists()


@pytest.mark.slow
def test_half_cheetah_trains_on_its_own_reward_and_films_a_rollout(tmp_path: Path) -> None:
    card = get_card("HalfCheetah-v5")
    train = TrainSpec(
        env_id=card.env_id,
        fitness_metric="forward_distance",
        output_dir=str(tmp_path),
        reward_source="env",
        reward_code=HALF_CHEETAH_REWARD,  # ignored: the env's reward trains
        timesteps=2048,
        n_envs=card.training.n_envs,
        hyperparams=dict(card.training.hyperparams),
        policy_kwargs=dict(card.training.policy_kwargs),
        checkpoints=2,
    )
    done = run_module("sandbox.train", train, "train_spec.json")
    assert done.returncode == 0, done.stderr
    stats = _json(tmp_path / STATS_FILE)
    assert stats["reward_source"] == "env" and stats["component_names"] == []
    point = stats["checkpoints"][-1]
    assert point["episodes"] == 1 and point["length"]["mean"] == 1000
    assert point["reward"] == point["env_reward"]

    evaluation = EvalSpec(
        env_id=card.env_id,
        fitness_metric="forward_distance",
        policy_path=str(tmp_path / POLICY_FILE),
        output_dir=str(tmp_path),
        policy_kwargs=train.policy_kwargs,
        episodes=1,
        video_max_steps=40,
    )
    done = run_module("sandbox.evaluate", evaluation, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    report = _json(tmp_path / EVAL_FILE)
    assert report["episode_length"] == [1000] and report["video_frames"] == 40
    assert (tmp_path / VIDEO_FILE).stat().st_size > 0


def test_sac_trains_and_its_policy_evaluates(tmp_path: Path) -> None:
    train, evaluation = pendulum_job(
        tmp_path,
        algorithm="SAC",
        fitness_metric="upright_steps",
        reward_source="fitness",
        timesteps=300,
        n_envs=1,
        hyperparams={"learning_starts": 100, "batch_size": 64, "buffer_size": 1000},
        policy_kwargs={"net_arch": [32, 32]},
    )
    done = run_module("sandbox.train", train, "train_spec.json")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / CHECKPOINT_DIR / "replay_buffer.pkl").exists()
    evaluation = replace(evaluation, algorithm="SAC", fitness_metric="upright_steps", episodes=1)
    done = run_module("sandbox.evaluate", evaluation, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    report = _json(tmp_path / EVAL_FILE)
    assert report["metric"] == "upright_steps" and report["episode_length"] == [200]
    assert 0 <= report["fitness"] <= 200
