"""The end of a proposal: finalization (agreements, certificates, the collective record), the consumers'
signatures, the company's countersignature with the success fee and its invoice, and the signing reminders.

Finalization is one idempotent job (workers.agreements.finalize_proposal): every row it makes is unique (one
agreement per proposal and claim, one certificate per claim, one record per proposal), files are rendered
before each insert and named from their content, and the proposal moves locked → finalized, with every
notification, in one last conditional update. Run twice, or retried after a crash, it ends the same.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from app.actions import jobs
from app.actions.access import CaseAccess, case_access
from app.actions.base import (
    company_member_ids,
    record,
    refuse_transition,
    reminder_params,
)
from app.actions.certificates import (
    CLAIM_COLUMNS,
    CaseParties,
    case_parties,
    insert_certificates,
    notify_certificates,
    render_certificates,
    todo_from_row,
)
from app.actions.errors import NotFound, Refused
from app.actions.notifications import N_, do_cancel_reminders, do_notify, do_schedule_reminder, reminder_handler
from app.domain.accounts import FormErrors
from app.domain.agreements import (
    FIRST_SIGN_REMINDER,
    LAST_REMINDER_BEFORE,
    can_countersign,
    signing_deadline,
)
from app.domain.fees import FeeRule, compute_fee, invoice_number
from app.domain.lifecycle import CaseAction, CaseStatus, ClaimStatus, TransitionError, next_case_status
from app.domain.notices import shown_notices
from app.domain.proposals import amount_for
from app.formatting import iso_day
from app.i18n import DEFAULT_LANGUAGE, _, language_of
from app.platform.db import after_commit, write_transaction
from app.platform.documents import store_document
from app.platform.passwords import verify_password
from app.platform.pdfs import (
    AgreementDoc,
    CollectiveRecordDoc,
    InvoiceDoc,
    RecordLine,
    agreement_pdf,
    collective_record_pdf,
    invoice_pdf,
)
from app.settings import get_settings
from app.tables import (
    Agreement,
    AuditEvent,
    Case,
    Certificate,
    Claim,
    CollectiveRecord,
    Decision,
    Fee,
    Proposal,
    Reminder,
    User,
)

BATCH = 100  # consumers rendered and inserted together
STALE_LOCK = timedelta(minutes=10)  # a locked proposal still not finalized after this is enqueued again
SIGN_FAILURES_ALLOWED = 5  # wrong passwords on the signing form per user and window
SIGN_FAILURE_WINDOW = timedelta(minutes=15)
SIGN_FAILED = "agreement_sign_failed"
# Tests only: called with the count of this proposal's agreements after each batch (to simulate a crash).
crash_hook: Callable[[int], None] | None = None

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def reminder_prefix(proposal_id: int) -> str:
    return f"agreements:{proposal_id}:"


# --- closing the decisions, and the sweep ------------------------------------------------------------------


def enqueue_finalization(proposal_id: int) -> None:
    jobs.actor("finalize_proposal").send(proposal_id)


async def do_close_decisions(actor: User, proposal_id: int) -> Proposal:
    """The mediator closes the decisions now: the proposal is locked and its finalization enqueued."""
    proposal = await Proposal.objects().where(Proposal.id == proposal_id).first()
    if proposal is None:
        raise NotFound()
    access = await case_access(actor, proposal.case)
    if not access.is_mediator:
        raise NotFound()
    if proposal.status != "open":
        raise Refused(_("The decisions on this proposal are already closed."), 409)
    if access.case.status != CaseStatus.in_mediation:
        raise Refused(_("The mediation is not running: its decisions cannot be closed."), 409)
    now = datetime.now(UTC).replace(microsecond=0)
    async with write_transaction():
        locked = await Proposal.update({Proposal.status: "locked", Proposal.locked_at: now}).where(
            Proposal.id == proposal_id, Proposal.status == "open").returning(Proposal.id)
        if not locked:
            raise Refused(_("The decisions on this proposal are already closed."), 409)
        await record(proposal.case, actor.id, "decisions_closed", proposal=proposal_id)
        after_commit(lambda: enqueue_finalization(proposal_id))
    proposal.status, proposal.locked_at = "locked", now
    return proposal


async def do_sweep_finalizations(now: datetime | None = None, limit: int = 100,
                                 stale_after: timedelta | None = None) -> list[int]:
    """The scheduler's part: lock the open proposals whose decision deadline passed and enqueue them; enqueue
    again the locked ones whose job seems lost (locked longer than `stale_after`, STALE_LOCK by default).
    Returns the proposals enqueued."""
    now = now or datetime.now(UTC)
    stale_after = STALE_LOCK if stale_after is None else stale_after
    running = Proposal.case.status == CaseStatus.in_mediation.value
    due = await Proposal.select(Proposal.id).where(Proposal.status == "open", Proposal.decide_by <= now,
                                                   running).limit(limit)
    enqueued: list[int] = []
    for row in due:
        got = await Proposal.update({Proposal.status: "locked", Proposal.locked_at: now.replace(microsecond=0)}).where(
            Proposal.id == row["id"], Proposal.status == "open").returning(Proposal.id)
        if got:
            enqueued.append(row["id"])
    stale = await Proposal.select(Proposal.id).where(
        Proposal.status == "locked", Proposal.locked_at <= now - stale_after, running).limit(limit)
    enqueued += [row["id"] for row in stale]
    for proposal_id in enqueued:
        after_commit(functools.partial(enqueue_finalization, proposal_id))
    return enqueued


# --- finalization -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepting:
    claim_id: int
    consumer_id: int
    name: str
    email: str
    locale: str
    claimed_cents: int
    amount_cents: int
    accepted_at: datetime | None


def _render_agreements(parties: CaseParties, proposal: Proposal, items: Sequence[Accepting], at: datetime
                       ) -> list[tuple[Accepting, bytes]]:
    case = parties.case
    notices: dict[str, tuple[str, ...]] = {}
    out = []
    for item in items:
        if item.locale not in notices:
            notices[item.locale] = tuple(shown_notices(proposal.notices, item.locale, proposal.decide_by))
        doc = AgreementDoc(
            agreement_ref=f"A-{case.id}-{proposal.id}-{item.claim_id}", case_id=case.id, case_title=case.title,
            company_name=parties.company.name, consumer_name=item.name, consumer_email=item.email,
            mediator_name=parties.mediator_name, proposal_number=proposal.number, proposal_version=proposal.version,
            proposal_author_role=proposal.author_role, terms=proposal.terms, rule_kind=proposal.rule_kind,
            amount_cents=item.amount_cents, item=proposal.item if proposal.rule_kind == "item" else "",
            claimed_cents=item.claimed_cents, notices=notices[item.locale],
            mediation_started_at=case.started_at, proposed_at=proposal.created_at, decide_by=proposal.decide_by,
            accepted_at=item.accepted_at, finalized_at=at)
        out.append((item, agreement_pdf(doc, item.locale)))
    return out


def _store(key: str, content: bytes) -> tuple[str, str]:
    """Store under a name derived from the key and the content's fingerprint (see certificates.render_...)."""
    stored = store_document(f"{key}:{hashlib.sha256(content).hexdigest()}", content)
    return stored.stored_name, stored.sha256


