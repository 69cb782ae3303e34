"""Driving the Airflow UI in Debian's headless Chromium (Playwright), and keeping what the browser showed.

Screenshots go under ``test-output/browser/<test>/`` at the repository's root (ignored by git; TESTING.md):
one numbered PNG per step, so a person can replay a browser test after ``make test``.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Debian's chromium is not installed (apt-get install chromium)"
SCREENSHOTS = ROOT / "test-output" / "browser"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A fresh page in headless Chromium (closed afterwards)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


class Screenshots:
    """Numbered full-page screenshots of one test's steps, in a folder of their own (emptied first)."""

    def __init__(self, test_name: str) -> None:
        self.folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.taken = 0
        print(f"screenshots: {self.folder}")

    @contextmanager
    def on_failure(self, page: Any) -> Iterator[None]:
        """A last screenshot (and the page's address, in the test's log) when the steps inside fail."""
        try:
            yield
        except BaseException:
            print(f"failed at {page.url}")
            self.take(page, "failure")
            raise

    def take(self, page: Any, step: str) -> Path:
        self.taken += 1
        path = self.folder / f"{self.taken:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def reload_until(page: Any, shown: Callable[[], bool], timeout: float, what: str) -> None:
    """Reload ``page`` until ``shown()`` holds, as a person looks again at a page that lags a change (the
    registry view serves a group's listing for about 10 s while it refreshes it); bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while not shown():
        assert time.monotonic() < deadline, f"{what} was not shown within {timeout:.0f}s"
        page.wait_for_timeout(1000)  # a person's glance between reloads, not a wait for the cache
        page.reload()
