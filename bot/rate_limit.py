"""Telegram's overall send limit, with priorities: a rush of welcomes never delays an answer.

python-telegram-bot's AIORateLimiter grants its overall limit (Telegram allows about 30
messages a second) first come, first served: when 300 newcomers send /start within a second,
the 300 welcomes fill ten seconds of sending, and a question asked meanwhile is answered after
them. Here a waiting send with a lower priority value goes first; the welcome of a /start is
sent with `rate_limit_args=handlers.context.LOW_PRIORITY`. A 429 on a send to a chat pauses
that chat's sends for its retry_after (other chats go on: if the limit was the overall one,
each of them meets its own 429 and waits in turn); a 429 on a call without a chat pauses
every send. The refused call is tried again.

With several desk instances (`instances=multi`) the overall limit is shared: every grant is
taken from one Redis script (`SharedLimit`), so together they never send more than the limit
in any second; each instance still serves its own waiting sends by priority."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

NORMAL_PRIORITY = 0
JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
SHARED_KEY = "vb:ratelimit:global"
SHARED_RETRY_SECONDS = 5

# The sends of the last second on Redis's own clock (microseconds), one member each: a send
# may go while fewer than the limit went in the last second. A sliding window rather than a
# bucket with a burst allowance: a full bucket plus a second's refill would let twice the
# limit through in one second. Returns 0 (granted, recorded) or the microseconds to wait.
# KEYS: the window; ARGV: limit per second, a member unique to this send
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000000)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 2000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + 1000000 - now)
"""


class SharedLimit:
    """The overall send limit shared by every desk instance on one Redis."""

    def __init__(self, redis: Redis, rate: int, owner: str) -> None:  # type: ignore[type-arg]
        self.rate = rate
        self.owner = owner
        self._take = redis.register_script(_TAKE)
        self._sends = itertools.count()

    async def take(self) -> float:
        """0 when a send may go now (it is counted), else the seconds until one may."""
        wait = await self._take(keys=[SHARED_KEY],
                                args=[self.rate, f"{self.owner}:{next(self._sends)}"])
        return int(wait) / 1e6


class PriorityBucket:
    """A token bucket of `rate` tokens a second (bursts up to `rate`) whose waiters are served
    by priority (lower first), then in arrival order."""

    def __init__(self, rate: float, shared: SharedLimit | None = None) -> None:
        self.rate = rate
        self.shared = shared  # set: tokens come from the limit all instances share
        self._shared_down_until = 0.0
        self.level = rate
        self.stamp = time.monotonic()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._drainer: asyncio.Task[None] | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.rate, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def _take(self) -> float:
        """Take a token: 0 if taken, else the seconds until one may be. Without Redis, the
        shared limit falls back on this instance's own."""
        if self.shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                return await self.shared.take()
            except RedisError as exc:
                # Not asked again for a while: each attempt waits out the client's retries.
                self._shared_down_until = time.monotonic() + SHARED_RETRY_SECONDS
                log.warning("shared send limit unavailable (%s): using this instance's own "
                            "for %d s", type(exc).__name__, SHARED_RETRY_SECONDS)
        self._refill()
        if self.level >= 1:
            self.level -= 1
            return 0.0
        return (1 - self.level) / self.rate

    async def acquire(self, priority: int = NORMAL_PRIORITY) -> None:
        """Wait for a token, behind every waiter of a lower or equal priority value."""
        if not self._waiters and await self._take() == 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="vraagbaak-send-bucket")
        await future

    async def _drain(self) -> None:
        while self._waiters:
            if self._waiters[0][2].done():  # a cancelled waiter gives its turn away
                heapq.heappop(self._waiters)
                continue
            wait = await self._take()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            while self._waiters:
                _, _, future = heapq.heappop(self._waiters)
                if not future.done():
                    future.set_result(None)
                    break

    async def close(self) -> None:
        """Stop serving waiters."""
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer


class PriorityRateLimiter(BaseRateLimiter[int]):
    """The overall limit for every call to a chat, waiting sends served by priority
    (`rate_limit_args`, lower first); a 429 retried up to `max_retries` times."""

    def __init__(self, overall_max_rate: float, max_retries: int = 3,
                 shared: SharedLimit | None = None) -> None:
        self.bucket = PriorityBucket(overall_max_rate, shared)
        self.max_retries = max_retries
        self._not_paused = asyncio.Event()
        self._not_paused.set()
        self._chat_free_at: dict[Any, float] = {}  # chat id -> when its 429 pause ends

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Stop serving waiters."""
        await self.bucket.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        """Wait for the send's turn (calls without a chat, like answering a button, do not
        count), then make the call; wait out a 429 and try again."""
        priority = NORMAL_PRIORITY if rate_limit_args is None else rate_limit_args
        chat = data.get("chat_id")
        loop = asyncio.get_running_loop()
        for attempt in range(self.max_retries + 1):
            if chat is not None:
                await self.bucket.acquire(priority)
                wait = self._chat_free_at.get(chat, 0.0) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif chat in self._chat_free_at:
                    del self._chat_free_at[chat]
            await self._not_paused.wait()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries:
                    log.error("%s refused with 429 after %d retries", endpoint, attempt)
                    raise
                # A timedelta whatever PTB_TIMEDELTA says (AIORateLimiter reads it so too).
                pause = exc._retry_after.total_seconds() + 0.1
                if chat is not None:
                    log.info("429 on %s: this chat's sends wait %.1f s", endpoint, pause)
                    self._chat_free_at[chat] = max(self._chat_free_at.get(chat, 0.0),
                                                   loop.time() + pause)
                    continue
                log.info("429 on %s: every send waits %.1f s", endpoint, pause)
                self._not_paused.clear()
                try:
                    await asyncio.sleep(pause)
                finally:
                    self._not_paused.set()
        raise AssertionError("unreachable")  # the last attempt returned or raised
