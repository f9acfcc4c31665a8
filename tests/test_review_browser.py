"""The review desk in a real browser: Debian's headless Chromium driven by playwright (no browser download), against
the app served by uvicorn on 127.0.0.1 in a thread. Skipped, with the reason, where /usr/bin/chromium is missing
(`bash dev.sh test` installs it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser_support import ServedApp, WatchedPage, chromium_browser, needs_chromium

from perpetuum.recipes.math_claims import check_claims
from perpetuum.review import ReviewStore, create_app
from test_review import (
    EXERCISE_COLUMNS,
    HOSTILE,
    WRONG_TURN,
    dataset_records,
    exercise_records,
    write_dataset,
)

FIXED_TURN = "Good start! Count on from 7: 8, 9, 10, 11, 12. So 7 + 5 is 12."

pytestmark = needs_chromium


def serve_desk(folder: Path, **options) -> ServedApp:
    """The review app over `folder` (reviewer "ana"), served on a free loopback port."""
    return ServedApp(create_app(folder, reviewer="ana", **options))


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture
def folder(tmp_path) -> Path:
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


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_fix_a_flagged_teacher_turn_accept_reject_another_and_export(served, folder, watched, tmp_path):
    page = watched.page
    page.goto(f"{served.url}/")
    assert page.locator("[data-count=flagged]").inner_text() == "2"
    page.check("input[name=flagged]")
    page.click("button:has-text('Show')")
    assert page.locator("table.queue tbody tr").count() == 2
    assert "7 + 5 = 13" in page.locator("table.queue tbody tr").first.inner_text()  # why it is flagged

    page.keyboard.press("Enter")  # the first row is selected: open it
    page.wait_for_url("**/records/0?flagged=1")
    flagged = page.locator("li.turn.flagged")
    assert flagged.count() == 1
    assert flagged.get_attribute("data-turn") == "1" and flagged.get_attribute("data-role") == "teacher"
    assert flagged.locator(".content").inner_text() == WRONG_TURN
    assert "7 + 5 = 13" in flagged.locator(".claim").inner_text()
    assert "expected 12" in flagged.locator(".claim").inner_text()

    page.keyboard.press("e")  # opens the flagged turn's editor, focused
    editor = flagged.locator("textarea")
    assert editor.is_visible() and editor.evaluate("element => element === document.activeElement")
    editor.fill(FIXED_TURN)
    editor.press("Control+Enter")
    page.wait_for_load_state()
    turn = page.locator("#lesson-turn-1")
    assert turn.locator(".content").inner_text() == FIXED_TURN
    assert turn.locator(".badge.edited").count() == 1
    assert page.locator("[data-count=edited]").inner_text() == "1"

    page.keyboard.press("a")  # accept, then on to the next record of the queue
    page.wait_for_url("**/records/3?flagged=1")
    page.keyboard.press("r")
    page.keyboard.type("the solution subtracts")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?flagged=1")
    counts = {name: page.locator(f"[data-count={name}]").inner_text()
              for name in ("accepted", "rejected", "edited", "reviewed", "pending")}
    assert counts == {"accepted": "1", "rejected": "1", "edited": "1", "reviewed": "2", "pending": "2"}
    # the corrected claim was checked again on save, so record 0 has left the flagged queue
    assert page.locator("tr[data-id='0']").count() == 0 and page.locator("[data-count=flagged]").inner_text() == "1"
    assert "the solution subtracts" in page.locator("tr[data-id='3']").inner_text()
    page.uncheck("input[name=flagged]")
    page.click("button:has-text('Show')")
    assert page.locator("tr[data-id='0'] .badge.accepted").count() == 1

    from typer.testing import CliRunner

    from perpetuum.cli import app

    out = tmp_path / "reviewed"
    result = CliRunner().invoke(app, ["review", "export", str(folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    [exported] = _read_jsonl(out / "data.jsonl")
    assert exported.pop("source_index") == 0 and exported.pop("review")["decision"] == "accepted"
    expected = dataset_records()[0]
    expected["lesson"][1]["content"] = FIXED_TURN
    expected["claim_check"] = check_claims(expected["lesson"])  # re-run when the turn was saved
    assert expected["claim_check"]["passed"] is True and exported == expected
    [rejected] = _read_jsonl(out / "rejected.jsonl")
    assert (rejected["index"], rejected["detail"]) == (3, "the solution subtracts")
    log = _read_jsonl(out / "review_log.jsonl")
    assert [(entry["record"], entry["action"], entry["field"], entry["reviewer"]) for entry in log] == [
        (0, "edit", "lesson[1].content", "ana"), (0, "recheck", "claim_check", "ana"), (0, "accept", None, "ana"),
        (3, "reject", None, "ana")]
    assert (log[0]["before"], log[0]["after"]) == (WRONG_TURN, FIXED_TURN)
    review = json.loads((out / "card.json").read_text())["review"]
    assert (review["accepted"], review["rejected"], review["edited"], review["pending"]) == (1, 1, 1, 2)
    assert "## Review" in (out / "card.md").read_text()
    assert watched.errors == []
    assert all(url.startswith(served.url) for url in watched.requests), watched.requests


def test_generated_markup_is_shown_as_text_and_never_runs(served, watched):
    page = watched.page
    page.goto(f"{served.url}/records/2")
    assert page.locator("#lesson-turn-1 .content").inner_text() == HOSTILE
    assert HOSTILE in page.locator("#field-problem").inner_text()
    page.goto(f"{served.url}/")
    page.goto(f"{served.url}/log")
    assert page.evaluate("typeof window.__perpetuumInjected") == "undefined"
    assert page.evaluate("typeof window.__perpetuumImage") == "undefined"
    assert page.locator("script").count() == 1 and page.locator("script").get_attribute("src") == "/static/review.js"
    assert watched.errors == []


def test_an_edited_hostile_turn_stays_text_everywhere_it_is_shown(served, watched):
    page = watched.page
    page.goto(f"{served.url}/records/1")
    page.locator("#lesson-turn-3 summary").click()
    page.locator("#lesson-turn-3 textarea").fill(HOSTILE)
    page.locator("#lesson-turn-3 button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#lesson-turn-3 .content").inner_text() == HOSTILE
    page.goto(f"{served.url}/log")
    assert "__perpetuumInjected" in page.locator("#log").inner_text()
    assert page.evaluate("typeof window.__perpetuumInjected") == "undefined"
    assert page.evaluate("typeof window.__perpetuumImage") == "undefined"


def test_a_second_reviewer_saving_the_same_turn_sees_both_versions_and_loses_nothing(served, folder, browser):
    first, second = WatchedPage(browser), WatchedPage(browser)
    try:
        for session in (first, second):
            session.page.goto(f"{served.url}/records/0")
            session.page.locator("#lesson-turn-1 summary").click()
        first.page.locator("#lesson-turn-1 textarea").fill("Ana's fix: 7 + 5 is 12.")
        first.page.locator("#lesson-turn-1 button[type=submit]").click()
        first.page.wait_for_load_state()
        second.page.locator("#lesson-turn-1 textarea").fill("Ben's fix: twelve.")
        with second.page.expect_navigation() as navigation:
            second.page.locator("#lesson-turn-1 button[type=submit]").click()
        assert navigation.value.status == 409
        conflict = second.page.locator("#conflict")
        assert "Someone saved record #0" in conflict.inner_text()
        assert second.page.locator("#theirs").inner_text() == "Ana's fix: 7 + 5 is 12."
        assert second.page.locator("#mine").input_value() == "Ben's fix: twelve."
        assert ReviewStore.open(folder).get(0).current["lesson"][1]["content"] == "Ana's fix: 7 + 5 is 12."

        second.page.click("#save-mine")  # deliberately, after seeing both
        second.page.wait_for_url("**/records/0*")
        assert second.page.locator("#lesson-turn-1 .content").inner_text() == "Ben's fix: twelve."
        actions = [(entry["action"], entry["after"]) for entry in ReviewStore.open(folder).log(0)
                   if entry["action"] != "recheck"]
        assert actions == [
            ("edit", "Ana's fix: 7 + 5 is 12."),
            ("conflict", {"action": "edit", "value": "Ben's fix: twelve."}),
            ("edit", "Ben's fix: twelve."),
        ]
        assert first.errors == []
        assert [error for error in second.errors if "409 (Conflict)" not in error] == []  # the page's own status
    finally:
        first.close()
        second.close()


def test_with_a_token_the_browser_gets_nothing_without_it(folder, browser):
    with serve_desk(folder, token="tok-3f9a-secret") as server:
        stranger, reviewer = WatchedPage(browser), WatchedPage(browser)
        try:
            response = stranger.page.goto(f"{server.url}/records/0")
            assert response.status == 401 and "token is required" in stranger.page.inner_text("body")
            assert WRONG_TURN not in stranger.page.content()
            assert stranger.page.goto(f"{server.url}/?token=wrong").status == 401

            reviewer.page.goto(f"{server.url}/?token=tok-3f9a-secret")
            assert reviewer.page.url == f"{server.url}/"  # the token left the address bar
            assert reviewer.page.locator("table.queue tbody tr").count() == 4
            reviewer.page.goto(f"{server.url}/records/1")
            reviewer.page.keyboard.press("a")
            reviewer.page.wait_for_url("**/records/2")
            assert ReviewStore.open(folder).get(1).status == "accepted"
        finally:
            stranger.close()
            reviewer.close()


def test_a_form_posted_from_another_site_is_refused(served, folder, watched, tmp_path):
    attacker = tmp_path / "attacker.html"
    attacker.write_text(
        f'<form id="f" method="post" action="{served.url}/records/1/accept"><input name="version" value="1">'
        '<input name="csrf" value="guess"></form>',
        encoding="utf-8",
    )
    watched.page.goto(f"{served.url}/records/1")  # the reviewer's browser has its cookies
    watched.page.goto(attacker.as_uri())
    with watched.page.expect_navigation() as navigation:
        watched.page.evaluate("document.getElementById('f').submit()")
    assert navigation.value.status == 403
    assert ReviewStore.open(folder).get(1).status == "pending"


def test_code_is_highlighted_with_its_test_result(served, watched):
    page = watched.page
    page.goto(f"{served.url}/records/3")
    code = page.locator("#field-solution pre.code")
    assert code.locator("span.k", has_text="def").count() == 1
    assert "return a - b" in code.inner_text()
    badge = page.locator("#field-solution .test-result")
    assert "tests_pass: failed" in badge.inner_text() and "add(2, 2) == 5" in badge.inner_text()
    assert page.locator("#field-quality tr.low").count() == 2  # 1 and 2 on a 1-5 scale
    assert watched.errors == []


def test_an_exercise_shows_its_code_and_each_test_highlighted_with_the_test_result(tmp_path, watched):
    folder = write_dataset(tmp_path / "exercises", exercise_records(), columns=EXERCISE_COLUMNS)
    with serve_desk(folder) as server:
        page = watched.page
        page.goto(f"{server.url}/records/0")
        section = page.locator("#field-exercise")
        assert section.locator("pre.code").count() == 4  # problem, solution and two tests
        assert section.locator("pre.code span.k", has_text="assert").count() == 2
        assert "tests_pass: failed" in section.locator(".checks").inner_text()
        assert "AssertionError in test 2" in section.locator(".checks").inner_text()
        assert watched.errors == []


def test_each_browser_can_name_its_reviewer_and_the_log_says_who_did_what(served, folder, watched):
    page = watched.page
    page.goto(f"{served.url}/records/1")
    page.fill("#reviewer-name", "Zoë <b>")
    page.click("form.reviewer button")
    page.wait_for_url("**/records/1")
    assert page.input_value("#reviewer-name") == "Zoë <b>"
    page.keyboard.press("a")
    page.wait_for_url("**/records/2")
    assert ReviewStore.open(folder).log(1)[0]["reviewer"] == "Zoë <b>"
    page.goto(f"{served.url}/log")
    assert "Zoë <b>" in page.locator("#log").inner_text()
