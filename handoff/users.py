"""User profiles: role and language, kept in Redis across restarts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from handoff import keys
from handoff.batch import Batch, pairs
from handoff.erasure import request_rewrite

# Profiles of people who stopped using the desk fade away on their own.
PROFILE_TTL_SECONDS = 180 * 24 * 3600


class Role(StrEnum):
    """Who an asker is at the desk (being an expert is membership of the pool)."""

    PROFESSIONAL = "professional"
    VOLUNTEER = "volunteer"


@dataclass(frozen=True, slots=True)
class Profile:
    """What the desk remembers about a user."""

    user_id: int
    role: Role | None = None
    lang: str | None = None


class UserStore:
    """Reads and writes profiles."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, user_id: int) -> Profile:
        """The profile, empty for a newcomer; reading it counts as use and renews its TTL."""
        batch = Batch()
        self.queue_get(batch, user_id)
        return self.profile(user_id, await batch.run(self.redis))

    @staticmethod
    def queue_get(batch: Batch, user_id: int) -> None:
        """`get` as commands for a caller that batches it with its own (two replies, which
        `profile` reads)."""
        batch.hgetall(keys.user(user_id))
        batch.expire(keys.user(user_id), PROFILE_TTL_SECONDS)  # no-op for a newcomer

    @staticmethod
    def profile(user_id: int, replies: list[Any]) -> Profile:
        """The `Profile` from the two replies of `queue_get`."""
        data = pairs(replies[0])
        role = data.get("role")
        return Profile(user_id, Role(role) if role in Role.__members__.values() else None,
                       data.get("lang"))

    async def _set(self, user_id: int, field: str, value: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.user(user_id), field, value)
            pipe.expire(keys.user(user_id), PROFILE_TTL_SECONDS)
            await pipe.execute()

    async def set_role(self, user_id: int, role: Role) -> None:
        """Remember the user's role."""
        await self._set(user_id, "role", role.value)

    async def set_lang(self, user_id: int, lang: str) -> None:
        """Remember the user's language."""
        await self._set(user_id, "lang", lang)

    async def forget(self, user_id: int) -> None:
        """Delete the profile (the last step of /vergeet), from the append-only file too."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.user(user_id))
            request_rewrite(pipe)
            await pipe.execute()
