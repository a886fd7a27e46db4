"""Copies the anonymous answered-question rows from their Redis stream into SQL (worker side).

Rows and their later flags arrive in stream order, but with several workers in the group a
flag can be read by one worker while another still writes its row: a flag whose row is not
there yet stays pending (not acknowledged) and is taken up again once it has been idle for
`reclaim_idle_ms`; only a flag whose row never came within FLAG_WAIT_SECONDS is dropped. A job
is acknowledged only after its SQL change committed, so a crash replays it (the unique row key
makes a replayed insert a no-op)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handoff.models import QuestionTrend
from handoff.streams import ensure_group
from knowledge import keys

log = logging.getLogger(__name__)

GROUP = "trends"
FLAG_WAIT_SECONDS = 600  # a flag's row is written within seconds, unless its job was lost


class TrendWriter:
    """One consumer of the trends stream."""

    def __init__(self, redis: Redis, engine: AsyncEngine, consumer: str,
                 reclaim_idle_ms: int = 30_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.engine = engine
        self.consumer = consumer
        self.reclaim_idle_ms = reclaim_idle_ms
        self.clock = clock

    async def ensure_group(self) -> None:
        """Create the consumer group (from the start of the stream) if it is missing."""
        await ensure_group(self.redis, keys.trends(), GROUP)

    async def _apply(self, entry_id: str, job: dict[str, str]) -> bool:
        """Write one job; False for a flag whose row is not written yet (it waits)."""
        async with AsyncSession(self.engine) as session:
            if job.get("kind") == "question":
                session.add(QuestionTrend(
                    row_key=job["row"], day=date.fromisoformat(job["day"]), topic=job["topic"],
                    role=job.get("role", ""), lang=job.get("lang", "nl"),
                    urgent=job.get("urgent") == "1"))
                try:
                    await session.commit()
                except IntegrityError:  # replayed after a crash: written before
                    await session.rollback()
                return True
            row = (await session.exec(select(QuestionTrend).where(
                QuestionTrend.row_key == job.get("row", "")))).first()
            if row is None:
                # Another worker may still be writing it; a stream id starts with its ms.
                waited = self.clock() - int(entry_id.split("-", 1)[0]) / 1000
                return waited > FLAG_WAIT_SECONDS
            if job.get("kind") == "helped":
                row.helped = job.get("helped") == "1"
            elif job.get("kind") == "handoff":
                row.handoff = True
            session.add(row)
            await session.commit()
            return True

    async def _process(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        done = 0
        for entry_id, job in entries:
            if job:
                try:
                    applied = await self._apply(entry_id, job)
                except Exception:
                    log.exception("trend job failed entry=%s; it stays pending", entry_id)
                    return done  # keep order: later flags must not overtake their row
                if not applied:
                    log.info("trend flag waits for its row entry=%s", entry_id)
                    continue  # pending: reclaimed once idle, by this worker or another
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(keys.trends(), GROUP, entry_id)
                pipe.xdel(keys.trends(), entry_id)
                await pipe.execute()
            done += 1
        return done

    async def run_once(self, block_ms: int | None = None) -> int:
        """Reclaim stale jobs, read new ones, write them; returns jobs done."""
        await self.ensure_group()
        _, claimed, *_ = await self.redis.xautoclaim(
            keys.trends(), GROUP, self.consumer, self.reclaim_idle_ms, "0-0", count=200)
        done = await self._process(claimed)
        response = await self.redis.xreadgroup(
            GROUP, self.consumer, {keys.trends(): ">"}, count=200, block=block_ms)
        for _stream, entries in response or []:
            done += await self._process(entries)
        return done
