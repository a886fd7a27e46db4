"""Questions the desk could not answer well, kept only with the asker's yes.

The bot puts the question on a short-lived Redis stream with no user attached (only topic,
language, role and the card it showed); the worker anonymises it (the summaries' anonymiser)
and writes a `KnowledgeGap` row, kept `KEEP_DAYS`. Nothing links a row back to anyone, so
/vergeet cannot find it (the privacy notice says so)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handoff.erasure import request_rewrite
from handoff.models import KnowledgeGap
from handoff.streams import ensure_group
from handoff.summaries import Scrubber
from knowledge import keys

log = logging.getLogger(__name__)
KEEP_DAYS = 180
STREAM_TTL_SECONDS = 24 * 3600  # unwritten questions never outlive a day in Redis
MAX_TEXT = 1000
GROUP = "gaps"
OPEN, ASSIGNED, DISMISSED = "open", "assigned", "dismissed"
NO_CARD, NOT_HELPED = "no_card", "not_helped"


CONSENT_TTL_SECONDS = 3600  # a consent question unanswered for an hour lapses


@dataclass(frozen=True, slots=True)
class Pending:
    """A question the desk asked to keep; `token` ties the yes/no buttons to it."""

    token: str
    text: str
    topic: str
    lang: str
    role: str
    shown: str
    reason: str


class GapQueue:
    """The bot's side: ask once per question, and on a yes put it onto the stream."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def offer(self, user_id: int, text: str, topic: str, lang: str, role: str,
                    shown: str, reason: str) -> str | None:
        """Remember the question to ask consent for; its token, or None when this question
        was offered already (asked once, plainly, not after every vote)."""
        key = keys.gap_consent(user_id)
        current = await self.redis.hget(key, "text")
        if current == text[:MAX_TEXT]:
            return None
        token = secrets.token_urlsafe(9)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"token": token, "text": text[:MAX_TEXT], "topic": topic,
                                    "lang": lang, "role": role, "shown": shown,
                                    "reason": reason, "answered": 0})
            pipe.expire(key, CONSENT_TTL_SECONDS)
            await pipe.execute()
        return token

    async def answer(self, user_id: int, token: str, keep: bool) -> bool | None:
        """The asker's yes or no: on yes the question goes to the worker (no user id with
        it). True if kept, False if not, None if the question lapsed or was answered."""
        key = keys.gap_consent(user_id)
        data = await self.redis.hgetall(key)
        if not data or data.get("token") != token or data.get("answered") == "1":
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            # The text leaves the per-user key at once; the marker keeps it asked-once.
            pipe.hset(key, mapping={"answered": 1, "token": ""})
            pipe.hdel(key, "topic", "role", "shown", "reason")
            if keep:
                pipe.xadd(keys.gaps(), {k: data[k] for k in ("text", "topic", "lang", "role",
                                                               "shown", "reason")})
                pipe.expire(keys.gaps(), STREAM_TTL_SECONDS)
            await pipe.execute()
        return keep


def monday(day: date) -> date:
    """The Monday of `day`'s week (rows keep the week, not the day)."""
    return day - timedelta(days=day.weekday())


