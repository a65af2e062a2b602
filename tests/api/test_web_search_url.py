"""The web search page's state in its URL (bookmark, share, reload), result pages, price / brand /
category on result cards, and a missing product's page, in headless Chromium against a real served
catalogue of 8 products, at 1280 and 390 px. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import shutil
from urllib.parse import parse_qs

import pytest

from browser_support import DESKTOP, PHONE, assert_fits_screen, open_page, shot
from support import split_photos

SCREENS = {"1280": DESKTOP, "390": PHONE}
# Five more look-alike products beside the tiny catalogue's three: 8 results, two pages of 5.
MORE_PRODUCTS = {
    "Golden-Delicious": ("Fruit/Apple/Golden-Delicious", "Fruit"),
    "Pink-Lady": ("Fruit/Apple/Pink-Lady", "Fruit"),
    "Red-Delicious": ("Fruit/Apple/Red-Delicious", "Fruit"),
    "Arla-Medium-Fat-Milk": ("Packages/Milk/Arla-Medium-Fat-Milk", "Milk"),
    "Oatly-Oat-Milk": ("Packages/Oat-Milk/Oatly-Oat-Milk", "Oat-Milk"),
}


@pytest.fixture(scope="module")
def shop_server(serve_app, tiny_catalog_template, tmp_path_factory):
    from productlens import Catalog

    path = tmp_path_factory.mktemp("paged") / "shop"
    shutil.copytree(tiny_catalog_template, path)
    with Catalog.open(path) as catalog:
        for pid, (folder, category) in MORE_PRODUCTS.items():
            catalog.add(split_photos("train", folder, 1)[0], product=pid, category=category)
        catalog.update_product("Arla-Standard-Milk", category="Milk", attributes={"brand": "Arla", "price": 12.5,
                                                                                  "currency": "SEK"})
        catalog.update_product("Banana", category="Fruit", attributes={"brand": "Chiquita", "price": 3})
    with serve_app(path) as server:
        yield server


def url_params(page) -> dict[str, list[str]]:
    return parse_qs(page.url.split("#/?", 1)[1]) if "#/?" in page.url else {}


def result_ids(page) -> list[str]:
    return [c.get_attribute("data-product-id") for c in page.locator("#results .card").all()]


@pytest.mark.parametrize("screen", SCREENS, ids=list(SCREENS))
def test_search_in_the_url_reruns_when_opened(browser, shop_server, screen):
    page = open_page(browser, shop_server, screen=SCREENS[screen])
    page.fill("#text", "milk")
    page.fill("#where", "category = 'Milk'")
    page.press("#where", "Enter")
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('products in')")
    assert url_params(page) == {"text": ["milk"], "where": ["category = 'Milk'"]}
    first = result_ids(page)
    assert sorted(first) == ["Arla-Medium-Fat-Milk", "Arla-Standard-Milk"]  # the two in category Milk

    # the shared link, opened in another tab: the same form and the same results, with no typing
    shared = open_page(browser, shop_server, "/" + page.url.split("/", 3)[3], screen=SCREENS[screen])
    shared.wait_for_selector("#results .card")
    assert shared.input_value("#text") == "milk" and shared.input_value("#where") == "category = 'Milk'"
    assert result_ids(shared) == first
    # price, brand and category on the result card
    card = shared.locator('#results .card[data-product-id="Arla-Standard-Milk"] .facts')
    assert [card.locator(f".{field}").inner_text() for field in ("category", "brand", "price")] == \
        ["Milk", "Arla", "12.50 SEK"]
    assert shared.is_visible("#nav-search.active")
    assert_fits_screen(shared)
    shot(shared, "web", f"search-from-url-{screen}")
    assert not page.errors and not shared.errors and not shared.foreign, (page.errors, shared.errors)
    page.close()
    shared.close()


@pytest.mark.parametrize("screen", SCREENS, ids=list(SCREENS))
def test_results_come_in_pages_and_a_photo_link_says_what_it_lost(browser, shop_server, query_photos, screen):
    page = open_page(browser, shop_server, screen=SCREENS[screen])
    page.select_option("#k", "5")
    page.set_input_files("#file", str(query_photos["Banana"]))
    page.wait_for_selector("#results .card")
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('page 1')")
    first = result_ids(page)
    assert len(first) == 5 and first[0] == "Banana"
    assert page.is_visible("#pager") and page.is_disabled("#prev-page") and page.is_enabled("#next-page")
    banana = page.locator('#results .card[data-product-id="Banana"] .facts').inner_text()
    assert "Fruit" in banana and "Chiquita" in banana and "3.00" in banana

    page.click("#next-page")
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('page 2')")
    second = result_ids(page)
    assert len(second) == 3 and not set(first) & set(second)  # all 8 products, each once
    assert page.is_disabled("#next-page") and page.is_enabled("#prev-page")
    assert page.inner_text("#recognition").startswith("Recognised: Banana (#1, on page 1)")
    assert page.inner_text("#search-status").endswith("(page 2: results 6–8)")
    assert [c.inner_text().split(" ·")[0] for c in page.locator("#results .card .score").all()] == \
        ["#6", "#7", "#8"]
    assert url_params(page) == {"k": ["5"], "page": ["2"], "photo": ["1"]}
    assert_fits_screen(page)
    shot(page, "web", f"search-page-2-{screen}")
    page.click("#prev-page")
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('page 1')")
    assert result_ids(page) == first

    # reloading the link: the photo cannot come back from a URL, so the page says so and keeps the rest
    page.click("#next-page")
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('page 2')")
    page.reload()
    page.wait_for_selector("#photo-note:not([hidden])")
    assert "A photo cannot travel in a link" in page.inner_text("#photo-note")
    assert page.input_value("#k") == "5" and result_ids(page) == []
    page.set_input_files("#file", str(query_photos["Banana"]))
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('page 1')")
    assert result_ids(page) == first and not page.is_visible("#photo-note")
    shot(page, "web", f"search-photo-link-{screen}")
    assert not page.errors and not page.foreign, (page.errors, page.foreign)
    page.close()


@pytest.mark.parametrize("screen", SCREENS, ids=list(SCREENS))
def test_missing_product_page_says_so(browser, shop_server, screen):
    page = open_page(browser, shop_server, "/#/product/No-Such-Product", screen=SCREENS[screen])
    page.wait_for_selector("#p-missing")
    assert page.inner_text("#p-missing") == "No such product"
    assert "There is no product with the id No-Such-Product" in page.inner_text("main")
    # no empty sections left: no images, similar products or edit form headings
    assert page.locator("#p-images, #p-similar, #edit-box, h2").count() == 0
    page.click("text=catalogue")
    page.wait_for_selector("#products .card")
    assert_fits_screen(page)
    page.go_back()
    page.wait_for_selector("#p-missing")
    shot(page, "web", f"missing-product-{screen}")
    assert not page.errors and not page.foreign, (page.errors, page.foreign)
    page.close()
