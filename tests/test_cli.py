"""The command line: staff and mediator accounts, and the idempotent demo seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.cli import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
from app.platform.passwords import verify_password
from app.tables import User
from tests.factories import unique_email

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=60)


async def test_create_user_makes_a_verified_staff_or_mediator_account() -> None:
    for role in ("staff", "mediator"):
        email = unique_email(role)
        result = run_cli("create-user", "--email", email, "--name", "Claire Petit", "--role", role,
                         "--password-stdin", stdin="a quiet river at dawn\n")
        assert result.returncode == 0, result.stderr
        user = await User.objects().where(User.email == email).first()
        assert user is not None and user.role == role and user.email_verified_at is not None
        assert await verify_password(user.password_hash, "a quiet river at dawn")


async def test_create_user_refuses_a_weak_password_or_a_taken_address() -> None:
    email = unique_email("weak")
    weak = run_cli("create-user", "--email", email, "--name", "X Y", "--role", "staff", "--password-stdin",
                   stdin="password123\n")
    assert weak.returncode == 1 and "password" in weak.stderr
    assert not await User.exists().where(User.email == email)
    await seed_demo()
    taken = run_cli("create-user", "--email", DEMO_ACCOUNTS[0][0].upper(), "--name", "X Y", "--role", "staff",
                    "--password-stdin", stdin="a quiet river at dawn\n")
    assert taken.returncode == 1 and "email" in taken.stderr
    assert await User.count().where(User.email == DEMO_ACCOUNTS[0][0]) == 1


async def test_demo_seed_is_idempotent_and_covers_every_role() -> None:
    await seed_demo()
    before = await User.count()
    await seed_demo()
    assert await User.count() == before
    roles = {role for _, _, role in DEMO_ACCOUNTS}
    assert roles == {"consumer", "company", "mediator", "staff"}
    assert sum(1 for *_, role in DEMO_ACCOUNTS if role == "consumer") == 3
    camille = await User.objects().where(User.email == DEMO_ACCOUNTS[0][0]).first()
    assert camille is not None and await verify_password(camille.password_hash, DEMO_PASSWORD)


async def test_demo_case_is_seeded_once_with_two_claims_and_a_representative() -> None:
    from app.cli import DEMO_CASE_TITLE, seed_demo_case
    from app.tables import Case, Claim, CompanyMember

    await seed_demo()
    await seed_demo_case()
    await seed_demo_case()
    cases = await Case.objects().where(Case.title == DEMO_CASE_TITLE)
    assert len(cases) == 1 and cases[0].status == "open"
    assert await Claim.count().where(Claim.case == cases[0].id) == 2
    assert await CompanyMember.count().where(CompanyMember.company == cases[0].company) == 1


async def test_demo_mediation_is_seeded_once_in_mediation_with_messages_and_an_open_offer() -> None:
    from app.cli import DEMO_MEDIATION_TITLE, seed_demo_case, seed_demo_mediation
    from app.tables import Case, Message, Phase, Proposal, Space

    await seed_demo()
    await seed_demo_case()
    await seed_demo_mediation()
    await seed_demo_mediation()
    cases = await Case.objects().where(Case.title == DEMO_MEDIATION_TITLE)
    assert len(cases) == 1 and cases[0].status == "in_mediation" and cases[0].ends_at is not None
    assert await Phase.count().where(Phase.case == cases[0].id) >= 4
    spaces = [row["id"] for row in await Space.select(Space.id).where(Space.case == cases[0].id)]
    assert await Message.count().where(Message.space.is_in(spaces)) == 3
    proposals = await Proposal.objects().where(Proposal.case == cases[0].id)
    assert [(p.status, p.rule_kind, p.share_basis_points) for p in proposals] == [("open", "share", 7_000)]


def test_processes_starting_together_apply_each_migration_once(tmp_path: Path) -> None:
    # Given a fresh embedded deployment (its own VAR_DIR, SQLite whatever this run uses)
    import os
    import sqlite3

    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env["VAR_DIR"] = str(tmp_path)
    # When three processes start at once and each applies the migrations, as `serve` does at start
    starting = [subprocess.Popen([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)]
    outputs = [process.communicate(timeout=120)[0] for process in starting]
    # Then every one of them succeeds, and each migration is recorded once
    assert [process.returncode for process in starting] == [0, 0, 0], outputs
    migrations = sorted(path.stem for path in (ROOT / "app" / "piccolo_migrations").glob("clf_*.py"))
    with sqlite3.connect(tmp_path / "cessez-le-feu.sqlite3") as connection:
        applied = [row[0] for row in connection.execute("SELECT name FROM migration ORDER BY id")]
    assert len(applied) == len(set(applied)) == len(migrations)
    # And the one that took the lock first ran them, the others found nothing left to do
    assert sum("No migrations need to be run" in output for output in outputs) == 2


def test_the_production_start_names_the_missing_settings(tmp_path: Path) -> None:
    import os

    env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "BASE_URL"}}
    env["VAR_DIR"] = str(tmp_path)
    for command in ("serve", "worker", "scheduler"):
        result = subprocess.run([sys.executable, "-m", "app.cli", command], cwd=ROOT, env=env, text=True,
                                capture_output=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "SECRET_KEY" in result.stderr and "BASE_URL" in result.stderr
    short = subprocess.run([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, text=True, capture_output=True,
                           env=env | {"SECRET_KEY": "too-short", "BASE_URL": "https://mediation.example.org"},
                           timeout=60)
    assert short.returncode == 2 and "SECRET_KEY" in short.stderr and "BASE_URL" not in short.stderr
    assert not (tmp_path / "cessez-le-feu.sqlite3").exists()  # refused before touching anything
