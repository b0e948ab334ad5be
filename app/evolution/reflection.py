"""What the next prompt learns from the last iteration: the parent, its
statistics, the other candidates' errors and the person's feedback."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Candidate, Feedback
from app.llm.prompting import Reflection


def search_candidates(session: Session, run_id: str, before: int | None = None) -> list[Candidate]:
    query = select(Candidate).where(Candidate.run_id == run_id, Candidate.kind == "search")
    if before is not None:
        query = query.where(Candidate.iteration_index < before)
    return list(session.scalars(query.order_by(Candidate.iteration_index, Candidate.sample_index)))


def best_candidate(candidates: list[Candidate]) -> Candidate | None:
    """The candidate whose trained policy scored best on the trusted fitness."""
    scored = [c for c in candidates if c.fitness is not None and c.status in ("done", "stopped")]
    return max(scored, key=lambda c: (c.status == "done", c.fitness), default=None)


def choose_parent(
    session: Session, *, run_id: str, iteration: int, higher_is_better: bool
) -> tuple[Candidate | None, bool]:
    """The parent of ``iteration``: a person's pick if one was made, else the best so far.

    Returns (parent, chosen_by_human).
    """
    picked = session.scalars(
        select(Feedback)
        .where(
            Feedback.run_id == run_id,
            Feedback.kind == "parent",
            Feedback.iteration_index < iteration,
        )
        .order_by(Feedback.iteration_index.desc(), Feedback.id.desc())
    ).first()
    if picked is not None and picked.iteration_index == iteration - 1 and picked.candidate_id:
        chosen = session.get(Candidate, picked.candidate_id)
        if chosen is not None and chosen.run_id == run_id and chosen.code:
            return chosen, True
    candidates = search_candidates(session, run_id, before=iteration)
    if not higher_is_better:
        scored = [c for c in candidates if c.fitness is not None]
        return (min(scored, key=lambda c: c.fitness or 0.0) if scored else None), False
    return best_candidate(candidates), False


def build_reflection(
    session: Session, *, run_id: str, iteration: int, higher_is_better: bool
) -> Reflection | None:
    """The reflection for the prompt of ``iteration`` (None for the first)."""
    if iteration == 0:
        return None
    parent, by_human = choose_parent(
        session, run_id=run_id, iteration=iteration, higher_is_better=higher_is_better
    )
    last = [c for c in search_candidates(session, run_id) if c.iteration_index == iteration - 1]
    errors = [
        f"candidate {c.sample_index}: {c.error}"
        for c in last
        if c.status in ("invalid", "failed") and c.error
    ]
    feedback = list(
        session.scalars(
            select(Feedback)
            .where(Feedback.run_id == run_id, Feedback.iteration_index == iteration - 1)
            .order_by(Feedback.id)
        )
    )
    by_id = {c.id: c for c in last}
    texts = [_feedback_text(f, by_id) for f in feedback if f.kind == "text" and f.text]
    preferences = [
        (_label(by_id, f.candidate_id), _label(by_id, f.other_candidate_id))
        for f in feedback
        if f.kind == "preference"
    ]
    return Reflection(
        parent_code=parent.code if parent else None,
        parent_fitness=parent.fitness if parent else None,
        parent_success_rate=parent.success_rate if parent else None,
        parent_stats=parent.stats if parent else {},
        errors=errors,
        feedback=texts,
        preferences=preferences,
        parent_chosen_by_human=by_human,
    )


def _label(by_id: dict[str, Candidate], candidate_id: str | None) -> str:
    candidate = by_id.get(candidate_id or "")
    if candidate is None:
        return f"candidate {candidate_id}"
    fitness = "untrained" if candidate.fitness is None else f"fitness {candidate.fitness:.3g}"
    return f"candidate {candidate.sample_index} ({fitness})"


def _feedback_text(feedback: Feedback, by_id: dict[str, Candidate]) -> str:
    if feedback.candidate_id:
        return f"about {_label(by_id, feedback.candidate_id)}: {feedback.text}"
    return feedback.text or ""
