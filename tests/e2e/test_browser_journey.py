"""The whole journey of a collective case in a real Chromium, each person in a browser profile of their own.

Consumer A signs up, opens a case against a new company and adds the proof of her complaint; consumer B finds
the case with other accents and inflections, joins it and adds a photo; staff verify the company and invite
it; its representative follows the e-mailed link, creates an account there and accepts; staff assign a
mediator, who declares independence, admits A's claim and rejects B's with a reason (B is told, in the app
and by mail); the mediator starts the mediation and every party — A, the representative, the mediator — gets
the start notice, in the notification centre and by mail, while B does not. Along the way: B never opens A's
claim or file, and the representative sees no claim before accepting.

Pages and stored notifications are in English (the language cookie, and each account's language set to
English): the French catalog is covered elsewhere.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.e2e.conftest import PROJECT_ROOT, PageProblems, watch_problems
from tests.factories import pdf_bytes, png_bytes

pytestmark = pytest.mark.browser

PASSWORD = "a quiet river at dawn"
# The refusals this journey provokes on purpose: another's claim or file, opened by URL.
EXPECTED_PROBLEMS = (r"status of 404 \(Not Found\) \(https?://[^ ]+/(claims|evidence)/\d+\)$",
                     # the confirmation asked when open cases share words with the new one
                     r"status of 422 \(Unprocessable (Entity|Content)\) \(https?://[^ ]+/cases\)$")


@dataclass
class Person:
    name: str
    email: str
    page: Page
    problems: PageProblems


def create_accounts(*accounts: tuple[str, str, str]) -> None:
    """Verified accounts (role, e-mail, name), made with the CLI in parallel, in the test run's database."""
    processes = [subprocess.Popen([sys.executable, "-m", "app.cli", "create-user", "--role", role, "--email", email,
                                   "--name", name, "--password-stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
                 for role, email, name in accounts]
    for process, (role, email, _name) in zip(processes, accounts, strict=True):
        out, err = process.communicate(PASSWORD + "\n", timeout=60)
        assert process.returncode == 0, f"create-user {role} {email} failed:\n{out}\n{err}"


def english_page(new_context: Callable[..., BrowserContext], live_server: str) -> tuple[Page, PageProblems]:
    """A fresh browser profile, with JavaScript, whose pages are in English."""
    context = new_context(java_script_enabled=True)
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    page = context.new_page()
    return page, watch_problems(page)


def log_in(page: Page, live_server: str, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")


def keep_english(page: Page, live_server: str) -> None:
    """Choose English with the header's switch, so the account's notices and mails are written in English."""
    with page.expect_response(lambda response: response.url == f"{live_server}/language") as answer:
        page.get_by_role("button", name="EN", exact=True).click()
    assert answer.value.status == 303
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def sign_in(new_context: Callable[..., BrowserContext], live_server: str, name: str, email: str) -> Person:
    page, problems = english_page(new_context, live_server)
    log_in(page, live_server, email)
    keep_english(page, live_server)
    return Person(name, email, page, problems)


def sign_up(new_context: Callable[..., BrowserContext], live_server: str, name: str, email: str) -> Person:
    """Sign up through the pages, confirm the address from the local mailbox, log in."""
    page, problems = english_page(new_context, live_server)
    page.goto("/signup")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(f"{live_server}/signup/sent")
    mail_link(page, email, "/verify/")
    page.get_by_role("button", name="Confirm my address").click()
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    log_in(page, live_server, email)
    return Person(name, email, page, problems)


def mails_to(page: Page, email: str) -> Locator:
    """The local mailbox's entries addressed to `email` (newest first)."""
    page.goto("/dev/mailbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Local mailbox")
    return page.locator("ul.mail-list > li").filter(has_text=email)


def mail_link(page: Page, email: str, path_part: str) -> str:
    """Open the one mail to `email` carrying a link to `path_part`, follow that link; returns the link."""
    mails = mails_to(page, email)
    expect(mails).to_have_count(1)
    mails.first.get_by_role("link").click()
    expect(page.get_by_role("main")).to_contain_text(f"To: {email}")
    link = page.get_by_role("main").locator(f"a[href*='{path_part}']")
    expect(link).to_have_count(1)
    href = link.get_attribute("href") or ""
    link.click()
    return href


def ready(page: Page, field: Locator) -> Locator:
    """`field` once htmx has wired it up: htmx processes what it swaps in 20 ms after the swap, and typing into
    an input before then sends nothing."""
    expect(field).to_be_visible()  # the new content is in
    expect(page.locator(".htmx-swapping, .htmx-settling")).to_have_count(0)  # and processed
    return field


def fill_claim(page: Page, facts: str, amount: str) -> None:
    page.get_by_label("What happened to you").fill(facts)
    page.get_by_label("Amount at stake, in euros").fill(amount)
    page.get_by_label("Date of the purchase or of the incident").fill((date.today() - timedelta(days=40)).isoformat())
    page.get_by_label("Date of your written complaint to the company").fill(
        (date.today() - timedelta(days=30)).isoformat())


def attach(page: Page, path: Path, kind: str) -> str:
    """Upload a file to the claim shown; returns its download path."""
    page.get_by_label(kind).check()
    page.get_by_label("File", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Add the file").click()
    evidence = page.locator("#claim-evidence")
    expect(evidence.get_by_role("status")).to_have_text("Your file has been added.")
    link = evidence.get_by_role("link", name=path.name)
    expect(link).to_be_visible()
    href = link.get_attribute("href") or ""
    assert re.fullmatch(r"/evidence/\d+", href), href
    return href


def clean_url(page: Page, live_server: str) -> str:
    """The page's path, without query or fragment."""
    return page.url.removeprefix(live_server).split("?")[0].split("#")[0]


def status_of(page: Page, path: str) -> int:
    response = page.goto(path)
    assert response is not None
    return response.status


def notices(page: Page) -> Locator:
    page.goto("/notifications")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    return page.locator("ol.notifications > li")


def test_collective_case_from_first_claim_to_the_start_of_the_mediation(
    new_context: Callable[..., BrowserContext], live_server: str, tmp_path: Path
) -> None:
    tag = "zq" + secrets.token_hex(3)
    company = f"Colis Express {tag}"
    title = f"Remboursement des colis jamais livrés {tag}"
    rep_email = f"mediation-{tag}@colis-express.example"
    staff_email, mediator_email, bruno_email = (f"{role}-{tag}@example.org" for role in ("staff", "mediator", "bruno"))
    create_accounts(("staff", staff_email, "Sam Staff"), ("mediator", mediator_email, "Mona Médiatrice"),
                    ("consumer", bruno_email, "Bruno Petit"))
    proof = tmp_path / "réclamation.pdf"
    proof.write_bytes(pdf_bytes())
    photo = tmp_path / "colis.png"
    photo.write_bytes(png_bytes())

    # --- A signs up, opens a case against a company not in the directory yet, and adds her proof
    alice = sign_up(new_context, live_server, "Alice Martin", f"alice-{tag}@example.org")
    a = alice.page
    a.get_by_role("navigation", name="Main menu").get_by_role("link", name="Cases").click()
    a.get_by_role("link", name="My problem is not listed: open a new case").click()
    ready(a, a.get_by_label("Look for the company in our directory")).fill(company)
    expect(a.locator("#company-choices")).to_contain_text("No company of that name")
    a.get_by_label("Company name").fill(company)
    a.get_by_label("Customer service e-mail (optional)").fill(rep_email)
    a.get_by_label("Title of the case").fill(title)
    a.get_by_label("The problem shared by the consumers").fill(
        "Les colis sont déclarés livrés mais n'arrivent jamais, et le transporteur refuse de rembourser.")
    a.get_by_label("Category").select_option("transport")
    a.get_by_label("What the consumers ask for").fill("Le remboursement des colis perdus.")
    fill_claim(a, "Mon colis du 12 n'est jamais arrivé ; 89 € payés pour rien.", "89")
    with a.expect_response(lambda answer: answer.url == f"{live_server}/cases"
                           and answer.request.method == "POST") as opened:
        a.get_by_role("button", name="Open the case").click()
    if opened.value.status == 422:  # other open cases share words with it: she says hers is different
        confirm = a.get_by_label("None of these cases is about my problem: open a new case")
        expect(confirm).to_be_visible()
        confirm.check()
        a.get_by_role("button", name="Open the case").click()
    expect(a.get_by_role("heading", level=1)).to_have_text("My claim")
    alice_claim = clean_url(a, live_server)
    alice_file = attach(a, proof, "The proof of my written complaint to the company")
    with a.expect_download() as download:  # she gets her own file back, as a download (not swapped into the page)
        a.locator("#claim-evidence").get_by_role("link", name=proof.name).click()
    assert download.value.suggested_filename == proof.name
    assert Path(download.value.path()).read_bytes() == proof.read_bytes()
    expect(a.get_by_role("heading", level=1)).to_have_text("My claim")
    a.get_by_role("link", name=title).click()
    expect(a.get_by_role("heading", level=1)).to_have_text(title)
    case_path = clean_url(a, live_server)
    assert re.fullmatch(r"/cases/\d+", case_path), case_path

    # --- B finds it with other accents and inflections, joins it and adds a photo
    bruno = sign_in(new_context, live_server, "Bruno Petit", bruno_email)
    b = bruno.page
    b.get_by_role("navigation", name="Main menu").get_by_role("link", name="Cases").click()
    ready(b, b.get_by_label("Company or words describing the problem")).fill(f"rembourse colis livre {tag}")
    results = b.locator("#case-results")
    expect(results).to_contain_text(f"Cases matching “rembourse colis livre {tag}”")
    expect(results.locator("a.card-title")).to_have_count(1)  # only this case: the tag is in the search
    results.get_by_role("link", name=title).click()
    expect(b).to_have_url(f"{live_server}{case_path}")
    b.get_by_role("link", name="Join this case").click()
    fill_claim(b, "Deux colis « livrés » en mars, jamais reçus : 140 € perdus.", "140,00")
    b.get_by_role("button", name="Join the case").click()
    expect(b.get_by_role("heading", level=1)).to_have_text("My claim")
    bruno_claim = clean_url(b, live_server)
    attach(b, photo, "Other evidence: invoice, contract, photos, exchanges…")
    b.goto(case_path)
    expect(b.locator("dl.facts dd").first).to_have_text("2")

    # B never reaches A's claim nor her file
    assert status_of(b, alice_claim) == 404
    expect(b.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert status_of(b, alice_file) == 404

    # --- Staff verify the company, then invite it to the mediation
    staff = sign_in(new_context, live_server, "Sam Staff", staff_email)
    s = staff.page
    s.get_by_role("navigation", name="Main menu").get_by_role("link", name="Back office").click()
    s.get_by_role("navigation", name="Back office").get_by_role("link", name="Companies").click()
    ready(s, s.get_by_label("Name")).fill(tag)  # the list follows what is typed
    expect(s).to_have_url(re.compile(rf"/staff/companies\?.*q={tag}"))
    expect(s.locator("#company-list").get_by_role("link")).to_have_count(1)
    s.locator("#company-list").get_by_role("link", name=company).click()
    expect(s.get_by_role("heading", level=1)).to_have_text(company)
    s.get_by_role("button", name="Mark as verified").click()
    expect(s.get_by_role("status")).to_have_text("The company is verified.")

    s.get_by_role("navigation", name="Back office").get_by_role("link", name="All cases").click()
    ready(s, s.get_by_label("Title")).fill(tag)
    expect(s).to_have_url(re.compile(rf"/staff/cases\?.*q={tag}"))
    expect(s.locator("#case-table").get_by_role("link")).to_have_count(1)
    staff_case = s.locator("#case-table").get_by_role("link", name=title).get_attribute("href") or ""
    assert staff_case == f"/staff{case_path}", staff_case
    s.locator("#case-table").get_by_role("link", name=title).click()
    expect(s.get_by_role("heading", level=1)).to_have_text(title)
    expect(s.get_by_label("Send to")).to_have_value(rep_email)
    s.get_by_role("button", name="Invite the company").click()
    expect(s.get_by_role("status")).to_have_text("The invitation has been mailed to the company.")
    expect(s.locator("dl.facts")).to_contain_text("Company invited")

    # --- The representative follows the e-mailed link (read in the local mailbox), signs up there, accepts
    r, rep_problems = english_page(new_context, live_server)
    invitation = mail_link(r, rep_email, "/invitations/")
    assert invitation.startswith(f"{live_server}/invitations/") and "sig=" in invitation, invitation
    expect(r.get_by_role("heading", level=1)).to_have_text("Invitation to a collective mediation")
    facts = r.locator("dl.facts")
    expect(facts).to_contain_text(company)
    expect(facts).to_contain_text(title)
    expect(r.get_by_role("main")).to_contain_text(f"Log in as a representative of {company} to answer.")
    expect(r.get_by_role("button", name="Accept the mediation")).to_have_count(0)
    expect(r.get_by_label("Your work e-mail address")).to_have_value(rep_email)
    r.get_by_label("Your name").fill("Rita Représentante")
    r.get_by_label("Password", exact=True).fill(PASSWORD)
    r.get_by_label("Password again").fill(PASSWORD)
    r.get_by_role("button", name="Create my representative account").click()
    expect(r.get_by_role("button", name="Accept the mediation")).to_be_visible()
    rep = Person("Rita Représentante", rep_email, r, rep_problems)

    # Before accepting, the company sees no claim
    assert status_of(r, alice_claim) == 404
    assert status_of(r, alice_file) == 404

    r.goto(invitation)
    r.get_by_role("button", name="Accept the mediation").click()
    expect(r).to_have_url(f"{live_server}{case_path}/mediation?answered=1")
    expect(r.get_by_role("status")).to_have_text(
        "Your answer has been recorded. The consumers and our staff have been told.")
    expect(r.locator("dl.facts")).to_contain_text("Company accepted mediation")

    # --- Staff assign the mediator
    s.goto(staff_case)
    s.get_by_label("Assign a mediator").select_option(label=f"Mona Médiatrice ({mediator_email})")
    s.get_by_role("button", name="Assign", exact=True).click()
    expect(s.get_by_role("status")).to_have_text("The mediator is assigned and asked to declare independence.")

    # --- The mediator declares independence, admits A's claim and rejects B's with a reason
    mediator = sign_in(new_context, live_server, "Mona Médiatrice", mediator_email)
    m = mediator.page
    m.get_by_role("navigation", name="Main menu").get_by_role("link", name="My mediations").click()
    m.get_by_role("main").get_by_role("link", name=title).click()
    expect(m).to_have_url(f"{live_server}{case_path}/mediation")
    expect(m.get_by_role("button", name="Start the mediation")).to_have_count(0)
    m.get_by_role("link", name="Declare independence and impartiality").click()
    m.get_by_label("I declare that I am independent").check()
    m.get_by_label("Conflicts of interest").fill("none")
    m.get_by_role("button", name="Make my declaration").click()
    expect(m).to_have_url(f"{live_server}{case_path}/mediation?declared=1")
    expect(m.get_by_role("status")).to_have_text("Your declaration has been recorded and shown to the parties.")

    m.get_by_role("link", name="Review the claims (2)").click()
    m.get_by_role("link", name="Alice Martin").click()
    expect(m.get_by_role("heading", level=1)).to_have_text("Admissibility of Alice Martin's claim")
    with m.expect_download() as download:  # the mediator reads A's proof
        m.get_by_role("main").get_by_role("link", name=proof.name).click()
    assert Path(download.value.path()).read_bytes() == proof.read_bytes()
    for criterion in ("The consumer first made a written complaint to the company",
                      "The dispute is not being, or has not been, examined",
                      "The claim is not manifestly unfounded or abusive",
                      "The dispute is within the scope of this mediation"):
        m.get_by_label(criterion).check()
    m.get_by_label("Admit the claim").check()
    m.get_by_role("button", name="Record the decision").click()
    expect(m.get_by_role("status")).to_have_text("Your decision has been recorded and the consumer told.")

    reason = f"No written complaint to the company was shown before the claim ({tag})."
    m.get_by_role("link", name="Bruno Petit").click()
    expect(m.get_by_role("heading", level=1)).to_have_text("Admissibility of Bruno Petit's claim")
    for criterion in ("The dispute is not being, or has not been, examined",
                      "The claim is not manifestly unfounded or abusive",
                      "The dispute is within the scope of this mediation"):
        m.get_by_label(criterion).check()
    m.get_by_label("Reject the claim").check()
    m.get_by_label("Reason or message to the consumer").fill(reason)
    m.get_by_role("button", name="Record the decision").click()
    expect(m.get_by_role("status")).to_have_text("Your decision has been recorded and the consumer told.")
    rows = m.locator("table.list tbody tr")
    expect(rows.filter(has_text="Alice Martin")).to_contain_text("Admitted")
    expect(rows.filter(has_text="Bruno Petit")).to_contain_text("Not admitted")

    # B is told, with the reason: in the notification centre, on the claim, and by mail
    rejected = notices(b).filter(has_text=f"Your claim in “{title}” is not admissible")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text(reason)
    expect(rejected).to_contain_text("Legal notice")
    b.goto(bruno_claim)
    expect(b.locator("span.status")).to_have_text("Not admitted")
    expect(b.get_by_role("main")).to_contain_text(reason)
    expect(mails_to(b, bruno_email).filter(has_text="is not admissible")).to_have_count(1)

    # --- The mediator starts the mediation
    m.get_by_role("link", name="Back to the mediation").click()
    m.get_by_role("button", name="Start the mediation").click()
    expect(m).to_have_url(f"{live_server}{case_path}/mediation?started=1")
    expect(m.get_by_role("status")).to_have_text("The mediation has started. Every party has been notified.")
    expect(m.locator("dl.facts").first).to_contain_text("Mediation in progress")

    # Every party has the start notice, in the app and by mail; B, whose claim was rejected, has neither
    started = f"The mediation of “{title}” has started"
    for party in (alice, rep, mediator):
        notice = notices(party.page).filter(has_text=started)
        expect(notice, f"{party.name}'s notifications").to_have_count(1)
        expect(notice).to_contain_text("Legal notice")
        expect(notice).to_contain_text("You may withdraw from the mediation at any time")
    expect(notices(b).filter(has_text=started)).to_have_count(0)
    for party in (alice, rep, mediator):
        expect(mails_to(s, party.email).filter(has_text=started), f"start mail to {party.name}").to_have_count(1)
    expect(mails_to(s, bruno_email).filter(has_text=started)).to_have_count(0)

    # A's notice leads to her case, now in mediation
    a.goto("/notifications")
    a.locator("ol.notifications > li").filter(has_text=started).get_by_role("button", name="Open").click()
    expect(a).to_have_url(f"{live_server}{case_path}")
    expect(a.locator("p.meta .status")).to_have_text("Mediation in progress")

    # Now the company sees the admitted claim, and still not the rejected one
    assert status_of(r, alice_claim) == 200
    assert status_of(r, bruno_claim) == 404

    # No CSP violation nor script error anywhere; only the refusals provoked above
    for person in (alice, bruno, staff, rep, mediator):
        unexpected = [problem for problem in person.problems.all()
                      if not any(re.search(pattern, problem) for pattern in EXPECTED_PROBLEMS)]
        assert unexpected == [], f"errors in {person.name}'s browser:\n" + "\n".join(unexpected)
