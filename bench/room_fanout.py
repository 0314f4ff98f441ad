"""Fan-out of one room: N SSE clients in one space, M messages/s posted, post→delivery latency per client.

A real server process (`python -m app.cli serve`: uvicorn, embedded mode — SQLite and in-memory Channels —
unless DATABASE_URL / REDIS_URL are set, then a throwaway PostgreSQL database and Redis pub/sub). N consumers
with an admitted claim, each reading the plenary with their own session; the mediator posts through the room's
form at a fixed rate for DURATION seconds. The clients are one asyncio process with raw HTTP/1.1 connections
and a minimal SSE scan: on 2 cores the client side is the bottleneck, so it stays lean.

    python bench/room_fanout.py [--clients 500] [--rate 20] [--duration 10]

Prints figures, then one last line:
`clients=… rate=… p50_ms=… p95_ms=… p99_ms=… delivered=received/expected rss_mb=…` (rss: the server process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import throwaway  # noqa: E402  (after the path is set)

RUN = throwaway.RUN
PASSWORD = "bench password " + RUN


def prepare_environment() -> None:
    """Before anything imports the app: a world of this run's own, and file descriptors for many clients."""
    throwaway.prepare(LOGIN_RATE_PER_MINUTE="100000", LOG_LEVEL="warning")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


cleanup_environment = throwaway.cleanup


@dataclass
class Room:
    case_id: int
    space_id: int
    mediator_email: str
    cookies: list[str]  # one session cookie per consumer


