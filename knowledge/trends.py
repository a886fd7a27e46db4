"""Anonymous trend rows: one per answered question, with no text and no user id.

The bot appends rows to a Redis stream; the summariser worker copies them into SQL. Whether
the guidance helped and whether a handoff followed are added later through a random row key
that Redis keeps for the user's last question only briefly."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from handoff.batch import Batch
from knowledge import keys

# Long enough to vote or ask for an expert after reading the answer, short enough to forget.
LAST_TTL_SECONDS = 2 * 3600


class TrendRecorder:
    """Writes the anonymous question rows and per-snippet counters."""

    def __init__(self, redis: Redis, zone: ZoneInfo,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.zone = zone
        self.clock = clock

    async def answered(self, user_id: int, topic: str, role: str | None, lang: str,
                       urgent: bool, snippet: str) -> None:
        """Record one answered question (the user id only keys the short-lived pointer)."""
        batch = Batch()
        self.queue_answered(batch, user_id, topic, role, lang, urgent, snippet)
        await batch.run(self.redis)

    def queue_answered(self, batch: Batch, user_id: int, topic: str, role: str | None,
                       lang: str, urgent: bool, snippet: str | None) -> None:
        """`answered`, as commands on the caller's batch (one round trip with others);
        `snippet` None: no card fitted and the desk said so (nothing was served)."""
        row = secrets.token_hex(16)
        day = datetime.fromtimestamp(self.clock(), self.zone).date().isoformat()
        batch.xadd(keys.trends(), {"kind": "question", "row": row, "day": day,
                                  "topic": topic, "role": role or "", "lang": lang,
                                  "urgent": "1" if urgent else "0"})
        batch.hset(keys.trend_last(user_id), mapping={"row": row, "snippet": snippet or ""})
        batch.expire(keys.trend_last(user_id), LAST_TTL_SECONDS)
        if snippet is not None:
            batch.hincrby(keys.snippet_served(), snippet, 1)

    async def helped(self, user_id: int, helpful: bool) -> None:
        """The user voted on the guidance of their last question."""
        row = await self.redis.hget(keys.trend_last(user_id), "row")
        if row:
            await self.redis.xadd(keys.trends(), {"kind": "helped", "row": row,
                                                  "helped": "1" if helpful else "0"})

    async def handoff(self, user_id: int) -> None:
        """A handoff to an expert followed the user's last question (counted once)."""
        last = await self.redis.hgetall(keys.trend_last(user_id))
        if not last.get("row"):
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.trends(), {"kind": "handoff", "row": last["row"]})
            pipe.hincrby(keys.snippet_handoff(), last.get("snippet", ""), 1)
            pipe.delete(keys.trend_last(user_id))
            await pipe.execute()

    async def forget(self, user_id: int) -> None:
        """Drop the pointer from this user to their last row (the row itself is anonymous)."""
        await self.redis.delete(keys.trend_last(user_id))


async def snippet_counts(redis: Redis) -> tuple[dict[str, int], dict[str, int]]:
    """(times served, handoffs that followed) per snippet id."""
    served = await redis.hgetall(keys.snippet_served())
    handoffs = await redis.hgetall(keys.snippet_handoff())
    return ({k: int(v) for k, v in served.items()}, {k: int(v) for k, v in handoffs.items()})
