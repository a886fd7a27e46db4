"""Claim latency: HandoffStore.claim_next with few and with very many tickets waiting.

Domain level, no Telegram: the store on an embedded redis-server, as the desk runs it.
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


async def claim_latencies(waiting: int, claims: int) -> list[float]:
    """Seconds per claim_next with `waiting` tickets left in the queue after each claim."""
    async with fresh_redis() as redis:
        store = HandoffStore(redis)
        await fill(store, 1_000_000, waiting + claims)
        seconds = []
        for expert in range(claims):
            start = time.perf_counter()
            ticket = await store.claim_next(900_000 + expert, (TOPICS[0],), LANGS, 3)
            seconds.append(time.perf_counter() - start)
            if ticket is None:
                raise RuntimeError("claim_next found nothing in a full queue")
        return seconds


async def measure(big: int, small: int, claims: int) -> list[Measure]:
    """p50 claim latency with `small` and with `big` tickets waiting, and their ratio."""
    small_s = await claim_latencies(small, claims)
    big_s = await claim_latencies(big, claims)
    few = Measure(f"claim_next, {small:,} waiting", "ms",
                  tuple(1000 * s for s in small_s), f"{claims} claims, one expert each")
    many = Measure(f"claim_next, {big:,} waiting", "ms",
                   tuple(1000 * s for s in big_s), f"{claims} claims, one expert each")
    ratio = Measure(f"ratio: claim {big:,} / {small:,} waiting", "x",
                    (percentile(big_s, 50) / percentile(small_s, 50),), "ratio of medians")
    return [few, many, ratio]
