"""The consumer's personal space: my cases with what to do now, my claims, my documents — and only mine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.tables import Case, Claim, Role
from tests.factories import make_account, pdf_bytes
from tests.factories.cases import make_case
from tests.fixtures import csrf_token, logged_in, visible
from tests.routes.test_evidence import upload


async def test_my_cases_say_what_to_do_now_and_the_next_deadline() -> None:
    consumer = await make_account()
    fresh_case, fresh_claim = await make_case(consumer, title="Colis jamais livré malgré les relances")
    asked_case, asked_claim = await make_case(consumer, title="Garantie refusée sur un lave-linge")
    await Claim.update({Claim.status: "needs_info", Claim.review_reason: "Il manque la facture."}).where(
        Claim.id == asked_claim.id)
    invited_case, invited_claim = await make_case(consumer, title="Frais de résiliation abusifs")
    deadline = datetime(2027, 3, 14, 12, tzinfo=UTC)
    await Case.update({Case.status: "invited", Case.company_deadline: deadline}).where(Case.id == invited_case.id)
    someone_else, _ = await make_case(await make_account(), title="Une affaire qui n'est pas la mienne")
    async with logged_in(consumer) as browser:
        uploaded = await upload(browser, invited_claim.id, [("preuve.pdf", pdf_bytes(), "application/pdf")],
                                kind="complaint", follow_redirects=False)
        assert uploaded.status_code == 303
        await Claim.update({Claim.status: "admitted"}).where(Claim.id == invited_claim.id)
        page = await browser.get("/my/cases")
        text = visible(page)
        assert page.status_code == 200 and "My space" in text
        for case in (fresh_case, asked_case, invited_case):
            assert f'href="/cases/{case.id}"' in page.text
        assert f'href="/cases/{someone_else.id}"' not in page.text
        # What to do now, with links straight to the place to do it
        assert f'href="/claims/{asked_claim.id}/edit"' in page.text and "complete your claim" in text
        assert f'href="/claims/{fresh_claim.id}#claim-evidence"' in page.text
        assert "Add the proof of your written complaint" in text
        # Deadlines: the 3-week review answer, the company's answer
        due = (fresh_claim.submitted_at + timedelta(weeks=3)).astimezone(UTC)
        assert "Answer on admissibility expected by" in text and str(due.year) in text
        assert "The company must answer by" in text and "14 March 2027" in text
        claims = await browser.get("/my/claims")
        assert claims.status_code == 200 and "Il manque la facture." in visible(claims)
        assert "Information requested" in claims.text and "€320.00" in claims.text
        documents = await browser.get("/my/documents")
        assert documents.status_code == 200 and "preuve.pdf" in documents.text
        assert "Proof of the written complaint" in documents.text
    # Another consumer's space shows none of this
    async with logged_in(await make_account()) as browser:
        for path in ("/my/cases", "/my/claims", "/my/documents"):
            page = await browser.get(path)
            assert page.status_code == 200 and "Colis jamais livré" not in page.text and "preuve.pdf" not in page.text


async def test_the_personal_space_is_for_consumers(client) -> None:
    visitor = await client.get("/my/cases", follow_redirects=False)
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/login")
    for role in (Role.company, Role.mediator, Role.staff):
        async with logged_in(await make_account(role)) as browser:
            assert (await browser.get("/my/cases")).status_code == 403
    async with logged_in(await make_account()) as browser:
        empty = await browser.get("/my/cases")
        assert empty.status_code == 200 and "You do not take part in any case yet" in empty.text
        assert (await browser.get("/my", follow_redirects=False)).headers["location"] == "/my/cases"
        assert await csrf_token(browser)
