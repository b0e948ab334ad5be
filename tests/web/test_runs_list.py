"""The runs list on a real server without workers: search, sort by every column,
pages past fifty, normalised score and duration, a new run from an old one,
delete with confirmation, times in the browser's zone, laptop and phone widths.

Results a worker would write (fitness, score, cost, finished candidates) are
put into the server's database with the ORM, as the worker's store does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from app.db.models import Candidate, LLMCall, Run
from app.db.session import make_engine
from tests.fake_llm import FakeLLMServer
from tests.web.conftest import (
    ENV_ID,
    LAPTOP,
    PHONE,
    PageErrors,
    Served,
    open_context,
    running_server,
    save_artifact,
)

ROWS = ".runs-table tbody tr"
# Columns in which every SORT_CASES run has a value (an empty one sorts last both ways).
NO_BLANKS = {"Task", "Status", "Environment", "Progress", "LLM cost", "Duration", "Created"}
# Four runs, one value each per column, so every sort has one right order.
SORT_CASES = [
    # task, status, env, best fitness, normalised score, finished candidates, cost, hours
    ("sortcase alpha", "succeeded", "Pendulum-v1", 0.5, 0.2, 6, 0.30, 3),
    ("sortcase bravo", "failed", "CartPole-v1", 0.9, -0.1, 2, 0.10, 1),
    ("sortcase charlie", "cancelled", "MountainCarContinuous-v0", 0.1, 1.5, 4, 0.40, 2),
    ("sortcase delta", "queued", "Acrobot-v1", None, None, 0, 0.0, 0),
]


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """A server whose runs stay queued, and its database file."""
    folder = tmp_path_factory.mktemp("runs-list")
    with FakeLLMServer() as llm, running_server(folder, workers=0, llm=llm) as server:
        yield server, folder / "rewardforge.db"


@pytest.fixture
def page(browser: Browser, idle: tuple[Served, Path]) -> Iterator[Page]:
    context = open_context(browser, idle[0].base_url, token=True)
    errors = PageErrors()
    yield errors.watch(context.new_page())
    context.close()
    assert not errors.errors, f"JavaScript errors on the page: {errors.errors}"


@pytest.fixture(scope="module")
def sort_runs(idle: tuple[Served, Path]) -> list[str]:
    """The four SORT_CASES runs with their results, made an hour apart."""
    served, database = idle
    ids = [
        served.create_run(env_id=env, task=task, iterations=2, samples=2, final_seeds=1)["id"]
        for task, _, env, *_ in SORT_CASES
    ]
    engine = make_engine(f"sqlite:///{database}")
    start = datetime.now(UTC) - timedelta(days=1)
    with Session(engine) as session:
        for i, (run_id, case) in enumerate(zip(ids, SORT_CASES, strict=True)):
            _, status, _, best, score, finished, cost, hours = case
            run = session.get(Run, run_id)
            assert run is not None
            run.status, run.best_fitness, run.normalized_score = status, best, score
            run.created_at = start + timedelta(hours=i)
            run.updated_at = run.created_at + timedelta(hours=hours)
            for sample in range(finished):
                session.add(
                    Candidate(run_id=run_id, iteration_index=sample // 2, sample_index=sample % 2)
                )
            session.flush()
            for candidate in session.query(Candidate).filter_by(run_id=run_id):
                candidate.status = "done"
            if cost:
                session.add(LLMCall(run_id=run_id, request_hash=run_id, model="m", cost_usd=cost))
        session.commit()
    engine.dispose()
    return ids


def _tasks(page: Page) -> list[str]:
    return page.locator(f"{ROWS} td:first-child > a").all_inner_texts()


def test_search_finds_runs_by_words_of_their_task(idle: tuple[Served, Path], page: Page) -> None:
    served, _ = idle
    served.create_run(env_id=ENV_ID, task="Swing the pendulum UP and hold it")
    served.create_run(env_id=ENV_ID, task="spin the pendulum as fast as it goes")
    page.goto("/")
    page.get_by_label("Search tasks").fill("pendulum up")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(ROWS).first).to_contain_text("Swing the pendulum UP and hold it")
    assert "q=pendulum+up" in page.url
    page.get_by_label("Search tasks").fill("no run has these words")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No run matches these filters.")).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    expect(page.locator(ROWS).filter(has_text="spin the pendulum")).to_have_count(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Task", ["alpha", "bravo", "charlie", "delta"]),
        ("Status", ["charlie", "bravo", "delta", "alpha"]),  # cancelled, failed, queued, ...
        ("Environment", ["delta", "bravo", "charlie", "alpha"]),
        ("Best fitness", ["bravo", "alpha", "charlie", "delta"]),  # no value goes last
        ("Normalised score", ["charlie", "alpha", "bravo", "delta"]),
        ("Progress", ["alpha", "charlie", "bravo", "delta"]),
        ("LLM cost", ["charlie", "alpha", "bravo", "delta"]),
        ("Duration", ["delta", "alpha", "charlie", "bravo"]),  # delta is queued: a day so far
        ("Created", ["delta", "charlie", "bravo", "alpha"]),
    ],
)
def test_every_column_sorts_one_way_then_the_other(
    sort_runs: list[str], page: Page, header: str, expected: list[str]
) -> None:
    page.goto("/?q=sortcase")
    if header != "Created":  # the list starts newest first
        page.locator("thead").get_by_role("link", name=header).click()
    th = page.locator("thead th", has=page.get_by_role("link", name=header))
    expect(th).to_have_attribute("aria-sort", re.compile("ascending|descending"))
    first = [t.removeprefix("sortcase ") for t in _tasks(page)]
    assert first == expected
    page.locator("thead").get_by_role("link", name=header).click()
    expect(th).to_have_attribute("aria-sort", re.compile("ascending|descending"))
    second = [t.removeprefix("sortcase ") for t in _tasks(page)]
    with_values = [name for name in expected if name != "delta" or header in NO_BLANKS]
    assert [name for name in second if name in with_values] == with_values[::-1]
    assert "q=sortcase" in page.url  # sorting keeps the search


def test_normalised_score_and_duration_columns(sort_runs: list[str], page: Page) -> None:
    page.goto("/?q=sortcase&sort=task&order=asc")
    alpha = page.locator(ROWS).filter(has_text="sortcase alpha")
    expect(alpha.locator('td[data-label="Normalised score"]')).to_have_text("0.2")
    expect(alpha.locator('td[data-label="Duration"]')).to_have_text("3 h 00 min")
    delta = page.locator(ROWS).filter(has_text="sortcase delta")
    expect(delta.locator('td[data-label="Normalised score"]')).to_have_text("–")
    expect(delta.locator('td[data-label="Duration"]')).to_contain_text("so far")


def test_pages_go_past_the_first_fifty(idle: tuple[Served, Path], page: Page) -> None:
    served, _ = idle
    for i in range(55):
        served.create_run(env_id=ENV_ID, task=f"paging check {i:02d}")
    page.goto("/?q=paging+check&sort=task&order=asc")
    expect(page.locator(ROWS)).to_have_count(50)
    expect(page.get_by_text("55 runs, 1–50 shown")).to_be_visible()
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="Next →").click()
    expect(page.locator(ROWS)).to_have_count(5)
    assert _tasks(page) == [f"paging check {i}" for i in range(50, 55)]
    assert "page=2" in page.url and "sort=task" in page.url
    page.get_by_role("link", name="← Previous").click()
    expect(page.locator(ROWS).first).to_contain_text("paging check 00")
    page.goto("/?q=paging+check&page=9")
    expect(page.get_by_text("There is no page 9")).to_be_visible()


def test_new_run_from_this_one_starts_with_its_options(
    idle: tuple[Served, Path], page: Page
) -> None:
    served, _ = idle
    source = served.create_run(
        env_id="MountainCarContinuous-v0",
        task="reach the flag using little fuel",
        iterations=2,
        samples=3,
        timesteps=5000,
        final_seeds=1,
        seed=7,
        feedback="wait",
        feedback_timeout_s=120,
        llm={"temperature": 0.5},
        options={"algorithm": "SAC", "eval_episodes": 2, "n_envs": 2},
    )
    page.goto(f"/?q={source['id']}")
    page.get_by_role("link", name=f"New run from run {source['id']}").click()
    expect(page).to_have_url(re.compile(rf"/runs/new\?from={source['id']}$"))
    expect(page.locator("#prefill-notice")).to_contain_text(source["id"])
    expect(page.get_by_label("Environment")).to_have_value("MountainCarContinuous-v0")
    expect(page.get_by_label("What should the agent do?")).to_have_value(source["task"])
    expect(page.get_by_label("Iterations")).to_have_value("2")
    expect(page.get_by_label("Candidates per iteration")).to_have_value("3")
    expect(page.get_by_label("Timesteps per candidate")).to_have_value("5000")
    expect(page.get_by_label("Temperature")).to_have_value("0.5")
    expect(page.get_by_label("wait for my feedback")).to_be_checked()
    expect(page.get_by_label("Algorithm")).to_have_value("SAC")
    expect(page.get_by_label("Evaluation episodes")).to_have_value("2")
    expect(page.get_by_label("Seed", exact=True)).to_have_value("7")
    page.get_by_label("What should the agent do?").fill("reach the flag, second try")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/(?!new)[A-Za-z0-9_-]+$"))
    copy = served.run(page.url.rsplit("/", 1)[1])
    for name in ("env_id", "fitness_metric", "iterations", "samples", "timesteps", "seed"):
        assert copy[name] == source[name], name
    assert copy["feedback_mode"] == "wait" and copy["feedback_timeout_s"] == 120
    assert copy["options"]["algorithm"] == "SAC" and copy["options"]["eval_episodes"] == 2
    assert copy["llm"]["temperature"] == 0.5
    assert copy["task"] == "reach the flag, second try"


def test_delete_asks_first_and_keeping_the_run_keeps_it(
    idle: tuple[Served, Path], page: Page
) -> None:
    served, _ = idle
    run = served.create_run(env_id=ENV_ID, task="a run to delete")
    page.goto(f"/?q={run['id']}")
    row = page.locator(ROWS).filter(has_text="a run to delete")
    row.get_by_role("button", name=f"Delete run {run['id']}").click()
    dialog = page.get_by_role("dialog", name="Delete this run?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(run["id"])
    expect(dialog).to_contain_text("a run to delete")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    assert served.api.get(f"/api/runs/{run['id']}").status_code == 200

    row.get_by_role("button", name=f"Delete run {run['id']}").click()
    page.keyboard.press("Escape")  # Escape keeps it too
    expect(dialog).to_be_hidden()
    row.get_by_role("button", name=f"Delete run {run['id']}").click()
    dialog.get_by_role("button", name="Delete run").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#list-status")).to_have_text(f"Deleted run {run['id']}.")
    expect(row).to_have_count(0)
    assert served.api.get(f"/api/runs/{run['id']}").status_code == 404


def test_delete_without_a_token_says_why_and_keeps_the_run(
    browser: Browser, idle: tuple[Served, Path]
) -> None:
    served, _ = idle
    run = served.create_run(env_id=ENV_ID, task="a run nobody may delete")
    context = open_context(browser, served.base_url, token=False)
    page = context.new_page()
    page.goto(f"/?q={run['id']}")
    page.get_by_role("button", name=f"Delete run {run['id']}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete run").click()
    expect(page.locator("#delete-error")).to_contain_text("API token")
    expect(page.get_by_role("dialog")).to_be_visible()
    context.close()
    assert served.api.get(f"/api/runs/{run['id']}").status_code == 200


def test_times_are_shown_in_the_browsers_time_zone(
    browser: Browser, idle: tuple[Served, Path]
) -> None:
    served, _ = idle
    run = served.create_run(env_id=ENV_ID, task="a run seen from Kolkata")
    created = datetime.fromisoformat(run["created_at"])
    local = created + timedelta(hours=5, minutes=30)  # Asia/Kolkata: UTC+5:30, no DST
    context = browser.new_context(
        base_url=served.base_url, viewport=LAPTOP, timezone_id="Asia/Kolkata", locale="en-GB"
    )
    page = context.new_page()
    page.goto(f"/?q={run['id']}")
    cell = page.locator(ROWS).first.locator("time")
    expect(cell).to_contain_text(f"{local:%H:%M}")
    expect(cell).to_contain_text(f"{local.day} {local:%b}")
    expect(cell).to_have_attribute("title", f"{created:%Y-%m-%d %H:%M} UTC")
    page.wait_for_timeout(5_500)  # one refresh of the list: the local time stays
    expect(cell).to_contain_text(f"{local:%H:%M}")
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_runs_list_at_laptop_and_phone_width(
    browser: Browser, idle: tuple[Served, Path], sort_runs: list[str], scheme: str
) -> None:
    served, _ = idle
    for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        context = browser.new_context(
            base_url=served.base_url, viewport=viewport, color_scheme=scheme
        )
        page = context.new_page()
        page.goto("/?q=sortcase&sort=normalized_score")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: {overflow}px wider than the screen"
        # Every column is in view, none behind the table's scroll bar.
        hidden = page.evaluate(
            "(e => e.scrollWidth - e.clientWidth)(document.querySelector('.table-wrap'))"
        )
        assert hidden <= 0, f"{name}: {hidden}px of the table are scrolled out of view"
        page.screenshot(path=save_artifact(f"runs-list-{name}-{scheme}.png"), full_page=True)
        context.close()
