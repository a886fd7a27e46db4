"""Forgetting that reaches the disk: after /vergeet, and after a summary replaced a transcript,
Redis's append-only file is rewritten (rate-limited) and no file under DATA_DIR holds the
user's texts or Telegram id any more."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from bot.redis_server import make_client
from bot.settings import Settings
from handoff import handoff_keys as keys
from handoff.database import make_engine, migrate
from handoff.erasure import AofRewriter, request_rewrite, rewrite_lock, rewrite_requested
from handoff.summaries import Summariser, SummaryWriter
from tests.sandbox_client import DeskHarness, Person
from tests.test_handoff_e2e import make_expert, queued_user
from tests.test_summaries import snippet_topics

pytestmark = pytest.mark.timeout(120)

USER = 7302589146  # long enough not to occur by chance in timestamps or ids


async def rewrites(redis: Redis) -> int:
    """How many forks (rewrites) the server has made."""
    return int((await redis.info("stats"))["total_forks"])


async def wait_rewritten(redis: Redis, forks_before: int, timeout: float = 20.0) -> None:
    """Until every requested rewrite has started (after `forks_before`) and finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await redis.info("persistence")
        if (await rewrites(redis) > forks_before and not await redis.exists(rewrite_requested())
                and not info["aof_rewrite_in_progress"]
                and not info["aof_rewrite_scheduled"]):
            assert info["aof_last_bgrewrite_status"] == "ok"
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the append-only file was not rewritten")


