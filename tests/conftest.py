"""Shared fixtures: a real app server for browser tests, and headless Debian chromium."""

from __future__ import annotations

import os

import pytest

from tests.appserver import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, start_app

ARTIFACTS = ROOT / "tests" / "artifacts"

os.environ["EDL_MEMORY_BUDGET_MB"] = "0"
"""The test process holds every lesson at once: over the server's budget, its runs would drop compiled
code between tests. The budget has its own tests; the app server below runs with the default."""


@pytest.fixture(scope="session")
def app_url():
    port = free_port()
    process = start_app(port, env={"EDL_MEMORY_BUDGET_MB": ""})
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(20)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium. Missing chromium skips the browser tests with a notice, unless
    EDL_REQUIRE_BROWSER=1 (set by .ci/run), which makes it a failure."""
    if not os.path.exists(CHROMIUM):
        message = (
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests"
        )
        if os.environ.get("EDL_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
