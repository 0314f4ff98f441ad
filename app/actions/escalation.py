"""Escalation: after a refused or failed mediation, a consumer who opts in downloads their own file as a bundle
(claim, evidence, certificate, the messages they wrote) for the litigation partner; staff export the opted-in
list. Confidentiality (L612-3): nothing in the bundle but the consumer's own file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.actions.access import claim_for_viewer
from app.actions.claims import claim_evidence, evidence_path
from app.actions.companies import require_staff
from app.actions.errors import NotFound, Refused
from app.actions.timeline import certificate_of, escalation_allowed
from app.i18n import _
from app.platform.documents import read_document
from app.tables import Case, Certificate, Claim, Company, Evidence, Message, User

# Cells a spreadsheet would run as a formula (CSV injection): prefixed with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class EscalationView:
    case: Case
    claim: Claim
    company: Company | None
    certificate: Certificate | None
    allowed: bool


async def own_claim_for_escalation(user: User, claim_id: int) -> tuple[Case, Claim]:
    """The consumer's own claim; 404 for anyone else (staff, the company, another consumer)."""
    access, claim = await claim_for_viewer(user, claim_id)
    if access.own_claim is None or access.own_claim.id != claim.id or claim.consumer != user.id:
        raise NotFound()
    return access.case, claim


async def escalation_view(user: User, claim_id: int) -> EscalationView:
    case, claim = await own_claim_for_escalation(user, claim_id)
    company = await Company.objects().where(Company.id == case.company).first()
    certificate = await certificate_of(claim.id)
    return EscalationView(case=case, claim=claim, company=company, certificate=certificate,
                          allowed=escalation_allowed(case, claim, certificate is not None))


# --- the bundle ------------------------------------------------------------------------------------------


def claim_summary(case: Case, company: Company | None, claim: Claim, consumer: User) -> dict[str, Any]:
    return {
        "case": {"id": case.id, "title": case.title, "company": company.name if company else "",
                 "problem": case.problem, "demand": case.demand, "status": case.status, "outcome": case.outcome,
                 "mediation_started_at": case.started_at.isoformat() if case.started_at else None,
                 "mediation_ended_at": case.closed_at.isoformat() if case.closed_at else None},
        "claim": {"id": claim.id, "status": claim.status, "facts": claim.facts,
                  "amount_claimed_eur": f"{claim.amount_cents // 100}.{claim.amount_cents % 100:02d}",
                  "incident_date": claim.incident_date.isoformat(), "complaint_date": claim.complaint_date.isoformat(),
                  "submitted_at": claim.submitted_at.isoformat(),
                  "withdrawn_at": claim.withdrawn_at.isoformat() if claim.withdrawn_at else None,
                  "escalation_opt_in_at": claim.escalation_opt_in_at.isoformat()
                  if claim.escalation_opt_in_at else None},
        "consumer": {"name": consumer.display_name, "email": consumer.email},
    }


def messages_text(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        at = row["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"[{at}] ({row['space.kind']})\n{row['body']}\n")
    return "\n".join(lines)


def build_zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files:
            bundle.writestr(name, content)
    return buffer.getvalue()


def _read(path: Any) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


async def escalation_bundle(user: User, claim_id: int) -> tuple[str, bytes]:
    """The ZIP of one's own file, once opted in: (file name, bytes)."""
    view = await escalation_view(user, claim_id)
    claim, case = view.claim, view.case
    if not view.allowed:
        raise Refused(_("The escalation path opens only when the company refuses the mediation or the "
                        "mediation ends without agreement."), 409)
    if claim.escalation_opt_in_at is None:
        raise Refused(_("Please first ask for your file to be passed to the litigation partner."), 409)
    files: list[tuple[str, bytes]] = [(
        "claim.json",
        json.dumps(claim_summary(case, view.company, claim, user), ensure_ascii=False, indent=2).encode(),
    )]
    used: set[str] = set()
    evidence: list[Evidence] = await claim_evidence(claim.id)
    for number, item in enumerate(evidence, start=1):
        content = await asyncio.to_thread(_read, evidence_path(item.stored_name))
        if content is None:
            continue
        name = f"evidence/{number:02d}-{item.original_name}"
        if name in used:
            name = f"evidence/{number:02d}-{item.id}-{item.original_name}"
        used.add(name)
        files.append((name, content))
    if view.certificate is not None:
        try:
            files.append(("certificate-of-non-agreement.pdf", read_document(view.certificate.stored_name)))
        except FileNotFoundError:  # not produced yet, or lost: the bundle goes without it
            pass
    rows = await Message.select(Message.created_at, Message.body, Message.space.kind).where(
        Message.space.case == case.id, Message.author == user.id).order_by(Message.space.id).order_by(Message.seq)
    if rows:
        files.append(("my-messages.txt", messages_text(rows).encode()))
    content = await asyncio.to_thread(build_zip, files)
    return f"cessez-le-feu-case-{case.id}-claim-{claim.id}.zip", content


# --- staff: the opted-in list -------------------------------------------------------------------------------


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def escalations_csv(actor: User) -> str:
    """Every claim whose consumer opted in, oldest first: case, company, consumer, e-mail, amount, date."""
    require_staff(actor)
    rows = await Claim.select(
        Claim.case.id, Claim.case.title, Claim.case.company.name, Claim.consumer.display_name, Claim.consumer.email,  # type: ignore[union-attr]  # Piccolo types a join through two foreign keys as Column | Any
        Claim.amount_cents, Claim.escalation_opt_in_at,
    ).where(Claim.escalation_opt_in_at.is_not_null()).order_by(Claim.escalation_opt_in_at).order_by(Claim.id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("Case"), _("Case title"), _("Company"), _("Consumer"), _("E-mail"), _("Amount claimed (EUR)"),
                     _("Opted in at (UTC)")])
    for row in rows:
        opted: datetime = row["escalation_opt_in_at"]
        cents = row["amount_cents"] or 0
        writer.writerow([safe_cell(cell) for cell in (
            row["case.id"], row["case.title"], row["case.company.name"], row["consumer.display_name"],
            row["consumer.email"], f"{cents // 100}.{cents % 100:02d}",
            opted.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))])
    return out.getvalue()
