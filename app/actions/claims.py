"""A consumer's claim in a case: file it (join the case), edit or complete it, withdraw it, and its evidence files.

Evidence files live under VAR_DIR/evidence/ with random names (never in the static folder), are checked
by their content, written (app.platform.storage) before their rows are committed, and are served only through
`evidence_for_viewer`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from piccolo.query.functions.aggregate import Count, Sum

from app.actions.access import case_for_viewer, claim_for_viewer, evidence_for_viewer
from app.actions.base import staff_ids
from app.actions.cases import today
from app.actions.errors import Forbidden, NotFound, Refused
from app.actions.notifications import N_, do_cancel_reminders, do_notify
from app.actions.reviews import do_schedule_review_reminders
from app.domain.accounts import FormErrors
from app.domain.cases import ClaimInput, check_claim
from app.domain.evidence import (
    KINDS,
    MAX_CLAIM_BYTES,
    MAX_FILE_BYTES,
    MAX_FILES_PER_CLAIM,
    SNIFF_BYTES,
    safe_filename,
    sniff_content_type,
)
from app.domain.lifecycle import (
    CASE_STATES_OPEN_TO_CLAIMS,
    CLAIM_STATES_EDITABLE,
    ClaimAction,
    ClaimStatus,
    TransitionError,
    next_claim_status,
)
from app.i18n import _
from app.platform.db import after_commit, write_transaction
from app.platform.storage import remove_files, write_file
from app.settings import Settings, get_settings
from app.tables import AuditEvent, Case, Claim, Evidence, Role, User


@dataclass
class ClaimForm:
    facts: str = ""
    amount: str = ""
    incident_date: str = ""
    complaint_date: str = ""


@dataclass
class ClaimResult:
    errors: FormErrors = field(default_factory=FormErrors)
    claim_id: int | None = None


def _check(form: ClaimForm, errors: FormErrors) -> ClaimInput:
    return check_claim(form.facts, form.amount, form.incident_date, form.complaint_date, errors, today=today())


def _refusal_for(error: TransitionError) -> Refused:
    messages = {
        ClaimStatus.admitted.value: _("Your claim has been admitted: it can no longer be changed."),
        ClaimStatus.rejected.value: _("Your claim was not admitted: it can no longer be changed."),
        ClaimStatus.withdrawn.value: _("You have withdrawn this claim: it can no longer be changed."),
    }
    return Refused(messages.get(error.state, _("This claim can no longer be changed.")))


async def _reviewers(case: Case) -> list[int]:
    """Who reviews claims (L612-2): the case's mediator, or staff while none is assigned."""
    if case.mediator is not None:
        return [case.mediator]
    return await staff_ids()


def is_claim_owner(actor: User, claim: Claim) -> bool:
    """The claim owner's rule: only the consumer who filed a claim changes it (edits, completes or withdraws it, adds
    or removes its files); anyone else who may see it only reads it."""
    return claim.consumer == actor.id


def claim_is_editable(case: Case, claim: Claim) -> bool:
    """Its owner may still edit or complete it: not yet reviewed or withdrawn, in a case still open to claims."""
    return claim.status in CLAIM_STATES_EDITABLE and case.status in CASE_STATES_OPEN_TO_CLAIMS


def claim_is_withdrawable(claim: Claim) -> bool:
    """Its owner may still withdraw it: neither withdrawn already nor rejected."""
    return claim.status not in (ClaimStatus.withdrawn, ClaimStatus.rejected)


async def _own_claim(actor: User, claim_id: int) -> tuple[Case, Claim]:
    """The actor's own claim: 404 for what they may not see, 403 for someone else's they may see (staff…)."""
    access, claim = await claim_for_viewer(actor, claim_id)
    if not is_claim_owner(actor, claim):
        raise Forbidden()
    return access.case, claim


def _check_case_takes_claims(case: Case) -> None:
    if case.status not in CASE_STATES_OPEN_TO_CLAIMS:
        raise Refused(_("This case has ended: claims can no longer be filed or changed."))


