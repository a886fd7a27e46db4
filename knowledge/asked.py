"""What the bot remembers of a user's recent questions, for a handoff that may follow."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from handoff.batch import Batch
from knowledge import keys

# Questions are kept only long enough to hand them to an expert the same day.
ASKED_TTL_SECONDS = 24 * 3600
MAX_ASKED = 10
MAX_RECEIVED = 20


@dataclass(frozen=True, slots=True)
class Asked:
    """The user's latest question: its text, when, and the case it was triaged as (the
    earlier question with it, for a follow-up)."""

    text: str
    at: float
    context: str
    covered: bool  # the knowledge had a card for it


@dataclass(frozen=True, slots=True)
class Received:
    """A guidance card the user received, and how they marked it (None: not marked)."""

    snippet: str
    helped: bool | None


@dataclass(frozen=True, slots=True)
class Session:
    """A user's latest session: the questions asked and the cards received, oldest first."""

    questions: tuple[str, ...]
    received: tuple[Received, ...]


@dataclass(frozen=True, slots=True)
class LastAnswer:
    """The outcome of the user's latest triage."""

    topic: str
    urgent: bool
    snippets: tuple[str, ...]
    lang: str


class AskedStore:
    """Short-lived memory of recent questions and the last triage outcome per user."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock

    def queue_remember(self, batch: Batch, user_id: int, text: str,
                       answer: LastAnswer, context: str | None = None,
                       covered: bool = True) -> None:
        """Keep the question and the triage outcome for a possible handoff: commands on the
        caller's transaction (the answer's closing one). `context`: what it was triaged as,
        when that was more than the text (a follow-up); `covered`: whether a card fitted."""
        last = {"topic": answer.topic, "urgent": int(answer.urgent),
                "snippets": ",".join(answer.snippets), "lang": answer.lang}
        item: dict[str, object] = {"text": text, "at": self.clock()}
        if context is not None and context != text:
            item["context"] = context
        if not covered:
            item["covered"] = 0
        batch.rpush(keys.asked(user_id), json.dumps(item))
        batch.ltrim(keys.asked(user_id), -MAX_ASKED, -1)
        batch.expire(keys.asked(user_id), ASKED_TTL_SECONDS)
        if answer.urgent:
            # Once urgent, the session stays urgent even if a later message is calm.
            batch.hset(keys.last_answer(user_id), mapping=last)
        else:
            batch.hsetnx(keys.last_answer(user_id), "urgent", 0)
            batch.hset(keys.last_answer(user_id), mapping={
                k: v for k, v in last.items() if k != "urgent"})
        batch.expire(keys.last_answer(user_id), ASKED_TTL_SECONDS)

    @staticmethod
    def queue_latest(batch: Batch, user_id: int) -> None:
        """The read of `latest`, for a caller that batches it with its own reads."""
        batch.lindex(keys.asked(user_id), -1)

    @staticmethod
    def latest(reply: object) -> Asked | None:
        """The user's latest question from the reply of `queue_latest`."""
        if not isinstance(reply, str):
            return None
        item = json.loads(reply)
        return Asked(item["text"], float(item.get("at", 0.0)),
                     item.get("context") or item["text"], bool(item.get("covered", 1)))

    async def set_topic(self, user_id: int, topic: str) -> None:
        """The user picked a topic by hand."""
        await self.redis.hset(keys.last_answer(user_id), "topic", topic)
        await self.redis.expire(keys.last_answer(user_id), ASKED_TTL_SECONDS)

    async def last(self, user_id: int) -> LastAnswer | None:
        """The latest triage outcome, if any."""
        data = await self.redis.hgetall(keys.last_answer(user_id))
        if not data.get("topic"):
            return None
        return LastAnswer(data["topic"], data.get("urgent") == "1",
                          tuple(s for s in data.get("snippets", "").split(",") if s),
                          data.get("lang", "nl"))

    async def questions(self, user_id: int) -> list[str]:
        """The recent questions, oldest first."""
        return [json.loads(item)["text"] for item in await self.redis.lrange(
            keys.asked(user_id), 0, -1)]

    def queue_received(self, batch: Batch, user_id: int, snippet_id: str) -> None:
        """A guidance card went out to the user (an answer or a pressed button): commands on
        the caller's transaction, so an expert later sees what the asker already read."""
        batch.rpush(keys.received(user_id), json.dumps({"id": snippet_id, "at": self.clock()}))
        batch.ltrim(keys.received(user_id), -MAX_RECEIVED, -1)
        batch.expire(keys.received(user_id), ASKED_TTL_SECONDS)

    async def vote(self, user_id: int, snippet_id: str, helpful: bool, answer: int) -> bool:
        """The user marked a card 'helps' or 'does not help' on answer message `answer`:
        True if this vote counts, which it does once per answer, and only for a card the
        user actually received (a forged press for a card never sent, or a repeated one, is
        not counted). The latest mark is what an expert sees."""
        received = await self.redis.lrange(keys.received(user_id), 0, -1)
        if not any(json.loads(item).get("id") == snippet_id for item in received):
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.voted(user_id), f"{answer}:{snippet_id}")
            pipe.expire(keys.voted(user_id), ASKED_TTL_SECONDS)
            pipe.hset(keys.votes(user_id), snippet_id, int(helpful))
            pipe.expire(keys.votes(user_id), ASKED_TTL_SECONDS)
            first, *_ = await pipe.execute()
        return bool(first)

    async def session(self, user_id: int, gap_seconds: float) -> Session:
        """The latest session: its questions and the cards received in it, oldest first.
        Going back from the newest event (a question or a card), an event belongs to it
        while at most `gap_seconds` lie between it and the next."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(keys.asked(user_id), 0, -1)
            pipe.lrange(keys.received(user_id), 0, -1)
            pipe.hgetall(keys.votes(user_id))
            asked, received, votes = await pipe.execute()
        events = sorted([(float(item.get("at", 0.0)), "q", item["text"])
                         for item in map(json.loads, asked)]
                        + [(float(item.get("at", 0.0)), "r", item["id"])
                           for item in map(json.loads, received)], key=lambda e: e[0])
        start = len(events)
        while start > 0 and (start == len(events)
                             or events[start][0] - events[start - 1][0] <= gap_seconds):
            start -= 1
        session = events[start:]
        cards = list(dict.fromkeys(value for _, kind, value in session if kind == "r"))
        return Session(
            tuple(value for _, kind, value in session if kind == "q"),
            tuple(Received(sid, None if sid not in votes else votes[sid] == "1")
                  for sid in cards))

    async def forget(self, user_id: int) -> None:
        """Delete the questions, the triage outcome, the cards received, the votes and a
        pending consent question."""
        await self.redis.delete(keys.asked(user_id), keys.last_answer(user_id),
                                keys.received(user_id), keys.votes(user_id),
                                keys.voted(user_id), keys.gap_consent(user_id))
