"""Rules of proposals: what each consumer receives under a proposal's rule. No I/O."""

from __future__ import annotations

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
