"""Small pieces of conversational state around the handoff, kept in Redis with short TTLs."""

from __future__ import annotations

import statistics

from redis.asyncio import Redis

from handoff import handoff_keys as keys

INTAKE_TTL = 3600
MAX_WAITS = 50

# Compare and set in one step: two sweeps that overlap (a late one, or one on a second
# instance) tell an asker their new place once, not twice.
# KEYS: positions; ARGV: ticket_id, position
_POSITION_CHANGED = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class SessionStore:
    """Intake answers, queue positions told, and recent waiting times."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._position_changed = redis.register_script(_POSITION_CHANGED)

    async def set_intake(self, user_id: int, field: str, value: str) -> dict[str, str]:
        """Record one intake answer; returns all answers so far."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.intake(user_id), field, value)
            pipe.expire(keys.intake(user_id), INTAKE_TTL)
            pipe.hgetall(keys.intake(user_id))
            return (await pipe.execute())[2]

    async def intake(self, user_id: int) -> dict[str, str]:
        """The intake answers so far."""
        return await self.redis.hgetall(keys.intake(user_id))

    async def take_intake(self, user_id: int) -> dict[str, str]:
        """The intake answers, deleted as they are read."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.intake(user_id))
            pipe.delete(keys.intake(user_id))
            return (await pipe.execute())[0]

    async def position_changed(self, ticket_id: str, position: int) -> bool:
        """Whether `position` differs from what the user was last told (and remember it);
        True for one caller only when several ask at once."""
        return bool(await self._position_changed(keys=[keys.positions()],
                                                 args=[ticket_id, str(position)]))

    async def drop_position(self, ticket_id: str) -> None:
        """The ticket left the queue."""
        await self.redis.hdel(keys.positions(), ticket_id)

    async def record_wait(self, seconds: float) -> None:
        """Remember how long a ticket waited before a claim."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(keys.waits(), round(seconds))
            pipe.ltrim(keys.waits(), 0, MAX_WAITS - 1)
            await pipe.execute()

    async def typical_wait(self) -> float | None:
        """Median of recent waits in seconds, or None without data."""
        values = [float(v) for v in await self.redis.lrange(keys.waits(), 0, -1)]
        return statistics.median(values) if len(values) >= 3 else None

    async def forget(self, user_id: int) -> None:
        """Delete a user's intake answers."""
        await self.redis.delete(keys.intake(user_id))