async def do_file_claim(actor: User, case_id: int, form: ClaimForm) -> ClaimResult:
    """A consumer joins a case by filing their claim (one per consumer and case)."""
    if actor.role != Role.consumer:
        raise Forbidden()
    access = await case_for_viewer(actor, case_id)
    if access.own_claim is not None:
        raise Refused(_("You already have a claim in this case."))
    _check_case_takes_claims(access.case)
    result = ClaimResult()
    claim = _check(form, result.errors)
    if result.errors:
        return result
    now = datetime.now(UTC)
    params: dict[str, Any] = {"title": access.case.title}
    try:
        async with write_transaction():
            row = (await Claim.insert(Claim(
                case=case_id, consumer=actor.id, facts=claim.facts, amount_cents=claim.amount_cents,
                incident_date=claim.incident_date, complaint_date=claim.complaint_date,
                status=ClaimStatus.submitted.value, submitted_at=now, updated_at=now,
            )).returning(Claim.id))[0]
            result.claim_id = row["id"]
            await AuditEvent.insert(AuditEvent(case=case_id, actor=actor.id, kind="claim_submitted",
                                               details={"claim": result.claim_id, "amount_cents": claim.amount_cents}))
            await do_schedule_review_reminders(result.claim_id)  # L612-2: an answer within 3 weeks
            await do_notify([actor.id], kind="claim_submitted", case_id=case_id, link=f"/claims/{result.claim_id}",
                            title=N_("You have joined the case “%(title)s”"),
                            body=N_("Your claim has been filed. Add your evidence and the proof of your written "
                                    "complaint to the company; you will hear about its admissibility within 3 "
                                    "weeks."), params=params)
            await do_notify(await _reviewers(access.case), kind="claim_to_review", case_id=case_id,
                            link=f"/claims/{result.claim_id}", title=N_("New claim to review in “%(title)s”"),
                            params=params)
    except Exception:
        # The unique (case, consumer) index: a second claim posted at the same time (double click, two tabs).
        if await Claim.exists().where(Claim.case == case_id, Claim.consumer == actor.id):
            raise Refused(_("You already have a claim in this case.")) from None
        raise
    return result


async def do_update_claim(actor: User, claim_id: int, form: ClaimForm) -> ClaimResult:
    """Edit one's claim before review, or complete it when the reviewer asked for more (it goes back to review)."""
    case, claim = await _own_claim(actor, claim_id)
    _check_case_takes_claims(case)
    action = ClaimAction.complete if claim.status == ClaimStatus.needs_info else ClaimAction.edit
    try:
        new_status = next_claim_status(claim.status, action)
    except TransitionError as error:
        raise _refusal_for(error) from None
    result = ClaimResult(claim_id=claim_id)
    data = _check(form, result.errors)
    if result.errors:
        return result
    now = datetime.now(UTC)
    values: dict[Any, Any] = {
        Claim.facts: data.facts, Claim.amount_cents: data.amount_cents, Claim.incident_date: data.incident_date,
        Claim.complaint_date: data.complaint_date, Claim.status: new_status.value, Claim.updated_at: now,
    }
    if action == ClaimAction.complete:
        values[Claim.submitted_at] = now  # complete again: the 3-week answer period starts over
    async with write_transaction():
        updated = await Claim.update(values).where(Claim.id == claim_id, Claim.status == claim.status).returning(
            Claim.id)
        if not updated:  # reviewed meanwhile
            raise Refused(_("Your claim was reviewed meanwhile. Please look at it again."))
        kind = "claim_completed" if action == ClaimAction.complete else "claim_edited"
        await AuditEvent.insert(AuditEvent(case=case.id, actor=actor.id, kind=kind,
                                           details={"claim": claim_id, "amount_cents": data.amount_cents}))
        if action == ClaimAction.complete:
            await do_schedule_review_reminders(claim_id)  # complete again: a new 3-week period
            await do_notify(await _reviewers(case), kind="claim_completed", case_id=case.id,
                            link=f"/claims/{claim_id}", title=N_("A claim was completed in “%(title)s”"),
                            params={"title": case.title})
    return result


