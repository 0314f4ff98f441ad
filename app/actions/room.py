"""The mediation room: who may enter which space, the charter, messages and their history, read marks,
pseudonyms, one-to-one threads and moderation.

Membership is decided here and nowhere else: `space_for_member` answers 404 to anyone who is not a member
of the space (ids cannot be probed) and `CharterRequired` (403) to a member who has not accepted the charter
of its case. A message is committed with the next `seq` of its space, then announced (`realtime.announce`); a
hidden message is announced as changed (`realtime.announce_change`), so open pages show it hidden at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_datetime

from app import i18n, realtime
from app.actions.access import CaseAccess, is_company_member
from app.actions.claims import CheckedFile, Upload
from app.actions.errors import CharterRequired, Forbidden, NotFound, Refused
from app.actions.mediation import BABEL_LOCALES, PARIS, record
from app.actions.notifications import N_, do_notify
from app.db import after_commit, engine, write_transaction
from app.domain.accounts import FormErrors
from app.domain.evidence import MAX_FILE_BYTES, SNIFF_BYTES, format_size, safe_filename, sniff_content_type
from app.domain.lifecycle import CaseStatus, ClaimStatus
from app.domain.room import (
    MAX_MESSAGE_CHARS,
    MAX_REASON_CHARS,
    PAGE_SIZE,
    SHARED_KINDS,
    MessageProblem,
    Page,
    Party,
    ReadMark,
    SpaceKind,
    Window,
    check_message,
    clean_client_key,
    clean_message,
    days_left,
    first_new_seq,
    mark_on_view,
    may_enter,
    mute_until,
    page_of,
    pseudonym_number,
    space_key,
    unread,
    visible_kinds,
)
from app.i18n import _
from app.settings import Settings, get_settings
from app.storage import remove_files, write_file
from app.tables import (
    Case,
    CharterAcceptance,
    Claim,
    Company,
    CompanyMember,
    Message,
    MessageAttachment,
    MessageReport,
    Mute,
    Pseudonym,
    Role,
    Space,
    SpaceRead,
    User,
)

logger = logging.getLogger("clf.room")

# The room exists once the mediation has started; a closed case keeps it, read-only.
ROOM_STATES = frozenset({CaseStatus.in_mediation.value, CaseStatus.closed.value})
# A read mark younger than this is not rewritten when nothing else changed (a page view is then read-only).
READ_MARK_REFRESH = timedelta(minutes=1)
PSEUDONYM_ATTEMPTS = 40


# --- who is who in a case ----------------------------------------------------------------------------


async def party_of(user: User, case: Case) -> Party:
    """What this user is to the case's room: its mediator, a representative of its company, an admitted consumer."""
    if user.role == Role.mediator:
        return Party(is_mediator=case.mediator == user.id)
    if user.role == Role.company:
        return Party(is_company=await is_company_member(user, case.company))
    if user.role == Role.consumer:
        return Party(is_admitted_consumer=await Claim.exists().where(
            Claim.case == case.id, Claim.consumer == user.id, Claim.status == ClaimStatus.admitted.value))
    return Party()  # staff are no party: they do not read the room


async def charter_accepted(case_id: int, user_id: int) -> bool:
    return await CharterAcceptance.exists().where(CharterAcceptance.case == case_id,
                                                  CharterAcceptance.user == user_id)


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
    if case is None or case.status not in ROOM_STATES:
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


# --- the room of a case ------------------------------------------------------------------------------


@dataclass
class SpaceItem:
    """A line of the room's list of spaces."""

    id: int
    kind: str
    label: str
    last_seq: int
    unread: int
    participant_id: int | None = None


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