async def _write_agreements(parties: CaseParties, proposal: Proposal, items: Sequence[Accepting], at: datetime
                            ) -> None:
    def render_and_store() -> list[Agreement]:
        rows = []
        for item, content in _render_agreements(parties, proposal, items, at):
            name, digest = _store(f"agreement:{proposal.id}:{item.claim_id}", content)
            rows.append(Agreement(case=parties.case.id, proposal=proposal.id, claim=item.claim_id,
                                  consumer=item.consumer_id, amount_cents=item.amount_cents,
                                  item=proposal.item if proposal.rule_kind == "item" else "",
                                  stored_name=name, sha256=digest, created_at=at))
        return rows

    rows = await asyncio.to_thread(render_and_store)
    if rows:
        await Agreement.insert(*rows).on_conflict(action="DO NOTHING")


async def do_finalize_proposal(proposal_id: int) -> str:
    """Finalize a proposal whose decisions are closed (or due): see the module's docstring. Returns what
    happened: "finalized", "done" (already), "not_due", "skipped" or "missing"."""
    proposal = await Proposal.objects().where(Proposal.id == proposal_id).first()
    if proposal is None:
        return "missing"
    if proposal.status == "finalized":
        return "done"
    if proposal.status not in ("open", "locked"):
        return "skipped"
    now = datetime.now(UTC).replace(microsecond=0)
    if proposal.status == "open":
        if proposal.decide_by > now:
            return "not_due"
        await Proposal.update({Proposal.status: "locked", Proposal.locked_at: now}).where(
            Proposal.id == proposal_id, Proposal.status == "open")
        proposal = await Proposal.objects().where(Proposal.id == proposal_id).first()
        assert proposal is not None
        if proposal.status != "locked":
            return "done" if proposal.status == "finalized" else "skipped"
    parties = await case_parties(proposal.case)
    case = parties.case
    if case.status != CaseStatus.in_mediation:
        return "skipped"
    at = proposal.locked_at or now  # the documents' date: the same on every run

    claims = await Claim.select(*CLAIM_COLUMNS, Claim.amount_cents).where(
        Claim.case == case.id, Claim.status == ClaimStatus.admitted.value).order_by(Claim.id)
    decisions = {row["claim"]: row for row in await Decision.select(
        Decision.claim, Decision.choice, Decision.updated_at).where(Decision.proposal == proposal_id)}
    done = {row["claim"] for row in await Agreement.select(Agreement.claim).where(Agreement.proposal == proposal_id)}
    certified = {row["claim"] for row in await Certificate.select(Certificate.claim).where(Certificate.case == case.id)}
    accepting: list[Accepting] = []
    to_certify = []
    accepted_ids, refusing, silent = [], 0, 0
    for claim in claims:
        decision = decisions.get(claim["id"])
        if decision is not None and decision["choice"] == "accept":
            accepted_ids.append(claim["id"])
            if claim["id"] not in done:
                accepting.append(Accepting(
                    claim_id=claim["id"], consumer_id=claim["consumer"], name=claim["name"] or "",
                    email=claim["email"] or "", locale=claim["locale"] or DEFAULT_LANGUAGE,
                    claimed_cents=claim["amount_cents"], accepted_at=decision["updated_at"],
                    amount_cents=amount_for(proposal.rule_kind, fixed_cents=proposal.fixed_cents,
                                            share_basis_points=proposal.share_basis_points,
                                            claimed_cents=claim["amount_cents"])))
            continue
        reason = "refused" if decision is not None and decision["choice"] == "refuse" else "silent"
        refusing, silent = refusing + (reason == "refused"), silent + (reason == "silent")
        if claim["id"] not in certified:
            to_certify.append(todo_from_row(claim, reason))

    written = len(done)
    for batch in chunks(accepting, BATCH):
        await _write_agreements(parties, proposal, batch, at)
        written += len(batch)
        if crash_hook is not None:
            crash_hook(written)
    for todo in chunks(to_certify, BATCH):
        await insert_certificates(await render_certificates(parties, list(todo), at))
    if not await CollectiveRecord.exists().where(CollectiveRecord.proposal == proposal_id):
        await _write_record(parties, proposal, at, refusing=refusing, silent=silent)
    return await _complete(parties, proposal, claims, accepted_ids, now)