async def make_room(consumers: int) -> Room:
    """A case in mediation with `consumers` admitted consumers, all past the charter, each with a session."""
    from datetime import UTC, date, datetime, timedelta

    from app.actions.accounts import do_create_user
    from app.actions.room import ensure_spaces, shared_space_id
    from app.asgi import make_stores
    from app.cli import migrate
    from app.http.security import RotatingSessionBackend
    from app.platform.passwords import hash_password
    from app.settings import get_settings
    from app.tables import Case, CharterAcceptance, Claim, Company, CompanyMember, MediatorAssignment, Role, User

    await migrate()
    now = datetime.now(UTC)
    company = Company(name=f"Bench {RUN}", contact_email=f"contact-{RUN}@bench.example", verified_at=now)
    await company.save()
    case = Case(company=company.id, title=f"Bench room {RUN}", problem="Bench.", category="online_shopping",
                demand="Bench.", status="in_mediation", started_at=now, ends_at=now + timedelta(days=90))
    await case.save()
    errors, mediator = await do_create_user(email=f"mediator-{RUN}@bench.example", display_name="Bench Mediator",
                                            password=PASSWORD, role=Role.mediator, language="en")
    assert mediator is not None, errors.fields
    errors, member = await do_create_user(email=f"company-{RUN}@bench.example", display_name="Bench Company",
                                          password=PASSWORD, role=Role.company, language="en")
    assert member is not None, errors.fields
    await CompanyMember.insert(CompanyMember(company=company.id, user=member.id))
    await MediatorAssignment.insert(MediatorAssignment(case=case.id, mediator=mediator.id, declared_at=now,
                                                       independence_statement="Bench.", conflicts_disclosed="none"))
    await Case.update({Case.mediator: mediator.id}).where(Case.id == case.id)
    password_hash = await hash_password(PASSWORD)  # one hash for all: this is not a login bench
    ids: list[int] = []
    for start in range(0, consumers, 200):
        batch = [User(email=f"consumer-{RUN}-{n}@bench.example", display_name=f"Consumer {n}",
                      password_hash=password_hash, role=Role.consumer.value, locale="en", email_verified_at=now)
                 for n in range(start, min(consumers, start + 200))]
        rows = await User.insert(*batch).returning(User.id)
        ids += [row["id"] for row in rows]
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        await Claim.insert(*[Claim(case=case.id, consumer=user_id, facts="Bench.", amount_cents=10_000,
                                   incident_date=date.today() - timedelta(days=60),
                                   complaint_date=date.today() - timedelta(days=30), status="admitted",
                                   submitted_at=now) for user_id in chunk])
        await CharterAcceptance.insert(*[CharterAcceptance(case=case.id, user=user_id) for user_id in chunk])
    await CharterAcceptance.insert(CharterAcceptance(case=case.id, user=mediator.id),
                                   CharterAcceptance(case=case.id, user=member.id))
    await ensure_spaces(case.id)
    space_id = await shared_space_id(case.id, "plenary")
    # Sessions written into the app's own store, as a login would leave them (no argon2 per client).
    store = make_stores(get_settings())["sessions"]
    cookies = []
    stamp = int(time.time())
    for user_id in ids:
        session_id = secrets.token_hex(16)
        data = {"uid": user_id, "ver": 1, "auth_at": stamp, "seen_at": stamp}
        await store.set(session_id, RotatingSessionBackend.serialize_data(data), expires_in=12 * 3600)
        cookies.append(session_id)
    return Room(case.id, space_id, mediator.email, cookies)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m app.cli serve` on a free port, as a newcomer would run it."""

    def __init__(self, profile: str = "") -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="clf-bench-server-", suffix=".log", delete=False)
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port),
               "BASE_URL": f"http://127.0.0.1:{self.port}"}
        profiler = ["-m", "cProfile", "-o", profile] if profile else []
        self.process = subprocess.Popen([sys.executable, *profiler, "-m", "app.cli", "serve"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited; its log is {self.log.name}")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                answer = await reader.read()
                writer.close()
                if b" 200 " in answer.split(b"\r\n", 1)[0]:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise SystemExit("the server did not start")

    def rss_mb(self) -> float:
        return rss_kb(self.process.pid) / 1024

    def stop(self) -> float:
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)  # like Ctrl-C (a profiled server then writes its profile)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        took = time.monotonic() - started
        Path(self.log.name).unlink(missing_ok=True)  # kept only when the run fails
        return took


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


TOKEN = re.compile(rb"bench#(\d+)#")


@dataclass
class Client:
    """One browser tab: a raw HTTP/1.1 connection reading the stream; remembers when each message arrived."""

    cookie: str
    received: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    status: bytes = b""
    error: BaseException | None = None
    task: asyncio.Task[None] | None = None  # a strong reference: asyncio keeps only weak ones

    async def run(self, port: int, path: str) -> None:
        try:
            await self._run(port, path)
        except BaseException as error:
            self.error = error
            raise

    async def _run(self, port: int, path: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                     f"Cookie: clf_session={self.cookie}; lang=en\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        self.status = head.split(b"\r\n", 1)[0]
        self.opened.set()
        tail = b""
        try:
            while chunk := await reader.read(65536):
                now = time.monotonic()
                data = tail + chunk
                last = 0
                for match in TOKEN.finditer(data):
                    number = int(match.group(1))
                    if number in self.received:
                        self.duplicates += 1
                    else:
                        self.received[number] = now
                    last = match.end()
                tail = data[max(last, len(data) - 32):]
        finally:
            writer.close()


async def open_clients(port: int, path: str, cookies: list[str], concurrency: int = 50) -> list[Client]:
    clients = [Client(cookie) for cookie in cookies]
    gate = asyncio.Semaphore(concurrency)

    async def start(client: Client) -> None:
        async with gate:
            client.task = asyncio.create_task(client.run(port, path))
            await asyncio.wait_for(client.opened.wait(), 60)

    await asyncio.gather(*(start(client) for client in clients))
    refused = [client.status for client in clients if b" 200 " not in client.status]
    if refused:
        raise SystemExit(f"{len(refused)} streams refused, e.g. {refused[0]!r}")
    return clients


async def login(port: int, email: str):  # type: ignore[no-untyped-def]
    import httpx

    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                               limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
    client.cookies.set("lang", "en")
    await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": PASSWORD,
                                                 "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code == 303, response.text
    return client


async def post_at_rate(client, space_id: int, rate: float, duration: float  # type: ignore[no-untyped-def]
                       ) -> tuple[list[float], list[float]]:
    """Post `rate` messages a second for `duration` s on a fixed schedule; returns each one's send time, and
    how long each post took (until its 303)."""
    sent: list[float] = []
    answered: list[float] = []
    tasks = []
    failures = 0

    async def post(number: int) -> None:
        nonlocal failures
        response = await client.post(f"/spaces/{space_id}/messages", data={
            "body": f"bench#{number}# Un message de test pour mesurer la diffusion.",
            "client_key": str(uuid.uuid4()), "_csrf_token": client.cookies["csrftoken"]})
        answered.append((time.monotonic() - sent[number]) * 1000)
        if response.status_code != 303:
            failures += 1

    start = time.monotonic()
    total = int(rate * duration)
    for number in range(total):
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.monotonic())
        tasks.append(asyncio.create_task(post(number)))
    await asyncio.gather(*tasks)
    if failures:
        raise SystemExit(f"{failures} posts failed")
    return sent, answered


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def main(args: argparse.Namespace) -> None:
    room = await make_room(args.clients)
    server = Server(args.profile)
    try:
        await server.wait_ready()
        poster = await login(server.port, room.mediator_email)
        started = time.monotonic()
        clients = await open_clients(server.port, f"/spaces/{room.space_id}/stream?after=0", room.cookies)
        print(f"{len(clients)} streams open in {time.monotonic() - started:.1f} s; server (pid "
              f"{server.process.pid}) rss {server.rss_mb():.0f} MB", flush=True)
        await asyncio.sleep(1)
        cpu_before = (cpu_seconds(server.process.pid), time.process_time(), time.monotonic())
        sent, answered = await post_at_rate(poster, room.space_id, args.rate, args.duration)
        print(f"posted {len(sent)} messages in {sent[-1] - sent[0]:.1f} s; the post itself (until its 303): "
              f"p50 {percentile(answered, 50):.1f} ms, p99 {percentile(answered, 99):.1f} ms")
        deadline = time.monotonic() + args.grace
        expected = len(sent) * len(clients)
        while time.monotonic() < deadline and sum(len(c.received) for c in clients) < expected:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        rss = server.rss_mb()
        wall = time.monotonic() - cpu_before[2]
        print(f"cpu over {wall:.1f} s: server {cpu_seconds(server.process.pid) - cpu_before[0]:.1f} s, "
              f"clients and poster {time.process_time() - cpu_before[1]:.1f} s")
        latencies = [(at - sent[number]) * 1000 for client in clients for number, at in client.received.items()]
        received = len(latencies)
        counts = sorted(len(client.received) for client in clients)
        errors = [repr(client.error) for client in clients if client.error]
        if errors:
            print(f"{len(errors)} clients failed, e.g. {errors[0]}")
        print(f"received per client: min={counts[0]} median={counts[len(counts) // 2]} max={counts[-1]}")
        duplicates = sum(client.duplicates for client in clients)
        await poster.aclose()
        for client in clients:
            if client.task is not None:
                client.task.cancel()
        await asyncio.gather(*(client.task for client in clients if client.task), return_exceptions=True)
        took = server.stop()
        backend = "redis" if os.environ.get("REDIS_URL") else "memory"
        engine = "postgresql" if throwaway.SERVER_DATABASE_URL else "sqlite"
        print(f"engine={engine} channels={backend} duplicates={duplicates} max_ms={max(latencies):.1f} "
              f"server_stop_s={took:.1f}")
        print(f"clients={len(clients)} rate={args.rate:g} p50_ms={percentile(latencies, 50):.1f} "
              f"p95_ms={percentile(latencies, 95):.1f} p99_ms={percentile(latencies, 99):.1f} "
              f"delivered={received}/{expected} rss_mb={rss:.0f}")
    finally:
        if server.process.poll() is None:
            server.process.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of posting")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for the last deliveries")
    parser.add_argument("--profile", default="", help="write a cProfile of the server's main thread to this file")
    prepare_environment()
    try:
        asyncio.run(main(parser.parse_args()))
    finally:
        cleanup_environment()