async def member_spaces(user: User, case: Case, party: Party) -> list[SpaceItem]:
    """The spaces of the case this member may enter, with their unread counts: shared ones first, then the
    direct threads (all of them for the mediator, one's own for a participant)."""
    kinds = [kind.value for kind in visible_kinds(party)]
    query = Space.select(Space.id, Space.kind, Space.participant, Space.last_seq,
                         Space.participant.display_name.as_alias("participant_name")).where(Space.case == case.id)
    if party.is_mediator:
        rows = await query
    else:
        rows = await query.where(Space.kind.is_in(kinds) | ((Space.kind == SpaceKind.direct.value)
                                                          & (Space.participant == user.id)))
    reads = await read_marks(user.id, [row["id"] for row in rows])
    order = {kind.value: index for index, kind in enumerate(SHARED_KINDS)}
    rows.sort(key=lambda row: (order.get(row["kind"], len(order)), (row["participant_name"] or "").casefold()))
    return [SpaceItem(id=row["id"], kind=row["kind"], last_seq=row["last_seq"], participant_id=row["participant"],
                      label=space_label(row["kind"], for_mediator=party.is_mediator,
                                        participant_name=row["participant_name"] or ""),
                      unread=unread(row["last_seq"], reads.get(row["id"])))
            for row in rows if may_enter(party, row["kind"], row["participant"], user.id)]


async def read_marks(user_id: int, space_ids: list[int]) -> dict[int, int]:
    if not space_ids:
        return {}
    rows = await SpaceRead.select(SpaceRead.space, SpaceRead.read_seq).where(
        SpaceRead.user == user_id, SpaceRead.space.is_in(space_ids))
    return {row["space"]: row["read_seq"] for row in rows}


async def unread_by_case(user: User, case_ids: list[int] | None = None) -> dict[int, int]:
    """Unread messages per case, over the spaces this user is a member of (for the case page and "my cases")."""
    if user.role == Role.mediator:
        query = Case.select(Case.id).where(Case.mediator == user.id)
    elif user.role == Role.company:
        companies = [row["company"] for row in await CompanyMember.select(CompanyMember.company).where(
            CompanyMember.user == user.id)]
        if not companies:
            return {}
        query = Case.select(Case.id).where(Case.company.is_in(companies))
    elif user.role == Role.consumer:
        query = Case.select(Case.id).where(Case.id.is_in(
            Claim.select(Claim.case).where(Claim.consumer == user.id, Claim.status == ClaimStatus.admitted.value)))
    else:
        return {}
    query = query.where(Case.status.is_in(list(ROOM_STATES)))
    if case_ids is not None:
        if not case_ids:
            return {}
        query = query.where(Case.id.is_in(case_ids))
    cases = [row["id"] for row in await query]
    if not cases:
        return {}
    party = Party(is_mediator=user.role == Role.mediator, is_company=user.role == Role.company,
                  is_admitted_consumer=user.role == Role.consumer)
    spaces = await Space.select(Space.id, Space.case, Space.kind, Space.participant, Space.last_seq).where(
        Space.case.is_in(cases), Space.last_seq > 0)
    spaces = [row for row in spaces if may_enter(party, row["kind"], row["participant"], user.id)]
    reads = await read_marks(user.id, [row["id"] for row in spaces])
    counts: dict[int, int] = {}
    for row in spaces:
        counts[row["case"]] = counts.get(row["case"], 0) + unread(row["last_seq"], reads.get(row["id"]))
    return counts


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


# --- messages ------------------------------------------------------------------------------------------


@dataclass
class AttachmentView:
    id: int
    name: str
    size: str


@dataclass
class MessageView:
    """One message as one viewer sees it: what `room/_message.html` renders."""

    seq: int
    space_id: int
    author_label: str
    body: str
    created_at: datetime
    time_label: str
    mine: bool = False
    author_is_mediator: bool = False
    hidden: bool = False
    hidden_note: str = ""
    attachments: list[AttachmentView] = field(default_factory=list)
    can_moderate: bool = False  # the viewer is the mediator and the message is not hidden
    can_report: bool = False


_MESSAGE_COLUMNS = (Message.id, Message.seq, Message.author, Message.body, Message.created_at, Message.hidden_at,
                    Message.hidden_reason, Message.author.display_name.as_alias("author_name"),
                    Message.author.role.as_alias("author_role"))


def time_label(value: datetime, now: datetime) -> str:
    """14:03 for today, 27 Nov, 14:03 before (Paris time, the viewer's language)."""
    locale = BABEL_LOCALES.get(i18n.current_language(), "fr_FR")
    same_day = value.astimezone(PARIS).date() == now.astimezone(PARIS).date()
    return format_datetime(value, "HH:mm" if same_day else "d MMM, HH:mm", tzinfo=PARIS, locale=locale)


