"""report.html from a real `eval --report` in headless Chromium, on a laptop screen and a phone.

Screenshots: test-artifacts/report/report-1280.png and report-390.png.
"""

from __future__ import annotations

import pytest

from browser_support import DESKTOP, PHONE, assert_fits_screen, launch, shot
from productlens.evaluation.plots import read_fit


@pytest.fixture(scope="module")
def browser():
    yield from launch()


@pytest.mark.parametrize("screen", [DESKTOP, PHONE], ids=["1280", "390"])
def test_report_reads_on_laptop_and_phone(browser, cli_report, screen):
    report, _ = cli_report
    page = browser.new_page(**screen)
    errors: list[str] = []
    page.on("requestfailed", lambda r: errors.append(r.url))
    page.goto((report / "report.html").as_uri())
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.images].filter(i => !i.naturalWidth).map(i => i.src)") == []
    assert not errors
    assert_fits_screen(page)
    width = screen["viewport"]["width"]
    # Each plot is the drawing made for this screen, shown at (nearly) the size its text was
    # measured at, so its labels stay at least 11 px tall on screen.
    plots = page.evaluate("""[...document.querySelectorAll('figure.plot img')].map(i =>
        [i.currentSrc, i.getBoundingClientRect().width, i.naturalWidth / 2])""")
    assert len(plots) == 5
    for src, shown, drawn in plots:
        assert ("/phone/" in src) == (width < 600), src
        fit = read_fit(report / src.split(report.name + "/", 1)[1])
        assert fit.min_font_px * shown / drawn >= 11, (src, shown, drawn)
    # the headline table's headers (the methods' names, a trained version's long stamp too) wrap inside
    # the screen instead of being cut off
    clipped = page.evaluate("""(() => {
      const table = document.querySelector('table.scores'), right = table.parentElement.getBoundingClientRect().right;
      // a fifth method, as `eval --model v2` gives (the version evaluated beside the active one)
      for (const row of table.querySelectorAll('tr')) row.append(row.lastElementChild.cloneNode(true));
      table.style.setProperty('--methods', Number(table.style.getPropertyValue('--methods')) + 1);
      [...table.querySelectorAll('thead th')].at(-1).textContent = 'Version ft-20261207-153012 (histogram)';
      return [...table.querySelectorAll('thead th')].filter(th => th.getClientRects().length)
        .filter(th => th.scrollWidth > th.clientWidth + 1 || th.getBoundingClientRect().right > right + 1)
        .map(th => th.textContent);
    })()""")
    assert clipped == []
    shot(page, "report", f"report-{width}")
    page.close()


@pytest.mark.parametrize("screen", [DESKTOP, PHONE], ids=["1280", "390"])
def test_every_wrongly_named_photo_opens_from_the_report(browser, cli_report, screen):
    report, metrics = cli_report
    wrong = round(metrics["queries"] * (1 - metrics["methods"]["active: imagenet"]["fine_top1"]))
    page = browser.new_page(**screen)
    page.goto((report / "failures.html").as_uri())
    assert page.locator("li.failure").count() == wrong > 0
    page.locator("li.failure img").last.scroll_into_view_if_needed()
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.images].filter(i => !i.naturalWidth).map(i => i.src)") == []
    assert_fits_screen(page)
    page.click("text=the report")
    assert page.url.endswith("/report.html")
    shot(page, "report", f"failures-{screen['viewport']['width']}")
    page.close()
