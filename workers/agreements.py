"""finalize_proposal: turns a proposal whose decisions are closed into agreements, certificates and a
collective record (see app.actions.agreements). Idempotent: a retry or a duplicate ends the same."""

from __future__ import annotations

import dramatiq

from workers import broker  # noqa: F401  (the broker must exist before any actor)


@dramatiq.actor(queue_name="agreements", max_retries=4, min_backoff=2_000, max_backoff=60_000, time_limit=600_000)
async def finalize_proposal(proposal_id: int) -> None:
    from app.actions.agreements import do_finalize_proposal

    await do_finalize_proposal(proposal_id)