async def _views(space: SpaceView, viewer: User, rows: list[dict[str, Any]]) -> list[MessageView]:
    if not rows:
        return []
    party = space.party if viewer.id == space.viewer_id else await party_of(viewer, space.case)
    consumer_authors = {row["author"] for row in rows if row["author_role"] == Role.consumer}
    names = await pseudonyms(space.case_id, consumer_authors) if party.is_admitted_consumer else {}
    files: dict[int, list[AttachmentView]] = {}
    for item in await MessageAttachment.select(
            MessageAttachment.id, MessageAttachment.message, MessageAttachment.original_name,
            MessageAttachment.size_bytes).where(MessageAttachment.message.is_in([row["id"] for row in rows])
                                                ).order_by(MessageAttachment.id):
        files.setdefault(item["message"], []).append(AttachmentView(
            id=item["id"], name=item["original_name"], size=format_size(item["size_bytes"])))
    now = datetime.now(UTC)
    views = []
    for row in rows:
        author, role = row["author"], row["author_role"]
        mine = author == viewer.id
        if mine:
            label = _("You")
        elif role == Role.mediator:
            label = _("Mediator")
        elif role == Role.company:
            label = (_("%(name)s, company %(company)s") % {"name": row["author_name"], "company": space.company_name}
                     if party.is_mediator else _("Company %(company)s") % {"company": space.company_name})
        elif role == Role.consumer and party.is_admitted_consumer:
            label = pseudonym_label(names.get(author, "?"))
        else:
            label = row["author_name"]
        hidden = row["hidden_at"] is not None
        view = MessageView(
            seq=row["seq"], space_id=space.id, author_label=label, body=row["body"], created_at=row["created_at"],
            time_label=time_label(row["created_at"], now), mine=mine, author_is_mediator=role == Role.mediator,
            hidden=hidden, attachments=files.get(row["id"], []),
            can_moderate=party.is_mediator and not hidden, can_report=not mine and not hidden and not party.is_mediator,
        )
        if hidden and party.is_mediator:
            view.hidden_note = _("Hidden from the participants: %(reason)s") % {"reason": row["hidden_reason"]}
        elif hidden:
            view.hidden_note = _("Message hidden by the mediator: %(reason)s") % {"reason": row["hidden_reason"]}
            view.body, view.attachments = "", []
        views.append(view)
    return views


async def messages_after(space: SpaceView, viewer: User, after_seq: int, limit: int) -> list[MessageView]:
    """The messages with seq > after_seq, oldest first, at most `limit` (what a stream replays)."""
    rows = await Message.select(*_MESSAGE_COLUMNS).where(
        Message.space == space.id, Message.seq > after_seq).order_by(Message.seq).limit(limit)
    return await _views(space, viewer, rows)


async def messages_before(space: SpaceView, viewer: User, before_seq: int, limit: int) -> list[MessageView]:
    """The `limit` messages just before `before_seq`, oldest first (one page of history)."""
    rows = await Message.select(*_MESSAGE_COLUMNS).where(
        Message.space == space.id, Message.seq < before_seq).order_by(Message.seq, ascending=False).limit(limit)
    rows.reverse()
    return await _views(space, viewer, rows)


async def message_at(space: SpaceView, viewer: User, seq: int) -> MessageView:
    rows = await Message.select(*_MESSAGE_COLUMNS).where(Message.space == space.id, Message.seq == seq)
    if not rows:
        raise NotFound()
    return (await _views(space, viewer, rows))[0]


def history_query(space_id: int, window: Window, page_size: int = PAGE_SIZE) -> Any:
    """The keyset query of one page: page_size + 1 rows from the (space, seq) index, walking down from the end or
    from `before`, or up from `after` — its cost does not depend on the length of the history."""
    query = Message.select(*_MESSAGE_COLUMNS).where(Message.space == space_id).limit(page_size + 1)
    if window.after is not None:
        return query.where(Message.seq > window.after).order_by(Message.seq)
    if window.before is not None:
        query = query.where(Message.seq < window.before)
    return query.order_by(Message.seq, ascending=False)


async def history_page(space: SpaceView, viewer: User, window: Window, page_size: int = PAGE_SIZE
                       ) -> tuple[list[MessageView], Page]:
    """One page of a space: the latest messages, or those before/after a seq, oldest first."""
    rows = await history_query(space.id, window, page_size)
    shape = page_of(window, [row["seq"] for row in rows], space.last_seq, page_size)
    kept = set(shape.seqs)
    rows = sorted((row for row in rows if row["seq"] in kept), key=lambda row: row["seq"])
    return await _views(space, viewer, rows), shape


