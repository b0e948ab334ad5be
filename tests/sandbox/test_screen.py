"""Screening a reward on archived episodes: real Pendulum and CartPole states, the
episode file format, and the rank correlation with the fitness."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from envs import get_card
from sandbox.episodes import (
    EpisodeFileError,
    RecordedEpisode,
    read_episodes,
    write_episodes,
)
from sandbox.reward_code import RewardContractError, load_reward
from sandbox.screen import rank_correlation, screen

UPRIGHT = """
def compute_reward(state, action):
    return state["uprightness"], {"upright": state["uprightness"]}
"""
DOWN = """
def compute_reward(state, action):
    return -state["uprightness"], {"down": -state["uprightness"]}
"""
NAN_ON_LONG_BATCHES = """
import numpy as np

def compute_reward(state, action):
    r = np.where(len(action) < 20, state["uprightness"], np.nan)
    return r, {"r": r}
"""


def rollout(env_id: str, seed: int, steps: int) -> RecordedEpisode:
    """``steps`` steps of random actions, every step stored; fitness = the card's default
    metric (Pendulum: mean uprightness), computed as the evaluator does."""
    card = get_card(env_id)
    env = gym.make(env_id, **card.make_kwargs)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows: list[dict[str, np.ndarray]] = []
    actions, values = [], []
    for _ in range(steps):
        action = env.action_space.sample()
        obs, _, terminated, truncated, info = env.step(action)
        state = card.extract(obs[None], [info])
        rows.append({name: np.array(value[0]) for name, value in state.items()})
        actions.append(action)
        values.append(
            float(np.asarray(card.default_metric.step(state, np.asarray(action)[None]))[0])
        )
        if terminated or truncated:
            break
    env.close()
    states = {name: np.stack([row[name] for row in rows]) for name in rows[0]}
    return RecordedEpisode(states, np.stack(actions), float(np.mean(values)), 1, len(rows))


def pendulum_archive(path: Path, episodes: int = 6, steps: int = 40) -> list[RecordedEpisode]:
    """An archive of ``episodes`` random Pendulum episodes with their real mean uprightness."""
    recorded = [rollout("Pendulum-v1", seed, steps) for seed in range(episodes)]
    write_episodes(path, recorded)
    return recorded


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "episodes.npz"
    episodes = pendulum_archive(path)
    assert len({e.fitness for e in episodes}) == len(episodes)  # no ties in this archive
    return path


def test_the_file_reads_back_as_written(tmp_path: Path) -> None:
    written = [rollout("Pendulum-v1", 0, 30), rollout("CartPole-v1", 1, 30)]
    write_episodes(tmp_path / "p.npz", written[:1])
    write_episodes(tmp_path / "c.npz", written[1:])
    pendulum, cartpole = read_episodes(tmp_path / "p.npz")[0], read_episodes(tmp_path / "c.npz")[0]
    assert pendulum.states["obs"].shape == (30, 3) and pendulum.states["obs"].dtype == np.float32
    assert pendulum.action.shape == (30, 1) and pendulum.action.dtype == np.float32
    assert (pendulum.fitness, pendulum.stride, pendulum.length) == (written[0].fitness, 1, 30)
    np.testing.assert_allclose(pendulum.states["angle"], written[0].states["angle"], rtol=1e-6)
    assert cartpole.action.shape == (cartpole.length,) and cartpole.action.dtype.kind == "i"
    np.testing.assert_array_equal(cartpole.action, written[1].action)


def test_a_malformed_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    good = rollout("Pendulum-v1", 0, 10)
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(EpisodeFileError, match="not an episode file"):
        read_episodes(path)
    arrays = {f"0.{k}": v for k, v in good.states.items()}
    arrays["0.action"] = good.action
    summary = {"fitness": np.array([0.5]), "stride": np.array([1]), "length": np.array([10])}
    cases = {
        "no 'length' array": {**arrays, **summary, "length": None},
        "fitness must be finite": {**arrays, **summary, "fitness": np.array([np.nan])},
        "'obs' has shape \\(9, 3\\), expected 10 rows": {
            **arrays,
            **summary,
            "0.obs": good.states["obs"][:9],
        },
        "unexpected array '1.obs'": {**arrays, **summary, "1.obs": good.states["obs"]},
        "stride and length must be at least 1": {**arrays, **summary, "stride": np.array([0])},
        "has no 'action'": {**{k: v for k, v in arrays.items() if k != "0.action"}, **summary},
    }
    for reason, case in cases.items():
        np.savez_compressed(path, **{k: v for k, v in case.items() if v is not None})
        with pytest.raises(EpisodeFileError, match=reason):
            read_episodes(path)
    with pytest.raises(FileNotFoundError):
        read_episodes(tmp_path / "missing.npz")


def test_the_fitness_itself_ranks_the_episodes_perfectly(archive: Path) -> None:
    report = screen(load_reward(UPRIGHT), archive, higher_is_better=True)
    episodes = read_episodes(archive)
    assert report["episodes"] == 6 and report["rank_correlation"] == pytest.approx(1.0)
    assert report["misranked"] is None
    assert report["fitness"] == [e.fitness for e in episodes]
    # A return is the summed reward: 40 steps of uprightness, whose mean is the fitness.
    np.testing.assert_allclose(report["returns"], 40 * np.array(report["fitness"]), rtol=1e-5)


def test_the_opposite_reward_ranks_them_backwards_and_names_the_worst_pair(archive: Path) -> None:
    report = screen(load_reward(DOWN), archive, higher_is_better=True)
    assert report["rank_correlation"] == pytest.approx(-1.0)
    fitness = report["fitness"]
    best, worst = int(np.argmax(fitness)), int(np.argmin(fitness))
    assert report["misranked"] == {
        "better_fitness": fitness[best],
        "better_return": report["returns"][best],
        "worse_fitness": fitness[worst],
        "worse_return": report["returns"][worst],
    }


def test_a_metric_where_lower_is_better_flips_the_sign(archive: Path) -> None:
    assert screen(load_reward(UPRIGHT), archive, False)["rank_correlation"] == pytest.approx(-1.0)
    flipped = screen(load_reward(DOWN), archive, False)
    assert flipped["rank_correlation"] == pytest.approx(1.0) and flipped["misranked"] is None


def test_a_stored_step_stands_for_stride_steps(tmp_path: Path) -> None:
    full = rollout("Pendulum-v1", 3, 41)
    every_4th = RecordedEpisode(
        {name: value[::4] for name, value in full.states.items()}, full.action[::4], 0.0, 4, 41
    )
    write_episodes(tmp_path / "a.npz", [every_4th])
    report = screen(load_reward(UPRIGHT), tmp_path / "a.npz", True)
    expected = 4 * np.sum(full.states["uprightness"][::4].astype(np.float32).astype(np.float64))
    assert report["returns"] == [pytest.approx(expected)]


def test_a_reward_that_goes_non_finite_on_the_archive_breaks_the_contract(archive: Path) -> None:
    with pytest.raises(RewardContractError, match="on archived episode 0: total is not finite"):
        screen(load_reward(NAN_ON_LONG_BATCHES), archive, True)


def test_fewer_than_three_episodes_or_a_constant_side_have_no_correlation(tmp_path: Path) -> None:
    pendulum_archive(tmp_path / "two.npz", episodes=2, steps=10)
    report = screen(load_reward(UPRIGHT), tmp_path / "two.npz", True)
    assert report["episodes"] == 2 and report["rank_correlation"] is None
    assert rank_correlation(np.ones(4), np.arange(4.0)) is None


def test_ties_share_their_average_rank() -> None:
    # Ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): the Pearson correlation of the ranks.
    x, y = np.array([0.0, 5.0, 5.0, 9.0]), np.array([1.0, 2.0, 3.0, 4.0])
    rx = np.array([1.0, 2.5, 2.5, 4.0])
    assert rank_correlation(x, y) == pytest.approx(np.corrcoef(rx, y)[0, 1])
    assert rank_correlation(x, -y) == pytest.approx(-np.corrcoef(rx, y)[0, 1])
