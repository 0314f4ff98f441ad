"""The company's invitation to mediation: a signed, expiring link mailed by staff; the answer (accept, or
decline with a reason) before the deadline; reminders at D-7 and D-2; silence means refused; a refused
case offers each consumer the escalation path."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.actions.access import claim_for_viewer, is_company_member
from app.actions.base import (
    active_consumer_ids,
    claim_totals,
    company_member_ids,
    record,
    refuse_transition,
    reminder_params,
    staff_ids,
)
from app.actions.companies import add_member, mail_language, plausible_token, require_staff, token_digest
from app.actions.errors import NotFound, Refused
from app.actions.mail import do_queue_mail
from app.actions.notifications import N_, do_cancel_reminders, do_notify, do_schedule_reminder, reminder_handler
from app.domain.accounts import FormErrors, normalize_email
from app.domain.deadlines import invitation_deadline, invitation_reminders, parse_invitation_days
from app.domain.lifecycle import (
    CLAIM_STATES_ACTIVE,
    CaseAction,
    CaseStatus,
    TransitionError,
    next_case_status,
)
from app.formatting import iso_day
from app.i18n import _
from app.platform import signing
from app.platform.db import write_transaction
from app.tables import Case, CaseInvitation, Claim, Company, Reminder, Role, User

PURPOSE = "case-invitation"
REASON_MAX_LENGTH = 2000


class Answer:
    pending = ""
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    replaced = "replaced"  # staff sent a new link; this one no longer counts


def invitation_path(token: str, deadline: datetime, secret: str) -> str:
    """The link mailed to the company: the random token, its expiry, and their HMAC signature."""
    expires = int(deadline.timestamp())
    return f"/invitations/{token}?expires={expires}&sig={signing.sign(PURPOSE, token, expires, secret)}"


def reminder_prefix(invitation_id: int) -> str:
    return f"invitation:{invitation_id}:"


# --- staff invite the company ------------------------------------------------------------------------


async def do_invite_company(actor: User, case_id: int, email_input: str, days_input: str, *, secret: str
                            ) -> FormErrors:
    """Staff invite the case's company: a new link (replacing any earlier one), reminders, notices."""
    require_staff(actor)
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        raise NotFound()
    company = await Company.objects().where(Company.id == case.company).first()
    assert company is not None  # a foreign key
    if company.verified_at is None:
        raise Refused(_("Please verify the company before inviting it: its identity and contact address "
                        "must be checked first."), 409)
    try:
        new_status = next_case_status(case.status, CaseAction.invite_company)
    except TransitionError as error:
        raise refuse_transition(error) from error
    count, _total = await claim_totals(case.id)
    if count == 0:
        raise Refused(_("This case has no active claim yet: there is nothing to invite the company to."), 409)
    errors = FormErrors()
    email = normalize_email(email_input or company.contact_email)
    if email is None:
        errors.add("email", _("Please enter a valid e-mail address.") if (email_input or company.contact_email)
                   else _("The company has no contact address: please enter one."))
    days = parse_invitation_days(days_input)
    if days is None:
        errors.add("days", _("Please enter a number of days between 7 and 60."))
    if errors:
        return errors
    assert email is not None and days is not None
    now = datetime.now(UTC)
    deadline = invitation_deadline(now, days)
    token = secrets.token_urlsafe(32)
    language = await mail_language(email)
    async with write_transaction():
        changed = await Case.update({Case.status: new_status.value, Case.invited_at: now,
                                     Case.company_deadline: deadline}).where(
            Case.id == case.id, Case.status == case.status).returning(Case.id)
        if not changed:
            raise Refused(_("The case changed meanwhile. Please reload the page."), 409)
        replaced = await CaseInvitation.update({CaseInvitation.answer: Answer.replaced}).where(
            CaseInvitation.case == case.id, CaseInvitation.answer == Answer.pending).returning(CaseInvitation.id)
        for row in replaced:
            await do_cancel_reminders(reminder_prefix(row["id"]))
        rows = await CaseInvitation.insert(CaseInvitation(
            case=case.id, email=email, token_hash=token_digest(token), deadline=deadline, created_by=actor.id,
        )).returning(CaseInvitation.id)
        invitation_id = rows[0]["id"]
        for label, due in invitation_reminders(deadline, now):
            await do_schedule_reminder(f"{reminder_prefix(invitation_id)}{label}", kind="invitation_reminder",
                                       due_at=due, case_id=case.id, params={"invitation_id": invitation_id})
        await do_schedule_reminder(f"{reminder_prefix(invitation_id)}expire", kind="invitation_expire",
                                   due_at=deadline, case_id=case.id, params={"invitation_id": invitation_id})
        await record(case.id, actor.id, "company_invited", invitation_id=invitation_id, email=email,
                     deadline=deadline.isoformat(), replaced=[row["id"] for row in replaced])
        await do_queue_mail(to=email, template="invitations/invitation_mail.txt", language=language,
                            company=company.name, title=case.title, link=invitation_path(token, deadline, secret),
                            deadline=iso_day(deadline), claims=count, reminder=False)
        params = {"title": case.title, "company": company.name, "deadline": iso_day(deadline)}
        await do_notify(await company_member_ids(company.id), kind="company_invited", case_id=case.id,
                        link=f"/cases/{case.id}/mediation", params=params,
                        title=N_("%(company)s is invited to a mediation: “%(title)s”"),
                        body=N_("Please accept or decline the mediation by %(deadline)s."))
        await do_notify(await active_consumer_ids(case.id), kind="company_invited", case_id=case.id,
                        link=f"/cases/{case.id}", params=params,
                        title=N_("%(company)s has been invited to the mediation"),
                        body=N_("The company has until %(deadline)s to accept or decline the mediation of "
                                "“%(title)s”."))
    return errors