@asynccontextmanager
async def read_snapshot() -> AsyncIterator[None]:
    """The reads of one page on one connection: one consistent view of the room, and on SQLite one connection
    instead of one per query (most of a page's cost). Nothing is written inside: writes go after it."""
    async with engine().transaction():
        yield


@dataclass
class PendingMark:
    """A read mark to save once the page is built (outside the read snapshot)."""

    space_id: int
    user_id: int
    row_id: int | None
    mark: ReadMark
    at: datetime


async def mark_for_view(space: SpaceView, user_id: int) -> tuple[int, PendingMark | None]:
    """Viewing the latest page of a space: the seq of the "new since your last visit" marker (messages after it
    are new), and the read mark to save (None when there is nothing new to record)."""
    now = datetime.now(UTC)
    row = await SpaceRead.select(SpaceRead.id, SpaceRead.read_seq, SpaceRead.previous_visit_seq,
                                 SpaceRead.updated_at).where(SpaceRead.space == space.id,
                                                             SpaceRead.user == user_id).first()
    current = ReadMark(row["read_seq"], row["previous_visit_seq"]) if row else None
    mark = mark_on_view(current, row["updated_at"] if row else None, now, space.last_seq)
    if row is not None and mark == current and now - row["updated_at"] < READ_MARK_REFRESH:
        return mark.previous_visit_seq, None
    return mark.previous_visit_seq, PendingMark(space.id, user_id, row["id"] if row else None, mark, now)


async def do_save_mark(pending: PendingMark | None) -> None:
    if pending is None:
        return
    mark = pending.mark
    if pending.row_id is None:
        await SpaceRead.insert(SpaceRead(space=pending.space_id, user=pending.user_id, read_seq=mark.read_seq,
                                         previous_visit_seq=mark.previous_visit_seq, updated_at=pending.at)
                               ).on_conflict(action="DO NOTHING")
    else:
        # Never backwards: a concurrent view or post may have moved the mark further meanwhile.
        await SpaceRead.update({SpaceRead.read_seq: mark.read_seq, SpaceRead.previous_visit_seq:
                                mark.previous_visit_seq, SpaceRead.updated_at: pending.at}).where(
            SpaceRead.id == pending.row_id, SpaceRead.read_seq <= mark.read_seq)


async def do_mark_read(actor: User, space_id: int, seq: int) -> int | None:
    """The member saw the space's messages up to `seq` live (app.js says so while the page is visible): their read
    mark moves forward to it — never backwards, never past the space's last message. Returns the seq recorded (None
    when the mark was already there). The "new since your last visit" marker stays: this is the same visit."""
    space = await space_for_member(actor, space_id)
    seq = min(seq, space.last_seq)
    if seq <= 0:
        return None
    now = datetime.now(UTC)
    for _attempt in range(2):
        # One conditional statement: a concurrent page view, post or mark that went further is never undone.
        if await SpaceRead.update({SpaceRead.read_seq: seq, SpaceRead.updated_at: now}).where(
                SpaceRead.space == space.id, SpaceRead.user == actor.id, SpaceRead.read_seq < seq
        ).returning(SpaceRead.id):
            return seq
        if await SpaceRead.exists().where(SpaceRead.space == space.id, SpaceRead.user == actor.id):
            return None  # already at or past seq
        # No mark yet (the page view that makes one has not saved it): a first mark, as a first visit makes it.
        if await SpaceRead.insert(SpaceRead(space=space.id, user=actor.id, read_seq=seq, previous_visit_seq=seq,
                                            updated_at=now)).on_conflict(action="DO NOTHING").returning(SpaceRead.id):
            return seq
    return None


def new_marker(messages: list[MessageView], marker_seq: int) -> int | None:
    """Where "new since your last visit" goes: before the first message after the mark that is not one's own."""
    return first_new_seq([message.seq for message in messages if not message.mine], marker_seq)


# --- posting -------------------------------------------------------------------------------------------


@dataclass
class PostResult:
    errors: FormErrors = field(default_factory=FormErrors)
    seq: int | None = None
    duplicate: bool = False  # the same client key was posted before: nothing new was stored


