"""The room's membership rule for many readers at once (`readers_of`, the live streams' periodic check) is the rule
for one (`space_for_member`, what decides at connect time)."""

from __future__ import annotations

from app.actions.errors import CharterRequired, NotFound
from app.actions.room import do_open_direct, readers_of, space_for_member
from app.tables import Case, CharterAcceptance, Claim, User
from tests.routes.test_room import make_room


async def readers_one_by_one(space_id: int, users: list[User]) -> set[int]:
    allowed = set()
    for user in users:
        try:
            await space_for_member(user, space_id)
        except (NotFound, CharterRequired):
            continue
        allowed.add(user.id)
    return allowed


async def test_readers_of_agrees_with_space_for_member_in_every_space() -> None:
    # Given a room where Alice's claim was withdrawn, Bruno has not accepted the charter, and the company's
    # representative opened a thread with the mediator
    room = await make_room()
    world = room.world
    alice, bruno, member, mediator = (world.consumer_a.user, world.consumer_b.user, world.member.user,
                                      world.mediator.user)
    await Claim.update({Claim.status: "withdrawn"}).where(Claim.id == world.claim_a.id)
    await CharterAcceptance.delete().where(CharterAcceptance.user == bruno.id)
    direct = await do_open_direct(member, room.case_id, None)
    people = [alice, bruno, member, mediator, world.staff.user]
    expected = {room.plenary: {member.id, mediator.id}, room.consumers: {mediator.id},
                room.company: {member.id, mediator.id}, direct: {member.id, mediator.id}}
    for space_id, readers in expected.items():
        # When the readers are checked all at once
        view = await space_for_member(mediator, space_id)
        # Then they are those the one-by-one rule lets in
        assert await readers_of(view, people) == await readers_one_by_one(space_id, people) == readers


async def test_nobody_reads_a_space_whose_room_is_not_open() -> None:
    # Given a space read while the mediation runs, then a case that is no longer in a room state
    room = await make_room()
    world = room.world
    view = await space_for_member(world.mediator.user, room.plenary)
    people = [world.consumer_a.user, world.member.user, world.mediator.user]
    assert await readers_of(view, people) == {user.id for user in people}
    await Case.update({Case.status: "open"}).where(Case.id == room.case_id)
    # When / Then
    assert await readers_of(view, people) == set()
    assert await readers_one_by_one(room.plenary, people) == set()
