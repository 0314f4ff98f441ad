"""Command line: migrate, seed the demo, create staff/mediator accounts, serve (`python -m app.cli --help`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from app.settings import get_settings

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
    """Apply every pending migration, on whichever engine DATABASE_URL selects."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="all", migration_id="all")
    if not result.success:
        raise SystemExit(f"migration failed: {result.message}")


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


DEMO_CASE_TITLE = "Vols annulés en juillet : billets jamais remboursés"


async def seed_demo_case() -> None:
    """A case to explore: Camille opened it against Voyages Horizon, Karim joined; Sophie represents the
    (verified) company. It stays open, so staff can invite the company and the journey goes on from there."""
    from datetime import UTC, date, datetime, timedelta

    from app.actions.cases import OpenCaseForm, do_open_case
    from app.actions.claims import ClaimForm, do_file_claim
    from app.tables import Case, Company, CompanyMember, User

    if await Case.exists().where(Case.title == DEMO_CASE_TITLE):
        return
    camille, karim, sophie = [await User.objects().where(User.email == email).first()
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
    from app.tables import Case, Claim, CompanyMember, MediatorAssignment, User

    if await Case.exists().where(Case.title == DEMO_MEDIATION_TITLE):
        return
    first = await Case.objects().where(Case.title == DEMO_CASE_TITLE).first()
    if first is None:
        return
    camille, lea, sophie, anne = [await User.objects().where(User.email == email).first()
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


def serve() -> None:
    import uvicorn

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    print(f"\nCessez-le-feu is running at http://{host}:{port}/  (Ctrl-C to stop)")
    if get_settings().dev_mailbox:
        print(f"Mails are kept in the outbox; read them at http://{host}:{port}/dev/mailbox")
    uvicorn.run("app.asgi:create_app", factory=True, host=host, port=port, proxy_headers=True,
                timeout_graceful_shutdown=5, log_level=os.environ.get("LOG_LEVEL", "info").lower())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser("seed-demo", help="create the demo accounts (idempotent)")
    commands.add_parser("serve", help="start the web app (with the embedded worker and scheduler by default)")
    commands.add_parser("run", help="migrate, seed the demo, then serve: what `make run` does")
    create = commands.add_parser("create-user", help="create a staff, mediator or company account")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["staff", "mediator", "company", "consumer"])
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)

    if args.command == "create-user":
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
        return asyncio.run(create_user(args.email, args.name, args.role, password))
    if args.command in {"migrate", "run"}:
        asyncio.run(migrate())
    if args.command in {"seed-demo", "run"}:
        asyncio.run(seed_demo())
        asyncio.run(seed_demo_case())
        asyncio.run(seed_demo_mediation())
        print_demo_accounts()
    if args.command in {"serve", "run"}:
        serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
