"""The command line: staff and mediator accounts, and the idempotent demo seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.cli import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
from app.passwords import verify_password
from app.tables import User
from tests.fixtures import unique_email

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
