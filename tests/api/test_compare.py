"""/api/compare: candidates of several runs on one env, their statistics and their
code diffed with formatting and comments ignored."""

from __future__ import annotations

from app.db.repository import create_candidate
from tests.api.conftest import Api
from tests.api.seed import queued_run

CODE = """import numpy as np

def compute_reward(state, action):
    upright = np.cos(state["pole_angle"])
    return upright, {"upright": upright}
"""
# The same reward in other quotes, spacing and line breaks, with a comment.
RESTYLED = """import numpy as np
def compute_reward(state,action):
    # the pole's angle, as a cosine
    upright = np.cos( state['pole_angle'] )
    return (upright,
            {'upright': upright})
"""
CHANGED = CODE.replace("np.cos(", "2.0 * np.cos(")


def _candidates(api: Api) -> list[str]:
    with api.session_factory.begin() as session:
        first, second = queued_run(session), queued_run(session, task="balance longer")
        other_env = queued_run(session, env_id="Pendulum-v1")
        made = [
            create_candidate(session, run_id=run.id, iteration_index=i, sample_index=0, code=code)
            for run, i, code in (
                (first, 0, CODE),
                (first, 1, RESTYLED),
                (second, 0, CHANGED),
                (other_env, 0, CODE),
            )
        ]
        return [c.id for c in made]


def test_compare_diffs_code_across_runs_ignoring_formatting(api: Api) -> None:
    base, restyled, changed, _ = _candidates(api)
    ids = [("candidate", c) for c in (base, restyled, changed)]
    response = api.client.get("/api/compare", params=ids)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["env_id"] == "CartPole-v1"
    first, same, other = body["items"]
    assert [i["id"] for i in body["items"]] == [base, restyled, changed]
    assert first["diff"] is None
    assert same["diff"] == ""  # quotes, spaces, line breaks and the comment are no change
    assert same["code"] == first["code"] and first["code_normalized"]
    assert "-    upright = np.cos(state['pole_angle'])" in other["diff"]
    assert "+    upright = 2.0 * np.cos(state['pole_angle'])" in other["diff"]
    assert other["task"] == "balance longer" and other["run_id"] != first["run_id"]
    assert {"stats", "fitness_metric", "fitness", "iteration_index"} <= set(first)


def test_compare_refuses_other_envs_one_candidate_and_unknown_ids(api: Api) -> None:
    base, _, _, pendulum = _candidates(api)
    mixed = api.client.get("/api/compare", params=[("candidate", base), ("candidate", pendulum)])
    assert mixed.status_code == 422
    assert "different envs" in mixed.text
    assert api.client.get("/api/compare", params={"candidate": base}).status_code == 422
    unknown = api.client.get("/api/compare", params=[("candidate", base), ("candidate", "nope")])
    assert unknown.status_code == 404
