"""Rules of proposals: what each consumer receives under a proposal's rule. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum


class RuleKind(StrEnum):
    fixed = "fixed"  # the same amount for each consumer
    share = "share"  # a share of each consumer's claimed amount
    item = "item"  # a non-monetary item (a voucher, a repair, a replacement...)


FULL_SHARE = 10_000  # basis points: 100 %


def amount_for(rule_kind: str, *, fixed_cents: int, share_basis_points: int, claimed_cents: int) -> int:
    """The amount, in cents, one consumer receives: fixed, or their claimed amount times the share (rounded
    half up to the cent, never more than claimed); 0 for a non-monetary item."""
    kind = RuleKind(rule_kind)
    if kind is RuleKind.fixed:
        return max(0, fixed_cents)
    if kind is RuleKind.share:
        share = min(max(0, share_basis_points), FULL_SHARE)
        return min(max(0, claimed_cents), (max(0, claimed_cents) * share + FULL_SHARE // 2) // FULL_SHARE)
    return 0


# --- statuses ----------------------------------------------------------------------------------------------


class ProposalStatus(StrEnum):
    open = "open"  # votes and decisions are taken
    superseded = "superseded"  # an amendment made a newer version; readable, nothing more
    withdrawn = "withdrawn"  # its author (or the mediator) took it back
    locked = "locked"  # finalization started: no more decisions or amendments
    finalized = "finalized"  # agreements and certificates produced


# A case has at most one of these at a time: a new proposal waits until it is withdrawn or finalized.
BLOCKING_STATUSES = frozenset({ProposalStatus.open, ProposalStatus.locked})
VOTE_CHOICES = ("yes", "no", "abstain")
DECISION_CHOICES = ("accept", "refuse")

# --- limits ------------------------------------------------------------------------------------------------

MAX_TERMS_CHARS = 5_000
MAX_ITEM_CHARS = 500
MAX_COMMENT_CHARS = 1_000
# One consumer's amount: more than a million euros is a typing mistake, not an offer (and stays in 32 bits).
MAX_AMOUNT_CENTS = 100_000_000
DEFAULT_THRESHOLD_PCT = 75
MIN_THRESHOLD_PCT = 50
MAX_THRESHOLD_PCT = 100
# The vote and the decisions need some time: at least an hour from now.
MIN_LEAD = timedelta(hours=1)
# Reminders to consumers who have not voted / decided yet, as (label, days before the closing time).
PROPOSAL_REMINDERS = (("d3", 3), ("d1", 1))


# --- parsing what was typed --------------------------------------------------------------------------------

class AmountProblem(StrEnum):
    empty = "empty"
    malformed = "malformed"
    negative = "negative"
    zero = "zero"
    too_large = "too_large"


class AmountError(ValueError):
    def __init__(self, problem: AmountProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")
_CURRENCY = re.compile(r"(?i)(€|eur(os?)?)")


def _decimal_text(raw: str, *, max_decimals: int) -> tuple[int, str]:
    """The integer and decimal digits of a number typed in French ("1 234,50") or English ("1,234.50")."""
    text = _CURRENCY.sub("", raw or "")
    text = _SPACES.sub("", text)
    if not text:
        raise AmountError(AmountProblem.empty)
    if text[0] in "-−":
        raise AmountError(AmountProblem.negative)
    if text[0] == "+":
        text = text[1:]
    if not text or len(text) > 20 or not all(char in "0123456789.," for char in text) or not text.isascii():
        raise AmountError(AmountProblem.malformed)
    decimals = ""
    if "," in text and "." in text:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        whole, _, decimals = text.rpartition(decimal_mark)
        groups = whole.split(thousands)
    else:
        mark = "," if "," in text else "." if "." in text else ""
        parts = text.split(mark) if mark else [text]
        if len(parts) == 2 and len(parts[1]) != 3:  # "12,5", "12.50": a decimal mark
            groups, decimals = [parts[0]], parts[1]
        elif len(parts) == 2 and parts[0] == "0":  # "0,125" is a decimal too (then too precise)
            groups, decimals = [parts[0]], parts[1]
        else:  # "1,234", "1.234.567": thousands
            groups = parts
    if not groups[0] or any(not group.isdigit() for group in groups) or (decimals and not decimals.isdigit()):
        raise AmountError(AmountProblem.malformed)
    if len(groups) > 1 and (len(groups[0]) > 3 or any(len(group) != 3 for group in groups[1:])):
        raise AmountError(AmountProblem.malformed)
    if len(decimals) > max_decimals:
        raise AmountError(AmountProblem.malformed)
    return int("".join(groups)), decimals.ljust(max_decimals, "0")


def parse_amount(raw: str) -> int:
    """Cents from an amount typed in French or English ("1 234,50 €", "1234.50", "€1,234.50"); more than
    0 and at most MAX_AMOUNT_CENTS, else AmountError."""
    units, decimals = _decimal_text(raw, max_decimals=2)
    if units > MAX_AMOUNT_CENTS // 100:
        raise AmountError(AmountProblem.too_large)
    cents = units * 100 + int(decimals)
    if cents == 0:
        raise AmountError(AmountProblem.zero)
    if cents > MAX_AMOUNT_CENTS:
        raise AmountError(AmountProblem.too_large)
    return cents


def parse_share(raw: str) -> int:
    """Basis points from a percentage ("50", "33,5 %", "12.25"), more than 0 and at most 100 %."""
    units, decimals = _decimal_text((raw or "").replace("%", ""), max_decimals=2)
    if units > 100:
        raise AmountError(AmountProblem.too_large)
    points = units * 100 + int(decimals)
    if points == 0:
        raise AmountError(AmountProblem.zero)
    if points > FULL_SHARE:
        raise AmountError(AmountProblem.too_large)
    return points


def parse_threshold(raw: str) -> int | None:
    """The vote threshold in whole percent (50–100; empty means 75 %), or None."""
    text = (raw or "").replace("%", "").strip()
    if not text:
        return DEFAULT_THRESHOLD_PCT
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    value = int(text)
    return value if MIN_THRESHOLD_PCT <= value <= MAX_THRESHOLD_PCT else None


def parse_local_datetime(raw: str, zone: tzinfo) -> datetime | None:
    """A moment typed in an `<input type="datetime-local">` ("2026-12-01T18:00"), in the given zone, in UTC."""
    text = (raw or "").strip()
    if not (16 <= len(text) <= 19) or not text.isascii() or text[10] not in "T ":
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        return None
    try:  # the first and last days of the calendar do not convert ("0001-01-01T00:00" in Paris is before year 1)
        return value.replace(tzinfo=zone, second=0, microsecond=0).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def format_amount_input(cents: int, language: str) -> str:
    """An amount as it is typed back into a form field in that language ("1234,50" / "1234.50")."""
    text = f"{cents // 100}.{cents % 100:02d}"
    return text.replace(".", ",") if language == "fr" else text


def format_share_input(points: int, language: str) -> str:
    text = f"{points // 100}" if points % 100 == 0 else f"{points // 100}.{points % 100:02d}".rstrip("0")
    return text.replace(".", ",") if language == "fr" else text


# --- a proposal as typed, checked ----------------------------------------------------------------------------

@dataclass
class ProposalDraft:
    """The fields of the proposal form, as typed (strings), plus who is writing it."""

    terms: str = ""
    rule_kind: str = ""
    amount: str = ""
    share: str = ""
    item: str = ""
    vote_closes_at: str = ""
    decide_by: str = ""
    threshold: str = ""


@dataclass
class CheckedProposal:
    terms: str
    rule_kind: str
    fixed_cents: int
    share_basis_points: int
    item: str
    vote_closes_at: datetime
    decide_by: datetime
    vote_threshold_pct: int


class DraftProblem(StrEnum):
    terms_missing = "terms_missing"
    terms_too_long = "terms_too_long"
    rule_missing = "rule_missing"
    item_missing = "item_missing"
    item_too_long = "item_too_long"
    date_missing = "date_missing"
    date_malformed = "date_malformed"
    decide_by_past = "decide_by_past"
    decide_by_after_limit = "decide_by_after_limit"
    vote_after_decide_by = "vote_after_decide_by"
    vote_past = "vote_past"
    threshold_invalid = "threshold_invalid"


def check_proposal(draft: ProposalDraft, *, now: datetime, ends_at: datetime | None, zone: tzinfo,
                   default_threshold: int = DEFAULT_THRESHOLD_PCT, may_set_threshold: bool = True,
                   ) -> tuple[dict[str, DraftProblem | AmountProblem], CheckedProposal | None]:
    """Problems per field, or the checked proposal. Decisions end in the future, no later than the case's
    limit; the vote closes before (or when) the decisions do."""
    problems: dict[str, DraftProblem | AmountProblem] = {}
    terms = clean_text(draft.terms)
    if not terms:
        problems["terms"] = DraftProblem.terms_missing
    elif len(terms) > MAX_TERMS_CHARS:
        problems["terms"] = DraftProblem.terms_too_long
    fixed_cents = share = 0
    item = ""
    kind = draft.rule_kind.strip()
    if kind == RuleKind.fixed:
        try:
            fixed_cents = parse_amount(draft.amount)
        except AmountError as error:
            problems["amount"] = error.problem
    elif kind == RuleKind.share:
        try:
            share = parse_share(draft.share)
        except AmountError as error:
            problems["share"] = error.problem
    elif kind == RuleKind.item:
        item = clean_text(draft.item)
        if not item:
            problems["item"] = DraftProblem.item_missing
        elif len(item) > MAX_ITEM_CHARS:
            problems["item"] = DraftProblem.item_too_long
    else:
        problems["rule_kind"] = DraftProblem.rule_missing
    decide_by = _moment(draft.decide_by, zone, "decide_by", problems)
    vote_closes_at = _moment(draft.vote_closes_at, zone, "vote_closes_at", problems)
    if decide_by is not None:
        if decide_by < now + MIN_LEAD:
            problems["decide_by"] = DraftProblem.decide_by_past
        elif ends_at is not None and decide_by > ends_at:
            problems["decide_by"] = DraftProblem.decide_by_after_limit
    if vote_closes_at is not None:
        if vote_closes_at < now + MIN_LEAD:
            problems["vote_closes_at"] = DraftProblem.vote_past
        elif decide_by is not None and vote_closes_at > decide_by:
            problems["vote_closes_at"] = DraftProblem.vote_after_decide_by
    threshold: int | None = default_threshold
    if may_set_threshold:
        threshold = parse_threshold(draft.threshold)
        if threshold is None:
            problems["threshold"] = DraftProblem.threshold_invalid
    if problems or decide_by is None or vote_closes_at is None or threshold is None:
        return problems, None
    return problems, CheckedProposal(terms=terms, rule_kind=kind, fixed_cents=fixed_cents, share_basis_points=share,
                                     item=item, vote_closes_at=vote_closes_at, decide_by=decide_by,
                                     vote_threshold_pct=threshold)


def _moment(raw: str, zone: tzinfo, name: str, problems: dict[str, DraftProblem | AmountProblem]
            ) -> datetime | None:
    if not (raw or "").strip():
        problems[name] = DraftProblem.date_missing
        return None
    value = parse_local_datetime(raw, zone)
    if value is None:
        problems[name] = DraftProblem.date_malformed
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(raw: str) -> str:
    """Typed text without control characters (newlines kept), Windows line ends unified, trimmed."""
    return _CONTROL.sub("", (raw or "").replace("\r\n", "\n").replace("\r", "\n")).strip()


# --- the vote ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tally:
    """The indicative vote: counts, the share of yes among expressed votes (yes + no), the threshold."""

    yes: int
    no: int
    abstain: int
    threshold_pct: int

    @property
    def expressed(self) -> int:
        return self.yes + self.no

    @property
    def total(self) -> int:
        return self.yes + self.no + self.abstain

    @property
    def yes_pct(self) -> int:
        """Rounded down: "75 %" is shown only when the threshold is really met."""
        return self.yes * 100 // self.expressed if self.expressed else 0

    @property
    def threshold_met(self) -> bool:
        return self.expressed > 0 and self.yes * 100 >= self.threshold_pct * self.expressed


def tally(choices: list[str], threshold_pct: int) -> Tally:
    return Tally(yes=choices.count("yes"), no=choices.count("no"), abstain=choices.count("abstain"),
                 threshold_pct=threshold_pct)


def vote_is_closed(*, vote_closes_at: datetime, vote_closed_at: datetime | None, now: datetime) -> bool:
    return vote_closed_at is not None or now >= vote_closes_at


def proposal_reminders(closes_at: datetime, now: datetime) -> list[tuple[str, datetime]]:
    """D-3 and D-1 before a closing time, those still ahead only."""
    reminders = [(label, closes_at - timedelta(days=days)) for label, days in PROPOSAL_REMINDERS]
    return [(label, due) for label, due in reminders if due > now + timedelta(minutes=1)]


# --- the time the decision form was shown, signed ------------------------------------------------------------

SHOWN_TOKEN_MAX_AGE = timedelta(days=7)


def sign_shown_at(secret: str, *, proposal_id: int, version: int, user_id: int, shown_at: datetime) -> str:
    """A token carried by the decision form: when it was displayed, to whom, for which version (HMAC)."""
    stamp = int(shown_at.timestamp())
    message = f"shown:{proposal_id}:{version}:{user_id}:{stamp}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
    return f"{stamp}.{digest}"


def verify_shown_at(secret: str, token: str, *, proposal_id: int, version: int, user_id: int, now: datetime
                    ) -> datetime | None:
    """The display time of a genuine, recent token for this form, or None (forged, another form, future, old)."""
    stamp_text, _, digest = (token or "").partition(".")
    if not stamp_text.isascii() or not stamp_text.isdigit() or len(stamp_text) > 12 or len(digest) != 32:
        return None
    shown_at = datetime.fromtimestamp(int(stamp_text), UTC)
    expected = sign_shown_at(secret, proposal_id=proposal_id, version=version, user_id=user_id, shown_at=shown_at)
    if not hmac.compare_digest(expected, token):
        return None
    if shown_at > now + timedelta(seconds=5) or shown_at < now - SHOWN_TOKEN_MAX_AGE:
        return None
    return shown_at
