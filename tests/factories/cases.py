"""The consumer side: the forms a consumer fills in, and a case opened through the real action.

Its `make_company` (unverified unless told) and `make_case` (opened by a consumer, with their claim) differ from
the ones in `tests.factories.mediation`, which write straight to the tables: import them from this module.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.actions.cases import OpenCaseForm, do_open_case
from app.tables import Case, Claim, Company
from tests.factories.accounts import Account

TODAY = date.today()


def claim_values(**overrides: str) -> dict[str, str]:
    """A valid claim form, as a consumer would fill it in."""
    values = {
        "facts": "J'ai payé mon billet 320 € et le vol a été annulé sans remboursement depuis trois mois.",
        "amount": "320,00",
        "incident_date": (TODAY - timedelta(days=90)).isoformat(),
        "complaint_date": (TODAY - timedelta(days=60)).isoformat(),
    }
    return values | overrides


def case_values(**overrides: str) -> dict[str, str]:
    values = {
        "title": "Vols annulés non remboursés",
        "problem": "La compagnie annule des vols et ne rembourse pas les billets malgré les réclamations écrites.",
        "category": "travel",
        "demand": "Le remboursement intégral des billets et l'indemnité prévue par le règlement européen.",
    }
    return values | overrides


async def make_company(name: str | None = None, *, verified: bool = False, **fields: Any) -> Company:
    company = Company(name=name or f"Compagnie {secrets.token_hex(4)}",
                      verified_at=datetime.now(UTC) if verified else None, **fields)
    await company.save()
    return company


async def make_case(opener: Account, company: Company | None = None, *, status: str | None = None,
                    **overrides: str) -> tuple[Case, Claim]:
    """A case opened by `opener` (with their claim), through the real action; optionally moved to `status`."""
    company = company or await make_company()
    form = OpenCaseForm(company_id=company.id, confirm_new=True, **(case_values() | claim_values() | overrides))
    result = await do_open_case(opener.user, form)
    assert not result.errors, result.errors.fields
    if status is not None:
        await Case.update({Case.status: status}).where(Case.id == result.case_id)
    case = await Case.objects().where(Case.id == result.case_id).first()
    claim = await Claim.objects().where(Claim.id == result.claim_id).first()
    assert case is not None and claim is not None
    return case, claim
