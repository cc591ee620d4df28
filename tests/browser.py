"""A real headless Chromium for page tests: Debian's browser driven by Playwright, offline.

`offline_page(path)` opens a local file with every non-file request aborted and records
console errors and attempted requests, so a test can assert a page is self-contained.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

needs_browser = pytest.mark.skipif(
    os.environ.get("CI") != "true"
    and (not Path(CHROMIUM).exists() or importlib.util.find_spec("playwright") is None),
    reason="needs Debian's chromium (apt-get install chromium) and playwright (pip); required under CI",
)


@dataclass
class Visit:
    """What loading the page caused: the page, every request it tried, its console errors."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outside_requests(self) -> list[str]:
        """Return the requests that tried to leave the local file."""
        return [u for u in self.requests if not u.startswith("file://")]

    def chart_boxes(self) -> list[Any]:
        """Return the bounding boxes of the page's SVG charts."""
        return [c.bounding_box() for c in self.page.query_selector_all("svg.chart")]


@contextlib.contextmanager
def offline_page(path: Path) -> Iterator[Visit]:
    """Yield a Visit of `path` loaded in headless Chromium with the network cut off."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            visit = Visit(page)
            page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: visit.errors.append(str(e)))

            def route(r: Any) -> None:
                visit.requests.append(r.request.url)
                r.continue_() if r.request.url.startswith("file://") else r.abort()

            page.route("**/*", route)
            page.goto(path.as_uri(), wait_until="load")
            yield visit
        finally:
            browser.close()
