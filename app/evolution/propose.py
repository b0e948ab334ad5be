"""Turn the LLM's responses into candidate drafts: extract the code and run the
static gate (a failure is a recorded error, never a crash)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db.run_store import CandidateDraft
from app.evolution.validate import ValidationError, check_code
from app.llm.extract import ExtractionError, code_hash, extract_code
from app.llm.proposer import LLMResponse
from sandbox.spec import RewardBackend


def drafts_from_responses(
    responses: Sequence[LLMResponse], backend: RewardBackend = "numpy"
) -> list[CandidateDraft]:
    """One draft per response, in sample order."""
    return [_draft(sample, response, backend) for sample, response in enumerate(responses)]


def _draft(sample: int, response: LLMResponse, backend: RewardBackend) -> CandidateDraft:
    if response.error or response.text is None:
        error = response.error or "the LLM returned no text"
        return CandidateDraft(sample, response.text, status="failed", error_kind="llm", error=error)
    try:
        code = extract_code(response.text)
    except ExtractionError as exc:
        return CandidateDraft(
            sample, response.text, status="invalid", error_kind="extraction", error=str(exc)
        )
    digest = code_hash(code)
    try:
        check_code(code, backend)
    except ValidationError as exc:
        return CandidateDraft(
            sample,
            response.text,
            code,
            digest,
            status="invalid",
            error_kind="validation",
            error=str(exc),
        )
    return CandidateDraft(sample, response.text, code, digest)
