"""A candidate in full: the diff against its parent and the files it produced."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from app.api.code_compare import formatting_free_diff
from app.api.schemas.candidates import CandidateDetail, CandidateLinks, CandidateSummary
from app.api.tensorboard_export import event_files
from app.db.models import Candidate
from app.db.repository import get_candidate

VIDEO_FILE = "rollout.mp4"
WEIGHTS_FILE = "policy.pt"


def code_diff(parent: Candidate | None, candidate: Candidate) -> str | None:
    """Unified diff from the parent's code to the candidate's, formatting and comments
    ignored; None without both."""
    if parent is None or not parent.code or not candidate.code:
        return None
    return formatting_free_diff(
        parent.code,
        candidate.code,
        old_name=f"candidate {parent.id}",
        new_name=f"candidate {candidate.id}",
    )


def artifact_file(candidate: Candidate, name: str, *, artifacts_dir: Path) -> Path | None:
    """The candidate's artifact ``name`` if it is a regular file inside ``artifacts_dir``.

    A sandbox wrote into that folder, so a symlink there could point anywhere:
    links and anything resolving outside the artifacts folder are not served.
    """
    if not candidate.artifact_dir:
        return None
    path = Path(candidate.artifact_dir) / name
    if path.is_symlink() or not path.is_file():
        return None
    resolved = path.resolve()
    if not resolved.is_relative_to(artifacts_dir.resolve()):
        return None
    return resolved


def candidate_detail(
    session: Session,
    *,
    candidate: Candidate,
    video_url: str,
    weights_url: str,
    tensorboard_url: str,
    artifacts_dir: Path,
) -> CandidateDetail:
    """The candidate with its diff and the links to whichever files exist."""
    parent = (
        get_candidate(session, candidate_id=candidate.parent_id) if candidate.parent_id else None
    )
    has_video = artifact_file(candidate, VIDEO_FILE, artifacts_dir=artifacts_dir) is not None
    has_weights = artifact_file(candidate, WEIGHTS_FILE, artifacts_dir=artifacts_dir) is not None
    has_events = bool(event_files(candidate, artifacts_dir=artifacts_dir))
    return CandidateDetail(
        **CandidateSummary.model_validate(candidate).model_dump(),
        response_text=candidate.response_text,
        code=candidate.code,
        code_hash=candidate.code_hash,
        diff=code_diff(parent, candidate),
        error=candidate.error,
        attempts=candidate.attempts,
        stats=candidate.stats or {},
        evaluation=candidate.evaluation or {},
        links=CandidateLinks(
            video=video_url if has_video else None,
            weights=weights_url if has_weights else None,
            tensorboard=tensorboard_url if has_events else None,
        ),
    )
