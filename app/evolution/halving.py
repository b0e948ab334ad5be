"""Successive halving within an iteration: most candidates are visibly bad early.

Every candidate trains the first fraction of the budget (a rung), the trusted
evaluator scores it, the lower-scoring part stops (status ``stopped``, keeping
its statistics, evaluation and fitness, which still feed reflection) and the
rest continue from their checkpoints to the next rung: no retraining from
scratch. The last rung is the full budget.

Run options (app.run_options.TrainingOptions): ``halving`` (true, false, or
null: on when samples >= 4), ``halving_rungs`` (budget fractions, increasing,
ending at 1.0; default 0.25, 0.5, 1.0) and ``halving_keep`` (the fraction kept
at each cut; 0.5). The cut ranks by the one rule of app.evolution.selection, and
cuts only where the gap exceeds the noise: a candidate ranked below the kept
fraction still goes on when its fitness is within ``NOISE_Z`` standard errors
(of the two evaluations' means, from their episodes' spread) of the weakest
kept one. With one evaluation episode the spread is unknown and the rank decides.

Progress lives on the candidate rows, so a killed worker resumes mid-halving:
after a rung, a candidate's row holds that rung's statistics, evaluation,
fitness and env steps, with ``evaluation["halving"] = {"rung", "rungs",
"budget", "kept"}`` (``kept``: it passed the cut after that rung), and its
checkpoint stays in ``<output_dir>/halving/rung-<r>`` until the next rung lands.
A row's ``train_seconds`` sums every rung it trained.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.db.models import Candidate
from app.db.run_store import RunStore
from app.evolution.progress import Progress
from app.evolution.selection import ranked
from app.execution.executor import CandidateJob, CandidateResult, EventCallback, Executor
from app.run_options import HALVING_MIN_SAMPLES, RunSpec, TrainingOptions
from sandbox.spec import CHECKPOINT_DIR

RUNGS_DIR = "halving"
NOISE_Z = 2.0  # a gap under two standard errors of the difference is not a difference


@dataclass(frozen=True)
class HalvingPlan:
    """Env steps at the end of each rung (increasing; the last is the full budget)."""

    budgets: tuple[int, ...]
    keep: float


def parse_halving(options: TrainingOptions, *, samples: int, timesteps: int) -> HalvingPlan | None:
    """The plan the run options ask for, or None when halving is off."""
    if not (samples >= HALVING_MIN_SAMPLES if options.halving is None else options.halving):
        return None
    budgets = sorted({max(1, math.ceil(f * timesteps)) for f in options.halving_rungs})
    return HalvingPlan(tuple(budgets), options.halving_keep) if len(budgets) > 1 else None


def halving_plan(spec: RunSpec, candidates: Sequence[Candidate]) -> HalvingPlan | None:
    """The plan for training ``candidates`` of a run; search candidates only."""
    if not candidates or any(c.kind != "search" for c in candidates):
        return None
    assert spec.timesteps is not None
    return parse_halving(spec.options, samples=spec.samples, timesteps=spec.timesteps)


@dataclass
class _Entry:
    """One candidate in the race: the last rung it finished, and that rung's result."""

    job: CandidateJob
    rung: int = -1
    kept: bool = False
    last: CandidateResult | None = None

    @property
    def out(self) -> Path:
        return Path(self.job.train.output_dir)


def train_with_halving(
    *,
    store: RunStore,
    executor: Executor,
    run_id: str,
    higher_is_better: bool,
    jobs: Sequence[CandidateJob],
    plan: HalvingPlan,
    progress: Progress,
    on_event: EventCallback,
    should_cancel: Callable[[], bool],
) -> Iterator[CandidateResult]:
    """Train ``jobs`` rung by rung, yielding one final result per job as an executor would.

    A result is done (full budget), stopped, invalid, failed or cancelled; a
    cancelled one carries the candidate's last finished rung, so storing it
    loses no progress.
    """
    race, iteration = _load(store, jobs, plan)
    report = _Reporter(store, run_id, iteration, plan, progress)
    for rung, budget in enumerate(plan.budgets):
        final = rung == len(plan.budgets) - 1
        todo = {e.job.key: e for e in race if e.rung < rung}
        entered = len([e for e in race if e.rung <= rung])
        report.rung_started(rung, list(todo))
        cancelled = False
        jobs_now = [_rung_job(e, budget) for e in todo.values()]
        for result in _run(executor, jobs_now, on_event, should_cancel):
            entry = todo[result.key]
            result = _with_earlier_rungs(entry, result)
            if result.status == "cancelled":
                cancelled = True
                continue
            if result.status == "done" and not final:
                result = _keep_checkpoint(entry, result, rung)
                if result.status == "done":
                    entry.rung, entry.kept, entry.last = rung, False, result
                    report.rung_done(entry)
                    _drop_rungs(entry, below=rung)
                    continue
            race.remove(entry)
            _drop_rungs(entry)
            yield _tagged(result, rung, plan, kept=final and result.status == "done")
        if cancelled or should_cancel():
            yield from (_cancelled(e) for e in race)
            return
        if not final:
            for entry in _cut(race, rung, entered, plan.keep, higher_is_better, report):
                race.remove(entry)
                _drop_rungs(entry)
                yield _stopped(entry, rung, plan)


