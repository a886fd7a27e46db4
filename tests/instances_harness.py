"""Several desk instances on loopback, as two machines would run them (issue 22).

    async with Desks.start(tmp_path, database_url, redis) as desks:
        desks.sandbox_url            # the sandbox Telegram, a process of its own
        desks.instances["a"].kill()  # SIGKILL; .terminate() is a redeploy's SIGTERM
        await desks.instances["a"].start()

Parts: the sandbox (tests/soak_sandbox.py, recording every bot message), a round-robin
front that forwards `POST /telegram/webhook` to the instances in turn and tries the next one
when an instance refuses the connection or answers 5xx (as a load balancer with retries
does), `vraagbaak run --no-worker` per instance and one `vraagbaak worker`, all on a shared
Redis (by URL, or by Sentinel) and a PostgreSQL database. Every process is a child that
dies with the test process (PR_SET_PDEATHSIG) and is stopped when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web

from bot.processes import die_with_parent, stop_process
from tests.sandbox_process import TOKEN, free_port
from tests.trained import seed

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "soak-shared-secret-key"
WEBHOOK_PATH = "/telegram/webhook"
READY_LINE = "Vraagbaak is running as"
START_TIMEOUT = 120.0
# Connections the sandbox posts the webhook over (per chat in order): one at a time, a 2-core
# machine's webhook chain (sandbox, front, instance) carries about 50 updates a second, so the
# load would measure the chain, not the desks.
LANES = 8


@dataclass
class RedisAddress:
    """How the desk finds Redis: a URL, or Sentinel addresses and the service name."""

    url: str | None = None
    sentinels: Sequence[str] = ()
    service: str = "vraagbaak"

    def env(self) -> dict[str, str]:
        if self.sentinels:
            return {"VRAAGBAAK_REDIS_SENTINELS": ",".join(self.sentinels),
                    "VRAAGBAAK_REDIS_SENTINEL_SERVICE": self.service}
        assert self.url is not None
        return {"VRAAGBAAK_REDIS_URL": self.url}


def _child(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, preexec_fn=die_with_parent,
                                close_fds=True)


@dataclass
class Instance:
    """One `vraagbaak run --no-worker` on its own web port and data directory."""

    name: str
    port: int
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.data_dir / f"run-{self.starts}.log"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start it and wait until it says it runs (the webhook is registered). Each start
        listens on a fresh port (the front follows): the old one may have become a client
        connection's local port meanwhile."""
        self.starts += 1
        if self.starts > 1:
            self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = _child([sys.executable, "-m", "bot.cli", "run", "--no-worker"],
                           {**self.env, "VRAAGBAAK_WEB_PORT": str(self.port)}, self.log)
        deadline = time.monotonic() + START_TIMEOUT
        while READY_LINE not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"instance {self.name} did not start:\n{tail}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """kill -9, as a machine that fails."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a redeploy does; waits for the exit and returns its code."""
        assert self.proc is not None
        self.proc.terminate()
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"instance {self.name} did not stop within {timeout} s")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=20)


@dataclass
class Front:
    """A round-robin load balancer for the webhook: each update to the next instance; on a
    refused connection or a 5xx answer, the same update to the following one."""

    backends: list[Instance]
    forwarded: int = 0
    retried: int = 0
    refused: int = 0  # no instance took it: Telegram (the sandbox) retries later
    seconds: float = 0.0  # spent waiting for the instances' answers, all updates together
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        first = next(self._turn)
        assert self._session is not None
        began = time.perf_counter()
        try:
            return await self._forward(body, headers, first)
        finally:
            self.seconds += time.perf_counter() - began

    async def _forward(self, body: bytes, headers: dict[str, str], first: int) -> web.Response:
        assert self._session is not None
        for i in range(len(self.backends)):
            backend = self.backends[(first + i) % len(self.backends)].url
            try:
                async with self._session.post(backend + WEBHOOK_PATH, data=body,
                                              headers=headers) as resp:
                    status, text = resp.status, await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                status, text = 0, b""
            if 0 < status < 500:
                self.forwarded += 1
                return web.Response(status=status, body=text)
            self.retried += 1
        self.refused += 1
        return web.Response(status=502)

    def figures(self) -> dict[str, float]:
        """What the front saw: updates forwarded, retried on the other instance, refused by
        all (the sandbox posts those again), and the mean wait for an instance's answer."""
        return {"forwarded": self.forwarded, "retried": self.retried, "refused": self.refused,
                "mean_backend_ms": 1000 * self.seconds / max(1, self.forwarded + self.refused)}

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Listen on a free loopback port; yields the webhook URL."""
        timeout = aiohttp.ClientTimeout(total=10, connect=1)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            app = web.Application()
            app.router.add_post(WEBHOOK_PATH, self.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            try:
                yield f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            finally:
                await runner.cleanup()


@contextlib.contextmanager
def soak_sandbox(log: Path, lanes: int) -> Any:
    """tests/soak_sandbox.py on a free port, posting over `lanes` connections; yields its
    URL and process id."""
    port = free_port()
    proc = _child([sys.executable, "-m", "tests.soak_sandbox", str(port), TOKEN, str(lanes)],
                  {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}, log)
    try:
        deadline = time.monotonic() + 60
        while "sandbox Telegram at" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop_process(proc, timeout=10)


def desk_env(redis: RedisAddress, database_url: str, sandbox_url: str, webhook_url: str,
             extra: dict[str, str]) -> dict[str, str]:
    """What every instance and the worker share."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    env.update(redis.env())
    env.update({
        "VRAAGBAAK_INSTANCES": "multi",
        "VRAAGBAAK_SECRET_KEY": SECRET_KEY,
        "VRAAGBAAK_DATABASE_URL": database_url,
        "VRAAGBAAK_TELEGRAM_TOKEN": TOKEN,
        "VRAAGBAAK_TELEGRAM_API_URL": sandbox_url,
        "VRAAGBAAK_WEBHOOK_URL": webhook_url,
        "VRAAGBAAK_OFFICE_HOURS": "always",
        "VRAAGBAAK_LOG_LEVEL": "INFO",
        # A load test is a flood by design: measure the desk, not its flood control.
        "VRAAGBAAK_FLOOD_MESSAGES": "0",
        "VRAAGBAAK_RATE_LIMIT_PER_SECOND": "1000",
    })
    env.update(extra)
    return env


