"""Debian's headless Chromium for the browser tests (and scripts/screenshot_report.py): where it is, the flags it
runs with, and the skip marker for machines without it. Playwright drives it; its own browser download is never
used."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: run `bash dev.sh test` (it installs Debian's chromium) or "
    "`apt-get install -y chromium`",
)


def launch_chromium(playwright):
    """A playwright Browser on Debian's Chromium with the flags above."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
