"""Turn the LLM's responses into candidates: extract the code, run the static
gate, and store every outcome (a failure is a recorded error, never a crash)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db.models import Candidate
from app.evolution.validate import ValidationError, check_code
from app.llm.extract import ExtractionError, code_hash, extract_code
from app.llm.proposer import LLMResponse
from sandbox.spec import RewardBackend


def candidates_from_responses(
    session: Session,
    *,
    run_id: str,
    iteration: int,
    responses: Sequence[LLMResponse],
    parent_id: str | None,
    seed: int,
    backend: RewardBackend = "numpy",
) -> list[Candidate]:
    """One candidate row per response, in sample order."""
    made = []
    for sample, response in enumerate(responses):
        candidate = Candidate(
            run_id=run_id,
            iteration_index=iteration,
            sample_index=sample,
            parent_id=parent_id,
            seed=seed,
            response_text=response.text,
        )
        _check_response(candidate, response, backend)
        session.add(candidate)
        made.append(candidate)
    session.flush()
    return made


def _check_response(candidate: Candidate, response: LLMResponse, backend: RewardBackend) -> None:
    if response.error or response.text is None:
        _reject(candidate, "llm", response.error or "the LLM returned no text")
        return
    try:
        code = extract_code(response.text)
    except ExtractionError as exc:
        _reject(candidate, "extraction", str(exc))
        return
    candidate.code = code
    candidate.code_hash = code_hash(code)
    try:
        check_code(code, backend)
    except ValidationError as exc:
        _reject(candidate, "validation", str(exc))


def _reject(candidate: Candidate, kind: str, message: str) -> None:
    candidate.status = "failed" if kind == "llm" else "invalid"
    candidate.error_kind = kind
    candidate.error = message
