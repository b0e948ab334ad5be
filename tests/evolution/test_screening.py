"""The run's screening archive: episodes spread over the fitness range of the search so
far, read from what the evaluator recorded, rebuilt before each iteration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.db.models import Candidate
from app.evolution.screening import ARCHIVE_EPISODES, refresh_archive
from sandbox.episodes import RecordedEpisode, read_episodes, write_episodes
from sandbox.spec import EPISODES_FILE


def episode(fitness: float, steps: int = 4) -> RecordedEpisode:
    position = np.full(steps, fitness, dtype=np.float32)
    return RecordedEpisode(
        {"position": position}, np.zeros((steps, 1), np.float32), fitness, 1, steps
    )


def evaluated(tmp_path: Path, name: str, fitness: list[float], **row: object) -> Candidate:
    """A search candidate whose evaluation recorded one episode per fitness."""
    out = tmp_path / name
    out.mkdir()
    write_episodes(out / EPISODES_FILE, [episode(f) for f in fitness])
    evaluation = {"episodes_file": EPISODES_FILE, "episode_fitness": fitness}
    return Candidate(id=name, artifact_dir=str(out), evaluation=evaluation, **row)


def test_the_archive_spreads_over_the_fitness_range_of_every_candidate(tmp_path: Path) -> None:
    rows = [evaluated(tmp_path, f"c{i}", [10.0 * i + e for e in range(5)]) for i in range(8)]
    path = refresh_archive(rows, tmp_path / "archive.npz")
    assert path is not None
    kept = [e.fitness for e in read_episodes(path)]
    assert len(kept) == ARCHIVE_EPISODES
    assert kept == sorted(kept) and kept[0] == 0.0 and kept[-1] == 74.0  # both ends
    # The states are the recorded ones, episode by episode.
    assert all(float(e.states["position"][0]) == e.fitness for e in read_episodes(path))


def test_duplicates_unrecorded_and_lost_files_are_left_out(tmp_path: Path) -> None:
    kept = evaluated(tmp_path, "kept", [1.0, 2.0, 3.0])
    twin = evaluated(tmp_path, "twin", [7.0, 8.0], duplicate_of="kept")
    lost = evaluated(tmp_path, "lost", [9.0])
    (Path(lost.artifact_dir or "") / EPISODES_FILE).unlink()
    unrecorded = Candidate(id="old", artifact_dir=str(tmp_path), evaluation={"fitness": 5.0})
    path = refresh_archive([kept, twin, lost, unrecorded], tmp_path / "archive.npz")
    assert path is not None
    assert [e.fitness for e in read_episodes(path)] == [1.0, 2.0, 3.0]


def test_too_few_episodes_make_no_archive_and_remove_an_old_one(tmp_path: Path) -> None:
    path = tmp_path / "archive.npz"
    assert refresh_archive([evaluated(tmp_path, "a", [1.0, 2.0, 3.0])], path) == path
    assert refresh_archive([evaluated(tmp_path, "b", [1.0, 2.0])], path) is None
    assert not path.exists()
