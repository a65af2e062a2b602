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
    shot(page, "report", f"report-{width}")
    page.close()
