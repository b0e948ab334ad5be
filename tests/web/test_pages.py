"""The server-rendered pages on a server without workers (runs stay queued):
runs list and its filters, env catalog, 404, labels, nothing from outside, phone width."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from envs import list_cards
from tests.web.conftest import (
    ENV_ID,
    PHONE,
    Served,
    open_context,
)

PAGES = ["/", "/runs/new", "/envs"]
# Every form control needs a label and every button a name a screen reader can say.
UNLABELLED = """() => {
    const named = el => (el.labels && el.labels.length) || el.getAttribute('aria-label')
        || el.getAttribute('aria-labelledby');
    const controls = [...document.querySelectorAll('input, select, textarea, video, canvas')]
        .filter(el => el.type !== 'hidden' && !named(el));
    const buttons = [...document.querySelectorAll('button, a.button')]
        .filter(el => !el.textContent.trim() && !el.getAttribute('aria-label'));
    return [...controls, ...buttons].map(el => el.outerHTML.slice(0, 120));
}"""


def test_runs_list_shows_runs_and_filters_by_status_and_env(idle: Served, idle_page: Page) -> None:
    pendulum = idle.create_run(env_id=ENV_ID, task="swing up and balance", final_seeds=1)
    car = idle.create_run(env_id="MountainCarContinuous-v0", task="reach the flag", samples=2)
    idle.api.post(f"/api/runs/{car['id']}/cancel").raise_for_status()

    page = idle_page
    page.goto("/")
    rows = page.locator(".runs-table tbody tr")
    expect(rows.filter(has_text="swing up and balance")).to_contain_text("queued")
    # 5 x 4 searched, then (3 top-k retrainings + 3 final sources) x 1 seed
    expect(rows.filter(has_text="swing up and balance")).to_contain_text("0/26 trainings")
    expect(rows.filter(has_text="reach the flag")).to_contain_text("cancelled")

    page.get_by_label("Status").select_option("cancelled")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("reach the flag")

    page.get_by_label("Status").select_option("")
    page.get_by_label("Environment").select_option(ENV_ID)
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="swing up and balance").click()
    expect(page).to_have_url(f"{idle.base_url}/runs/{pendulum['id']}")
    expect(page.locator("#run-status")).to_contain_text("queued")

    page.goto("/")
    expect(rows.filter(has_text="swing up and balance")).to_contain_text("queued")
    page.evaluate("window.__sameDocument = true")
    idle.api.post(f"/api/runs/{pendulum['id']}/cancel").raise_for_status()
    expect(rows.filter(has_text="swing up and balance")).to_contain_text(
        "cancelled", timeout=10_000
    )
    assert page.evaluate("window.__sameDocument") is True

    page.goto("/?status=sleeping")
    expect(page.get_by_role("status")).to_contain_text("There is no run status 'sleeping'")
    expect(rows).to_have_count(2)
    page.goto("/?env=not%20an%20env")
    expect(page.get_by_role("status")).to_contain_text("is not an environment id")


def test_env_catalog_lists_every_env_and_starts_a_run_on_one(idle_page: Page) -> None:
    page = idle_page
    page.goto("/envs")
    expect(page.locator(".cards .env-card")).to_have_count(len(list_cards()))
    page.get_by_role("link", name=f"Start a run on {ENV_ID}").click()
    expect(page.get_by_label("Environment")).to_have_value(ENV_ID)
    expect(page.locator(f"#card-preview [data-env='{ENV_ID}']")).to_be_visible()
    expect(page.get_by_label("Timesteps per candidate")).to_have_attribute(
        "placeholder", "100,000 (the env's default)"
    )


def test_unknown_run_is_a_404_page(idle: Served, idle_page: Page) -> None:
    response = idle_page.goto("/runs/doesnotexist")
    assert response is not None and response.status == 404
    expect(idle_page.get_by_role("heading", name="Not found")).to_be_visible()


def test_pages_label_every_control_and_load_nothing_from_outside(
    idle: Served, idle_page: Page
) -> None:
    run = idle.create_run(env_id=ENV_ID, task="balance", final_seeds=1)
    requested: list[str] = []
    idle_page.on("request", lambda request: requested.append(request.url))
    for path in [*PAGES, f"/runs/{run['id']}"]:
        idle_page.goto(path)
        idle_page.wait_for_load_state("networkidle")
        assert idle_page.evaluate(UNLABELLED) == [], path
    outside = [url for url in requested if not url.startswith((idle.base_url, "data:"))]
    assert outside == []
    assert any(url.endswith(".js") or ".js?" in url for url in requested)


def test_pages_fit_a_phone_screen(browser: Browser, idle: Served) -> None:
    run = idle.create_run(env_id=ENV_ID, task="keep the pendulum upright", final_seeds=1)
    context = open_context(browser, idle.base_url, token=True, viewport=PHONE)
    page = context.new_page()
    for path in [*PAGES, f"/runs/{run['id']}"]:
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone screen"
    context.close()
