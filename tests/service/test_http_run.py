"""A run through the REST API of a real ``rewardforge serve`` process: created over
HTTP, followed over server-sent events to the end, steered with feedback while it
waits, with the feedback found in the next iteration's stored prompt."""

from __future__ import annotations

from pathlib import Path

import httpx

from envs import get_card
from tests.fake_llm import FakeLLMServer, Reply, buggy_reward_response, good_reward_response
from tests.processes import cli_env
from tests.service.helpers import TINY_RUN, read_events, serving

TOKEN = "test-token-for-this-server"
MARKER = "keep the car slow near the flag (marker 7d1f)"


def test_run_over_http_with_feedback_reaches_the_next_prompt(tmp_path: Path) -> None:
    card = get_card(TINY_RUN["env_id"])
    with FakeLLMServer(
        default=Reply([good_reward_response(card), buggy_reward_response(card)])
    ) as llm:
        env = cli_env(
            tmp_path / "data", llm_model="fake-model", llm_base_url=llm.base_url, api_token=TOKEN
        )
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with serving(env, tmp_path / "serve.log") as base:
            body = {**TINY_RUN, "feedback": "wait", "feedback_timeout_s": 600}
            assert httpx.post(f"{base}/api/runs", json=body).status_code == 401
            created = httpx.post(f"{base}/api/runs", json=body, headers=auth)
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]

            first = read_events(base, run_id, until="feedback.waiting")
            kinds = [e["event"] for e in first]
            assert "candidate.result" in kinds and "iteration.done" in kinds
            candidates = httpx.get(f"{base}/api/runs/{run_id}/candidates").json()
            items = candidates["items"] if isinstance(candidates, dict) else candidates
            ids = (
                [c["id"] for c in items if c["iteration"] == 0]
                if "iteration" in items[0]
                else [c["id"] for c in items if c["iteration_index"] == 0]
            )
            assert len(ids) == 2
            feedback = httpx.post(
                f"{base}/api/runs/{run_id}/feedback",
                headers=auth,
                json={
                    "text": MARKER,
                    "candidate_id": ids[0],
                    "preferences": [{"preferred": ids[0], "other": ids[1]}],
                    "continue": True,
                },
            )
            assert feedback.status_code in (200, 201), feedback.text

            rest = read_events(base, run_id, last_id=first[-1]["id"])
            assert rest and rest[0]["id"] > first[-1]["id"]  # resumed, nothing repeated
            run = httpx.get(f"{base}/api/runs/{run_id}").json()
            assert run["status"] == "succeeded", run
            iterations = httpx.get(f"{base}/api/runs/{run_id}/iterations").json()["items"]
            second = next(i for i in iterations if i["index"] == 1)
            assert MARKER in "\n".join(m["content"] for m in second["messages"])
        assert MARKER in "\n".join(m["content"] for m in llm.chat_requests[-1]["messages"])
