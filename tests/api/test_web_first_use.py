"""Pages a new user opens first, in headless Chromium with every other host cut off: the API docs
and the duplicates page."""

from __future__ import annotations

import pytest

from browser_support import open_page, shot

from productlens import Catalog

KEY = "first-use-key"


@pytest.fixture
def server(fast_catalog, serve_app):
    with serve_app(fast_catalog, api_key=KEY) as live:
        yield live


def test_api_docs_render_with_no_network(browser, server):
    page = open_page(browser, server, "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent.trim())")
    assert "/search" in paths and "/products/{product_id}" in paths
    assert page.foreign == [] and page.errors == []
    shot(page, "first-use", "docs")
    page.close()


def test_duplicates_link_explains_and_fits_the_thresholds(browser, fast_catalog, serve_app):
    """Thresholds fitted on another model's space (here: planted under another model key) cannot be
    used: the link opens a page that says so and fits them on a click. (Duplicates live in the
    off-the-shelf instance space, so a switch to a trained version keeps its thresholds.)"""
    with Catalog.open(fast_catalog) as shop:
        shop.store.put_calibration("another-model", "duplicates", {"image_threshold": 0.9, "product_threshold": 0.8},
                                   "planted by the test")
    with serve_app(fast_catalog, api_key=KEY) as server:
        review_until_fitted(browser, server)


def review_until_fitted(browser, server) -> None:
    page = open_page(browser, server, "/")
    href = page.get_attribute("#nav-duplicates", "href")
    page.goto(server.url + href)
    assert "thresholds needed first" in page.inner_text("h1")
    assert "productlens duplicates --calibrate" in page.inner_text("body")
    page.click("#fit")  # no key saved yet: the page says what is missing, and nothing changes
    page.wait_for_function("document.getElementById('fit-status').textContent.includes('API key')")
    page.evaluate(f"localStorage.setItem('productlens-api-key', '{KEY}')")
    page.click("#fit")
    page.wait_for_selector("text=Duplicate review", timeout=60_000)
    assert page.foreign == [] and page.errors == []
    shot(page, "first-use", "duplicates-fitted")
    page.close()


def test_catalogue_page_says_no_product_has_the_filtered_field(browser, server):
    page = open_page(browser, server, "/#/catalog")
    page.wait_for_selector("#filter")
    page.fill("#filter", "colour = 'red'")
    page.press("#filter", "Enter")
    page.wait_for_function("document.getElementById('count').textContent.includes('no product has')")
    assert "the fields are: category, description, id, title" in page.inner_text("#count")
    page.close()


def test_search_page_reports_a_filter_error_at_the_position_the_api_gives(browser, server):
    with server.client(KEY) as client:
        expected = client.post("/search", data={"text": "red", "where": "price <"}).json()["error"]["message"]
    assert "position" in expected
    page = open_page(browser, server, "/")
    page.wait_for_selector("#where")
    page.fill("#text", "red")
    page.fill("#where", "price <")
    page.click("#search-btn")
    page.wait_for_function("document.getElementById('search-status').textContent.includes('position')")
    assert page.inner_text("#search-status").strip() == expected
    page.close()
