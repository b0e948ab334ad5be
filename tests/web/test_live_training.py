"""The run page while candidates train and after: a progress bar and an ETA that
move during training, curves that appear before training ends, a cancel that
leaves no stale notice or "pending" rows, candidates stopped by successive
halving drawn as partial results, and a headline that says which fitness it shows.

Real runs on the shared server (Pendulum-v1): one long enough to watch and cancel,
one tiny with halving and a one-seed final test.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import (
    ENV_ID,
    LAPTOP,
    PHONE,
    PageErrors,
    Served,
    open_context,
    save_artifact,
)

RUN_SECONDS = 600  # a loaded 2-core machine, other tests training beside it
LONG_BUDGET = 40_000  # a minute or so of training on a loaded 2-core machine
MID_TRAINING = """() => [...document.querySelectorAll('#candidates-table progress')]
    .some(p => p.value > 0 && p.value < p.max)"""
CHART_POINTS = (
    "i => Chart.getChart(document.getElementById('evolution-chart')).data.datasets[i].data.length"
)


def _screenshots(
    browser: Browser, served: Served, path: str, name: str, *, eta: re.Pattern[str] | None = None
) -> None:
    for width, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        context = open_context(browser, served.base_url, token=True, viewport=viewport)
        errors = PageErrors()
        page = errors.watch(context.new_page())
        page.goto(path)
        expect(page.locator("#candidates-empty")).to_be_hidden()
        if eta is not None:  # a fresh page estimates once it has seen the steps move
            expect(page.locator("#eta-text")).to_have_text(eta, timeout=30_000)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {width} screen"
        page.screenshot(path=save_artifact(f"{name}_{width}.png"), full_page=True)
        context.close()
        assert not errors.errors, f"JavaScript errors at {width} width: {errors.errors}"


def _finished(served: Served, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_SECONDS
    while (run := served.run(run_id))["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"run {run_id} did not finish: {run['status']}"
        time.sleep(1)
    return run


def test_training_shows_progress_and_a_cancel_leaves_no_stale_state(
    browser: Browser, served: Served
) -> None:
    run = served.create_run(
        env_id=ENV_ID,
        task="swing the pendulum up and hold it, watched while it trains",
        iterations=1,
        samples=2,
        timesteps=LONG_BUDGET,
        final_seeds=0,
        options={"n_envs": 1, "eval_episodes": 1, "video": False, "halving": False},
    )
    context = open_context(browser, served.base_url, token=True)
    errors = PageErrors()
    page: Page = errors.watch(context.new_page())
    try:
        page.goto(f"/runs/{run['id']}")
        page.wait_for_function(MID_TRAINING, timeout=RUN_SECONDS * 1000)
        items = served.api.get(f"/api/runs/{run['id']}/candidates").json()["items"]
        assert any(c["status"] == "training" and 0 < c["env_steps"] < LONG_BUDGET for c in items)
        expect(page.locator("#best-label")).to_have_text("Search fitness (1 seed)")
        eta = re.compile(r"^about (\d+ min )?\d+ s left in iteration 0$")
        expect(page.locator("#eta-text")).to_have_text(eta, timeout=30_000)
        first = page.locator("#candidates-table progress").first
        before = first.evaluate("p => p.value")
        page.wait_for_function(
            f"() => document.querySelector('#candidates-table progress')?.value > {before}"
        )
        # The open candidate's curves appear at its first checkpoint, before it finishes.
        row = page.locator('#candidates-table tr[data-status="training"]').first
        row.locator("button").click()
        expect(page.locator("#candidate-panel canvas")).to_be_visible(timeout=60_000)
        assert "training" in page.locator("#candidate-panel .facts").inner_text()
        _screenshots(browser, served, f"/runs/{run['id']}", "live_training", eta=eta)

        page.get_by_role("button", name="Cancel run").click()
        status = page.locator("#action-status")
        expect(status).to_contain_text("Cancel requested")
        expect(status).to_have_text("The run was cancelled.", timeout=60_000)
        rows = page.locator("#candidates-table tbody tr")
        expect(rows).to_have_count(2)
        for state in rows.evaluate_all("rs => rs.map(r => r.dataset.status)"):
            assert state in ("cancelled", "done"), state
        expect(page.locator("#candidates-table")).not_to_contain_text("pending")
        expect(page.locator("#candidates-empty")).to_be_hidden()
        expect(page.locator("#resume-run")).to_be_visible()
    finally:
        context.close()
    assert not errors.errors, f"JavaScript errors on the run page: {errors.errors}"


def test_halving_results_are_partial_and_the_headline_is_the_final_mean(
    browser: Browser, served: Served
) -> None:
    run = served.create_run(
        env_id=ENV_ID,
        task="swing the pendulum up; halve the field early",
        iterations=1,
        samples=2,
        timesteps=2000,
        final_seeds=1,
        # No top-k reselection: the final test retrains the search's best directly.
        options={
            "n_envs": 1,
            "eval_episodes": 1,
            "video": False,
            "halving": True,
            "final_top_k": 1,
        },
    )
    run = _finished(served, run["id"])
    assert run["status"] == "succeeded", run["error"]
    context = open_context(browser, served.base_url, token=True)
    errors = PageErrors()
    page = errors.watch(context.new_page())
    try:
        page.goto(f"/runs/{run['id']}")
        stopped = page.locator('#candidates-table tr[data-status="stopped"]')
        expect(stopped).to_have_count(1)
        expect(stopped).to_contain_text("stopped at 25%")
        expect(stopped.locator(".error-kind")).to_have_count(0)  # partial, not an error
        assert page.evaluate(CHART_POINTS, 0) == 1  # the one trained to the full budget
        assert page.evaluate(CHART_POINTS, 1) == 1  # hollow: the stopped one
        assert page.evaluate(CHART_POINTS, 2) == 1  # best so far: iteration 0 only
        assert page.evaluate(CHART_POINTS, 3) == 1  # the final test's seed
        expect(page.locator("#best-label")).to_have_text("Final fitness")
        expect(page.locator("#best-fitness")).to_contain_text("(1 seed)")
        expect(page.locator("#baseline-fitness")).to_contain_text("(1 seed)")
        train = stopped.locator('td[data-label="Train s"]').inner_text()
        assert train not in ("", "–")
    finally:
        context.close()
    assert not errors.errors, f"JavaScript errors on the run page: {errors.errors}"
    _screenshots(browser, served, f"/runs/{run['id']}", "halving_final")
