"""Certificates of non-agreement: one per claim, a PDF with the dates that matter for limitation periods
(Code civil art. 2238: suspended from the start of the mediation to its end), and who may download it."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.actions.access import case_access
from app.actions.errors import NotFound
from app.actions.notifications import N_, do_notify
from app.domain.agreements import CERTIFICATE_REASONS
from app.platform.documents import store_document
from app.platform.pdfs import CertificateDoc, certificate_pdf
from app.tables import Case, Certificate, Claim, Company, User


@dataclass(frozen=True)
class CaseParties:
    """What every document of a case names: the case, its company and its mediator."""

    case: Case
    company: Company
    mediator_name: str


async def case_parties(case_id: int) -> CaseParties:
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        raise NotFound()
    company = await Company.objects().where(Company.id == case.company).first()
    assert company is not None
    mediator = await User.select(User.display_name).where(User.id == case.mediator).first() if case.mediator else None
    return CaseParties(case=case, company=company, mediator_name=mediator["display_name"] if mediator else "")


@dataclass(frozen=True)
class CertificateTodo:
    """One certificate to issue: the claim and its consumer, as selected in bulk."""

    claim_id: int
    consumer_id: int
    consumer_name: str
    consumer_email: str
    consumer_locale: str
    claim_submitted_at: datetime | None
    reason: str


CLAIM_COLUMNS = (Claim.id, Claim.consumer, Claim.submitted_at, Claim.consumer.display_name.as_alias("name"),
                 Claim.consumer.email.as_alias("email"), Claim.consumer.locale.as_alias("locale"))


def todo_from_row(row: dict[str, Any], reason: str) -> CertificateTodo:
    return CertificateTodo(claim_id=row["id"], consumer_id=row["consumer"], consumer_name=row["name"] or "",
                           consumer_email=row["email"] or "", consumer_locale=row["locale"] or "fr",
                           claim_submitted_at=row["submitted_at"], reason=reason)


def _render(parties: CaseParties, todos: list[CertificateTodo], ended_at: datetime) -> list[tuple[CertificateTodo,
                                                                                                    bytes]]:
    case = parties.case
    return [(todo, certificate_pdf(CertificateDoc(
        certificate_ref=f"C-{case.id}-{todo.claim_id}", case_id=case.id, case_title=case.title,
        company_name=parties.company.name, consumer_name=todo.consumer_name, consumer_email=todo.consumer_email,
        mediator_name=parties.mediator_name, reason=todo.reason, claim_submitted_at=todo.claim_submitted_at,
        mediation_started_at=case.started_at, mediation_ended_at=ended_at, issued_at=ended_at,
    ), todo.consumer_locale)) for todo in todos]


async def render_certificates(parties: CaseParties, todos: list[CertificateTodo], ended_at: datetime
                              ) -> list[Certificate]:
    """Render and store the files (outside any transaction); returns the rows to insert.

    The file's key holds its content's fingerprint: a rerun with the same content writes the same name, and a
    concurrent run with other content never overwrites the file a committed row points to.
    """
    rendered = await asyncio.to_thread(_render, parties, todos, ended_at)
    rows = []
    for todo, content in rendered:
        digest = hashlib.sha256(content).hexdigest()
        stored = await asyncio.to_thread(store_document, f"certificate:{todo.claim_id}:{digest}", content)
        rows.append(Certificate(case=parties.case.id, claim=todo.claim_id, consumer=todo.consumer_id,
                                reason=todo.reason, mediation_started_at=parties.case.started_at,
                                mediation_ended_at=ended_at, stored_name=stored.stored_name, sha256=stored.sha256))
    return rows


async def insert_certificates(rows: list[Certificate]) -> list[int]:
    """Insert, one per claim whatever ran before (ON CONFLICT DO NOTHING); returns the claims newly certified."""
    if not rows:
        return []
    inserted = await Certificate.insert(*rows).on_conflict(action="DO NOTHING").returning(Certificate.claim)
    return [row["claim"] for row in inserted]


async def do_issue_certificate(claim_id: int, reason: str, *, ended_at: datetime | None = None) -> Certificate:
    """The claim's certificate of non-agreement, issued once (an existing one is returned as it is).

    Call it outside a write transaction: it renders the PDF first, then inserts. The consumer is notified
    when this call issued it.
    """
    if reason not in CERTIFICATE_REASONS:
        raise ValueError(f"unknown certificate reason {reason!r}")
    existing = await Certificate.objects().where(Certificate.claim == claim_id).first()
    if existing is not None:
        return existing
    row = await Claim.select(*CLAIM_COLUMNS, Claim.case).where(Claim.id == claim_id).first()
    if row is None:
        raise NotFound()
    parties = await case_parties(row["case"])
    ended = (ended_at or datetime.now(UTC)).replace(microsecond=0)
    todo = todo_from_row(row, reason)
    inserted = await insert_certificates(await render_certificates(parties, [todo], ended))
    certificate = await Certificate.objects().where(Certificate.claim == claim_id).first()
    assert certificate is not None
    if inserted:
        await notify_certificates(parties.case, [todo.consumer_id])
    return certificate


async def notify_certificates(case: Case, consumer_ids: list[int]) -> None:
    """Tell each consumer their certificate is ready, on the case's agreements page (a legal notice)."""
    if consumer_ids:
        await do_notify(
            consumer_ids, kind="certificate_issued", legal=True, case_id=case.id,
            link=f"/cases/{case.id}/agreements",
            title=N_("Your certificate of non-agreement for “%(title)s”"),
            body=N_("The mediation of “%(title)s” ended without an agreement for you. Your certificate of "
                    "non-agreement, with the dates that matter for limitation periods, is ready to download. You "
                    "remain free to go to court."),
            params={"title": case.title},
        )


async def certificate_for_viewer(user: User, certificate_id: int) -> Certificate:
    """The consumer's own certificate; the case's mediator and staff may see it too; 404 for anyone else."""
    certificate = await Certificate.objects().where(Certificate.id == certificate_id).first()
    if certificate is None:
        raise NotFound()
    if certificate.consumer == user.id:
        return certificate
    access = await case_access(user, certificate.case)
    if access.is_staff or access.is_mediator:
        return certificate
    raise NotFound()
