"""A real ``rewardforge serve`` on a free port, Debian's Chromium driven by
Playwright, and fake LLM servers that answer with working reward code.

The server runs its embedded worker, so runs created here train real policies
(tiny budgets). One server and one browser serve the whole session.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from envs import get_card
from tests.fake_llm import FakeLLMServer, Reply, good_reward_response
from tests.processes import REPO, cli_env, free_port, start_cli, wait_for_http

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "web-test-token"
TOKEN_KEY = "rewardforge.apiToken"  # where static/js/api.js keeps the token
ENV_ID = "Pendulum-v1"
ARTIFACTS = REPO / "test-artifacts"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def reward_replies(*penalties: float) -> list[str]:
    """Working reward code for ``ENV_ID``, one answer per effort penalty weight.

    Different weights make different code, so every answer is trained (identical
    code is trained once per run) and a child differs from its parent.
    """
    text = good_reward_response(get_card(ENV_ID))
    assert "-0.05 *" in text
    return [text.replace("-0.05 *", f"-{weight:g} *") for weight in penalties]


def scripted_llm(first: tuple[float, ...], second: tuple[float, ...]) -> FakeLLMServer:
    """A fake LLM whose first request gets ``first``'s answers and later ones ``second``'s."""
    server = FakeLLMServer(default=Reply(reward_replies(*second)))
    server.enqueue(Reply(reward_replies(*first)))
    return server.start()


@dataclass
class Served:
    """The running server: its address, the token it accepts, an API client."""

    base_url: str
    api: httpx.Client
    log: Path

    def create_run(self, **body: Any) -> dict[str, Any]:
        response = self.api.post("/api/runs", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def run(self, run_id: str) -> dict[str, Any]:
        return self.api.get(f"/api/runs/{run_id}").raise_for_status().json()


@contextmanager
def running_server(folder: Path, *, workers: int, llm: FakeLLMServer) -> Iterator[Served]:
    """``rewardforge serve`` on a free port with its own data, a token, and ``llm`` as default."""
    port = free_port()
    env = cli_env(
        folder / "data",
        database_url=f"sqlite:///{folder / 'rewardforge.db'}",
        llm_model=llm.model,
        llm_base_url=llm.base_url,
        # The run-page tests script fake LLMs of their own, on other loopback ports.
        llm_allowed_base_urls="http://127.0.0.1:*",
        api_token=TOKEN,
    )
    log = folder / "serve.log"
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = start_cli(args, env, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/api/health", timeout=90, process=process)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            yield Served(base_url=base_url, api=client, log=log)
    except BaseException:
        print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The server with two embedded workers: runs created on it really train."""
    with (
        FakeLLMServer(default=Reply(reward_replies(0.05, 0.1))) as llm,
        running_server(tmp_path_factory.mktemp("web-server"), workers=2, llm=llm) as server,
    ):
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (the Makefile's system step installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system` (or apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class PageErrors:
    """Uncaught JavaScript errors and Content-Security-Policy violations of watched pages."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        # A script, style or media the page's Content-Security-Policy blocked.
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)


def open_context(
    browser: Browser, base_url: str, *, token: bool, viewport: dict[str, int] | None = None
) -> BrowserContext:
    """A fresh browser profile; with ``token`` the API token is already saved in it."""
    context = browser.new_context(base_url=base_url, viewport=viewport or LAPTOP)
    context.set_default_timeout(15_000)
    if token:
        context.add_init_script(f"localStorage.setItem({TOKEN_KEY!r}, {TOKEN!r})")
    return context


@contextmanager
def watched_page(browser: Browser, base_url: str, *, token: bool) -> Iterator[Page]:
    """A page in a fresh profile; fails the test on uncaught JS errors."""
    context = open_context(browser, base_url, token=token)
    errors = PageErrors()
    yield errors.watch(context.new_page())
    context.close()
    assert not errors.errors, f"JavaScript errors on the page: {errors.errors}"


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    """A page in a fresh profile without a token; fails the test on uncaught JS errors."""
    with watched_page(browser, served.base_url, token=False) as new:
        yield new


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server of this module's own with no workers: runs stay queued, nothing trains."""
    with (
        FakeLLMServer() as llm,
        running_server(tmp_path_factory.mktemp("idle-server"), workers=0, llm=llm) as server,
    ):
        yield server


@pytest.fixture
def idle_page(browser: Browser, idle: Served) -> Iterator[Page]:
    """A page on the idle server with the API token saved."""
    with watched_page(browser, idle.base_url, token=True) as new:
        yield new


def save_artifact(name: str) -> Path:
    """A path under test-artifacts/ (kept by CI, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    if path.exists():
        path.unlink()
    return path