def attachments_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).var_dir / "room"


def attachment_path(stored_name: str, settings: Settings | None = None) -> Path:
    if not stored_name.isalnum():  # stored names are ours (hex): never a path
        raise NotFound()
    return attachments_dir(settings) / stored_name


async def active_mute(case_id: int, user_id: int, now: datetime | None = None) -> Mute | None:
    return await Mute.objects().where(Mute.case == case_id, Mute.user == user_id,
                                      Mute.until > (now or datetime.now(UTC))).order_by(Mute.until,
                                                                                        ascending=False).first()


def check_can_post(space: SpaceView) -> None:
    if space.read_only:
        raise Refused(_("The mediation has ended: the room can still be read, but no longer takes messages."), 409)


async def _existing(author_id: int, client_key: str) -> tuple[int, int] | None:
    """(space, seq) of the message this author already posted with this key."""
    if not client_key:
        return None
    row = await Message.select(Message.space, Message.seq).where(Message.author == author_id,
                                                                 Message.client_key == client_key).first()
    return (row["space"], row["seq"]) if row else None


async def _check_upload(upload: Upload | None, errors: FormErrors) -> CheckedFile | None:
    if upload is None:
        return None
    data = await upload.read(MAX_FILE_BYTES + 1)
    name = safe_filename(upload.filename or "", "")
    if not data:
        errors.add("file", _("The file “%(name)s” is empty.") % {"name": name})
    elif len(data) > MAX_FILE_BYTES:
        errors.add("file", _("The file “%(name)s” is larger than 10 MB. Please send a smaller file.") % {"name": name})
    elif (content_type := sniff_content_type(data[:SNIFF_BYTES])) is None:
        errors.add("file", _("The file “%(name)s” is not a PDF, JPEG or PNG file. Only these types are accepted, "
                             "whatever the file's name says.") % {"name": name})
    else:
        return CheckedFile(name=safe_filename(upload.filename or "", content_type), content_type=content_type,
                           data=data, stored_name=secrets.token_hex(16))
    return None


async def do_post_message(actor: User, space_id: int, body: str, client_key: str = "",
                          upload: Upload | None = None) -> PostResult:
    """Post a message: checked, committed with the next seq of its space, then announced. A client key already
    used by this author returns the message it stored (never stored twice)."""
    space = await space_for_member(actor, space_id)
    client_key = clean_client_key(client_key)
    if (existing := await _existing(actor.id, client_key)) is not None:
        return PostResult(seq=existing[1], duplicate=True)
    check_can_post(space)
    now = datetime.now(UTC)
    mute = await active_mute(space.case_id, actor.id, now)
    if mute is not None:
        raise Refused(_mute_message(mute), 403)
    result = PostResult()
    checked = check_message(body, has_attachment=upload is not None)
    if checked.problem == MessageProblem.empty:
        result.errors.add("body", _("Please write a message (or attach a file)."))
    elif checked.problem == MessageProblem.too_long:
        result.errors.add("body", _("A message may have at most %(max)d characters; yours has %(n)d. Please shorten "
                                    "it or split it in two.") % {"max": MAX_MESSAGE_CHARS, "n": checked.length})
    attachment = await _check_upload(upload, result.errors)
    if result.errors:
        return result
    path = attachment_path(attachment.stored_name) if attachment else None
    try:
        if attachment and path:
            await asyncio.to_thread(write_file, path, attachment.data)
        async with write_transaction():
            # The row lock taken by this update orders concurrent posters: seqs commit in order, without gaps.
            counter = await Space.update({Space.last_seq: Space.last_seq + 1}).where(Space.id == space.id).returning(
                Space.last_seq)
            seq = int(counter[0]["last_seq"])
            inserted = await Message.insert(Message(space=space.id, seq=seq, author=actor.id, body=checked.body,
                                                    client_key=client_key, created_at=now)).returning(Message.id)
            if attachment:
                await MessageAttachment.insert(MessageAttachment(
                    message=inserted[0]["id"], original_name=attachment.name[:120], stored_name=attachment.stored_name,
                    content_type=attachment.content_type, size_bytes=len(attachment.data),
                    sha256=hashlib.sha256(attachment.data).hexdigest()))
            # The poster has read their own message if they had read everything before it.
            await SpaceRead.update({SpaceRead.read_seq: seq}).where(
                SpaceRead.space == space.id, SpaceRead.user == actor.id, SpaceRead.read_seq == seq - 1)
            after_commit(lambda: realtime.announce(space.id, seq))
    except BaseException:
        if path:
            remove_files([path])
        # The same key posted twice at once (double click, a retry): the unique index kept one; return it.
        if (existing := await _existing(actor.id, client_key)) is not None:
            return PostResult(seq=existing[1], duplicate=True)
        raise
    result.seq = seq
    return result


