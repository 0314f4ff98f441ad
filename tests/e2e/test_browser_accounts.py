"""A visitor's first steps in a real Chromium, with and without JavaScript.

Sign-up → verification link from the local mailbox → confirm → log in → account page → log out → English.
The French strings come from app/translations/fr/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.e2e.conftest import PageProblems, watch_problems

pytestmark = pytest.mark.browser

PASSWORD = "a quiet river at dawn"
NAME = "Élodie Marchand"
HOME_HEADING = "Réglez votre litige ensemble, sans passer par le tribunal"


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


@dataclass
class SentRequest:
    method: str
    path: str
    htmx: bool
    boosted: bool


def record_requests(page: Page, base_url: str) -> list[SentRequest]:
    """The document and XHR requests the page sends to the app, with whether htmx sent them."""
    sent: list[SentRequest] = []

    def on_request(request: Request) -> None:
        if request.url.startswith(base_url) and request.resource_type in {"document", "xhr", "fetch"}:
            headers = request.headers
            sent.append(SentRequest(method=request.method, path=request.url[len(base_url):].split("?")[0],
                                    htmx=headers.get("hx-request") == "true",
                                    boosted=headers.get("hx-boosted") == "true"))

    page.on("request", on_request)
    return sent


def unexpected_problems(problems: PageProblems, *expected: str) -> list[str]:
    """The page's errors, minus those matching an expected pattern."""
    return [problem for problem in problems.all() if not any(re.search(pattern, problem) for pattern in expected)]