async def _write_record(parties: CaseParties, proposal: Proposal, at: datetime, *, refusing: int, silent: int
                        ) -> None:
    lines = await Agreement.select(Agreement.amount_cents, Agreement.item,
                                   Agreement.consumer.display_name.as_alias("name")).where(
        Agreement.proposal == proposal.id).order_by(Agreement.claim)
    doc = CollectiveRecordDoc(
        case_id=parties.case.id, case_title=parties.case.title, company_name=parties.company.name,
        mediator_name=parties.mediator_name, proposal_number=proposal.number, proposal_version=proposal.version,
        terms=proposal.terms, rule_kind=proposal.rule_kind, decide_by=proposal.decide_by, finalized_at=at,
        accepting=len(lines), refusing=refusing, silent=silent,
        agreements=tuple(RecordLine(line["name"] or "", line["amount_cents"], line["item"]) for line in lines))
    content = await asyncio.to_thread(collective_record_pdf, doc, DEFAULT_LANGUAGE)
    name, digest = await asyncio.to_thread(_store, f"record:{proposal.id}", content)
    await CollectiveRecord.insert(CollectiveRecord(case=parties.case.id, proposal=proposal.id, stored_name=name,
                                                   sha256=digest, created_at=at)).on_conflict(action="DO NOTHING")


