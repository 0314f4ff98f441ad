"""Proposals: the company's offers and the mediator's proposed solutions, their versions, the R612-4 notices
recorded with each, the indicative collective vote and each consumer's own decision, and the reminders to
those who have not answered yet.

Who may see a proposal is decided here: the case's mediator, its company's representatives and its admitted
consumers, once past the confidentiality charter (`CharterRequired`, as in the room); 404 for anyone else
(staff included: they are no party). At most one proposal per case is open (or locked for finalization) at a
time: a new one is refused until it is withdrawn or finalized — amending it is the way to change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app import i18n
from app.actions.base import mediation_party_ids, record, reminder_params
from app.actions.errors import CharterRequired, NotFound, Refused
from app.actions.notifications import N_, do_cancel_reminders, do_notify, do_schedule_reminder, reminder_handler
from app.actions.room import ROOM_STATES, charter_accepted, party_of
from app.domain.accounts import FormErrors
from app.domain.lifecycle import CaseStatus, ClaimStatus
from app.domain.notices import recorded_notices, shown_notices
from app.domain.proposals import (
    BLOCKING_STATUSES,
    DECISION_CHOICES,
    MAX_COMMENT_CHARS,
    MAX_ITEM_CHARS,
    MAX_TERMS_CHARS,
    VOTE_CHOICES,
    AmountProblem,
    CheckedProposal,
    DraftProblem,
    ProposalDraft,
    ProposalStatus,
    RuleKind,
    Tally,
    amount_for,
    check_proposal,
    clean_text,
    proposal_reminders,
    sign_shown_at,
    tally,
    verify_shown_at,
    vote_is_closed,
)
from app.formatting import PARIS, euros, iso_day
from app.i18n import _
from app.platform.db import engine, write_transaction
from app.settings import get_settings
from app.tables import Case, CharterAcceptance, Claim, Decision, Proposal, User, Vote

VOTE_REMINDER = "proposal_vote_due"
DECISION_REMINDER = "proposal_decision_due"


# --- who is who ------------------------------------------------------------------------------------------------


@dataclass
class ProposalParty:
    """One party of a case in mediation (or closed), as far as its proposals are concerned."""

    case: Case
    user: User
    is_mediator: bool = False
    is_company: bool = False
    claim: Claim | None = None  # the consumer's admitted claim

    @property
    def is_consumer(self) -> bool:
        return self.claim is not None


async def proposal_party(user: User, case_id: int) -> ProposalParty:
    """The case for one of its parties who accepted the charter; 404 for anyone else, CharterRequired (403,
    sent to the room's door) for a party who has not accepted it yet."""
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None or case.status not in ROOM_STATES:
        raise NotFound()
    party = await party_of(user, case)
    if not party.is_member:
        raise NotFound()
    if not await charter_accepted(case.id, user.id):
        raise CharterRequired(case.id)
    claim = None
    if party.is_admitted_consumer:
        claim = await Claim.objects().where(Claim.case == case.id, Claim.consumer == user.id,
                                            Claim.status == ClaimStatus.admitted.value).first()
    return ProposalParty(case=case, user=user, is_mediator=party.is_mediator, is_company=party.is_company,
                         claim=claim)


async def proposal_for_party(user: User, proposal_id: int) -> tuple[ProposalParty, Proposal]:
    proposal = await Proposal.objects().where(Proposal.id == proposal_id).first()
    if proposal is None:
        raise NotFound()
    return await proposal_party(user, proposal.case), proposal


async def eligible_claims(case_id: int) -> list[dict[str, Any]]:
    """The admitted claims whose consumer accepted the charter: who votes and decides, with their real names."""
    accepted = CharterAcceptance.select(CharterAcceptance.user).where(CharterAcceptance.case == case_id)
    return await Claim.select(
        Claim.id, Claim.consumer, Claim.amount_cents, Claim.consumer.display_name.as_alias("name"),
    ).where(Claim.case == case_id, Claim.status == ClaimStatus.admitted.value,
            Claim.consumer.is_in(accepted)).order_by(Claim.id)


# --- rules of who may do what ------------------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC)


def is_current(proposal: Proposal) -> bool:
    return proposal.status == ProposalStatus.open


def may_amend(party: ProposalParty, proposal: Proposal) -> bool:
    """The mediator, or the company for its own offers, while the proposal is open and the case runs."""
    return (is_current(proposal) and party.case.status == CaseStatus.in_mediation
            and (party.is_mediator or (party.is_company and proposal.author_role == "company")))


def vote_open(proposal: Proposal, now: datetime) -> bool:
    return is_current(proposal) and not vote_is_closed(vote_closes_at=proposal.vote_closes_at,
                                                       vote_closed_at=proposal.vote_closed_at, now=now)


def decisions_open(proposal: Proposal, now: datetime) -> bool:
    return is_current(proposal) and now < proposal.decide_by


def decisions_over(proposal: Proposal, now: datetime) -> bool:
    """The decision deadline passed (or finalization began): everyone may see how many accepted."""
    return now >= proposal.decide_by or proposal.status in (ProposalStatus.locked, ProposalStatus.finalized)


def own_amount(proposal: Proposal, claim: Claim) -> int:
    return amount_for(proposal.rule_kind, fixed_cents=proposal.fixed_cents,
                      share_basis_points=proposal.share_basis_points, claimed_cents=claim.amount_cents)


async def lock_proposal(proposal_id: int) -> None:
    """Inside a write transaction on PostgreSQL, hold the proposal row against a concurrent lock/amendment (its
    UPDATE waits for this commit). SQLite's immediate transactions already serialize writers."""
    if engine().engine_type == "postgres":
        await Proposal.select(Proposal.id).where(Proposal.id == proposal_id).lock_rows("SHARE")


async def lock_case(case_id: int) -> None:
    if engine().engine_type == "postgres":
        await Case.select(Case.id).where(Case.id == case_id).lock_rows()


# --- the form's problems in words -----------------------------------------------------------------------------


def draft_errors(problems: dict[str, DraftProblem | AmountProblem]) -> FormErrors:
    errors = FormErrors()
    for name, problem in problems.items():
        errors.add(name, problem_text(name, problem))
    return errors


def problem_text(name: str, problem: DraftProblem | AmountProblem) -> str:
    if name == "share":
        if problem == AmountProblem.empty:
            return _("Enter the share of each consumer's claimed amount, in percent.")
        return _("Enter a share above 0 and at most 100 (percent), e.g. 50 or 33,5.")
    texts: dict[str, str] = {
        AmountProblem.empty: _("Enter the amount each consumer receives."),
        AmountProblem.malformed: _("Enter an amount in euros, e.g. 150 or 1 234,50."),
        AmountProblem.negative: _("An amount cannot be negative."),
        AmountProblem.zero: _("The amount must be more than 0 €. For a non-monetary offer, choose “Something other "
                              "than money”."),
        AmountProblem.too_large: _("This amount is too large: at most 1,000,000 € per consumer."),
        DraftProblem.terms_missing: _("Describe the terms of the proposal."),
        DraftProblem.terms_too_long: _("The terms are too long: at most %(max)s characters.") % {
            "max": MAX_TERMS_CHARS},
        DraftProblem.rule_missing: _("Choose what each consumer receives."),
        DraftProblem.item_missing: _("Describe what each consumer receives."),
        DraftProblem.item_too_long: _("This description is too long: at most %(max)s characters.") % {
            "max": MAX_ITEM_CHARS},
        DraftProblem.date_missing: _("Enter a date and time."),
        DraftProblem.date_malformed: _("Enter a date and time such as 2026-12-01 18:00."),
        DraftProblem.decide_by_past: _("The decision deadline must be at least an hour from now."),
        DraftProblem.decide_by_after_limit: _("The decision deadline cannot be after the mediation's limit."),
        DraftProblem.vote_past: _("The vote must close at least an hour from now."),
        DraftProblem.vote_after_decide_by: _("The vote must close no later than the decision deadline."),
        DraftProblem.threshold_invalid: _("Enter a whole percentage from 50 to 100."),
    }
    return texts[problem]


# --- making and amending -------------------------------------------------------------------------------------------


def may_propose(party: ProposalParty) -> bool:
    return (party.is_mediator or party.is_company) and party.case.status == CaseStatus.in_mediation


async def blocking_proposal(case_id: int) -> Proposal | None:
    return await Proposal.objects().where(Proposal.case == case_id, Proposal.status.is_in(
        [status.value for status in BLOCKING_STATUSES])).order_by(Proposal.id, ascending=False).first()


def _check(party: ProposalParty, draft: ProposalDraft, *, default_threshold: int
           ) -> tuple[FormErrors, CheckedProposal | None]:
    problems, checked = check_proposal(draft, now=now_utc(), ends_at=party.case.ends_at, zone=PARIS,
                                       default_threshold=default_threshold, may_set_threshold=party.is_mediator)
    return draft_errors(problems), checked


# What every admitted consumer would receive together must stay a 32-bit count of cents (PostgreSQL's integer,
# as the fee's basis is stored): 21 million euros per case is far beyond any consumer dispute.
MAX_TOTAL_CENTS = 2**31 - 1


async def total_errors(case_id: int, checked: CheckedProposal) -> FormErrors:
    """A form error when the amounts of all the admitted consumers together would be out of bounds."""
    errors = FormErrors()
    if checked.rule_kind == RuleKind.item:
        return errors
    claims = await Claim.select(Claim.amount_cents).where(Claim.case == case_id,
                                                          Claim.status == ClaimStatus.admitted.value)
    total = sum(amount_for(checked.rule_kind, fixed_cents=checked.fixed_cents,
                           share_basis_points=checked.share_basis_points, claimed_cents=row["amount_cents"] or 0)
                for row in claims)
    if total > MAX_TOTAL_CENTS:
        errors.add("share" if checked.rule_kind == RuleKind.share else "amount",
                   _("Together, the consumers would receive %(total)s: this is too large for one case.")
                   % {"total": euros(total)})
    return errors


def _row(checked: CheckedProposal, **values: Any) -> Proposal:
    return Proposal(terms=checked.terms, rule_kind=checked.rule_kind, fixed_cents=checked.fixed_cents,
                    share_basis_points=checked.share_basis_points, item=checked.item,
                    vote_threshold_pct=checked.vote_threshold_pct, vote_closes_at=checked.vote_closes_at,
                    decide_by=checked.decide_by, notices=recorded_notices(checked.decide_by), status="open", **values)


async def do_create_proposal(actor: User, case_id: int, draft: ProposalDraft) -> tuple[FormErrors, Proposal | None]:
    """The company makes an offer, or the mediator proposes a solution; every party is told."""
    party = await proposal_party(actor, case_id)
    if not (party.is_mediator or party.is_company):
        raise NotFound()
    if party.case.status != CaseStatus.in_mediation:
        raise Refused(_("The mediation has ended: no new proposal can be made."), 409)
    errors, checked = _check(party, draft, default_threshold=75)
    if errors or checked is None:
        return errors, None
    errors = await total_errors(case_id, checked)
    if errors:
        return errors, None
    async with write_transaction():
        await lock_case(case_id)
        if await blocking_proposal(case_id) is not None:
            raise Refused(_("A proposal is already open in this case. Amend it, or withdraw it before making "
                            "a new one."), 409)
        last = await Proposal.select(Proposal.number).where(Proposal.case == case_id).order_by(
            Proposal.number, ascending=False).first()
        proposal = _row(checked, case=case_id, number=(last["number"] + 1) if last else 1, version=1,
                        author=actor.id, author_role="mediator" if party.is_mediator else "company")
        await proposal.save()
        await record(case_id, actor.id, "proposal_made", proposal_id=proposal.id, number=proposal.number,
                     version=1)
        await do_schedule_proposal_reminders(proposal)
        await _announce(party, proposal, amended=False)
    return FormErrors(), proposal


async def do_amend_proposal(actor: User, proposal_id: int, version: str, draft: ProposalDraft
                            ) -> tuple[FormErrors, Proposal | None]:
    """A new version (same number, version + 1); the old one is superseded and stays readable; votes and
    decisions start afresh; reminders follow the new dates; every party is told."""
    party, proposal = await proposal_for_party(actor, proposal_id)
    if not (party.is_mediator or party.is_company):
        raise NotFound()
    _refuse_unless_current(proposal, version)
    if not may_amend(party, proposal):
        raise Refused(_("Only the mediator, or the company for its own offer, can amend this proposal."), 403)
    errors, checked = _check(party, draft, default_threshold=proposal.vote_threshold_pct)
    if errors or checked is None:
        return errors, None
    errors = await total_errors(proposal.case, checked)
    if errors:
        return errors, None
    async with write_transaction():
        superseded = await Proposal.update({Proposal.status: ProposalStatus.superseded.value}).where(
            Proposal.id == proposal.id, Proposal.status == ProposalStatus.open.value).returning(Proposal.id)
        if not superseded:
            raise Refused(_("This proposal changed meanwhile (amended, withdrawn or being finalized). Please "
                            "reload the page."), 409)
        new = _row(checked, case=proposal.case, number=proposal.number, version=proposal.version + 1,
                   author=actor.id, author_role=proposal.author_role)
        await new.save()
        await do_cancel_reminders(f"proposal:{proposal.id}:")
        await record(proposal.case, actor.id, "proposal_amended", proposal_id=new.id, previous_id=proposal.id,
                     number=new.number, version=new.version)
        await do_schedule_proposal_reminders(new)
        await _announce(party, new, amended=True)
    return FormErrors(), new


def _refuse_unless_current(proposal: Proposal, version: str) -> None:
    if proposal.status in (ProposalStatus.locked, ProposalStatus.finalized):
        raise Refused(_("The decisions on this proposal are closed: it is being finalized."), 409)
    if proposal.status != ProposalStatus.open or version != str(proposal.version):
        raise Refused(_("This version of the proposal is no longer the current one. Please read the current "
                        "version before answering."), 409)


async def do_withdraw_proposal(actor: User, proposal_id: int) -> Proposal:
    """Its author's side (or the mediator) takes an open proposal back; its votes and decisions lapse."""
    party, proposal = await proposal_for_party(actor, proposal_id)
    if not (party.is_mediator or party.is_company):
        raise NotFound()
    if not may_amend(party, proposal):
        raise Refused(_("This proposal cannot be withdrawn: it is no longer open, or it is not yours."), 409)
    async with write_transaction():
        done = await Proposal.update({Proposal.status: ProposalStatus.withdrawn.value}).where(
            Proposal.id == proposal.id, Proposal.status == ProposalStatus.open.value).returning(Proposal.id)
        if not done:
            raise Refused(_("This proposal changed meanwhile. Please reload the page."), 409)
        await do_cancel_reminders(f"proposal:{proposal.id}:")
        await record(proposal.case, actor.id, "proposal_withdrawn", proposal_id=proposal.id)
        await do_notify(
            await mediation_party_ids(party.case, except_user=actor.id), kind="proposal_withdrawn",
            case_id=party.case.id, link=f"/cases/{party.case.id}/proposals",
            title=N_("Proposal no. %(number)s in “%(title)s” was withdrawn"),
            body=N_("The proposal was withdrawn: there is nothing more to vote on or decide about it."),
            params={"number": proposal.number, "title": party.case.title})
    proposal.status = ProposalStatus.withdrawn.value
    return proposal


async def _announce(party: ProposalParty, proposal: Proposal, *, amended: bool) -> None:
    recipients = await mediation_party_ids(party.case, except_user=party.user.id)
    params = {"number": proposal.number, "version": proposal.version, "title": party.case.title,
              "vote": iso_day(proposal.vote_closes_at), "deadline": iso_day(proposal.decide_by)}
    body = N_("Read it, vote (the vote is indicative) by %(vote)s, and accept or refuse it by %(deadline)s. You are "
              "free to accept or refuse it, and the courts stay open to you.")
    if amended:
        await do_notify(recipients, kind="proposal_amended", legal=True, case_id=party.case.id,
                        link=f"/proposals/{proposal.id}", params=params,
                        title=N_("Proposal no. %(number)s in “%(title)s” was amended (version %(version)s)"),
                        body=N_("Earlier votes and decisions no longer count. Read the new version, vote (the vote is "
                                "indicative) by %(vote)s, and accept or refuse it by %(deadline)s. You are free to "
                                "accept or refuse it, and the courts stay open to you."))
    else:
        title = (N_("The mediator proposes a solution in “%(title)s”") if proposal.author_role == "mediator"
                 else N_("The company made an offer in “%(title)s”"))
        await do_notify(recipients, kind="proposal_made", legal=True, case_id=party.case.id,
                        link=f"/proposals/{proposal.id}", params=params, title=title, body=body)


# --- the vote ------------------------------------------------------------------------------------------------------


async def do_close_vote(actor: User, proposal_id: int) -> Proposal:
    """The mediator closes the indicative vote early: its results become visible to every party."""
    party, proposal = await proposal_for_party(actor, proposal_id)
    if not party.is_mediator:
        raise NotFound()
    now = now_utc()
    if not vote_open(proposal, now):
        raise Refused(_("The vote on this proposal is already closed."), 409)
    async with write_transaction():
        done = await Proposal.update({Proposal.vote_closed_at: now}).where(
            Proposal.id == proposal.id, Proposal.status == ProposalStatus.open.value,
            Proposal.vote_closed_at.is_null()).returning(Proposal.id)
        if not done:
            raise Refused(_("This proposal changed meanwhile. Please reload the page."), 409)
        await do_cancel_reminders(f"proposal:{proposal.id}:vote:")
        await record(proposal.case, actor.id, "proposal_vote_closed", proposal_id=proposal.id)
        await do_notify(
            await mediation_party_ids(party.case, except_user=actor.id), kind="proposal_vote_closed",
            case_id=party.case.id, link=f"/proposals/{proposal.id}",
            title=N_("The vote on proposal no. %(number)s in “%(title)s” is closed"),
            body=N_("Its result is now visible. It is only indicative: each consumer still decides for themselves."),
            params={"number": proposal.number, "title": party.case.title})
    proposal.vote_closed_at = now
    return proposal


async def do_vote(actor: User, proposal_id: int, *, version: str, choice: str, comment: str) -> FormErrors:
    """An admitted consumer's indicative vote, changeable until the vote closes."""
    party, proposal = await proposal_for_party(actor, proposal_id)
    if not party.is_consumer:
        if party.is_company or party.is_mediator:
            raise Refused(_("Only the consumers vote on a proposal."), 403)
        raise NotFound()
    _refuse_unless_current(proposal, version)
    errors = FormErrors()
    if choice not in VOTE_CHOICES:
        errors.add("choice", _("Choose yes, no or abstain."))
    comment = clean_text(comment)
    if len(comment) > MAX_COMMENT_CHARS:
        errors.add("comment", _("Your comment is too long: at most %(max)s characters.") % {"max": MAX_COMMENT_CHARS})
    if errors:
        return errors
    now = now_utc()
    async with write_transaction():
        await lock_proposal(proposal.id)
        fresh = await Proposal.objects().where(Proposal.id == proposal.id).first()
        if fresh is None or fresh.status != ProposalStatus.open:
            _refuse_unless_current(fresh or proposal, "")
        assert fresh is not None
        if not vote_open(fresh, now):
            raise Refused(_("The vote on this proposal is closed: your vote was not recorded."), 409)
        await Vote.insert(Vote(proposal=proposal.id, consumer=actor.id, choice=choice, comment=comment,
                               created_at=now, updated_at=now)).on_conflict(
            target=(Vote.proposal, Vote.consumer), action="DO UPDATE",
            values=[Vote.choice, Vote.comment, Vote.updated_at])
        await record(proposal.case, actor.id, "proposal_voted", proposal_id=proposal.id)
    return errors


# --- the individual decision ---------------------------------------------------------------------------------------


def shown_token(proposal: Proposal, user_id: int, now: datetime | None = None) -> str:
    return sign_shown_at(get_settings().secret_key, proposal_id=proposal.id, version=proposal.version,
                         user_id=user_id, shown_at=now or now_utc())


async def do_decide(actor: User, proposal_id: int, *, version: str, choice: str, amount: str, shown: str
                    ) -> Decision:
    """A consumer accepts or refuses their own amount, until the decision deadline. The form's version and
    amount must be the current ones (else 409, nothing stored); the notices' display time is the form's, signed."""
    party, proposal = await proposal_for_party(actor, proposal_id)
    if not party.is_consumer:
        if party.is_company or party.is_mediator:
            raise Refused(_("Only the consumers decide on a proposal, each for themselves."), 403)
        raise NotFound()
    claim = party.claim
    assert claim is not None
    _refuse_unless_current(proposal, version)
    if choice not in DECISION_CHOICES:
        raise Refused(_("Choose whether you accept or refuse the proposal."), 422)
    expected = own_amount(proposal, claim)
    if amount != str(expected):
        raise Refused(_("The amount in your form is not the one this proposal gives you. Nothing was "
                        "recorded: please read the proposal again and answer."), 409)
    now = now_utc()
    shown_at = verify_shown_at(get_settings().secret_key, shown, proposal_id=proposal.id, version=proposal.version,
                               user_id=actor.id, now=now)
    if shown_at is None:
        raise Refused(_("This form is out of date. Nothing was recorded: please read the proposal and its "
                        "notices again, then answer."), 409)
    async with write_transaction():
        await lock_proposal(proposal.id)
        fresh = await Proposal.objects().where(Proposal.id == proposal.id).first()
        if fresh is None or fresh.status != ProposalStatus.open:
            _refuse_unless_current(fresh or proposal, "")
        assert fresh is not None
        if not decisions_open(fresh, now):
            raise Refused(_("The deadline to decide on this proposal has passed: your answer was not "
                            "recorded."), 409)
        await Decision.insert(Decision(proposal=proposal.id, claim=claim.id, consumer=actor.id, choice=choice,
                                       amount_cents=expected, notices_shown_at=shown_at, created_at=now,
                                       updated_at=now)).on_conflict(
            target=(Decision.proposal, Decision.consumer), action="DO UPDATE",
            values=[Decision.choice, Decision.amount_cents, Decision.notices_shown_at, Decision.updated_at])
        await record(proposal.case, actor.id, "proposal_decided", proposal_id=proposal.id, choice=choice,
                     amount_cents=expected)
    decision = await Decision.objects().where(Decision.proposal == proposal.id, Decision.consumer == actor.id).first()
    assert decision is not None
    return decision


# --- what a page shows -----------------------------------------------------------------------------------------


@dataclass
class TallyRow:
    """One eligible consumer in the mediator's live tally (real name: the mediator knows who they are)."""

    name: str
    amount_cents: int
    vote: str
    decision: str
    comment: str = ""  # the vote's optional comment, which the vote form says the mediator reads


@dataclass
class LiveTally:
    votes: Tally
    accepted: int
    refused: int
    eligible: int
    rows: list[TallyRow] = field(default_factory=list)

    @property
    def not_voted(self) -> int:
        return self.eligible - self.votes.total

    @property
    def not_decided(self) -> int:
        return self.eligible - self.accepted - self.refused


async def live_tally(proposal: Proposal, *, with_rows: bool) -> LiveTally:
    """Votes and decisions of the eligible consumers (withdrawn or no longer admitted ones do not count)."""
    claims = await eligible_claims(proposal.case)
    consumers = {row["consumer"] for row in claims}
    vote_rows = [row for row in await Vote.select(Vote.consumer, Vote.choice, Vote.comment).where(
        Vote.proposal == proposal.id) if row["consumer"] in consumers]
    votes = {row["consumer"]: row["choice"] for row in vote_rows}
    comments = {row["consumer"]: row["comment"] or "" for row in vote_rows}
    decisions = {row["consumer"]: row["choice"] for row in await Decision.select(
        Decision.consumer, Decision.choice).where(Decision.proposal == proposal.id) if row["consumer"] in consumers}
    rows = [TallyRow(name=row["name"] or "", amount_cents=own_amount(proposal, _claim_of(row)),
                     vote=votes.get(row["consumer"], ""), decision=decisions.get(row["consumer"], ""),
                     comment=comments.get(row["consumer"], ""))
            for row in claims] if with_rows else []
    choices = list(decisions.values())
    return LiveTally(votes=tally(list(votes.values()), proposal.vote_threshold_pct),
                     accepted=choices.count("accept"), refused=choices.count("refuse"), eligible=len(claims),
                     rows=rows)


def _claim_of(row: dict[str, Any]) -> Claim:
    return Claim(id=row["id"], amount_cents=row["amount_cents"])


async def versions_of(proposal: Proposal) -> list[dict[str, Any]]:
    return await Proposal.select(Proposal.id, Proposal.version, Proposal.status, Proposal.created_at).where(
        Proposal.case == proposal.case, Proposal.number == proposal.number).order_by(Proposal.version,
                                                                                      ascending=False)


async def proposal_view(party: ProposalParty, proposal: Proposal) -> dict[str, Any]:
    """Everything one version's page shows to this party."""
    now = now_utc()
    closed = vote_is_closed(vote_closes_at=proposal.vote_closes_at, vote_closed_at=proposal.vote_closed_at, now=now)
    over = decisions_over(proposal, now)
    tally_ = await live_tally(proposal, with_rows=party.is_mediator)
    own_vote = own_decision = None
    amount = None
    if party.claim is not None:
        own_vote = await Vote.objects().where(Vote.proposal == proposal.id, Vote.consumer == party.user.id).first()
        own_decision = await Decision.objects().where(Decision.proposal == proposal.id,
                                                      Decision.consumer == party.user.id).first()
        amount = own_amount(proposal, party.claim)
    current = proposal if is_current(proposal) else await Proposal.objects().where(
        Proposal.case == proposal.case, Proposal.number == proposal.number).order_by(
        Proposal.version, ascending=False).first()
    return {
        "case": party.case, "party": party, "proposal": proposal, "current": current,
        "notices": shown_notices(proposal.notices, i18n.current_language(), proposal.decide_by),
        "versions": await versions_of(proposal),
        "vote_closed": closed, "decisions_over": over,
        "tally": tally_,
        "show_vote_result": party.is_mediator or closed,
        "show_decision_counts": party.is_mediator or over,
        "own_vote": own_vote, "own_decision": own_decision, "own_amount": amount,
        "can_vote": party.is_consumer and vote_open(proposal, now) and party.case.status == CaseStatus.in_mediation,
        "can_decide": party.is_consumer and decisions_open(proposal, now)
        and party.case.status == CaseStatus.in_mediation,
        "can_amend": may_amend(party, proposal),
        "can_close_vote": party.is_mediator and vote_open(proposal, now),
        "live": party.is_mediator and proposal.status in (ProposalStatus.open, ProposalStatus.locked),
        "shown_token": shown_token(proposal, party.user.id, now) if party.is_consumer else "",
        "rule_kinds": list(RuleKind),
    }


async def proposals_list(party: ProposalParty) -> dict[str, Any]:
    """The case's proposals, newest first, each number once (its latest version), and the current one."""
    rows = await Proposal.objects().where(Proposal.case == party.case.id).order_by(
        Proposal.number, ascending=False).order_by(Proposal.version, ascending=False)
    latest: dict[int, Proposal] = {}
    for row in rows:
        latest.setdefault(row.number, row)
    blocking = next((row for row in latest.values() if row.status in BLOCKING_STATUSES), None)
    return {"case": party.case, "party": party, "proposals": list(latest.values()), "current": blocking,
            "can_propose": may_propose(party) and blocking is None}


# --- reminders -----------------------------------------------------------------------------------------------


async def do_schedule_proposal_reminders(proposal: Proposal) -> None:
    """D-3 and D-1 before the vote closes and before the decision deadline (those still ahead)."""
    now = now_utc()
    for label, due in proposal_reminders(proposal.vote_closes_at, now):
        await do_schedule_reminder(f"proposal:{proposal.id}:vote:{label}", kind=VOTE_REMINDER, due_at=due,
                                   case_id=proposal.case, params={"proposal_id": proposal.id})
    for label, due in proposal_reminders(proposal.decide_by, now):
        await do_schedule_reminder(f"proposal:{proposal.id}:decision:{label}", kind=DECISION_REMINDER, due_at=due,
                                   case_id=proposal.case, params={"proposal_id": proposal.id})


async def _reminded_proposal(params: dict[str, Any]) -> tuple[Case, Proposal] | None:
    proposal_id = params.get("proposal_id")
    if not isinstance(proposal_id, int):
        return None
    proposal = await Proposal.objects().where(Proposal.id == proposal_id).first()
    if proposal is None or proposal.status != ProposalStatus.open:
        return None
    case = await Case.objects().where(Case.id == proposal.case).first()
    if case is None or case.status != CaseStatus.in_mediation:
        return None
    return case, proposal


@reminder_handler(VOTE_REMINDER)
async def remind_voters(reminder: Any) -> None:
    """Only the eligible consumers who have not voted, and only while the vote is open."""
    found = await _reminded_proposal(reminder_params(reminder))
    if found is None:
        return
    case, proposal = found
    if not vote_open(proposal, now_utc()):
        return
    voted = {row["consumer"] for row in await Vote.select(Vote.consumer).where(Vote.proposal == proposal.id)}
    waiting = [row["consumer"] for row in await eligible_claims(case.id) if row["consumer"] not in voted]
    await do_notify(waiting, kind=VOTE_REMINDER, case_id=case.id, link=f"/proposals/{proposal.id}",
                    params={"number": proposal.number, "title": case.title, "vote": iso_day(proposal.vote_closes_at)},
                    title=N_("You have not voted on proposal no. %(number)s in “%(title)s” yet"),
                    body=N_("The indicative vote closes on %(vote)s. It binds no one: you will still decide for "
                            "yourself."))


@reminder_handler(DECISION_REMINDER)
async def remind_deciders(reminder: Any) -> None:
    """Only the eligible consumers who have not decided, and only before the deadline."""
    found = await _reminded_proposal(reminder_params(reminder))
    if found is None:
        return
    case, proposal = found
    if not decisions_open(proposal, now_utc()):
        return
    decided = {row["consumer"] for row in await Decision.select(Decision.consumer).where(
        Decision.proposal == proposal.id)}
    waiting = [row["consumer"] for row in await eligible_claims(case.id) if row["consumer"] not in decided]
    await do_notify(waiting, kind=DECISION_REMINDER, case_id=case.id, link=f"/proposals/{proposal.id}", legal=True,
                    params={"number": proposal.number, "title": case.title,
                            "deadline": iso_day(proposal.decide_by)},
                    title=N_("Accept or refuse proposal no. %(number)s in “%(title)s”"),
                    body=N_("You have until %(deadline)s to accept or refuse it. Without an answer, no agreement is "
                            "made for you."))


# --- labels for the pages ------------------------------------------------------------------------------------


def proposal_status(status: str) -> str:
    labels = {
        ProposalStatus.open: _("open"), ProposalStatus.superseded: _("replaced by a newer version"),
        ProposalStatus.withdrawn: _("withdrawn"), ProposalStatus.locked: _("being finalized"),
        ProposalStatus.finalized: _("finalized"),
    }
    return labels.get(status, status)  # type: ignore[call-overload]


def proposal_author(proposal: Proposal) -> str:
    return _("The mediator's proposed solution") if proposal.author_role == "mediator" else _("The company's offer")


def rule_text(proposal: Proposal) -> str:
    """What each consumer receives, in words."""
    if proposal.rule_kind == RuleKind.fixed:
        return _("%(amount)s for each consumer") % {"amount": euros(proposal.fixed_cents)}
    if proposal.rule_kind == RuleKind.share:
        share = f"{proposal.share_basis_points / 100:g}".replace(".", "," if i18n.current_language() == "fr" else ".")
        return _("%(share)s %% of each consumer's claimed amount") % {"share": share}
    return _("Each consumer receives: %(item)s") % {"item": proposal.item}


def vote_label(choice: str) -> str:
    return {"yes": _("yes"), "no": _("no"), "abstain": _("abstain"), "accept": _("accepted"),
            "refuse": _("refused")}.get(choice, _("no answer yet"))
