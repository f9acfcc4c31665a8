"""Render an HTML report to a full-page PNG with Debian's headless Chromium, to look at it without a desktop.

    .venv/bin/python scripts/screenshot_report.py perpetuum-demo/report.html report.png [--width 1280]

Uses the same browser and flags as the browser tests (tests/browser_support.py: /usr/bin/chromium, installed by
`bash dev.sh test`), and prints the console messages and page errors it saw, so a broken report shows here too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# the browser, flags and launch the browser tests use
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_support import CHROMIUM, launch_chromium  # noqa: E402


def screenshot(report: Path, output: Path, width: int = 1280) -> list[str]:
    """Write a full-page PNG of `report` to `output`; returns the console messages and page errors seen."""
    from playwright.sync_api import sync_playwright

    messages: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda message: messages.append(f"console {message.type}: {message.text}"))
            page.on("pageerror", lambda error: messages.append(f"page error: {error}"))
            page.goto(report.resolve().as_uri(), wait_until="load")
            page.screenshot(path=str(output), full_page=True)
        finally:
            browser.close()
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the HTML report to render")
    parser.add_argument("output", type=Path, help="the PNG file to write")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels (default 1280)")
    options = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing; install Debian's chromium (apt-get install -y chromium)", file=sys.stderr)
        return 2
    if not options.report.is_file():
        print(f"no such report: {options.report}", file=sys.stderr)
        return 2
    messages = screenshot(options.report, options.output, options.width)
    for message in messages:
        print(message)
    print(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