# --- the company's link --------------------------------------------------------------------------------


@dataclass
class InvitationView:
    """What a link stands for: `problem` is "" when it may be used, else invalid / expired / answered."""

    problem: str
    invitation: CaseInvitation | None = None
    case: Case | None = None
    company: Company | None = None
    claims_count: int = 0
    claims_total: int = 0


async def check_invitation_link(token: str, expires_raw: str | None, signature: str | None, *, secret: str
                                ) -> InvitationView:
    """Check a link (signature, expiry, token) without changing anything."""
    expires = signing.parse_expiry(expires_raw)
    if expires is None or not plausible_token(token) or not signing.signature_matches(
            PURPOSE, token, expires, signature or "", secret):
        return InvitationView("invalid")
    invitation = await CaseInvitation.objects().where(CaseInvitation.token_hash == token_digest(token)).first()
    if invitation is None or int(invitation.deadline.timestamp()) != expires:
        # One of our links, whose token a reminder or a new invitation has since replaced
        return InvitationView("expired" if expires <= datetime.now(UTC).timestamp() else "replaced")
    return await view_of(invitation)


async def view_of(invitation: CaseInvitation) -> InvitationView:
    case = await Case.objects().where(Case.id == invitation.case).first()
    company = await Company.objects().where(Company.id == case.company).first() if case else None
    if case is None or company is None:
        return InvitationView("invalid")
    if invitation.answer == Answer.replaced:
        return InvitationView("replaced", invitation, case, company)
    if invitation.answer in (Answer.accepted, Answer.declined):
        return InvitationView("answered", invitation, case, company)
    if invitation.answer == Answer.expired or invitation.deadline <= datetime.now(UTC):
        return InvitationView("expired", invitation, case, company)
    count, total = await claim_totals(case.id)
    return InvitationView("", invitation, case, company, count, total)


async def case_invitation_view(case_id: int) -> InvitationView:
    """The case's latest invitation, for representatives answering from the case page."""
    invitation = await CaseInvitation.objects().where(CaseInvitation.case == case_id).order_by(
        CaseInvitation.id, ascending=False).first()
    if invitation is None:
        return InvitationView("invalid")
    return await view_of(invitation)


async def answer_refusal(user: User | None, view: InvitationView) -> str:
    """Why this user may not answer this invitation ("" when they may)."""
    assert view.invitation is not None and view.case is not None and view.company is not None
    if user is None:
        return _("Log in as a representative of %(company)s to answer.") % {"company": view.company.name}
    if user.role != Role.company:
        return _("Only a representative of %(company)s can answer. You are logged in with an account that is not a "
                 "company representative's.") % {"company": view.company.name}
    if await is_company_member(user, view.company.id) or user.email == view.invitation.email:
        return ""
    return _("Your account does not represent %(company)s. Log in with the address this invitation was sent to, or "
             "ask us for an invitation to join the company.") % {"company": view.company.name}


async def do_join_by_invitation(user: User, view: InvitationView) -> bool:
    """A representative whose address the invitation was sent to joins its company."""
    assert view.invitation is not None and view.company is not None
    if user.email != view.invitation.email:
        return False
    async with write_transaction():
        return await add_member(view.company.id, user, via="case_invitation")


