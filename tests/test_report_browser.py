"""The HTML report in a real browser: Debian's headless Chromium, driven by playwright (no browser download).

`bash dev.sh test` installs /usr/bin/chromium when it is missing, so this runs in CI; elsewhere it is skipped
with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from browser_support import launch_chromium, needs_chromium

from perpetuum.datasets import load_adult
from perpetuum.evaluate import evaluate
from perpetuum.tabular import get_synthesizer

# A column name and a label that would run script if the report did not escape them.
HOSTILE_COLUMN = "<script>window.__perpetuumInjected = 1</script>"
HOSTILE_LABEL = '<img src="x" onerror="window.__perpetuumImage = 1">'

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A full report (holdout, target, attacks) on 2,000 Adult rows with one hostile column."""
    data = load_adult().sample(2_000, random_state=1).reset_index(drop=True)
    data[HOSTILE_COLUMN] = np.where(np.arange(len(data)) % 4 == 0, HOSTILE_LABEL, "harmless")
    train, holdout = data.iloc[:1_600].reset_index(drop=True), data.iloc[1_600:].reset_index(drop=True)
    synthetic = get_synthesizer("copula")(seed=0).fit(train).sample(len(train), seed=0)
    evaluation = evaluate(
        train, synthetic, holdout=holdout, target="income", anonymeter_attacks=50, progress=False,
        metadata={"synthesizer": HOSTILE_COLUMN, "lineage": {"source": HOSTILE_LABEL, "rows": 2_000, "seed": 0}},
    )
    return evaluation.to_html(tmp_path_factory.mktemp("browser") / "report.html")


@pytest.fixture(scope="module")
def page_session(report):
    """The report opened in headless Chromium, with every console message, page error and request seen."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    seen = {"console": [], "errors": [], "requests": []}
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: seen["console"].append((message.type, message.text)))
            page.on("pageerror", lambda error: seen["errors"].append(str(error)))
            page.on("request", lambda request: seen["requests"].append(request.url))
            page.goto(report.resolve().as_uri(), wait_until="load")
            yield page, seen
        finally:
            browser.close()


def test_report_renders_without_console_errors_or_page_errors(page_session):
    _, seen = page_session
    assert seen["errors"] == []
    assert [text for kind, text in seen["console"] if kind == "error"] == []


def test_report_makes_no_network_request(page_session):
    _, seen = page_session
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]


def test_headline_shows_three_scores_with_their_meanings(page_session):
    page, _ = page_session
    cards = page.locator("#headline .card")
    assert cards.count() == 3
    text = page.locator("#headline").inner_text()
    for name in ["FIDELITY", "UTILITY", "PRIVACY"]:
        assert name in text.upper()
    for index in range(3):
        score = cards.nth(index).locator(".score").inner_text()
        assert 0.0 <= float(score) <= 1.0
        assert cards.nth(index).locator(".meaning").inner_text().strip()


def test_every_section_renders_and_is_visible(page_session):
    page, _ = page_session
    for section, heading in [("fidelity", "Fidelity"), ("columns", "Distributions"), ("associations", "associations"),
                             ("utility", "Utility"), ("privacy", "Privacy"), ("collapse", "Collapse signals"),
                             ("schema", "Schema"), ("provenance", "Lineage")]:
        locator = page.locator(f"#{section}")
        assert locator.is_visible(), section
        assert heading in locator.inner_text(), section
    assert page.locator("#privacy .riskbar").count() >= 3  # Anonymeter risks with intervals


def test_every_plot_is_an_image_the_browser_could_decode(page_session):
    page, _ = page_session
    images = page.locator("img")
    assert images.count() >= 16  # one per column, the heat map and the precision/recall curves
    widths = page.eval_on_selector_all("img", "images => images.map(image => image.naturalWidth)")
    assert all(width > 0 for width in widths), widths


def test_a_hostile_column_name_is_shown_as_text_and_does_not_run(page_session):
    page, _ = page_session
    assert page.evaluate("typeof window.__perpetuumInjected") == "undefined"
    assert page.evaluate("typeof window.__perpetuumImage") == "undefined"
    assert page.locator("#schema").get_by_text(HOSTILE_COLUMN, exact=True).count() == 1
    assert HOSTILE_LABEL in page.locator("#provenance").inner_text()
    assert page.locator("script").count() == 0
