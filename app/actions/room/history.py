"""Reading the room: messages as each viewer sees them, pages of history, read marks and unread counts, the
mediator's overview and the way in from the case page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from babel.dates import format_datetime

from app import i18n
from app.actions.access import CaseAccess
from app.actions.errors import NotFound
from app.actions.room.access import (
    ROOM_STATES,
    RoomEntry,
    SpaceView,
    party_of,
    pseudonym_label,
    pseudonyms,
    space_for_member,
    space_label,
)
from app.domain.evidence import format_size
from app.domain.lifecycle import ClaimStatus
from app.domain.room import (
    PAGE_SIZE,
    SHARED_KINDS,
    Page,
    Party,
    ReadMark,
    SpaceKind,
    Window,
    days_left,
    first_new_seq,
    mark_on_view,
    may_enter,
    page_of,
    unread,
    visible_kinds,
)
from app.formatting import BABEL_LOCALES, PARIS
from app.i18n import _
from app.platform.db import engine
from app.tables import (
    Case,
    Claim,
    CompanyMember,
    Message,
    MessageAttachment,
    MessageReport,
    Mute,
    Role,
    Space,
    SpaceRead,
    User,
)

# A read mark younger than this is not rewritten when nothing else changed (a page view is then read-only).
READ_MARK_REFRESH = timedelta(minutes=1)


# --- the spaces of a case and their unread counts ----------------------------------------------------


@dataclass
class SpaceItem:
    """A line of the room's list of spaces."""

    id: int
    kind: str
    label: str
    last_seq: int
    unread: int
    participant_id: int | None = None


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
        CompanyMember.company == case.company, CompanyMember.user.is_active.eq(True)).order_by(  # type: ignore[union-attr]  # Piccolo types a column reached through a join as Column | Any
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
        MessageReport.message.space.kind.as_alias("kind"),  # type: ignore[union-attr]  # Piccolo types a column reached through a join as Column | Any
        MessageReport.message.space.participant.display_name.as_alias("participant_name"),  # type: ignore[union-attr]  # Piccolo types a column reached through a join as Column | Any
    ).where(MessageReport.message.space.case == case.id, MessageReport.handled_at.is_null()).order_by(  # type: ignore[union-attr]  # Piccolo types a column reached through a join as Column | Any
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
