"""The staff back office: access, companies to verify, representatives' invitations, the overview."""

from __future__ import annotations

from app.actions.backoffice import back_office_summary
from app.tables import AuditEvent, Case, Company, CompanyInvite, Role
from tests.factories import assign, make_account, make_claim, make_world, unique_email
from tests.factories.mediation import make_case, make_company
from tests.fixtures import Browsers, link_in, mails_to, post_form

STAFF_PAGES = ["/staff", "/staff/companies", "/staff/cases"]


async def test_the_back_office_is_for_staff_only(browsers: Browsers) -> None:
    world = await make_world()
    pages = [*STAFF_PAGES, f"/staff/companies/{world.company.id}", f"/staff/cases/{world.case.id}"]
    # Visitors are sent to the login page
    visitor = await browsers.as_(None)
    for path in pages:
        response = await visitor.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    # Other roles are refused, for pages and for every action
    for account in (world.consumer_a, world.member, world.mediator):
        browser = await browsers.as_(account)
        for path in pages:
            assert (await browser.get(path)).status_code == 403, (account.user.role, path)
        posts = {f"/staff/companies/{world.company.id}/verify": {},
                 f"/staff/companies/{world.company.id}/invites": {"email": unique_email("rep")},
                 f"/staff/cases/{world.case.id}/invite": {"email": unique_email("x"), "days": "21"},
                 f"/staff/cases/{world.case.id}/mediator": {"mediator": str(world.mediator.user.id)}}
        for path, data in posts.items():
            assert (await post_form(browser, path, data)).status_code == 403, (account.user.role, path)
    assert await CompanyInvite.count().where(CompanyInvite.company == world.company.id) == 0
    assert (await Case.objects().where(Case.id == world.case.id).first()).status == "open"
    # Staff see every page
    staff = await browsers.as_(world.staff)
    for path in pages:
        assert (await staff.get(path)).status_code == 200, path


async def test_the_home_lists_what_waits_for_staff(browsers: Browsers) -> None:
    # Given an unverified company, an open case with claims, an accepted case without mediator
    unverified = await make_company(verified=False, name="Nouvelle Énergie SAS")
    world = await make_world()
    accepted = await make_case(world.company, status="accepted", title="Factures d'électricité doublées")
    staff = await browsers.as_(world.staff)
    # When staff open the back office, each list has its count (the whole database's, other tests' rows too)
    summary = await back_office_summary()
    response = await staff.get("/staff")
    assert response.status_code == 200
    assert f"Companies to verify ({summary['companies_count']})" in response.text
    assert f"Cases to invite ({summary['to_invite_count']})" in response.text
    assert f"Mediators to assign ({summary['to_assign_count']})" in response.text
    assert summary["companies_count"] >= 1 and summary["to_invite_count"] >= 1 and summary["to_assign_count"] >= 1
    # And the full lists show ours, newest first
    companies = await staff.get("/staff/companies")
    assert f'href="/staff/companies/{unverified.id}"' in companies.text
    to_invite = await staff.get("/staff/cases?status=open")
    assert f'href="/staff/cases/{world.case.id}"' in to_invite.text
    assert "<td>2</td>" in to_invite.text.split(f'href="/staff/cases/{world.case.id}"')[1].split("</tr>")[0]
    # Once the accepted case has a mediator it leaves the "to assign" count
    await assign(accepted, world.mediator)
    assert (await back_office_summary())["to_assign_count"] == summary["to_assign_count"] - 1


