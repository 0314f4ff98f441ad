"""Real processes for the server tests: the app under uvicorn (killable, restartable on the same port), a
redis-server of our own (restartable; never the shared one), and a small SSE client over httpx streaming.

Litestar's TestClient hangs on an open SSE stream, so the stream is always read from a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppProcess:
    """`uvicorn tests.server.app_factory:create_app` on a fixed port, with its output in a log file."""

    def __init__(self, env: dict[str, str], port: int | None = None, command: list[str] | None = None) -> None:
        """`command`: another way to start the web app on self.port (the production `app.cli serve`)."""
        self.port = port or free_port()
        self.command = command
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "EMBEDDED_WORKER": "0", "BASE_URL": self.base_url, "PYTHONUNBUFFERED": "1",
                    "CLF_TEST_HEARTBEAT_S": "1", "CLF_TEST_MEMBERSHIP_S": "2", **env}
        handle, name = tempfile.mkstemp(prefix="clf-server-", suffix=".log")
        os.close(handle)
        self.log_path = Path(name)
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "app.cli", *self.command, "--port", str(self.port)] if self.command else [
            sys.executable, "-m", "uvicorn", "tests.server.app_factory:create_app", "--factory",
                   "--host", "127.0.0.1", "--port", str(self.port), "--timeout-graceful-shutdown", "5",
                   "--no-access-log"]
        with self.log_path.open("ab") as log:
            return subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)

    async def start(self) -> None:
        """Start the process and wait until it answers /healthz."""
        self.process = self._spawn()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"the app exited with {self.process.returncode}:\n{self.log()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the app did not start within {STARTUP_TIMEOUT_S} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, streams and all (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    async def terminate(self, within: float = 10.0) -> float:
        """SIGTERM, then wait; returns how long the process took to exit (it is killed after `within` s)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        while self.process.poll() is None:
            if time.monotonic() - started > within:
                self.process.kill()
                self.process.wait(timeout=10)
                raise AssertionError(f"the app ignored SIGTERM for {within} s:\n{self.log()}")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        self.kill()
        self.log_path.unlink(missing_ok=True)


class BackgroundProcess:
    """A process without a port (a job worker, the scheduler), in a process group of its own, so that kill -9
    takes its children too (Dramatiq forks its worker processes)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        handle, name = tempfile.mkstemp(prefix="clf-process-", suffix=".log")
        os.close(handle)
        self.log_path = Path(name)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, *self.args], cwd=PROJECT_ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def kill(self) -> None:
        """SIGKILL to the whole group: the process and its children die at once (a crash). Returns once no process
        of the group runs any more (a child may take a moment to die, e.g. in the middle of a disk write)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (alive := self.group_alive()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive, f"processes of group {self.process.pid} survived SIGKILL: {alive}"

    def group_alive(self) -> list[int]:
        """The processes of this process group that still run (zombies do not count)."""
        assert self.process is not None
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid and fields[0] != "Z":
                    alive.append(int(stat.parent.name))
        return alive

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        self.kill()
        self.log_path.unlink(missing_ok=True)


class RedisProcess:
    """A redis-server of this test only, on a free port, with its data in a temporary folder."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="clf-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError), redis.Redis(port=self.port) as client:
                if client.ping():
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self, *, keep_data: bool = True) -> None:
        """Stop the server; with keep_data its keys (the sessions) are saved and come back on start()."""
        import redis

        assert self.process is not None
        if keep_data:
            with contextlib.suppress(redis.ConnectionError), redis.Redis(port=self.port) as client:
                client.shutdown(save=True)
        else:
            self.process.kill()
        self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Event:
    event: str
    id: str | None
    data: str


@dataclass
class SSEClient:
    """Reads one stream in a background task; events go to a queue, comments are counted."""

    client: httpx.AsyncClient
    path: str
    last_event_id: str | None = None
    status: int = 0
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    comments: list[str] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self) -> int:
        """Connect; returns the status (the stream is read in the background only when it is 200)."""
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), 15)
        return self.status

    async def _read(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        try:
            async with self.client.stream("GET", self.path, headers=headers,
                                          timeout=httpx.Timeout(10, read=None)) as response:
                self.status = response.status_code
                self._opened.set()
                if response.status_code != 200:
                    return
                assert response.headers["content-type"].startswith("text/event-stream")
                kind, event_id, data = "message", None, []
                async for line in response.aiter_lines():
                    if line == "":
                        if data:
                            await self.events.put(Event(kind, event_id, "\n".join(data)))
                        kind, event_id, data = "message", None, []
                    elif line.startswith(":"):
                        self.comments.append(line[1:].strip())
                    else:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "event":
                            kind = value
                        elif name == "id":
                            event_id = value
                        elif name == "data":
                            data.append(value)
        except (httpx.HTTPError, OSError):
            pass  # the server went away: `ended` tells
        finally:
            self._opened.set()
            self.ended.set()

    async def next(self, within: float = 10) -> Event:
        return await asyncio.wait_for(self.events.get(), within)

    async def take(self, count: int, within: float = 15) -> list[Event]:
        return [await self.next(within) for _ in range(count)]

    async def quiet_for(self, heartbeats: int = 2, within: float = 15) -> None:
        """Wait until the server has sent `heartbeats` more heartbeat comments."""
        target = self.comments.count("ping") + heartbeats
        deadline = time.monotonic() + within
        while self.comments.count("ping") < target and not self.ended.is_set():
            if time.monotonic() > deadline:
                raise AssertionError("no heartbeat from the stream")
            await asyncio.sleep(0.05)

    def pending(self) -> list[Event]:
        found = []
        while not self.events.empty():
            found.append(self.events.get_nowait())
        return found

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def login(base_url: str, email: str, password: str) -> httpx.AsyncClient:
    """An httpx client logged in on the app (cookies: session, CSRF token, English)."""
    client = httpx.AsyncClient(base_url=base_url, timeout=15, follow_redirects=False)
    client.cookies.set("lang", "en")
    response = await client.get("/login")
    assert response.status_code == 200, response.text
    response = await client.post("/login", data={"email": email, "password": password,
                                                 "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code == 303, response.text
    return client


async def post_message(client: httpx.AsyncClient, space_id: int, body: str) -> int:
    """Post through the room's form (no JS: a 303 back to the space, at the new message); returns its seq."""
    response = await client.post(f"/spaces/{space_id}/messages", data={
        "body": body, "client_key": str(uuid.uuid4()), "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("#m-", 1)[1])