def files_holding(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """needle -> the files under `root` whose bytes contain it."""
    hits: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_socket():
            data = path.read_bytes()
            for needle in needles:
                if needle.encode() in data:
                    hits.setdefault(needle, []).append(str(path.relative_to(root)))
    return hits


async def flushed(redis: Redis) -> None:
    """appendfsync everysec: wait until what was written is in the file."""
    await asyncio.sleep(1.2)


@pytest.fixture
def own_redis(settings: Settings) -> Settings:
    """The desk with its own embedded Redis under DATA_DIR, as `vraagbaak run` has it."""
    return settings.model_copy(update={"redis_url": None})


async def conversation(harness: DeskHarness, texts: list[str]) -> tuple[Person, Person, str]:
    anna = await make_expert(harness, 4201, "Anna")
    user = await queued_user(harness, USER, texts[0])
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    await anna.expect("📋")
    await user.send(texts[1])
    await anna.expect(texts[1])
    await anna.send(texts[2])
    await user.expect(texts[2])
    ticket = await harness.desk.handoff.ticket_of_user(USER)
    assert ticket is not None
    return anna, user, ticket.id


async def test_forget_leaves_no_text_or_id_in_any_file_under_data_dir(
    own_redis: Settings,
) -> None:
    texts = ["Mijn leerling Xandrian Quobbel deelt IS-filmpjes, wat nu?",
             "Hij woont in de Plopkoekstraat 9",
             "Vertel eens over Zonnewijzerlaan"]
    async with DeskHarness.start(own_redis) as harness:
        redis = harness.desk.redis
        anna, user, ticket_id = await conversation(harness, texts)
        await harness.desk.sessions.position_changed(ticket_id, 1)  # as if it waited a while
        await flushed(redis)
        needles = [*texts, str(USER)]
        # Before: everything is on disk, so the check below can fail.
        assert set(files_holding(own_redis.data_dir, needles)) == set(needles)
        before = await rewrites(redis)
        await user.send("/vergeet")
        confirm = await user.expect("Weet je het zeker?")
        await user.press_label(confirm, "Ja")
        await user.expect_edit(confirm, "gewist")
        # The expert is told the conversation ended (the wording differs per handoff version).
        await anna.expect(lambda m: "Vraagsteller" in m["text"] and (
            "beëindigd" in m["text"] or "gewist" in m["text"]))
        # Within seconds, or within the minute the rate limit may hold the last request back.
        await wait_rewritten(redis, before, timeout=75)
        await flushed(redis)
        assert await redis.hget(keys.positions(), ticket_id) is None
        assert files_holding(own_redis.data_dir, needles) == {}


async def test_a_written_summary_leaves_no_transcript_in_any_file(
    own_redis: Settings, anonymiser,
) -> None:
    texts = ["Mijn leerling Xandrian Quobbel deelt IS-filmpjes, wat nu?",
             "Zijn moeder belt vanaf 06-19283746",
             "Vertel eens over Zonnewijzerlaan"]
    comment = "Dank, groet van xandrian.q@example.org"
    engine = make_engine(own_redis.sqlalchemy_url)
    await migrate(engine)
    try:
        async with DeskHarness.start(own_redis) as harness:
            redis = harness.desk.redis
            anna, user, _ = await conversation(harness, texts)
            await anna.send("/sluit")
            outcome = await anna.expect("uitkomst")
            await anna.press_label(outcome, "Doorverwezen")
            await anna.expect_edit(outcome, "samenvatting")
            await anna.send("Docent bezorgd, de moeder belt vanaf 06-19283746.")
            await anna.expect("Afgesloten")
            rating = await user.expect("1 = helemaal niet")
            await user.press(rating, next(b["data"] for b in rating["buttons"][0]
                                          if b["text"] == "4"))
            await user.expect_edit(rating, "4 van de 5")
            await user.send(comment)
            await user.expect("opgeslagen")
            await flushed(redis)
            # The question itself stays 24 hours in the user's recent questions (by design, so
            # /expert can pass it on the same day; /vergeet removes it, tested above).
            assert texts[0] in await harness.desk.asked.questions(USER)
            needles = [*texts[1:], "06-19283746", "xandrian.q@example.org"]
            assert set(files_holding(own_redis.data_dir, needles)) == set(needles)
            writer = SummaryWriter(engine, anonymiser, own_redis.secret(), own_redis.zone,
                                   snippet_topics)
            worker = Summariser(redis, writer, "w1")
            await worker.ensure_group()
            before = await rewrites(redis)
            for _ in range(5):
                if await redis.xlen(keys.summaries()) == 0:
                    break
                await worker.run_once(block_ms=10)
            assert await redis.xlen(keys.summaries()) == 0
            # Each job asked for a rewrite; the rate limit would hold the later ones back a
            # minute (tested below): let that minute pass.
            await redis.delete(rewrite_lock())
            await wait_rewritten(redis, before)
            await flushed(redis)
            # The ticket (with the Telegram id) stays until its TTL, so a late rating finds
            # its job; the texts are gone from every file, the SQL row kept none of them.
            assert files_holding(own_redis.data_dir, needles) == {}
    finally:
        await engine.dispose()


async def test_rewrites_are_rate_limited_and_hourly_without_requests(redis: Redis) -> None:
    now = [1000.0]
    rewriter = AofRewriter(redis, min_interval=1, max_interval=3600, clock=lambda: now[0])
    assert await rewriter.tick() is False  # nothing asked, nothing due
    await request_rewrite(redis)
    assert await rewriter.tick() is True
    assert await redis.exists(rewrite_requested()) == 0
    await request_rewrite(redis)
    assert await rewriter.tick() is False  # at most one per interval
    assert await redis.exists(rewrite_requested()) == 1  # still asked for: done next time
    await asyncio.sleep(1.1)
    for _ in range(50):  # the first rewrite may still be running
        if await rewriter.tick():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the requested rewrite never came")
    assert await redis.exists(rewrite_requested()) == 0
    await redis.delete(rewrite_lock())
    await asyncio.sleep(0.5)
    now[0] += 3601  # expired keys leave the file too: a rewrite at least hourly
    for _ in range(50):
        if await rewriter.tick():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("no hourly rewrite")


async def test_the_rewrite_loop_stops_within_seconds(redis: Redis) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(AofRewriter(redis, poll=1.0).run(stop))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 3)
    assert time.monotonic() - started < 1.5


async def test_a_redis_that_refuses_the_rewrite_is_logged_at_info_not_fatal(
    redis: Redis, settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    # An external Redis may forbid BGREWRITEAOF; an ACL user here forbids it for real.
    await redis.acl_setuser("no-rewrite", enabled=True, nopass=True, keys=["*"],
                            commands=["+@all", "-bgrewriteaof"], reset=True)
    assert settings.redis_url is not None
    limited = make_client(settings.redis_url.replace("unix://", "unix://no-rewrite@"))
    try:
        with pytest.raises(NoPermissionError):
            await limited.bgrewriteaof()
        caplog.set_level(logging.INFO, "handoff.erasure")
        await request_rewrite(limited)
        assert await AofRewriter(limited).tick() is False
        [record] = [r for r in caplog.records if r.name == "handoff.erasure"]
        assert record.levelno == logging.INFO and "refused" in record.getMessage()
    finally:
        await limited.aclose(close_connection_pool=True)
        await redis.acl_deluser("no-rewrite")
