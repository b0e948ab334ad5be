"""One reward-evolution run: propose -> validate -> train -> evaluate -> select
-> reflect, for N iterations, then the final retraining against the baselines.

Every step is written through the run store as it happens, and every step first
looks at what is already there, so running ``execute_run`` again on an
interrupted run resumes at the first unfinished piece: no finished candidate is
retrained, a stored prompt is sent again as it was (and answered from the
stored LLM calls), and no feedback is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.db.models import Candidate, Iteration
from app.db.run_store import RunStore
from app.evolution.budget import budget_stop
from app.evolution.feedback_wait import wait_for_feedback
from app.evolution.finalize import (
    FINAL_SEED_BASE,
    RESELECT_SEED_BASE,
    SOURCES,
    reselect,
    summarize,
)
from app.evolution.progress import Progress, ignore_progress
from app.evolution.propose import drafts_from_responses
from app.evolution.reflection import build_reflection
from app.evolution.screening import archive_path, refresh_archive
from app.evolution.search_history import training_setup
from app.evolution.selection import RANKED_STATUSES, best_of, choose_parent, ranked
from app.evolution.training import StorageFault, train_candidates
from app.execution.executor import Executor
from app.llm.prompting import build_messages
from app.llm.proposer import Proposer
from app.run_options import RunSpec, spec_of
from app.run_prepare import env_reward_is_baseline
from envs import get_card
from envs.card import EnvCard, FitnessMetric

TERMINAL = ("succeeded", "failed", "cancelled")


class RunCancelled(Exception):
    """The run was cancelled (or its lease was lost) while it ran."""


@dataclass
class RunContext:
    store: RunStore
    executor: Executor
    proposer_for: Callable[[str, RunSpec], Proposer]  # the proposer for a run's LLM settings
    artifacts: Path
    progress: Progress = ignore_progress
    should_cancel: Callable[[], bool] = field(default=lambda: False)
    owns_run: Callable[[], bool] = field(default=lambda: True)  # False once the lease is lost


def execute_run(ctx: RunContext, run_id: str) -> str:
    """Run (or resume) ``run_id`` to the end; returns its final status."""
    stored = ctx.store.run(run_id)
    if stored.status in TERMINAL:
        return stored.status
    spec = spec_of(stored)
    search = _Search(ctx, run_id, spec)
    ctx.store.start(run_id)
    try:
        for index in range(spec.iterations):
            search.check_cancel()
            if search.out_of_budget(index):
                break
            search.iteration(index)
            if spec.feedback_mode == "wait" and index < spec.iterations - 1:
                wait_for_feedback(
                    ctx.store,
                    run_id=run_id,
                    iteration=index,
                    timeout_s=spec.feedback_timeout_s,
                    should_cancel=ctx.should_cancel,
                    progress=ctx.progress,
                )
        search.check_cancel()
        search.finalize()
    except RunCancelled:
        if not ctx.owns_run():
            return "lease lost"  # another worker has the run now; leave its rows alone
        return ctx.store.stop(run_id)
    except StorageFault as exc:
        return ctx.store.fail(
            run_id,
            f"the service's storage failed, not a candidate: {exc}. Free or repair the disk, "
            "then resume the run: the candidates it hit train again.",
        )
    return ctx.store.run(run_id).status


class _Search:
    """The steps of one run, reading and writing through the run store."""

    def __init__(self, ctx: RunContext, run_id: str, spec: RunSpec) -> None:
        self.ctx, self.store, self.run_id, self.spec = ctx, ctx.store, run_id, spec
        self.card: EnvCard = get_card(spec.env_id, spec.card_spec)
        self.metric: FitnessMetric = self.card.metric(spec.metric_name)
        self.higher = self.metric.higher_is_better
        self.proposer = ctx.proposer_for(run_id, spec)

    def check_cancel(self) -> None:
        if self.ctx.should_cancel():
            raise RunCancelled

    def out_of_budget(self, index: int) -> bool:
        """True when a budget stops the search before iteration ``index`` (stored once)."""
        found = self.store.iteration(self.run_id, index)
        if found is not None and found.status == "done":
            return False
        if "budget" in (self.store.run(self.run_id).final or {}):
            return True  # resumed after a budget stop
        reason = budget_stop(self.store, self.run_id, self.spec, index=index)
        if reason is None:
            return False
        self.store.stop_search(self.run_id, reason)
        self.ctx.progress("run.budget", reason)
        return True

    def iteration(self, index: int) -> None:
        found = self.store.iteration(self.run_id, index)
        if found is not None and found.status == "done":
            return
        self.ctx.progress("iteration.started", {"index": index, "total": self.spec.iterations})
        iteration = self.store.begin_iteration(self.run_id, index)
        candidates = self.store.candidates(self.run_id, iteration=index)
        if not candidates:
            candidates = self._propose(iteration)
        pending = [c for c in candidates if c.status == "pending"]
        to_train = self.store.link_duplicates(self.run_id, pending)
        self.store.set_iteration_status(self.run_id, index, "training")
        self._train(to_train, screen_archive=self._screen_archive() if to_train else None)
        self.check_cancel()
        self._close(index)

    def _propose(self, iteration: Iteration) -> list[Candidate]:
        index = iteration.index
        if iteration.messages:  # resumed after the prompt was stored: send it as it was
            messages, parent_id = iteration.messages, iteration.parent_candidate_id
        else:
            inputs = self.store.reflection_inputs(self.run_id, index)
            choice = choose_parent(
                candidates=inputs.candidates,
                unused_feedback=inputs.unused_feedback,
                preferences=inputs.preferences,
                index=index,
                higher_is_better=self.higher,
            )
            plan = build_reflection(
                inputs,
                choice,
                index=index,
                metric_name=self.metric.name,
                setup=training_setup(self.spec, self.card),
            )
            messages = build_messages(
                card=self.card,
                metric=self.metric,
                task=self.spec.task,
                reflection=plan.reflection,
                reward_backend=self.spec.options.reward_backend,
            )
            parent_id = choice.parent.id if choice.parent else None
            self.store.save_prompt(
                self.run_id,
                index,
                messages=messages,
                parent_id=parent_id,
                parent_rule=choice.rule,
                feedback_ids=plan.feedback_ids,
            )
        parent = self.store.get_candidates([parent_id]).get(parent_id) if parent_id else None
        self.ctx.progress("llm.request", {"iteration": index, "samples": self.spec.samples})
        responses = self.proposer.propose(
            messages=messages,
            n=self.spec.samples,
            iteration=index,
            seed=self.spec.seed,
            parent_code=parent.code if parent else None,
        )
        drafts = drafts_from_responses(responses, self.spec.options.reward_backend)
        return self.store.add_candidates(
            self.run_id, index, drafts, parent_id=parent_id, seed=self.spec.seed
        )

    def _screen_archive(self) -> Path | None:
        """The archive of the episodes evaluated so far, rebuilt (None: no screening)."""
        if not self.spec.options.screening:
            return None
        path = archive_path(self.ctx.artifacts, self.run_id)
        return refresh_archive(self.store.candidates(self.run_id), path)

    def _train(self, candidates: list[Candidate], screen_archive: Path | None = None) -> None:
        train_candidates(
            store=self.store,
            executor=self.ctx.executor,
            run_id=self.run_id,
            spec=self.spec,
            card=self.card,
            candidates=candidates,
            artifacts=self.ctx.artifacts,
            progress=self.ctx.progress,
            should_cancel=self.ctx.should_cancel,
            screen_archive=screen_archive,
        )

    def _close(self, index: int) -> None:
        search = self.store.candidates(self.run_id)
        best = best_of(
            [c for c in search if c.iteration_index == index], higher_is_better=self.higher
        )
        run_best = best_of(search, higher_is_better=self.higher)
        self.store.close_iteration(
            self.run_id,
            index,
            best_id=best.id if best else None,
            run_best_id=run_best.id if run_best else None,
        )

    def finalize(self) -> None:
        best_id = self.store.run(self.run_id).best_candidate_id
        if best_id is None:
            self.store.set_status(
                self.run_id,
                "failed",
                error="no candidate trained successfully; see the candidates' errors",
            )
            return
        if self.spec.final_seeds == 0:  # the user skipped the comparison with the baselines
            self.store.finish(self.run_id)
            return
        self.store.set_status(self.run_id, "finalizing")
        best_id = self._reselect(best_id)
        finals = self.store.ensure_finals(
            self.run_id, best_id=best_id, sources=SOURCES, seed_base=FINAL_SEED_BASE
        )
        pending = [c for c in finals if c.status == "pending"]
        self.ctx.progress("final.started", {"trainings": len(pending)})
        self._train(pending)
        self.check_cancel()
        finals = self.store.candidates(self.run_id, kind="final")
        baseline = env_reward_is_baseline(self.spec, self.card.default_metric.name)
        summary = summarize(finals, higher_is_better=self.higher, env_is_baseline=baseline)
        self.store.finish(self.run_id, summary)

    def _reselect(self, best_id: str) -> str:
        """The reward to finalise: the best mean of the top-k search candidates retrained
        on fresh seeds (k = 1, or a single distinct trained reward: the search's best)."""
        chosen = (self.store.run(self.run_id).final or {}).get("reselection")
        if chosen:  # resumed after the choice
            return str(chosen["winner_id"])
        trained = [
            c
            for c in self.store.candidates(self.run_id)
            if c.status in RANKED_STATUSES and c.duplicate_of is None
        ]
        top = ranked(trained, higher_is_better=self.higher)[: self.spec.options.final_top_k]
        if len(top) < 2:
            return best_id
        rows = self.store.ensure_reselections(
            self.run_id,
            top_ids=[c.id for c in top],
            seeds=self.spec.final_seeds,
            seed_base=RESELECT_SEED_BASE,
        )
        pending = [c for c in rows if c.status == "pending"]
        self.ctx.progress("final.reselecting", {"trainings": len(pending), "top_k": len(top)})
        self._train(pending)
        self.check_cancel()
        retrained = self.store.candidates(self.run_id, kind="reselect")
        result = reselect(top, retrained, higher_is_better=self.higher)
        self.store.choose_final(self.run_id, best_id=result["winner_id"], reselection=result)
        self.ctx.progress("final.reselected", result)
        return str(result["winner_id"])
