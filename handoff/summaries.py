"""The summariser: reads closed-conversation jobs from a Redis stream with a consumer group,
anonymises, writes one SQL row per conversation, then deletes the raw transcript.

A crash between reading and writing loses nothing: unacknowledged jobs are claimed again, and
the unique job key makes a job that is processed twice write its row once."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import hmac
import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handoff import handoff_keys as keys
from handoff.models import ConversationSummary, SnippetFeedback

log = logging.getLogger(__name__)

GROUP = "summariser"
RECLAIM_IDLE_MS = 30_000


class Scrubber(Protocol):
    """Anything that anonymises text (knowledge.anonymise.Anonymiser)."""

    def anonymise(self, text: str) -> str: ...


def expert_ref(secret: bytes, expert_id: int | str) -> str:
    """An expert's reference in SQL (a keyed pseudonym, never the Telegram id)."""
    digest = hmac.new(secret, f"expert:{expert_id}".encode(), hashlib.sha256)
    return "e" + digest.hexdigest()[:12]


def _minutes(start: str | None, end: str | None) -> int | None:
    try:
        return max(0, round((float(end or "") - float(start or "")) / 60))
    except ValueError:
        return None


@dataclass
class SummaryWriter:
    """Turns stream jobs into SQL rows."""

    engine: AsyncEngine
    scrubber: Scrubber
    secret: bytes
    zone: ZoneInfo
    snippet_topics: Callable[[str], Iterable[str]]

    def job_key(self, ticket_id: str) -> str:
        """A keyed hash of the ticket id: stable for idempotency, useless for re-identifying."""
        return hmac.new(self.secret, f"summary:{ticket_id}".encode(), hashlib.sha256).hexdigest()

    def expert_ref(self, expert_id: str) -> str:
        """The expert's internal reference in SQL (a pseudonym, never the Telegram id)."""
        return expert_ref(self.secret, expert_id)

    async def write_close(self, job: dict[str, str]) -> bool:
        """Insert the summary row; False if it was written before (a replayed job)."""
        snippets = [s for s in job.get("snippets", "").split(",") if s]
        topic = job.get("topic", "")
        secondary = sorted({t for s in snippets for t in self.snippet_topics(s)} - {topic})
        closed_at = float(job.get("closed_at") or 0)
        row = ConversationSummary(
            job_key=self.job_key(job["ticket_id"]),
            closed_on=datetime.fromtimestamp(closed_at, self.zone).date(),
            topic=topic, secondary_topics=",".join(secondary),
            sector=job.get("sector", ""), province=job.get("region", ""),
            urgent=job.get("urgent") == "1", lang=job.get("lang", "nl"),
            waiting_minutes=_minutes(job.get("created_at"), job.get("claimed_at")),
            conversation_minutes=_minutes(job.get("claimed_at"), job.get("closed_at")),
            outcome=job.get("outcome", ""),
            summary=self.scrubber.anonymise(job.get("summary", "")),
            snippets=",".join(snippets), expert_ref=self.expert_ref(job.get("expert_id", "")),
        )
        async with AsyncSession(self.engine) as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return False
        return True

    async def write_rating(self, ticket_id: str, rating: int | None,
                           comment: str | None) -> bool:
        """Add the user's rating or comment to the row; False while the row is not there yet."""
        async with AsyncSession(self.engine) as session:
            result = await session.exec(select(ConversationSummary).where(
                ConversationSummary.job_key == self.job_key(ticket_id)))
            row = result.first()
            if row is None:
                return False
            if rating is not None:
                row.rating = rating
            if comment is not None:
                row.comment = self.scrubber.anonymise(comment)
            session.add(row)
            await session.commit()
        return True

    async def copy_feedback(self, counts: dict[str, tuple[int, int]]) -> None:
        """Mirror the anonymous per-snippet counters from Redis into SQL."""
        async with AsyncSession(self.engine) as session:
            for snippet_id, (up, down) in counts.items():
                row = await session.get(SnippetFeedback, snippet_id)
                if row is None:
                    row = SnippetFeedback(snippet_id=snippet_id)
                row.helpful, row.not_helpful = up, down
                session.add(row)
            await session.commit()


