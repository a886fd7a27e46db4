"""Long polling that loses nothing: an update is confirmed to Telegram only once handled.

PTB's Updater confirms a batch as soon as it fetched it, so updates waiting in memory are lost
when the process dies. This poller keeps the confirmation offset at the oldest update not yet
handled, and records handled update ids in Redis, so after a crash or kill -9 Telegram hands
the unhandled ones over again and the handled ones are skipped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TimedOut
from telegram.ext import Application

log = logging.getLogger(__name__)

DONE_TTL_SECONDS = 2 * 24 * 3600  # longer than Telegram keeps unconfirmed updates (24 h)
_BACKOFF_MAX = 30.0


def done_key(update_id: int) -> str:
    """Redis key marking an update as handled."""
    return f"vb:update_done:{update_id}"


class ReliablePoller:
    """Fetches updates into the application's queue; confirms them after handling."""

    def __init__(self, app: Application, redis: Redis,  # type: ignore[type-arg]
                 allowed_updates: Sequence[str], timeout: int = 10) -> None:
        self.app = app
        self.redis = redis
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.in_flight: set[int] = set()
        self.next_offset = 0  # one past the newest update seen
        self._task: asyncio.Task[None] | None = None

    async def mark_done(self, update: object) -> None:
        """Called when an update has been handled (or failed in a handler and was reported)."""
        if not isinstance(update, Update):
            return
        # Release the offset first: a Redis hiccup must never hold back later updates (at
        # worst this one is handled again after a restart).
        self.in_flight.discard(update.update_id)
        try:
            await self.redis.set(done_key(update.update_id), 1, ex=DONE_TTL_SECONDS)
        except RedisError as exc:
            log.warning("could not record a handled update: %s", type(exc).__name__)

    def _offset(self) -> int:
        # Confirm everything before the oldest update still being handled, and no further.
        return min(self.in_flight) if self.in_flight else self.next_offset

    async def _fetch_once(self) -> None:
        offset = self._offset()
        # While older updates are being handled, Telegram returns them again at once;
        # poll without waiting then, and pause a moment if nothing new came.
        waiting = self.timeout if not self.in_flight else 0
        updates = await self.app.bot.get_updates(
            offset=offset or None, timeout=waiting, allowed_updates=self.allowed_updates,
            read_timeout=waiting + 10)
        fresh = 0
        for update in updates:
            self.next_offset = max(self.next_offset, update.update_id + 1)
            if update.update_id in self.in_flight:
                continue
            if await self.redis.exists(done_key(update.update_id)):
                continue  # handled before a restart, not yet confirmed
            self.in_flight.add(update.update_id)
            await self.app.update_queue.put(update)
            fresh += 1
        if self.in_flight and not fresh:
            await asyncio.sleep(0.1)

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self._fetch_once()
                backoff = 1.0
            except InvalidToken:
                log.error("Telegram refused the token; polling stops")
                raise
            except (TimedOut, NetworkError, Conflict, RedisError) as exc:
                log.warning("polling failed (%s); retrying in %.0f s", type(exc).__name__,
                            backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except Exception:
                # Never let an unexpected error end polling silently: the desk would go deaf.
                log.exception("unexpected polling error; retrying in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def start(self) -> None:
        """Drop any webhook (we poll) and start fetching."""
        await self.app.bot.delete_webhook(drop_pending_updates=False)
        self._task = asyncio.create_task(self._run(), name="vraagbaak-poller")

    async def stop(self) -> None:
        """Stop fetching; unhandled updates stay unconfirmed for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