async def _complete(parties: CaseParties, proposal: Proposal, claims: list[dict[str, Any]], accepted_ids: list[int],
                    now: datetime) -> str:
    """locked → finalized, with every notification, once."""
    case = parties.case
    params = {"title": case.title}
    async with write_transaction():
        changed = await Proposal.update({Proposal.status: "finalized", Proposal.finalized_at: now}).where(
            Proposal.id == proposal.id, Proposal.status == "locked").returning(Proposal.id)
        if not changed:
            return "done"
        agreements = await Agreement.select(Agreement.consumer).where(Agreement.proposal == proposal.id)
        accepting = [row["consumer"] for row in agreements]
        accepted = set(accepted_ids)
        others = [claim["consumer"] for claim in claims if claim["id"] not in accepted]
        await record(case.id, None, "proposal_finalized", proposal=proposal.id, agreements=len(accepting),
                     certificates=len(others))
        members = await company_member_ids(case.company)
        mediator = [case.mediator] if case.mediator else []
        await notify_certificates(case, others)
        if not accepting:
            try:
                closed = next_case_status(case.status, CaseAction.close)
            except TransitionError as error:
                raise refuse_transition(error) from error
            await Case.update({Case.status: closed.value, Case.closed_at: now, Case.outcome: "no_agreement"}).where(
                Case.id == case.id, Case.status == CaseStatus.in_mediation.value)
            await record(case.id, None, "case_closed", outcome="no_agreement")
            await do_notify(members + mediator, kind="case_closed", legal=True, case_id=case.id,
                            link=f"/cases/{case.id}/agreements",
                            title=N_("The mediation of “%(title)s” ended without an agreement"),
                            body=N_("Nobody accepted the proposed solution: the case is closed. Each consumer "
                                    "received a certificate of non-agreement."), params=params)
            return "finalized"
        deadline = signing_deadline(now)
        sign_params = params | {"deadline": iso_day(deadline), "count": len(accepting)}
        await do_notify(accepting, kind="agreement_ready", legal=True, case_id=case.id,
                        link=f"/cases/{case.id}/agreements",
                        title=N_("Your agreement for “%(title)s” is ready to sign"),
                        body=N_("You accepted the proposed solution. Your personal agreement is ready: read it and "
                                "sign it online, by entering your password again, before %(deadline)s."),
                        params=sign_params)
        await do_notify(members, kind="agreements_drawn_up", case_id=case.id, link=f"/cases/{case.id}/agreements",
                        title=N_("Agreements drawn up for “%(title)s”: %(count)s"),
                        body=N_("The consumers who accepted the proposed solution now sign their agreements. You "
                                "countersign once for all when every one of them has signed, or after "
                                "%(deadline)s for those who signed."), params=sign_params)
        await do_notify(mediator, kind="proposal_finalized", case_id=case.id, link=f"/cases/{case.id}/agreements",
                        title=N_("The decisions on “%(title)s” are final"),
                        body=N_("Agreements drawn up: %(count)s. The other consumers received a certificate of "
                                "non-agreement. Signatures are open until %(deadline)s."), params=sign_params)
        prefix = reminder_prefix(proposal.id)
        reminder = {"proposal_id": proposal.id}
        await do_schedule_reminder(prefix + "sign:d3", kind="agreements_sign", due_at=now + FIRST_SIGN_REMINDER,
                                   case_id=case.id, params=reminder)
        await do_schedule_reminder(prefix + "sign:d1", kind="agreements_sign", due_at=deadline - LAST_REMINDER_BEFORE,
                                   case_id=case.id, params=reminder)
        await do_schedule_reminder(prefix + "countersign:d1", kind="agreements_countersign",
                                   due_at=deadline - LAST_REMINDER_BEFORE, case_id=case.id, params=reminder)
    return "finalized"


# --- who sees what ------------------------------------------------------------------------------------------


async def agreement_for_viewer(user: User, agreement_id: int) -> tuple[CaseAccess, Agreement]:
    """The consumer's own agreement; the case's mediator, company representatives and staff may see it; 404
    for anyone else."""
    agreement = await Agreement.objects().where(Agreement.id == agreement_id).first()
    if agreement is None:
        raise NotFound()
    access = await case_access(user, agreement.case)
    if agreement.consumer == user.id or access.is_staff or access.is_mediator or access.is_company:
        return access, agreement
    raise NotFound()


async def agreements_access(user: User, case_id: int) -> CaseAccess:
    """The agreements page of a case: its parties (a consumer who withdrew included), mediator and staff."""
    access = await case_access(user, case_id)
    if access.is_staff or access.is_mediator or access.is_company or access.own_claim is not None:
        return access
    raise NotFound()


