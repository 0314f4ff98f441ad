"""Rules of the signing window after a finalization. No I/O.

Consumers sign their agreement within SIGNING_PERIOD (14 days) of the finalization. The company countersigns
once for all, as soon as every agreement is signed, or after that deadline for those that were signed (the
others then get a certificate "unsigned"). Until the company countersigns, a late consumer may still sign.
"""

from __future__ import annotations

from datetime import datetime, timedelta

SIGNING_PERIOD = timedelta(days=14)
FIRST_SIGN_REMINDER = timedelta(days=3)  # consumers who have not signed, 3 days after the finalization
LAST_REMINDER_BEFORE = timedelta(days=1)  # consumers and the company, the day before the signing deadline
CERTIFICATE_REASONS = frozenset({"refused", "silent", "withdrawn", "expired", "unsigned", "no_agreement"})


def signing_deadline(finalized_at: datetime) -> datetime:
    return finalized_at + SIGNING_PERIOD


def can_countersign(*, finalized_at: datetime, now: datetime, total: int, signed: int) -> bool:
    """Once every agreement is signed, or once the signing deadline has passed."""
    if total == 0:
        return False
    return signed == total or now >= signing_deadline(finalized_at)
