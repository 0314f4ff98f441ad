"""The live room in a real Chromium, each party in a browser profile of their own: messages appear for everyone
without a reload, the poster sees theirs once, a dropped connection catches up, a message the mediator hides
changes in place on every open page, what a visible page receives live counts as read, and the company never
receives anything of the consumers' caucus — not in a page, a stream, a replay, an attachment, nor by guessing ids.

The room (a case in mediation, its parties, their charters) is made by `python -m tests.server.room_world` in a
subprocess: a browser test module runs no async code of its own (see tests/e2e/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from tests.e2e.conftest import PROJECT_ROOT, PageProblems, watch_problems
from tests.factories import pdf_bytes

pytestmark = pytest.mark.browser


@dataclass
class Party:
    name: str
    context: BrowserContext
    page: Page
    problems: PageProblems
    navigations: list[str]


class Link:
    """A TCP relay between one browser and the live server: `cut()` drops every connection through it and refuses
    new ones until `mend()` — a network that fails, as a phone's does."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.refusing = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.refusing = True
        with self.lock:
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def mend(self) -> None:
        self.refusing = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


def make_room() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "tests.server.room_world"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def room(live_server: str) -> dict[str, Any]:
    """A fresh room in the live server's database (live_server first: it migrates the database)."""
    return make_room()


@pytest.fixture
def enter(browser: Browser, live_server: str, room: dict[str, Any]) -> Iterator[Callable[..., Party]]:
    """Factory: `enter("consumer_a")` logs that party in, in a browser profile of their own, pages in English
    (`base_url=` another address of the live server)."""
    parties: list[Party] = []

    def make(key: str, base_url: str = live_server) -> Party:
        person = room["people"][key]
        context = browser.new_context(base_url=base_url, java_script_enabled=True)
        context.set_default_timeout(10_000)
        context.add_cookies([{"name": "lang", "value": "en", "url": base_url}])
        page = context.new_page()
        problems = watch_problems(page)
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
        page.goto("/login")
        page.get_by_label("E-mail address").fill(person["email"])
        page.get_by_label("Password").fill(person["password"])
        page.get_by_role("main").get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base_url}/account")
        party = Party(person["name"], context, page, problems, navigations)
        parties.append(party)
        return party

    yield make
    problems = {party.name: party.problems.all() for party in parties if party.problems.all()}
    for party in parties:
        party.context.close()
    assert problems == {}


def open_space(party: Party, space_id: int) -> None:
    """Open a space's page and wait until its stream is connected."""
    with party.page.expect_response(lambda response: f"/spaces/{space_id}/stream" in response.url) as stream:
        party.page.goto(f"/spaces/{space_id}")
    assert stream.value.status == 200
    expect(party.page.locator("[data-live]")).to_have_count(1)


def post(party: Party, text: str, *, file: tuple[str, bytes] | None = None) -> None:
    """Write and send a message with the page's form (htmx: the page stays, the message comes by the stream)."""
    form = party.page.locator("#post-form")
    form.get_by_label("Your message").fill(text)
    if file is not None:
        form.get_by_label("Attach a file (optional)").set_input_files(
            files=[{"name": file[0], "mimeType": "application/pdf", "buffer": file[1]}])
    with party.page.expect_response(lambda response: response.request.method == "POST"
                                    and response.url.endswith("/messages")) as answer:
        form.get_by_role("button", name="Send").click()
    assert answer.value.status == 200
    expect(party.page.locator("#post-form").get_by_label("Your message")).to_have_value("")


def messages_with(party: Party, text: str) -> Any:
    return party.page.locator("#message-list article.message", has_text=text)


def test_three_parties_see_each_others_plenary_messages_live(enter: Callable[..., Party],
                                                             room: dict[str, Any]) -> None:
    # Given two consumers and the mediator, each on the plenary page
    alice, bruno, mediator = enter("consumer_a"), enter("consumer_b"), enter("mediator")
    for party in (alice, bruno, mediator):
        open_space(party, room["plenary"])
    loaded = {party.name: len(party.navigations) for party in (alice, bruno, mediator)}
    # When each of them writes a message
    said = {}
    for party in (alice, bruno, mediator):
        said[party.name] = f"Bonjour de {party.name} {secrets.token_hex(3)}"
        post(party, said[party.name])
        # Then everyone sees it appear, exactly once (the poster too: it came by the stream, not the post)
        for reader in (alice, bruno, mediator):
            expect(messages_with(reader, said[party.name])).to_have_count(1)
    # In the order they were written, under the labels of each reader's side, and without any page load
    for reader in (alice, bruno, mediator):
        texts = reader.page.locator("#message-list article.message .message-body").all_inner_texts()
        assert texts[-3:] == [said[alice.name], said[bruno.name], said[mediator.name]]
        assert len(reader.navigations) == loaded[reader.name], reader.navigations
    expect(messages_with(alice, said[alice.name]).locator(".message-meta")).to_contain_text("You")
    expect(messages_with(bruno, said[alice.name]).locator(".message-meta")).to_contain_text("Participant")
    expect(messages_with(mediator, said[alice.name]).locator(".message-meta")).to_contain_text("Alice Durand")