def _mute_message(mute: Mute) -> str:
    from app.actions.mediation import moment

    if mute.until - datetime.now(UTC) > timedelta(days=365):
        text = _("The mediator has muted you in this room until further notice: you can read it, not write in it.")
    else:
        text = _("The mediator has muted you in this room until %(until)s: you can read it, not write in it.") % {
            "until": moment(mute.until)}
    if mute.reason:
        text += " " + _("Reason: %(reason)s") % {"reason": mute.reason}
    return text


async def mute_notice(space: SpaceView) -> str:
    """What the post form says instead of itself while the viewer is muted ('' when not)."""
    mute = await active_mute(space.case_id, space.viewer_id)
    return _mute_message(mute) if mute else ""


# --- attachments ---------------------------------------------------------------------------------------


async def attachment_for_member(user: User, attachment_id: int) -> MessageAttachment:
    """An attachment, for a member of its space (hidden messages: the mediator only); 404 for anyone else."""
    attachment = await MessageAttachment.objects().where(MessageAttachment.id == attachment_id).first()
    if attachment is None:
        raise NotFound()
    message = await Message.select(Message.space, Message.hidden_at).where(Message.id == attachment.message).first()
    if message is None:
        raise NotFound()
    try:
        space = await space_for_member(user, message["space"])
    except CharterRequired:
        raise NotFound() from None
    if message["hidden_at"] is not None and not space.party.is_mediator:
        raise NotFound()
    return attachment


# --- one-to-one threads --------------------------------------------------------------------------------


async def do_open_direct(user: User, case_id: int, participant_id: int | None) -> int:
    """The direct thread between the mediator and one participant (opened by either); returns its space id."""
    entry = await room_entry(user, case_id)
    if not entry.charter_accepted:
        raise CharterRequired(case_id)
    if entry.party.is_mediator:
        target = await User.objects().where(User.id == participant_id).first() if participant_id else None
        if target is None or not (await party_of(target, entry.case)).is_participant:
            raise NotFound()
    else:
        if participant_id not in (None, user.id):
            raise NotFound()
        target = user
    key = space_key(case_id, SpaceKind.direct, target.id)
    row = await Space.select(Space.id).where(Space.key == key).first()
    if row is not None:
        return int(row["id"])
    if entry.case.status != CaseStatus.in_mediation:
        raise Refused(_("The mediation has ended: no new thread can be opened."), 409)
    await Space.insert(Space(case=case_id, kind=SpaceKind.direct.value, participant=target.id, key=key, last_seq=0)
                       ).on_conflict(action="DO NOTHING")
    row = await Space.select(Space.id).where(Space.key == key).first()
    assert row is not None
    return int(row["id"])


# --- moderation ----------------------------------------------------------------------------------------


def _reason(raw: str, errors: FormErrors, *, required: bool) -> str:
    reason = " ".join(clean_message(raw).split())
    if required and not reason:
        errors.add("reason", _("Please give a reason."))
    elif len(reason) > MAX_REASON_CHARS:
        errors.add("reason", _("At most %(max)d characters, please.") % {"max": MAX_REASON_CHARS})
    return reason


async def _moderated_message(user: User, space_id: int, seq: int) -> tuple[SpaceView, Message]:
    space = await space_for_member(user, space_id)
    message = await Message.objects().where(Message.space == space.id, Message.seq == seq).first()
    if message is None:
        raise NotFound()
    return space, message


