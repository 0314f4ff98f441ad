"""The mediation room's pure rules: spaces, message text, pseudonyms, history cursors, read marks. No I/O."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_MESSAGE_CHARS = 4_000
PAGE_SIZE = 50
MAX_SEQ = 2**31 - 1
# Two views of a space closer than this belong to one visit: the "new since your last visit" marker stays put.
VISIT_GAP = timedelta(minutes=30)
# A client key is the form's uuid4; anything else is ignored (the post then simply has no idempotency key).
_CLIENT_KEY = re.compile(r"^[A-Za-z0-9-]{8,40}$")
# Refused by stripping: C0 controls but tab and line feed, DEL, C1 controls, and the bidirectional embedding,
# override and isolate marks (they can make a message display something else than what it says).
_STRIPPED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class SpaceKind(StrEnum):
    plenary = "plenary"  # every party
    consumers = "consumers"  # the admitted consumers and the mediator
    company = "company"  # the company's representatives and the mediator
    direct = "direct"  # the mediator and one participant


SHARED_KINDS = (SpaceKind.plenary, SpaceKind.consumers, SpaceKind.company)


def space_key(case_id: int, kind: str, participant_id: int | None = None) -> str:
    """The unique key of a space: one plenary, one caucus of each side, one direct thread per participant."""
    return f"{case_id}:{kind}:{participant_id or 0}"


@dataclass(frozen=True)
class Party:
    """What a user is to a case, as far as the room is concerned."""

    is_mediator: bool = False
    is_company: bool = False
    is_admitted_consumer: bool = False

    @property
    def is_participant(self) -> bool:
        """Someone the mediator may talk to one-to-one."""
        return self.is_company or self.is_admitted_consumer

    @property
    def is_member(self) -> bool:
        return self.is_mediator or self.is_participant


def may_enter(party: Party, kind: str, participant_id: int | None, user_id: int) -> bool:
    """Whether this party is a member of a space of this kind (staff are not: they are no party)."""
    if party.is_mediator:
        return True
    if kind == SpaceKind.plenary:
        return party.is_participant
    if kind == SpaceKind.consumers:
        return party.is_admitted_consumer
    if kind == SpaceKind.company:
        return party.is_company
    if kind == SpaceKind.direct:
        return party.is_participant and participant_id == user_id
    return False


def visible_kinds(party: Party) -> tuple[SpaceKind, ...]:
    """The shared spaces this party sees (direct threads are listed separately)."""
    if party.is_mediator:
        return SHARED_KINDS
    if party.is_admitted_consumer:
        return (SpaceKind.plenary, SpaceKind.consumers)
    if party.is_company:
        return (SpaceKind.plenary, SpaceKind.company)
    return ()


# --- message text -----------------------------------------------------------------------------------


class MessageProblem(StrEnum):
    empty = "empty"
    too_long = "too_long"


@dataclass(frozen=True)
class CheckedMessage:
    body: str
    problem: MessageProblem | None = None
    length: int = 0


def clean_message(raw: str) -> str:
    """The text as stored: NFC, line breaks as \\n, control and bidi-override characters stripped, outer blank
    lines and spaces trimmed (inner line breaks and tabs are kept)."""
    text = unicodedata.normalize("NFC", raw or "").replace("\r\n", "\n").replace("\r", "\n")
    return _STRIPPED.sub("", text).strip()


def check_message(raw: str, *, has_attachment: bool = False) -> CheckedMessage:
    """A message must say something (or carry a file) and stay within MAX_MESSAGE_CHARS characters."""
    body = clean_message(raw)
    if not body and not has_attachment:
        return CheckedMessage(body, MessageProblem.empty)
    if len(body) > MAX_MESSAGE_CHARS:
        return CheckedMessage(body, MessageProblem.too_long, len(body))
    return CheckedMessage(body, None, len(body))


def clean_client_key(raw: str) -> str:
    """The form's idempotency key if it looks like one, else '' (no key: the post cannot be recognised)."""
    raw = (raw or "").strip()
    return raw if _CLIENT_KEY.match(raw) else ""


# --- pseudonyms ---------------------------------------------------------------------------------------

PSEUDONYM_MIN, PSEUDONYM_MAX = 100, 999


