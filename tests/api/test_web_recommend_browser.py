"""The recommendation parts of the web page in headless Chromium at 1280 and 390 px: "Often bought
with" on a product page and the catalogue's "Recommended for" box. Screenshots: test-artifacts/web/."""

from __future__ import annotations

import pytest

from browser_support import DESKTOP, PHONE, assert_fits_screen, shot
from productlens import Catalog

KEY = "rec-browser-key"
SCREENS = {"1280": DESKTOP, "390": PHONE}


@pytest.fixture(scope="module")
def shop_server(serve_copy):
    with serve_copy(api_key=KEY) as server:
        with server.client(KEY) as client:
            products = [p["id"] for p in client.get("/products", params={"limit": 100}).json()["products"]]
            pairs = [products[i:i + 2] for i in range(0, len(products) - 1, 2)]
            events = [{"user_id": f"u{u}", "product_id": p, "timestamp": 1_600_000_000 + 10 * u + n}
                      for u in range(10) for n, p in enumerate(pairs[u % len(pairs)])]
            assert client.post("/interactions", json={"events": events}).json()["added"] == len(events)
        with Catalog.open(server.catalog_path) as shop:
            shop.recommendations.fit(model="item-knn", budget_s=30)
        server.pairs = pairs
        yield server


@pytest.mark.parametrize("screen", SCREENS, ids=list(SCREENS))
def test_often_bought_with_and_recommended_for(browser, shop_server, screen):
    first, partner = shop_server.pairs[0]
    page = browser.new_page(**SCREENS[screen])
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{shop_server.url}/#/product/{first}")
    page.wait_for_selector("#p-bought-with .card")
    assert page.locator("#p-bought-with .card").first.get_attribute("data-product-id") == partner
    page.locator("#p-bought-with").scroll_into_view_if_needed()
    shot(page, "web", f"often-bought-with-{screen}")

    page.goto(f"{shop_server.url}/#/catalog")
    page.click("#recommend-box summary")
    page.fill("#rec-user", "u0")  # bought the first pair: the next suggestions follow it
    page.click("#rec-btn")
    page.wait_for_function("document.querySelector('#rec-status').textContent.includes('for u0')")
    shown = [c.get_attribute("data-product-id") for c in page.locator("#rec-results .card").all()]
    assert shown and first not in shown and partner not in shown  # already bought: left out
    assert_fits_screen(page)
    shot(page, "web", f"recommended-for-{screen}")
    assert not errors
    page.close()