def _run(
    executor: Executor,
    jobs: list[CandidateJob],
    on_event: EventCallback,
    should_cancel: Callable[[], bool],
) -> Iterator[CandidateResult]:
    """The executor's results (no call for no jobs); closing this closes the executor's run."""
    if jobs:
        yield from executor.run(jobs, on_event=on_event, should_cancel=should_cancel)


def _load(
    store: RunStore, jobs: Sequence[CandidateJob], plan: HalvingPlan
) -> tuple[list[_Entry], int | None]:
    """The race as the rows left it (a rung counts only if its checkpoint is still
    there), and the candidates' iteration."""
    race, iteration = [], None
    rows = store.get_candidates([job.key for job in jobs])
    for job in jobs:
        entry = _Entry(job)
        row = rows.get(job.key)
        if row is None:
            raise KeyError(f"no candidate with id {job.key!r}")
        iteration = row.iteration_index
        info = (row.evaluation or {}).get("halving")
        info = info if isinstance(info, dict) else {}
        rung = info.get("rung")
        if (
            isinstance(rung, int)
            and 0 <= rung < len(plan.budgets) - 1
            and row.fitness is not None
            and _rung_dir(entry.out, rung).is_dir()
        ):
            entry.rung, entry.kept, entry.last = rung, bool(info.get("kept")), _result_of(row)
        race.append(entry)
    return race, iteration


def _result_of(row: Candidate) -> CandidateResult:
    return CandidateResult(
        row.id,
        "done",
        stats=dict(row.stats or {}),
        evaluation=dict(row.evaluation or {}),
        fitness=row.fitness,
        success_rate=row.success_rate,
        env_steps=row.env_steps or 0,
        train_seconds=row.train_seconds,
        sandbox_level=row.sandbox_level,
        artifact_dir=row.artifact_dir,
    )


def _rung_job(entry: _Entry, budget: int) -> CandidateJob:
    """The job of the next rung; a rung that continues a checkpoint is not screened again."""
    if entry.rung < 0:
        return replace(entry.job, train=replace(entry.job.train, timesteps=budget))
    train = replace(
        entry.job.train,
        timesteps=budget,
        resume_from=str(_rung_dir(entry.out, entry.rung)),
        screen_archive=None,
        screen_min_correlation=None,
    )
    return replace(entry.job, train=train)


def _with_earlier_rungs(entry: _Entry, result: CandidateResult) -> CandidateResult:
    """A rung's result whose training time counts the rungs before it: the row's
    train_seconds is the candidate's whole training, whichever rung it ended at."""
    earlier = entry.last.train_seconds if entry.last is not None else None
    if not earlier or result.train_seconds is None:
        return result
    return replace(result, train_seconds=earlier + result.train_seconds)


def _cut(
    race: list[_Entry],
    rung: int,
    entered: int,
    keep: float,
    higher_is_better: bool,
    report: _Reporter,
) -> list[_Entry]:
    """The losers at ``rung``; the survivors' rows are marked first, in one transaction."""
    contenders = [e for e in race if e.rung == rung]
    if any(e.kept for e in contenders) or any(e.rung > rung for e in race):
        return [e for e in contenders if not e.kept]  # cut made before a restart
    order = ranked(
        contenders,
        higher_is_better=higher_is_better,
        fitness=_fitness,
        full_budget=lambda e: True,  # all at this rung's budget
    )
    survivors = order[: max(1, math.ceil(entered * keep))]
    edge = survivors[-1]
    within_noise = [e for e in order[len(survivors) :] if _within_noise(edge, e)]
    for entry in survivors + within_noise:
        entry.kept = True
    losers = [e for e in contenders if not e.kept]
    report.cut(rung, survivors + within_noise, losers, within_noise)
    return losers


def _standard_error(entry: _Entry) -> float:
    """The standard error of a rung evaluation's mean fitness (0 when unknown)."""
    assert entry.last is not None
    evaluation = entry.last.evaluation or {}
    spread, episodes = evaluation.get("fitness_std"), evaluation.get("episodes")
    if not isinstance(spread, int | float) or not isinstance(episodes, int) or episodes < 2:
        return 0.0
    # The evaluator reports the population spread; the sample's is a little wider.
    return float(spread) * math.sqrt(episodes / (episodes - 1)) / math.sqrt(episodes)