def posts_to(sent: list[SentRequest], prefix: str) -> list[SentRequest]:
    return [request for request in sent if request.method == "POST" and request.path.startswith(prefix)]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_signup_verify_login_logout_then_english(
    new_context: Callable[..., BrowserContext], live_server: str, javascript: bool
) -> None:
    page = new_context(java_script_enabled=javascript).new_page()
    problems = watch_problems(page)
    sent = record_requests(page, live_server)
    email = unique_email("browser")
    html = page.locator("html")
    main = page.get_by_role("main")
    menu = page.get_by_role("navigation", name="Menu principal")

    # The home page is in French by default, and its call to action leads to the sign-up form
    page.goto("/")
    expect(html).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOME_HEADING)
    if javascript:
        assert page.evaluate("typeof htmx") == "object", "htmx did not load"
    main.get_by_role("link", name="Créer mon compte gratuit").click()
    expect(page).to_have_url(f"{live_server}/signup")
    expect(page.get_by_role("heading", level=1)).to_have_text("Créez votre compte")
    expect(page).to_have_title("Créez votre compte · Cessez-le-feu")

    # Sign up
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Votre nom").fill(NAME)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page).to_have_url(f"{live_server}/signup/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultez votre boîte de réception")
    expect(main).to_contain_text("Nous avons envoyé un message à l'adresse indiquée.")

    # The verification mail waits in the local mailbox, in French, with a link to this server
    page.goto("/dev/mailbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Boîte aux lettres locale")
    mails = page.locator("ul.mail-list > li").filter(has_text=email)
    expect(mails).to_have_count(1)
    mails.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmez votre adresse e-mail pour Cessez-le-feu")
    expect(main).to_contain_text(f"À: {email}")
    expect(main).to_contain_text(f"Bonjour {NAME},")
    verify_link = main.locator("a[href*='/verify/']")
    expect(verify_link).to_have_count(1)
    assert (verify_link.get_attribute("href") or "").startswith(f"{live_server}/verify/")
    verify_link.click()

    # Opening the link only shows a button; the click confirms the address
    expect(page).to_have_url(re.compile(re.escape(f"{live_server}/verify/") + r"[\w-]{20,}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmez votre adresse e-mail")
    page.get_by_role("button", name="Confirmer mon adresse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Adresse confirmée")
    expect(main).to_contain_text("Merci. Votre compte est prêt : vous pouvez maintenant vous connecter.")

    # Log in
    main.get_by_role("link", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")
    login_form = page.locator("#login-form")
    login_form.get_by_label("Adresse e-mail").fill(email)
    login_form.get_by_label("Mot de passe").fill(PASSWORD)
    login_form.get_by_role("button", name="Se connecter").click()

    # The account page shows who is logged in
    expect(page).to_have_url(f"{live_server}/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon compte")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(NAME)
    expect(facts).to_contain_text(email)
    expect(facts).to_contain_text("Consommateur")
    expect(menu.get_by_role("link", name=NAME)).to_be_visible()
    expect(html).to_have_attribute("lang", "fr")

    # Log out: back home, logged out, and the account page asks to log in again
    main.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOME_HEADING)
    expect(menu.get_by_role("link", name="Se connecter")).to_be_visible()
    expect(menu.get_by_role("link", name=NAME)).to_have_count(0)
    page.goto("/account")
    expect(page).to_have_url(f"{live_server}/login?next=/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")

    # Switch to English: the same page comes back in English
    expect(page.get_by_role("button", name="FR", exact=True)).to_have_attribute("aria-current", "true")
    page.get_by_role("button", name="EN", exact=True).click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{live_server}/login?next=/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_label("E-mail address")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Sign up")).to_be_visible()
    expect(page.get_by_text("Se connecter")).to_have_count(0)
    expect(page.get_by_role("button", name="EN", exact=True)).to_have_attribute("aria-current", "true")

    # Each step went through htmx when JavaScript ran, and through plain forms and links when it did not
    for prefix in ("/signup", "/verify/", "/login", "/logout"):
        [post] = posts_to(sent, prefix)
        if javascript:
            assert post.htmx, f"POST {prefix} was not sent by htmx"
        else:
            assert not post.htmx, f"POST {prefix} claims to come from htmx without JavaScript"
    if javascript:
        assert posts_to(sent, "/signup")[0].boosted is False  # the form's own hx-post, answered with a fragment
        assert posts_to(sent, "/verify/")[0].boosted and posts_to(sent, "/logout")[0].boosted
        assert page.evaluate("typeof htmx") == "object", "htmx is gone after the language switch"
        unexpected = unexpected_problems(problems)
        assert unexpected == [], "errors in the browser console:\n" + "\n".join(unexpected)
    else:
        assert not any(request.htmx for request in sent)


def test_signup_errors_replace_the_form_in_place(new_context: Callable[..., BrowserContext], live_server: str) -> None:
    page = new_context(java_script_enabled=True).new_page()
    problems = watch_problems(page)
    email = unique_email("short-password")
    page.goto("/signup")
    expect(page.get_by_role("heading", level=1)).to_have_text("Créez votre compte")
    assert page.evaluate("typeof htmx") == "object", "htmx did not load"
    page.evaluate("window.__sameDocument = true")  # lost if the browser loads a new page

    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Votre nom").fill(NAME)
    page.get_by_label("Mot de passe", exact=True).fill("too short")
    page.get_by_label("Mot de passe (confirmation)").fill("too short")
    with page.expect_response(lambda response: response.url == f"{live_server}/signup"
                              and response.request.method == "POST") as response_info:
        page.get_by_role("button", name="Créer mon compte").click()

    # The server answered the htmx request with just the form, and htmx swapped it into the page
    response = response_info.value
    assert response.status == 422
    assert response.request.headers.get("hx-request") == "true"
    body = response.text()
    assert 'id="signup-form"' in body and "<html" not in body
    form = page.locator("#signup-form")
    expect(form.get_by_role("alert")).to_have_text("Veuillez corriger les champs signalés ci-dessous.")
    expect(form).to_contain_text("Le mot de passe doit comporter au moins 12 caractères.")
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Adresse e-mail")).to_have_value(email)
    expect(page.get_by_label("Votre nom")).to_have_value(NAME)
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_value("")  # never sent back
    expect(page).to_have_url(f"{live_server}/signup")
    expect(page.locator("#signup-form")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_text("Créez votre compte")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded instead of swapped"

    # Nothing else went wrong; Chromium reports the 422 itself as a console error, which is expected here
    unexpected = unexpected_problems(problems, r"Failed to load resource: the server responded with a status of 422")
    assert unexpected == [], "errors in the browser console:\n" + "\n".join(unexpected)

    # The corrected form goes through
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page).to_have_url(f"{live_server}/signup/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultez votre boîte de réception")
