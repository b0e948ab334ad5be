"""The feedback controls of a run that waits: a countdown to the automatic
continue, tie and both-bad judgements stored as such, confirmations beside the
button that was used, both rollouts played in step, and left beside right on a
phone. One real run (Pendulum-v1, tiny budget) that waits after iteration 0.
"""

from __future__ import annotations

import re

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
TIMEOUT_S = 900  # the run continues by itself after 15 minutes of silence
VIDEO_READY = (
    "s => { const v = document.querySelector(s); return !!v && v.readyState >= 2 && !v.error; }"
)


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not laid out"
    return box


def _gap(page: Page, status: str, control: str) -> float:
    """Vertical distance in px between a confirmation and the control it confirms."""
    a, b = _box(page, status), _box(page, control)
    return max(0.0, a["y"] - (b["y"] + b["height"]), b["y"] - (a["y"] + a["height"]))


def _both_play_in_step(page: Page) -> None:
    page.get_by_role("button", name="Play both in sync").click()
    expect(page.get_by_role("button", name="Pause both")).to_be_visible()
    page.wait_for_function(
        "() => ['left', 'right'].every(s => { const v = document.getElementById('video-' + s);"
        " return !v.paused && v.currentTime > 0.3; })",
        timeout=10_000,
    )
    times = page.evaluate(
        "() => ['left', 'right'].map(s => document.getElementById('video-' + s).currentTime)"
    )
    assert abs(times[0] - times[1]) < 0.3, f"the videos play out of step: {times}"
    page.get_by_role("button", name="Pause both").click()
    assert page.evaluate(
        "() => ['left', 'right'].every(s => document.getElementById('video-' + s).paused)"
    )


def test_waiting_run_counts_down_and_takes_ties_and_both_bad(
    browser: Browser, served: Served
) -> None:
    llm = scripted_llm((0.05, 0.4), (0.1, 0.25))
    run = served.create_run(
        env_id=ENV_ID,
        task="swing the pendulum up and balance it without wobbling",
        iterations=2,
        samples=2,
        timesteps=1000,
        final_seeds=1,
        feedback="wait",
        feedback_timeout_s=TIMEOUT_S,
        llm={"model": llm.model, "base_url": llm.base_url},
        options={"eval_episodes": 1, "n_envs": 1},
    )
    url = f"/runs/{run['id']}"
    errors = PageErrors()
    laptop = open_context(browser, served.base_url, token=True, viewport=LAPTOP)
    phone = open_context(browser, served.base_url, token=True, viewport=PHONE)
    try:
        page = errors.watch(laptop.new_page())
        page.goto(url)
        expect(page.locator("#feedback-banner")).to_be_visible(timeout=RUN_SECONDS * 1000)
        countdown = page.locator("#feedback-countdown")
        expect(countdown).to_have_text(re.compile(r"Continues by itself in 1[45]:\d\d"))
        first = countdown.inner_text()
        page.wait_for_timeout(1500)
        assert countdown.inner_text() != first, "the countdown does not move"
        for side in ("left", "right"):
            page.wait_for_function(VIDEO_READY, arg=f"#video-{side}", timeout=30_000)
        left = page.locator("#compare-left").input_value()
        right = page.locator("#compare-right").input_value()

        _both_play_in_step(page)

        page.get_by_role("button", name="Tie").click()
        status = page.locator("#compare-status")
        expect(status).to_contain_text(f"#{left[:6]} and #{right[:6]} are equally good")
        assert _gap(page, "#compare-status", "#judge-row") < 40
        page.get_by_role("button", name="Both bad").click()
        expect(status).to_contain_text("are both bad")
        expect(page.locator("#feedback-list")).to_contain_text("tie: ")
        expect(page.locator("#feedback-list")).to_contain_text("both bad: ")
        stored = served.api.get(f"/api/runs/{run['id']}/feedback").json()["items"]
        assert [(f["kind"], f["candidate_id"], f["other_candidate_id"]) for f in stored] == [
            ("tie", left, right),
            ("both_bad", left, right),
        ]

        page.get_by_label("Note for the next prompt").fill("less wobble at the top")
        page.get_by_role("button", name="Send note").click()
        expect(page.locator("#note-status")).to_contain_text("Saved your note")
        assert _gap(page, "#note-status", "#note-form button[type=submit]") < 5
        page.locator("#feedback-section").screenshot(path=save_artifact("feedback_laptop.png"))

        small = errors.watch(phone.new_page())
        small.goto(url)
        for side in ("left", "right"):
            small.wait_for_function(VIDEO_READY, arg=f"#video-{side}", timeout=30_000)
        a, b = _box(small, "#video-left"), _box(small, "#video-right")
        assert abs(a["y"] - b["y"]) < 2 and a["x"] + a["width"] <= b["x"], (a, b)
        overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone"
        expect(small.locator("#feedback-countdown")).to_be_visible()
        small.locator("#feedback-banner").scroll_into_view_if_needed()
        small.screenshot(path=save_artifact("feedback_banner_phone.png"))
        small.locator("#compare").screenshot(path=save_artifact("feedback_phone.png"))

        page.get_by_role("button", name="Continue the run").click()
        expect(page.locator("#continue-status")).to_contain_text("Continuing")
        expect(page.locator("#feedback-banner")).to_be_hidden(timeout=30_000)
        expect(countdown).to_be_hidden()
    finally:
        served.api.post(f"/api/runs/{run['id']}/cancel")
        laptop.close()
        phone.close()
        llm.stop()
    assert not errors.errors, f"JavaScript errors on the run page: {errors.errors}"
