"""A trained candidate on the run page: its statistics download as CSV and JSON,
Escape closes its panel, and the page follows the system's dark setting.

One real run (Pendulum-v1, one candidate of 1000 timesteps, no final test) on
the session's server with workers.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest
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

RUN_SECONDS = 300


@pytest.fixture(scope="module")
def trained(served: Served) -> dict:
    """A finished run with one trained candidate: (run, candidate)."""
    run = served.create_run(
        env_id=ENV_ID,
        task="hold the pendulum upright, gently",
        iterations=1,
        samples=1,
        timesteps=1000,
        final_seeds=0,
        options={"n_envs": 1, "eval_episodes": 1},
    )
    deadline = time.monotonic() + RUN_SECONDS
    while served.run(run["id"])["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, "the run did not finish in time"
        time.sleep(1)
    candidates = served.api.get(f"/api/runs/{run['id']}/candidates").json()["items"]
    done = [c for c in candidates if c["status"] == "done"]
    assert done, (served.run(run["id"])["error"], candidates)
    return {"run": served.run(run["id"]), "candidate": done[0]}


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = open_context(browser, served.base_url, token=True)
    errors = PageErrors()
    yield errors.watch(context.new_page())
    context.close()
    assert not errors.errors, f"JavaScript errors on the page: {errors.errors}"


def _open_panel(page: Page, trained: dict) -> None:
    page.goto(f"/runs/{trained['run']['id']}")
    candidate = trained["candidate"]["id"]
    page.get_by_role("button", name=f"Open candidate {candidate}").click()
    expect(page.locator("#candidate-panel")).to_be_visible()


def test_candidate_statistics_download_as_csv_and_json(
    served: Served, trained: dict, page: Page
) -> None:
    _open_panel(page, trained)
    candidate = trained["candidate"]["id"]
    panel = page.locator("#candidate-panel")
    with page.expect_download() as download:
        panel.get_by_role("link", name=f"statistics of candidate {candidate} as CSV").click()
    assert download.value.suggested_filename == f"stats_{candidate}.csv"
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    stats = served.api.get(f"/api/candidates/{candidate}").json()["stats"]
    assert len(rows) == len(stats["checkpoints"]) > 0
    assert [int(r["steps"]) for r in rows] == [c["steps"] for c in stats["checkpoints"]]
    assert {r["candidate_id"] for r in rows} == {candidate}
    last = stats["checkpoints"][-1]
    assert float(rows[-1]["reward_mean"]) == pytest.approx(last["reward"]["mean"])
    for name in stats["component_names"]:
        assert f"component_{name}_mean" in rows[0]

    with page.expect_download() as download:
        panel.get_by_role("link", name=f"statistics of candidate {candidate} as JSON").click()
    assert download.value.suggested_filename == f"stats_{candidate}.json"
    document = served.api.get(f"/api/candidates/{candidate}/stats.json").json()
    assert document["candidate"]["id"] == candidate
    assert document["stats"] == stats and document["evaluation"]["fitness"] is not None

    run_csv = served.api.get(f"/api/runs/{trained['run']['id']}/stats.csv")
    assert run_csv.headers["content-type"].startswith("text/csv")
    assert len(run_csv.text.strip().splitlines()) == 1 + len(rows)
    assert served.api.get("/api/candidates/nosuchcandidate/stats.csv").status_code == 404


def test_escape_closes_the_candidate_panel_and_returns_focus(trained: dict, page: Page) -> None:
    _open_panel(page, trained)
    candidate = trained["candidate"]["id"]
    assert page.url.endswith(f"#candidate-{candidate}")
    page.keyboard.press("Escape")
    expect(page.locator("#candidate-panel")).to_be_hidden()
    expect(page.get_by_role("button", name=f"Open candidate {candidate}")).to_be_focused()
    assert "#candidate-" not in page.url
    expect(page.locator(f'tr[data-candidate="{candidate}"]')).not_to_have_class("selected")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_pages_follow_the_system_dark_setting(
    browser: Browser, served: Served, trained: dict, viewport: dict[str, int]
) -> None:
    name = "laptop" if viewport == LAPTOP else "phone"
    for scheme in ("light", "dark"):
        context = browser.new_context(
            base_url=served.base_url, viewport=viewport, color_scheme=scheme
        )
        errors = PageErrors()
        page = errors.watch(context.new_page())
        for path in ("/", "/runs/new", "/envs", f"/runs/{trained['run']['id']}"):
            page.goto(path)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            text = page.evaluate("getComputedStyle(document.body).color")
            assert (
                _luminance(background) < 0.1 if scheme == "dark" else _luminance(background) > 0.8
            )
            assert _contrast(text, background) >= 7, (path, text, background)
        _open_panel(page, trained)
        code = page.locator("#candidate-panel pre.code code")
        code_background = code.evaluate("e => getComputedStyle(e).backgroundColor")
        assert (_luminance(code_background) < 0.1) == (scheme == "dark")
        page.screenshot(path=save_artifact(f"run-page-{name}-{scheme}.png"), full_page=True)
        context.close()
        assert not errors.errors, errors.errors


def _rgb(color: str) -> tuple[float, ...]:
    parts = color[color.index("(") + 1 : color.index(")")].split(",")
    return tuple(float(p) / 255 for p in parts[:3])


def _luminance(color: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
