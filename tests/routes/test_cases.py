"""Finding and opening cases: search, suggestions while typing, the "open a case" form, the case page."""

from __future__ import annotations

import secrets

from app.tables import AuditEvent, Case, Claim, Company, Notification, Reminder, Role
from tests.factories import case_values, claim_values, make_account
from tests.factories.cases import make_case, make_company
from tests.fixtures import HTMX, is_fragment, logged_in, post_form, visible


def word() -> str:
    """A word no other test uses, so searches see only this test's cases."""
    return "zq" + secrets.token_hex(4)


async def counts() -> tuple[int, int, int]:
    return await Company.count(), await Case.count(), await Claim.count()


async def test_a_consumer_opens_a_case_against_a_new_company_with_their_claim() -> None:
    # Given a consumer on the "open a case" page, and a staff member who follows new cases
    consumer = await make_account(name="Camille Martin")
    staff = await make_account(Role.staff)
    name = f"Aérolignes {word()}"
    async with logged_in(consumer) as browser:
        page = await browser.get("/cases/new")
        assert page.status_code == 200 and "Open a case" in page.text and 'id="case-form"' in page.text
        # When they describe a company that is not in the directory, the problem and their own claim
        response = await post_form(browser, "/cases", {
            "company_name": name, "company_siren": "", "company_website": "aerolignes.example",
            "company_contact_email": "", "confirm_new": "1", **case_values(), **claim_values(amount="1 249,90")},
            follow_redirects=False)
        # Then the case, its company and their claim exist, and they land on their claim to add evidence
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith("/claims/") and response.headers["location"].endswith("?new=1")
        company = await Company.objects().where(Company.name == name).first()
        assert company is not None and company.verified_at is None and company.created_by == consumer.user.id
        assert company.website == "https://aerolignes.example"
        case = await Case.objects().where(Case.company == company.id).first()
        assert case is not None and case.status == "open" and case.created_by == consumer.user.id
        assert "rembours" in case.search_text.split()
        claim = await Claim.objects().where(Claim.case == case.id).first()
        assert claim is not None and claim.consumer == consumer.user.id and claim.amount_cents == 124990
        assert claim.status == "submitted"
        assert await Reminder.count().where(Reminder.key.like(f"claim-review:{claim.id}:%")) == 2
        kinds = {event["kind"] for event in await AuditEvent.select(AuditEvent.kind).where(AuditEvent.case == case.id)}
        assert {"case_opened", "claim_submitted"} <= kinds
        assert await Notification.exists().where(Notification.user == staff.user.id, Notification.case == case.id)
        assert await Notification.exists().where(Notification.user == consumer.user.id, Notification.case == case.id)
        claim_page = await browser.get(response.headers["location"])
        assert claim_page.status_code == 200 and "Your claim is filed" in claim_page.text
        assert "1,249.90" in claim_page.text


async def test_opening_a_case_with_bad_input_saves_nothing_and_answers_with_the_form() -> None:
    consumer = await make_account()
    before = await counts()
    async with logged_in(consumer) as browser:
        response = await post_form(browser, "/cases", {
            "company_name": "", "company_siren": "123456789", "title": "Vols", "problem": "court",
            "category": "spaceships", "demand": "", "facts": "", "amount": "-30",
            "incident_date": "2999-01-01", "complaint_date": "hier", "confirm_new": "1"}, headers=HTMX)
    assert response.status_code == 422 and is_fragment(response.text, "case-form")
    for message in ("enter the company's name", "9 digits", "at least 8 characters", "choose a category",
                    "cannot be negative", "in the future", "such as 31/01/2026"):
        assert message in visible(response), message
    assert await counts() == before


async def test_a_forged_company_id_is_refused_and_nothing_is_saved() -> None:
    consumer = await make_account()
    before = await counts()
    async with logged_in(consumer) as browser:
        for forged in ("2147483647", "99999999999999", "-1", "abc", "1 OR 1=1"):
            response = await post_form(browser, "/cases", {"company_id": forged, "confirm_new": "1",
                                                            **case_values(), **claim_values()})
            assert response.status_code == 422, forged
            assert "not in the directory" in response.text
    assert await counts() == before


