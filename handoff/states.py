"""What a person's next plain message means: one typed state per person, kept in Redis.

Askers: idle, in intake, queued, in conversation, rating, commenting. Experts: idle, in a
conversation (one of several is active), closing (awaiting the outcome, then the summary), or
writing a transfer note. While an expert is closing or writing a note, nothing they type is
relayed; a rating comment is accepted only right after the rating and only once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis

from handoff import handoff_keys as keys

# A half-finished step (intake, outcome, summary, note, comment) is dropped after this long.
STEP_TTL_SECONDS = 3600
# A rating comment must follow the rating prompt within this time; later text is a question.
COMMENT_WINDOW_SECONDS = 5 * 60
# The record itself (an expert's active conversation) lives as long as a transcript at most.
STATE_TTL_SECONDS = 7 * 24 * 3600


class Mode(StrEnum):
    """The step a person is in, beyond what their tickets already say."""

    IDLE = "idle"
    INTAKE = "intake"  # asker answering sector, province, consent
    RATING = "rating"  # asker was asked for a rating of `ticket`
    COMMENTING = "commenting"  # asker rated `ticket`; one comment may follow
    CLOSING = "closing"  # expert choosing the outcome of `ticket`
    SUMMARY = "summary"  # expert typing the summary of `ticket` (with `outcome`)
    NOTE = "note"  # expert typing a transfer note for `ticket`
    TRANSFER = "transfer"  # expert choosing where `ticket` goes (with `note`)


EXPERT_STEPS = frozenset({Mode.CLOSING, Mode.SUMMARY, Mode.NOTE, Mode.TRANSFER})
ASKER_STEPS = frozenset({Mode.INTAKE, Mode.RATING, Mode.COMMENTING})


@dataclass(frozen=True, slots=True)
class PersonState:
    """One person's step, and for experts the conversation their plain messages go to."""

    mode: Mode = Mode.IDLE
    ticket: str | None = None  # the ticket the step is about
    outcome: str | None = None
    note: str | None = None
    since: float = 0.0
    active: str | None = None  # expert: the conversation plain messages go to


class StateStore:
    """Reads and writes person states; every change replaces the step as a whole."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock

    async def get(self, user_id: int) -> PersonState:
        """The person's state (idle if nothing is recorded or the step expired)."""
        data = await self.redis.hgetall(keys.person_state(user_id))
        mode = Mode(data["mode"]) if data.get("mode") in Mode.__members__.values() \
            else Mode.IDLE
        since = float(data.get("since") or 0.0)
        if mode is not Mode.IDLE and self.clock() - since > STEP_TTL_SECONDS:
            # A step left half-way long ago: the next message starts afresh.
            return PersonState(active=data.get("active") or None)
        return PersonState(
            mode=mode,
            ticket=data.get("ticket") or None,
            outcome=data.get("outcome") or None,
            note=data.get("note") or None,
            since=since,
            active=data.get("active") or None,
        )

    async def set_step(self, user_id: int, mode: Mode, ticket: str | None = None,
                       outcome: str | None = None, note: str | None = None) -> None:
        """Enter a step; the expert's active conversation is kept."""
        key = keys.person_state(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(key, "ticket", "outcome", "note")
            fields = {"mode": mode.value, "since": repr(self.clock())}
            fields.update({k: v for k, v in (("ticket", ticket), ("outcome", outcome),
                                             ("note", note)) if v is not None})
            pipe.hset(key, mapping=fields)
            pipe.expire(key, STATE_TTL_SECONDS)
            await pipe.execute()

    async def clear_step(self, user_id: int, ticket: str | None = None) -> bool:
        """Back to idle (if the step is about `ticket`, when given); True if it changed."""
        state = await self.get(user_id)
        if state.mode is Mode.IDLE or (ticket is not None and state.ticket != ticket):
            return False
        await self.set_step(user_id, Mode.IDLE)
        return True

    async def set_active(self, expert_id: int, ticket_id: str) -> None:
        """Point the expert's plain messages at a conversation."""
        key = keys.person_state(expert_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "active", ticket_id)
            pipe.hsetnx(key, "mode", Mode.IDLE.value)
            pipe.expire(key, STATE_TTL_SECONDS)
            await pipe.execute()

    async def drop_active(self, expert_id: int, ticket_id: str) -> None:
        """Forget the active pointer if it still names that conversation."""
        if await self.redis.hget(keys.person_state(expert_id), "active") == ticket_id:
            await self.redis.hdel(keys.person_state(expert_id), "active")

    async def forget(self, user_id: int) -> None:
        """Delete the person's state."""
        await self.redis.delete(keys.person_state(user_id))
