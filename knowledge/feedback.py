"""Counts 'helps / does not help' per snippet in Redis, with no user attached."""

from __future__ import annotations

from redis.asyncio import Redis

from knowledge import keys


class FeedbackStore:
    """Anonymous per-snippet counters."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def record(self, snippet_id: str, helpful: bool) -> None:
        """Count one vote."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(keys.feedback(snippet_id), "up" if helpful else "down", 1)
            pipe.sadd(keys.feedback_index(), snippet_id)
            await pipe.execute()

    async def counts(self) -> dict[str, tuple[int, int]]:
        """(helpful, not helpful) per snippet id."""
        ids = sorted(await self.redis.smembers(keys.feedback_index()))
        out = {}
        for sid in ids:
            data = await self.redis.hgetall(keys.feedback(sid))
            out[sid] = (int(data.get("up", 0)), int(data.get("down", 0)))
        return out
