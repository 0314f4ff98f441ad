"""Command line: the production start (serve, worker, scheduler), the demo (run), migrations and accounts
(`python -m app.cli --help`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import TYPE_CHECKING

from app.platform import backup
from app.settings import get_settings

if TYPE_CHECKING:
    from app.tables import User

DEMO_PASSWORD = "paix-durable-2026"  # noqa: S105  (published demo password, see README)
DEMO_ACCOUNTS = [
    # (e-mail, display name, role)
    ("camille.martin@demo.cessez-le-feu.fr", "Camille Martin", "consumer"),
    ("karim.benali@demo.cessez-le-feu.fr", "Karim Benali", "consumer"),
    ("lea.dubois@demo.cessez-le-feu.fr", "Léa Dubois", "consumer"),
    ("service.client@demo.cessez-le-feu.fr", "Sophie Leroy", "company"),
    ("mediatrice@demo.cessez-le-feu.fr", "Anne Moreau", "mediator"),
    ("equipe@demo.cessez-le-feu.fr", "Paul Girard", "staff"),
]


async def migrate() -> None:
    """Apply every pending migration, on whichever engine DATABASE_URL selects; safe with several processes
    starting together (app/platform/migrations.py)."""
    from app.platform.migrations import migrate_under_lock

    await migrate_under_lock(get_settings())


async def seed_demo() -> list[tuple[str, str, str]]:
    """Create the demo accounts that do not exist yet; returns them all."""
    from app.actions.accounts import do_create_user
    from app.tables import Role, User

    for email, name, role in DEMO_ACCOUNTS:
        if not await User.exists().where(User.email == email):
            errors, _ = await do_create_user(email=email, display_name=name, password=DEMO_PASSWORD, role=Role(role))
            if errors:
                raise SystemExit(f"demo account {email}: {errors.fields}")
    return DEMO_ACCOUNTS


async def demo_user(email: str) -> User:
    """A demo account seed_demo() made (the demo cases need them all)."""
    from app.tables import User

    user = await User.objects().where(User.email == email).first()
    if user is None:
        raise SystemExit(f"demo account {email} is missing: seed the accounts first")
    return user


DEMO_CASE_TITLE = "Vols annulés en juillet : billets jamais remboursés"


async def seed_demo_case() -> None:
    """A case to explore: Camille opened it against Voyages Horizon, Karim joined; Sophie represents the
    (verified) company. It stays open, so staff can invite the company and the journey goes on from there."""
    from datetime import UTC, date, datetime, timedelta

    from app.actions.cases import OpenCaseForm, do_open_case
    from app.actions.claims import ClaimForm, do_file_claim
    from app.tables import Case, Company, CompanyMember

    if await Case.exists().where(Case.title == DEMO_CASE_TITLE):
        return
    camille, karim, sophie = [await demo_user(email)
                              for email in (DEMO_ACCOUNTS[0][0], DEMO_ACCOUNTS[1][0], DEMO_ACCOUNTS[3][0])]
    incident = (date.today() - timedelta(days=120)).isoformat()
    complaint = (date.today() - timedelta(days=90)).isoformat()
    opened = await do_open_case(camille, OpenCaseForm(
        company_name="Voyages Horizon", company_website="https://voyages-horizon.example",
        company_contact_email=DEMO_ACCOUNTS[3][0], title=DEMO_CASE_TITLE,
        problem="Nos vols de juillet ont été annulés par Voyages Horizon. Malgré nos demandes écrites, "
                "aucun remboursement ni avoir n'a été proposé depuis plusieurs mois.",
        category="travel", demand="Le remboursement intégral des billets et l'indemnisation prévue par le "
                                  "règlement européen sur les droits des passagers.",
        facts="Vol Paris – Lisbonne du 14 juillet annulé la veille ; réclamation écrite restée sans réponse.",
        amount="640", incident_date=incident, complaint_date=complaint, confirm_new=True,
    ))
    if opened.errors or opened.case_id is None:
        raise SystemExit(f"demo case: {opened.errors.fields}")
    joined = await do_file_claim(karim, opened.case_id, ClaimForm(
        facts="Vol Lyon – Porto du 21 juillet annulé ; trois billets payés, aucun remboursement.",
        amount="1 249,90", incident_date=incident, complaint_date=complaint))
    if joined.errors:
        raise SystemExit(f"demo claim: {joined.errors.fields}")
    case = await Case.objects().where(Case.id == opened.case_id).first()
    if case is None:
        raise SystemExit("demo case: not saved")
    await Company.update({Company.verified_at: datetime.now(UTC)}).where(Company.id == case.company)
    await CompanyMember.insert(CompanyMember(company=case.company, user=sophie.id))


DEMO_MEDIATION_TITLE = "Bagages perdus en correspondance : indemnisation refusée"


async def seed_demo_mediation() -> None:
    """A second case, already in mediation, to explore the room, the timeline and a proposal at once: Camille and
    Léa against Voyages Horizon, mediated by Anne, a few messages in the plenary and Sophie's offer open to the vote.
    Made through the same actions as the pages (start, charter, messages, offer)."""
    from datetime import UTC, date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from app.actions.mediation import do_start_mediation
    from app.actions.proposals import do_create_proposal
    from app.actions.room import do_accept_charter, do_post_message, ensure_spaces, shared_space_id
    from app.domain.proposals import ProposalDraft
    from app.tables import Case, Claim, CompanyMember, MediatorAssignment

    if await Case.exists().where(Case.title == DEMO_MEDIATION_TITLE):
        return
    first = await Case.objects().where(Case.title == DEMO_CASE_TITLE).first()
    if first is None:
        return
    camille, lea, sophie, anne = [await demo_user(email)
                                  for email in (DEMO_ACCOUNTS[0][0], DEMO_ACCOUNTS[2][0], DEMO_ACCOUNTS[3][0],
                                                DEMO_ACCOUNTS[4][0])]
    now = datetime.now(UTC)
    case = Case(company=first.company, title=DEMO_MEDIATION_TITLE, category="travel", status="accepted",
                problem="Nos bagages enregistrés ont été perdus lors d'une correspondance à Madrid. Voyages Horizon "
                        "refuse toute indemnisation au-delà d'un forfait de 50 €.",
                demand="L'indemnisation des effets perdus, sur justificatifs, dans la limite de la convention de "
                       "Montréal.", created_by=camille.id, invited_at=now - timedelta(days=20),
                accepted_at=now - timedelta(days=10), mediator=anne.id, search_text="bagages perdus indemnisation")
    await case.save()
    incident, complaint = date.today() - timedelta(days=100), date.today() - timedelta(days=80)
    for consumer, cents, facts in ((camille, 84_000, "Valise perdue entre Madrid et Lisbonne ; liste des effets "
                                    "et factures jointes."),
                                   (lea, 41_050, "Sac de voyage jamais livré ; réclamation écrite sans réponse.")):
        await Claim.insert(Claim(case=case.id, consumer=consumer.id, facts=facts, amount_cents=cents,
                                 incident_date=incident, complaint_date=complaint, status="admitted",
                                 reviewed_at=now - timedelta(days=5)))
    await MediatorAssignment.insert(MediatorAssignment(
        case=case.id, mediator=anne.id, declared_at=now - timedelta(days=8),
        independence_statement="Je n'ai aucun lien avec les parties."))
    if not await CompanyMember.exists().where(CompanyMember.company == case.company, CompanyMember.user == sophie.id):
        await CompanyMember.insert(CompanyMember(company=case.company, user=sophie.id))
    await do_start_mediation(anne, case.id)
    for user in (anne, camille, lea, sophie):
        await do_accept_charter(user, case.id)
    await ensure_spaces(case.id)
    plenary = await shared_space_id(case.id, "plenary")
    for author, body in ((anne, "Bonjour à toutes et à tous. Je suis Anne Moreau, votre médiatrice. Chacun peut "
                                "s'exprimer ici ; les échanges restent confidentiels."),
                         (camille, "Bonjour. Nous demandons l'indemnisation de nos effets perdus, factures à l'appui."),
                         (sophie, "Bonjour. Voyages Horizon souhaite trouver une solution : nous allons faire une "
                                  "offre.")):
        await do_post_message(author, plenary, body)
    paris = ZoneInfo("Europe/Paris")
    local = datetime.now(paris).replace(hour=18, minute=0, second=0, microsecond=0)
    errors, _ = await do_create_proposal(sophie, case.id, ProposalDraft(
        terms="Voyages Horizon rembourse à chaque voyageur 70 % du montant réclamé, sur justificatifs, sous 30 "
              "jours après la signature de l'accord.",
        rule_kind="share", share="70", vote_closes_at=(local + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
        decide_by=(local + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")))
    if errors:
        raise SystemExit(f"demo proposal: {errors.fields}")


def print_demo_accounts() -> None:
    print(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
    for email, name, role in DEMO_ACCOUNTS:
        print(f"  {role:9} {email:40} {name}")


async def create_user(email: str, name: str, role: str, password: str) -> int:
    from app.actions.accounts import do_create_user
    from app.tables import Role

    errors, user = await do_create_user(email=email, display_name=name, password=password, role=Role(role))
    if errors or user is None:
        for field, message in errors.fields.items():
            print(f"{field}: {message}", file=sys.stderr)
        return 1
    print(f"created {role} account {user.email} (id {user.id})")
    return 0


def serve(host: str, port: int, *, worker: bool, scheduler: bool) -> None:
    """The web app under uvicorn; the Dramatiq worker and the scheduler run inside it when asked."""
    import uvicorn

    from app.platform.observability import uvicorn_logging

    os.environ["EMBEDDED_WORKER"] = "1" if worker else "0"
    os.environ["EMBEDDED_SCHEDULER"] = "1" if scheduler else "0"
    get_settings.cache_clear()
    parts = ["web"] + (["worker"] if worker else []) + (["scheduler"] if scheduler else [])
    print(f"\nCessez-le-feu ({' + '.join(parts)}) is running at http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    if get_settings().dev_mailbox:
        print(f"Mails are kept in the outbox; read them at http://{host}:{port}/dev/mailbox", flush=True)
    uvicorn.run("app.asgi:create_app", factory=True, host=host, port=port, proxy_headers=True,
                forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
                timeout_graceful_shutdown=5, log_level=os.environ.get("LOG_LEVEL", "info").lower(),
                **uvicorn_logging(get_settings()))


def refuse_without_essentials(command: str) -> None:
    """A production start stops at once, naming what is missing, rather than run with a guessed secret or address."""
    from app.settings import missing_essentials

    missing = missing_essentials(os.environ)
    if missing:
        print(f"`{command}` is a production start and needs these settings:", file=sys.stderr)
        for name, why in missing:
            print(f"  {name}: {why}", file=sys.stderr)
        print("(`make run` starts the demo without them.)", file=sys.stderr)
        raise SystemExit(2)


def run_worker(processes: int, threads: int) -> int:
    """Dramatiq worker processes on the Redis broker (the in-process broker has nothing to share)."""
    if not get_settings().redis_url:
        print("`worker` needs REDIS_URL: without Redis the worker runs inside `serve --worker`.", file=sys.stderr)
        return 2
    # Dramatiq's own CLI, in place of this process: it handles SIGTERM (finish the current jobs, then stop).
    os.execv(sys.executable, [sys.executable, "-m", "dramatiq", "workers.actors",  # noqa: S606 (fixed arguments)
                              "--processes", str(processes), "--threads", str(threads)])
    return 0  # not reached


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="address to listen on (HOST)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="port (PORT)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser("seed-demo", help="create the demo accounts and cases (idempotent; never in production)")
    serve_parser = commands.add_parser(
        "serve", help="production start: migrate, then the web app (never seeds the demo; needs SECRET_KEY, BASE_URL)")
    _add_serve_options(serve_parser)
    serve_parser.add_argument("--worker", action="store_true", help="also run the job worker in this process")
    serve_parser.add_argument("--scheduler", action="store_true", help="also run the scheduler in this process")
    worker_parser = commands.add_parser("worker", help="production: Dramatiq worker processes (needs REDIS_URL)")
    worker_parser.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES", "1")))
    worker_parser.add_argument("--threads", type=int, default=int(os.environ.get("WORKER_THREADS", "4")))
    commands.add_parser("scheduler", help="production: the one scheduler process")
    run_parser = commands.add_parser("run", help="the demo: migrate, seed the demo, serve web + worker + scheduler")
    _add_serve_options(run_parser)
    backup.add_commands(commands)
    create = commands.add_parser("create-user", help="create a staff, mediator or company account")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["staff", "mediator", "company", "consumer"])
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)

    if args.command in backup.COMMANDS:
        return backup.run_command(args)
    if args.command == "create-user":
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
        return asyncio.run(create_user(args.email, args.name, args.role, password))
    if args.command in {"serve", "worker", "scheduler"}:
        refuse_without_essentials(args.command)
    if args.command == "worker":
        return run_worker(args.processes, args.threads)
    if args.command == "scheduler":
        from workers.scheduler import main as scheduler_main

        scheduler_main()
        return 0
    if args.command in {"migrate", "run", "serve"}:
        asyncio.run(migrate())
    if args.command in {"seed-demo", "run"}:
        asyncio.run(seed_demo())
        asyncio.run(seed_demo_case())
        asyncio.run(seed_demo_mediation())
        print_demo_accounts()
    if args.command == "run":
        serve(args.host, args.port, worker=True, scheduler=True)
    if args.command == "serve":
        os.environ.setdefault("DEV_MAILBOX", "0")  # the dev mailbox shows reset links: the demo's, not production's
        if not get_settings().smtp_url:
            print("warning: SMTP_URL is unset; mails stay in the outbox and nobody receives them", file=sys.stderr)
        serve(args.host, args.port, worker=args.worker, scheduler=args.scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
