"""The mediation room in a real Chromium.

Without JavaScript, a consumer enters the room through the charter, reads, posts, walks back through older
messages, and sees a message another participant (also without JavaScript) posted meanwhile through the
"newer messages" link. On a tablet (768 and 1024 px wide), the mediator's one screen is readable, without
horizontal scrolling, and every control is a comfortable touch target.

Browser tests use no async fixture: the case in mediation is made by a short script in a subprocess, on the
test run's database (the environment conftest set), like the CLI makes accounts in the other browser tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import PROJECT_ROOT, watch_problems

pytestmark = pytest.mark.browser

PASSWORD = "a quiet river at dawn"  # tests.factories.PASSWORD, which make_world's accounts get
EMPTY_POST_REFUSED = re.compile(
    r"status of 422 \(Unprocessable (Entity|Content)\) \(https?://[^ ]+/spaces/\d+/messages\)$")
PSEUDONYM = re.compile(r"^Participant \d{3,5}$")
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()

SETUP = """
import asyncio, json, sys, uuid
from datetime import UTC, datetime, timedelta

async def main(history):
    from app.actions.room import do_post_message, ensure_spaces
    from app.tables import Case, CharterAcceptance, Claim, Space
    from tests.factories import assign, make_world

    world = await make_world(status="in_mediation")
    await assign(world.case, world.mediator)
    now = datetime.now(UTC)
    await Case.update({Case.started_at: now, Case.ends_at: now + timedelta(days=90)}).where(Case.id == world.case.id)
    await Claim.update({Claim.status: "admitted"}).where(Claim.case == world.case.id)
    await ensure_spaces(world.case.id)
    plenary = (await Space.select(Space.id).where(Space.case == world.case.id, Space.kind == "plenary").first())["id"]
    if history:  # the mediator opened the discussion some time ago
        await CharterAcceptance.insert(CharterAcceptance(case=world.case.id, user=world.mediator.user.id))
        for index in range(1, history + 1):
            await do_post_message(world.mediator.user, plenary, f"Earlier message {index}", str(uuid.uuid4()))
    print(json.dumps({"case": world.case.id, "plenary": plenary, "alice": world.consumer_a.email,
                      "bruno": world.consumer_b.email, "mediator": world.mediator.email,
                      "company": world.member.email}))