def sees_everyone(access: CaseAccess) -> bool:
    return access.is_staff or access.is_mediator or access.is_company


async def record_for_viewer(user: User, case_id: int) -> CollectiveRecord:
    """The collective record names every accepting consumer: the company, the mediator and staff only."""
    access = await agreements_access(user, case_id)
    if not sees_everyone(access):
        raise NotFound()
    found = await CollectiveRecord.objects().where(CollectiveRecord.case == case_id).order_by(
        CollectiveRecord.id, ascending=False).first()
    if found is None:
        raise NotFound()
    return found


async def fee_for_viewer(user: User, case_id: int) -> Fee:
    """The invoice: the company's representatives and staff (not the mediator, whose pay never depends on it)."""
    access = await agreements_access(user, case_id)
    if not (access.is_company or access.is_staff):
        raise NotFound()
    fee = await Fee.objects().where(Fee.case == case_id).first()
    if fee is None:
        raise NotFound()
    return fee


@dataclass
class SigningState:
    proposal: Proposal | None
    record: CollectiveRecord | None
    total: int  # agreements of consumers still in the mediation
    signed: int
    deadline: datetime | None

    @property
    def can_countersign(self) -> bool:
        if self.record is None or self.record.countersigned_at is not None or self.proposal is None \
                or self.proposal.finalized_at is None:
            return False
        return can_countersign(finalized_at=self.proposal.finalized_at, now=datetime.now(UTC), total=self.total,
                               signed=self.signed)


async def signing_state(case_id: int) -> SigningState:
    proposal = await Proposal.objects().where(Proposal.case == case_id, Proposal.status.is_in(
        ["locked", "finalized"])).order_by(Proposal.id, ascending=False).first()
    if proposal is None:
        return SigningState(None, None, 0, 0, None)
    found = await CollectiveRecord.objects().where(CollectiveRecord.proposal == proposal.id).first()
    active = (Agreement.proposal == proposal.id) & (Agreement.claim.status != ClaimStatus.withdrawn.value)
    total = await Agreement.count().where(active)
    signed = await Agreement.count().where(active, Agreement.signed_at.is_not_null())
    deadline = signing_deadline(proposal.finalized_at) if proposal.finalized_at else None
    return SigningState(proposal, found if proposal.status == "finalized" else None, total, signed, deadline)


async def agreements_page(access: CaseAccess) -> dict[str, Any]:
    """What the agreements page of a case shows to this viewer."""
    case = access.case
    state = await signing_state(case.id)
    rows: list[dict[str, Any]] = []
    own_agreement = own_certificate = None
    if sees_everyone(access) and state.proposal is not None:
        rows = await Agreement.select(
            Agreement.id, Agreement.amount_cents, Agreement.item, Agreement.signed_at, Agreement.countersigned_at,
            Agreement.consumer.display_name.as_alias("name"), Agreement.claim.status.as_alias("claim_status"),
        ).where(Agreement.proposal == state.proposal.id).order_by(Agreement.claim)
    if access.own_claim is not None:
        own_agreement = await Agreement.objects().where(Agreement.claim == access.own_claim.id).order_by(
            Agreement.id, ascending=False).first()
        own_certificate = await Certificate.objects().where(Certificate.claim == access.own_claim.id).first()
    certificates = 0
    if sees_everyone(access):
        certificates = await Certificate.count().where(Certificate.case == case.id)
    fee = await Fee.objects().where(Fee.case == case.id).first() if (access.is_company or access.is_staff) else None
    return {"case": case, "access": access, "state": state, "rows": rows, "own_agreement": own_agreement,
            "own_certificate": own_certificate, "certificates": certificates, "fee": fee,
            "sees_everyone": sees_everyone(access)}


async def agreement_page(user: User, agreement_id: int) -> dict[str, Any]:
    """What one agreement's page shows to this viewer, and whether they may sign it now (its consumer, claim still
    admitted, the collective record not countersigned yet)."""
    access, agreement = await agreement_for_viewer(user, agreement_id)
    claim = await Claim.select(Claim.status).where(Claim.id == agreement.claim).first()
    consumer = await User.select(User.display_name).where(User.id == agreement.consumer).first()
    state = await signing_state(access.case.id)
    is_owner = agreement.consumer == user.id
    can_sign = (is_owner and agreement.signed_at is None and claim is not None
                and claim["status"] == ClaimStatus.admitted.value and state.record is not None
                and state.record.countersigned_at is None)
    return {"case": access.case, "agreement": agreement, "consumer_name": consumer["display_name"] if consumer else "",
            "is_owner": is_owner, "can_sign": can_sign, "state": state}


