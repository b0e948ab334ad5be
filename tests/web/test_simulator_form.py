"""The new run form's simulator choice, on a server without workers (runs stay queued,
so no run here trains on the batched simulator): it is posted, refused at its field
for a card it does not cover, stored, shown on the run page and filled in again."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from sandbox.batched import unavailable_reason
from tests.fake_llm import FakeLLMServer
from tests.web.conftest import ENV_ID, PageErrors, Served, open_context, running_server

# Under xdist one worker runs them all: one idle server (module fixture).
pytestmark = pytest.mark.xdist_group("web-simulator")

BATCHED_ENV = "HalfCheetah-v5"
BATCHED_HERE = unavailable_reason(BATCHED_ENV, "mujoco_warp")
HINT = "mujoco_warp: all envs batched on one GPU; HalfCheetah, Hopper, Walker2d, Swimmer"


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with (
        FakeLLMServer() as llm,
        running_server(tmp_path_factory.mktemp("simulator-server"), workers=0, llm=llm) as server,
    ):
        yield server


@pytest.fixture
def page(browser: Browser, idle: Served) -> Iterator[Page]:
    """A page with the API token saved; fails the test on uncaught JS errors."""
    context = open_context(browser, idle.base_url, token=True)
    errors = PageErrors()
    yield errors.watch(context.new_page())
    context.close()
    assert not errors.errors, f"JavaScript errors on the page: {errors.errors}"


def _fill(page: Page, env_id: str, simulator: str) -> None:
    page.goto("/runs/new")
    page.get_by_label("Environment").select_option(env_id)
    page.get_by_label("What should the agent do?").fill("run forward")
    page.get_by_text("Advanced").click()
    page.get_by_label("Simulator").select_option(simulator)


def test_simulator_choice_is_posted_and_a_card_it_does_not_cover_is_refused_there(
    page: Page, idle: Served
) -> None:
    before = idle.api.get("/api/runs").raise_for_status().json()["total"]
    _fill(page, ENV_ID, "mujoco_warp")
    select = page.get_by_label("Simulator")
    expect(select.locator("option")).to_have_text(
        ["mujoco (Gymnasium's envs on the CPU)", "mujoco_warp (batched on one GPU)"]
    )
    expect(page.locator("#hint-f-options-simulator")).to_have_text(HINT)
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#error-options-simulator")).to_contain_text(
        f"simulator 'mujoco_warp' does not cover {ENV_ID}"
    )
    expect(select).to_have_attribute("aria-invalid", "true")
    assert idle.api.get("/api/runs").raise_for_status().json()["total"] == before


@pytest.mark.skipif(BATCHED_HERE is not None, reason=str(BATCHED_HERE))
def test_batched_run_from_the_form_is_stored_shown_and_filled_in_again(
    page: Page, idle: Served
) -> None:
    _fill(page, BATCHED_ENV, "mujoco_warp")
    page.get_by_label("Parallel envs").fill("4096")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/runs/(?!new$)[^/]+$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator(".run-head .sub")).to_contain_text("simulator mujoco_warp")
    options = idle.run(run_id)["options"]
    assert (options["simulator"], options["n_envs"]) == ("mujoco_warp", 4096)

    page.goto(f"/runs/new?from={run_id}")
    expect(page.get_by_label("Simulator")).to_have_value("mujoco_warp")
    expect(page.get_by_label("Parallel envs")).to_have_value("4096")
