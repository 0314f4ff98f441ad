"""Consumers in a real Chromium, with and without JavaScript: A opens a case against a company and adds the proof
of her complaint; B finds the case with other accents and inflections, joins it and adds evidence; neither
sees the other's claim. (Pages in English: the French catalog is completed separately.)
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import PROJECT_ROOT, watch_problems
from tests.factories import pdf_bytes, png_bytes

pytestmark = pytest.mark.browser

PASSWORD = "a quiet river at dawn"


def create_consumer(name: str) -> str:
    """A verified consumer account, made with the CLI (browser tests use no async fixture)."""
    email = f"e2e-{secrets.token_hex(6)}@example.org"
    subprocess.run([sys.executable, "-m", "app.cli", "create-user", "--role", "consumer", "--email", email,
                    "--name", name, "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                   cwd=PROJECT_ROOT, capture_output=True)
    return email


def open_as(new_context: Callable[..., BrowserContext], live_server: str, email: str, javascript: bool) -> Page:
    context = new_context(java_script_enabled=javascript)
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    return page


def fill_claim(page: Page, facts: str, amount: str) -> None:
    page.get_by_label("What happened to you").fill(facts)
    page.get_by_label("Amount at stake, in euros").fill(amount)
    page.get_by_label("Date of the purchase or of the incident").fill((date.today() - timedelta(days=40)).isoformat())
    page.get_by_label("Date of your written complaint to the company").fill(
        (date.today() - timedelta(days=30)).isoformat())


def attach(page: Page, path: Path, kind: str) -> None:
    page.get_by_label(kind).check()
    page.get_by_label("File", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Add the file").click()
    expect(page.locator("#claim-evidence")).to_contain_text(path.name)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_two_consumers_gather_in_one_case(new_context: Callable[..., BrowserContext], live_server: str,
                                          tmp_path: Path, javascript: bool) -> None:
    tag = "zz" + secrets.token_hex(3)
    company_name = f"Transports Rapides {tag}"
    proof = tmp_path / "réclamation.pdf"
    proof.write_bytes(pdf_bytes())
    photo = tmp_path / "billet.png"
    photo.write_bytes(png_bytes())

    # A opens a case against a company that is not in the directory yet
    alice = open_as(new_context, live_server, create_consumer("Alice Martin"), javascript)
    problems_a = watch_problems(alice)
    alice.get_by_role("navigation").get_by_role("link", name="Cases").click()
    alice.get_by_role("link", name="My problem is not listed: open a new case").click()
    alice.get_by_label("Look for the company in our directory").fill(company_name)
    alice.get_by_label("Look for the company in our directory").press("Enter")
    expect(alice.locator("#company-choices")).to_contain_text("No company of that name")
    alice.get_by_label("Company name").fill(company_name)
    alice.get_by_label("Title of the case").fill(f"Remboursement des billets annulés {tag}")
    alice.get_by_label("The problem shared by the consumers").fill(
        "La compagnie annule des trajets et ne rembourse pas les billets malgré les réclamations.")
    alice.get_by_label("Category").select_option("transport")
    alice.get_by_label("What the consumers ask for").fill("Le remboursement des billets.")
    fill_claim(alice, "Mon train du 3 a été annulé et le billet de 89 € jamais remboursé.", "89")
    alice.get_by_role("button", name="Open the case").click()
    confirm = alice.get_by_label("None of these cases is about my problem: open a new case")
    if confirm.count():  # other open cases share words with it: say that hers is different
        confirm.check()
        alice.get_by_role("button", name="Open the case").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text("My claim")
    expect(alice.get_by_role("status").first).to_contain_text("Your claim is filed")
    attach(alice, proof, "The proof of my written complaint to the company")
    alice_claim = alice.url.split("?")[0].split("#")[0]
    alice.get_by_role("link", name=f"Remboursement des billets annulés {tag}").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text(f"Remboursement des billets annulés {tag}")
    case_url = alice.url

    # B looks for it with other accents and inflections, and joins it
    bruno = open_as(new_context, live_server, create_consumer("Bruno Petit"), javascript)
    problems_b = watch_problems(bruno)
    bruno.get_by_role("navigation").get_by_role("link", name="Cases").click()
    search = bruno.get_by_label("Company or words describing the problem")
    # Typed key by key, as a person does: a fill() landing before htmx has wired the freshly swapped page
    # would fire its one input event unheard.
    search.press_sequentially(f"REMBOURSE billet annule {tag}", delay=15)
    if not javascript:
        bruno.get_by_role("button", name="Search").click()
    results = bruno.locator("#case-results")
    # (without words the page lists the newest cases, this one among them: wait for the search's answer)
    expect(results).to_contain_text(f"Cases matching “REMBOURSE billet annule {tag}”")
    expect(results.get_by_role("link", name=f"Remboursement des billets annulés {tag}")).to_be_visible()
    if javascript:  # the results came as a region, and the address follows the search
        expect(bruno).to_have_url(re.compile(r"/cases\?q=REMBOURSE"))
    results.get_by_role("link", name=f"Remboursement des billets annulés {tag}").click()
    expect(bruno.get_by_text("Do you have the same problem")).to_be_visible()
    bruno.get_by_role("link", name="Join this case").click()
    fill_claim(bruno, "Deux billets annulés en mars, 140 € non remboursés à ce jour.", "140,00")
    bruno.get_by_role("button", name="Join the case").click()
    expect(bruno.get_by_role("heading", level=1)).to_have_text("My claim")
    attach(bruno, photo, "Other evidence: invoice, contract, photos, exchanges…")
    bruno_claim = bruno.url.split("?")[0].split("#")[0]

    # The case now has two participants, and B's space says what happens next
    bruno.goto(case_url)
    expect(bruno.locator("dl.facts dd").first).to_have_text("2")
    bruno.get_by_role("navigation").get_by_role("link", name="My space").click()
    expect(bruno.get_by_role("main")).to_contain_text("Answer on admissibility expected by")

    # Neither sees the other's claim
    assert alice.goto(bruno_claim).status == 404
    expect(alice.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert bruno.goto(alice_claim).status == 404

    # While a new title is typed, the open case is suggested (with JavaScript; without, on submitting)
    if javascript:
        carla = open_as(new_context, live_server, create_consumer("Carla Roux"), javascript)
        alice.goto(case_url)
        company_link = alice.get_by_role("link", name=company_name).get_attribute("href") or ""
        carla.goto(f"/cases/new?company={company_link.rsplit('/', 1)[-1]}")
        carla.get_by_label("Title of the case").press_sequentially("billets non remboursés", delay=20)
        expect(carla.locator("#similar-cases")).to_contain_text(f"Remboursement des billets annulés {tag}")

    # No CSP violation or script error; only the refusals provoked above (the other's claim, the confirmation)
    expected = (r"status of 404 .*/claims/\d+\)$", r"status of 422 .*/cases\)$")
    for problem in problems_a.all() + problems_b.all():
        assert any(re.search(pattern, problem) for pattern in expected), problem
