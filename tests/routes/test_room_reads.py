"""Read marks moved by live reading: POST /spaces/{id}/read, what app.js sends while a visible page receives
messages — forward only, never past the space's last message, for members only, and odd input is a 400."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.tables import Role, SpaceRead
from tests.factories import make_account, make_claim
from tests.fixtures import Browsers, csrf_token
from tests.routes.test_room import make_room, seed


async def mark_read(client: AsyncTestClient[Litestar], space_id: int | str, seq: Any, *,
                    htmx: bool = False) -> Any:
    """The request app.js makes: a urlencoded `seq`, the CSRF token in the header htmx uses."""
    headers = {"x-csrftoken": await csrf_token(client)}
    if htmx:
        headers["HX-Request"] = "true"
    return await client.post(f"/spaces/{space_id}/read", data={"seq": str(seq)}, headers=headers,
                             follow_redirects=False)


async def mark_of(space_id: int, user_id: int) -> dict[str, Any] | None:
    return await SpaceRead.select(SpaceRead.read_seq, SpaceRead.previous_visit_seq, SpaceRead.updated_at).where(
        SpaceRead.space == space_id, SpaceRead.user == user_id).first()


async def test_live_reading_moves_the_read_mark_forward_only(browsers: Browsers) -> None:
    # Given Bruno who opened the plenary when it had 2 messages, then 3 more came live
    room = await make_room()
    bruno = await browsers.as_(room.world.consumer_b)
    bruno_id = room.world.consumer_b.user.id
    for number in range(2):
        await seed(room.world.consumer_a, room.plenary, f"avant {number}")
    await bruno.get(f"/spaces/{room.plenary}")
    before = await mark_of(room.plenary, bruno_id)
    assert before is not None and before["read_seq"] == 2
    for number in range(3):
        await seed(room.world.consumer_a, room.plenary, f"en direct {number}")
    assert "(3 unread)" in (await bruno.get(f"/cases/{room.case_id}")).text
    # When his visible page says he saw up to the 4th
    response = await mark_read(bruno, room.plenary, 4)
    # Then the answer is empty, and his mark is there: the case page and "my cases" count only the 5th
    assert response.status_code == 204 and response.content == b""
    after = await mark_of(room.plenary, bruno_id)
    assert after is not None and after["read_seq"] == 4
    assert after["previous_visit_seq"] == before["previous_visit_seq"]  # the same visit: the "new" marker stays
    assert after["updated_at"] >= before["updated_at"]
    assert "(1 unread)" in (await bruno.get(f"/cases/{room.case_id}")).text
    assert "(1 unread)" in (await bruno.get("/my/cases")).text
    # And an older seq (a late request) never moves it back
    assert (await mark_read(bruno, room.plenary, 3)).status_code == 204
    assert (await mark_of(room.plenary, bruno_id))["read_seq"] == 4  # type: ignore[index]
    # And a seq beyond the space's last message stops at the last one
    assert (await mark_read(bruno, room.plenary, 99)).status_code == 204
    assert (await mark_of(room.plenary, bruno_id))["read_seq"] == 5  # type: ignore[index]
    assert "unread)" not in (await bruno.get(f"/cases/{room.case_id}")).text.split('<main id="main">')[1]
    # And an HTMX request gets the same empty answer (nothing to swap)
    response = await mark_read(bruno, room.plenary, 5, htmx=True)
    assert response.status_code == 204 and response.content == b""
    assert (await mark_of(room.plenary, bruno_id))["read_seq"] == 5  # type: ignore[index]


async def test_a_first_mark_is_made_when_there_is_none(browsers: Browsers) -> None:
    # Given a space Alice has no mark for yet (her page view's mark not saved), with 3 messages
    room = await make_room()
    for number in range(3):
        await seed(room.world.member, room.plenary, f"message {number}")
    alice = await browsers.as_(room.world.consumer_a)
    # When her page says she saw up to the 2nd
    assert (await mark_read(alice, room.plenary, 2)).status_code == 204
    # Then a mark is made there, as a first visit makes it (nothing before it counts as new)
    mark = await mark_of(room.plenary, room.world.consumer_a.user.id)
    assert mark is not None and (mark["read_seq"], mark["previous_visit_seq"]) == (2, 2)
    assert await SpaceRead.count().where(SpaceRead.space == room.plenary,
                                         SpaceRead.user == room.world.consumer_a.user.id) == 1


async def test_only_members_of_the_space_mark_it_read(browsers: Browsers) -> None:
    room = await make_room()
    other = await make_room()
    await seed(room.world.consumer_a, room.consumers, "entre consommateurs")
    await seed(room.world.member, room.company, "entre nous")
    newcomer = await make_account(Role.consumer, name="Nina Nouvelle")
    await make_claim(room.world.case, newcomer, status="admitted")  # a member before the charter
    company = await browsers.as_(room.world.member)
    staff = await browsers.as_(room.world.staff)
    alice = await browsers.as_(room.world.consumer_a)
    # Anyone who is not a member gets 404 (ids cannot be probed), and no mark is made
    for client, space_id in ((company, room.consumers), (alice, room.company), (staff, room.plenary),
                             (staff, room.consumers), (alice, other.plenary), (alice, 999_999)):
        assert (await mark_read(client, space_id, 1)).status_code == 404, space_id
    assert await SpaceRead.count().where(SpaceRead.space.is_in([room.consumers, room.company, room.plenary])) == 0
    # A member who has not accepted the charter is sent to it
    nina = await browsers.as_(newcomer)
    response = await mark_read(nina, room.plenary, 1)
    assert response.status_code == 303 and response.headers["location"] == f"/cases/{room.case_id}/room"
    # A visitor is refused (401, as for any post without a session); nobody's mark moves
    visitor = await browsers.as_(None)
    assert (await mark_read(visitor, room.consumers, 1)).status_code == 401
    assert await SpaceRead.count().where(SpaceRead.space.is_in([room.consumers, room.company, room.plenary])) == 0
    # And a member's request without the CSRF token is refused
    response = await alice.post(f"/spaces/{room.consumers}/read", data={"seq": "1"}, follow_redirects=False)
    assert response.status_code == 403
    assert await mark_of(room.consumers, room.world.consumer_a.user.id) is None
    # While with it, hers moves
    assert (await mark_read(alice, room.consumers, 1)).status_code == 204
    assert (await mark_of(room.consumers, room.world.consumer_a.user.id))["read_seq"] == 1  # type: ignore[index]


async def test_odd_input_is_a_400_never_a_500(browsers: Browsers) -> None:
    room = await make_room()
    await seed(room.world.consumer_a, room.plenary, "bonjour")
    bruno = await browsers.as_(room.world.consumer_b)
    for seq in ("", "abc", "-1", "0", "1.5", " ", "1e3", "٣", "0x10", str(2**31), "9" * 40, "1" * 20_000):
        response = await mark_read(bruno, room.plenary, seq)
        assert response.status_code == 400, (seq[:20], response.status_code)
    token = await csrf_token(bruno)
    for kwargs in ({}, {"json": {"seq": 1}}, {"content": b"\xff\xfe=\xff", "headers": {
            "content-type": "application/x-www-form-urlencoded"}}, {"data": {"other": "1"}}):
        headers = {"x-csrftoken": token, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        response = await bruno.post(f"/spaces/{room.plenary}/read", headers=headers, **kwargs)
        assert response.status_code == 400, (kwargs, response.status_code)
    for path in (f"/spaces/{2**31}/read", "/spaces/abc/read", "/spaces/0/read"):
        response = await bruno.post(path, data={"seq": "1"}, headers={"x-csrftoken": token})
        assert response.status_code in (400, 404), (path, response.status_code)
    assert await mark_of(room.plenary, room.world.consumer_b.user.id) is None
