"""Candidates over HTTP: lists with filters, the full view with its diff, video and weights."""

from __future__ import annotations

import os

from app.db.models import Candidate
from tests.api.conftest import Api
from tests.api.seed import VIDEO_BYTES, finished_iteration, queued_run


def _two_iterations(api: Api) -> tuple[str, list[Candidate], list[Candidate]]:
    with api.session_factory.begin() as session:
        run = queued_run(session)
        first = finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)
        second = finished_iteration(
            session, run=run, index=1, artifacts_dir=api.artifacts_dir, parent=first[-1]
        )
        return run.id, first, second


def test_candidates_list_filters_by_iteration_status_and_kind(api: Api) -> None:
    run_id, first, second = _two_iterations(api)
    url = f"/api/runs/{run_id}/candidates"
    everything = api.client.get(url).json()
    assert everything["total"] == len(first) + len(second)
    only_second = api.client.get(url, params={"iteration": 1}).json()["items"]
    assert [c["id"] for c in only_second] == [c.id for c in second]
    invalid = api.client.get(url, params={"status": "invalid"}).json()["items"]
    assert {c["id"] for c in invalid} == {first[0].id, second[0].id}
    assert api.client.get(url, params={"kind": "final"}).json()["total"] == 0
    assert api.client.get(url, params={"status": "exploded"}).status_code == 422
    assert api.client.get("/api/runs/nosuchrun/candidates").status_code == 404


def test_candidate_detail_shows_code_diff_result_and_links(api: Api) -> None:
    _, first, second = _two_iterations(api)
    child = second[1]
    detail = api.client.get(f"/api/candidates/{child.id}").json()
    assert detail["code"] == child.code
    assert detail["parent_id"] == first[-1].id
    assert detail["diff"].startswith(f"--- candidate {first[-1].id}\n+++ candidate {child.id}\n")
    assert "-    return (upright * 3," in detail["diff"]  # as ast.unparse writes it
    assert "+    return (upright * 2," in detail["diff"]
    assert (detail["fitness"], detail["sandbox_level"]) == (10.0, "rlimits")
    assert detail["stats"] == {"reward": {"mean": [1.0, 2.0]}}
    assert detail["links"] == {
        "video": f"/api/candidates/{child.id}/video",
        "weights": f"/api/candidates/{child.id}/weights",
        "tensorboard": None,  # the seeded candidate trained without TensorBoard
    }


def test_rejected_candidate_shows_its_error_and_no_links(api: Api) -> None:
    _, first, _ = _two_iterations(api)
    detail = api.client.get(f"/api/candidates/{first[0].id}").json()
    assert (detail["status"], detail["error_kind"], detail["error"]) == (
        "invalid",
        "extraction",
        "no code block",
    )
    assert (detail["code"], detail["diff"]) == (None, None)
    assert detail["links"] == {"video": None, "weights": None, "tensorboard": None}
    response = api.client.get(f"/api/candidates/{first[0].id}/video")
    assert response.status_code == 404
    assert "has no rollout.mp4" in response.json()["detail"]


def test_video_is_served_whole_and_by_range(api: Api) -> None:
    _, first, _ = _two_iterations(api)
    url = f"/api/candidates/{first[1].id}/video"
    whole = api.client.get(url)
    assert (whole.status_code, whole.headers["content-type"]) == (200, "video/mp4")
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content == VIDEO_BYTES
    part = api.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(VIDEO_BYTES)}"
    assert part.content == VIDEO_BYTES[100:200]


def test_weights_download(api: Api) -> None:
    _, first, _ = _two_iterations(api)
    response = api.client.get(f"/api/candidates/{first[1].id}/weights")
    assert response.status_code == 200
    assert response.content == b"weights"
    assert f'filename="policy_{first[1].id}.pt"' in response.headers["content-disposition"]


def test_symlinked_artifact_is_not_served(api: Api) -> None:
    _, first, _ = _two_iterations(api)
    candidate = first[1]
    secret = api.artifacts_dir.parent / "secret.txt"
    secret.write_text("not for the client")
    video = api.artifacts_dir / candidate.run_id / candidate.id / "rollout.mp4"
    video.unlink()
    os.symlink(secret, video)
    assert api.client.get(f"/api/candidates/{candidate.id}/video").status_code == 404
    assert api.client.get(f"/api/candidates/{candidate.id}").json()["links"]["video"] is None


def test_unknown_or_malformed_candidate_id(api: Api) -> None:
    assert api.client.get("/api/candidates/nosuchcand").status_code == 404
    assert api.client.get("/api/candidates/nosuchcand/weights").status_code == 404
    assert api.client.get("/api/candidates/..%2Fetc").status_code in (404, 422)
