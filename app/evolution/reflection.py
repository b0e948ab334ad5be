"""What the next prompt learns from the search so far: the parent (and why it was
chosen), its statistics, the last iteration's errors and every piece of the
person's feedback that no prompt has used yet, however late it came."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.models import Candidate, Feedback
from app.db.run_store import ReflectionInputs
from app.db.states import COMPARISON_KINDS
from app.evolution.search_history import search_so_far
from app.evolution.selection import RULE_HUMAN, RULE_PREFERENCES, ParentChoice
from app.llm.prompting import Reflection, TrainingSetup


@dataclass(frozen=True)
class ReflectionPlan:
    reflection: Reflection | None
    feedback_ids: list[int]  # the feedback this prompt carries, to mark used


def build_reflection(
    inputs: ReflectionInputs,
    choice: ParentChoice,
    *,
    index: int,
    metric_name: str,
    setup: TrainingSetup | None = None,
) -> ReflectionPlan:
    """The reflection for the prompt of iteration ``index`` (None for the first: no
    feedback can come before an iteration has finished). With ``setup`` it also tells
    how candidates train and what the whole search tried (see search_history)."""
    if index == 0:
        return ReflectionPlan(None, [])
    by_id = {c.id: c for c in inputs.candidates}
    feedback = inputs.unused_feedback
    texts = [_feedback_text(f, by_id) for f in feedback if f.kind == "text" and f.text]
    pairs = {
        kind: [
            (_label(by_id, f.candidate_id), _label(by_id, f.other_candidate_id))
            for f in feedback
            if f.kind == kind
        ]
        for kind in COMPARISON_KINDS
    }
    used = [f.id for f in feedback if f.kind == "text" or f.kind == "parent" or f.kind in pairs]
    parent = choice.parent if isinstance(choice.parent, Candidate) else None
    last = [c for c in inputs.candidates if c.iteration_index == index - 1]
    errors = [
        f"candidate {c.sample_index}: {c.error}"
        for c in last
        if c.status in ("invalid", "failed") and c.error
    ]
    reflection = Reflection(
        parent_code=parent.code if parent else None,
        parent_fitness=parent.fitness if parent else None,
        parent_success_rate=parent.success_rate if parent else None,
        parent_stats=parent.stats if parent else {},
        errors=errors,
        feedback=texts,
        preferences=pairs["preference"],
        ties=pairs["tie"],
        both_bad=pairs["both_bad"],
        parent_chosen_by_human=choice.rule == RULE_HUMAN,
        parent_reason=_reason(choice, parent, metric_name),
        setup=setup,
        search=search_so_far(inputs.candidates, index=index, parent=parent) if setup else None,
    )
    return ReflectionPlan(reflection, used)


def _reason(choice: ParentChoice, parent: Candidate | None, metric_name: str) -> str | None:
    if parent is None:
        return None
    where = f"iteration {parent.iteration_index}, candidate {parent.sample_index}"
    if choice.rule == RULE_HUMAN:
        return f"the person supervising the search picked it ({where})."
    if choice.rule == RULE_PREFERENCES:
        return (
            f"the person compared the last iteration's policies and preferred its behaviour "
            f"most ({where}; Bradley-Terry strength {choice.score:.2f} over every comparison "
            "in this search), whatever its metric."
        )
    return f"its trained policy scored best on `{metric_name}` so far ({where})."


def _label(by_id: dict[str, Candidate], candidate_id: str | None) -> str:
    candidate = by_id.get(candidate_id or "")
    if candidate is None:
        return f"candidate {candidate_id}"
    fitness = "untrained" if candidate.fitness is None else f"fitness {candidate.fitness:.3g}"
    return f"iteration {candidate.iteration_index} candidate {candidate.sample_index} ({fitness})"


def _feedback_text(feedback: Feedback, by_id: dict[str, Candidate]) -> str:
    if feedback.candidate_id:
        return f"about {_label(by_id, feedback.candidate_id)}: {feedback.text}"
    return feedback.text or ""
