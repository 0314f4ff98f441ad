"""The mediation side: companies, cases, claims, representatives and mediators written straight to the tables.

Its `make_company` (verified unless told) and `make_case` (a bare case of a company) differ from the ones in
`tests.factories.cases`, which go through the consumer's action: import them from this module.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.tables import (
    Case,
    Claim,
    Company,
    CompanyMember,
    MediatorAssignment,
    Notification,
    Reminder,
    Role,
)
from tests.factories.accounts import Account, make_account, unique_email


async def make_company(*, verified: bool = True, name: str | None = None, contact_email: str | None = None
                       ) -> Company:
    company = Company(name=name or f"Société {secrets.token_hex(3)}", contact_email=contact_email or unique_email(
        "contact"), verified_at=datetime.now(UTC) if verified else None)
    await company.save()
    return company


async def make_case(company: Company, *, status: str = "open", title: str | None = None, **values: Any) -> Case:
    case = Case(company=company.id, title=title or f"Colis jamais livrés {secrets.token_hex(2)}",
                problem="Les colis commandés en novembre ne sont jamais arrivés malgré le paiement.",
                category="online_shopping", demand="Le remboursement intégral des commandes.", status=status, **values)
    await case.save()
    return case


async def make_claim(case: Case, consumer: Account, *, status: str = "submitted", amount_cents: int = 12_345,
                     complaint_date: date | None = None, submitted_at: datetime | None = None,
                     facts: str = "Commandé le 3 novembre, rien reçu, aucune réponse du service client.") -> Claim:
    claim = Claim(case=case.id, consumer=consumer.user.id, facts=facts, amount_cents=amount_cents,
                  incident_date=date.today() - timedelta(days=60),
                  complaint_date=complaint_date or date.today() - timedelta(days=30), status=status,
                  submitted_at=submitted_at or datetime.now(UTC))
    await claim.save()
    return claim


async def make_member(company: Company, *, name: str = "Camille Martin") -> Account:
    account = await make_account(Role.company, name=name)
    await CompanyMember.insert(CompanyMember(company=company.id, user=account.user.id))
    return account


async def assign(case: Case, mediator: Account, *, declared: bool = True) -> MediatorAssignment:
    assignment = MediatorAssignment(case=case.id, mediator=mediator.user.id,
                                    declared_at=datetime.now(UTC) if declared else None,
                                    independence_statement="I declare…" if declared else "",
                                    conflicts_disclosed="none" if declared else "")
    await assignment.save()
    await Case.update({Case.mediator: mediator.user.id}).where(Case.id == case.id)
    case.mediator = mediator.user.id
    return assignment


async def reload(case: Case) -> Case:
    fresh = await Case.objects().where(Case.id == case.id).first()
    assert fresh is not None
    return fresh


async def reload_claim(claim: Claim) -> Claim:
    fresh = await Claim.objects().where(Claim.id == claim.id).first()
    assert fresh is not None
    return fresh


async def notifications_of(account: Account, kind: str | None = None) -> list[Notification]:
    query = Notification.objects().where(Notification.user == account.user.id).order_by(Notification.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return await query


async def reminders(prefix: str) -> list[Reminder]:
    return await Reminder.objects().where(Reminder.key.like(prefix + "%")).order_by(Reminder.id)


async def make_due(prefix: str) -> None:
    """Move the pending reminders with this key prefix into the past, as if their time had come."""
    await Reminder.update({Reminder.due_at: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Reminder.key.like(prefix + "%"), Reminder.status == "pending")


@dataclass
class World:
    """One case with its company, a representative, two consumers with claims, staff and a mediator."""

    company: Company
    case: Case
    member: Account
    consumer_a: Account
    consumer_b: Account
    claim_a: Claim
    claim_b: Claim
    staff: Account
    mediator: Account


async def make_world(*, status: str = "open") -> World:
    company = await make_company()
    case = await make_case(company, status=status)
    member = await make_member(company)
    consumer_a = await make_account(Role.consumer, name="Alice Durand")
    consumer_b = await make_account(Role.consumer, name="Bruno Petit")
    claim_a = await make_claim(case, consumer_a, amount_cents=10_000)
    claim_b = await make_claim(case, consumer_b, amount_cents=25_050)
    return World(company, case, member, consumer_a, consumer_b, claim_a, claim_b,
                 await make_account(Role.staff, name="Sam Staff"), await make_account(Role.mediator,
                                                                                      name="Maud Médiatrice"))
