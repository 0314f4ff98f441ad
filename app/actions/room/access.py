"""Who may enter the room of a case and which of its spaces: membership, the charter, pseudonyms, labels.

Membership is decided here and nowhere else: `space_for_member` answers 404 to anyone who is not a member
of the space (ids cannot be probed) and `CharterRequired` (403) to a member who has not accepted the charter
of its case; `readers_of` applies the same rules to many readers at once (the live streams' periodic check).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.actions.base import record
from app.actions.errors import CharterRequired, NotFound, Refused
from app.domain.lifecycle import CaseStatus, ClaimStatus
from app.domain.room import (
    SHARED_KINDS,
    Party,
    SpaceKind,
    may_enter,
    pseudonym_number,
    space_key,
)
from app.i18n import _
from app.platform.db import write_transaction
from app.tables import (
    Case,
    CharterAcceptance,
    Claim,
    Company,
    CompanyMember,
    Pseudonym,
    Role,
    Space,
    User,
)

logger = logging.getLogger("clf.room")

# The room exists once the mediation has started; a closed case keeps it, read-only.
ROOM_STATES = frozenset({CaseStatus.in_mediation.value, CaseStatus.closed.value})
PSEUDONYM_ATTEMPTS = 40
BATCH = 500  # ids per `IN (...)` list when many readers are checked at once


# --- who is who in a case ----------------------------------------------------------------------------


def _batches(ids: Iterable[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[start:start + BATCH] for start in range(0, len(unique), BATCH)]


def room_open(case: Case) -> bool:
    """Whether the case has a room to read: from the start of the mediation, and after it closed."""
    return case.status in ROOM_STATES


async def parties_of(users: Sequence[User], case: Case) -> dict[int, Party]:
    """What each of these users is to the case's room: its mediator, a representative of its company, an admitted
    consumer (staff are no party: they do not read the room). A query per side, however many users."""
    members: set[int] = set()
    admitted: set[int] = set()
    for batch in _batches(user.id for user in users if user.role == Role.company):
        members.update(row["user"] for row in await CompanyMember.select(CompanyMember.user).where(
            CompanyMember.company == case.company, CompanyMember.user.is_in(batch)))
    for batch in _batches(user.id for user in users if user.role == Role.consumer):
        admitted.update(row["consumer"] for row in await Claim.select(Claim.consumer).where(
            Claim.case == case.id, Claim.consumer.is_in(batch), Claim.status == ClaimStatus.admitted.value))
    return {user.id: Party(is_mediator=user.role == Role.mediator and case.mediator == user.id,
                           is_company=user.role == Role.company and user.id in members,
                           is_admitted_consumer=user.role == Role.consumer and user.id in admitted)
            for user in users}


async def party_of(user: User, case: Case) -> Party:
    """What this user is to the case's room (`parties_of` for one user)."""
    return (await parties_of([user], case))[user.id]


async def charter_accepters(case_id: int, user_ids: Iterable[int]) -> set[int]:
    """Which of these users accepted the charter of the case."""
    accepted: set[int] = set()
    for batch in _batches(user_ids):
        accepted.update(row["user"] for row in await CharterAcceptance.select(CharterAcceptance.user).where(
            CharterAcceptance.case == case_id, CharterAcceptance.user.is_in(batch)))
    return accepted


async def charter_accepted(case_id: int, user_id: int) -> bool:
    return user_id in await charter_accepters(case_id, [user_id])


async def company_name_of(case: Case) -> str:
    row = await Company.select(Company.name).where(Company.id == case.company).first()
    return row["name"] if row else ""


def space_label(kind: str, *, for_mediator: bool, participant_name: str = "") -> str:
    if kind == SpaceKind.plenary:
        return _("Plenary")
    if kind == SpaceKind.consumers:
        return _("Consumers' caucus")
    if kind == SpaceKind.company:
        return _("Company caucus")
    if for_mediator:
        return _("Private: %(name)s") % {"name": participant_name}
    return _("Private, with the mediator")


def space_audience(kind: str) -> str:
    """Who reads a space, said on its page (confidentiality is easier to respect when it is visible)."""
    if kind == SpaceKind.plenary:
        return _("Everyone in the mediation reads this space: the consumers, the company and the mediator.")
    if kind == SpaceKind.consumers:
        return _("Only the consumers and the mediator read this space. The company does not see it.")
    if kind == SpaceKind.company:
        return _("Only the company's representatives and the mediator read this space. The consumers do not see it.")
    return _("Only the mediator and this participant read this thread.")


@dataclass
class SpaceView:
    """A space as one member sees it."""

    id: int
    case_id: int
    kind: str
    participant_id: int | None
    last_seq: int
    case: Case
    company_name: str
    party: Party
    viewer_id: int
    label: str

    @property
    def read_only(self) -> bool:
        """The mediation has ended: the room can be read, no longer written to."""
        return self.case.status != CaseStatus.in_mediation

    @property
    def audience(self) -> str:
        return space_audience(self.kind)


async def space_for_member(user: User, space_id: int, *, require_charter: bool = True) -> SpaceView:
    """The space, for a member of it who accepted the charter; 404 for anyone else, CharterRequired (403) for a
    member who has not accepted it yet."""
    space = await Space.objects().where(Space.id == space_id).first()
    if space is None:
        raise NotFound()
    case = await Case.objects().where(Case.id == space.case).first()
    if case is None or not room_open(case):
        raise NotFound()
    party = await party_of(user, case)
    if not may_enter(party, space.kind, space.participant, user.id):
        raise NotFound()
    if require_charter and not await charter_accepted(case.id, user.id):
        raise CharterRequired(case.id)
    participant_name = ""
    if space.kind == SpaceKind.direct and party.is_mediator and space.participant is not None:
        row = await User.select(User.display_name).where(User.id == space.participant).first()
        participant_name = row["display_name"] if row else ""
    return SpaceView(
        id=space.id, case_id=case.id, kind=space.kind, participant_id=space.participant, last_seq=space.last_seq,
        case=case, company_name=await company_name_of(case), party=party, viewer_id=user.id,
        label=space_label(space.kind, for_mediator=party.is_mediator, participant_name=participant_name),
    )


