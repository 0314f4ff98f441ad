"""The success fee rule and the signing window: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.agreements import SIGNING_PERIOD, can_countersign, signing_deadline
from app.domain.fees import FeeRule, compute_fee, invoice_number


def test_the_fee_is_a_percentage_of_the_signed_amounts_rounded_half_up() -> None:
    rule = FeeRule(basis_points=500)
    assert compute_fee([10_000, 25_050], rule).amount_cents == 1_753  # 5 % of 350.50 € = 17.525 € → 17.53 €
    assert compute_fee([10_000, 25_050], rule).basis_cents == 35_050
    assert compute_fee([10_000, 25_050], rule).agreements == 2
    assert compute_fee([1], FeeRule(basis_points=5_000)).amount_cents == 1  # 0.5 cent rounds up


def test_no_signed_agreement_means_no_fee_whatever_the_minimum() -> None:
    rule = FeeRule(basis_points=500, per_agreement_cents=1_000, minimum_cents=5_000)
    assert compute_fee([], rule).amount_cents == 0


def test_per_agreement_amount_and_minimum() -> None:
    rule = FeeRule(basis_points=250, per_agreement_cents=100, minimum_cents=5_000)
    # 2.5 % of 1,000 € = 25 €, + 3 × 1 € = 28 € → below the 50 € minimum
    assert compute_fee([40_000, 40_000, 20_000], rule).amount_cents == 5_000
    # Non-monetary items count for the per-agreement part only
    assert compute_fee([0, 0], FeeRule(basis_points=500, per_agreement_cents=1_500)).amount_cents == 3_000
    # A negative amount (never expected) does not lower the basis
    assert compute_fee([-500, 1_000], FeeRule(basis_points=1_000)).basis_cents == 1_000


def test_an_invoice_number_follows_from_the_case() -> None:
    assert invoice_number(42, 2026) == "CLF-2026-000042"


def test_the_company_countersigns_when_all_signed_or_after_the_deadline() -> None:
    finalized = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert signing_deadline(finalized) == finalized + SIGNING_PERIOD == datetime(2026, 12, 15, 12, tzinfo=UTC)
    soon = finalized + timedelta(days=1)
    assert can_countersign(finalized_at=finalized, now=soon, total=3, signed=3)
    assert not can_countersign(finalized_at=finalized, now=soon, total=3, signed=2)
    assert can_countersign(finalized_at=finalized, now=signing_deadline(finalized), total=3, signed=2)
    assert not can_countersign(finalized_at=finalized, now=soon, total=0, signed=0)
