"""Writing in the room: posting a message (with its attachment), reading an attachment, opening a direct thread.

A message is committed with the next `seq` of its space, then announced (`realtime.announce`).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.actions.claims import CheckedFile, Upload
from app.actions.errors import CharterRequired, NotFound, Refused
from app.actions.room.access import SpaceView, party_of, room_entry, space_for_member
from app.domain.accounts import FormErrors
from app.domain.evidence import MAX_FILE_BYTES, SNIFF_BYTES, safe_filename, sniff_content_type
from app.domain.lifecycle import CaseStatus
from app.domain.room import (
    MAX_MESSAGE_CHARS,
    MessageProblem,
    SpaceKind,
    check_message,
    clean_client_key,
    space_key,
)
from app.i18n import _
from app.platform import realtime
from app.platform.db import after_commit, write_transaction
from app.platform.storage import remove_files, write_file
from app.settings import Settings, get_settings
from app.tables import (
    Message,
    MessageAttachment,
    Mute,
    Space,
    SpaceRead,
    User,
)

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
    from app.formatting import moment

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
