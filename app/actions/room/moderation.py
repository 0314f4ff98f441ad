"""The mediator's moderation of the room: hiding a message, reports, mutes.

A hidden message is announced as changed (`realtime.announce_change`), so open pages show it hidden at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.actions.base import record
from app.actions.errors import Forbidden, NotFound
from app.actions.notifications import N_, do_notify
from app.actions.room.access import RoomEntry, SpaceView, party_of, room_entry, space_for_member
from app.domain.accounts import FormErrors
from app.domain.room import (
    MAX_REASON_CHARS,
    clean_message,
    mute_until,
)
from app.i18n import _
from app.platform import realtime
from app.platform.db import after_commit, write_transaction
from app.tables import (
    Message,
    MessageReport,
    Mute,
    User,
)

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
        MessageReport.id == report_id, MessageReport.message.space.case == case_id).first()  # type: ignore[union-attr]  # Piccolo types a column reached through a join as Column | Any
    if report is None:
        raise NotFound()
    async with write_transaction():
        done = await MessageReport.update({MessageReport.handled_at: datetime.now(UTC)}).where(
            MessageReport.id == report_id, MessageReport.handled_at.is_null()).returning(MessageReport.id)
        if done:
            await record(case_id, actor.id, "room_report_handled", report=report_id)