async def do_hide_message(actor: User, space_id: int, seq: int, reason: str) -> FormErrors:
    """The mediator hides a message with a reason; the others then see only that it was hidden, and why.

    Once committed, the change is announced: the open streams of the space send the message again as each reader
    now sees it (`event: changed`), and the pages that show it swap it in place.
    """
    space, message = await _moderated_message(actor, space_id, seq)
    if not space.party.is_mediator:
        raise Forbidden()
    errors = FormErrors()
    text = _reason(reason, errors, required=True)
    if errors:
        return errors
    now = datetime.now(UTC)
    async with write_transaction():
        hidden = await Message.update({Message.hidden_at: now, Message.hidden_by: actor.id,
                                       Message.hidden_reason: text}).where(
            Message.id == message.id, Message.hidden_at.is_null()).returning(Message.id)
        if hidden:
            await MessageReport.update({MessageReport.handled_at: now}).where(
                MessageReport.message == message.id, MessageReport.handled_at.is_null())
            await record(space.case_id, actor.id, "room_message_hidden", space=space.id, seq=seq, reason=text)
            after_commit(lambda: realtime.announce_change(space.id, seq))
    return errors


async def do_report_message(actor: User, space_id: int, seq: int, reason: str) -> FormErrors:
    """A member reports a message to the mediator, who is notified; reporting it again changes nothing."""
    space, message = await _moderated_message(actor, space_id, seq)
    if space.party.is_mediator or message.author == actor.id:
        raise Forbidden()
    errors = FormErrors()
    text = _reason(reason, errors, required=False)
    if errors:
        return errors
    if await MessageReport.exists().where(MessageReport.message == message.id, MessageReport.reporter == actor.id,
                                          MessageReport.handled_at.is_null()):
        return errors
    async with write_transaction():
        await MessageReport.insert(MessageReport(message=message.id, reporter=actor.id, reason=text,
                                                 created_at=datetime.now(UTC)))
        await record(space.case_id, actor.id, "room_message_reported", space=space.id, seq=seq)
        if space.case.mediator is not None:
            await do_notify([space.case.mediator], kind="room_message_reported", case_id=space.case_id,
                            link=f"/spaces/{space.id}#m-{seq}",
                            title=N_("A message was reported in the room of “%(title)s”"),
                            params={"title": space.case.title})
    return errors


async def _mediated_case(actor: User, case_id: int) -> RoomEntry:
    entry = await room_entry(actor, case_id)
    if not entry.party.is_mediator:
        raise NotFound()
    return entry


async def do_mute(actor: User, case_id: int, user_id: int, duration: str, reason: str) -> FormErrors:
    """The mediator mutes a participant for 1 h, 24 h or until lifted; they can still read."""
    entry = await _mediated_case(actor, case_id)
    target = await User.objects().where(User.id == user_id).first()
    if target is None or not (await party_of(target, entry.case)).is_participant:
        raise NotFound()
    errors = FormErrors()
    now = datetime.now(UTC)
    until = mute_until(duration, now)
    if until is None:
        errors.add("duration", _("Please choose for how long."))
    text = _reason(reason, errors, required=False)
    if errors or until is None:
        return errors
    async with write_transaction():
        await Mute.insert(Mute(case=case_id, user=user_id, until=until, reason=text, muted_by=actor.id,
                               created_at=now))
        await record(case_id, actor.id, "room_participant_muted", user=user_id, until=until.isoformat(), reason=text)
        await do_notify([user_id], kind="room_muted", case_id=case_id, link=f"/cases/{case_id}/room",
                        title=N_("The mediator has muted you in the room of “%(title)s”"),
                        body=N_("You can still read the room, but not write in it for now."),
                        params={"title": entry.case.title})
    return errors


async def do_lift_mute(actor: User, case_id: int, user_id: int) -> None:
    await _mediated_case(actor, case_id)
    now = datetime.now(UTC)
    async with write_transaction():
        lifted = await Mute.update({Mute.until: now}).where(Mute.case == case_id, Mute.user == user_id,
                                                            Mute.until > now).returning(Mute.id)
        if lifted:
            await record(case_id, actor.id, "room_mute_lifted", user=user_id)


async def do_handle_report(actor: User, case_id: int, report_id: int) -> None:
    """The mediator marks a report handled (keeping the message as it is)."""
    await _mediated_case(actor, case_id)
    report = await MessageReport.select(MessageReport.id).where(
        MessageReport.id == report_id, MessageReport.message.space.case == case_id).first()
    if report is None:
        raise NotFound()
    async with write_transaction():
        done = await MessageReport.update({MessageReport.handled_at: datetime.now(UTC)}).where(
            MessageReport.id == report_id, MessageReport.handled_at.is_null()).returning(MessageReport.id)
        if done:
            await record(case_id, actor.id, "room_report_handled", report=report_id)


