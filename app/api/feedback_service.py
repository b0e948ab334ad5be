"""Check a POST .../feedback body against the run and store it as feedback rows."""

from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from app.api.errors import invalid_field
from app.api.queries import latest_finished_iteration
from app.api.schemas.feedback import FeedbackCreate, FeedbackRead
from app.db.errors import ConflictError
from app.db.models import Candidate, Feedback, Run
from app.db.repository import add_feedback, get_candidate, list_iterations
from app.db.states import TERMINAL_RUN_STATUSES as TERMINAL


def _iteration(session: Session, run: Run, requested: int | None) -> int:
    if requested is not None:
        if requested >= run.iterations:
            raise invalid_field(
                ("body", "iteration"),
                f"run {run.id} has iterations 0..{run.iterations - 1}; got {requested}",
                requested,
            )
        return requested
    latest = latest_finished_iteration(session, run_id=run.id)
    if latest is None:
        raise ConflictError(
            f"run {run.id} has no finished iteration yet; wait for one or give 'iteration'"
        )
    return latest


def _candidate(
    session: Session, run: Run, candidate_id: str, loc: tuple[str | int, ...]
) -> Candidate:
    candidate = get_candidate(session, candidate_id=candidate_id)
    if candidate is None or candidate.run_id != run.id:
        raise invalid_field(loc, f"run {run.id} has no candidate {candidate_id!r}", candidate_id)
    if candidate.kind != "search":
        raise invalid_field(
            loc,
            f"candidate {candidate_id} is a final retraining, not an evolved reward",
            candidate_id,
        )
    return candidate


def _check_candidates(session: Session, run: Run, body: FeedbackCreate) -> None:
    if body.candidate_id:
        _candidate(session, run, body.candidate_id, ("body", "candidate_id"))
    if body.parent_candidate_id:
        parent = _candidate(session, run, body.parent_candidate_id, ("body", "parent_candidate_id"))
        if not parent.code:
            raise invalid_field(
                ("body", "parent_candidate_id"),
                f"candidate {parent.id} has no code ({parent.status}: {parent.error_kind}); "
                "a parent must be a candidate with reward code",
                parent.id,
            )
    for index, preference in enumerate(body.preferences):
        _candidate(session, run, preference.preferred, ("body", "preferences", index, "preferred"))
        _candidate(session, run, preference.other, ("body", "preferences", index, "other"))
    for index, judgement in enumerate(body.judgements):
        for side, candidate_id in enumerate(judgement.candidates):
            loc = ("body", "judgements", index, "candidates", side)
            _candidate(session, run, candidate_id, loc)


def store_feedback(
    session: Session, *, run: Run, body: FeedbackCreate
) -> tuple[int, list[Feedback]]:
    """Store one row per part of ``body`` (text, parent, preferences, judgements, continue).

    Returns (the iteration it is about, the stored rows); the caller commits.
    Raises a 422 naming the field for a candidate outside the run, and
    ConflictError when no iteration has finished yet. Feedback on a run that has
    ended is kept for its first prompt once it is resumed or extended.
    """
    iteration = _iteration(session, run, body.iteration)
    _check_candidates(session, run, body)
    add = partial(add_feedback, session, run_id=run.id, iteration_index=iteration)
    rows = []
    if body.text:
        rows.append(add(kind="text", text=body.text, candidate_id=body.candidate_id))
    if body.parent_candidate_id:
        rows.append(add(kind="parent", candidate_id=body.parent_candidate_id))
    for preference in body.preferences:
        rows.append(
            add(
                kind="preference",
                candidate_id=preference.preferred,
                other_candidate_id=preference.other,
            )
        )
    for judgement in body.judgements:
        first, second = judgement.candidates
        rows.append(add(kind=judgement.verdict, candidate_id=first, other_candidate_id=second))
    if body.continue_:
        rows.append(add(kind="continue"))
    return iteration, rows


def feedback_reads(session: Session, run: Run, rows: list[Feedback]) -> list[FeedbackRead]:
    """The rows as the API shows them, each saying which prompt used it (or will)."""
    prompted = sum(1 for it in list_iterations(session, run_id=run.id) if it.messages)
    next_prompt = prompted if prompted < run.iterations and run.status not in TERMINAL else None
    return [_read(row, next_prompt) for row in rows]


def _read(row: Feedback, next_prompt: int | None) -> FeedbackRead:
    if row.kind == "continue":
        use = "ends the wait for feedback; no prompt carries it"
    elif row.used_in_iteration is not None:
        use = f"used in iteration {row.used_in_iteration}'s prompt"
    elif next_prompt is not None:
        use = f"waiting for iteration {next_prompt}'s prompt"
    else:
        use = "arrived after the last prompt: kept for a resumed or extended run"
    return FeedbackRead.model_validate(row).model_copy(update={"use": use})
