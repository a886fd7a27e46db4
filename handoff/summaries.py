"""The summariser: reads closed-conversation jobs from a Redis stream with a consumer group,
anonymises, writes one SQL row per conversation, then deletes the raw transcript.

A crash between reading and writing loses nothing: unacknowledged jobs are claimed again, and
the unique job key makes a job that is processed twice write its row once. The job key is
random, drawn when the conversation closes: nothing in a row can be computed from a ticket id,
a user id or a log line. A job that keeps failing goes to a dead-letter stream after
MAX_ATTEMPTS deliveries, and no job (with its raw text) outlives the transcript TTL."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handoff import handoff_keys as keys
from handoff.erasure import request_rewrite, rewrite_requested
from handoff.models import ConversationSummary, SnippetFeedback
from handoff.spreadsheet import csv_text
from handoff.streams import ensure_group
from handoff.tickets import TRANSCRIPT_TTL_SECONDS

log = logging.getLogger(__name__)

GROUP = "summariser"
RECLAIM_IDLE_MS = 30_000
MAX_ATTEMPTS = 10  # with RECLAIM_IDLE_MS: about five minutes of retries

# Move one job from the stream to the dead letters in one step. The dead-letter stream expires
# no later than the TTL left to this job's raw text (PEXPIRE only ever shortens it).
# KEYS: summaries, dead letters, rewrite flag
# ARGV: group, entry_id, remaining_ms, field, value, ...
_DEAD_LETTER = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3], '1')
local remaining = tonumber(ARGV[3])
if remaining <= 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
local current = redis.call('PTTL', KEYS[2])
if current < 0 or current > remaining then redis.call('PEXPIRE', KEYS[2], remaining) end
return 1
"""


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
            # Jobs queued before job keys were random carry none: a fresh one, written once.
            job_key=job.get("job_key") or secrets.token_hex(16),
            closed_on=datetime.fromtimestamp(closed_at, self.zone).date(),
            topic=topic, secondary_topics=",".join(secondary),
            sector=job.get("sector", ""), province=job.get("region", ""),
            urgent=job.get("urgent") == "1", lang=job.get("lang", "nl"),
            waiting_minutes=_minutes(job.get("created_at"), job.get("claimed_at")),
            conversation_minutes=_minutes(job.get("claimed_at"), job.get("closed_at")),
            outcome=job.get("outcome", ""),
            summary=self.scrubber.anonymise(job.get("summary", "")),
            rating=int(job["rating"]) if job.get("rating", "").isdigit() else None,
            comment=self.scrubber.anonymise(job["comment"]) if "comment" in job else None,
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

    async def write_rating(self, job_key: str, rating: int | None,
                           comment: str | None) -> bool:
        """Add the user's rating or comment to the row; False while the row is not there yet."""
        async with AsyncSession(self.engine) as session:
            result = await session.exec(select(ConversationSummary).where(
                ConversationSummary.job_key == job_key))
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


# A rating or comment counts only for a conversation that ended, and each only once: a forged
# or repeated one leaves no job behind. Before the close job exists (the asker ended, the
# expert's summary is due) it waits on the ticket and rides along with the close job;
# afterwards it is a job of its own under the conversation's random job key.
# KEYS: ticket, summaries
# ARGV: rating ('' for none), has_comment, comment
_QUEUE_RATING = """
local t = redis.call('HMGET', KEYS[1], 'state', 'job_key', 'rating_queued', 'comment_queued')
if t[1] ~= 'closed' and t[1] ~= 'ended' then return 0 end
if t[1] == 'closed' and not t[2] then return 0 end
local rating, commenting = ARGV[1] ~= '', ARGV[2] == '1'
if (rating and t[3]) or (commenting and t[4]) then return 0 end
local fields = {'kind', 'rating', 'job_key', t[2]}
if rating then
  redis.call('HSET', KEYS[1], 'rating_queued', '1')
  table.insert(fields, 'rating')
  table.insert(fields, ARGV[1])
  if t[1] == 'ended' then redis.call('HSET', KEYS[1], 'pending_rating', ARGV[1]) end
end
if commenting then
  redis.call('HSET', KEYS[1], 'comment_queued', '1')
  table.insert(fields, 'comment')
  table.insert(fields, ARGV[3])
  if t[1] == 'ended' then redis.call('HSET', KEYS[1], 'pending_comment', ARGV[3]) end
end
if t[1] == 'closed' then redis.call('XADD', KEYS[2], '*', unpack(fields)) end
return 1
"""


async def queue_rating(redis: Redis, ticket_id: str, rating: int | None = None,
                       comment: str | None = None) -> bool:
    """Queue a rating or comment for the conversation's summary row; False, and nothing
    queued, unless the conversation ended and this is its first rating (or comment)."""
    if (rating is None and comment is None) or (rating is not None and not 1 <= rating <= 5):
        return False
    queued = await redis.eval(
        _QUEUE_RATING, 2, keys.ticket(ticket_id), keys.summaries(),
        "" if rating is None else str(rating), "0" if comment is None else "1", comment or "")
    return bool(queued)


