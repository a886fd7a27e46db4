"""Privacy that holds on disk and in the logs: private files, no token anywhere, unlinkable
summaries, dead letters that expire, ratings only for closed conversations."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.files import read_or_create_secret
from bot.logs import Redactor, RedactTokens, quiet_libraries, setup_logging
from bot.processes import stop_process
from bot.redis_server import EmbeddedRedis
from bot.runtime import running_sandbox
from bot.settings import Settings
from bot.worker import spawn_worker
from handoff import handoff_keys as keys
from handoff.database import make_engine, migrate
from handoff.pseudonyms import Pseudonyms
from handoff.summaries import (
    GROUP,
    MAX_ATTEMPTS,
    Summariser,
    SummaryWriter,
    load_rows,
    queue_rating,
)
from handoff.tickets import HandoffStore
from tests.sandbox_client import DeskHarness
from tests.test_handoff_e2e import make_expert, queued_user
from tests.test_summaries import snippet_topics
from tests.trained import seed

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).parent.parent
ZONE = ZoneInfo("Europe/Amsterdam")


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# -- files ------------------------------------------------------------------------------------

async def test_everything_under_data_dir_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # An older version left a world-readable directory and AOF behind: they are tightened.
    (data / "redis").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    (data / "redis" / "appendonly.aof").write_bytes(b"")
    (data / "redis" / "appendonly.aof").chmod(0o644)
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    server = EmbeddedRedis(data)
    server.start()
    try:
        secret = settings.secret()
        assert len(secret) == 64 and settings.secret() == secret
        engine = make_engine(settings.sqlalchemy_url)
        await migrate(engine)
        await engine.dispose()
        files = [data / "secret.key", data / "vraagbaak.db", server.pidfile,
                 server.dir / "appendonly.aof", server.dir / "redis.log"]
        for path in files:
            assert mode(path) == 0o600, path
        assert mode(data) == mode(server.dir) == 0o700
    finally:
        server.stop()


def test_the_secret_key_is_created_once_and_private_even_in_a_race(tmp_path: Path) -> None:
    path = tmp_path / "new" / "secret.key"
    keys_read: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys_read.append(read_or_create_secret(path)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys_read)) == 1 and len(keys_read) == 8
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary left


def test_the_cli_creates_files_with_umask_077(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "VRAAGBAAK_DATA_DIR": str(data)}
    env.pop("VRAAGBAAK_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "summaries", "export"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700 and mode(data / "vraagbaak.db") == 0o600
    assert all(mode(p) & 0o077 == 0 for p in data.rglob("*"))


# -- tokens -----------------------------------------------------------------------------------

TOKEN = "7000000001:WRONG-token-xyz"  # too short for the token pattern: only the setting tells


def test_log_records_and_tracebacks_are_redacted() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactTokens(Redactor([TOKEN])))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling https://api.telegram.org/bot%s/getMe", TOKEN)
        logger.warning("another bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            logger.exception("start failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "rejected by the server" in text and "getMe" in text
    assert "WRONG-token-xyz" not in text and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text
    assert text.count("<token>") == 3


def test_uncaught_errors_are_printed_redacted(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", [TOKEN])
        try:
            raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        thread = threading.Thread(target=lambda: (_ for _ in ()).throw(
            ValueError(f"in a thread {TOKEN}")))
        thread.start()
        thread.join()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "rejected by the server" in err and "in a thread" in err
    assert "WRONG-token-xyz" not in err


async def test_a_rejected_token_never_reaches_stderr(settings: Settings, tmp_path: Path) -> None:
    seed(tmp_path / "data")  # the run's training: no minute of it before the token is tried
    async with running_sandbox("127.0.0.1", 0) as (_sandbox, url):
        env = {**os.environ, "VRAAGBAAK_TELEGRAM_TOKEN": TOKEN, "VRAAGBAAK_TELEGRAM_API_URL": url,
               "VRAAGBAAK_REDIS_URL": str(settings.redis_url), "VRAAGBAAK_LOG_LEVEL": "DEBUG",
               "VRAAGBAAK_DATA_DIR": str(tmp_path / "data"), "VRAAGBAAK_WEB_PORT": "0"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--no-worker", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    output = (out + err).decode()
    assert proc.returncode == 1, output
    assert "Telegram refused VRAAGBAAK_TELEGRAM_TOKEN" in output
    assert "WRONG-token-xyz" not in output and TOKEN not in output


async def test_the_worker_starts_without_the_token(monkeypatch: pytest.MonkeyPatch,
                                                   settings: Settings) -> None:
    monkeypatch.setenv("VRAAGBAAK_TELEGRAM_TOKEN", TOKEN)
    proc = spawn_worker(str(settings.redis_url))
    try:
        deadline = time.monotonic() + 10
        # Until the child has exec'd, /proc shows the parent's copied environment.
        while b"bot.cli" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        stop_process(proc, 5)
    assert f"VRAAGBAAK_REDIS_URL={settings.redis_url}".encode() in environ
    assert not any(b"WRONG-token" in item or item.startswith(b"VRAAGBAAK_TELEGRAM_TOKEN")
                   for item in environ)


# -- summaries: SQL loggers, unlinkability, dead letters, ratings ------------------------------

@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.sqlalchemy_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def closed(redis: Redis, summary: str = "Advies gegeven.") -> str:
    store = HandoffStore(redis)
    ticket = await store.open(5001, "nl", "family", "jeugdhulp", "Gelderland", False, [])
    assert await store.claim(ticket.id, 6001, 3) == "ok"
    await store.close(ticket.id, summary, "advice")
    return ticket.id


async def test_sql_drivers_log_nothing_even_at_debug(
    redis: Redis, engine: AsyncEngine, anonymiser, caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_libraries("DEBUG")  # what setup_logging does with VRAAGBAAK_LOG_LEVEL=DEBUG
    caplog.set_level(logging.DEBUG)
    await closed(redis, "Zorgen van een mentor, doorverwezen naar het Veiligheidshuis.")
    writer = SummaryWriter(engine, anonymiser, b"k", ZONE, snippet_topics)
    worker = Summariser(redis, writer, "w1")
    await worker.ensure_group()
    assert await worker.run_once(block_ms=10) == 1
    [row] = await load_rows(engine)
    assert "Veiligheidshuis" in row.summary
    for name in ("sqlalchemy", "aiosqlite", "asyncpg"):
        assert logging.getLogger(name + ".x").getEffectiveLevel() >= logging.WARNING
    assert not [r for r in caplog.records if r.name.startswith(("sqlalchemy", "aiosqlite"))]
    assert "Veiligheidshuis" not in caplog.text


def derivable(secret: bytes, values: set[str]) -> set[str]:
    """Everything an attacker with the secret key computes from the ids and pseudonyms seen."""
    out = set()
    for value in values:
        for purpose in ("summary", "log", "expert", "asker", "job", ""):
            message = f"{purpose}:{value}" if purpose else value
            digest = hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()
            out |= {digest, digest[:10], digest[:12], digest[:32]}
        out |= {hashlib.sha256(value.encode()).hexdigest(), value}
    return out


async def test_no_summary_row_can_be_joined_to_a_user(
    settings: Settings, redis: Redis, anonymiser, caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_libraries("DEBUG")  # the desk's own logging at its most talkative
    caplog.set_level(logging.DEBUG)
    settings = settings.model_copy(update={"secret_key": None})  # secret.key on disk
    engine = make_engine(settings.sqlalchemy_url)
    await migrate(engine)
    user_id = 7302589147
    try:
        async with DeskHarness.start(settings) as harness:
            anna = await make_expert(harness, 4301, "Anna")
            user = await queued_user(harness, user_id, "Hoe praat ik met ouders over "
                                                       "complotdenken?")
            await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
            await anna.expect("📋")
            await anna.send("/sluit")
            outcome = await anna.expect("uitkomst")
            await anna.press_label(outcome, "Advies gegeven")
            await anna.expect_edit(outcome, "samenvatting")
            await anna.send("Tips gegeven voor het gesprek met de ouders.")
            await anna.expect("Afgesloten")
            rating = await user.expect("1 = helemaal niet")
            await user.press(rating, rating["buttons"][0][3]["data"])
            await user.expect_edit(rating, "4 van de 5")
            await user.send("/skip")
            await user.expect("Oké")
            writer = SummaryWriter(engine, anonymiser, settings.secret(), settings.zone,
                                   snippet_topics)
            worker = Summariser(harness.desk.redis, writer, "w1")
            await worker.ensure_group()
            for _ in range(5):
                if await redis.xlen(keys.summaries()) == 0:
                    break
                await worker.run_once(block_ms=10)
            [row] = await load_rows(engine)
            assert row.rating == 4
            logs = "\n".join(r.getMessage() for r in caplog.records)
            # The attack of the issue: ticket ids and user pseudonyms from the logs, the secret
            # file, the database.
            ticket_ids = set(re.findall(r"ticket=(\S+)", logs))
            pseudonyms = set(re.findall(r"user=(u[0-9a-f]{10})", logs))
            assert ticket_ids and pseudonyms
            secret = (settings.data_dir / "secret.key").read_text().strip().encode()
            assert secret == settings.secret()
            # A log pseudonym cannot be recomputed from the Telegram id, even with the secret.
            assert not pseudonyms & {"u" + d[:10] for d in derivable(secret, {str(user_id)})}
            known = derivable(secret, ticket_ids | pseudonyms | {str(user_id)})
            stored = {str(v) for v in row.model_dump().values() if v is not None}
            assert not stored & known
            assert row.job_key not in logs and not any(row.job_key in k for k in known)
            # /vergeet removes the only link left (the ticket in Redis, also until its TTL).
            await user.send("/vergeet")
            confirm = await user.expect("Weet je het zeker?")
            await user.press_label(confirm, "Ja")
            await user.expect_edit(confirm, "gewist")
            for key in await redis.keys("*"):
                if await redis.type(key) == "hash":
                    assert row.job_key not in (await redis.hgetall(key)).values()
    finally:
        await engine.dispose()


def test_log_pseudonyms_change_every_day_and_never_come_from_the_secret() -> None:
    now = [datetime(2026, 12, 1, 23, 59, tzinfo=ZONE).timestamp()]
    names = Pseudonyms(b"secret", clock=lambda: now[0], zone=ZONE)
    today = names.log_id(42)
    assert names.log_id(42) == today and names.log_id(43) != today
    assert Pseudonyms(b"secret", clock=lambda: now[0], zone=ZONE).log_id(42) != today
    now[0] += 120  # past midnight
    assert names.log_id(42) != today
    assert today[1:] not in derivable(b"secret", {"42"})


async def test_a_forged_rating_leaves_no_job_and_a_rating_counts_once(redis: Redis) -> None:
    store = HandoffStore(redis)
    ticket = await store.open(5002, "nl", "family", "jeugdhulp", "Gelderland", False, [])
    assert await queue_rating(redis, ticket.id, rating=5) is False  # queued
    assert await store.claim(ticket.id, 6001, 3) == "ok"
    assert await queue_rating(redis, ticket.id, comment="Jan Jansen, 06-12345678") is False
    assert await queue_rating(redis, "no-such-ticket", rating=3) is False
    assert await redis.xlen(keys.summaries()) == 0
    await store.close(ticket.id, "Advies.", "advice")
    assert await queue_rating(redis, ticket.id, rating=0) is False
    assert await queue_rating(redis, ticket.id, rating=4) is True
    assert await queue_rating(redis, ticket.id, rating=1) is False
    assert await queue_rating(redis, ticket.id, comment="Fijn") is True
    assert await queue_rating(redis, ticket.id, comment="Nog eens") is False
    jobs = [job for _, job in await redis.xrange(keys.summaries())]
    assert [job.get("kind", "close") for job in jobs] == ["close", "rating", "rating"]
    assert {job["job_key"] for job in jobs} == {jobs[0]["job_key"]}
    assert "ticket_id" not in jobs[1] and "ticket_id" not in jobs[2]


async def test_a_failing_job_goes_to_expiring_dead_letters(
    redis: Redis, engine: AsyncEngine, anonymiser, caplog: pytest.LogCaptureFixture,
) -> None:
    ttl = 3600
    writer = SummaryWriter(engine, anonymiser, b"k", ZONE, snippet_topics)
    worker = Summariser(redis, writer, "w1", reclaim_idle_ms=0, ttl_seconds=ttl)
    await worker.ensure_group()
    # A rating whose conversation never got a row (e.g. queued before an upgrade): it fails.
    entry = await redis.xadd(keys.summaries(), {"kind": "rating", "job_key": "f" * 32,
                                                "comment": "Jan Jansen, 06-12345678"})
    for _ in range(MAX_ATTEMPTS + 1):
        assert await worker.run_once(block_ms=10) == 0
    assert await redis.xlen(keys.summaries()) == 0
    assert (await redis.xpending(keys.summaries(), GROUP))["pending"] == 0
    [(_, dead)] = await redis.xrange(keys.summaries_dead())
    assert dead["entry"] == entry and int(dead["attempts"]) == MAX_ATTEMPTS + 1
    age_ms = int(time.time() * 1000) - int(entry.split("-")[0])  # measured before the PTTL
    assert 0 < await redis.pttl(keys.summaries_dead()) <= ttl * 1000 - age_ms
    assert "dead letters" in caplog.text and "06-12345678" not in caplog.text


async def test_no_job_outlives_the_transcript_ttl(redis: Redis, engine: AsyncEngine,
                                                  anonymiser) -> None:
    ttl = 60
    writer = SummaryWriter(engine, anonymiser, b"k", ZONE, snippet_topics)
    worker = Summariser(redis, writer, "w1", reclaim_idle_ms=0, ttl_seconds=ttl)
    await worker.ensure_group()
    now_ms = int(time.time() * 1000)
    old = f"{now_ms - (ttl + 5) * 1000}-0"
    await redis.xadd(keys.summaries(), {"kind": "rating", "job_key": "a" * 32,
                                        "comment": "oud, 06-12345678"}, id=old)
    await worker.run_once(block_ms=10)
    assert await redis.xrange(keys.summaries()) == []
    # A failing job close to its TTL: the dead letters expire when its TTL would have.
    near = f"{now_ms - (ttl - 10) * 1000}-0"
    await redis.xadd(keys.summaries(), {"kind": "rating", "job_key": "b" * 32}, id=near)
    for _ in range(MAX_ATTEMPTS + 1):
        await worker.run_once(block_ms=10)
    assert await redis.xlen(keys.summaries_dead()) == 1
    assert 0 < await redis.pttl(keys.summaries_dead()) <= 10_000


async def test_a_rating_before_the_close_rides_with_the_close_job(
    redis: Redis, engine: AsyncEngine, anonymiser,
) -> None:
    # The asker may rate a conversation that ended before the expert's summary closed it.
    store = HandoffStore(redis)
    ticket = await store.open(5003, "nl", "family", "jeugdhulp", "Gelderland", False, [])
    assert await store.claim(ticket.id, 6001, 3) == "ok"
    await redis.hset(keys.ticket(ticket.id), "state", "ended")
    assert await queue_rating(redis, ticket.id, rating=2) is True
    assert await queue_rating(redis, ticket.id, comment="Mail me: jan@example.org") is True
    assert await queue_rating(redis, ticket.id, rating=5) is False
    assert await redis.xlen(keys.summaries()) == 0  # nothing that could wait forever
    await redis.hset(keys.ticket(ticket.id), "state", "active")
    await store.close(ticket.id, "Advies gegeven.", "advice")
    [(_, job)] = await redis.xrange(keys.summaries())
    assert job["rating"] == "2" and "pending_comment" not in await redis.hgetall(
        keys.ticket(ticket.id))
    worker = Summariser(redis, SummaryWriter(engine, anonymiser, b"k", ZONE, snippet_topics),
                        "w1")
    await worker.ensure_group()
    assert await worker.run_once(block_ms=10) == 1
    [row] = await load_rows(engine)
    assert row.rating == 2 and row.comment is not None and "jan@example.org" not in row.comment


async def test_the_migration_replaces_job_keys_computable_from_ticket_ids(
    settings: Settings,
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from handoff.database import MIGRATIONS

    def upgrade(connection, revision: str) -> None:  # type: ignore[no-untyped-def]
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    old_key = hmac.new(b"test-secret", b"summary:T1", hashlib.sha256).hexdigest()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade, "0001")
            await connection.execute(text(
                "INSERT INTO conversation_summary (job_key, closed_on, topic, secondary_topics, "
                "sector, province, urgent, lang, outcome, summary, snippets, expert_ref) VALUES "
                "(:key, '2026-11-30', 'family', '', 'onderwijs', 'Utrecht', 0, 'nl', 'advice', "
                "'', '', '')"), {"key": old_key})
        await migrate(engine)
        [row] = await load_rows(engine)
        assert row.job_key != old_key and len(row.job_key) == 32
    finally:
        await engine.dispose()
