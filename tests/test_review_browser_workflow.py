"""The review desk's second pass in a real browser (Debian's headless Chromium through playwright, as in
tests/test_review_browser.py): an export whose card counts what was exported, Markdown that stays text, guarded
verdicts, a taken port, edits that keep their place, errors as desk pages, diffs, the log, triage, repairs, and the
record page's layout at 800 and 1280 pixels.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from browser_support import WatchedPage, chromium_browser, needs_chromium
from test_review import (
    HOSTILE,
    ORIGINAL_TURN,
    REPAIRED_TURN,
    WRONG_TURN,
    repaired_records,
    write_dataset,
)
from test_review_browser import serve_desk

from perpetuum.review import ReviewStore, export_reviewed

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture
def folder(tmp_path):
    return write_dataset(tmp_path / "out")


@pytest.fixture
def served(folder):
    with serve_desk(folder) as server:
        yield server


@pytest.fixture
def watched(browser):
    session = WatchedPage(browser)
    yield session
    session.close()


def _in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        """selector => { const box = document.querySelector(selector).getBoundingClientRect();
        return box.top >= 0 && box.bottom <= window.innerHeight && box.left >= 0 && box.right <= window.innerWidth; }""",
        selector,
    )


# -- defect 1: the exported card describes the exported records --------------------------------------------------


def test_after_rejecting_records_the_exported_card_counts_only_what_was_exported(served, folder, watched, tmp_path):
    page = watched.page
    page.goto(f"{served.url}/records/0")
    page.fill("#reason", "wrong sum")
    page.click("#reject")
    page.wait_for_url("**/records/1")
    page.keyboard.press("a")
    page.wait_for_url("**/records/2")
    page.keyboard.press("a")
    page.wait_for_url("**/records/3")
    page.keyboard.press("r")
    page.keyboard.type("tests fail")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{served.url}/")
    assert page.locator("[data-count=reviewed]").inner_text() == "4"

    card = export_reviewed(folder, tmp_path / "reviewed").card
    markdown = (tmp_path / "reviewed" / "card.md").read_text()
    assert card["records"]["kept"] == 2 and "| 4 | 4 | 0 | 2 | 2 |" in markdown  # requested ... dropped, kept
    assert "| claim_check | python | 2 of 2 | 100.0% | none |" in markdown
    assert card["collapse_signals"]["per_column"]["lesson"]["diversity"]["texts"] == 2
    assert "## As generated, before review" in markdown and "| claim_check | 3 of 4 |" in markdown
    assert watched.errors == []


# -- defect 2: a Markdown card carries no HTML from untrusted text ----------------------------------------------


def test_a_hostile_reason_and_reviewer_name_stay_text_in_the_rendered_card(served, folder, watched, tmp_path):
    from markdown_it import MarkdownIt

    page = watched.page
    page.goto(f"{served.url}/records/2")
    page.fill("#reviewer-name", '<img src=x onerror="window.__cardRan = 1">')
    page.click("form.reviewer button")
    page.wait_for_url("**/records/2")
    page.fill("#reason", '<img src=y onerror="window.__cardRan = 2"> [see](javascript:window.__cardRan=3)')
    page.click("#reject")
    page.wait_for_url("**/records/3")

    export_reviewed(folder, tmp_path / "reviewed")
    markdown = (tmp_path / "reviewed" / "card.md").read_text()
    assert "<img" not in markdown
    # What a Markdown viewer that passes HTML through would show: text, no element, no link.
    page.set_content(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    assert page.locator("img").count() == 0 and page.locator("a").count() == 0
    assert page.evaluate("typeof window.__cardRan") == "undefined"
    assert 'onerror="window.__cardRan = 2"' in page.inner_text("body")


# -- defect 3: flagged records and validator verdicts are guarded -----------------------------------------------


def test_accepting_a_flagged_record_asks_first_and_the_card_counts_it(served, folder, watched, tmp_path):
    page = watched.page
    page.goto(f"{served.url}/records/0")
    assert page.locator("#field-claim_check summary", has_text="Edit as JSON").count() == 0  # a verdict is read-only
    page.keyboard.press("a")
    page.wait_for_load_state()
    confirm = page.locator("#confirm-flagged")
    assert "still flagged by claim_check" in confirm.inner_text() and _in_viewport(page, "#confirm-flagged")
    assert ReviewStore.open(folder).get(0).status == "pending"
    page.click("#accept-anyway")
    page.wait_for_url("**/records/1")
    assert ReviewStore.open(folder).get(0).status == "accepted"
    review = export_reviewed(folder, tmp_path / "reviewed").card["review"]
    assert review["accepted_while_flagged"] == 1
    assert "| 1 | 0 | 0 | 0 |" in (tmp_path / "reviewed" / "card.md").read_text()
    assert watched.errors == []


def test_a_verdict_is_overridden_only_with_a_reason_and_the_card_counts_it(served, folder, watched, tmp_path):
    page = watched.page
    page.goto(f"{served.url}/records/3")
    section = page.locator("#field-tests_pass")
    section.locator("summary", has_text="Override with a reason").click()
    section.locator("input[name=reason]").fill("the test itself is wrong: add(2, 2) is 4")
    section.locator("button", has_text="Mark as passed").click()
    page.wait_for_url("**/records/3#field-tests_pass")
    assert "Overridden by ana (was failed): the test itself is wrong" in section.inner_text()
    assert page.locator("h1 .badge.failed").count() == 0  # no longer flagged
    assert "tests_pass overridden by hand to passed" in page.locator("#history").inner_text()
    page.keyboard.press("a")
    page.wait_for_url(f"{served.url}/")
    review = export_reviewed(folder, tmp_path / "reviewed").card["review"]
    assert review["verdicts_overridden"] == 1 and review["overrides_by_column"] == {"tests_pass": 1}
    assert review["accepted_while_flagged"] == 0
    assert watched.errors == []


# -- defect 4: a taken port is said before any address is printed -----------------------------------------------


def test_a_second_desk_on_a_taken_port_says_so_and_prints_no_address(tmp_path, watched):
    first = write_dataset(tmp_path / "first")
    second = write_dataset(tmp_path / "second")
    with serve_desk(first) as running:
        result = subprocess.run(
            [sys.executable, "-m", "perpetuum", "review", str(second), "--port", str(running.port)],
            capture_output=True, text=True, timeout=60,
        )
        output = " ".join((result.stdout + result.stderr).split())
        assert result.returncode == 2, output
        assert f"port {running.port} on 127.0.0.1 is already in use" in output
        assert f"--port {running.port + 1}" in output and "Open http" not in output
        watched.page.goto(f"{running.url}/")  # the desk that was there answers, over its own data
        assert watched.page.locator(".dataset").inner_text() == "first"


# -- defect 5: edits keep their place; a flagged record opens at its claim ---------------------------------------


def test_saving_returns_to_the_edited_turn_and_a_flagged_record_opens_at_its_claim(served, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 600})
    try:
        page = context.new_page()
        page.goto(f"{served.url}/records/0")
        assert page.locator("#lesson-turn-1 mark.wrong-claim").inner_text() == "7 + 5 is 13"
        assert _in_viewport(page, "#lesson-turn-1 mark.wrong-claim")

        page.goto(f"{served.url}/records/1")
        assert page.evaluate("window.scrollY") == 0  # nothing flagged: the top
        page.locator("#lesson-turn-3").scroll_into_view_if_needed()
        page.locator("#lesson-turn-3 summary").click()
        page.locator("#lesson-turn-3 textarea").fill("Well done: 7 + 5 is 12.")
        page.locator("#lesson-turn-3 textarea").press("Control+Enter")
        page.wait_for_url("**/records/1#lesson-turn-3")
        page.wait_for_function("window.scrollY > 0")
        assert page.locator("#lesson-turn-3 .content").inner_text() == "Well done: 7 + 5 is 12."
        assert _in_viewport(page, "#lesson-turn-3 .content")
    finally:
        context.close()


# -- defect 6: every error is a page of the desk that keeps what was typed ---------------------------------------


def test_errors_are_desk_pages_and_invalid_json_comes_back_in_its_editor(served, folder, watched):
    page = watched.page
    response = page.goto(f"{served.url}/records/abc")
    assert response.status == 404 and "application/json" not in response.headers["content-type"]
    assert "There is no record 'abc': records are numbered 0 to 3" in page.inner_text("#problem")
    assert page.locator("header.top [data-count=records]").inner_text() == "4"
    assert page.goto(f"{served.url}/records/7").status == 404 and "no record 7" in page.inner_text("#problem")
    assert page.goto(f"{served.url}/no/such/page").status == 404 and page.locator("#problem").count() == 1

    page.goto(f"{served.url}/records/1")
    section = page.locator("#field-quality")
    section.locator("summary", has_text="Edit as JSON").click()
    section.locator("textarea").fill('{"scores": {"correctness": 5,}')
    with page.expect_navigation() as navigation:
        section.locator("button[type=submit]").click()
    assert navigation.value.status == 400
    section = page.locator("#field-quality")
    assert "not valid JSON" in section.locator(".form-error").inner_text()
    editor = section.locator("details.edit[open] textarea")
    assert editor.input_value() == '{"scores": {"correctness": 5,}'  # what was typed, in place, to fix
    assert ReviewStore.open(folder).get(1).version == 1
    editor.fill('{"scores": {"correctness": 5, "pedagogy": 5}, "reasons": {"correctness": "ok", "pedagogy": "ok"}}')
    editor.press("Control+Enter")
    page.wait_for_url("**/records/1#field-quality")
    assert ReviewStore.open(folder).get(1).current["quality"]["scores"]["pedagogy"] == 5
    assert [error for error in watched.errors if "404" not in error and "400" not in error] == []


# -- what reviewers expect: diffs, revert, the log, triage, repairs ---------------------------------------------


def test_history_shows_a_word_diff_and_reverts_a_field(served, folder, watched):
    page = watched.page
    page.goto(f"{served.url}/records/0")
    page.locator("#lesson-turn-1 summary").click()
    page.locator("#lesson-turn-1 textarea").fill("Good start! 7 + 5 is 12, so you have 12 apples.")
    page.locator("#lesson-turn-1 textarea").press("Control+Enter")
    page.wait_for_url("**/records/0#lesson-turn-1")
    edit_row = page.locator("#history tr.action-edit")
    assert edit_row.locator("del").all_inner_texts() == ["13", "13"]  # the words that changed, not the whole turn
    assert edit_row.locator("ins").all_inner_texts() == ["12", "12"]
    changed = page.locator("#lesson-turn-1 details.from-original")  # the turn against the record as generated
    changed.locator("summary").click()
    assert changed.locator("del").all_inner_texts() == ["13", "13"]
    edit_row.locator("button", has_text="revert this field").click()
    page.wait_for_url("**/records/0#lesson-turn-1")
    assert page.locator("#lesson-turn-1 .content").inner_text() == WRONG_TURN
    assert ReviewStore.open(folder).get(0).current["lesson"][1]["content"] == WRONG_TURN
    assert page.locator("#lesson-turn-1.flagged").count() == 1  # the claim checker ran again on the reverted text
    assert page.locator("#lesson-turn-1 details.from-original").count() == 0  # as generated again

    page.goto(f"{served.url}/records/1")  # a short field inside a JSON answer, reverted from its own diff
    page.click("#short-fields > summary")
    page.locator("#field-problem-title summary", has_text="Edit").click()
    page.locator("#field-problem-title textarea").fill("Pears")
    page.locator("#field-problem-title textarea").press("Control+Enter")
    page.wait_for_url("**/records/1#field-problem-title")
    assert _in_viewport(page, "#field-problem-title")  # its closed section opened to show it
    page.locator("#field-problem-title details.from-original summary").click()
    page.locator("#field-problem-title button", has_text="revert this field to the original").click()
    page.wait_for_url("**/records/1#field-problem-title")
    assert ReviewStore.open(folder).get(1).current["problem"]["title"] == "Apples"


def test_the_log_reads_as_text_filters_by_reviewer_and_action_and_pages(served, folder, watched):
    store = ReviewStore.open(folder)
    version = 1
    for round_number in range(30):  # 60 actions: more than one page
        version = store.accept(1, version=version, reviewer="ben" if round_number % 2 else "ana").version
        version = store.reset(1, version=version, reviewer="ana").version
    store.reject(2, "off topic", version=1, reviewer="cy")
    page = watched.page
    page.goto(f"{served.url}/log")
    assert "61 actions; page 1 of 2" in page.inner_text("#log-size")
    assert page.locator("#log tbody tr").first.inner_text().split("\t")[-1].strip() == "rejected: off topic"
    page.click("#log-older")
    assert "page 2 of 2" in page.inner_text("#log-size") and page.locator("#log tbody tr").count() == 11
    page.goto(f"{served.url}/log")
    page.select_option("select[name=reviewer]", "ben")
    page.select_option("select[name=action]", "accept")
    page.click("#log-filters button")
    assert page.inner_text("#log-size").startswith("15 actions")
    assert set(page.locator("#log tbody td:nth-child(3)").all_inner_texts()) == {"ben"}
    assert set(page.locator("#log td.what .summary").all_inner_texts()) == {"accepted"}


def test_a_conflict_shows_the_words_that_differ(served, browser):
    first, second = WatchedPage(browser), WatchedPage(browser)
    try:
        for session in (first, second):
            session.page.goto(f"{served.url}/records/0")
            session.page.locator("#lesson-turn-1 summary").click()
        first.page.locator("#lesson-turn-1 textarea").fill("Good start! 7 + 5 is 12, so you have 12 apples.")
        first.page.locator("#lesson-turn-1 button[type=submit]").click()
        first.page.wait_for_url("**#lesson-turn-1")
        second.page.locator("#lesson-turn-1 textarea").fill("Good start! 7 + 5 is twelve, so you have 12 apples.")
        second.page.locator("#lesson-turn-1 button[type=submit]").click()
        second.page.wait_for_selector("#conflict-diff")
        diff = second.page.locator("#conflict-diff")
        assert diff.locator("del").all_inner_texts() == ["12"] and diff.locator("ins").all_inner_texts() == ["twelve"]
        assert "edited lesson[1].content" in second.page.inner_text("#conflict")
    finally:
        first.close()
        second.close()


def test_triage_search_preview_metadata_strip_and_progress_bar(served, watched):
    page = watched.page
    page.goto(f"{served.url}/")
    assert page.locator("tr[data-id='1'] td.preview").inner_text().startswith(
        "addition · Apples · Mia has 7 apples and gets 5 more.")
    page.keyboard.press("/")
    page.keyboard.type("a - b")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=a+-+b*")
    assert page.locator("table.queue tbody tr").count() == 1 and page.locator("tr[data-id='3']").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_url("**/records/3?q=a+-+b")
    strip = page.locator("#metadata")
    assert "operation addition" in " ".join(strip.inner_text().split())
    assert "answer 12" in " ".join(strip.inner_text().split())
    assert page.inner_text("#reviewed-progress") == "0 of 4 reviewed"
    page.goto(f"{served.url}/records/1")
    page.keyboard.press("a")
    page.wait_for_url("**/records/2")
    assert page.inner_text("#reviewed-progress") == "1 of 4 reviewed"


def test_an_automatic_repair_is_shown_beside_its_original_and_can_be_kept_or_reverted(tmp_path, watched):
    folder = write_dataset(tmp_path / "repaired", repaired_records())
    with serve_desk(folder) as server:
        page = watched.page
        page.goto(f"{server.url}/records/0")
        repair = page.locator("#lesson-turn-1-repair")
        assert page.locator("#lesson-turn-1 > .content").inner_text() == REPAIRED_TURN
        assert repair.locator(".repair-original .content").inner_text() == ORIGINAL_TURN
        assert repair.locator(".repair-original mark.wrong-claim").inner_text() == "7 + 5 is 13"
        assert "failed" in repair.locator(".repair-verdict").inner_text()
        assert "expected 12" in repair.locator(".repair-verdict").inner_text()
        assert repair.locator(".repair-new del").all_inner_texts() == ["13", "13"]
        repair.locator("button", has_text="Revert to the original").click()
        page.wait_for_url("**/records/0#lesson-turn-1")
        store = ReviewStore.open(folder)
        record = store.get(0)
        assert record.current["lesson"][1]["content"] == ORIGINAL_TURN
        assert record.current["lesson"][1]["repair"]["decision"] == "reverted"
        assert record.flagged == ["claim_check"]  # the original's wrong claim is back, and checked again
        assert page.locator("#lesson-turn-1.flagged").count() == 1

        page.goto(f"{server.url}/records/1")
        page.locator("#lesson-turn-1-repair button", has_text="Keep the repair").click()
        page.wait_for_url("**/records/1#lesson-turn-1")
        assert "Repair accepted." in page.inner_text("#lesson-turn-1-repair")
        assert [entry["action"] for entry in store.log(1)] == ["repair accept"]
        assert store.get(1).current["lesson"][1]["content"] == REPAIRED_TURN
        assert watched.errors == []


# -- the record page at the two widths reviewers use ------------------------------------------------------------


@pytest.mark.parametrize("width", [800, 1280])
def test_the_record_page_fits_its_width_and_keeps_the_action_bar_in_view(served, browser, width, tmp_path):
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{served.url}/records/0")
        shot = tmp_path / f"record-{width}.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no horizontal overflow
        for selector in ("#action-bar", "#accept", "#reason", "#reject", "#reviewed-progress",
                         "#lesson-turn-1", "#lesson-turn-1 mark.wrong-claim"):
            assert _in_viewport(page, selector), selector
        bar = page.locator("#action-bar").bounding_box()
        assert bar["y"] + bar["height"] == pytest.approx(900, abs=1) and bar["height"] < 80  # one line at the bottom
        turn = page.locator("#lesson-turn-1").bounding_box()
        assert turn["y"] + turn["height"] <= bar["y"]  # the flagged turn is not under the bar
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        assert _in_viewport(page, "#action-bar") and _in_viewport(page, "#accept")
        # nothing covers the buttons: a click at their centre reaches them
        assert page.evaluate("""() => { const box = document.getElementById('accept').getBoundingClientRect();
            return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2).closest('#accept') !== null; }""")
        history = page.locator("#history").bounding_box()
        assert history["y"] + history["height"] <= bar["y"] + 1  # the page's end is not hidden behind the bar
    finally:
        context.close()


def test_hostile_text_stays_text_in_diffs_the_log_and_a_repair(tmp_path, watched):
    records = repaired_records()
    records[0]["lesson"][1]["repair"]["original"] = HOSTILE
    folder = write_dataset(tmp_path / "hostile", records)
    store = ReviewStore.open(folder)
    store.edit(1, ["lesson", 1, "content"], HOSTILE, version=1, reviewer="<b>x</b>")
    with serve_desk(folder) as server:
        page = watched.page
        for path in ("/records/0", "/records/1", "/log", "/log?reviewer=%3Cb%3Ex%3C%2Fb%3E"):
            page.goto(f"{server.url}{path}")
            assert page.evaluate("typeof window.__perpetuumInjected") == "undefined", path
            assert page.evaluate("typeof window.__perpetuumImage") == "undefined", path
        assert "__perpetuumInjected" in page.inner_text("#log")
        assert json.loads(json.dumps(store.log(1)[0]["after"])) == HOSTILE
        assert watched.errors == []
