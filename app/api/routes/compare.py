"""/compare: two or more candidates (of any runs on one env) side by side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.code_compare import formatting_free_diff, normalized_code
from app.api.deps import SessionDep
from app.api.errors import invalid_field
from app.api.schemas.candidates import CandidateSummary
from app.api.schemas.common import ID_PATTERN, error_responses
from app.api.schemas.compare import MAX_COMPARED, ComparedCandidate, Comparison
from app.db.models import Candidate
from app.db.repository import require_candidate, require_run

router = APIRouter(tags=["candidates"])


@router.get(
    "/compare",
    summary="Compare candidates' curves and code",
    responses=error_responses(404),
)
def compare(
    session: SessionDep,
    candidate: Annotated[
        list[Annotated[str, Query(pattern=ID_PATTERN)]],
        Query(min_length=2, max_length=MAX_COMPARED, description="candidate ids, 2 to 8"),
    ],
) -> Comparison:
    """Each candidate's statistics for overlaid curves, and its code through ``ast.unparse``
    with a diff from the first one, so formatting and comments never count as changes.
    The candidates may come from different runs of the same env."""
    rows = [require_candidate(session, candidate_id=c) for c in dict.fromkeys(candidate)]
    runs = {row.run_id: require_run(session, run_id=row.run_id) for row in rows}
    envs = {run.env_id for run in runs.values()}
    if len(envs) > 1:
        raise invalid_field(
            ("query", "candidate"),
            f"candidates come from runs on different envs ({', '.join(sorted(envs))}); "
            "compare candidates of one env",
            candidate,
        )
    first = rows[0]
    items = []
    for row in rows:
        run = runs[row.run_id]
        code, parsed = normalized_code(row.code) if row.code else (None, False)
        items.append(
            ComparedCandidate(
                **CandidateSummary.model_validate(row).model_dump(),
                task=run.task,
                fitness_metric=run.fitness_metric,
                stats=row.stats or {},
                code=code,
                code_normalized=parsed,
                diff=_diff(first, row),
            )
        )
    return Comparison(env_id=envs.pop(), items=items)


def _diff(first: Candidate, other: Candidate) -> str | None:
    if other.id == first.id or not first.code or not other.code:
        return None
    return formatting_free_diff(
        first.code, other.code, old_name=f"candidate {first.id}", new_name=f"candidate {other.id}"
    )