async def test_staff_verify_a_company_once(browsers: Browsers) -> None:
    company = await make_company(verified=False)
    staff_account = await make_account(Role.staff)
    staff = await browsers.as_(staff_account)
    listed = await staff.get("/staff/companies")
    assert company.name in listed.text
    response = await post_form(staff, f"/staff/companies/{company.id}/verify", {}, follow_redirects=False)
    assert response.status_code == 303
    assert (await Company.objects().where(Company.id == company.id).first()).verified_at is not None
    assert await AuditEvent.exists().where(AuditEvent.kind == "company_verified",
                                           AuditEvent.actor == staff_account.user.id)
    # The list of companies to verify no longer shows it; "all" does
    assert company.name not in (await staff.get("/staff/companies")).text
    assert company.name in (await staff.get("/staff/companies?show=all")).text
    # Verifying twice is refused clearly
    again = await post_form(staff, f"/staff/companies/{company.id}/verify", {})
    assert again.status_code == 409 and "already verified" in again.text
    # An unknown company is a 404
    assert (await post_form(staff, "/staff/companies/999999/verify", {})).status_code == 404
    assert (await staff.get("/staff/companies/0")).status_code == 400


async def test_staff_invite_a_representative_by_mail(browsers: Browsers) -> None:
    company = await make_company()
    staff = await browsers.as_(await make_account(Role.staff))
    address = unique_email("rep")
    response = await post_form(staff, f"/staff/companies/{company.id}/invites", {"email": address.upper()},
                               follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("?invited=1")
    [mail] = await mails_to(address)
    assert company.name in mail.subject
    path = link_in(mail, "/companies/join/")
    token = path.rsplit("/", 1)[-1]
    invite = await CompanyInvite.objects().where(CompanyInvite.company == company.id).first()
    # Only the SHA-256 of the token is stored
    assert invite is not None and invite.email == address and token not in invite.token_hash and len(
        invite.token_hash) == 64
    page = await staff.get(f"/staff/companies/{company.id}")
    assert address in page.text


async def test_a_bad_address_comes_back_in_the_form_fragment(browsers: Browsers) -> None:
    company = await make_company()
    consumer = await make_account(Role.consumer)
    staff = await browsers.as_(await make_account(Role.staff))
    for address, message in (("not an address", "valid e-mail address"),
                             (consumer.email, "not a company representative")):
        response = await post_form(staff, f"/staff/companies/{company.id}/invites", {"email": address},
                                   headers={"HX-Request": "true"})
        assert response.status_code == 422 and message in response.text
        assert "<html" not in response.text and 'id="invite-form"' in response.text
    assert await CompanyInvite.count().where(CompanyInvite.company == company.id) == 0


async def test_the_overview_filters_by_status_company_and_title(browsers: Browsers) -> None:
    world = await make_world()
    other_company = await make_company(name="Transports Zéphyr")
    refused = await make_case(other_company, status="refused", title="Retards de trains en série")
    await make_claim(refused, world.consumer_a)
    staff = await browsers.as_(world.staff)
    everything = await staff.get("/staff/cases")
    assert world.case.title in everything.text and refused.title in everything.text
    by_status = await staff.get("/staff/cases?status=refused")
    assert refused.title in by_status.text and world.case.title not in by_status.text
    by_company = await staff.get("/staff/cases?company=zéphyr")
    assert refused.title in by_company.text and world.case.title not in by_company.text
    by_title = await staff.get("/staff/cases?q=TRAINS")
    assert refused.title in by_title.text and world.case.title not in by_title.text
    # Wildcards typed in a filter are plain text
    assert refused.title not in (await staff.get("/staff/cases?q=%25%25zz")).text
    # An HTMX filter gets the table only
    fragment = await staff.get("/staff/cases?status=refused", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="case-table"' in fragment.text
    # Hostile query strings get a clear answer
    assert (await staff.get("/staff/cases?before=abc")).status_code == 400
    assert (await staff.get("/staff/cases?q=" + "x" * 500)).status_code == 400
    assert (await staff.get("/staff/cases?status=bogus")).status_code == 200


async def test_the_staff_case_page_shows_the_invitation_and_mediator_forms(browsers: Browsers) -> None:
    world = await make_world()
    staff = await browsers.as_(world.staff)
    response = await staff.get(f"/staff/cases/{world.case.id}")
    assert response.status_code == 200
    assert 'id="invite-form"' in response.text and world.company.contact_email in response.text
    assert 'id="mediator-form"' in response.text and world.mediator.user.display_name in response.text
    assert "2 · €350.50" in response.text
    assert (await staff.get("/staff/cases/999999")).status_code == 404
