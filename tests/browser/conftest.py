"""Browser harness: `streamlit run app.py` on a free port, driven by Debian's Chromium through Playwright.

The server serves the data folder the environment names (``DAFX_EXPLORER_HOME``; by default the
shipped ``precomputed/``), with its listening-test database in a temporary folder and an admin
password set. A failing test leaves a screenshot in ``tests/artifacts/`` and shows the tail of the
server's log.

``--screenshots DIR`` also saves each page, once rendered, as ``DIR/NAME.png`` at 1280×800
(the README's pictures: ``python -m pytest tests/browser -m browser --screenshots docs/screenshots``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit_ui import wait_idle

from benchmarks.explorer import stop_server
from dafx_explorer.settings import REPO_ROOT, get_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
ADMIN_PASSWORD = "browser-test-password"
START_TIMEOUT = 90.0
"""Seconds the server may take to answer its health check."""
RENDER_TIMEOUT = 60_000
"""Milliseconds a page may take to show what a test waits for (first loads of models included)."""
LOG_TAIL = 6000
"""Characters of the server log shown with a failure."""


@dataclass(frozen=True)
class Server:
    """A running ``streamlit run app.py``."""

    url: str
    home: Path
    db_path: Path
    log_path: Path
    admin_password: str

    def log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-LOG_TAIL:]


def pytest_addoption(parser):
    parser.addoption("--screenshots", metavar="DIR", default=None,
                     help="save a 1280×800 screenshot of each page, once rendered, as DIR/NAME.png")


def free_port() -> int:
    """A TCP port nobody listens on now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Poll Streamlit's health endpoint until it answers 200; fail with the log if the server dies or is slow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with status {process.returncode} before it was healthy; its log:\n"
                        f"{log_path.read_text(errors='replace')[-LOG_TAIL:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"streamlit did not answer {url}/_stcore/health within {timeout:g} s; its log:\n"
                f"{log_path.read_text(errors='replace')[-LOG_TAIL:]}", pytrace=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    """``streamlit run app.py`` on a free port; stopped after the module's tests (not left running for the
    rest of the test session)."""
    folder = tmp_path_factory.mktemp("streamlit")
    port = free_port()
    log_path = folder / "streamlit.log"
    env = dict(os.environ, DAFX_EXPLORER_DB=str(folder / "data" / "listening.sqlite"),
               DAFX_EXPLORER_ADMIN_PASSWORD=ADMIN_PASSWORD, PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, process, log_path, START_TIMEOUT)
        yield Server(url=url, home=get_settings().home, db_path=folder / "data" / "listening.sqlite", log_path=log_path,
                     admin_password=ADMIN_PASSWORD)
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless (Playwright's own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser context (a new Streamlit session) with a 1280×800 page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=RENDER_TIMEOUT)
    context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(request, page) -> Callable[[str], None]:
    """``screenshot(NAME)`` saves the page as ``DIR/NAME.png`` when ``--screenshots DIR`` was given."""
    folder = request.config.getoption("--screenshots")

    def save(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            wait_idle(page)
            page.mouse.move(VIEWPORT["width"] - 4, VIEWPORT["height"] // 2)  # beside the content: no hover labels
            page.screenshot(path=Path(folder) / f"{name}.png", animations="disabled", caret="hide")

    return save


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure: save the page to ``tests/artifacts/TEST.png`` and show the server log's tail."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
        if page is not None:
            from playwright.sync_api import Error

            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            path = ARTIFACTS / f"{item.name}.png"
            try:
                page.screenshot(path=path, full_page=True)
                report.sections.append(("screenshot", str(path)))
            except Error as error:
                report.sections.append(("screenshot", f"could not be taken: {error}"))
        server = item.funcargs.get("server") if hasattr(item, "funcargs") else None
        if server is not None:
            report.sections.append(("streamlit server log (tail)", server.log_tail()))
    return report
