"""The platform's success fee: what the company owes once agreements are signed. No I/O.

The rule, configured by FEE_PERCENT (read by `app.settings`), FEE_PER_AGREEMENT_CENTS and FEE_MINIMUM_CENTS:
    fee = percent × (total of the signed amounts) + per-agreement amount × (signed agreements),
rounded half up to the cent, never below the minimum; and 0 when no agreement was signed (the platform is
paid only on agreement, and never by consumers: L612-1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FULL = 10_000  # basis points: 100 %


@dataclass(frozen=True)
class FeeRule:
    basis_points: int = 500  # 5 % of the signed amounts
    per_agreement_cents: int = 0
    minimum_cents: int = 0

    def as_record(self) -> dict[str, Any]:
        """What is stored with the fee, so an invoice always shows the rule in force when it was computed."""
        return asdict(self)


@dataclass(frozen=True)
class FeeComputation:
    agreements: int
    basis_cents: int
    amount_cents: int


def compute_fee(signed_amounts_cents: list[int], rule: FeeRule) -> FeeComputation:
    """The fee on these signed agreements (their amounts in cents; 0 for a non-monetary item)."""
    count = len(signed_amounts_cents)
    basis = sum(max(0, amount) for amount in signed_amounts_cents)
    if count == 0:
        return FeeComputation(agreements=0, basis_cents=0, amount_cents=0)
    share = (Decimal(basis) * Decimal(max(0, rule.basis_points)) / FULL).to_integral_value(ROUND_HALF_UP)
    amount = int(share) + max(0, rule.per_agreement_cents) * count
    return FeeComputation(agreements=count, basis_cents=basis, amount_cents=max(amount, max(0, rule.minimum_cents)))


def invoice_number(case_id: int, year: int) -> str:
    """One invoice per case: its number follows from the case, so a retried countersignature cannot make two."""
    return f"CLF-{year}-{case_id:06d}"
