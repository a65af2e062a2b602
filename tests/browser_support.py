"""Headless Chromium for the page and report tests (Debian's package, driven by Playwright).

Screenshots go to test-artifacts/<folder>/. Without Chromium the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = os.environ.get("PRODUCTLENS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

# The smallest font among elements that show text of their own (hidden ones left out).
SMALLEST_TEXT_JS = """() => {
  let smallest = [1e9, ''];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < smallest[0]) smallest = [size, el.tagName + ': ' + el.textContent.trim().slice(0, 40)];
  }
  return smallest;
}"""


def launch() -> Iterator:
    """Body of a module-scoped `browser` fixture: `yield from launch()`."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page, folder: str, name: str) -> Path:
    """A full-page screenshot saved as test-artifacts/<folder>/<name>.png."""
    path = ARTIFACTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_fits_screen(page) -> None:
    """Nothing sticks out sideways, and no text is smaller than 11 px."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    size, where = page.evaluate(SMALLEST_TEXT_JS)
    assert size >= 11, f"{size} px text at {width} px wide: {where}"


def offline(page, base_url: str) -> list[str]:
    """Fail any request to another host; returns the list of such attempts."""
    foreign: list[str] = []

    def guard(route):
        if route.request.url.startswith(base_url) or route.request.url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    return foreign


def open_page(browser, server, path: str = "/", screen: dict = DESKTOP):
    """A page of `server` cut off from every other host (page.foreign lists what it tried), its
    script errors collected in page.errors."""
    page = browser.new_page(**screen)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.foreign = offline(page, server.url)
    page.goto(server.url + path)
    return page