async def test_similar_cases_are_suggested_while_a_title_is_typed() -> None:
    # Given an open case about cancelled flights against a company
    opener = await make_account()
    company = await make_company()
    other_company = await make_company()
    case, _ = await make_case(opener, company, title=f"Vols annulés jamais remboursés {word()}")
    consumer = await make_account()
    async with logged_in(consumer) as browser:
        # When another consumer types a title with other inflections and no accents
        response = await browser.get("/cases/similar", params={"title": "vol annule rembourse",
                                                                "company_id": str(company.id)}, headers=HTMX)
        # Then the region lists the case, with the choice to open a new one anyway
        assert response.status_code == 200 and is_fragment(response.text, "similar-cases")
        assert f'href="/cases/{case.id}"' in response.text and "None of these cases" in response.text
        # Another company's cases are not suggested, and an empty title suggests nothing
        elsewhere = await browser.get("/cases/similar", params={"title": "vol annule rembourse",
                                                                 "company_id": str(other_company.id)}, headers=HTMX)
        assert f'href="/cases/{case.id}"' not in elsewhere.text
        empty = await browser.get("/cases/similar", params={"title": " "}, headers=HTMX)
        assert is_fragment(empty.text, "similar-cases") and "/cases/" not in empty.text.replace("/cases/similar", "")
        # Without JavaScript the same address is a whole page
        page = await browser.get("/cases/similar", params={"title": "vol annule", "company_id": str(company.id)})
        assert page.status_code == 200 and "<html" in page.text and f'href="/cases/{case.id}"' in page.text


async def test_submitting_a_case_like_an_open_one_asks_to_join_it_or_confirm() -> None:
    opener = await make_account()
    company = await make_company()
    existing, _ = await make_case(opener, company, title="Box internet coupée pendant des semaines")
    consumer = await make_account()
    before = await counts()
    async with logged_in(consumer) as browser:
        values = {"company_id": str(company.id), **case_values(title="Coupure de la box internet"), **claim_values()}
        # Without JavaScript the consumer never saw the suggestions: the form comes back with them
        response = await post_form(browser, "/cases", values)
        assert response.status_code == 422
        assert f'href="/cases/{existing.id}"' in response.text and "Similar cases are already open" in response.text
        assert "Coupure de la box internet" in response.text  # what they typed is kept
        assert await counts() == before
        # Confirming that theirs is different opens it
        response = await post_form(browser, "/cases", values | {"confirm_new": "1"}, follow_redirects=False)
        assert response.status_code == 303
        assert await Case.count() == before[1] + 1


async def test_search_ignores_accents_case_and_inflections() -> None:
    # Given listed cases, and one the company refused (no longer listed)
    opener = await make_account()
    tag = word()
    company = await make_company(f"Énergie Verte {tag}")
    refund, _ = await make_case(opener, company, title=f"Remboursement des prélèvements abusifs {tag}",
                                category="energy")
    other, _ = await make_case(await make_account(), company, title=f"Compteur jamais installé {tag}",
                               category="energy", demand="La pose du compteur, ou la fin du contrat sans frais.",
                               problem="Le compteur commandé n'a jamais été posé malgré les relances.")
    refused, _ = await make_case(await make_account(), company, title=f"Remboursement refusé {tag}", status="refused")
    consumer = await make_account()
    async with logged_in(consumer) as browser:
        for query in (f"rembourse prelevement {tag}", f"REMBOURSÉS {tag}", f"remboursements PRÉLÈVEMENT {tag}",
                      f"rembou {tag}"):
            response = await browser.get("/cases", params={"q": query})
            assert response.status_code == 200, query
            assert f'href="/cases/{refund.id}"' in response.text, query
            assert f'href="/cases/{other.id}"' not in response.text, query
            assert f'href="/cases/{refused.id}"' not in response.text, query
        # By the company's name, without its accent: all its listed cases
        by_company = await browser.get("/cases", params={"q": f"energie {tag}"})
        assert f'href="/cases/{refund.id}"' in by_company.text and f'href="/cases/{other.id}"' in by_company.text
        # As the visitor types, HTMX asks for the results region only
        fragment = await browser.get("/cases", params={"q": f"compteur {tag}"}, headers=HTMX)
        assert fragment.status_code == 200 and is_fragment(fragment.text, "case-results")
        assert f'href="/cases/{other.id}"' in fragment.text and f'href="/cases/{refund.id}"' not in fragment.text
        nothing = await browser.get("/cases", params={"q": f"trottinette {tag}"})
        assert "No open case matches" in nothing.text


async def test_search_filters_by_company_and_category() -> None:
    opener = await make_account()
    tag = word()
    first, second = await make_company(), await make_company()
    in_first, _ = await make_case(opener, first, title=f"Colis jamais livré {tag}", category="online_shopping")
    in_second, _ = await make_case(await make_account(), second, title=f"Colis abîmé {tag}", category="retail")
    async with logged_in(await make_account()) as browser:
        only_first = await browser.get("/cases", params={"q": f"colis {tag}", "company": str(first.id)})
        assert f'href="/cases/{in_first.id}"' in only_first.text
        assert f'href="/cases/{in_second.id}"' not in only_first.text
        assert first.name in only_first.text
        retail = await browser.get("/cases", params={"q": f"colis {tag}", "category": "retail"})
        assert f'href="/cases/{in_second.id}"' in retail.text and f'href="/cases/{in_first.id}"' not in retail.text
        # Without words: the company's cases, newest first
        listing = await browser.get("/cases", params={"company": str(second.id)})
        assert f'href="/cases/{in_second.id}"' in listing.text
        # Malformed parameters are refused, never a 500
        for params in ({"company": "abc"}, {"company": "0"}, {"offset": "-5"}, {"offset": "999999"},
                       {"q": "x" * 400}):
            assert (await browser.get("/cases", params=params)).status_code == 400, params


