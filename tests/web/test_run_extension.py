"""A finished run's page offers "Run K more iterations"; the click queues the run again
with them (on a server without workers, so the run stays queued)."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.db.repository import set_run_status
from app.db.session import make_engine
from tests.web.conftest import ENV_ID, Served


def _finish(served: Served, run_id: str) -> None:
    """What the worker's store does at the end of a run, in the server's database."""
    engine = make_engine(f"sqlite:///{served.log.with_name('rewardforge.db')}")
    with Session(engine) as session:
        set_run_status(session, run_id=run_id, status="succeeded")
        session.commit()
    engine.dispose()


def test_a_finished_run_is_given_more_iterations_from_its_page(
    idle: Served, idle_page: Page
) -> None:
    run = idle.create_run(env_id=ENV_ID, task="swing up, then search on", iterations=1)
    idle_page.goto(f"/runs/{run['id']}")
    expect(idle_page.locator("#extend-form")).to_be_hidden()  # queued: nothing to extend
    _finish(idle, run["id"])
    idle_page.reload()

    form = idle_page.locator("#extend-form")
    expect(form).to_be_visible()
    idle_page.get_by_label("More iterations").fill("2")
    idle_page.get_by_role("button", name="Run 2 more iterations").click()
    expect(idle_page.locator("#action-status")).to_contain_text(
        "Queued again with 2 more iterations"
    )
    stored = idle.run(run["id"])
    assert (stored["status"], stored["iterations"]) == ("queued", 3)
    expect(form).to_be_hidden()
    expect(idle_page.locator("#iterations-text")).to_have_text("0/3")
