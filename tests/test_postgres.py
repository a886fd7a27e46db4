"""The summariser against a real PostgreSQL (the server from Debian's postgresql package, run
for the test as the postgres user): `sslmode` in the URL works, and PostgreSQL down for 10 s
while a summary waits costs nothing: the job is written once when it is back."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.settings import Settings
from handoff import handoff_keys as keys
from handoff.database import make_engine, migrate
from handoff.summaries import Summariser
from tests.sandbox_process import free_port
from tests.test_summaries import closed_ticket, rows

POSTGRES = shutil.which("postgres")
INITDB = shutil.which("initdb")


def _pg_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


pytestmark = pytest.mark.skipif(
    POSTGRES is None or INITDB is None or os.geteuid() != 0 or _pg_user() is None,
    reason="needs the postgresql server binaries, root and a postgres user")


class Postgres:
    """A throwaway server on a free port; stop() and start() keep its data."""

    def __init__(self) -> None:
        user = _pg_user()
        assert user is not None
        self.user = user
        self.dir = Path(tempfile.mkdtemp(prefix="vb-pg-"))
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run(["runuser", "-u", "postgres", "--", str(INITDB), "-D",
                        str(self.dir / "data"), "-A", "trust", "-U", "vb", "--no-sync"],
                       check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"postgresql://vb@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", str(POSTGRES), "-D", str(self.dir / "data"),
             "-p", str(self.port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.port)],
                                  capture_output=True)
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError("PostgreSQL did not start")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # runuser passes SIGTERM on: a "smart" shutdown
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # The postmaster itself (runuser's child) must be gone before a restart.
        pid_file = self.dir / "data" / "postmaster.pid"
        deadline = time.monotonic() + 15
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.mark.timeout(60)
async def test_sslmode_in_the_url_reaches_postgres(postgres: Postgres,
                                                   settings: Settings) -> None:
    url = settings.model_copy(update={"database_url": postgres.url}).sqlalchemy_url
    assert url.endswith("?ssl=disable")
    engine = make_engine(url)
    try:
        await migrate(engine)
        assert await rows(engine) == []
    finally:
        await engine.dispose()


@pytest.mark.timeout(240)
async def test_postgres_down_ten_seconds_the_job_waits_and_is_written_once(
        postgres: Postgres, settings: Settings, redis: Redis, anonymiser) -> None:
    from zoneinfo import ZoneInfo

    from handoff.summaries import SummaryWriter
    from knowledge.feedback import FeedbackStore
    from tests.test_summaries import snippet_topics

    url = settings.model_copy(update={"database_url": postgres.url}).sqlalchemy_url
    engine = make_engine(url)
    await migrate(engine)
    writer = SummaryWriter(engine, anonymiser, b"test-secret", ZoneInfo("Europe/Amsterdam"),
                           snippet_topics)
    worker = Summariser(redis, writer, "w-pg", reclaim_idle_ms=500)
    stop = asyncio.Event()
    try:
        postgres.stop()
        await closed_ticket(redis, "Doorverwezen naar het Steunpunt.")
        feedback = FeedbackStore(redis)
        await feedback.record("some-snippet", True)  # so each round writes to PostgreSQL

        async def copy_feedback() -> None:  # as the real worker does each round
            await writer.copy_feedback(await feedback.counts())

        running = asyncio.create_task(worker.run(stop, copy_feedback))
        await asyncio.sleep(10)
        assert not running.done(), "the worker loop ended while PostgreSQL was down"
        postgres.start()
        back = time.monotonic()
        deadline = back + 30
        written = []
        while time.monotonic() < deadline:
            try:
                written = await rows(engine)
            except Exception:
                written = []
            if written:
                break
            await asyncio.sleep(0.2)
        print(f"\nsummary written {time.monotonic() - back:.1f} s after PostgreSQL returned")
        await asyncio.sleep(2.0)  # a second write would show up by now
        assert len(await rows(engine)) == 1
        assert await redis.xlen(keys.summaries()) == 0  # acknowledged and deleted
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await engine.dispose()
