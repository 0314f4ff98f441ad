"""From the company's offer to countersigned agreements in a real Chromium, each party in a browser profile of
their own, with three consumers: the company offers 60 % of each claimed amount; the three consumers vote (yes,
yes, abstain) without seeing the results; the mediator closes the vote early and everyone sees them; Alice and
Bruno accept, Chloé refuses; the mediator closes the decisions, the embedded worker finalizes (the page shows the
result once it is there); Alice and Bruno sign by entering their password again (Alice mistypes it first); the
company countersigns once for all, the fee is invoiced and the case closes.

Then each PDF is checked: downloadable only by those entitled (404 for anyone else, through each profile's own
session), its fingerprint on the page is the SHA-256 of the bytes served, the fee follows the configured rule,
and Chloé has her certificate of non-agreement.

The case in mediation (parties past the charter, no proposal yet) is made by
`python -m tests.e2e.agreements_world` in a subprocess: a browser test module runs no async code of its own
(see tests/e2e/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from app.settings import load_settings
from tests.e2e.conftest import PROJECT_ROOT, PageProblems, watch_problems

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")
SHARE_PCT = 60
FINALIZATION_TIMEOUT_S = 60
# The refusal this journey provokes on purpose: Alice's mistyped password (the form comes back with a 422).
EXPECTED_PROBLEMS = (r"status of 422 \(Unprocessable (Entity|Content)\) \(https?://[^ ]+/agreements/\d+/sign\)$",)


@dataclass(eq=False)  # compared and hashed by identity: one per browser profile
class Party:
    name: str
    context: BrowserContext
    page: Page
    problems: PageProblems
    base_url: str

    def download(self, path: str) -> tuple[int, str, bytes]:
        """GET `path` with this profile's session (its cookies), as a download link would: status, type, body."""
        response = self.context.request.get(self.base_url + path, max_redirects=0)
        return response.status, response.headers.get("content-type", ""), response.body()


def make_world() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "tests.e2e.agreements_world"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def enter(new_context: Callable[..., BrowserContext], live_server: str, person: dict[str, str]) -> Party:
    """Log this person in, in a fresh browser profile whose pages are in English."""
    context = new_context(java_script_enabled=True)
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    page = context.new_page()
    problems = watch_problems(page)
    page.goto("/login")
    page.get_by_label("E-mail address").fill(person["email"])
    page.get_by_label("Password").fill(person["password"])
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/account")
    return Party(person["name"], context, page, problems, live_server)


def status(page: Page) -> Locator:
    return page.get_by_role("main").get_by_role("status")


def ready(page: Page, field: Locator) -> Locator:
    """`field` once htmx has processed what it swapped in (typing before then would be lost)."""
    expect(field).to_be_visible()
    expect(page.locator(".htmx-swapping, .htmx-settling")).to_have_count(0)
    return field


def local_input(moment: datetime) -> str:
    """What a `datetime-local` field takes, in Paris time."""
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def euros_en(cents: int) -> str:
    """An amount as the English pages write it (en_GB: €1,234.50)."""
    return f"€{Decimal(cents) / 100:,.2f}"


def share_of(cents: int, share_pct: int) -> int:
    return int((Decimal(cents) * share_pct / 100).to_integral_value(ROUND_HALF_UP))


def expected_fee(signed_cents: list[int]) -> int:
    """The success fee by the rule the live server runs with (the same environment as this process)."""
    settings = load_settings()
    share = (Decimal(sum(signed_cents)) * settings.fee_percent_basis_points / 10_000).to_integral_value(ROUND_HALF_UP)
    return max(int(share) + settings.fee_per_agreement_cents * len(signed_cents), settings.fee_minimum_cents)


