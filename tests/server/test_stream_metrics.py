"""An SSE stream against a real uvicorn process: counted in clf_sse_streams_open while open, and logged once
(clf.access, with its whole duration) when it ends."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest

from tests.server.conftest import LiveRoom
from tests.server.harness import SSEClient

pytestmark = pytest.mark.server

TOKEN = "stream-metrics-token-1234"


async def open_streams(app) -> float:
    async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as scraper:
        response = await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    found = re.search(r"^clf_sse_streams_open (\S+)$", response.text, re.MULTILINE)
    assert found, response.text
    return float(found.group(1))


async def wait_for_streams(app, expected: float, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while (count := await open_streams(app)) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} streams open, expected {expected}")
        await asyncio.sleep(0.1)


def stream_lines(log: str) -> list[dict]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith('{"ts":')]
    return [line for line in lines if line["log"] == "clf.access" and line["route"] == "/spaces/{space_id}/stream"]


async def logged_stream_lines(app, within: float = 10) -> list[dict]:
    """The stream's access lines, once the app has written one (the line comes when the stream has ended)."""
    for _ in range(int(within / 0.1)):
        if lines := stream_lines(app.log()):
            return lines
        await asyncio.sleep(0.1)
    return []


async def test_an_open_stream_is_counted_and_logged_once_when_it_ends(live_room: LiveRoom, start_app,
                                                                      clients) -> None:
    # Given an app process with a metrics token, and nobody reading
    app = await start_app(METRICS_TOKEN=TOKEN, CLF_TEST_HEARTBEAT_S="1")
    assert await open_streams(app) == 0
    reader = await clients(app, live_room.world.consumer_a)
    # When a reader opens the plenary's stream
    stream = SSEClient(reader, f"/spaces/{live_room.plenary}/stream?after=0")
    assert await stream.open() == 200
    # Then it is counted while open, and not logged yet
    await wait_for_streams(app, 1)
    assert stream_lines(app.log()) == []
    await stream.quiet_for(heartbeats=1)
    # When the reader goes away, then the gauge comes back down and the stream has its one line
    await stream.close()
    await wait_for_streams(app, 0)
    [line] = await logged_stream_lines(app)
    assert line["status"] == 200 and line["user_id"] == live_room.world.consumer_a.user.id
    assert line["duration_ms"] >= 1000  # the stream's whole life (a heartbeat came), not its first byte
