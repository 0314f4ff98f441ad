"""The companies directory: accent-insensitive search, a company's page with its open cases."""

from __future__ import annotations

import secrets

from app.tables import CompanyMember, Role
from tests.factories import make_account
from tests.factories.cases import make_case, make_company
from tests.fixtures import HTMX, is_fragment, logged_in


async def test_the_directory_finds_companies_whatever_accents_and_case(client) -> None:
    tag = "zq" + secrets.token_hex(4)
    verified = await make_company(f"Électricité Réunie {tag}", verified=True)
    unverified = await make_company(f"Eaux du Sud {tag}")
    await make_case(await make_account(), verified)
    async with logged_in(await make_account()) as browser:
        found = await browser.get("/companies", params={"q": f"ELECTRICITE reunie {tag}"})
        assert found.status_code == 200 and f'href="/companies/{verified.id}"' in found.text
        assert f'href="/companies/{unverified.id}"' not in found.text
        assert "verified" in found.text and "1 open case" in found.text
        fragment = await browser.get("/companies", params={"q": f"eaux {tag}"}, headers=HTMX)
        assert is_fragment(fragment.text, "company-results") and f'href="/companies/{unverified.id}"' in fragment.text
        nothing = await browser.get("/companies", params={"q": f"nulle part {tag}"})
        assert "No company matches" in nothing.text
        assert (await browser.get("/companies", params={"offset": "-1"})).status_code == 400
    visitor = await client.get("/companies", follow_redirects=False)
    assert visitor.status_code == 303


async def test_a_company_page_shows_its_open_cases_to_consumers_and_its_contact_only_to_staff() -> None:
    company = await make_company(contact_email="mediation@exemple.fr", siren="552081317", website="https://x.fr")
    case, _ = await make_case(await make_account(), company)
    refused, _ = await make_case(await make_account(), company, status="refused", title="Une affaire refusée")
    async with logged_in(await make_account()) as browser:
        page = await browser.get(f"/companies/{company.id}")
        assert page.status_code == 200 and company.name in page.text and "552081317" in page.text
        assert f'href="/cases/{case.id}"' in page.text and f'href="/cases/{refused.id}"' not in page.text
        assert f'href="/cases/new?company={company.id}"' in page.text
        assert "mediation@exemple.fr" not in page.text
        assert (await browser.get("/companies/2147483647")).status_code == 404
    async with logged_in(await make_account(Role.staff)) as browser:
        assert "mediation@exemple.fr" in (await browser.get(f"/companies/{company.id}")).text
    # A representative of another company sees the directory entry but not the cases
    async with logged_in(await make_account(Role.company)) as browser:
        page = await browser.get(f"/companies/{company.id}")
        assert page.status_code == 200 and f'href="/cases/{case.id}"' not in page.text
    # Its own representative sees them
    own = await make_account(Role.company)
    await CompanyMember.insert(CompanyMember(company=company.id, user=own.user.id))
    async with logged_in(own) as browser:
        assert f'href="/cases/{case.id}"' in (await browser.get(f"/companies/{company.id}")).text
