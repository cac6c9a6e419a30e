"""The report in a real headless Chromium (Debian's `chromium`, driven by Playwright without
its own browser download): no console errors, every plot in the DOM with a size, and a
screenshot that is not blank."""
from __future__ import annotations

import io
import shutil

import pytest

from test_report import make_run, make_sweep

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page():
    if not shutil.which(CHROMIUM):
        pytest.skip("no chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright (pip install "
                                   "playwright; no browser download is needed)")
    with sync_api.sync_playwright() as driver:
        # headless, in a fresh temporary profile (Playwright's own); the network is closed
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1000, "height": 800})
        finally:
            browser.close()


def test_report_renders_in_chromium(page, tmp_path):
    from promptdsl.report import write_report
    out = write_report([make_run(tmp_path / "a"), make_sweep(tmp_path / "sw")],
                       tmp_path / "report.html")
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request {request.url}"))
    page.goto(out.as_uri())
    sizes = page.evaluate("""[...document.querySelectorAll('figure.plot > svg')]
        .map(svg => { const r = svg.getBoundingClientRect(); return [r.width, r.height]; })""")
    assert errors == []
    assert len(sizes) == out.read_text().count("<svg") == 14
    assert all(w > 100 and h > 100 for w, h in sizes), sizes
    from PIL import Image, ImageStat
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("L")
    assert ImageStat.Stat(shot).stddev[0] > 10      # not a blank page
    # the plots themselves draw: the first one's area is not one flat colour
    box = page.locator("figure.plot > svg").first.bounding_box()
    plot = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("L")
    assert ImageStat.Stat(plot).stddev[0] > 10
