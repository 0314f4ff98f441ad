"""Factories for the proposal and agreement tests: a case in mediation with admitted consumers who accepted the
charter, a company representative, a declared mediator, and (optionally) an open proposal, written straight to
the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.notices import recorded_notices
from app.tables import Case, CharterAcceptance, Claim, Company, Proposal, Role
from tests.factories.accounts import Account, make_account
from tests.factories.mediation import assign, make_case, make_claim, make_company, make_member

CONSUMER_NAMES = ("Alice Durand", "Bruno Petit", "Chloé Bernard", "David Moreau", "Emma Laurent", "Farid Haddad")


@dataclass
class ProposalWorld:
    """A case in mediation (started now, 90 days to go) and its parties."""

    company: Company
    case: Case
    member: Account  # a representative of the case's company, charter accepted
    mediator: Account  # the case's declared mediator, charter accepted
    consumers: list[Account]  # admitted consumers, charter accepted, in order
    claims: list[Claim]  # their claims, same order
    proposal: Proposal | None = None  # the open proposal, when asked for
    outsider: Account | None = field(default=None)  # a consumer of another case in mediation

    @property
    def case_id(self) -> int:
        return int(self.case.id)


async def accept_charter(case: Case, account: Account) -> None:
    await CharterAcceptance.insert(CharterAcceptance(case=case.id, user=account.user.id))


async def make_proposal(case: Case, author: Account, *, author_role: str = "company", number: int = 1,
                        version: int = 1, terms: str = "Remboursement de la commande et geste commercial.",
                        rule_kind: str = "fixed", fixed_cents: int = 8_000, share_basis_points: int = 0,
                        item: str = "", vote_threshold_pct: int = 75, vote_closes_at: datetime | None = None,
                        decide_by: datetime | None = None, status: str = "open", **values: Any) -> Proposal:
    """A proposal version with its recorded R612-4 notices (vote in 5 days, decisions in 10, by default)."""
    now = datetime.now(UTC).replace(microsecond=0)
    decide_by = decide_by or now + timedelta(days=10)
    proposal = Proposal(
        case=case.id, number=number, version=version, author=author.user.id, author_role=author_role, terms=terms,
        rule_kind=rule_kind, fixed_cents=fixed_cents if rule_kind == "fixed" else 0,
        share_basis_points=share_basis_points if rule_kind == "share" else 0, item=item if rule_kind == "item" else "",
        vote_threshold_pct=vote_threshold_pct, vote_closes_at=vote_closes_at or now + timedelta(days=5),
        decide_by=decide_by, notices=recorded_notices(decide_by), status=status, **values)
    await proposal.save()
    return proposal


async def make_proposal_world(consumers: int = 3, *, amounts: list[int] | None = None, proposal: bool = True,
                              outsider: bool = False, **proposal_values: Any) -> ProposalWorld:
    """`consumers` admitted consumers (claimed amounts 100 €, 250.50 €, 400 €, … unless `amounts`), a company
    representative and a mediator, all past the charter; an open company offer unless `proposal=False`
    (`proposal_values` go to make_proposal); `outsider`: a consumer admitted in another case in mediation."""
    now = datetime.now(UTC).replace(microsecond=0)
    company = await make_company()
    case = await make_case(company, status="in_mediation", started_at=now, ends_at=now + timedelta(days=90))
    member = await make_member(company)
    mediator = await make_account(Role.mediator, name="Maud Médiatrice")
    await assign(case, mediator)
    amounts = amounts or [10_000, 25_050, 40_000, 5_000, 99_999, 12_000][:consumers]
    accounts, claims = [], []
    for index in range(consumers):
        account = await make_account(Role.consumer, name=CONSUMER_NAMES[index % len(CONSUMER_NAMES)])
        claims.append(await make_claim(case, account, status="admitted", amount_cents=amounts[index % len(amounts)]))
        accounts.append(account)
    for account in (*accounts, member, mediator):
        await accept_charter(case, account)
    world = ProposalWorld(company=company, case=case, member=member, mediator=mediator, consumers=accounts,
                          claims=claims)
    if proposal:
        world.proposal = await make_proposal(case, member, **proposal_values)
    if outsider:
        other = await make_case(company, status="in_mediation", started_at=now, ends_at=now + timedelta(days=90))
        world.outsider = await make_account(Role.consumer, name="Olga Autre")
        await make_claim(other, world.outsider, status="admitted")
        await accept_charter(other, world.outsider)
    return world


async def reload_proposal(proposal: Proposal) -> Proposal:
    fresh = await Proposal.objects().where(Proposal.id == proposal.id).first()
    assert fresh is not None
    return fresh


async def set_claim_status(claim: Claim, status: str) -> None:
    await Claim.update({Claim.status: status}).where(Claim.id == claim.id)
    claim.status = status
