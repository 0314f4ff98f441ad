"""How many idle SSE streams one server process holds, and what each costs in memory.

The same real server as bench/room_fanout.py (`python -m app.cli serve`, embedded mode unless DATABASE_URL /
REDIS_URL are set). Consumers of one case open streams on its plenary — one each — until STREAMS are open
or one fails; nothing is posted, so each stream only gets its heartbeat. The server's RSS is read once a few
streams are open (everything loaded and warm) and again after all are open and a heartbeat has gone by.

    python bench/idle_streams.py [--streams 5000]

Prints figures, then one last line: `streams=… kb_per_stream=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import room_fanout as fanout_bench  # the same directory: sys.path[0]

WARM = 50


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    room = await fanout_bench.make_room(args.streams)
    print(f"{args.streams} consumers with sessions made in {time.monotonic() - started:.0f} s", flush=True)
    server = fanout_bench.Server()
    clients: list[fanout_bench.Client] = []
    try:
        await server.wait_ready()
        path = f"/spaces/{room.space_id}/stream"
        clients += await fanout_bench.open_clients(server.port, path, room.cookies[:WARM])
        await asyncio.sleep(2)
        base_kb = fanout_bench.rss_kb(server.process.pid)
        print(f"{WARM} streams open: server rss {base_kb / 1024:.0f} MB", flush=True)
        started = time.monotonic()
        failure = ""
        for start in range(WARM, args.streams, 500):
            try:
                clients += await fanout_bench.open_clients(server.port, path, room.cookies[start:start + 500])
            except (TimeoutError, SystemExit, OSError) as error:
                failure = f"{type(error).__name__}: {error}"
                break
            print(f"{len(clients)} streams open after {time.monotonic() - started:.0f} s: server rss "
                  f"{fanout_bench.rss_kb(server.process.pid) / 1024:.0f} MB", flush=True)
        await asyncio.sleep(fanout_bench_heartbeat() + 2)  # a heartbeat goes to every stream
        alive = [client for client in clients if client.task is not None and not client.task.done()]
        rss_kb = fanout_bench.rss_kb(server.process.pid)
        per_stream = (rss_kb - base_kb) / max(1, len(alive) - WARM)
        cpu = fanout_bench.cpu_seconds(server.process.pid)
        await asyncio.sleep(10)
        idle_cpu = (fanout_bench.cpu_seconds(server.process.pid) - cpu) / 10
        took = server.stop()  # with every stream still open
        for client in clients:
            if client.task is not None:
                client.task.cancel()
        await asyncio.gather(*(client.task for client in clients if client.task), return_exceptions=True)
        print(f"opened={len(clients)} alive={len(alive)} failure={failure or 'none'} "
              f"server_rss_mb={rss_kb / 1024:.0f} idle_cpu={idle_cpu * 100:.0f}% server_stop_s={took:.1f}")
        print(f"streams={len(alive)} kb_per_stream={per_stream:.1f}")
    finally:
        if server.process.poll() is None:
            server.process.kill()


def fanout_bench_heartbeat() -> float:
    from app.live.hub import HEARTBEAT_S

    return HEARTBEAT_S


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=5000)
    fanout_bench.prepare_environment()
    try:
        asyncio.run(main(parser.parse_args()))
    finally:
        fanout_bench.cleanup_environment()
