"""The web page in a real headless Chromium (Debian's package, driven by Playwright).

Screenshots go to test-artifacts/web/. Without Chromium the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PRODUCTLENS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
KEY = "browser-key"


@pytest.fixture(scope="module")
def browser():
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


@pytest.fixture(scope="module")
def web_server(serve_copy):
    with serve_copy(api_key=KEY) as server:
        yield server


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


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


def test_search_with_crop_box(browser, web_server, query_photos):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    foreign = offline(page, web_server.url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(web_server.url + "/")
    page.set_input_files("#file", str(query_photos["Banana"]))
    page.wait_for_selector("#results .card")
    first = page.locator("#results .card").first
    assert first.get_attribute("data-product-id") == "Banana"
    assert "Banana" in page.inner_text("#recognition") or "Not in the catalogue" in page.inner_text("#recognition")
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)")
    shot(page, "search")

    box = page.locator("#preview").bounding_box()
    with page.expect_request(lambda r: r.url.endswith("/search") and r.method == "POST") as request:
        page.mouse.move(box["x"] + 0.15 * box["width"], box["y"] + 0.1 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.5 * box["height"], steps=5)
        page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.9 * box["height"], steps=5)
        page.mouse.up()
    body = request.value.post_data_buffer or b""
    assert b'name="box"' in body
    assert page.is_visible("#boxel") and page.inner_text("#box-text").startswith("Box: 0.15, 0.10, 0.90, 0.90")
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('products in')")
    assert page.locator("#results .card").first.get_attribute("data-product-id") == "Banana"
    shot(page, "search-box")
    assert not errors and not foreign, (errors, foreign)
    page.close()


def test_add_then_delete_product(browser, web_server, query_photos):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    foreign = offline(page, web_server.url)
    page.goto(web_server.url + "/#/catalog")
    page.wait_for_selector("#products .card")
    page.fill("#api-key", KEY)
    page.click("#save-key")
    page.fill("#new-id", "Browser-Apple")
    page.fill("#new-title", "Browser Apple")
    page.fill("#new-category", "Apple")
    page.set_input_files("#new-photos", [str(query_photos["Granny-Smith"])])
    page.click("#add-btn")
    page.wait_for_function("document.querySelector('#add-status').textContent.startsWith('Added Browser-Apple')")
    card = page.locator('#products .card[data-product-id="Browser-Apple"]')
    card.wait_for()
    shot(page, "catalog")

    # the new product is found by its own photo, and its page shows the photo and similar products
    page.goto(web_server.url + "/#/")
    page.set_input_files("#file", str(query_photos["Granny-Smith"]))
    page.wait_for_selector('#results .card[data-product-id="Browser-Apple"]')
    assert page.locator("#results .card").first.get_attribute("data-product-id") == "Browser-Apple"
    page.locator("#results .card").first.click()
    page.wait_for_selector("#p-similar .card")
    assert page.inner_text("#p-title") == "Browser Apple" and page.locator("#p-images img").count() == 1
    shot(page, "product")

    page.goto(web_server.url + "/#/catalog")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#products .card[data-product-id="Browser-Apple"] button.delete').click()
    page.locator('#products .card[data-product-id="Browser-Apple"]').wait_for(state="detached")
    with web_server.client(None) as c:
        assert c.get("/products/Browser-Apple").status_code == 404
    assert not foreign
    page.close()


def test_phone_screen(browser, web_server, query_photos):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.goto(web_server.url + "/")
    page.set_input_files("#file", str(query_photos["Arla-Standard-Milk"]))
    page.wait_for_selector("#results .card")
    assert page.locator("#results .card").first.get_attribute("data-product-id") == "Arla-Standard-Milk"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete)")
    shot(page, "phone")
    page.close()


def test_text_only_search(browser, web_server):
    page = browser.new_page(viewport={"width": 1024, "height": 800})
    page.goto(web_server.url + "/")
    page.fill("#text", "milk")
    page.press("#text", "Enter")
    page.wait_for_selector("#results .card")
    assert page.locator("#results .card").first.get_attribute("data-product-id") == "Arla-Standard-Milk"
    page.close()