class Summariser:
    """One consumer of the summaries stream."""

    def __init__(self, redis: Redis, writer: SummaryWriter, consumer: str,
                 reclaim_idle_ms: int = RECLAIM_IDLE_MS,
                 ttl_seconds: int = TRANSCRIPT_TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.writer = writer
        self.consumer = consumer
        self.reclaim_idle_ms = reclaim_idle_ms
        self.ttl_ms = ttl_seconds * 1000
        self.clock = clock
        self._dead_letter = redis.register_script(_DEAD_LETTER)

    async def ensure_group(self) -> None:
        """Create the consumer group (from the start of the stream) if it is missing."""
        await ensure_group(self.redis, keys.summaries(), GROUP)

    async def handle(self, entry_id: str, job: dict[str, str]) -> bool:
        """Process one job; True when it may be acknowledged."""
        if job.get("kind") == "rating":
            if not job.get("job_key"):
                log.warning("rating job without a job key dropped entry=%s", entry_id)
                return True
            rating = int(job["rating"]) if job.get("rating", "").isdigit() else None
            return await self.writer.write_rating(job["job_key"], rating, job.get("comment"))
        written = await self.writer.write_close(job)
        # The raw transcript is no longer needed once the anonymised row exists.
        await self.redis.delete(keys.transcript(job.get("ticket_id", "")))
        log.info("summary %s entry=%s", "written" if written else "already there", entry_id)
        return True

    def _age_ms(self, entry_id: str) -> int:
        # A stream entry id starts with the millisecond it was added.
        return int(self.clock() * 1000) - int(entry_id.split("-", 1)[0])

    async def trim(self) -> None:
        """Drop jobs older than the transcript TTL: their raw text must not outlive it."""
        oldest = int(self.clock() * 1000) - self.ttl_ms
        await self.redis.xtrim(keys.summaries(), minid=f"{max(oldest, 0)}-0",
                               approximate=False)

    async def _retire_exhausted(self, entries: list[tuple[str, dict[str, str]]],
                                ) -> list[tuple[str, dict[str, str]]]:
        """Move reclaimed jobs delivered more than MAX_ATTEMPTS times to the dead letters."""
        keep = []
        for entry_id, job in entries:
            pending = await self.redis.xpending_range(
                keys.summaries(), GROUP, min=entry_id, max=entry_id, count=1)
            attempts = pending[0]["times_delivered"] if pending else 0
            if not job or attempts <= MAX_ATTEMPTS:
                keep.append((entry_id, job))
                continue
            # A second early rather than a millisecond late (the clocks round differently).
            remaining_ms = self.ttl_ms - self._age_ms(entry_id) - 1000
            flat = [item for pair in job.items() for item in pair]
            await self._dead_letter(
                keys=[keys.summaries(), keys.summaries_dead(), rewrite_requested()],
                args=[GROUP, entry_id, max(remaining_ms, 0), "entry", entry_id,
                      "attempts", attempts, *flat])
            log.warning("summary job failed %d times; moved to the dead letters entry=%s",
                        attempts, entry_id)
        return keep

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
                # Ack and delete together, so the raw summary text does not linger; the
                # append-only file still holds it (and the transcript) until rewritten.
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.xack(keys.summaries(), GROUP, entry_id)
                    pipe.xdel(keys.summaries(), entry_id)
                    request_rewrite(pipe)
                    await pipe.execute()
                done += 1
        return done

    async def run_once(self, block_ms: int = 2000) -> int:
        """Trim expired jobs, reclaim stale pending ones (retiring those that keep failing),
        read new ones, process them; returns jobs done."""
        await self.trim()
        _, claimed, *_ = await self.redis.xautoclaim(
            keys.summaries(), GROUP, self.consumer, self.reclaim_idle_ms, "0-0", count=20)
        done = await self._process(await self._retire_exhausted(claimed))
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
            except Exception as exc:
                if stop.is_set():
                    break
                if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
                    # Redis restarting: jobs stay in the stream; try again shortly.
                    log.warning("Redis unavailable (%s); retrying in %.0f s",
                                type(exc).__name__, backoff)
                else:
                    # Anything else (the database down, a bad row): never end the worker.
                    # Jobs not acknowledged stay pending and are reclaimed on a later round.
                    log.error("summariser round failed (%s); retrying in %.0f s",
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
    return csv_text(columns, ([getattr(row, c) for c in columns] for row in rows))


async def load_rows(engine: AsyncEngine, since: date | None = None) -> list[ConversationSummary]:
    """Stored summaries, oldest first, optionally from a day on."""
    async with AsyncSession(engine) as session:
        query = select(ConversationSummary).order_by(ConversationSummary.closed_on,
                                                     ConversationSummary.id)
        if since is not None:
            query = query.where(ConversationSummary.closed_on >= since)
        return list((await session.exec(query)).all())
