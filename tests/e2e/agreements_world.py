"""A case in mediation for the agreements journey, made straight in the database: three admitted consumers, a
company representative and a declared mediator, all past the charter, no proposal yet; staff, and a consumer of
another case. Browser test modules run no async code of their own (see tests/e2e/conftest.py), so the browser
test runs `python -m tests.e2e.agreements_world`, which prints the world as JSON on its last line.
"""

from __future__ import annotations

import asyncio
import json

from app.tables import Role
from tests.factories import make_account, make_proposal_world


async def _as_json() -> str:
    world = await make_proposal_world(3, proposal=False, outsider=True)
    assert world.outsider is not None
    staff = await make_account(Role.staff, name="Sam Staff")
    people = {"alice": world.consumers[0], "bruno": world.consumers[1], "chloe": world.consumers[2],
              "member": world.member, "mediator": world.mediator, "staff": staff, "outsider": world.outsider}
    return json.dumps({
        "case": world.case_id, "title": world.case.title, "company": world.company.name,
        "claimed_cents": {key: claim.amount_cents for key, claim in zip(("alice", "bruno", "chloe"), world.claims,
                                                                         strict=True)},
        "people": {key: {"email": account.email, "password": account.password, "name": account.user.display_name}
                   for key, account in people.items()},
    })


if __name__ == "__main__":
    print(asyncio.run(_as_json()))
