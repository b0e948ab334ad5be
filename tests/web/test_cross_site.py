"""A page on another site cannot change runs through the visitor's browser, even on a
server with no token (the loopback default), while the dashboard itself still can."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.processes import cli_env
from tests.service.helpers import serving
from tests.web.conftest import ENV_ID

RUN = {"env_id": ENV_ID, "task": "swing up", "iterations": 1, "samples": 1, "timesteps": 1000}


def _attack_page(target: str) -> bytes:
    """A form that posts itself to ``target`` (the simple request CSRF relies on), and a
    no-cors fetch that tries the same."""
    return f"""<!doctype html><html><body>
<form id="f" method="post" action="{target}" enctype="text/plain">
  <input name='{{"x":"' value='"}}'>
</form>
<script>
  fetch("{target}", {{method: "POST", mode: "no-cors", body: "x=1",
    headers: {{"Content-Type": "application/x-www-form-urlencoded"}}}}).finally(() =>
    document.getElementById("f").submit());
</script></body></html>""".encode()


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[str]:
    """``rewardforge serve`` on loopback with no token and no worker: runs stay queued."""
    env = cli_env(tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'rf.db'}")
    with serving(env, tmp_path / "serve.log", workers=0) as base:
        yield base


@pytest.fixture
def other_site() -> Iterator[tuple[str, dict[str, bytes]]]:
    """Another origin on this machine (another port) serving pages from a dict."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def test_another_sites_page_cannot_cancel_a_run(
    browser: Browser, open_server: str, other_site: tuple[str, dict[str, bytes]]
) -> None:
    victim = httpx.post(f"{open_server}/api/runs", json=RUN).raise_for_status().json()
    mine = httpx.post(f"{open_server}/api/runs", json=RUN).raise_for_status().json()
    site, pages = other_site
    pages["/attack.html"] = _attack_page(f"{open_server}/api/runs/{victim['id']}/cancel")
    context = browser.new_context()
    try:
        page = context.new_page()
        with page.expect_navigation(url=f"{open_server}/api/runs/{victim['id']}/cancel"):
            page.goto(f"{site}/attack.html")
        assert "cross-origin request refused" in page.content()
        # The dashboard's own page, same origin, still cancels through fetch.
        page.goto(f"{open_server}/runs/{mine['id']}")
        page.get_by_role("button", name="Cancel run").click()
        page.wait_for_function(
            "id => fetch(`/api/runs/${id}`).then(r => r.json())"
            ".then(r => r.status === 'cancelled')",
            arg=mine["id"],
            timeout=15_000,
        )
    finally:
        context.close()
    assert httpx.get(f"{open_server}/api/runs/{victim['id']}").json()["status"] == "queued"
