"""The search page's "Every product" mode in a real headless Chromium at 1280 and 390 px: boxes
drawn over a multi-product photo, one result strip per box, a click on a box focuses it.
Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from browser_support import DESKTOP, PHONE, shot
from productlens.detection.composites import compose

KEY = "browser-key"


@pytest.fixture(scope="module")
def web_server(serve_copy):
    with serve_copy(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def shelf_photo(query_photos, tmp_path_factory):
    """Three held-out Grocery photos standing on a drawn shelf (seeded: the same photo every run)."""
    pictures = [Image.open(p).convert("RGB") for p in query_photos.values()]
    for seed in range(50):
        made = compose(pictures, np.random.default_rng(seed), size=(480, 320), max_products=3)
        if len(made.boxes) == 3:
            break
    path = tmp_path_factory.mktemp("shelf") / "shelf.jpg"
    made.image.save(path, quality=92)
    return path


@pytest.mark.parametrize("screen", ["1280", "390"])
def test_boxes_over_the_photo_and_a_strip_per_box(browser, web_server, shelf_photo, screen):
    page = browser.new_page(**(DESKTOP if screen == "1280" else PHONE))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(web_server.url + "/")
    page.check("#objects")
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as answer:
        page.set_input_files("#file", str(shelf_photo))
    assert "objects" in answer.value.json()  # the page asked for objects=true
    page.wait_for_selector("#object-strips .strip")
    boxes, strips = page.locator("#detections .det"), page.locator("#object-strips .strip")
    assert boxes.count() >= 2 and strips.count() == boxes.count()
    assert page.locator("#results .card").count() == 0  # one list per object, not one for the photo
    stage = page.locator("#stage").bounding_box()
    for i in range(boxes.count()):
        drawn = boxes.nth(i).bounding_box()
        assert stage["x"] - 1 <= drawn["x"] and drawn["x"] + drawn["width"] <= stage["x"] + stage["width"] + 1
    page.wait_for_function("[...document.querySelectorAll('.strip img')].every(i => i.complete && i.naturalWidth > 0)")
    shot(page, "web", f"objects-{screen}")
    boxes.nth(1).click()
    assert "focus" in (boxes.nth(1).get_attribute("class") or "") and "focus" not in (boxes.nth(0).get_attribute("class") or "")
    assert "focus" in (strips.nth(1).get_attribute("class") or "")
    shot(page, "web", f"objects-focused-{screen}")
    assert not errors
    page.close()