def fingerprint_on(page: Page, section: str) -> str:
    """The SHA-256 shown under the heading `section` of the agreements page."""
    shown = page.locator(f"h2:text-is('{section}') ~ p.muted code").first
    expect(shown).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    return shown.inner_text()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_three_consumers_from_the_offer_to_countersigned_agreements(
    new_context: Callable[..., BrowserContext], live_server: str
) -> None:
    world = make_world()
    case_id, claimed = world["case"], world["claimed_cents"]
    people = {key: enter(new_context, live_server, person) for key, person in world["people"].items()}
    alice, bruno, chloe = people["alice"], people["bruno"], people["chloe"]
    rep, mediator, staff = people["member"], people["mediator"], people["staff"]  # and a consumer of another case
    consumers = (alice, bruno, chloe)
    amounts = {party.name: share_of(claimed[key], SHARE_PCT) for key, party in
               (("alice", alice), ("bruno", bruno), ("chloe", chloe))}

    # --- The company makes its offer, from the mediation page
    r = rep.page
    r.goto(f"/cases/{case_id}/mediation")
    r.get_by_role("main").get_by_role("link", name="Proposals", exact=True).click()
    expect(r).to_have_url(f"{live_server}/cases/{case_id}/proposals")
    form = r.locator("#proposal-form")
    now = datetime.now(PARIS)
    form.get_by_label("Terms", exact=True).fill("Remboursement de 60 % du montant réclamé, sous 30 jours.")
    form.get_by_label("A share of each consumer's claimed amount").check()
    form.get_by_label("Share of the claimed amount, in percent").fill(str(SHARE_PCT))
    form.get_by_label("The indicative vote closes on").fill(local_input(now + timedelta(days=2)))
    form.get_by_label("Each consumer decides by").fill(local_input(now + timedelta(days=5)))
    form.get_by_role("button", name="Make this offer").click()
    expect(status(r)).to_have_text("The proposal has been published. Every party has been notified.")
    expect(r).to_have_url(re.compile(rf"{re.escape(live_server)}/proposals/\d+\?made=1$"))
    proposal = r.url.removeprefix(live_server).split("?")[0]
    expect(r.get_by_role("heading", level=1)).to_have_text("Proposal no. 1, version 1")

    # --- The three consumers vote (indicative); each sees their own amount, nobody sees the results yet
    for party, choice in ((alice, "yes"), (bruno, "yes"), (chloe, "abstain")):
        p = party.page
        p.goto(proposal)
        expect(p.locator("dl.facts")).to_contain_text(f"Your amount{euros_en(amounts[party.name])}")
        vote = p.locator("#vote")
        expect(vote).to_contain_text("The results are shown to everyone when the vote closes")
        vote.get_by_label(choice, exact=True).check()
        vote.get_by_role("button", name="Vote").click()
        expect(status(p)).to_have_text("Your vote has been recorded. You can change it until the vote closes.")
        expect(p.locator("#vote")).to_contain_text(f"Your vote: {choice}")
        expect(p.locator("#vote")).not_to_contain_text("Yes: ")

    # --- The mediator follows the live tally, then closes the vote early
    m = mediator.page
    m.goto(proposal)
    tally = m.locator("#live-tally")
    expect(tally).to_contain_text("Votes: 2 yes, 0 no, 1 abstain; 0 not voted.")
    m.get_by_role("button", name="Close the vote now").click()
    expect(status(m)).to_have_text("The vote is closed. Its result is now visible to every party.")
    for party in consumers:
        party.page.goto(proposal)
        vote = party.page.locator("#vote")
        expect(vote).to_contain_text("Yes: 2 · No: 0 · Abstain: 1")
        expect(vote).to_contain_text("threshold met")
        expect(vote.get_by_role("button", name="Vote")).to_have_count(0)

    # --- Each consumer decides for themselves: Alice and Bruno accept, Chloé refuses
    for party, button, label in ((alice, "I accept this proposal", "accepted"),
                                 (bruno, "I accept this proposal", "accepted"),
                                 (chloe, "I refuse this proposal", "refused")):
        decision = party.page.locator("#decision")
        expect(decision).to_contain_text(f"You receive {euros_en(amounts[party.name])}.")
        decision.get_by_role("button", name=button).click()
        expect(status(party.page)).to_have_text("Your decision has been recorded. You can change it until the "
                                                "deadline.")
        expect(party.page.locator("#decision")).to_contain_text(f"Your decision: {label}")
    m.reload()
    expect(m.locator("#live-tally")).to_contain_text("Decisions: 2 accepted, 1 refused; 0 not decided.")

    # --- The mediator closes the decisions; the embedded worker finalizes, and the page shows the result
    m.get_by_role("button", name="Close the decisions now").click()
    expect(m).to_have_url(f"{live_server}/cases/{case_id}/agreements?closing=1")
    expect(status(m)).to_contain_text("The decisions are closed.")
    record_heading = m.get_by_role("heading", name="Collective record", exact=True)
    deadline = time.monotonic() + FINALIZATION_TIMEOUT_S
    while not record_heading.is_visible():  # the page says "being drawn up" until the job is done
        assert time.monotonic() < deadline, f"no collective record after {FINALIZATION_TIMEOUT_S} s"
        m.wait_for_timeout(300)
        m.reload()
    facts = m.locator("#agreements-panel dl.facts")
    expect(facts).to_contain_text("Signed agreements0 of 2")
    expect(facts).to_contain_text("Certificates of non-agreement1")
    rows = m.locator("#agreements-panel table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=alice.name)).to_contain_text(euros_en(amounts[alice.name]))
    expect(rows.filter(has_text=bruno.name)).to_contain_text(euros_en(amounts[bruno.name]))
    expect(rows.filter(has_text=chloe.name)).to_have_count(0)

    # --- Alice and Bruno sign by entering their password again (Alice mistypes it first)
    agreements: dict[str, str] = {}  # each consumer's agreement page
    shown_sha: dict[str, str] = {}  # the fingerprint it shows
    for party, person in ((alice, world["people"]["alice"]), (bruno, world["people"]["bruno"])):
        p = party.page
        p.goto(f"/cases/{case_id}/agreements")
        expect(p.locator("#agreements-panel")).to_contain_text("It waits for your signature.")
        p.get_by_role("link", name="Read and sign your agreement").click()
        expect(p).to_have_url(re.compile(rf"{re.escape(live_server)}/agreements/\d+$"))
        agreements[party.name] = p.url.removeprefix(live_server)
        expect(p.locator("#agreement dl.facts")).to_contain_text(f"Receives{euros_en(amounts[party.name])}")
        if party is alice:
            p.get_by_label("Your password").fill(person["password"] + " (typo)")
            p.get_by_role("button", name="Sign the agreement").click()
            expect(p.locator("#sign-form")).to_contain_text("This password is not correct.")
        ready(p, p.get_by_label("Your password")).fill(person["password"])
        p.get_by_role("button", name="Sign the agreement").click()
        expect(p).to_have_url(f"{live_server}{agreements[party.name]}?signed=1")
        expect(status(p)).to_have_text("You signed your agreement. The company will countersign it once for all.")
        expect(p.locator("#sign-form")).to_contain_text("You signed this agreement on")
        expect(p.get_by_label("Your password")).to_have_count(0)
        shown_sha[party.name] = p.locator("#agreement-sha256").inner_text()

    # --- The company countersigns once for all: the fee is computed and invoiced, the case closes
    r.goto(f"/cases/{case_id}/agreements")
    r.get_by_role("button", name="Countersign the signed agreements (2)").click()
    expect(r).to_have_url(f"{live_server}/cases/{case_id}/agreements?countersigned=1")
    expect(status(r)).to_have_text("You countersigned the agreements. The case is closed and every party has been "
                                   "notified.")
    signed = [amounts[alice.name], amounts[bruno.name]]
    fee = r.locator("h2:text-is('Success fee') + dl.facts")
    expect(fee).to_contain_text("Signed agreements2")
    expect(fee).to_contain_text(f"Total of the signed amounts{euros_en(sum(signed))}")
    expect(fee).to_contain_text(f"Fee{euros_en(expected_fee(signed))}")
    assert expected_fee(signed) > 0
    rows = r.locator("#agreements-panel table.list tbody tr")
    expect(rows.filter(has_text="Signed and countersigned")).to_have_count(2)

    # --- Chloé, who refused, has her certificate of non-agreement, and no agreement
    c = chloe.page
    c.goto(f"/cases/{case_id}/agreements")
    expect(c.get_by_role("heading", name="Your certificate of non-agreement")).to_be_visible()
    expect(c.get_by_role("heading", name="Your agreement")).to_have_count(0)
    certificate = c.get_by_role("link", name="Download the certificate (PDF)").get_attribute("href") or ""
    assert re.fullmatch(r"/certificates/\d+", certificate), certificate
    certificate_sha = fingerprint_on(c, "Your certificate of non-agreement")

    # --- Each file: downloadable only by those entitled, its fingerprint on the page is that of the bytes served
    r.goto(f"/cases/{case_id}/agreements")
    record = r.get_by_role("link", name="Download the collective record (PDF)").get_attribute("href") or ""
    invoice = r.get_by_role("link", name="Download the invoice (PDF)").get_attribute("href") or ""
    assert (record, invoice) == (f"/cases/{case_id}/agreements/record", f"/cases/{case_id}/invoice")
    record_sha = fingerprint_on(r, "Collective record")
    invoice_sha = fingerprint_on(r, "Success fee")
    documents = {  # path: (fingerprint shown on its page, who may download it)
        f"{agreements[alice.name]}/pdf": (shown_sha[alice.name], {alice, rep, mediator, staff}),
        f"{agreements[bruno.name]}/pdf": (shown_sha[bruno.name], {bruno, rep, mediator, staff}),
        record: (record_sha, {rep, mediator, staff}),
        certificate: (certificate_sha, {chloe, mediator, staff}),
        invoice: (invoice_sha, {rep, staff}),
    }
    everyone = set(people.values())
    for path, (fingerprint, entitled) in documents.items():
        served: set[str] = set()
        for party in everyone:
            code, content_type, body = party.download(path)
            if party in entitled:
                assert (code, content_type) == (200, "application/pdf"), f"{party.name} GET {path}"
                assert body.startswith(b"%PDF-"), f"{party.name} GET {path}"
                served.add(sha256(body))
            else:
                assert code == 404, f"{party.name} GET {path}: {code}"
        assert len(served) == 1, f"{path} differs between those entitled"
        assert served == {fingerprint}, f"{path}: the page shows {fingerprint}, the file is {served}"

    # --- The case shows closed, to a consumer as to the company
    for party in (alice, rep):
        party.page.goto(f"/cases/{case_id}")
        expect(party.page.locator("p.meta .status")).to_have_text("Closed")

    # No CSP violation nor script error anywhere; only the refusal provoked above
    for party in everyone:
        unexpected = [problem for problem in party.problems.all()
                      if not any(re.search(pattern, problem) for pattern in EXPECTED_PROBLEMS)]
        assert unexpected == [], f"errors in {party.name}'s browser:\n" + "\n".join(unexpected)
