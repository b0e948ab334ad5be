"""What screening would have saved and lost on a finished quality suite, replayed.

Every search of ``bench/quality.py`` records, for each evolved reward trained after
the first iteration, its rank correlation on the archive of evaluated episodes
(``screen.json``: the sandbox computes it before training, screening on or off).
This replays the searches at screening thresholds: a reward below the threshold
would have been screened, its env steps saved. With two iterations nothing trains
after the screened rewards but the final evaluation, so a search whose top-k
(by single-seed fitness, the rule that picks what the final evaluation retrains) is
the same with and without screening would end with the same final fitness exactly
(training is deterministic from the stored specs); a search whose top-k changes
would retrain other rewards in its final evaluation, which a replay cannot score,
and is counted as such.

    .venv/bin/python bench/screening_replay.py bench/results/quality_suite-offline-x0.5 \\
        [--thresholds 0 0.3 0.5 0.7]

Reads the folder's runs/ (local: the databases are not committed) and prints a
markdown table per threshold and the env-step ratio with/without.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.db.models import Candidate, Run  # noqa: E402
from app.db.session import make_engine, make_session_factory  # noqa: E402
from app.evolution.selection import ranked  # noqa: E402
from envs import get_card  # noqa: E402

SCREEN_FILE = "screen.json"


@dataclass(frozen=True)
class Trained:
    """One search candidate as the replay needs it."""

    id: str
    iteration: int
    fitness: float | None
    env_steps: int
    correlation: float | None  # None: not screened (first iteration, or no archive)


@dataclass(frozen=True)
class Search:
    name: str
    higher_is_better: bool
    top_k: int
    candidates: list[Trained]
    final_steps: int  # env steps of the final evaluation and the baselines


def load_search(folder: Path) -> Search | None:
    """The finished search stored in ``folder`` (a quality run's data dir), or None."""
    database = folder / "rewardforge.db"
    if not database.exists():
        return None
    factory = make_session_factory(make_engine(f"sqlite:///{database}"))
    with factory() as session:
        run = session.scalars(select(Run)).first()
        if run is None or run.status != "succeeded":
            return None
        rows = list(session.scalars(select(Candidate).where(Candidate.run_id == run.id)))
        metric = get_card(run.env_id).metric(run.fitness_metric)
        search = [
            Trained(c.id, c.iteration_index, c.fitness, c.env_steps, _correlation(c, folder))
            for c in rows
            if c.kind == "search"
        ]
        return Search(
            name=folder.name,
            higher_is_better=metric.higher_is_better,
            top_k=int(run.options.get("final_top_k") or 1),
            candidates=search,
            final_steps=sum(c.env_steps for c in rows if c.kind != "search"),
        )


def _correlation(candidate: Candidate, folder: Path) -> float | None:
    if not candidate.artifact_dir:
        return None
    where = Path(candidate.artifact_dir)  # absolute where it ran; else under the folder
    moved = folder / "artifacts" / where.parent.name / where.name
    for path in (where / SCREEN_FILE, moved / SCREEN_FILE):
        if path.exists():
            value = json.loads(path.read_text()).get("rank_correlation")
            return None if value is None else float(value)
    return None


@dataclass(frozen=True)
class Replay:
    screened: int
    steps_saved: int
    search_steps: int
    top_k_same: bool
    best_screened: bool


def replay(search: Search, threshold: float) -> Replay:
    def top(items: list[Trained]) -> list[str]:
        best = ranked(items, higher_is_better=search.higher_is_better, full_budget=lambda c: True)
        return [c.id for c in best[: search.top_k]]

    out = [c for c in search.candidates if c.correlation is not None and c.correlation < threshold]
    kept = [c for c in search.candidates if c not in out]
    before = top(search.candidates)
    return Replay(
        screened=len(out),
        steps_saved=sum(c.env_steps for c in out),
        search_steps=sum(c.env_steps for c in search.candidates),
        top_k_same=top(kept) == before,
        best_screened=bool(before) and before[0] in {c.id for c in out},
    )


def report(searches: list[Search], thresholds: list[float]) -> str:
    lines = [
        "| threshold | rewards screened | search env steps saved | run env steps with/without "
        "| searches with the same top-k (same final fitness) | searches whose best was "
        "screened |",
        "|---|---|---|---|---|---|",
    ]
    for threshold in thresholds:
        results = [replay(s, threshold) for s in searches]
        screenable = sum(c.correlation is not None for s in searches for c in s.candidates)
        saved = sum(r.steps_saved for r in results)
        search_steps = sum(r.search_steps for r in results)
        total = search_steps + sum(s.final_steps for s in searches)
        same = [s.name for s, r in zip(searches, results, strict=True) if not r.top_k_same]
        lost = [s.name for s, r in zip(searches, results, strict=True) if r.best_screened]
        lines.append(
            f"| {threshold:g} | {sum(r.screened for r in results)} of {screenable} "
            f"| {saved:,} of {search_steps:,} ({saved / search_steps:.0%}) "
            f"| {(total - saved) / total:.3f} "
            f"| {len(searches) - len(same)} of {len(searches)}"
            + (f" (changed: {', '.join(same)})" if same else "")
            + f" | {len(lost)}"
            + (f" ({', '.join(lost)})" if lost else "")
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path, help="a quality results folder (with runs/)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.3, 0.5, 0.7])
    args = parser.parse_args()
    searches = [
        search
        for folder in sorted((args.results / "runs").iterdir())
        if (search := load_search(folder)) is not None
    ]
    if not searches:
        raise SystemExit(f"no finished searches under {args.results / 'runs'}")
    print(f"{len(searches)} finished searches in {args.results}\n")
    print(report(searches, args.thresholds))


if __name__ == "__main__":
    main()
