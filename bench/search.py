"""Case search latency with 10,000 cases, on the engine DATABASE_URL selects (SQLite when unset).

Seeds a throwaway database (a temporary SQLite file, or a PostgreSQL database created and dropped here),
then times the search the /cases page runs (words → stems → FTS5 / GIN index → summaries with claim
counts) and the "similar cases" suggestion. Prints per-kind figures, then one last line of key=value pairs.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="clf-bench-"))
os.environ["EMBEDDED_WORKER"] = "0"
SERVER_DATABASE_URL = os.environ.get("DATABASE_URL", "")
BENCH_DATABASE = f"clf_bench_{secrets.token_hex(4)}"
if SERVER_DATABASE_URL:
    parts = urlsplit(SERVER_DATABASE_URL)
    os.environ["DATABASE_URL"] = urlunsplit((parts.scheme, parts.netloc, "/" + BENCH_DATABASE, "", ""))

CASES = 10_000
COMPANIES = 300
CONSUMERS = 400
ROUNDS = 20
rng = random.Random(2026)  # noqa: S311  (test data)

SUBJECTS = ["Remboursement", "Résiliation", "Facturation", "Prélèvement", "Livraison", "Garantie", "Annulation",
            "Retard", "Coupure", "Abonnement", "Frais", "Panne", "Réparation", "Compteur", "Colis", "Vol", "Billet",
            "Forfait", "Box internet", "Assurance"]
DETAILS = ["non effectué", "abusif", "jamais reçu", "refusé", "en double", "après résiliation", "sans préavis",
           "malgré les relances", "hors délai", "non conforme", "facturé deux fois", "sans justification",
           "des frais de dossier", "du dépôt de garantie", "pendant trois semaines", "annulé sans remboursement"]
FILLER = ("Les clients constatent que l'entreprise ne respecte pas ses engagements contractuels et ne répond pas "
          "aux réclamations écrites envoyées par courrier recommandé et par courriel au service client.")
CATEGORIES = ["energy", "telecom", "transport", "travel", "banking", "insurance", "online_shopping", "retail"]
QUERIES = ["rembourse", "résiliation abonnement", "prelevement abusif", "colis jamais livre", "facture deux fois",
           "vol annule", "box internet coupure", "garantie refusee", "frais dossier", "rembou", "REMBOURSEMENTS",
           "assurance sinistre", "compteur", "retard livraison", "panne réparation"]


async def postgres(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(urlunsplit((*urlsplit(SERVER_DATABASE_URL)[:2], "/postgres", "", "")))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def seed() -> list[str]:
    from app.actions.cases import _search_text
    from app.tables import Case, Claim, Company, User

    company_names = [f"{rng.choice(['Société', 'Groupe', 'Compagnie', 'Électricité', 'Télécom'])} "
                     f"{secrets.token_hex(3).upper()}" for _ in range(COMPANIES)]
    await Company.insert(*[Company(name=name) for name in company_names])
    companies = await Company.select(Company.id, Company.name)
    await User.insert(*[User(email=f"bench{n}@example.org", display_name=f"Bench {n}", password_hash="!",  # noqa: S106  (no login)
                             role="consumer") for n in range(CONSUMERS)])
    consumers = [row["id"] for row in await User.select(User.id)]
    now = datetime.now(UTC)
    statuses = ["open"] * 6 + ["invited", "accepted", "in_mediation", "refused", "closed"]
    for start in range(0, CASES, 500):
        cases = []
        for _ in range(min(500, CASES - start)):
            company = rng.choice(companies)
            title = f"{rng.choice(SUBJECTS)} {rng.choice(DETAILS)}"
            problem = f"{title}. {rng.choice(SUBJECTS)} {rng.choice(DETAILS)}. {FILLER}"
            demand = f"{rng.choice(SUBJECTS)} et indemnisation."
            category = rng.choice(CATEGORIES)
            cases.append(Case(company=company["id"], title=title, problem=problem, category=category, demand=demand,
                              status=rng.choice(statuses), created_at=now - timedelta(minutes=rng.randint(0, 10**5)),
                              search_text=_search_text(title, problem, demand, company["name"], category)))
        rows = await Case.insert(*cases).returning(Case.id)
        claims = []
        for row in rows:
            for consumer in rng.sample(consumers, rng.randint(1, 3)):
                claims.append(Claim(case=row["id"], consumer=consumer, facts="Faits.", amount_cents=10000,
                                    incident_date=date(2026, 1, 1), complaint_date=date(2026, 2, 1)))
        await Claim.insert(*claims)
    return [row["name"] for row in companies[:5]]


def quantiles(timings: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=100)
    return cuts[49], cuts[94]


async def main() -> None:
    if SERVER_DATABASE_URL:
        await postgres(f'CREATE DATABASE "{BENCH_DATABASE}"')
    try:
        from app.actions.cases import search_cases, similar_cases
        from app.cli import migrate
        from app.platform.db import engine, prepare_sqlite

        db = engine()
        await migrate()
        if SERVER_DATABASE_URL:
            await db.start_connection_pool(max_size=10)  # type: ignore[union-attr]
        else:
            await prepare_sqlite(db)  # type: ignore[arg-type]
        started = time.perf_counter()
        company_names = await seed()
        if SERVER_DATABASE_URL:
            await db.run_ddl("ANALYZE")
        print(f"seeded {CASES} cases in {time.perf_counter() - started:.1f} s")
        queries = QUERIES + [name.split()[-1] for name in company_names]
        search_ms: list[float] = []
        similar_ms: list[float] = []
        found = 0
        for _ in range(ROUNDS):
            for query in queries:
                start = time.perf_counter()
                result = await search_cases(query)
                search_ms.append((time.perf_counter() - start) * 1000)
                found += len(result.cases)
                start = time.perf_counter()
                await similar_cases(query + " " + rng.choice(DETAILS))
                similar_ms.append((time.perf_counter() - start) * 1000)
        assert found > 0, "the searches found nothing: the index is not used as expected"
        engine_name = "postgresql" if SERVER_DATABASE_URL else "sqlite"
        similar_p50, similar_p95 = quantiles(similar_ms)
        print(f"similar cases (any word): p50_ms={similar_p50:.2f} p95_ms={similar_p95:.2f}")
        p50, p95 = quantiles(search_ms)
        print(f"engine={engine_name} cases={CASES} p50_ms={p50:.2f} p95_ms={p95:.2f}")
        if SERVER_DATABASE_URL:
            await db.close_connection_pool()  # type: ignore[union-attr]
    finally:
        if SERVER_DATABASE_URL:
            await postgres(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
