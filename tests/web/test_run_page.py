"""The run page with real runs: live updates, a candidate's code, diff and video,
feedback that reaches the next prompt, and screenshots at laptop and phone width.

Two real runs in all (Pendulum-v1, 2 iterations x 2 samples x 1000 timesteps on one env):
one started from the form and shared by the tests that follow it, one that
waits for feedback. The tests run in file order so the runs overlap.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.fake_llm import FakeLLMServer
from tests.web.conftest import (
    ENV_ID,
    LAPTOP,
    PHONE,
    TOKEN,
    PageErrors,
    Served,
    open_context,
    save_artifact,
    scripted_llm,
)

RUN_SECONDS = 300  # the longest a tiny run may take on a loaded 2-core machine
TASK = "swing the pendulum up and keep it upright with little effort"
# Another task, so the first prompt differs from the form run's (identical requests are
# answered from the store, across runs too).
WAITING_TASK = "swing the pendulum up quickly and hold it upright"
NOTE = "it swings up but keeps spinning; hold it still at the top"
CHART_POINTS = "id => Chart.getChart(document.getElementById(id))?.data.datasets[{}].data.length"
# HAVE_CURRENT_DATA or more, and no media error: the browser decoded the video.
VIDEO_READY = (
    "s => { const v = document.querySelector(s); return !!v && v.readyState >= 2 && !v.error; }"
)


@dataclass
class FormRun:
    """A run started by filling in the form, and the page that is following it."""

    run_id: str
    page: Page
    llm: FakeLLMServer


@pytest.fixture(scope="module")
def form_run(browser: Browser, served: Served) -> Iterator[FormRun]:
    """Save the token in the header box, fill in the form, start the run."""
    llm = scripted_llm((0.05, 0.2), (0.1, 0.02))
    context = open_context(browser, served.base_url, token=False)
    errors = PageErrors()
    page = errors.watch(context.new_page())
    page.goto("/runs/new")
    page.locator("#token-state").click()
    page.get_by_label("API token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Save token").click()
    page.get_by_label("Environment").select_option(ENV_ID)
    page.get_by_label("What should the agent do?").fill(TASK)
    page.get_by_label("Fitness metric (what selects the best reward)").select_option(
        "mean_uprightness"
    )
    page.get_by_label("Iterations").fill("2")
    page.get_by_label("Candidates per iteration").fill("2")
    page.get_by_label("Timesteps per candidate").fill("1000")
    page.get_by_label("Final seeds").fill("1")
    page.get_by_label("Model").fill(llm.model)
    page.get_by_label("Base URL (OpenAI-compatible)").fill(llm.base_url)
    page.get_by_text("Advanced").click()
    page.get_by_label("Evaluation episodes").fill("1")
    page.get_by_label("Parallel envs").fill("1")  # one PPO update of 1024 steps, not 4096
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/(?!new$)[A-Za-z0-9_-]+$"))
    # Survives only as long as the page is never reloaded.
    page.evaluate("window.__sameDocument = true")
    try:
        yield FormRun(run_id=page.url.rsplit("/", 1)[1], page=page, llm=llm)
    finally:
        context.close()
        llm.stop()
    assert not errors.errors, f"JavaScript errors on the run page: {errors.errors}"


def _wait_for_video(page: Page, selector: str) -> None:
    page.wait_for_function(VIDEO_READY, arg=selector, timeout=30_000)


def _plays(page: Page, selector: str) -> bool:
    """Start the video and report whether its playback position moves."""
    return page.evaluate(
        """async selector => {
            const video = document.querySelector(selector);
            video.muted = true;
            await video.play();
            const start = video.currentTime;
            await new Promise(resolve => setTimeout(resolve, 700));
            return video.currentTime > start && !video.error;
        }""",
        selector,
    )


def test_run_from_form_fills_in_live_and_shows_a_candidate(
    form_run: FormRun, served: Served
) -> None:
    stored = served.run(form_run.run_id)
    assert (stored["env_id"], stored["task"], stored["fitness_metric"]) == (
        ENV_ID,
        TASK,
        "mean_uprightness",
    )
    assert (stored["iterations"], stored["samples"], stored["timesteps"]) == (2, 2, 1000)
    assert stored["final_seeds"] == 1
    assert (stored["options"]["eval_episodes"], stored["options"]["n_envs"]) == (1, 1)
    assert (stored["llm"]["model"], stored["llm"]["base_url"]) == (
        form_run.llm.model,
        form_run.llm.base_url,
    )

    page = form_run.page
    expect(page.locator("#live-state")).to_have_text("live")
    done_child = page.locator("#candidates-table tbody tr[data-status='done']").filter(
        has_text="1 · sample"
    )
    expect(done_child.first).to_be_visible(timeout=RUN_SECONDS * 1000)
    assert page.evaluate(CHART_POINTS.format(0), "evolution-chart") >= 3
    assert page.evaluate(CHART_POINTS.format(2), "evolution-chart") == 2  # best so far
    assert page.locator("#candidates-table tbody tr").count() >= 4
    assert page.evaluate("window.__sameDocument") is True

    child_id = done_child.first.get_attribute("data-candidate")
    assert child_id
    # Pinned by id: the live table re-renders as the other sample finishes, and
    # ``.first`` could then be another row by the time of the click.
    page.locator(f"#candidates-table tbody tr[data-candidate='{child_id}']").get_by_role(
        "button"
    ).click()
    panel = page.locator("#candidate-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_contain_text(child_id[:6])
    expect(panel.locator("pre.code").first).to_contain_text("def compute_reward")
    expect(panel.locator(".diff-add").first).to_be_visible()
    expect(panel.locator(".diff-del").first).to_be_visible()
    expect(panel.locator(".diff")).to_contain_text("effort_penalty")
    assert page.evaluate(
        "() => Chart.getChart(document.querySelector('#candidate-panel canvas'))"
        ".data.datasets.some(d => d.label.startsWith('fitness') && d.data.length > 0)"
    )
    _wait_for_video(page, "#candidate-panel video")
    assert _plays(page, "#candidate-panel video")
    assert page.evaluate("window.__sameDocument") is True


def test_feedback_and_continue_reach_the_next_prompt(browser: Browser, served: Served) -> None:
    llm = scripted_llm((0.05, 0.3), (0.1, 0.15))
    run = served.create_run(
        env_id=ENV_ID,
        task=WAITING_TASK,
        iterations=2,
        samples=2,
        timesteps=1000,
        final_seeds=1,
        feedback="wait",
        llm={"model": llm.model, "base_url": llm.base_url},
        options={"eval_episodes": 1, "n_envs": 1},
    )
    context = open_context(browser, served.base_url, token=True)
    errors = PageErrors()
    try:
        page = errors.watch(context.new_page())
        page.goto(f"/runs/{run['id']}")
        banner = page.locator("#feedback-banner")
        expect(banner).to_be_visible(timeout=RUN_SECONDS * 1000)
        expect(banner).to_contain_text("Iteration 0 is done")
        expect(page.locator("#compare-empty")).to_be_hidden()
        left = page.get_by_label("Left candidate", exact=True).input_value()
        right = page.get_by_label("Right candidate", exact=True).input_value()
        assert left and right and left != right
        _wait_for_video(page, "#video-left")
        _wait_for_video(page, "#video-right")

        page.get_by_role("button", name="Prefer right").click()
        expect(page.locator("#compare-status")).to_contain_text(f"you prefer #{right[:6]}")
        page.get_by_label("About").select_option(left)
        page.get_by_label("Note for the next prompt").fill(NOTE)
        page.get_by_role("button", name="Send note").click()
        expect(page.locator("#feedback-list")).to_contain_text(NOTE)
        expect(page.locator("#feedback-list")).to_contain_text(f"over #{left[:6]}")
        page.get_by_role("button", name="Continue the run").click()
        expect(banner).to_be_hidden(timeout=30_000)

        next_iteration = page.locator("#iteration-1")
        expect(next_iteration).to_be_attached(timeout=60_000)
        next_iteration.locator("summary").first.click()
        prompt = next_iteration.locator(".iteration-body")
        expect(prompt).to_contain_text(NOTE)
        expect(prompt).to_contain_text("They preferred the behaviour of iteration 0 candidate")
        expect(page.locator("#feedback-list")).to_contain_text("used in iteration 1's prompt")
        assert NOTE in json.dumps(llm.chat_requests[-1]["messages"])
    finally:
        served.api.post(f"/api/runs/{run['id']}/cancel")
        context.close()
        llm.stop()
    assert not errors.errors, f"JavaScript errors on the run page: {errors.errors}"


def _wait_until_finished(served: Served, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        run = served.run(run_id)
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish in {RUN_SECONDS} s: {run['status']}")


def test_finished_run_page_shows_the_final_test_at_laptop_and_phone_width(
    form_run: FormRun, browser: Browser, served: Served
) -> None:
    run = _wait_until_finished(served, form_run.run_id)
    assert run["status"] == "succeeded", run["error"]
    live = form_run.page
    expect(live.locator("#live-state")).to_have_text("finished", timeout=15_000)
    expect(live.locator("#final-section")).to_be_visible()
    expect(live.locator("#final-score")).not_to_have_text("–")
    assert live.evaluate(CHART_POINTS.format(5), "evolution-chart") == 2  # the human baseline

    for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        context = open_context(browser, served.base_url, token=True, viewport=viewport)
        errors = PageErrors()
        page = errors.watch(context.new_page())
        page.goto(f"/runs/{run['id']}#candidate-{run['best_candidate_id']}")
        expect(page.locator("#candidate-panel pre.code").first).to_be_visible()
        expect(page.locator("#final-score")).to_have_text(live.locator("#final-score").inner_text())
        _wait_for_video(page, "#candidate-panel video")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {name} screen"
        page.screenshot(path=save_artifact(f"run_page_{name}.png"), full_page=True)
        context.close()
        assert not errors.errors, f"JavaScript errors at {name} width: {errors.errors}"
