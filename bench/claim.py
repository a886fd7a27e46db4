"""Claim latency: HandoffStore.claim_next with few and with very many tickets waiting.

Domain level, no Telegram: the store on an embedded redis-server, as the desk runs it. Both
queues are filled first, each server is left to finish any background rewrite the fill started
(a desk in steady state is not rewriting a freshly written 60 MB file), the scripts are loaded
by one untimed claim, and then the claims alternate between the two queues, so a slow moment of
this shared machine hits both alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import Redis

from bench.stats import Measure, percentile
from bot.redis_server import redis_for
from handoff.tickets import HandoffStore

FILL_CHUNK = 500
LANGS = ("nl", "en")
TOPICS = ("signals", "conversation", "online", "polarisation")
EXPERT_TOPICS = (TOPICS[0],)
FIRST_USER = 1_000_000
FIRST_EXPERT = 900_000
SETTLE_POLL_SECONDS = 0.1


@contextlib.asynccontextmanager
async def fresh_redis() -> AsyncIterator[Redis]:
    """An embedded redis-server in a temporary directory, emptied."""
    with tempfile.TemporaryDirectory(prefix="vraagbaak-claim-") as tmp:
        async with redis_for(None, Path(tmp)) as redis:
            yield redis


async def fill(store: HandoffStore, first_user: int, count: int) -> None:
    """Queue `count` tickets from distinct users, a mix of languages, topics and urgency."""
    for start in range(0, count, FILL_CHUNK):
        await asyncio.gather(*(
            store.open(first_user + i, LANGS[i % 2], TOPICS[i % len(TOPICS)], "education",
                       "Utrecht", i % 17 == 0)
            for i in range(start, min(start + FILL_CHUNK, count))))


async def settle(redis: Redis) -> float:
    """Wait until Redis runs no background AOF rewrite or RDB save; the seconds waited."""
    began = time.perf_counter()
    while True:
        info = await redis.info("persistence")
        if not (info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]
                or info["rdb_bgsave_in_progress"]):
            return time.perf_counter() - began
        await asyncio.sleep(SETTLE_POLL_SECONDS)


async def timed_claim(store: HandoffStore, expert_id: int) -> float:
    """Seconds one claim_next takes; it must find a ticket."""
    start = time.perf_counter()
    ticket = await store.claim_next(expert_id, EXPERT_TOPICS, LANGS, 3)
    seconds = time.perf_counter() - start
    if ticket is None:
        raise RuntimeError("claim_next found nothing in a full queue")
    return seconds


async def claim_latencies(sizes: tuple[int, ...],
                          claims: int) -> tuple[list[list[float]], list[float]]:
    """Seconds per claim_next for each queue size, with at least that many tickets left in the
    queue after every claim, the claims alternating between the queues, in turn going first;
    and the seconds each server was still busy with a background save after its fill."""
    async with contextlib.AsyncExitStack() as stack:
        stores = []
        for size in sizes:
            redis = await stack.enter_async_context(fresh_redis())
            store = HandoffStore(redis)
            await fill(store, FIRST_USER, size + claims + 1)
            stores.append(store)
        waited = [await settle(store.redis) for store in stores]
        for store in stores:
            await timed_claim(store, FIRST_EXPERT - 1)  # loads the scripts; not counted
        seconds: list[list[float]] = [[] for _ in sizes]
        for expert in range(claims):
            order = range(len(stores)) if expert % 2 == 0 else reversed(range(len(stores)))
            for which in order:
                seconds[which].append(await timed_claim(stores[which], FIRST_EXPERT + expert))
        return seconds, waited


async def measure(big: int, small: int, claims: int) -> list[Measure]:
    """Claim latency with `small` and with `big` tickets waiting, and the ratio of medians."""
    (small_s, big_s), waited = await claim_latencies((small, big), claims)

    def p95(values: list[float]) -> float:
        return 1000 * percentile(values, 95)

    def note(values: list[float], waited: float) -> str:
        return (f"{claims} claims, one expert each, alternating with the other queue; "
                f"p95 {p95(values):.2f} ms; waited {waited:.1f} s for a background save "
                "after the fill")

    few = Measure(f"claim_next, {small:,} waiting", "ms", tuple(1000 * s for s in small_s),
                  note(small_s, waited[0]))
    many = Measure(f"claim_next, {big:,} waiting", "ms", tuple(1000 * s for s in big_s),
                   note(big_s, waited[1]))
    ratio = Measure(f"ratio: claim {big:,} / {small:,} waiting", "x",
                    (percentile(big_s, 50) / percentile(small_s, 50),),
                    f"ratio of medians; of p95s {p95(big_s) / p95(small_s):.2f}")
    return [few, many, ratio]
