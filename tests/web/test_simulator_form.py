"""The new run form's simulator choice, on a server without workers (runs stay queued,
so no run here trains on the batched simulator): it is posted, refused at its field
for a card it does not cover, stored, shown on the run page and filled in again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from sandbox.batched import unavailable_reason
from tests.web.conftest import ENV_ID, Served

# Under xdist one worker runs them all: one idle server (module fixture).
pytestmark = pytest.mark.xdist_group("web-simulator")

BATCHED_ENV = "HalfCheetah-v5"
BATCHED_HERE = unavailable_reason(BATCHED_ENV, "mujoco_warp")
HINT = "mujoco_warp: all envs batched on one GPU; HalfCheetah, Hopper, Walker2d, Swimmer"


def _fill(page: Page, env_id: str, simulator: str) -> None:
    page.goto("/runs/new")
    page.get_by_label("Environment").select_option(env_id)
    page.get_by_label("What should the agent do?").fill("run forward")
    page.get_by_text("Advanced").click()
    page.get_by_label("Simulator").select_option(simulator)


def test_simulator_choice_is_posted_and_a_card_it_does_not_cover_is_refused_there(
    idle_page: Page, idle: Served
) -> None:
    before = idle.api.get("/api/runs").raise_for_status().json()["total"]
    _fill(idle_page, ENV_ID, "mujoco_warp")
    select = idle_page.get_by_label("Simulator")
    expect(select.locator("option")).to_have_text(
        ["mujoco (Gymnasium's envs on the CPU)", "mujoco_warp (batched on one GPU)"]
    )
    expect(idle_page.locator("#hint-f-options-simulator")).to_have_text(HINT)
    idle_page.get_by_role("button", name="Start run").click()
    expect(idle_page.locator("#error-options-simulator")).to_contain_text(
        f"simulator 'mujoco_warp' does not cover {ENV_ID}"
    )
    expect(select).to_have_attribute("aria-invalid", "true")
    assert idle.api.get("/api/runs").raise_for_status().json()["total"] == before


@pytest.mark.skipif(BATCHED_HERE is not None, reason=str(BATCHED_HERE))
def test_batched_run_from_the_form_is_stored_shown_and_filled_in_again(
    idle_page: Page, idle: Served
) -> None:
    _fill(idle_page, BATCHED_ENV, "mujoco_warp")
    idle_page.get_by_label("Parallel envs").fill("4096")
    idle_page.get_by_role("button", name="Start run").click()
    idle_page.wait_for_url(re.compile(r".*/runs/(?!new$)[^/]+$"))
    run_id = idle_page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(idle_page.locator(".run-head .sub")).to_contain_text("simulator mujoco_warp")
    options = idle.run(run_id)["options"]
    assert (options["simulator"], options["n_envs"]) == ("mujoco_warp", 4096)

    idle_page.goto(f"/runs/new?from={run_id}")
    expect(idle_page.get_by_label("Simulator")).to_have_value("mujoco_warp")
    expect(idle_page.get_by_label("Parallel envs")).to_have_value("4096")