# --- the mediator's screen -----------------------------------------------------------------------------


@dataclass
class Participant:
    user_id: int
    name: str
    side: str  # "consumer" or "company"
    claim_status: str = ""
    muted_until: datetime | None = None
    muted_indefinitely: bool = False
    direct_space_id: int | None = None
    direct_unread: int = 0

    @property
    def can_talk(self) -> bool:
        """Only admitted consumers and the company's representatives are in the room."""
        return self.side == "company" or self.claim_status == ClaimStatus.admitted


async def mediator_overview(entry: RoomEntry) -> dict[str, Any]:
    """The mediator's one screen: participants (real names, claim status, mutes, direct threads), deadlines,
    open reports."""
    case = entry.case
    now = datetime.now(UTC)
    claims = await Claim.select(Claim.consumer, Claim.status, Claim.consumer.display_name.as_alias("name")).where(
        Claim.case == case.id).order_by(Claim.consumer.display_name)
    members = await CompanyMember.select(CompanyMember.user, CompanyMember.user.display_name.as_alias("name")).where(
        CompanyMember.company == case.company, CompanyMember.user.is_active.eq(True)).order_by(
        CompanyMember.user.display_name)
    mutes: dict[int, datetime] = {}
    for row in await Mute.select(Mute.user, Mute.until).where(Mute.case == case.id, Mute.until > now):
        mutes[row["user"]] = max(row["until"], mutes.get(row["user"], row["until"]))
    directs = await Space.select(Space.id, Space.participant, Space.last_seq).where(
        Space.case == case.id, Space.kind == SpaceKind.direct.value)
    reads = await read_marks(entry.user.id, [row["id"] for row in directs])
    direct_by_user = {row["participant"]: row for row in directs}
    participants = [Participant(user_id=row["consumer"], name=row["name"], side="consumer", claim_status=row["status"])
                    for row in claims]
    participants += [Participant(user_id=row["user"], name=row["name"], side="company") for row in members]
    for person in participants:
        if person.user_id in mutes:
            person.muted_until = mutes[person.user_id]
            person.muted_indefinitely = mutes[person.user_id] - now > timedelta(days=365)
        if (direct := direct_by_user.get(person.user_id)) is not None:
            person.direct_space_id = direct["id"]
            person.direct_unread = unread(direct["last_seq"], reads.get(direct["id"]))
    reports = await MessageReport.select(
        MessageReport.id, MessageReport.reason, MessageReport.created_at,
        MessageReport.reporter.display_name.as_alias("reporter_name"), MessageReport.message.seq.as_alias("seq"),
        MessageReport.message.space.as_alias("space"), MessageReport.message.body.as_alias("body"),
        MessageReport.message.space.kind.as_alias("kind"),
        MessageReport.message.space.participant.display_name.as_alias("participant_name"),
    ).where(MessageReport.message.space.case == case.id, MessageReport.handled_at.is_null()).order_by(
        MessageReport.id)
    for report in reports:
        body = " ".join(str(report["body"]).split())
        report["excerpt"] = body[:160] + ("…" if len(body) > 160 else "")
        report["space_label"] = space_label(report["kind"], for_mediator=True,
                                            participant_name=report["participant_name"] or "")
    return {"participants": participants, "reports": reports, "days_left": days_left(case.ends_at, now)}


# --- the way in, from the case page and "my cases" -----------------------------------------------------


def opens_room(access: CaseAccess) -> bool:
    """Whether the case page shows this user the way into the room (a member, once the mediation started)."""
    admitted = access.own_claim is not None and access.own_claim.status == ClaimStatus.admitted
    return access.case.status in ROOM_STATES and (access.is_mediator or access.is_company or admitted)


async def room_link(access: CaseAccess) -> dict[str, Any]:
    """What the case page needs to show the way into the room, with its unread count."""
    if not opens_room(access):
        return {"room_open": False, "room_unread": 0}
    counts = await unread_by_case(access.user, [access.case.id])
    return {"room_open": True, "room_unread": counts.get(access.case.id, 0)}