# --- signing ------------------------------------------------------------------------------------------------


async def do_sign_agreement(actor: User, agreement_id: int, password: str, *, ip: str, user_agent: str
                            ) -> FormErrors:
    """The consumer signs their own agreement after entering their password again (time, IP, user agent)."""
    access, agreement = await agreement_for_viewer(actor, agreement_id)
    if agreement.consumer != actor.id:
        raise NotFound()
    if agreement.signed_at is not None:
        raise Refused(_("You have already signed this agreement."), 409)
    claim = await Claim.select(Claim.status).where(Claim.id == agreement.claim).first()
    if claim is None or claim["status"] != ClaimStatus.admitted:
        raise Refused(_("You withdrew from this mediation: this agreement can no longer be signed."), 409)
    found = await CollectiveRecord.select(CollectiveRecord.countersigned_at).where(
        CollectiveRecord.proposal == agreement.proposal).first()
    if found is None or found["countersigned_at"] is not None or access.case.status != CaseStatus.in_mediation:
        raise Refused(_("The signatures are closed: this agreement can no longer be signed."), 409)
    now = datetime.now(UTC)
    failures = await AuditEvent.count().where(AuditEvent.actor == actor.id, AuditEvent.kind == SIGN_FAILED,
                                              AuditEvent.created_at > now - SIGN_FAILURE_WINDOW)
    if failures >= SIGN_FAILURES_ALLOWED:
        raise Refused(_("Too many wrong passwords. Please wait a quarter of an hour before trying again."), 429)
    errors = FormErrors()
    if not password:
        errors.add("password", _("Please enter your password to sign."))
        return errors
    if not await verify_password(actor.password_hash, password[:1024]):
        await record(agreement.case, actor.id, SIGN_FAILED, agreement=agreement.id)
        errors.add("password", _("This password is not correct."))
        return errors
    now = datetime.now(UTC)
    async with write_transaction():
        # Taking the record's row first orders signatures and the countersignature (PostgreSQL row lock).
        gate = await CollectiveRecord.update({CollectiveRecord.countersigned_ip: ""}).where(
            CollectiveRecord.proposal == agreement.proposal, CollectiveRecord.countersigned_at.is_null(),
        ).returning(CollectiveRecord.id)
        if not gate:
            raise Refused(_("The signatures are closed: this agreement can no longer be signed."), 409)
        signed = await Agreement.update({
            Agreement.signed_at: now, Agreement.signed_ip: ip[:64], Agreement.signed_user_agent: user_agent[:400],
        }).where(Agreement.id == agreement.id, Agreement.signed_at.is_null()).returning(Agreement.id)
        if not signed:
            raise Refused(_("You have already signed this agreement."), 409)
        await record(agreement.case, actor.id, "agreement_signed", agreement=agreement.id, ip=ip[:64])
        remaining = await Agreement.count().where(
            Agreement.proposal == agreement.proposal, Agreement.signed_at.is_null(),
            Agreement.claim.status != ClaimStatus.withdrawn.value)
        if remaining == 0:
            await do_notify(await company_member_ids(access.case.company), kind="agreements_all_signed",
                            case_id=access.case.id, link=f"/cases/{access.case.id}/agreements",
                            title=N_("Every agreement of “%(title)s” is signed"),
                            body=N_("Every consumer who accepted has signed. You can now countersign the "
                                    "agreements, once for all."), params={"title": access.case.title})
    return errors


# --- countersigning, the fee, the end of the case ---------------------------------------------------------


def fee_rule() -> FeeRule:
    settings = get_settings()
    return FeeRule(basis_points=settings.fee_percent_basis_points,
                   per_agreement_cents=settings.fee_per_agreement_cents, minimum_cents=settings.fee_minimum_cents)