def check_answer(accept: bool | None, reason: str) -> FormErrors:
    errors = FormErrors()
    if accept is None:
        errors.add("answer", _("Please choose to accept or to decline."))
    elif not accept and not reason:
        errors.add("reason", _("Please give the reason why the company declines: the consumers will read it."))
    if len(reason) > REASON_MAX_LENGTH:
        errors.add("reason", _("Please keep it under 2,000 characters."))
    return errors


async def do_answer_invitation(user: User, view: InvitationView, accept: bool | None, reason: str) -> FormErrors:
    """The company accepts or declines, once, before the deadline."""
    if view.problem or view.invitation is None or view.case is None or view.company is None:
        raise Refused(_("This invitation is no longer valid."), 410)
    refusal = await answer_refusal(user, view)
    if refusal:
        raise Refused(refusal, 403)
    errors = check_answer(accept, reason)
    if errors:
        return errors
    invitation, company = view.invitation, view.company
    action = CaseAction.company_accepts if accept else CaseAction.company_declines
    answer = Answer.accepted if accept else Answer.declined
    now = datetime.now(UTC)
    async with write_transaction():
        if user.email == invitation.email:
            await add_member(company.id, user, via="case_invitation")
        answered = await CaseInvitation.update({
            CaseInvitation.answer: answer, CaseInvitation.answer_reason: reason, CaseInvitation.answered_by: user.id,
            CaseInvitation.answered_at: now,
        }).where(CaseInvitation.id == invitation.id, CaseInvitation.answer == Answer.pending,
                 CaseInvitation.deadline > now).returning(CaseInvitation.id)
        if not answered:
            raise Refused(_("This invitation is no longer valid: it has already been answered or its "
                            "deadline has passed."), 410)
        case = await Case.objects().where(Case.id == invitation.case).first()
        assert case is not None
        try:
            new_status = next_case_status(case.status, action)
        except TransitionError as error:
            raise refuse_transition(error) from error
        values: dict[Any, Any] = {Case.status: new_status.value}
        values.update({Case.accepted_at: now} if accept else {Case.refused_at: now, Case.refusal_reason: reason})
        changed = await Case.update(values).where(Case.id == case.id, Case.status == case.status).returning(Case.id)
        if not changed:
            raise Refused(_("The case changed meanwhile. Please reload the page."), 409)
        await do_cancel_reminders(reminder_prefix(invitation.id))
        await record(case.id, user.id, f"invitation_{answer}", invitation_id=invitation.id, reason=reason)
        if accept:
            await _announce_acceptance(case, company)
        else:
            await _announce_refusal(case, company, reason)
    return errors


async def _announce_acceptance(case: Case, company: Company) -> None:
    params = {"title": case.title, "company": company.name}
    await do_notify(await active_consumer_ids(case.id), kind="company_accepted", case_id=case.id,
                    link=f"/cases/{case.id}", params=params,
                    title=N_("%(company)s accepts the mediation of “%(title)s”"),
                    body=N_("A mediator will be assigned, then the mediation will start. You will be told."))
    await do_notify(await staff_ids(), kind="company_accepted", case_id=case.id, link=f"/staff/cases/{case.id}",
                    params=params, title=N_("%(company)s accepted “%(title)s”: assign a mediator"))


async def _announce_refusal(case: Case, company: Company, reason: str) -> None:
    """Declined or silent: each consumer with an active claim is told, and offered the escalation path."""
    params = {"title": case.title, "company": company.name, "reason": reason or "—"}
    body = (N_("The company gave this reason: %(reason)s\n\nYou may ask for your file to be passed to our litigation "
               "partner for a collective action: open the case to choose.") if reason else
            N_("The company did not answer before the deadline.\n\nYou may ask for your file to be passed to our "
               "litigation partner for a collective action: open the case to choose."))
    await do_notify(await active_consumer_ids(case.id), kind="company_refused", case_id=case.id,
                    link=f"/cases/{case.id}/mediation", params=params,
                    title=N_("%(company)s refuses the mediation of “%(title)s”"), body=body)
    await do_notify(await staff_ids(), kind="company_refused", case_id=case.id, link=f"/staff/cases/{case.id}",
                    params=params, title=N_("%(company)s refused “%(title)s”"))


# --- reminders -----------------------------------------------------------------------------------------


async def _live_invitation(reminder: Reminder) -> CaseInvitation | None:
    invitation_id = reminder_params(reminder).get("invitation_id")
    if not isinstance(invitation_id, int):
        return None
    return await CaseInvitation.objects().where(CaseInvitation.id == invitation_id).first()