async def do_withdraw_claim(actor: User, claim_id: int) -> None:
    """R612-2: a consumer may withdraw at any time."""
    from app.actions.timeline import check_may_withdraw, do_certify_withdrawal

    case, claim = await _own_claim(actor, claim_id)
    await check_may_withdraw(claim_id)  # not once an agreement is signed
    try:
        new_status = next_claim_status(claim.status, ClaimAction.withdraw)
    except TransitionError as error:
        raise _refusal_for(error) from None
    now = datetime.now(UTC)
    async with write_transaction():
        updated = await Claim.update({Claim.status: new_status.value, Claim.withdrawn_at: now,
                                      Claim.updated_at: now}).where(
            Claim.id == claim_id, Claim.status == claim.status).returning(Claim.id)
        if not updated:
            raise Refused(_("Your claim changed meanwhile. Please look at it again."))
        await AuditEvent.insert(AuditEvent(case=case.id, actor=actor.id, kind="claim_withdrawn",
                                           details={"claim": claim_id, "previous_status": claim.status}))
        # The reviewer's reminders about this claim (app.actions.reviews) have nothing left to remind.
        await do_cancel_reminders(f"claim-review:{claim_id}:")
        params = {"title": case.title}
        await do_notify([actor.id], kind="claim_withdrawn", case_id=case.id, link=f"/claims/{claim_id}",
                        title=N_("You have withdrawn from the case “%(title)s”"),
                        body=N_("Your claim is withdrawn. The courts remain open to you."), params=params)
        await do_notify(await _reviewers(case), kind="claim_withdrawn_by_consumer", case_id=case.id,
                        link=f"/cases/{case.id}", title=N_("A consumer withdrew from “%(title)s”"), params=params)
    await do_certify_withdrawal(claim_id, case.id, claim.status, now)  # after the commit: it renders a PDF


# --- evidence ----------------------------------------------------------------------------------------

class Upload(Protocol):
    """What the route hands over for each file (Litestar's UploadFile has it)."""

    filename: str

    async def read(self, size: int = -1) -> bytes: ...


def evidence_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).var_dir / "evidence"


def evidence_path(stored_name: str, settings: Settings | None = None) -> Path:
    if not stored_name.isalnum():  # stored names are ours (hex): never a path
        raise NotFound()
    return evidence_dir(settings) / stored_name


@dataclass
class CheckedFile:
    name: str
    content_type: str
    data: bytes
    stored_name: str = ""


async def _lock_claim(claim_id: int) -> None:
    """Serialize uploads to one claim, so the per-claim total holds (SQLite: the immediate transaction does)."""
    if Claim._meta.db.engine_type == "postgres":
        await Claim.select(Claim.id).where(Claim.id == claim_id).lock_rows()