def describe_rule(rule: FeeRule) -> str:
    """The fee rule in words, in the current language."""
    from babel.numbers import format_decimal

    from app import i18n
    from app.formatting import BABEL_LOCALES, euros

    percent = format_decimal(rule.basis_points / 100, locale=BABEL_LOCALES.get(i18n.current_language(), "fr_FR"))
    text = _("%(percent)s %% of the signed amounts") % {"percent": percent}
    if rule.per_agreement_cents:
        text += _(", plus %(amount)s per signed agreement") % {"amount": euros(rule.per_agreement_cents)}
    if rule.minimum_cents:
        text += _(", at least %(amount)s") % {"amount": euros(rule.minimum_cents)}
    return text


async def do_countersign(actor: User, case_id: int, *, ip: str, user_agent: str) -> Fee | None:
    """The company countersigns once for all: signed agreements are countersigned, unsigned ones get a
    certificate "unsigned", the fee is computed and invoiced, and the case closes."""
    access = await case_access(actor, case_id)
    if not access.is_company:
        raise NotFound()
    state = await signing_state(case_id)
    if state.record is None or state.proposal is None or state.proposal.finalized_at is None:
        raise Refused(_("There is nothing to countersign yet."), 409)
    if state.record.countersigned_at is not None:
        raise Refused(_("The agreements have already been countersigned."), 409)
    if not state.can_countersign:
        raise Refused(_("You can countersign once every consumer has signed, or after %(deadline)s.")
                      % {"deadline": iso_day(state.deadline or datetime.now(UTC))}, 409)
    proposal = state.proposal
    parties = await case_parties(case_id)
    now = datetime.now(UTC).replace(microsecond=0)
    unsigned_ids = await _unsigned_claims(proposal.id)
    unsigned = await Claim.select(*CLAIM_COLUMNS).where(Claim.id.is_in(unsigned_ids)) if unsigned_ids else []
    prepared = await render_certificates(parties, [todo_from_row(row, "unsigned") for row in unsigned], now)
    rule = fee_rule()
    async with write_transaction():
        gate = await CollectiveRecord.update({
            CollectiveRecord.countersigned_at: now, CollectiveRecord.countersigned_by: actor.id,
            CollectiveRecord.countersigned_ip: ip[:64], CollectiveRecord.countersigned_user_agent: user_agent[:400],
        }).where(CollectiveRecord.id == state.record.id, CollectiveRecord.countersigned_at.is_null()).returning(
            CollectiveRecord.id)
        if not gate:
            raise Refused(_("The agreements have already been countersigned."), 409)
        signed = await Agreement.update({Agreement.countersigned_at: now, Agreement.countersigned_by: actor.id}).where(
            Agreement.proposal == proposal.id, Agreement.signed_at.is_not_null(),
            Agreement.countersigned_at.is_null()).returning(Agreement.consumer, Agreement.amount_cents)
        still_unsigned = set(await _unsigned_claims(proposal.id))
        certified = await insert_certificates([row for row in prepared if row.claim in still_unsigned])
        fee = None
        if signed:
            fee = await _record_fee(parties, [row["amount_cents"] for row in signed], rule, now)
        outcome = "agreement" if signed else "no_agreement"
        try:
            closed = next_case_status(parties.case.status, CaseAction.close)
        except TransitionError as error:
            raise refuse_transition(error) from error
        await Case.update({Case.status: closed.value, Case.closed_at: now, Case.outcome: outcome}).where(
            Case.id == case_id, Case.status == CaseStatus.in_mediation.value)
        await record(case_id, actor.id, "agreements_countersigned", agreements=len(signed), ip=ip[:64],
                     fee_cents=fee.amount_cents if fee else 0)
        await record(case_id, actor.id, "case_closed", outcome=outcome)
        await do_cancel_reminders(reminder_prefix(proposal.id))
        params = {"title": parties.case.title, "count": len(signed)}
        certified_consumers = [row.consumer for row in prepared if row.claim in set(certified)]
        await notify_certificates(parties.case, certified_consumers)
        await do_notify([row["consumer"] for row in signed], kind="agreement_countersigned", legal=True,
                        case_id=case_id, link=f"/cases/{case_id}/agreements",
                        title=N_("Your agreement for “%(title)s” is countersigned"),
                        body=N_("The company countersigned your agreement: it is now concluded, and the mediation "
                                "is closed. You can download your agreement at any time."), params=params)
        others = await company_member_ids(parties.case.company)
        others += [parties.case.mediator] if parties.case.mediator else []
        await do_notify(others, kind="case_closed", legal=True, case_id=case_id, link=f"/cases/{case_id}/agreements",
                        title=N_("The mediation of “%(title)s” is closed"),
                        body=N_("Agreements countersigned by the company: %(count)s. The case is closed."),
                        params=params)
    return fee


