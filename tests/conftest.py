"""Shared fixtures. The databases are built by `make build` (which `make test` runs first) into build/.

- `datasette`: the publication exactly as served (scripts/site.py), for `await datasette.client.get(...)`.
- `live_server`: a real `datasette serve` on a free loopback port, for the browser tests.
- `page`: a Playwright page in Debian's headless chromium (/usr/bin/chromium).
- `check_accessibility(page)`: axe-core; fails on serious or critical WCAG 2.2 AA violations.
- `screenshot(page, name)`: saves test-artifacts/screenshots/<name>.png and returns its path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import pytest_asyncio

from scripts.site import BUILD, DATABASES, ROOT, make_datasette

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    """Run browser tests last: the session-wide sync Playwright keeps an event loop running in the main thread,
    after which pytest-asyncio cannot run async `datasette.client` tests."""
    uses_browser = {"page", "browser"}
    items.sort(key=lambda item: bool(uses_browser & set(getattr(item, "fixturenames", ()))))


def pytest_sessionstart(session):
    missing = [name for name in DATABASES if not (BUILD / name).exists()]
    if missing:
        raise pytest.UsageError(f"build/{', '.join(missing)} missing: run `make test` (it builds before testing)")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def datasette():
    ds = make_datasette()
    await ds.invoke_startup()
    return ds


@pytest.fixture(scope="session")
def real_db_path() -> Path:
    return BUILD / "commissioning.db"


@pytest.fixture(scope="session")
def synthetic_db_path() -> Path:
    return BUILD / "synthetic_demo.db"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server():
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log = (ARTIFACTS / "live_server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.site", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/-/versions.json", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError(f"datasette did not start; see {log}") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (make browser-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot():
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def check_accessibility():
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page) -> None:
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": [
            "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
        serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        report = "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in serious
        )
        assert not serious, f"axe found serious/critical violations on {page.url}:\n{report}"

    return check


@pytest.fixture(scope="session")
def check_page_at_widths(screenshot, check_accessibility):
    """Open a page at 1280 and 320 CSS pixels: it answers 200 with one h1, passes axe, never scrolls sideways (WCAG
    1.4.10 reflow), and is saved as a screenshot. `must_have` names elements that must be there once (CSS)."""

    def check(page, url: str, name: str, must_have: tuple[str, ...] = ()) -> None:
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(url)
            assert response.status == 200, url
            assert page.locator("main h1").count() == 1
            for selector in must_have:
                assert page.locator(selector).count() == 1, selector
            check_accessibility(page)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (url, width)
            assert screenshot(page, f"{name}_{width}").stat().st_size > 10_000

    return check
