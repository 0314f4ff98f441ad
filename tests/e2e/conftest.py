"""End-to-end fixtures: the app as a real uvicorn process, and a real Chromium driven by Playwright.

Playwright's *sync* API is used, so browser tests and their fixtures are plain `def`. Between two sync calls
Playwright leaves its own event loop marked as the thread's running loop, and pytest-asyncio can then no
longer run anything (`Runner.run() cannot be called from a running event loop`). Hence:

- Playwright and the browser live for one test *module* (torn down before the next module's async tests);
- a browser test module holds sync tests only, and its tests use no async fixture: they create what they
  need through the UI, like a visitor would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, Playwright, sync_playwright

from tests.browser_setup import chromium_launch_kwargs

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10


@dataclass
class LiveServer:
    """One uvicorn process serving the app; its output goes to a log file."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self, since: int = 0) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(since)
            return handle.read().decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size


_LIVE_SERVER_KEY = pytest.StashKey[LiveServer]()
_LOG_OFFSET_KEY = pytest.StashKey[int]()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the app server exited with code {server.process.returncode} while starting; its log:\n"
                        f"{server.log()}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200 and response.read() == b"ok":
                    return
                last_error = f"status {response.status}"
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.2)
    pytest.fail(f"the app server did not answer /healthz within {STARTUP_TIMEOUT_S} s ({last_error}); its log:\n"
                f"{server.log()}", pytrace=False)


def _stop(server: LiveServer) -> str | None:
    """Terminate the server (SIGTERM), kill it if it does not stop in time; returns a problem, if any."""
    if server.process.poll() is not None:
        return f"the app server had already exited with code {server.process.returncode}"
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=STOP_TIMEOUT_S)
        return f"the app server ignored SIGTERM for {STOP_TIMEOUT_S} s and was killed"
    return None


@pytest.fixture(scope="package")
def live_server(request: pytest.FixtureRequest, database: None) -> Iterator[str]:
    """The app served by a real uvicorn process on a free port, on the test run's database; yields its URL.

    It depends on `database`, so migrations have run before it starts. It runs the embedded worker and
    scheduler, like `make run`, and mails stay in the outbox (read them at /dev/mailbox). It stops when the
    browser tests are over (package scope): its scheduler sweeps the shared database, and the server tests that
    come later check which of their own processes did the work.
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Its own Redis prefix: its embedded worker must not consume the jobs other tests enqueue (and test
    # themselves) on the test process's broker.
    env = {**os.environ, "EMBEDDED_WORKER": "1", "BASE_URL": base_url, "LOGIN_RATE_PER_MINUTE": "1000",
           "PYTHONUNBUFFERED": "1", "REDIS_PREFIX": os.environ["REDIS_PREFIX"] + "-live"}
    log_file = tempfile.NamedTemporaryFile(prefix="clf-live-server-", suffix=".log", delete=False)
    command = [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--timeout-graceful-shutdown", "5"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    log_file.close()
    server = LiveServer(base_url=base_url, process=process, log_path=Path(log_file.name))
    request.config.stash[_LIVE_SERVER_KEY] = server
    started = False
    try:
        _wait_until_healthy(server)  # fails the test with the server's log if it does not come up
        started = True
        yield base_url
    finally:
        problem = _stop(server)
        del request.config.stash[_LIVE_SERVER_KEY]
        log = server.log()
        server.log_path.unlink(missing_ok=True)
        if problem and started:  # a crash during the tests, or a server that does not shut down, is a bug to see
            pytest.fail(f"{problem}; its log:\n{log}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """When a test that used the live server fails, show what the server logged meanwhile."""
    report = yield
    server = item.config.stash.get(_LIVE_SERVER_KEY, None)
    if report.failed and server is not None and "live_server" in getattr(item, "fixturenames", ()):
        since = item.stash.get(_LOG_OFFSET_KEY, 0)
        report.sections.append(("live server log", server.log(since) or "(nothing logged)"))
    return report


@pytest.fixture(autouse=True)
def _remember_server_log_offset(request: pytest.FixtureRequest) -> None:
    server = request.config.stash.get(_LIVE_SERVER_KEY, None)
    if server is not None and server.log_path.exists():
        request.node.stash[_LOG_OFFSET_KEY] = server.log_size()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium (Debian's when installed, see tests/browser_setup.py), headless."""
    try:
        launched = playwright.chromium.launch(**chromium_launch_kwargs())
    except Error as error:
        pytest.fail(f"could not launch Chromium ({error}); run `python -m tests.browser_setup`", pytrace=False)
    yield launched
    launched.close()


@pytest.fixture
def new_context(browser: Browser, live_server: str) -> Iterator[Callable[..., BrowserContext]]:
    """Factory: `new_context(java_script_enabled=False)` gives a fresh browser profile aimed at the live server.

    Relative URLs (`page.goto("/signup")`) go to the live server. Contexts are closed after the test.
    """
    contexts: list[BrowserContext] = []

    def make(*, java_script_enabled: bool = True, **options: Any) -> BrowserContext:
        context = browser.new_context(base_url=live_server, java_script_enabled=java_script_enabled, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@dataclass
class PageProblems:
    """What went wrong inside a page: console errors (CSP violations are console errors) and uncaught errors."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [f"console: {text}" for text in self.console_errors] + [f"error: {text}" for text in self.page_errors]


def watch_problems(page: Page) -> PageProblems:
    """Start collecting a page's console errors and uncaught exceptions."""
    problems = PageProblems()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location.get("url", "") if message.location else ""
            problems.console_errors.append(f"{message.text} ({location})" if location else message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
    return problems

