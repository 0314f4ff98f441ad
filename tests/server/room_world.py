"""A room to talk in, made straight in the database: for the server tests, and (run as a script) for the browser
tests, which must not run async code in their own process: `python -m tests.server.room_world` prints it as JSON;
`python -m tests.server.room_world post SPACE EMAIL COUNT` posts messages in it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.actions.room import ensure_spaces
from app.tables import Case, CharterAcceptance, Claim, Space
from tests.factories import World, assign, make_world


@dataclass
class LiveRoom:
    """A case in mediation (both claims admitted, a mediator, every party accepted the charter) and its spaces."""

    world: World
    plenary: int
    consumers: int
    company: int


async def make_live_room(*, accepted: bool = True) -> LiveRoom:
    world = await make_world(status="in_mediation")
    await assign(world.case, world.mediator)
    now = datetime.now(UTC)
    await Case.update({Case.started_at: now, Case.ends_at: now + timedelta(days=90)}).where(Case.id == world.case.id)
    await Claim.update({Claim.status: "admitted"}).where(Claim.case == world.case.id)
    if accepted:
        for account in (world.consumer_a, world.consumer_b, world.member, world.mediator):
            await CharterAcceptance.insert(CharterAcceptance(case=world.case.id, user=account.user.id))
    await ensure_spaces(world.case.id)
    ids = {row["kind"]: row["id"] for row in await Space.select(Space.id, Space.kind).where(
        Space.case == world.case.id)}
    return LiveRoom(world, ids["plenary"], ids["consumers"], ids["company"])


async def _as_json() -> str:
    room = await make_live_room()
    world = room.world
    people = {"consumer_a": world.consumer_a, "consumer_b": world.consumer_b, "member": world.member,
              "mediator": world.mediator, "staff": world.staff}
    return json.dumps({
        "case": world.case.id, "plenary": room.plenary, "consumers": room.consumers, "company": room.company,
        "people": {key: {"email": account.email, "password": account.password, "name": account.user.display_name,
                         "id": account.user.id} for key, account in people.items()},
    })


async def _post(space_id: int, email: str, count: int) -> None:
    """Post `count` messages as the user with this e-mail, through the room's action."""
    from app.actions.room import do_post_message
    from app.tables import User

    user = await User.objects().where(User.email == email).first()
    assert user is not None
    for number in range(count):
        result = await do_post_message(user, space_id, f"Rattrapage {number}")
        assert not result.errors


if __name__ == "__main__":
    if sys.argv[1:2] == ["post"]:  # python -m tests.server.room_world post SPACE EMAIL COUNT
        asyncio.run(_post(int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
    else:
        print(asyncio.run(_as_json()))