class GapWriter:
    """The worker's side: anonymise, write the row, then acknowledge."""

    def __init__(self, redis: Redis, engine: AsyncEngine, scrubber: Scrubber,
                 consumer: str, today: date | None = None) -> None:
        self.redis = redis
        self.engine = engine
        self.scrubber = scrubber
        self.consumer = consumer
        self._today = today

    def today(self) -> date:
        return self._today or date.today()

    async def ensure_group(self) -> None:
        """Create the consumer group if it is missing."""
        await ensure_group(self.redis, keys.gaps(), GROUP)

    async def run_once(self, block_ms: int | None = None) -> int:
        """Write what is waiting (also what a crashed worker left); returns rows written."""
        await self.ensure_group()
        _, claimed, *_ = await self.redis.xautoclaim(keys.gaps(), GROUP, self.consumer,
                                                     30_000, "0-0", count=100)
        entries = list(claimed)
        response = await self.redis.xreadgroup(GROUP, self.consumer, {keys.gaps(): ">"},
                                               count=100, block=block_ms)
        for _stream, items in response or []:
            entries += items
        written = 0
        for entry_id, job in entries:
            if job and job.get("text"):
                await self._write(job)
                written += 1
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(keys.gaps(), GROUP, entry_id)
                pipe.xdel(keys.gaps(), entry_id)
                if job:
                    request_rewrite(pipe)  # the raw text also leaves the append-only file
                await pipe.execute()
        return written

    async def _write(self, job: dict[str, str]) -> None:
        today = self.today()
        async with AsyncSession(self.engine) as db:
            db.add(KnowledgeGap(
                week=monday(today), topic=job.get("topic", "")[:40],
                lang=job.get("lang", "nl")[:5], role=job.get("role", "")[:20],
                text=self.scrubber.anonymise(job["text"])[:MAX_TEXT],
                shown=job.get("shown", "")[:80], reason=job.get("reason", NO_CARD)[:12],
                expires_on=today + timedelta(days=KEEP_DAYS)))
            await db.commit()


@dataclass(frozen=True, slots=True)
class QualityMonth:
    """On the real questions a coordinator assigned a card to, in one month: how often the
    desk's first card was that card."""

    month: str  # YYYY-MM
    assigned: int
    first_right: int

    @property
    def share(self) -> float:
        """first_right / assigned."""
        return self.first_right / self.assigned if self.assigned else 0.0


class GapStore:
    """The dashboard's side: list, assign, dismiss, expire, and the quality figures."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def listing(self, state: str = OPEN, limit: int = 500) -> list[KnowledgeGap]:
        """Gaps in a state, newest first."""
        async with AsyncSession(self.engine) as db:
            return list((await db.exec(select(KnowledgeGap).where(
                KnowledgeGap.state == state).order_by(
                col(KnowledgeGap.week).desc(), col(KnowledgeGap.id).desc()).limit(limit))).all())

    async def get(self, gap_id: int) -> KnowledgeGap | None:
        """One gap."""
        async with AsyncSession(self.engine) as db:
            return await db.get(KnowledgeGap, gap_id)

    async def settle(self, gap_id: int, state: str, assigned: str | None = None) -> bool:
        """Mark an open gap assigned (to a card) or dismissed; False if it is not open."""
        async with AsyncSession(self.engine) as db:
            gap = await db.get(KnowledgeGap, gap_id, with_for_update=True)
            if gap is None or gap.state != OPEN:
                return False
            gap.state, gap.assigned = state, assigned
            db.add(gap)
            await db.commit()
        return True

    async def reopen(self, gap_id: int) -> None:
        """Undo a settle whose follow-up failed (the gap is open again)."""
        async with AsyncSession(self.engine) as db:
            gap = await db.get(KnowledgeGap, gap_id, with_for_update=True)
            if gap is not None:
                gap.state, gap.assigned = OPEN, None
                db.add(gap)
                await db.commit()

    async def expire(self, today: date | None = None) -> int:
        """Delete rows past their keeping time; the number deleted."""
        async with AsyncSession(self.engine) as db:
            result = await db.exec(delete(KnowledgeGap).where(  # type: ignore[call-overload]
                col(KnowledgeGap.expires_on) < (today or date.today())))
            await db.commit()
        return int(result.rowcount or 0)

    async def quality(self) -> list[QualityMonth]:
        """Per month (newest first), the assigned questions and how often the first card
        the desk showed was the assigned one."""
        async with AsyncSession(self.engine) as db:
            rows = (await db.exec(select(KnowledgeGap).where(
                KnowledgeGap.state == ASSIGNED))).all()
        months: dict[str, list[int]] = {}
        for row in rows:
            counts = months.setdefault(row.week.strftime("%Y-%m"), [0, 0])
            counts[0] += 1
            counts[1] += int(bool(row.shown) and row.shown == row.assigned)
        return [QualityMonth(m, a, r) for m, (a, r) in sorted(months.items(), reverse=True)]