async def do_add_evidence(actor: User, claim_id: int, kind: str, uploads: Sequence[Upload]) -> FormErrors:
    """Attach files to one's claim while it may still change; every file is checked, all are saved or none."""
    case, claim = await _own_claim(actor, claim_id)
    _check_case_takes_claims(case)
    if claim.status not in CLAIM_STATES_EDITABLE:
        raise _refusal_for(TransitionError(claim.status, ClaimAction.edit))
    errors = FormErrors()
    if kind not in KINDS:
        errors.add("kind", _("Please say what this file is."))
    files: list[CheckedFile] = []
    for upload in uploads:
        data = await upload.read(MAX_FILE_BYTES + 1)
        name = safe_filename(upload.filename or "", "")
        if not data:
            errors.add("file", _("The file “%(name)s” is empty.") % {"name": name})
        elif len(data) > MAX_FILE_BYTES:
            errors.add("file", _("The file “%(name)s” is larger than 10 MB. Please send a smaller file (a scan at "
                                 "a lower resolution, or one page per file).") % {"name": name})
        elif (content_type := sniff_content_type(data[:SNIFF_BYTES])) is None:
            errors.add("file", _("The file “%(name)s” is not a PDF, JPEG or PNG file. Only these types are "
                                 "accepted, whatever the file's name says.") % {"name": name})
        else:
            files.append(CheckedFile(name=safe_filename(upload.filename or "", content_type),
                                     content_type=content_type, data=data))
    if not uploads:
        errors.add("file", _("Please choose a file."))
    if errors:
        return errors
    settings = get_settings()
    paths: list[Path] = []
    for checked in files:
        checked.stored_name = secrets.token_hex(16)
        path = evidence_path(checked.stored_name, settings)
        paths.append(path)
    try:
        for checked, path in zip(files, paths, strict=True):
            await asyncio.to_thread(write_file, path, checked.data)
        async with write_transaction():
            await _lock_claim(claim_id)
            totals = (await Evidence.select(Count(Evidence.id, alias="n"), Sum(Evidence.size_bytes, alias="bytes"))
                      .where(Evidence.claim == claim_id))[0]
            count, used = int(totals["n"] or 0), int(totals["bytes"] or 0)
            if count + len(files) > MAX_FILES_PER_CLAIM:
                errors.add("file", _("A claim may have at most %(n)d files.") % {"n": MAX_FILES_PER_CLAIM})
            elif used + sum(len(checked.data) for checked in files) > MAX_CLAIM_BYTES:
                errors.add("file", _("The files of a claim may total at most 50 MB; %(used)s MB are already "
                                     "used.") % {"used": f"{used / 1024 / 1024:.1f}"})
            # The claim may have been reviewed since it was read: check again under the lock.
            current = await Claim.select(Claim.status).where(Claim.id == claim_id).first()
            if current is None or current["status"] not in CLAIM_STATES_EDITABLE:
                raise _refusal_for(TransitionError(current["status"] if current else "", ClaimAction.edit))
            if errors:
                remove_files(paths)
                return errors
            now = datetime.now(UTC)
            rows = await Evidence.insert(*[
                Evidence(claim=claim_id, kind=kind, original_name=checked.name[:120], stored_name=checked.stored_name,
                         content_type=checked.content_type, size_bytes=len(checked.data),
                         sha256=hashlib.sha256(checked.data).hexdigest(), uploaded_at=now)
                for checked in files]).returning(Evidence.id)
            await AuditEvent.insert(AuditEvent(case=case.id, actor=actor.id, kind="evidence_added", details={
                "claim": claim_id, "evidence": [row["id"] for row in rows], "kind": kind,
                "files": [{"name": checked.name, "bytes": len(checked.data)} for checked in files]}))
    except BaseException:
        remove_files(paths)  # nothing half-saved: no row, no file
        raise
    return errors


async def do_remove_evidence(actor: User, evidence_id: int) -> int:
    """Remove a file from one's claim while it may still change; returns the claim id."""
    access, claim, evidence = await evidence_for_viewer(actor, evidence_id)
    if not is_claim_owner(actor, claim):
        raise Forbidden()
    _check_case_takes_claims(access.case)
    if claim.status not in CLAIM_STATES_EDITABLE:
        raise _refusal_for(TransitionError(claim.status, ClaimAction.edit))
    path = evidence_path(evidence.stored_name)
    async with write_transaction():
        deleted = await Evidence.delete().where(Evidence.id == evidence_id).returning(Evidence.id)
        if not deleted:
            raise NotFound()
        await AuditEvent.insert(AuditEvent(case=access.case.id, actor=actor.id, kind="evidence_removed", details={
            "claim": claim.id, "evidence": evidence_id, "name": evidence.original_name}))
        after_commit(lambda: remove_files([path]))
    return claim.id


async def claim_evidence(claim_id: int) -> list[Evidence]:
    return await Evidence.objects().where(Evidence.claim == claim_id).order_by(Evidence.id)
