"""A room to talk in, made straight in the database: for the server tests, and (run as a script) for the browser
tests, which must not run async code in their own process: `python -m tests.server.room_world` prints it as JSON.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.actions.room import ensure_spaces
from app.tables import Case, CharterAcceptance, Claim, Space
from tests.factories_mediation import World, assign, make_world


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


if __name__ == "__main__":
    print(asyncio.run(_as_json()))