async def _unsigned_claims(proposal_id: int) -> list[int]:
    rows = await Agreement.select(Agreement.claim).where(
        Agreement.proposal == proposal_id, Agreement.signed_at.is_null(),
        Agreement.claim.status == ClaimStatus.admitted.value)
    return [row["claim"] for row in rows]


async def _record_fee(parties: CaseParties, amounts: list[int], rule: FeeRule, now: datetime) -> Fee:
    computed = compute_fee(amounts, rule)
    number = invoice_number(parties.case.id, now.year)
    with language_of(DEFAULT_LANGUAGE):
        rule_text = describe_rule(rule)
    content = invoice_pdf(InvoiceDoc(
        invoice_number=number, case_id=parties.case.id, case_title=parties.case.title,
        company_name=parties.company.name, company_siren=parties.company.siren or "", agreements=computed.agreements,
        basis_cents=computed.basis_cents, amount_cents=computed.amount_cents, rule_text=rule_text,
        issued_at=now), DEFAULT_LANGUAGE)
    name, digest = await asyncio.to_thread(_store, f"invoice:{parties.case.id}", content)
    await Fee.insert(Fee(case=parties.case.id, agreements=computed.agreements, basis_cents=computed.basis_cents,
                         amount_cents=computed.amount_cents, rule=rule.as_record(), invoice_number=number,
                         stored_name=name, sha256=digest, created_at=now)).on_conflict(action="DO NOTHING")
    fee = await Fee.objects().where(Fee.case == parties.case.id).first()
    assert fee is not None
    return fee


# --- reminders of the signing window ---------------------------------------------------------------------


async def _open_record(proposal_id: int) -> tuple[Proposal, Case] | None:
    proposal = await Proposal.objects().where(Proposal.id == proposal_id).first()
    if proposal is None or proposal.finalized_at is None:
        return None
    found = await CollectiveRecord.select(CollectiveRecord.countersigned_at).where(
        CollectiveRecord.proposal == proposal_id).first()
    case = await Case.objects().where(Case.id == proposal.case).first()
    if found is None or found["countersigned_at"] is not None or case is None \
            or case.status != CaseStatus.in_mediation:
        return None
    return proposal, case


@reminder_handler("agreements_sign")
async def remind_to_sign(reminder: Reminder) -> None:
    """Consumers whose agreement is still unsigned (D+3 after the finalization, D-1 before the deadline)."""
    opened = await _open_record(int(reminder_params(reminder).get("proposal_id", 0)))
    if opened is None:
        return
    proposal, case = opened
    rows = await Agreement.select(Agreement.consumer).where(
        Agreement.proposal == proposal.id, Agreement.signed_at.is_null(),
        Agreement.claim.status == ClaimStatus.admitted.value)
    assert proposal.finalized_at is not None
    await do_notify([row["consumer"] for row in rows], kind="agreement_sign_reminder", case_id=case.id,
                    link=f"/cases/{case.id}/agreements",
                    title=N_("Reminder: your agreement for “%(title)s” waits for your signature"),
                    body=N_("Please read and sign your agreement before %(deadline)s. Without your signature, it "
                            "will not be concluded."),
                    params={"title": case.title, "deadline": iso_day(signing_deadline(proposal.finalized_at))})


@reminder_handler("agreements_countersign")
async def remind_to_countersign(reminder: Reminder) -> None:
    """The company, the day before the signing deadline, when it has not countersigned yet."""
    opened = await _open_record(int(reminder_params(reminder).get("proposal_id", 0)))
    if opened is None:
        return
    proposal, case = opened
    assert proposal.finalized_at is not None
    await do_notify(await company_member_ids(case.company), kind="agreements_countersign_reminder", case_id=case.id,
                    link=f"/cases/{case.id}/agreements",
                    title=N_("Reminder: the agreements of “%(title)s” wait for your countersignature"),
                    body=N_("The consumers can sign until %(deadline)s. From then on, countersign once for all the "
                            "agreements that were signed."),
                    params={"title": case.title, "deadline": iso_day(signing_deadline(proposal.finalized_at))})
