"""The web page in a real headless Chromium (Debian's package, driven by Playwright), at 1280 and
390 px wide. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import shutil

import pytest

from browser_support import DESKTOP, PHONE, assert_fits_screen, open_page, shot

KEY = "browser-key"
SCREENS = {"1280": DESKTOP, "390": PHONE}


@pytest.fixture(scope="module")
def web_server(serve_copy):
    with serve_copy(api_key=KEY) as server:
        yield server


def save_key(page, key: str) -> None:
    if not page.is_visible("#api-key"):
        page.click("#key-toggle")
    page.fill("#api-key", key)
    page.click("#save-key")


def write_controls_visible(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('.write')].filter(e => e.getClientRects().length)"
                         ".map(e => e.id || e.className)")


def test_search_with_crop_box(browser, web_server, query_photos):
    page = open_page(browser, web_server)
    page.set_input_files("#file", str(query_photos["Banana"]))
    page.wait_for_selector("#results .card")
    first = page.locator("#results .card").first
    assert first.get_attribute("data-product-id") == "Banana"
    assert "similarity" in first.inner_text() and "score" not in first.inner_text()
    page.wait_for_selector("#recognition:not([hidden])")
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)")
    shot(page, "web", "search")

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
    shot(page, "web", "search-box")
    assert not page.errors and not page.foreign, (page.errors, page.foreign)
    page.close()


# --- recognition and search shown consistently ---------------------------------------------------


@pytest.fixture(scope="module", params=[0.0, 0.999], ids=["known", "unknown"])
def verdict_server(request, serve_app, tiny_catalog_template, tmp_path_factory):
    """A server whose recognition threshold makes every photo known (0.0) or unknown (0.999),
    with categories and brands to facet on."""
    from productlens import Catalog
    from productlens.recognition import Recognizer, default_calibration

    path = tmp_path_factory.mktemp("verdict") / "shop"
    shutil.copytree(tiny_catalog_template, path)
    with Catalog.open(path) as catalog:
        for pid, category, brand in (("Banana", "Fruit", "Chiquita"), ("Granny-Smith", "Fruit", None),
                                     ("Arla-Standard-Milk", "Milk", "Arla")):
            catalog.update_product(pid, category=category, attributes={"brand": brand} if brand else {})
        calibration = default_calibration()
        calibration.threshold = request.param
        recognizer = Recognizer(calibration=calibration)
        catalog.store.put_calibration(catalog.versions.active.key, "recognition", recognizer.to_dict(), "the test")
    with serve_app(path, api_key=KEY) as server:
        yield server, request.param


@pytest.mark.parametrize("screen", SCREENS, ids=list(SCREENS))
def test_recognition_verdict_agrees_with_results(browser, verdict_server, query_photos, screen):
    server, threshold = verdict_server
    page = open_page(browser, server, screen=SCREENS[screen])
    with page.expect_response(lambda r: r.url.endswith("/recognize")) as response:
        page.set_input_files("#file", str(query_photos["Arla-Standard-Milk"]))
    r = response.value.json()
    assert r["known"] == (threshold == 0.0) and r["threshold"] == threshold
    page.wait_for_selector("#recognition:not([hidden])")
    page.wait_for_selector("#results .card")
    text = page.inner_text("#recognition")
    ids = [c.get_attribute("data-product-id") for c in page.locator("#results .card").all()]
    sign = "≥" if r["confidence"] >= r["threshold"] else "<"
    assert (f"confidence {r['confidence']:.2f} {sign} {r['threshold']:.2f} needed (similarity {r['similarity']:.3f})"
            in text)
    if r["known"]:
        rank = ids.index(r["product"]["id"]) + 1
        assert text.startswith(f"Recognised: {r['product']['title']} (#{rank} below)")
        card = page.locator(f'#results .card[data-product-id="{r["product"]["id"]}"]')
        assert "recognised" in card.get_attribute("class") and "recognised" in card.inner_text()
    else:
        guess = r["candidates"][0]
        assert text.startswith("Not confidently recognised: the closest matches are below, by similarity.")
        assert f"Best guess {guess['title']} (#{ids.index(guess['id']) + 1} below)" in text
        assert f"Closest category {r['category']} (confidence {r['category_confidence']:.2f})" in text
        assert page.locator("#results .card.recognised").count() == 0
    for card in page.locator("#results .card .score").all():
        assert "similarity" in card.inner_text()

    # facet chips sit in labelled groups, one per field
    groups = {g.get_attribute("data-field"): g for g in page.locator("#facets .facet-group").all()}
    assert set(groups) == {"category", "brand"}
    assert groups["category"].locator(".facet-label").inner_text() == "Category"
    assert groups["brand"].locator(".facet-label").inner_text() == "Brand"
    assert {c.get_attribute("data-facet") for c in groups["category"].locator(".chip").all()} == {"Fruit", "Milk"}
    assert {c.get_attribute("data-facet") for c in groups["brand"].locator(".chip").all()} == {"Chiquita", "Arla"}
    assert_fits_screen(page)
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete)")
    shot(page, "web", f"search-{'known' if r['known'] else 'unknown'}-{screen}")

    if r["known"]:  # a filter that leaves the recognised product out: the verdict says so
        page.fill("#where", "category = 'Fruit'")
        page.press("#where", "Enter")
        page.wait_for_function("document.querySelector('#recognition').textContent.includes('leave it out')")
        assert "Arla-Standard-Milk" not in [c.get_attribute("data-product-id")
                                            for c in page.locator("#results .card").all()]
    assert not page.errors and not page.foreign
    page.close()


# --- write controls and the API key ---------------------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS, ids=list(SCREENS))
def test_write_controls_hidden_until_a_key_is_saved(browser, web_server, screen):
    page = open_page(browser, web_server, "/#/catalog", SCREENS[screen])
    page.wait_for_selector("#products .card")
    assert page.is_visible("#key-toggle") and page.is_visible("#locked-note")
    assert write_controls_visible(page) == []
    assert page.locator("#products button.delete").count() > 0  # there, but hidden
    shot(page, "web", f"catalog-locked-{screen}")

    save_key(page, "not-the-key")
    page.wait_for_function("document.querySelector('#key-status').textContent.includes('did not accept')")
    assert page.evaluate("localStorage.getItem('productlens-api-key')") is None
    assert write_controls_visible(page) == []
    shot(page, "web", f"key-refused-{screen}")

    save_key(page, KEY)
    page.wait_for_function("document.body.classList.contains('can-write')")
    page.wait_for_selector("#products .card button.delete", state="visible")
    assert page.is_visible("#add-box") and not page.is_visible("#locked-note")
    assert page.inner_text("#key-toggle").strip().endswith("Editing")
    assert_fits_screen(page)
    shot(page, "web", f"catalog-key-{screen}")

    page.goto(web_server.url + "/#/product/Banana")
    page.wait_for_selector("#p-images .card")
    assert {"edit-box", "upload-form"} <= set(write_controls_visible(page))
    page.click("#key-toggle")
    page.click("#forget-key")
    page.wait_for_function("!document.body.classList.contains('can-write')")
    page.wait_for_selector("#p-images .card")
    assert write_controls_visible(page) == []
    assert not page.errors and not page.foreign
    page.close()


def test_read_only_server_offers_no_writes(browser, serve_copy):
    with serve_copy() as server:
        page = open_page(browser, server, "/#/catalog")
        page.wait_for_selector("#products .card")
        assert page.is_visible("#read-only-note") and not page.is_visible("#key-toggle")
        assert write_controls_visible(page) == []
        page.close()


def test_edit_product_form(browser, web_server, query_photos):
    page = open_page(browser, web_server)
    page.evaluate(f"localStorage.setItem('productlens-api-key', '{KEY}')")
    with web_server.client(KEY) as c:
        c.post("/products", json={"id": "Edit-Me", "title": "Edit me", "category": "Milk",
                                  "attributes": {"fat": 1.5, "organic": True, "origin": "SE"}})
        c.post("/products/Edit-Me/images", files={"image": ("a.jpg", query_photos["Arla-Standard-Milk"].read_bytes())})
    page.goto(web_server.url + "/#/product/Edit-Me")
    page.reload()  # the key is read when the page loads
    page.wait_for_selector("#p-images .card")
    page.click("#edit-box summary")
    assert page.input_value("#edit-title") == "Edit me" and page.input_value("#edit-category") == "Milk"
    page.fill("#edit-title", "Edited milk 1 l")
    page.fill("#edit-category", "Dairy")
    page.fill("#edit-description", "Whole milk from a local farm.")
    rows = page.locator("#edit-attributes .attribute-row")
    assert [r.locator(".attr-key").input_value() for r in rows.all()] == ["fat", "organic", "origin"]
    rows.nth(0).locator(".attr-value").fill("3.5")
    rows.nth(1).locator(".attr-value").fill("false")
    rows.nth(2).locator("button.remove").click()
    page.click("#add-attribute")
    rows.last.locator(".attr-key").fill("brand")
    rows.last.locator(".attr-value").fill("Arla")
    shot(page, "web", "product-edit")
    page.click("#save-product")
    page.wait_for_function("document.querySelector('#edit-status').textContent === 'Saved.'")
    assert page.inner_text("#p-title") == "Edited milk 1 l" and page.inner_text("#p-category") == "Dairy"
    with web_server.client(None) as c:
        stored = c.get("/products/Edit-Me").json()
    assert stored["title"] == "Edited milk 1 l" and stored["category"] == "Dairy"
    assert stored["description"] == "Whole milk from a local farm."
    assert stored["attributes"] == {"fat": 3.5, "organic": False, "brand": "Arla"}  # types kept, origin removed

    # a form mistake is caught before sending; an API error is shown inline, in the form
    page.click("#add-attribute")
    page.locator("#edit-attributes .attribute-row").last.locator(".attr-key").fill("brand")
    page.click("#save-product")
    page.wait_for_function("document.querySelector('#edit-status').textContent.includes('twice')")
    page.locator("#edit-attributes .attribute-row").last.locator("button.remove").click()
    with web_server.client(KEY) as c:
        assert c.delete("/products/Edit-Me").status_code == 200  # someone else deletes it meanwhile
    page.click("#save-product")
    page.wait_for_function("document.querySelector('#edit-status').classList.contains('error')")
    assert "Edit-Me" in page.inner_text("#edit-status") and page.is_visible("#edit-status")
    assert not page.errors and not page.foreign
    page.close()


def test_add_then_delete_product(browser, web_server, query_photos):
    page = open_page(browser, web_server, "/#/catalog")
    page.wait_for_selector("#products .card")
    save_key(page, KEY)
    page.click("#add-box summary")
    page.fill("#new-id", "Browser-Apple")
    page.fill("#new-title", "Browser Apple")
    page.fill("#new-category", "Apple")
    page.set_input_files("#new-photos", [str(query_photos["Granny-Smith"])])
    page.click("#add-btn")
    page.wait_for_function("document.querySelector('#add-status').textContent.startsWith('Added Browser-Apple')")
    page.locator('#products .card[data-product-id="Browser-Apple"]').wait_for()
    shot(page, "web", "catalog")

    # the new product is found by its own photo, and its page shows the photo and similar products
    page.goto(web_server.url + "/#/")
    page.set_input_files("#file", str(query_photos["Granny-Smith"]))
    page.wait_for_selector('#results .card[data-product-id="Browser-Apple"]')
    assert page.locator("#results .card").first.get_attribute("data-product-id") == "Browser-Apple"
    page.locator("#results .card").first.click()
    page.wait_for_selector("#p-similar .card")
    assert page.inner_text("#p-title") == "Browser Apple" and page.locator("#p-images img").count() == 1
    shot(page, "web", "product")

    # a photo added from the product page
    page.set_input_files("#upload-photos", [str(query_photos["Banana"])])
    page.click("#upload-btn")
    page.wait_for_function("document.querySelector('#images-status').textContent === 'Added 1 photo.'")
    assert page.locator("#p-images img").count() == 2

    page.goto(web_server.url + "/#/catalog")
    page.wait_for_selector('#products .card[data-product-id="Browser-Apple"] button.delete', state="visible")
    with web_server.client(KEY) as c:  # deleted elsewhere first: the card says why the click failed
        assert c.delete("/products/Browser-Apple").status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#products .card[data-product-id="Browser-Apple"] button.delete').click()
    error = page.locator('#products .card[data-product-id="Browser-Apple"] .card-error')
    error.wait_for()
    assert "Browser-Apple" in error.inner_text()
    assert not page.foreign
    page.close()


def test_phone_screen(browser, web_server, query_photos):
    page = open_page(browser, web_server, screen=PHONE)
    page.set_input_files("#file", str(query_photos["Arla-Standard-Milk"]))
    page.wait_for_selector("#results .card")
    assert page.locator("#results .card").first.get_attribute("data-product-id") == "Arla-Standard-Milk"
    # the nav is one row of tabs under the brand: no link wraps or drops to a line of its own
    links = [page.locator(f"#{name}").bounding_box() for name in ("nav-search", "nav-catalog", "nav-duplicates")]
    assert len({round(b["y"]) for b in links}) == 1 and all(b["height"] < 45 for b in links)
    assert links[0]["x"] < links[1]["x"] < links[2]["x"] and links[2]["x"] + links[2]["width"] <= 390
    assert page.locator("header").bounding_box()["height"] < 110
    assert_fits_screen(page)
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete)")
    shot(page, "web", "phone")
    page.close()


def test_text_only_search(browser, web_server):
    page = open_page(browser, web_server, screen={"viewport": {"width": 1024, "height": 800}})
    page.fill("#text", "milk")
    page.press("#text", "Enter")
    page.wait_for_selector("#results .card")
    assert page.locator("#results .card").first.get_attribute("data-product-id") == "Arla-Standard-Milk"
    assert not page.is_visible("#recognition")  # no photo, no verdict
    page.close()
