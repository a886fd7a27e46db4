"""Long polling that loses nothing: an update is confirmed to Telegram only once handled.

PTB's Updater confirms a batch as soon as it fetched it, so updates waiting in memory are lost
when the process dies. This poller keeps the confirmation offset at the oldest update not yet
handled, and records handled update ids in Redis, so after a crash or kill -9 Telegram hands
the unhandled ones over again and the handled ones are skipped.

The order of steps is what makes this hold:
- an update is taken in only after Redis said it was not handled before; when Redis cannot
  answer, nothing advances (Telegram keeps the update) and the chat is told once that the desk
  is briefly unavailable;
- the handled mark is written before the update leaves the in-flight set, so the offset never
  passes an update whose mark is not durable (a fetch in between sees it in flight or marked);
- an update whose handling failed because Redis was unreachable is not marked: it is handed
  to the handlers again once Redis answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from telegram import Update
from telegram.constants import ChatType
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, ApplicationHandlerStop

from locales import negotiate, translator

log = logging.getLogger(__name__)

DONE_TTL_SECONDS = 2 * 24 * 3600  # longer than Telegram keeps unconfirmed updates (24 h)
_BACKOFF_MAX = 30.0
# While Redis is down, try again often: users' messages must be answered within ~2 s of its
# return, and a PING every second costs nothing.
_REDIS_BACKOFF_MAX = 0.5
STOP_TIMEOUT = 5.0

# Errors that mean "Redis is unreachable right now", not "this update is bad".
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# An update that fails this often with Redis "down" is given up (marked handled), so a
# handler that raises such an error for another reason cannot make it loop forever.
_MAX_ATTEMPTS = 20


def done_key(update_id: int) -> str:
    """Redis key marking an update as handled."""
    return f"vb:update_done:{update_id}"


def _unavailable_text(update: Update) -> str:
    user = update.effective_user
    tr = translator(negotiate(user.language_code if user is not None else None))
    return tr._("The desk is briefly unavailable. Your message is safe: you will get an answer "
                "as soon as we are back. In acute danger, call 112.")


class ReliablePoller:
    """Fetches updates into the application's queue; confirms them after handling."""

    def __init__(self, app: Application, redis: Redis,  # type: ignore[type-arg]
                 allowed_updates: Sequence[str], timeout: int = 10) -> None:
        self.app = app
        self.redis = redis
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.in_flight: set[int] = set()
        self.next_offset = 0  # one past the newest update taken in or found handled
        self._unrecorded: set[int] = set()  # handled, mark not yet written (Redis was down)
        self._failed: set[int] = set()  # handling hit a Redis outage
        self._retry: dict[int, Update] = {}  # to hand to the handlers again
        self._told: set[int] = set()  # chats told about the outage (until Redis is back)
        self._attempts: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()

    # -- called by the handling side -------------------------------------------------------

    async def mark_done(self, update: object) -> None:
        """Called when an update has been handled (or failed in a handler and was reported)."""
        if not isinstance(update, Update):
            return
        update_id = update.update_id
        if update_id in self._failed:
            self._failed.discard(update_id)
            attempts = self._attempts[update_id] = self._attempts.get(update_id, 0) + 1
            if attempts < _MAX_ATTEMPTS:
                # Redis was unreachable while handling it: hand it over again once it is back.
                self._retry[update_id] = update
                self._wake.set()
                return
            log.error("giving up an update after %d attempts during a Redis outage", attempts)
        self._attempts.pop(update_id, None)
        # The mark first, then the release: a fetch in between sees the update either still
        # in flight or marked, never neither (that is how one update was handled twice).
        try:
            await self.redis.set(done_key(update_id), 1, ex=DONE_TTL_SECONDS)
        except RedisError as exc:
            # Keep holding the offset; the poll loop writes the mark once Redis answers.
            log.warning("could not record a handled update: %s", type(exc).__name__)
            self._unrecorded.add(update_id)
            return
        self.in_flight.discard(update_id)

    async def on_error(self, update: object, context: object) -> None:
        """Error handler registered before all others: a Redis outage is not the update's fault.

        The update is kept for another try instead of being marked handled, the chat is told
        once that the desk is briefly unavailable, and no other error handler runs."""
        error = getattr(context, "error", None)
        if not isinstance(error, REDIS_DOWN) or not isinstance(update, Update):
            return
        if update.update_id in self.in_flight:
            self._failed.add(update.update_id)
        log.warning("Redis unavailable while handling an update (%s); it will be retried",
                    type(error).__name__)
        await self._tell_unavailable(update)
        raise ApplicationHandlerStop

    async def _tell_unavailable(self, update: Update) -> None:
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE or chat.id in self._told:
            return
        self._told.add(chat.id)
        try:
            await self.app.bot.send_message(chat.id, _unavailable_text(update))
        except TelegramError as exc:
            log.warning("could not send the unavailable notice: %s", type(exc).__name__)

    # -- the poll loop ---------------------------------------------------------------------

    def _offset(self) -> int:
        # Confirm everything before the oldest update still being handled, and no further.
        return min(self.in_flight) if self.in_flight else self.next_offset

    async def _flush_pending(self) -> None:
        """Write marks that failed before, and hand failed updates over again (needs Redis)."""
        if self._unrecorded:
            async with self.redis.pipeline(transaction=False) as pipe:
                ids = sorted(self._unrecorded)
                for update_id in ids:
                    pipe.set(done_key(update_id), 1, ex=DONE_TTL_SECONDS)
                await pipe.execute()
            for update_id in ids:
                self._unrecorded.discard(update_id)
                self.in_flight.discard(update_id)
        if self._retry:
            await self.redis.ping()  # only once Redis answers again
            self._told.clear()
            retry, self._retry = self._retry, {}
            for update_id in sorted(retry):
                await self.app.update_queue.put(retry[update_id])

    async def _fetch_once(self) -> None:
        await self._flush_pending()
        offset = self._offset()
        # While older updates are being handled, Telegram returns them again at once;
        # poll without waiting then, and pause a moment if nothing new came.
        waiting = self.timeout if not self.in_flight else 0
        updates = await self.app.bot.get_updates(
            offset=offset or None, timeout=waiting, allowed_updates=self.allowed_updates,
            read_timeout=waiting + 10)
        if self._stopping:
            return
        # Updates not in flight were either never taken in or are already marked handled
        # (marks are written before the release): one round trip tells which.
        candidates = [u for u in updates if u.update_id not in self.in_flight
                      and u.update_id >= self.next_offset]
        try:
            if candidates:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for update in candidates:
                        pipe.exists(done_key(update.update_id))
                    handled = await pipe.execute()
            else:
                handled = []
        except REDIS_DOWN:
            # Telegram keeps them: nothing is confirmed. Tell each waiting chat once.
            for update in candidates:
                await self._tell_unavailable(update)
            raise
        if candidates and self._told and not self._failed and not self._retry:
            self._told.clear()  # Redis answers again: a later outage is told anew
        fresh = 0
        for update, was_handled in zip(candidates, handled, strict=True):
            if self._stopping:
                return
            if not was_handled:
                self.in_flight.add(update.update_id)
                await self.app.update_queue.put(update)
                fresh += 1
            self.next_offset = max(self.next_offset, update.update_id + 1)
        if self.in_flight and not fresh:
            await self._sleep(0.1)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when stopping or when failed updates wait for a retry."""
        self._wake.clear()
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            try:
                await self._fetch_once()
                backoff = 1.0
            except InvalidToken:
                log.error("Telegram refused the token; polling stops")
                raise
            except REDIS_DOWN as exc:
                log.warning("Redis unavailable (%s); retrying in %.0f s", type(exc).__name__,
                            _REDIS_BACKOFF_MAX)
                await self._sleep(_REDIS_BACKOFF_MAX)
            except (TimedOut, NetworkError, Conflict, RedisError) as exc:
                log.warning("polling failed (%s); retrying in %.0f s", type(exc).__name__,
                            backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except Exception:
                # Never let an unexpected error end polling silently: the desk would go deaf.
                log.exception("unexpected polling error; retrying in %.0f s", backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def start(self) -> None:
        """Drop any webhook (we poll) and start fetching."""
        await self.app.bot.delete_webhook(drop_pending_updates=False)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="vraagbaak-poller")

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop fetching within `timeout` seconds; unhandled updates stay unconfirmed.

        A stop flag ends the loop even when a cancellation is swallowed on the way (redis-py
        wraps calls in `asyncio.wait_for`, which on Python 3.11 can drop a cancel), the
        cancel is repeated while waiting, and the wait is bounded. A cancellation of the
        caller itself propagates."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not task.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.error("the poller did not stop within %.0f s; leaving it", timeout)
                return
            task.cancel()
            await asyncio.wait({task}, timeout=min(0.5, remaining))
        if not task.cancelled() and task.exception() is not None:
            log.error("the poller had ended with %s", type(task.exception()).__name__)
