"""The archive of evaluated episodes that new rewards are screened on, after CARD's
trajectory preference evaluation.

The trusted evaluator records the episodes it scores (``sandbox.episodes``). Before an
iteration trains, the run's archive is rebuilt from its search candidates evaluated
so far: up to :data:`ARCHIVE_EPISODES` episodes spread evenly over the range of their
fitness, so that a new reward is asked to order good, middling and bad behaviour. Each
candidate's own sandbox computes its returns on them (candidate code runs nowhere
else) and their rank correlation with the fitness (``sandbox.screen``); the next
prompt shows it, and a run with ``screen_min_correlation`` skips training the rewards
below it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.db.models import Candidate
from sandbox.episodes import RecordedEpisode, read_episodes, write_episodes
from sandbox.spec import EPISODES_FILE

ARCHIVE_FILE = "screen_archive.npz"
ARCHIVE_EPISODES = 16
MIN_EPISODES = 3  # fewer cannot rank anything


def archive_path(artifacts: Path, run_id: str) -> Path:
    return artifacts / run_id / ARCHIVE_FILE


def refresh_archive(candidates: Sequence[Candidate], path: Path) -> Path | None:
    """Write the archive of ``candidates``' recorded episodes to ``path`` (replacing it);
    None, and no file, when fewer than :data:`MIN_EPISODES` episodes are recorded."""
    files: dict[str, list[RecordedEpisode]] = {}
    episodes = []
    for candidate, index in _pick(_scored_episodes(candidates), ARCHIVE_EPISODES):
        if candidate.id not in files:
            files[candidate.id] = _read(candidate)
        recorded = files[candidate.id]
        if index < len(recorded):
            episodes.append(recorded[index])
    if len(episodes) < MIN_EPISODES:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_episodes(path, episodes)  # replaces it atomically
    return path


def _scored_episodes(candidates: Sequence[Candidate]) -> list[tuple[float, Candidate, int]]:
    """(fitness, candidate, episode index) of every recorded episode, from the rows alone."""
    found = []
    for c in candidates:
        evaluation = c.evaluation or {}
        if c.duplicate_of or not c.artifact_dir or evaluation.get("episodes_file") is None:
            continue
        for index, fitness in enumerate(evaluation.get("episode_fitness") or []):
            if isinstance(fitness, int | float) and math.isfinite(fitness):
                found.append((float(fitness), c, index))
    return found


def _pick(scored: list[tuple[float, Candidate, int]], count: int) -> list[tuple[Candidate, int]]:
    """``count`` episodes at evenly spaced ranks of fitness (all of them if fewer)."""
    ordered = sorted(scored, key=lambda item: (item[0], item[1].id, item[2]))
    if len(ordered) > count:
        ranks = np.unique(np.round(np.linspace(0, len(ordered) - 1, count)).astype(int))
        ordered = [ordered[r] for r in ranks]
    return [(c, index) for _, c, index in ordered]


def _read(candidate: Candidate) -> list[RecordedEpisode]:
    """A candidate's recorded episodes; none when its file is gone or unreadable."""
    try:
        return read_episodes(Path(candidate.artifact_dir or "") / EPISODES_FILE)
    except (OSError, ValueError):
        return []
