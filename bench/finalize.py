"""Finalization of one case with N consumers who all accepted: one job, PDFs included.

A throwaway database (SQLite under a temporary VAR_DIR, or a fresh PostgreSQL database when DATABASE_URL is
set) and the app's broker (in-process, or Redis with REDIS_URL). The case, its consumers, their admitted claims
and their decisions are bulk-inserted; then the finalize_proposal actor runs once on a real Dramatiq worker,
timed from enqueue to the proposal's "finalized" status.

    python bench/finalize.py [--consumers 1000]

Prints figures, then one last line: `consumers=… agreements=… seconds=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import throwaway  # noqa: E402  (after the path is set)

RUN = throwaway.RUN


async def build_case(consumers: int) -> int:
    """A case in mediation, its company, a representative, a mediator, N admitted consumers who accepted."""
    from datetime import UTC, date, datetime, timedelta

    from app.cli import migrate
    from app.domain.notices import recorded_notices
    from app.platform.passwords import hash_password
    from app.tables import Case, Claim, Company, CompanyMember, Decision, Proposal, Role, User

    await migrate()
    now = datetime.now(UTC).replace(microsecond=0)
    password_hash = await hash_password("bench password " + RUN)

    async def user(email: str, name: str, role: Role) -> int:
        rows = await User.insert(User(email=email, display_name=name, password_hash=password_hash, role=role.value,
                                      email_verified_at=now)).returning(User.id)
        return int(rows[0]["id"])

    company = (await Company.insert(Company(name="Société Bench", verified_at=now)).returning(Company.id))[0]["id"]
    member = await user(f"member-{RUN}@example.org", "Camille Martin", Role.company)
    await CompanyMember.insert(CompanyMember(company=company, user=member))
    mediator = await user(f"mediator-{RUN}@example.org", "Maud Médiatrice", Role.mediator)
    case = (await Case.insert(Case(company=company, title="Colis jamais livrés — bench", problem="…",
                                   category="online_shopping", demand="Remboursement", status="in_mediation",
                                   mediator=mediator, started_at=now - timedelta(days=30),
                                   ends_at=now + timedelta(days=60))).returning(Case.id))[0]["id"]
    decide_by = now - timedelta(minutes=1)
    proposal = (await Proposal.insert(Proposal(
        case=case, number=1, version=1, author=member, author_role="company",
        terms="Remboursement de 60 % du montant réclamé et un bon d’achat de 10 €.", rule_kind="share",
        share_basis_points=6_000, vote_closes_at=decide_by, decide_by=decide_by,
        notices=recorded_notices(decide_by), status="open")).returning(Proposal.id))[0]["id"]
    users = [User(email=f"c{index}-{RUN}@example.org", display_name=f"Consommatrice n°{index} Éloïse",
                  password_hash=password_hash, role=Role.consumer.value, email_verified_at=now,
                  locale="fr" if index % 3 else "en") for index in range(consumers)]
    consumer_ids: list[int] = []
    for start in range(0, consumers, 500):
        rows = await User.insert(*users[start:start + 500]).returning(User.id)
        consumer_ids += [row["id"] for row in rows]
    claims = [Claim(case=case, consumer=consumer, facts="Commandé, jamais reçu.", amount_cents=5_000 + index * 7,
                    incident_date=date.today() - timedelta(days=90), complaint_date=date.today() - timedelta(days=60),
                    status="admitted") for index, consumer in enumerate(consumer_ids)]
    claim_ids: list[int] = []
    for start in range(0, consumers, 500):
        rows = await Claim.insert(*claims[start:start + 500]).returning(Claim.id)
        claim_ids += [row["id"] for row in rows]
    decisions = [Decision(proposal=proposal, claim=claim, consumer=consumer, choice="accept", amount_cents=0,
                          notices_shown_at=now) for claim, consumer in zip(claim_ids, consumer_ids, strict=True)]
    for start in range(0, consumers, 500):
        await Decision.insert(*decisions[start:start + 500])
    return int(proposal)


async def run_job(proposal_id: int) -> tuple[float, int, int]:
    import dramatiq

    from app.tables import Agreement, Certificate, Proposal
    from workers.agreements import finalize_proposal
    from workers.broker import broker

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100, queues={"agreements"})
    await asyncio.to_thread(worker.start)
    try:
        started = time.perf_counter()
        finalize_proposal.send(proposal_id)
        while True:
            row = await Proposal.select(Proposal.status).where(Proposal.id == proposal_id).first()
            if row and row["status"] == "finalized":
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError("the finalization did not finish within 10 minutes")
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        await asyncio.to_thread(worker.stop, 10_000)
    agreements = await Agreement.count().where(Agreement.proposal == proposal_id)
    certificates = await Certificate.count()
    return seconds, agreements, certificates


async def main(consumers: int) -> None:
    from app.platform.db import engine
    from app.settings import get_settings

    db = engine()
    settings = get_settings()
    if settings.uses_postgres:
        await db.start_connection_pool(min_size=1, max_size=4)  # type: ignore[union-attr]
    try:
        setup = time.perf_counter()
        proposal_id = await build_case(consumers)
        print(f"setup: {consumers} consumers inserted in {time.perf_counter() - setup:.1f} s "
              f"(database={'postgresql' if settings.uses_postgres else 'sqlite'}, "
              f"broker={'redis' if settings.redis_url else 'in-process'})")
        seconds, agreements, certificates = await run_job(proposal_id)
        size = sum(path.stat().st_size for path in (settings.var_dir / "documents").iterdir())
        print(f"documents: {agreements} agreements, {certificates} certificates, 1 record; "
              f"{size / 1e6:.1f} MB on disk; {seconds * 1000 / max(agreements, 1):.1f} ms per consumer")
        print(f"consumers={consumers} agreements={agreements} seconds={seconds:.1f}")
    finally:
        if settings.uses_postgres:
            await db.close_connection_pool()  # type: ignore[union-attr]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1000)
    arguments = parser.parse_args()
    throwaway.prepare(EMBEDDED_WORKER="0")
    try:
        asyncio.run(main(arguments.consumers))
    finally:
        throwaway.cleanup()