async def readers_of(space: SpaceView, users: Sequence[User]) -> set[int]:
    """The ids of those users who may (still) read the space: `space_for_member`'s rules for many users at once —
    the case's room is open, the user is a party allowed in this kind of space, and has accepted the charter."""
    case = await Case.objects().where(Case.id == space.case_id).first()
    if case is None or not room_open(case):
        return set()
    parties = await parties_of(users, case)
    accepted = await charter_accepters(case.id, (user.id for user in users))
    return {user.id for user in users
            if may_enter(parties[user.id], space.kind, space.participant_id, user.id) and user.id in accepted}


# --- the room of a case ------------------------------------------------------------------------------


@dataclass
class RoomEntry:
    """One member at the door of a case's room."""

    case: Case
    party: Party
    user: User
    charter_accepted: bool
    company_name: str


async def room_entry(user: User, case_id: int) -> RoomEntry:
    """The room of a case for one of its members: 404 for anyone who is not (staff included), a refusal
    while the room is not open yet or to a consumer whose claim is not admitted."""
    case = await Case.objects().where(Case.id == case_id).first()
    if case is None:
        raise NotFound()
    party = await party_of(user, case)
    if not party.is_member:
        if user.role == Role.consumer and await Claim.exists().where(
                Claim.case == case_id, Claim.consumer == user.id, Claim.status != ClaimStatus.withdrawn.value):
            raise Refused(_("Only consumers whose claim has been admitted take part in the mediation room."), 403)
        raise NotFound()
    if case.status not in ROOM_STATES:
        raise Refused(_("The mediation room opens when the mediation starts."), 409)
    return RoomEntry(case=case, party=party, user=user, charter_accepted=await charter_accepted(case_id, user.id),
                     company_name=await company_name_of(case))


async def ensure_spaces(case_id: int) -> None:
    """The plenary and the two caucuses exist from the first visit of the room (created lazily, once)."""
    keys = [space_key(case_id, kind) for kind in SHARED_KINDS]
    existing = await Space.count().where(Space.key.is_in(keys))
    if existing == len(keys):
        return
    for kind in SHARED_KINDS:
        await Space.insert(Space(case=case_id, kind=kind.value, participant=None, key=space_key(case_id, kind),
                                 last_seq=0)).on_conflict(action="DO NOTHING")


async def shared_space_id(case_id: int, kind: str) -> int:
    row = await Space.select(Space.id).where(Space.key == space_key(case_id, kind)).first()
    if row is None:
        raise NotFound()
    return int(row["id"])


# --- the charter ---------------------------------------------------------------------------------------


async def do_accept_charter(user: User, case_id: int) -> None:
    """Record the member's acceptance of the confidentiality charter (L612-3), once, with its time."""
    entry = await room_entry(user, case_id)
    now = datetime.now(UTC)
    async with write_transaction():
        created = await CharterAcceptance.insert(CharterAcceptance(case=case_id, user=user.id, accepted_at=now)
                                                 ).on_conflict(action="DO NOTHING").returning(CharterAcceptance.id)
        if created:
            await record(case_id, user.id, "charter_accepted", accepted_at=now.isoformat())
    if entry.party.is_admitted_consumer:
        await ensure_pseudonym(case_id, user.id)


# --- pseudonyms ----------------------------------------------------------------------------------------


async def ensure_pseudonym(case_id: int, user_id: int) -> str:
    """The consumer's pseudonym in this case (its number, stored as text), created on first need."""
    row = await Pseudonym.select(Pseudonym.name).where(Pseudonym.case == case_id, Pseudonym.user == user_id).first()
    if row is not None:
        return str(row["name"])
    for attempt in range(PSEUDONYM_ATTEMPTS):
        name = str(pseudonym_number(case_id, user_id, attempt))
        # Either unique index may refuse it: the name is taken, or a concurrent request gave this user one.
        created = await Pseudonym.insert(Pseudonym(case=case_id, user=user_id, name=name)).on_conflict(
            action="DO NOTHING").returning(Pseudonym.name)
        if created:
            return name
        row = await Pseudonym.select(Pseudonym.name).where(Pseudonym.case == case_id,
                                                           Pseudonym.user == user_id).first()
        if row is not None:
            return str(row["name"])
    # A crowded case: a number above the usual range, unique because user ids are.
    name = str(10_000 + user_id)
    await Pseudonym.insert(Pseudonym(case=case_id, user=user_id, name=name)).on_conflict(action="DO NOTHING")
    return name


def pseudonym_label(name: str) -> str:
    return _("Participant %(number)s") % {"number": name}


async def pseudonyms(case_id: int, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await Pseudonym.select(Pseudonym.user, Pseudonym.name).where(Pseudonym.case == case_id,
                                                                       Pseudonym.user.is_in(sorted(user_ids)))
    names = {row["user"]: str(row["name"]) for row in rows}
    for user_id in user_ids - names.keys():
        # Given at the charter, so rarely missing; a page is a read, so a failed write only costs the number.
        try:
            names[user_id] = await ensure_pseudonym(case_id, user_id)
        except Exception:
            logger.warning("could not give a pseudonym to user %s in case %s", user_id, case_id, exc_info=True)
            names[user_id] = "?"
    return names