async def queue_rating(redis: Redis, ticket_id: str, rating: int | None = None,
                       comment: str | None = None) -> None:
    """Put a rating or comment job on the stream (they arrive after the close job)."""
    fields = {"kind": "rating", "ticket_id": ticket_id}
    if rating is not None:
        fields["rating"] = str(rating)
    if comment is not None:
        fields["comment"] = comment
    await redis.xadd(keys.summaries(), fields)  # type: ignore[arg-type]


class Summariser:
    """One consumer of the summaries stream."""

    def __init__(self, redis: Redis, writer: SummaryWriter, consumer: str,
                 reclaim_idle_ms: int = RECLAIM_IDLE_MS) -> None:
        self.redis = redis
        self.writer = writer
        self.consumer = consumer
        self.reclaim_idle_ms = reclaim_idle_ms

    async def ensure_group(self) -> None:
        """Create the consumer group (from the start of the stream) if it is missing."""
        try:
            await self.redis.xgroup_create(keys.summaries(), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def handle(self, entry_id: str, job: dict[str, str]) -> bool:
        """Process one job; True when it may be acknowledged."""
        ticket_id = job.get("ticket_id", "")
        if job.get("kind") == "rating":
            rating = int(job["rating"]) if job.get("rating", "").isdigit() else None
            return await self.writer.write_rating(ticket_id, rating, job.get("comment"))
        written = await self.writer.write_close(job)
        # The raw transcript is no longer needed once the anonymised row exists.
        await self.redis.delete(keys.transcript(ticket_id))
        log.info("summary %s entry=%s", "written" if written else "already there", entry_id)
        return True

    async def _process(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        done = 0
        for entry_id, job in entries:
            if not job:  # deleted meanwhile
                await self.redis.xack(keys.summaries(), GROUP, entry_id)
                continue
            try:
                ok = await self.handle(entry_id, job)
            except Exception:
                log.exception("summary job failed entry=%s; it stays pending", entry_id)
                continue
            if ok:
                # Ack and delete together, so the raw summary text does not linger.
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.xack(keys.summaries(), GROUP, entry_id)
                    pipe.xdel(keys.summaries(), entry_id)
                    await pipe.execute()
                done += 1
        return done

    async def run_once(self, block_ms: int = 2000) -> int:
        """Reclaim stale pending jobs, read new ones, process them; returns jobs done."""
        _, claimed, *_ = await self.redis.xautoclaim(
            keys.summaries(), GROUP, self.consumer, self.reclaim_idle_ms, "0-0", count=20)
        done = await self._process(claimed)
        response = await self.redis.xreadgroup(
            GROUP, self.consumer, {keys.summaries(): ">"}, count=20, block=block_ms)
        for _stream, entries in response or []:
            done += await self._process(entries)
        return done

    async def run(self, stop: asyncio.Event, feedback: Callable[[], object] | None = None,
                  ) -> None:
        """Work until `stop` is set."""
        backoff = 1.0
        while not stop.is_set():
            try:
                await self.ensure_group()
                await self.run_once()
                if feedback is not None:
                    await feedback()  # type: ignore[misc]
                backoff = 1.0
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if stop.is_set():
                    break
                # Redis restarting: jobs stay in the stream; try again shortly.
                log.warning("Redis unavailable (%s); retrying in %.0f s",
                            type(exc).__name__, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 30.0)


def export_rows(rows: list[ConversationSummary], fmt: str) -> str:
    """CSV or JSON lines of summary rows."""
    columns = [c for c in ConversationSummary.model_fields if c != "job_key"]
    if fmt == "jsonl":
        out = []
        for row in rows:
            data = row.model_dump(include=set(columns))
            data["closed_on"] = row.closed_on.isoformat()
            out.append(json.dumps(data, ensure_ascii=False))
        return "\n".join(out) + ("\n" if out else "")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row.model_dump(include=set(columns)))
    return buffer.getvalue()


async def load_rows(engine: AsyncEngine, since: date | None = None) -> list[ConversationSummary]:
    """Stored summaries, oldest first, optionally from a day on."""
    async with AsyncSession(engine) as session:
        query = select(ConversationSummary).order_by(ConversationSummary.closed_on,
                                                     ConversationSummary.id)
        if since is not None:
            query = query.where(ConversationSummary.closed_on >= since)
        return list((await session.exec(query)).all())