def _within_noise(edge: _Entry, other: _Entry) -> bool:
    noise = NOISE_Z * math.hypot(_standard_error(edge), _standard_error(other))
    return abs(_fitness(edge) - _fitness(other)) <= noise


def _fitness(entry: _Entry) -> float:
    assert entry.last is not None and entry.last.fitness is not None
    return float(entry.last.fitness)


def _halving_info(rung: int, plan: HalvingPlan, kept: bool) -> dict[str, Any]:
    return {"rung": rung, "rungs": len(plan.budgets), "budget": plan.budgets[rung], "kept": kept}


def _tagged(result: CandidateResult, rung: int, plan: HalvingPlan, kept: bool) -> CandidateResult:
    if result.evaluation:
        result.evaluation = {**result.evaluation, "halving": _halving_info(rung, plan, kept)}
    return result


def _stopped(entry: _Entry, rung: int, plan: HalvingPlan) -> CandidateResult:
    assert entry.last is not None
    done, total = plan.budgets[rung], plan.budgets[-1]
    return replace(
        _tagged(replace(entry.last), rung, plan, kept=False),
        status="stopped",
        error_kind="halving",
        error=f"stopped by successive halving after {done} of {total} env steps: "
        f"its fitness {entry.last.fitness:.4g} ranked below the candidates kept",
    )


def _cancelled(entry: _Entry) -> CandidateResult:
    if entry.last is None:
        return CandidateResult(entry.job.key, "cancelled", "cancelled", "cancelled")
    return replace(entry.last, status="cancelled", error="cancelled", error_kind="cancelled")


def _rung_dir(out: Path, rung: int) -> Path:
    return out / RUNGS_DIR / f"rung-{rung}"


def _keep_checkpoint(entry: _Entry, result: CandidateResult, rung: int) -> CandidateResult:
    """Move the fresh checkpoint where the next rung resumes from (before the row says
    it may); without one the candidate cannot go on, and fails."""
    target = _rung_dir(entry.out, rung)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        (entry.out / CHECKPOINT_DIR).rename(target)
    except OSError as exc:
        error = f"training left no checkpoint to continue from: {exc}"
        return replace(result, status="failed", error=error, error_kind="training")
    return result


def _drop_rungs(entry: _Entry, below: int | None = None) -> None:
    """Remove the rung checkpoints no longer needed (all of them when ``below`` is None)."""
    if below is None:
        shutil.rmtree(entry.out / RUNGS_DIR, ignore_errors=True)
        return
    for rung in range(below):
        shutil.rmtree(_rung_dir(entry.out, rung), ignore_errors=True)


class _Reporter:
    """Writes rung progress through the run store, and tells the live progress sink."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        iteration: int | None,
        plan: HalvingPlan,
        progress: Progress,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.iteration = iteration
        self.plan = plan
        self.progress = progress

    def rung_started(self, rung: int, keys: list[str]) -> None:
        data = {
            "iteration": self.iteration,
            "rung": rung,
            "rungs": len(self.plan.budgets),
            "budget": self.plan.budgets[rung],
            "candidates": keys,
        }
        self.store.event(self.run_id, "halving.rung", data)
        self.progress("halving.rung", data)

    def rung_done(self, entry: _Entry) -> None:
        """Store the rung's result on the row (status stays training)."""
        result = entry.last
        assert result is not None
        result.evaluation = {
            **result.evaluation,
            "halving": _halving_info(entry.rung, self.plan, kept=False),
        }
        data = self.store.record_rung(self.run_id, result, entry.rung)
        self.progress("candidate.rung", data)

    def cut(
        self,
        rung: int,
        survivors: list[_Entry],
        losers: list[_Entry],
        within_noise: list[_Entry],
    ) -> None:
        """Mark the survivors kept, in one transaction with the event that names both sides
        (and which survivors ranked below the kept fraction but within the noise)."""
        data = {
            "iteration": self.iteration,
            "rung": rung,
            "budget": self.plan.budgets[rung],
            "kept": {e.job.key: _fitness(e) for e in survivors},
            "stopped": {e.job.key: _fitness(e) for e in losers},
            "kept_within_noise": [e.job.key for e in within_noise],
            "noise_z": NOISE_Z,
        }
        info = _halving_info(rung, self.plan, kept=True)
        self.store.mark_kept(self.run_id, {e.job.key: info for e in survivors}, data)
        self.progress("halving.cut", data)
