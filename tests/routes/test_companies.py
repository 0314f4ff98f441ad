"""Company representatives join their company through a staff invitation link (single use, 14 days)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient

from app.actions.companies import token_digest
from app.tables import CompanyInvite, CompanyMember, Role, User
from tests.factories import PASSWORD, make_account, make_member, unique_email
from tests.factories.mediation import make_company
from tests.fixtures import Browsers, build_app, link_in, login, mails_to, post_form


async def invite(company_id: int, email: str, staff_email: str, browsers: Browsers) -> str:
    staff = await browsers.as_(None)
    await login(staff, staff_email)
    response = await post_form(staff, f"/staff/companies/{company_id}/invites", {"email": email})
    assert response.status_code in (200, 303)
    mails = await mails_to(email)
    return link_in(mails[-1], "/companies/join/")


async def members_of(company_id: int) -> list[int]:
    rows = await CompanyMember.select(CompanyMember.user).where(CompanyMember.company == company_id)
    return [row["user"] for row in rows]


async def test_a_logged_in_representative_joins_once(browsers: Browsers) -> None:
    # Given a company, a representative account and a staff invitation
    company = await make_company()
    staff = await make_account(Role.staff)
    representative = await make_account(Role.company, name="Chloé Bernard")
    path = await invite(company.id, representative.email, staff.email, browsers)
    browser = await browsers.as_(representative)
    # When they open the link, they are offered to join
    page = await browser.get(path)
    assert page.status_code == 200 and f"Join {company.name} as Chloé Bernard" in page.text
    # And joining makes them a member, sends them to the company, and spends the link
    response = await post_form(browser, path, {}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/companies/{company.id}"
    assert await members_of(company.id) == [representative.user.id]
    invite_row = await CompanyInvite.objects().where(CompanyInvite.company == company.id).first()
    assert invite_row.used_by == representative.user.id and invite_row.used_at is not None
    mine = await browser.get("/companies/mine")
    assert mine.status_code == 200 and company.name in mine.text
    # The link works once: replaying it shows the "no longer valid" page, and changes nothing
    again = await browser.get(path)
    assert again.status_code == 400 and "no longer valid" in again.text
    replay = await post_form(browser, path, {})
    assert replay.status_code == 400 and "already been used" in replay.text
    assert await members_of(company.id) == [representative.user.id]


async def test_a_consumer_account_cannot_join_a_company(browsers: Browsers) -> None:
    company = await make_company()
    staff = await make_account(Role.staff)
    consumer = await make_account(Role.consumer)
    path = await invite(company.id, unique_email("rep"), staff.email, browsers)
    browser = await browsers.as_(consumer)
    page = await browser.get(path)
    assert page.status_code == 200 and "cannot join a company" in page.text and "<button type=\"submit\" class" \
        "=\"button primary\">Join" not in page.text
    response = await post_form(browser, path, {})
    assert response.status_code == 403 and "A consumer account" in response.text
    assert await members_of(company.id) == []
    # The link is still usable by the right person
    assert await CompanyInvite.exists().where(CompanyInvite.company == company.id, CompanyInvite.used_at.is_null())


async def test_signing_up_with_the_invited_address_joins_at_once(browsers: Browsers) -> None:
    company = await make_company()
    staff = await make_account(Role.staff)
    address = unique_email("newrep")
    path = await invite(company.id, address, staff.email, browsers)
    visitor = await browsers.as_(None)
    page = await visitor.get(path)
    assert page.status_code == 200 and "Create a representative account" in page.text and address in page.text
    response = await post_form(visitor, f"{path}/signup", {"email": address, "display_name": "Hugo Lefèvre",
                                                            "password": PASSWORD, "password_confirm": PASSWORD},
                               follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/companies/{company.id}"
    user = await User.objects().where(User.email == address).first()
    # The invitation proved the address: verified, company role, member, logged in
    assert user.role == "company" and user.email_verified_at is not None
    assert await members_of(company.id) == [user.id]
    assert (await visitor.get("/companies/mine")).status_code == 200


async def test_signing_up_with_another_address_confirms_it_first(browsers: Browsers) -> None:
    company = await make_company()
    staff = await make_account(Role.staff)
    path = await invite(company.id, unique_email("invited"), staff.email, browsers)
    visitor = await browsers.as_(None)
    other = unique_email("other")
    response = await post_form(visitor, f"{path}/signup", {"email": other, "display_name": "Inès Robert",
                                                            "password": PASSWORD, "password_confirm": PASSWORD})
    assert response.status_code == 200 and "Check your inbox" in response.text
    user = await User.objects().where(User.email == other).first()
    assert user.role == "company" and user.email_verified_at is None
    assert await members_of(company.id) == []
    [mail] = await mails_to(other)
    assert "/verify/" in mail.body_text
    # The invitation link stays valid for when they come back logged in
    assert (await visitor.get(path)).status_code == 200


async def test_signup_errors_come_back_in_the_form_fragment(browsers: Browsers) -> None:
    company = await make_company()
    staff = await make_account(Role.staff)
    existing = await make_account(Role.company)
    path = await invite(company.id, existing.email, staff.email, browsers)
    visitor = await browsers.as_(None)
    users_before = await User.count()
    bad = await post_form(visitor, f"{path}/signup", {"email": "nope", "display_name": "", "password": "short",
                                                       "password_confirm": "short"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "<html" not in bad.text and 'id="signup-form"' in bad.text
    assert "valid e-mail address" in bad.text
    # The invited address already has an account: log in instead
    taken = await post_form(visitor, f"{path}/signup", {"email": existing.email, "display_name": "Quelqu'un",
                                                         "password": PASSWORD, "password_confirm": PASSWORD})
    assert taken.status_code == 422 and "please log in" in taken.text
    assert await User.count() == users_before and await members_of(company.id) == []


async def test_forged_expired_and_odd_tokens_get_the_invalid_page(browsers: Browsers) -> None:
    company = await make_company()
    expired_token = "expired-token-" + "x" * 30
    await CompanyInvite.insert(CompanyInvite(company=company.id, email=unique_email("old"),
                                             token_hash=token_digest(expired_token),
                                             expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    representative = await make_account(Role.company)
    browser = await browsers.as_(representative)
    for token in (expired_token, "forged-" + "y" * 40, "short", "%2e%2e%2fetc", "é" * 30, "z" * 300):
        page = await browser.get(f"/companies/join/{token}")
        assert page.status_code in (400, 404), token
        if page.status_code == 400:
            assert "no longer valid" in page.text
        joined = await post_form(browser, f"/companies/join/{token}", {})
        assert joined.status_code in (400, 404), token
    assert await members_of(company.id) == []


async def test_joining_needs_a_login_and_my_companies_is_for_representatives(browsers: Browsers) -> None:
    company = await make_company()
    member = await make_member(company)
    visitor = await browsers.as_(None)
    response = await post_form(visitor, "/companies/join/" + "t" * 40, {}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert (await visitor.get("/companies/mine", follow_redirects=False)).status_code == 303
    consumer = await browsers.as_(await make_account(Role.consumer))
    assert (await consumer.get("/companies/mine")).status_code == 403
    rep = await browsers.as_(member)
    assert company.name in (await rep.get("/companies/mine")).text


async def test_signups_from_invitation_pages_are_rate_limited() -> None:
    app = build_app(login_rate_per_minute=2, redis_prefix=f"rate-{secrets.token_hex(4)}")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as browser:
        statuses = [(await post_form(browser, "/companies/join/" + "t" * 40 + "/signup",
                                     {"email": "x"})).status_code for _ in range(3)]
        assert statuses == [400, 400, 429]
        # Reading the page is not limited
        assert (await browser.get("/companies/join/" + "t" * 40)).status_code == 400