def test_a_dropped_connection_catches_up_once(enter: Callable[..., Party], room: dict[str, Any],
                                             live_server: str) -> None:
    # Given Bruno on the plenary, through a network link that is about to fail
    port = int(live_server.rsplit(":", 1)[1])
    link = Link(port)
    try:
        alice, bruno = enter("consumer_a"), enter("consumer_b", base_url=f"http://127.0.0.1:{link.port}")
        open_space(alice, room["plenary"])
        open_space(bruno, room["plenary"])
        before = f"Avant la coupure {secrets.token_hex(3)}"
        post(alice, before)
        expect(messages_with(bruno, before)).to_have_count(1)
        reconnects: list[Request] = []
        bruno.page.on("request", lambda request: reconnects.append(request) if "/stream" in request.url else None)
        # When his connection drops, and Alice writes three messages meanwhile
        link.cut()
        missed = [f"Pendant la coupure {n} {secrets.token_hex(3)}" for n in range(3)]
        for text in missed:
            post(alice, text)
        # And the network comes back
        link.mend()
        # Then the three arrive once each, in order, after what he had, without a page load
        for text in missed:
            expect(messages_with(bruno, text)).to_have_count(1, timeout=30_000)
        texts = bruno.page.locator("#message-list article.message .message-body").all_inner_texts()
        assert texts[-4:] == [before, *missed]
        assert len(texts) == len(set(texts))
        # Because the new stream resumed after the last message he had (Last-Event-ID, or the updated ?after=)
        before_seq = messages_with(bruno, before).get_attribute("id").removeprefix("m-")  # type: ignore[union-attr]
        resumed = [(request.url, request.all_headers().get("last-event-id")) for request in reconnects]
        assert any(header == before_seq or url.endswith(f"after={before_seq}") for url, header in resumed), resumed
        # (the browser saw its stream — and a read mark it was sending — fail while the link was down, and htmx
        # logged its sseError: expected here)
        bruno.problems.console_errors[:] = [text for text in bruno.problems.console_errors if "/stream" not in text
                                            and "/read" not in text and not text.startswith("[object Event]")]
    finally:
        link.close()


