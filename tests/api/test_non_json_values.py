"""NaN, Infinity and lone surrogates: Python's JSON parser takes them, the API answers 422."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.api.errors import json_safe
from tests.api.conftest import AUTH, Api
from tests.api.seed import queued_run

RUN = '{"env_id": "Hopper-v5", "task": "hop forward", "iterations": 1, "samples": 1%s}'


def _strict(text: str) -> Any:
    """Parse as JSON proper: NaN and Infinity are refused, and so is an unencodable string."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in the answer")

    text.encode("utf-8")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("extra", "loc"),
    [
        (', "llm": {"temperature": NaN}', ["body", "llm", "temperature"]),
        (', "feedback_timeout_s": Infinity', ["body", "feedback_timeout_s"]),
        (', "feedback_timeout_s": -Infinity', ["body", "feedback_timeout_s"]),
        (
            ', "options": {"halving_rungs": [0.5, NaN, 1.0]}',
            ["body", "options", "halving_rungs", 1],
        ),
        (', "options": {"halving_keep": NaN}', ["body", "options", "halving_keep"]),
        (', "fitness": "x\\ud800"', ["body", "fitness"]),
        (', "card_spec": "\\udfff"', ["body", "card_spec"]),
        (', "options": {"device": "\\ud800"}', ["body", "options", "device"]),
        (', "x\\ud800": 1', ["body"]),
    ],
)
def test_run_body_with_non_json_values_gets_422(api_any_db: Api, extra: str, loc: list) -> None:
    response = api_any_db.client.post(
        "/api/runs",
        content=(RUN % extra).encode("utf-8", "surrogatepass"),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    detail = _strict(response.text)["detail"]
    assert detail[0]["loc"] == loc
    assert api_any_db.client.get("/api/runs").json()["total"] == 0


def test_lone_surrogate_in_task_text_gets_422_not_a_stored_run(api_any_db: Api) -> None:
    body = RUN.replace("hop forward", "hop \\ud83d forward") % ""
    response = api_any_db.client.post(
        "/api/runs", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert _strict(response.text)["detail"][0]["loc"] == ["body", "task"]
    assert "surrogate" in response.text


def test_feedback_text_with_a_lone_surrogate_gets_422(api: Api) -> None:
    with api.session_factory.begin() as session:
        run_id = queued_run(session, feedback_mode="wait").id
    response = api.client.post(
        f"/api/runs/{run_id}/feedback",
        content='{"text": "spins \\udc00 in place"}',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert _strict(response.text)["detail"][0]["loc"] == ["body", "text"]


def test_error_echo_spells_out_what_json_cannot_carry() -> None:
    echoed = json_safe({"input": [float("nan"), float("-inf"), "a\ud800b"], "x\udfff": 1.5})
    assert _strict(json.dumps(echoed)) == {
        "input": ["nan", "-inf", "a\\ud800b"],
        "x\\udfff": 1.5,
    }