@reminder_handler("invitation_reminder")
async def remind_company(reminder: Reminder) -> None:
    """D-7 and D-2: a fresh link to the invitation's address (earlier links stop working), a notice to the
    company's representatives. Nothing once answered."""
    from app.settings import get_settings

    invitation = await _live_invitation(reminder)
    now = datetime.now(UTC)
    if invitation is None or invitation.answer != Answer.pending or invitation.deadline <= now:
        return
    case = await Case.objects().where(Case.id == invitation.case).first()
    company = await Company.objects().where(Company.id == case.company).first() if case else None
    if case is None or company is None:
        return
    token = secrets.token_urlsafe(32)
    renewed = await CaseInvitation.update({CaseInvitation.token_hash: token_digest(token)}).where(
        CaseInvitation.id == invitation.id, CaseInvitation.answer == Answer.pending).returning(CaseInvitation.id)
    if not renewed:
        return
    count, _total = await claim_totals(case.id)
    await record(case.id, None, "invitation_reminded", invitation_id=invitation.id, reminder=reminder.key)
    await do_queue_mail(to=invitation.email, template="invitations/invitation_mail.txt",
                        language=await mail_language(invitation.email), company=company.name, title=case.title,
                        link=invitation_path(token, invitation.deadline, get_settings().secret_key),
                        deadline=iso_day(invitation.deadline), claims=count, reminder=True)
    await do_notify(await company_member_ids(company.id), kind="invitation_reminder", case_id=case.id,
                    link=f"/cases/{case.id}/mediation",
                    params={"title": case.title, "company": company.name, "deadline": iso_day(invitation.deadline)},
                    title=N_("Reminder: %(company)s has until %(deadline)s to answer the invitation to mediation"),
                    body=N_("Case: “%(title)s”. Without an answer by then, the mediation is considered refused."))


@reminder_handler("invitation_expire")
async def expire_invitation(reminder: Reminder) -> None:
    """At the deadline, silence means refused; nothing if the company answered meanwhile."""
    invitation = await _live_invitation(reminder)
    now = datetime.now(UTC)
    if invitation is None or invitation.answer != Answer.pending or invitation.deadline > now:
        return
    case = await Case.objects().where(Case.id == invitation.case).first()
    if case is None:
        return
    try:
        new_status = next_case_status(case.status, CaseAction.invitation_expires)
    except TransitionError:
        return  # the case moved on some other way: nothing to do
    expired = await CaseInvitation.update({CaseInvitation.answer: Answer.expired}).where(
        CaseInvitation.id == invitation.id, CaseInvitation.answer == Answer.pending).returning(CaseInvitation.id)
    if not expired:
        return
    await Case.update({Case.status: new_status.value, Case.refused_at: now, Case.refusal_reason: ""}).where(
        Case.id == case.id, Case.status == case.status)
    await record(case.id, None, "invitation_expired", invitation_id=invitation.id)
    company = await Company.objects().where(Company.id == case.company).first()
    assert company is not None
    await _announce_refusal(case, company, "")


# --- escalation ----------------------------------------------------------------------------------------


async def do_set_escalation(user: User, claim_id: int, opt_in: bool) -> Claim:
    """A consumer of a refused case, or of a failed mediation (ended without agreement, or with their certificate
    of non-agreement), opts in (or back out) to pass their file to the litigation partner."""
    from app.actions.timeline import certificate_of, escalation_allowed  # (imports this module's neighbours)

    access, claim = await claim_for_viewer(user, claim_id)
    if access.own_claim is None or access.own_claim.id != claim.id:
        raise NotFound()
    if not escalation_allowed(access.case, claim, await certificate_of(claim.id) is not None):
        if access.case.status == CaseStatus.refused and claim.status not in CLAIM_STATES_ACTIVE:
            raise Refused(_("Your claim is not active, so it cannot be passed on."), 409)
        raise Refused(_("The escalation path opens only when the company refuses the mediation or the "
                        "mediation ends without agreement."), 409)
    now = datetime.now(UTC) if opt_in else None
    async with write_transaction():
        await Claim.update({Claim.escalation_opt_in_at: now}).where(Claim.id == claim.id, Claim.consumer == user.id)
        await record(access.case.id, user.id, "escalation_opt_in" if opt_in else "escalation_opt_out",
                     claim_id=claim.id)
    claim.escalation_opt_in_at = now
    return claim