asyncio.run(main(int(sys.argv[1])))
"""


def make_room(history: int = 0) -> dict[str, Any]:
    """A case in mediation (both claims admitted, a mediator), with `history` messages in its plenary."""
    done = subprocess.run([sys.executable, "-c", SETUP, str(history)], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def log_in(new_context: Callable[..., BrowserContext], live_server: str, email: str, *, javascript: bool,
           **options: Any) -> Page:
    context = new_context(java_script_enabled=javascript, **options)
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    return page


def enter_room(page: Page, case_id: int) -> None:
    page.goto(f"/cases/{case_id}/room")
    expect(page.get_by_role("heading", level=1)).to_have_text("Before you enter the mediation room")
    page.get_by_role("button", name="I accept the charter and enter the room").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plenary")


def test_without_javascript_a_participant_reads_and_posts(new_context: Callable[..., BrowserContext],
                                                          live_server: str) -> None:
    room = make_room(history=55)
    alice = log_in(new_context, live_server, room["alice"], javascript=False)
    problems = watch_problems(alice)
    enter_room(alice, room["case"])
    messages = alice.locator("#message-list article.message")
    # the latest 50, the mediator named by role, and the way back to older ones
    expect(messages).to_have_count(50)
    expect(messages.first).to_contain_text("Earlier message 6")
    expect(messages.last).to_contain_text("Earlier message 55")
    expect(messages.last.locator(".message-meta strong")).to_have_text("Mediator")
    alice.get_by_role("link", name="Older messages").click()
    expect(messages).to_have_count(5)
    expect(messages.first).to_contain_text("Earlier message 1")
    alice.get_by_role("link", name="Newer messages").click()
    expect(messages.last).to_contain_text("Earlier message 55")

    # an empty post is refused with a clear message, then a real one is posted and shown once, as hers
    alice.get_by_role("button", name="Send").click()
    expect(alice.locator("#f-body-error")).to_have_text("Please write a message (or attach a file).")
    alice.get_by_label("Your message").fill("Bonjour à tous,\nvoici mon avis : https://example.org/avis")
    alice.get_by_role("button", name="Send").click()
    mine = alice.locator("#m-56")
    expect(mine).to_contain_text("Bonjour à tous")
    expect(mine.locator(".message-meta strong")).to_have_text("You")
    expect(mine.get_by_role("link", name="https://example.org/avis")).to_have_attribute(
        "href", "https://example.org/avis")
    expect(alice.locator("article.message", has_text="Bonjour à tous")).to_have_count(1)
    expect(alice.get_by_label("Your message")).to_have_value("")

    # meanwhile Bruno, without JavaScript either, answers
    bruno = log_in(new_context, live_server, room["bruno"], javascript=False)
    enter_room(bruno, room["case"])
    expect(bruno.locator("#m-56 .message-meta strong")).to_have_text(PSEUDONYM)  # Alice, as Bruno sees her
    assert "Alice" not in bruno.locator("main").inner_text()
    bruno.get_by_label("Your message").fill("Je suis d'accord avec vous.")
    bruno.get_by_role("button", name="Send").click()
    expect(bruno.locator("#m-57")).to_contain_text("Je suis d'accord avec vous.")

    # Alice's page does not change by itself; the "newer messages" link brings Bruno's answer
    expect(alice.locator("#m-57")).to_have_count(0)
    alice.get_by_role("link", name="Check for newer messages").click()
    expect(alice.locator("#m-57")).to_contain_text("Je suis d'accord avec vous.")
    expect(alice.locator("#new-since")).to_have_text("New messages")
    expect(alice.locator("#m-57 .message-meta strong")).to_have_text(PSEUDONYM)
    assert "Bruno" not in alice.locator("main").inner_text()
    # the only console error is the refused empty post's 422, which is the point of that step
    assert [problem for problem in problems.all() if not EMPTY_POST_REFUSED.search(problem)] == []


def touch_problems(page: Page) -> list[str]:
    """Controls under 44 px high (links inside running text excepted), and horizontal scrolling."""
    small = page.evaluate(
        """() => [...document.querySelectorAll('main a, main button, main summary, main select, main textarea, '
                                                + 'main input:not([type=hidden])')]
             .filter(el => el.offsetParent !== null && !el.closest('.message-body, .hint'))
             .map(el => [el.outerHTML.slice(0, 80), Math.round(el.getBoundingClientRect().height)])
             .filter(([, h]) => h < 44)""")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    return [f"{html} {height}px" for html, height in small] + ([f"horizontal overflow {overflow}px"]
                                                              if overflow > 0 else [])


@pytest.mark.parametrize("width", [768, 1024])
def test_the_mediators_screen_on_a_tablet(new_context: Callable[..., BrowserContext], live_server: str,
                                          width: int) -> None:
    room = make_room(history=55)
    alice = log_in(new_context, live_server, room["alice"], javascript=False)
    enter_room(alice, room["case"])
    alice.locator("#m-55").get_by_role("link", name="Report").click()
    alice.get_by_label("What is wrong with it? (optional)").fill("Hors sujet")
    alice.get_by_role("button", name="Report to the mediator").click()
    expect(alice.get_by_role("status").first).to_contain_text("the mediator has been told")

    mediator = log_in(new_context, live_server, room["mediator"], javascript=True, bypass_csp=True,
                      viewport={"width": width, "height": 1000}, has_touch=True)
    problems = watch_problems(mediator)
    mediator.goto(f"/cases/{room['case']}/room")
    expect(mediator.get_by_role("heading", level=1)).to_have_text("Plenary")
    nav = mediator.get_by_role("navigation", name="Spaces of the room")
    for label in ("Plenary", "Consumers' caucus", "Company caucus"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(mediator.locator("#participants")).to_contain_text("Alice Durand")
    expect(mediator.locator("#participants")).to_contain_text("Camille Martin")
    expect(mediator.locator(".deadlines")).to_contain_text("days left")
    expect(mediator.locator("#reports")).to_contain_text("Earlier message 55")
    expect(mediator.locator("#reports")).to_contain_text("Reason given: Hors sujet")
    assert touch_problems(mediator) == []
    mediator.add_script_tag(content=AXE)
    result = mediator.evaluate("async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', "
                               "'wcag2aa', 'wcag21a', 'wcag21aa']}})")
    serious = [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}" for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == []

    # with JavaScript, older messages come into the top of the list, in place
    messages = mediator.locator("#message-list article.message")
    expect(messages).to_have_count(50)
    url = mediator.url
    mediator.get_by_role("link", name="Older messages").tap()
    expect(messages).to_have_count(55)
    expect(messages.first).to_contain_text("Earlier message 1")
    assert mediator.url == url and mediator.locator("#older-messages").count() == 0
    # a post answers an emptied form; the message itself arrives once, through the stream
    mediator.get_by_label("Your message").fill("Merci, je regarde cela.")
    mediator.get_by_role("button", name="Send").tap()
    expect(mediator.locator("#m-56")).to_contain_text("Merci, je regarde cela.")
    expect(mediator.get_by_label("Your message")).to_have_value("")
    expect(mediator.locator("article.message", has_text="Merci, je regarde cela.")).to_have_count(1)

    # a private thread with Bruno, opened from the participant list by a tap
    mediator.locator("#participants li", has_text="Bruno Petit").get_by_role("button", name="Write privately").tap()
    expect(mediator.get_by_role("heading", level=1)).to_have_text("Private: Bruno Petit")
    assert touch_problems(mediator) == []
    assert problems.all() == []