async def test_the_case_page_and_who_sees_it() -> None:
    opener = await make_account()
    company = await make_company()
    case, claim = await make_case(opener, company, title="Abonnement résilié mais toujours facturé")
    # The opener sees their participation
    async with logged_in(opener) as browser:
        page = await browser.get(f"/cases/{case.id}")
        assert page.status_code == 200 and "You take part in this case" in page.text
        assert f'href="/claims/{claim.id}"' in page.text and "Join this case" not in page.text
    # Another consumer sees the listed case and may join; they never see the opener's facts
    async with logged_in(await make_account()) as browser:
        page = await browser.get(f"/cases/{case.id}")
        assert page.status_code == 200 and "Join this case" in page.text and "1 participant" not in page.text
        assert claim_values()["facts"] not in visible(page)
        assert (await browser.get("/cases/2147483647")).status_code == 404
        assert (await browser.get("/cases/2147483648")).status_code == 400  # not a row id at all
    # A representative of another company and a mediator who is not assigned get a 404
    for role in (Role.company, Role.mediator):
        async with logged_in(await make_account(role)) as browser:
            assert (await browser.get(f"/cases/{case.id}")).status_code == 404
    # Staff see it
    async with logged_in(await make_account(Role.staff)) as browser:
        assert (await browser.get(f"/cases/{case.id}")).status_code == 200
    # Once refused, the case is no longer listed: only its parties see it
    await Case.update({Case.status: "refused"}).where(Case.id == case.id)
    async with logged_in(await make_account()) as browser:
        assert (await browser.get(f"/cases/{case.id}")).status_code == 404
    async with logged_in(opener) as browser:
        assert (await browser.get(f"/cases/{case.id}")).status_code == 200


async def test_only_consumers_open_cases_and_visitors_are_sent_to_log_in(client) -> None:
    company = await make_company()
    visitor = await client.get("/cases", follow_redirects=False)
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/login?next=/cases")
    for role in (Role.company, Role.mediator):
        async with logged_in(await make_account(role)) as browser:
            assert (await browser.get("/cases")).status_code == 403
            assert (await browser.get("/cases/new")).status_code == 403
            before = await counts()
            response = await post_form(browser, "/cases", {"company_id": str(company.id), "confirm_new": "1",
                                                            **case_values(), **claim_values()})
            assert response.status_code == 403 and await counts() == before
    async with logged_in(await make_account(Role.staff)) as browser:
        assert (await browser.get("/cases")).status_code == 200  # staff may look
        assert (await browser.get("/cases/new")).status_code == 403  # but not open one


async def test_the_new_case_page_finds_the_company_in_the_directory() -> None:
    tag = word()
    company = await make_company(f"Société Générale des Eaux {tag}", verified=True)
    async with logged_in(await make_account()) as browser:
        fragment = await browser.get("/cases/new", params={"company_q": f"societe generale {tag}"}, headers=HTMX)
        assert fragment.status_code == 200 and is_fragment(fragment.text, "company-choices")
        assert f'href="/cases/new?company={company.id}"' in fragment.text and "verified" in fragment.text
        chosen = await browser.get("/cases/new", params={"company": str(company.id)})
        assert f'name="company_id" value="{company.id}"' in chosen.text and 'name="company_name"' not in chosen.text
        none = await browser.get("/cases/new", params={"company_q": f"inconnue {tag}"})
        assert "No company of that name" in none.text


async def test_suggestions_put_cases_sharing_more_words_first_then_the_newest() -> None:
    # The same order on SQLite (FTS5) and PostgreSQL (GIN): most words in common, then newest
    company = await make_company()
    tag = word()
    one_word, _ = await make_case(await make_account(), company, title=f"Colis perdu {tag}",
                                  problem="Le transporteur a perdu les colis confiés.", demand="Un dédommagement.")
    two_words, _ = await make_case(await make_account(), company, title=f"Colis abîmé et facturé {tag}",
                                   problem="Les colis arrivent cassés et sont facturés.", demand="Un dédommagement.")
    newer_one_word, _ = await make_case(await make_account(), company, title=f"Facturation douteuse {tag}",
                                        problem="Des lignes inconnues apparaissent.", demand="Un dédommagement.")
    async with logged_in(await make_account()) as browser:
        response = await browser.get("/cases/similar", headers=HTMX,
                                     params={"title": "colis facturés", "company_id": str(company.id)})
    order = [case.id for case in (two_words, newer_one_word, one_word)]
    positions = [response.text.index(f'href="/cases/{case_id}"') for case_id in order]
    assert positions == sorted(positions)