@dataclass
class Desks:
    """The running parts; see the module docstring."""

    sandbox_url: str
    front: Front
    instances: dict[str, Instance]
    env: dict[str, str]
    worker: subprocess.Popen[bytes] | None
    tmp: Path
    session: aiohttp.ClientSession
    seen: list[dict[str, Any]] = field(default_factory=list)  # the sandbox's records so far
    sandbox_pid: int = 0

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) of each part so far (an instance since its last start),
        to show where a shared 2-core machine's time went."""
        pids = {f"instance {i.name}": i.proc.pid for i in self.instances.values()
                if i.proc is not None and i.alive}
        pids["sandbox"] = self.sandbox_pid
        if self.worker is not None:
            pids["worker"] = self.worker.pid
        out = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                out[name] = times.user + times.system
        own = psutil.Process().cpu_times()
        out["test process (front, load)"] = own.user + own.system
        return out

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, tmp: Path, database_url: str, redis: RedisAddress,
                    names: Sequence[str] = ("a", "b"), with_worker: bool = True,
                    extra_env: dict[str, str] | None = None,
                    lanes: int = LANES) -> AsyncIterator[Desks]:
        """Everything up (instances one after the other: the first creates the schema)."""
        tmp.mkdir(parents=True, exist_ok=True)
        instances = {name: Instance(name, free_port(), tmp / f"instance-{name}", {})
                     for name in names}
        front = Front(list(instances.values()))
        worker = None
        with soak_sandbox(tmp / "sandbox.log", lanes) as (sandbox_url, sandbox_pid):
            async with front.serving() as webhook_url, aiohttp.ClientSession() as session:
                env = desk_env(redis, database_url, sandbox_url, webhook_url, extra_env or {})
                try:
                    first: Instance | None = None
                    for instance in instances.values():
                        instance.env = {**env, "VRAAGBAAK_INSTANCE_ID": instance.name,
                                        "VRAAGBAAK_DATA_DIR": str(instance.data_dir)}
                        if first is None:  # the run's trained triage: a minute of CPU saved
                            seed(instance.data_dir)
                        else:
                            shutil.copytree(first.data_dir / "cache",
                                            instance.data_dir / "cache")
                        await instance.start()
                        first = first or instance
                    if with_worker:
                        worker_dir = tmp / "worker"
                        worker_dir.mkdir(exist_ok=True)
                        worker = _child([sys.executable, "-m", "bot.cli", "worker"],
                                        {**env, "VRAAGBAAK_INSTANCE_ID": "worker",
                                         "VRAAGBAAK_DATA_DIR": str(worker_dir)},
                                        worker_dir / "worker.log")
                    yield cls(sandbox_url, front, instances, env, worker, tmp, session,
                              sandbox_pid=sandbox_pid)
                finally:
                    for instance in instances.values():
                        instance.stop()
                    if worker is not None:
                        stop_process(worker, timeout=20)

    # -- the sandbox's API ------------------------------------------------------------

    async def send(self, user_id: int, text: str) -> None:
        """A user sends a text."""
        async with self.session.post(f"{self.sandbox_url}/sandbox/api/send", json={
                "user_id": user_id, "text": text, "first_name": "Soak",
                "language_code": "nl"}) as resp:
            assert resp.status == 200, await resp.text()

    async def press(self, user_id: int, message: dict[str, Any], label: str) -> None:
        """A user presses the button whose label contains `label`."""
        data = next(b["data"] for row in message["buttons"] for b in row
                    if label in b["text"])
        async with self.session.post(f"{self.sandbox_url}/sandbox/api/press", json={
                "user_id": user_id, "message_id": message["message_id"],
                "data": data}) as resp:
            assert resp.status == 200, await resp.text()

    async def inbox(self, user_id: int, after: int = 0) -> list[dict[str, Any]]:
        """What the bot sent that user (edits applied)."""
        async with self.session.get(f"{self.sandbox_url}/sandbox/api/inbox", params={
                "user_id": str(user_id), "after": str(after)}) as resp:
            return (await resp.json())["messages"]

    async def records(self, after: int = 0) -> list[dict[str, Any]]:
        """Every message the bot sent, in the order they landed, with times and answer keys
        (from the `after`-th on); fetched once, then only what is new."""
        async with self.session.get(f"{self.sandbox_url}/soak/records",
                                    params={"after": str(len(self.seen))}) as resp:
            self.seen.extend((await resp.json())["records"])
        return self.seen[after:]
