"""The compare page with real runs: candidates of two runs on one env, their
curves overlaid in distinct colours with a series choice, log scale, smoothing
and drag-to-zoom, and their code diffed with formatting ignored; at laptop and
phone width. Two tiny Pendulum runs that pause after iteration 0.
"""

from __future__ import annotations

import time
import zipfile

from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import (
    ENV_ID,
    LAPTOP,
    PHONE,
    PageErrors,
    Served,
    open_context,
    save_artifact,
    scripted_llm,
)

RUN_SECONDS = 300
DATASETS = "() => Chart.getChart(document.getElementById('compare-chart')).data.datasets"
SCALES = "() => { const c = Chart.getChart(document.getElementById('compare-chart'));"


def _trained(served: Served, run_id: str) -> list[dict]:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        items = served.api.get(f"/api/runs/{run_id}/candidates").json()["items"]
        done = [c for c in items if c["status"] == "done"]
        if len(done) >= 2:
            return done
        time.sleep(1)
    raise AssertionError(f"run {run_id} trained fewer than 2 candidates in {RUN_SECONDS} s")


def _drag_zoom(page: Page) -> None:
    box = page.locator("#compare-chart").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * 0.4
    page.mouse.move(box["x"] + box["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=5)
    page.mouse.up()


def test_compare_overlays_curves_and_diffs_code_across_runs(
    browser: Browser, served: Served
) -> None:
    llms = [scripted_llm((0.05, 0.5), (0.1,)), scripted_llm((0.3, 0.7), (0.1,))]
    runs = [
        served.create_run(
            env_id=ENV_ID,
            task=task,
            iterations=2,
            samples=2,
            timesteps=1000,
            final_seeds=1,
            feedback="wait",
            llm={"model": llm.model, "base_url": llm.base_url},
            options={"eval_episodes": 1, "n_envs": 1},
        )
        for llm, task in zip(
            llms, ("swing up and stay there, compared", "swing up fast, compared"), strict=True
        )
    ]
    errors = PageErrors()
    laptop = open_context(browser, served.base_url, token=True, viewport=LAPTOP)
    phone = open_context(browser, served.base_url, token=True, viewport=PHONE)
    try:
        first_run, second_run = (r["id"] for r in runs)
        _trained(served, first_run)
        other = _trained(served, second_run)[0]

        page = errors.watch(laptop.new_page())
        page.goto(f"/runs/{first_run}")
        page.get_by_role("link", name="Compare candidates").click()
        expect(page.locator("#chosen li")).to_have_count(2)
        page.wait_for_function(f"() => ({DATASETS})().filter(d => d.data.length).length === 2")
        colours = page.evaluate(f"() => ({DATASETS})().map(d => d.borderColor)")
        assert len(set(colours)) == 2

        series = page.get_by_label("Show")
        component = [o for o in series.locator("option").all_text_contents() if "component" in o]
        assert component, "no reward component to show"
        series.select_option(label=component[0])
        raw = page.evaluate(f"() => ({DATASETS})()[0].data.map(p => p.y)")
        page.get_by_label("Smoothing (EMA)").fill("0.8")
        expect(page.locator("#curve-smooth-value")).to_have_text("0.80")
        smoothed = page.evaluate(f"() => ({DATASETS})()[0].data.map(p => p.y)")
        assert len(smoothed) == len(raw) and smoothed != raw and smoothed[0] == raw[0]
        page.get_by_label("Smoothing (EMA)").fill("0")

        series.select_option("fitness")
        page.get_by_label("log scale").check()
        assert page.evaluate(f"{SCALES} return c.options.scales.y.type; }}") == "logarithmic"
        page.get_by_label("log scale").uncheck()

        _drag_zoom(page)
        expect(page.get_by_role("button", name="Reset zoom")).to_be_enabled()
        low, high = page.evaluate(f"{SCALES} return [c.scales.x.min, c.scales.x.max]; }}")
        assert 0 < low < high < 1000, (low, high)
        expect(page.get_by_label("From step")).to_have_value(str(round(low)))
        page.get_by_role("button", name="Reset zoom").click()
        assert page.evaluate(f"{SCALES} return c.options.scales.x.min; }}") is None
        expect(page.get_by_label("From step")).to_have_value("")
        page.get_by_label("From step").fill("300")
        page.get_by_label("From step").press("Tab")
        page.get_by_label("To step").fill("700")
        page.get_by_label("To step").press("Tab")
        assert page.evaluate(f"{SCALES} return [c.scales.x.min, c.scales.x.max]; }}") == [300, 700]
        page.get_by_role("button", name="Reset zoom").click()

        page.get_by_label("Run", exact=True).select_option(second_run)
        page.get_by_label("Candidate", exact=True).select_option(other["id"])
        page.get_by_role("button", name="Add to the comparison").click()
        expect(page.locator("#pick-status")).to_contain_text("3 candidates compared")
        expect(page.locator("#chosen li")).to_have_count(3)
        expect(page.locator("#code-diffs h3")).to_have_count(2)
        expect(page.locator("#code-diffs .diff-add").first).to_be_visible()
        page.wait_for_function(f"() => ({DATASETS})().filter(d => d.data.length).length === 3")
        assert len(set(page.evaluate(f"() => ({DATASETS})().map(d => d.borderColor)"))) == 3
        assert page.url.count("candidate=") == 3
        compare_url = page.url
        page.screenshot(path=save_artifact("compare_laptop.png"), full_page=True)

        # The sandbox wrote TensorBoard event files; the candidate panel links the zip.
        page.goto(f"/runs/{second_run}#candidate-{other['id']}")
        link = page.get_by_role("link", name=f"TensorBoard event files of {other['id']}")
        expect(link).to_be_visible()
        with page.expect_download() as download:
            link.click()
        with zipfile.ZipFile(download.value.path()) as archive:
            names = archive.namelist()
        assert names and all(".tfevents." in n for n in names), names

        small = errors.watch(phone.new_page())
        small.goto(compare_url)
        expect(small.locator("#chosen li")).to_have_count(3)
        expect(small.locator("#code-diffs h3")).to_have_count(2)
        overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the compare page is {overflow}px wider than a phone"
        small.screenshot(path=save_artifact("compare_phone.png"), full_page=True)
    finally:
        for run in runs:
            served.api.post(f"/api/runs/{run['id']}/cancel")
        laptop.close()
        phone.close()
        for llm in llms:
            llm.stop()
    assert not errors.errors, f"JavaScript errors on the compare page: {errors.errors}"