def pseudonym_number(case_id: int, user_id: int, attempt: int) -> int:
    """The number a consumer is known by in a case ("Participant 482"), for the n-th attempt.

    Deterministic (the same consumer gets the same first choice), spread out (it says nothing about when
    they joined), and a collision simply moves on to the next attempt; the database keeps it unique per case.
    """
    digest = hashlib.sha256(f"pseudonym:{case_id}:{user_id}:{attempt}".encode()).digest()
    return PSEUDONYM_MIN + int.from_bytes(digest[:4], "big") % (PSEUDONYM_MAX - PSEUDONYM_MIN + 1)


# --- history: keyset windows --------------------------------------------------------------------------


def parse_seq(raw: str | int | None) -> int | None:
    """A cursor from the query string: a positive 32-bit int, else None (ignored)."""
    if raw is None:
        return None
    if isinstance(raw, int):
        value = raw
    else:
        raw = raw.strip()
        if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
            return None
        value = int(raw)
    return value if 0 < value <= MAX_SEQ else None


@dataclass(frozen=True)
class Window:
    """Which messages a space page shows.

    `before`: the page ends just before this seq (older history); `after`: it starts just after it. With
    neither, or when `after` is within one page of the end, the page shows the latest messages.
    """

    before: int | None = None
    after: int | None = None

    @property
    def is_latest(self) -> bool:
        return self.before is None and self.after is None


def choose_window(last_seq: int, before: int | None, after: int | None, page_size: int = PAGE_SIZE) -> Window:
    """The window for a request: `before` wins; an `after` that is nearly caught up becomes the latest page."""
    if before is not None:
        return Window(before=before) if before <= last_seq else Window()
    if after is not None and last_seq - after > page_size:
        return Window(after=after)
    return Window()


@dataclass(frozen=True)
class Page:
    seqs: tuple[int, ...]  # ascending
    has_older: bool
    has_newer: bool


def page_of(window: Window, fetched: list[int], last_seq: int, page_size: int = PAGE_SIZE) -> Page:
    """Shape what one keyset query returned into a page.

    `fetched` holds up to page_size + 1 seqs, in the order the query walks (descending for the latest page and
    for `before`, ascending for `after`); the extra one only says that more exist in that direction.
    """
    more = len(fetched) > page_size
    kept = fetched[:page_size]
    if window.after is not None:
        seqs = tuple(kept)
        return Page(seqs, has_older=True, has_newer=more)  # `after` ≥ 1: that message and those before it
    seqs = tuple(reversed(kept))
    newer = bool(seqs) and seqs[-1] < last_seq
    return Page(seqs, has_older=more, has_newer=newer)


# --- read marks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadMark:
    read_seq: int
    previous_visit_seq: int


def mark_on_view(current: ReadMark | None, last_viewed_at: datetime | None, now: datetime, last_seq: int
                 ) -> ReadMark:
    """The read mark after viewing the latest page of a space.

    Everything up to `last_seq` is read. A new visit (first ever, or after VISIT_GAP) moves the "new since your
    last visit" marker to where the reading had stopped; views within one visit leave it where it is, so
    posting a message or reloading does not make the marker vanish. A first visit marks nothing as new.
    """
    if current is None:
        return ReadMark(read_seq=last_seq, previous_visit_seq=last_seq)
    read = max(current.read_seq, last_seq)
    if last_viewed_at is None or now - last_viewed_at >= VISIT_GAP:
        return ReadMark(read_seq=read, previous_visit_seq=min(current.read_seq, last_seq))
    return ReadMark(read_seq=read, previous_visit_seq=current.previous_visit_seq)


def unread(last_seq: int, read_seq: int | None) -> int:
    """How many messages of a space came after the reader's mark (hidden ones count: they were posted)."""
    return max(0, last_seq - (read_seq or 0))


def first_new_seq(seqs: tuple[int, ...] | list[int], marker_seq: int) -> int | None:
    """The first shown message after the marker, where "new since your last visit" goes; None if none is new."""
    return next((seq for seq in seqs if seq > marker_seq), None)


# --- moderation ---------------------------------------------------------------------------------------

MUTE_DURATIONS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "until_lifted": timedelta(days=365 * 20)}
MAX_REASON_CHARS = 500


def mute_until(choice: str, now: datetime) -> datetime | None:
    """When a mute of this choice ends; None for an unknown choice. "until lifted" is a far-away date."""
    duration = MUTE_DURATIONS.get(choice)
    return now + duration if duration is not None else None


def days_left(ends_at: datetime | None, now: datetime) -> int | None:
    """Whole days until the 90-day limit (0 on its last day, negative once passed)."""
    if ends_at is None:
        return None
    return (ends_at - now).days
