"""A note posted while a later iteration trains reaches the next prompt built after it:
a real ``rewardforge serve``, a real HTTP LLM server, real training."""

from __future__ import annotations

from pathlib import Path

import httpx

from envs import get_card
from tests.fake_llm import FakeLLMServer, Reply, good_reward_response
from tests.processes import cli_env, wait_until
from tests.service.helpers import TINY_RUN, serving

NOTE = "the car overshoots the flag (note 31c9)"


def test_a_note_posted_while_iteration_1_trains_is_used_in_iteration_2(tmp_path: Path) -> None:
    card = get_card(TINY_RUN["env_id"])
    answer = good_reward_response(card)
    # different code in every iteration, so none is a duplicate that skips training
    variants = [
        answer.replace("EFFORT_TEMPERATURE = 1.0", f"EFFORT_TEMPERATURE = {t}") for t in (1, 2, 3)
    ]
    with FakeLLMServer(default=Reply([answer])) as llm:
        llm.enqueue(*(Reply([v]) for v in variants))
        env = cli_env(tmp_path / "data", llm_model="fake-model", llm_base_url=llm.base_url)
        with serving(env, tmp_path / "serve.log") as base:
            body = {**TINY_RUN, "iterations": 3, "timesteps": 6000}
            created = httpx.post(f"{base}/api/runs", json=body)
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]

            def training_in_iteration_1() -> bool:
                status = httpx.get(f"{base}/api/runs/{run_id}").json()["status"]
                assert status not in ("failed", "succeeded", "cancelled"), status
                items = httpx.get(f"{base}/api/runs/{run_id}/candidates").json()["items"]
                return any(c["iteration_index"] == 1 and c["status"] == "training" for c in items)

            wait_until(training_in_iteration_1, 300, "training in iteration 1")
            posted = httpx.post(
                f"{base}/api/runs/{run_id}/feedback",
                json={"iteration": 0, "text": NOTE},
            )
            assert posted.status_code == 201, posted.text
            [stored] = posted.json()["items"]
            assert stored["use"] == "waiting for iteration 2's prompt"

            def finished() -> dict | None:
                run = httpx.get(f"{base}/api/runs/{run_id}").json()
                return run if run["status"] in ("succeeded", "failed") else None

            assert wait_until(finished, 300, "end of the run")["status"] == "succeeded"
            iterations = httpx.get(f"{base}/api/runs/{run_id}/iterations").json()["items"]
            prompts = {
                i["index"]: "\n".join(m["content"] for m in i["messages"]) for i in iterations
            }
            assert NOTE not in prompts[1] and NOTE in prompts[2]
            [feedback] = httpx.get(f"{base}/api/runs/{run_id}/feedback").json()["items"]
            assert feedback["consumed"] and feedback["used_in_iteration"] == 2
            assert feedback["use"] == "used in iteration 2's prompt"
            kinds = httpx.get(f"{base}/api/runs/{run_id}/events?limit=500").text
            assert "feedback.consumed" in kinds
        requests = llm.chat_requests
        assert len(requests) == 3
        assert NOTE not in str(requests[1]["messages"]) and NOTE in str(requests[2]["messages"])