def test_a_browser_too_far_behind_reloads_the_page(enter: Callable[..., Party], room: dict[str, Any],
                                                   live_server: str) -> None:
    # Given Bruno on the plenary, through a link that fails
    link = Link(int(live_server.rsplit(":", 1)[1]))
    try:
        bruno = enter("consumer_b", base_url=f"http://127.0.0.1:{link.port}")
        open_space(bruno, room["plenary"])
        loads = len(bruno.navigations)
        link.cut()
        # When more messages than a stream replays are written meanwhile
        done = subprocess.run([sys.executable, "-m", "tests.server.room_world", "post", str(room["plenary"]),
                               room["people"]["consumer_a"]["email"], "201"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        link.mend()
        # Then the stream tells the page to reload, and it does: it shows the latest messages
        expect(messages_with(bruno, "Rattrapage 200")).to_have_count(1, timeout=30_000)
        assert len(bruno.navigations) > loads
        expect(messages_with(bruno, "Rattrapage 100")).to_have_count(0)  # the page shows the latest 50, not all
        bruno.problems.console_errors[:] = [text for text in bruno.problems.console_errors if "/stream" not in text
                                            and "/read" not in text and not text.startswith("[object Event]")]
    finally:
        link.close()


def test_a_hidden_message_changes_in_place_and_live_reading_counts_as_read(enter: Callable[..., Party],
                                                                          room: dict[str, Any]) -> None:
    # Given Alice, Bruno and the mediator on the plenary, the mediator in a second tab too
    alice, bruno, mediator = enter("consumer_a"), enter("consumer_b"), enter("mediator")
    for party in (alice, bruno, mediator):
        open_space(party, room["plenary"])
    second_tab = mediator.context.new_page()
    with second_tab.expect_response(lambda response: "/stream" in response.url):
        second_tab.goto(f"/spaces/{room['plenary']}")
    loads = {party.name: len(party.navigations) for party in (alice, bruno)}
    # When Alice writes, and Bruno's visible page receives it live
    text = f"Hors sujet peut-être {secrets.token_hex(3)}"
    with bruno.page.expect_response(lambda response: response.request.method == "POST"
                                    and response.url.endswith(f"/spaces/{room['plenary']}/read")) as read:
        post(alice, text)
    # Then his page tells the server how far he read, and the case page counts nothing unread for him
    assert read.value.status == 204
    for party in (bruno, mediator):
        expect(messages_with(party, text)).to_have_count(1)
    seq = messages_with(bruno, text).get_attribute("id")
    # When the mediator hides it, from the message's "Hide" link, with a reason
    messages_with(mediator, text).get_by_role("link", name="Hide").click()
    mediator.page.get_by_label("Reason shown to the participants").fill("Pas le lieu")
    mediator.page.get_by_role("button", name="Hide the message").click()
    expect(mediator.page).to_have_url(re.compile(rf"/spaces/{room['plenary']}#{seq}$"))
    # Then on the participants' open pages it becomes the hidden version in place, without a page load
    for party in (alice, bruno):
        article = party.page.locator(f'[id="{seq}"]')
        expect(article).to_contain_text("Message hidden by the mediator: Pas le lieu")
        expect(article).not_to_contain_text(text)
        expect(article).to_have_count(1)
        assert len(party.navigations) == loads[party.name], party.navigations
    # And on the mediator's other tab, the mediator's version: still the text, with the reason
    hidden_for_mediator = second_tab.locator(f'[id="{seq}"]')
    expect(hidden_for_mediator).to_contain_text("Hidden from the participants: Pas le lieu")
    expect(hidden_for_mediator).to_contain_text(text)
    expect(hidden_for_mediator.get_by_role("link", name="Hide")).to_have_count(0)
    # And the next message still comes after it, once
    after = f"Revenons au sujet {secrets.token_hex(3)}"
    post(bruno, after)
    for party in (alice, bruno):
        expect(messages_with(party, after)).to_have_count(1)
        expect(party.page.locator("#message-list article.message").last).to_contain_text(after)
    # And what Bruno saw live is read: the case page shows no unread count for him
    bruno.page.goto(f"/cases/{room['case']}")
    expect(bruno.page.get_by_role("link", name="Mediation room")).to_be_visible()
    assert "unread)" not in (bruno.page.locator("main").text_content() or "")
    second_tab.close()


def test_a_boosted_visit_to_the_room_goes_live(enter: Callable[..., Party], room: dict[str, Any]) -> None:
    # Given Bruno who comes to the room from the case page by its link (htmx boost: no full page load)
    alice, bruno = enter("consumer_a"), enter("consumer_b")
    open_space(alice, room["plenary"])
    bruno.page.goto(f"/cases/{room['case']}")
    with bruno.page.expect_response(lambda response: f"/spaces/{room['plenary']}/stream" in response.url) as stream:
        bruno.page.get_by_role("link", name="Mediation room").click()
    assert stream.value.status == 200
    # When Alice writes
    text = f"Pour Bruno {secrets.token_hex(3)}"
    post(alice, text)
    # Then he sees it live
    expect(messages_with(bruno, text)).to_have_count(1)


def test_the_company_never_receives_the_consumers_caucus(enter: Callable[..., Party], room: dict[str, Any]
                                                         ) -> None:
    # Given the company's representative on the plenary, and a consumer in the consumers' caucus
    company, alice = enter("member"), enter("consumer_a")
    open_space(company, room["plenary"])
    open_space(alice, room["consumers"])
    # When the consumer writes in the caucus, with a file, then in the plenary
    secret = f"Entre consommateurs seulement {secrets.token_hex(3)}"
    post(alice, secret, file=("strategie.pdf", pdf_bytes()))
    expect(messages_with(alice, secret)).to_have_count(1)
    attachment = alice.page.locator("#message-list article.message", has_text=secret).get_by_role(
        "link", name="strategie.pdf").get_attribute("href")
    assert attachment and attachment.startswith("/room/attachments/")
    caucus_seq = int(messages_with(alice, secret).get_attribute("id").removeprefix("m-"))  # type: ignore[union-attr]
    open_space(alice, room["plenary"])
    public = f"Pour tout le monde {secrets.token_hex(3)}"
    post(alice, public)
    # Then the company receives the plenary message live, and nothing of the caucus in its page
    expect(messages_with(company, public)).to_have_count(1)
    assert secret not in company.page.content()
    # Nor by opening the caucus, its stream, a replay of it, its message, its file, or by guessing ids
    caucus = room["consumers"]
    guesses = [f"/spaces/{caucus}", f"/spaces/{caucus}?after=0", f"/spaces/{caucus}?before=99",
               f"/spaces/{caucus}/stream", f"/spaces/{caucus}/stream?after=0",
               f"/spaces/{caucus}/messages/{caucus_seq}", f"/spaces/{caucus}/messages/{caucus_seq}/report",
               attachment]
    guesses += [f"/spaces/{space_id}/stream?after=0" for space_id in range(caucus - 2, caucus + 3)
                if space_id not in (room["plenary"], room["company"])]
    attachment_id = int(attachment.rsplit("/", 1)[1])
    guesses += [f"/room/attachments/{number}" for number in range(max(1, attachment_id - 2), attachment_id + 3)]
    for path in guesses:
        response = company.context.request.get(path, timeout=10_000, headers={"Last-Event-ID": "0"},
                                               max_redirects=0)
        assert response.status == 404, (path, response.status)
        assert secret not in response.text(), path
    # And its open plenary stream brought the public message but never the caucus one
    assert company.page.locator("#message-list article.message", has_text=secret).count() == 0
