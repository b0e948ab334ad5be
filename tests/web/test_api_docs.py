"""The API reference offline: Swagger UI at /docs and ReDoc at /redoc render every
operation from vendored files (any request leaving the server is refused), and
each operation has a summary of its own."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.web.conftest import (
    LAPTOP,
    PHONE,
    PageErrors,
    Served,
    open_context,
    save_artifact,
)

BARE_NAMES = {"Create", "List", "List ", "Get", "Delete", "Stream", "Health", "Ready", "Export"}


@pytest.fixture(scope="module")
def operations(idle: Served) -> list[dict]:
    spec = idle.api.get("/api/openapi.json").raise_for_status().json()
    return [op for path in spec["paths"].values() for op in path.values()]


class Offline:
    """A browser page that can reach the server under test and nothing else."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.refused: list[str] = []
        self.host = urlparse(base_url).netloc
        page.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith("data:") or urlparse(url).netloc == self.host:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


@pytest.fixture
def watched(browser: Browser, idle: Served) -> Iterator[tuple[Page, PageErrors]]:
    context = open_context(browser, idle.base_url, token=True)
    errors = PageErrors()
    yield errors.watch(context.new_page()), errors
    context.close()
    assert not errors.errors, f"JavaScript errors or blocked files: {errors.errors}"


def test_every_operation_has_a_summary_of_its_own(operations: list[dict]) -> None:
    summaries = [op.get("summary") for op in operations]
    assert all(summaries), [op["operationId"] for op in operations if not op.get("summary")]
    assert len(set(summaries)) == len(summaries), summaries
    assert not BARE_NAMES & set(summaries)


def test_swagger_ui_at_docs_renders_every_operation_offline(
    idle: Served, watched: tuple[Page, PageErrors], operations: list[dict]
) -> None:
    page, _ = watched
    offline = Offline(page, idle.base_url)
    page.goto("/docs")
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(operations), timeout=30_000)
    expect(page.locator(".opblock-summary-description", has_text="Start a run")).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    # An operation opens, with its parameters and responses.
    page.locator(".opblock-summary", has_text="Read a run").first.click()
    expect(page.locator(".opblock.is-open .parameter__name", has_text="run_id")).to_be_visible()
    page.screenshot(path=save_artifact("api-docs-swagger-laptop.png"))
    page.set_viewport_size(PHONE)
    page.screenshot(path=save_artifact("api-docs-swagger-phone.png"))
    page.set_viewport_size(LAPTOP)
    assert offline.refused == []


def test_redoc_renders_every_operation_offline(
    idle: Served, watched: tuple[Page, PageErrors], operations: list[dict]
) -> None:
    page, errors = watched
    offline = Offline(page, idle.base_url)
    page.goto("/redoc")
    headings = page.locator("h2")
    for summary in ("Start a run", "Download a candidate's training statistics (CSV)"):
        expect(headings.filter(has_text=summary).first).to_be_visible(timeout=30_000)
    for operation in operations:
        expect(headings.filter(has_text=operation["summary"]).first).to_be_attached()
    page.screenshot(path=save_artifact("api-docs-redoc-laptop.png"))
    assert offline.refused == []
    # ReDoc always tries its vendor's logo from a CDN; the page's policy blocks it.
    blocked_logo = [e for e in errors.errors if "cdn.redoc.ly/redoc/logo-mini.svg" in e]
    assert len(blocked_logo) <= 1 and all("has been blocked" in e for e in blocked_logo)
    errors.errors = [e for e in errors.errors if e not in blocked_logo]


def test_old_docs_address_and_the_nav_lead_to_docs(
    idle: Served, watched: tuple[Page, PageErrors]
) -> None:
    page, _ = watched
    response = httpx.get(f"{idle.base_url}/api/docs", follow_redirects=False)
    assert response.status_code in (301, 307, 308) and response.headers["location"] == "/docs"
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API").click()
    expect(page).to_have_url(f"{idle.base_url}/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    page.get_by_role("link", name="rewardforge").click()
    expect(page).to_have_url(f"{idle.base_url}/")
