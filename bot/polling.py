"""Long polling that loses nothing and confirms at once: an update is kept in Redis before
Telegram is told it arrived, and dropped from there once handled.

PTB's Updater confirms a batch as soon as it fetched it, so updates waiting in memory are lost
when the process dies. Holding the confirmation back instead (the offset at the oldest update
still being handled) makes every poll hand back the whole unfinished window, which costs a
parse per update per poll and lets one chat's backlog starve the others. So:
- each fetched batch goes through one script that keeps every update not seen before in a
  Redis hash (append-only file on) and skips those already pending or handled; only then does
  the offset move past them, and the next long poll confirms them to Telegram;
- when Redis cannot answer, nothing advances (Telegram keeps the updates) and each waiting
  chat is told once that the desk is briefly unavailable;
- a handled update gets its handled mark and leaves the hash in one transaction; marks are
  written in batches by one writer, so a burst costs one round trip per batch, not per update;
- after a crash or kill -9, the updates still in the hash are handed to the handlers again
  at start-up, in order, and Telegram's own redelivery of them is recognised and skipped;
- an update whose handling failed because Redis was unreachable is handed to the handlers
  again once Redis answers;
- Telegram allows one getUpdates consumer, so with several desk instances only the holder of
  the polling lease polls; the others wait and take over when it is released (a stop) or
  expires (a kill), handing over first the updates the previous holder kept but did not
  handle. A single instance takes the lease of its own earlier process back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from telegram import Update
from telegram.constants import ChatType
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, ApplicationHandlerStop

from bot.dead_letters import FAILING, MAX_ATTEMPTS, UNREADABLE, move_aside
from bot.leases import Lease, pause
from handoff.batch import Batch
from locales import negotiate, translator

log = logging.getLogger(__name__)

POLLING_LEASE = "feed:polling"  # held by the one instance that calls getUpdates
DONE_TTL_SECONDS = 2 * 24 * 3600  # longer than Telegram keeps unconfirmed updates (24 h)
PENDING_KEY = "vb:updates:pending"  # update id -> the update's JSON, until handled
# update id -> how often it was handed over again at a start, until handled: an update that
# crashed the process each time is moved aside (bot.dead_letters) instead of forever again.
REPLAYS_KEY = "vb:updates:replays"
_BACKOFF_MAX = 30.0
# While Redis is down, try again often: users' messages must be answered within ~2 s of its
# return, and a PING every half second costs nothing.
_REDIS_BACKOFF_MAX = 0.5
STOP_TIMEOUT = 5.0
# Updates taken in but not yet handled; above this the poller waits before fetching more, so
# a flood cannot fill the memory (the flood gate drops a flooder's surplus quickly).
MAX_IN_FLIGHT = 2000

# Errors that mean "Redis is unreachable right now", not "this update is bad".
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# An update that fails this often with Redis "down" is given up (marked handled), so a
# handler that raises such an error for another reason cannot make it loop forever.
_MAX_ATTEMPTS = 20

# Batches a handler's own call writes before leaving the rest to a background writer.
_DIRECT_ROUNDS = 2

# KEYS[1]: the pending hash; KEYS[1 + i]: the handled mark of update i; ARGV[2i - 1], ARGV[2i]:
# its id and JSON. Keeps each update neither pending nor handled; returns their ids.
_TAKE = """
local fresh = {}
for i = 1, #KEYS - 1 do
  local id = ARGV[2 * i - 1]
  if redis.call('EXISTS', KEYS[i + 1]) == 0
      and redis.call('HSETNX', KEYS[1], id, ARGV[2 * i]) == 1 then
    fresh[#fresh + 1] = id
  end
end
return fresh
"""


def scrub_names(value: Any) -> None:
    """Blank the people's names and usernames in an update, in place, before it is kept in
    Redis or handled: the desk never uses them, so they never reach its storage (Telegram
    requires a first name, so it stays, empty)."""
    if isinstance(value, dict):
        if "first_name" in value:
            value["first_name"] = ""
        value.pop("last_name", None)
        value.pop("username", None)
        for item in value.values():
            if isinstance(item, (dict, list)):
                scrub_names(item)
    elif isinstance(value, list):
        for item in value:
            scrub_names(item)


def done_key(update_id: int) -> str:
    """Redis key marking an update as handled."""
    return f"vb:update_done:{update_id}"


def _queue_marks(batch: Batch, update_ids: list[int]) -> None:
    """The handled marks of these updates, and their removal from the kept updates."""
    for update_id in update_ids:
        batch.set(done_key(update_id), 1, ex=DONE_TTL_SECONDS)
    batch.hdel(PENDING_KEY, *update_ids)
    batch.hdel(REPLAYS_KEY, *update_ids)


def _unavailable_text(update: Update) -> str:
    user = update.effective_user
    tr = translator(negotiate(user.language_code if user is not None else None))
    return tr._("The desk is briefly unavailable. Your message is safe: you will get an answer "
                "as soon as we are back. In acute danger, call 112.")


class ReliablePoller:
    """Fetches updates into the application's queue; keeps them in Redis until handled."""

    def __init__(self, app: Application, redis: Redis,  # type: ignore[type-arg]
                 allowed_updates: Sequence[str], timeout: int = 10,
                 lease: Lease | None = None, seize: bool = False) -> None:
        self.app = app
        self.redis = redis
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.lease = lease  # None: poll without asking anyone (one process, as in tests)
        self._seize = seize  # take the lease back from this instance's earlier process
        self._renewer: asyncio.Task[None] | None = None
        self.in_flight: set[int] = set()  # taken in (kept in Redis), handled mark not written
        self.next_offset = 0  # one past the newest update kept in Redis
        self._take = redis.register_script(_TAKE)
        self._to_mark: set[int] = set()  # handled; mark not yet written
        self._written: set[int] = set()  # marked within a handler's own transaction
        self._writing = False
        self._writer: asyncio.Task[None] | None = None
        self._failed: set[int] = set()  # handling hit a Redis outage
        self._retry: dict[int, Update] = {}  # to hand to the handlers again
        self._retrier: asyncio.Task[None] | None = None
        self._told: set[int] = set()  # chats told about the outage (until Redis is back)
        self._attempts: dict[int, int] = {}
        self._replayed = False  # updates kept before the last stop were handed over
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._released = asyncio.Event()

    # -- called by the handling side -------------------------------------------------------

    def queue_handled(self, batch: Batch, update_id: int) -> bool:
        """Add this update's handled mark (and its release from the kept updates) to a
        handler's own transaction, so the mark is atomic with the handling's effects: a
        restart then never repeats them. Call `handled_written` once it was executed."""
        if update_id not in self.in_flight:
            return False
        _queue_marks(batch, [update_id])
        return True

    def handled_written(self, update_id: int) -> None:
        """The transaction with this update's mark was executed: `mark_done` has no write."""
        self._written.add(update_id)

    @property
    def polling(self) -> bool:
        """Whether this instance is the one that polls (for /healthz and tests)."""
        return self._task is not None and (self.lease is None or self.lease.held)

    def status(self) -> dict[str, object]:
        """This instance's part of the feed: whether it is the one that polls."""
        return {"instance": None if self.lease is None else self.lease.owner,
                "polling": self.polling, "in_flight": len(self.in_flight)}

    def still_ours(self, update: object) -> bool:
        """Asked by the processor before an update's handling starts: False (and the update
        forgotten, still kept in Redis) when the polling lease was lost meanwhile, so the
        new holder, which hands over the kept updates, handles it."""
        if self.lease is None or self.lease.held or not isinstance(update, Update):
            return True
        self.in_flight.discard(update.update_id)
        return False

    async def mark_done(self, update: object) -> None:
        """Called when an update has been handled (or failed in a handler and was reported)."""
        if not isinstance(update, Update):
            return
        update_id = update.update_id
        if update_id in self._written:
            self._written.discard(update_id)
            self._failed.discard(update_id)
            self._attempts.pop(update_id, None)
            self.in_flight.discard(update_id)
            self._released.set()
            return
        if update_id in self._failed:
            self._failed.discard(update_id)
            attempts = self._attempts[update_id] = self._attempts.get(update_id, 0) + 1
            if attempts < _MAX_ATTEMPTS:
                # Redis was unreachable while handling it: hand it over again once it is back.
                self._retry[update_id] = update
                if self._retrier is None or self._retrier.done():
                    self._retrier = asyncio.create_task(self._hand_over_again(),
                                                        name="vraagbaak-poller-retry")
                return
            log.error("giving up an update after %d attempts during a Redis outage", attempts)
            await move_aside(self.redis, update_id, json.dumps(update.to_dict()), FAILING)
        self._attempts.pop(update_id, None)
        self._to_mark.add(update_id)
        if self._writing:
            return  # a write is on its way; its writer takes this mark in its next round
        # Written at once by the caller: between the answer going out and its mark being
        # durable lies one round trip, the window in which a kill -9 repeats an answer.
        await self._write_marks(_DIRECT_ROUNDS)
        self._write_later()

    def _write_later(self) -> None:
        """Leave the waiting marks to a background writer, unless one is running."""
        if self._to_mark and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write_marks(), name="vraagbaak-marks")

    async def _write_marks(self, rounds: int | None = None) -> None:
        """Write waiting handled marks, a batch per round trip (at most `rounds` batches).

        The mark and the removal from the pending hash are one transaction: a restart sees the
        update either still pending (handled again) or marked (skipped), never neither. While
        one write is under way, marks of other updates gather for the next batch."""
        if self._writing:
            return
        self._writing = True
        try:
            await self._write_rounds(rounds)
        finally:
            self._writing = False

    async def _write_rounds(self, rounds: int | None) -> None:
        while self._to_mark and (rounds is None or rounds > 0):
            if rounds is not None:
                rounds -= 1
            ids = sorted(self._to_mark)
            batch = Batch()
            _queue_marks(batch, ids)
            try:
                await batch.run(self.redis)
            except RedisError as exc:
                log.warning("could not record handled updates: %s", type(exc).__name__)
                if self._stopping or rounds is not None:
                    break  # the background writer, or the restart, takes over
                await asyncio.sleep(_REDIS_BACKOFF_MAX)
                continue
            self._to_mark.difference_update(ids)
            self.in_flight.difference_update(ids)
            self._released.set()

    async def _hand_over_again(self) -> None:
        """Once Redis answers again, put the updates whose handling it broke back in line."""
        while self._retry and not self._stopping:
            try:
                await self.redis.ping()
            except RedisError:
                await asyncio.sleep(_REDIS_BACKOFF_MAX)
                continue
            self._told.clear()
            retry, self._retry = self._retry, {}
            for update_id in sorted(retry):
                await self.app.update_queue.put(retry[update_id])

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

    def _parse(self, data: Any) -> Update | None:
        try:
            return Update.de_json(data, self.app.bot)
        except Exception as exc:  # not an update PTB can read: nothing to hand over
            log.error("skipping an unreadable update (%s)", type(exc).__name__)
            return None

    async def _hand_over(self, batch: list[tuple[int, Any]],
                         replays: dict[int, int] | None = None) -> None:
        """Parse and queue kept updates, in id order; an unreadable one, and one handed over
        again too often, is moved aside and counts as handled."""
        for update_id, data in sorted(batch, key=lambda item: item[0]):
            if self._stopping:
                return
            self.in_flight.add(update_id)
            update = self._parse(data)
            reason = UNREADABLE if update is None else \
                FAILING if (replays or {}).get(update_id, 0) > MAX_ATTEMPTS else None
            if reason is not None:
                await move_aside(self.redis, update_id, json.dumps(data), reason)
                self._to_mark.add(update_id)
                continue
            await self.app.update_queue.put(update)
        self._write_later()

    async def _replay(self) -> None:
        """At start-up: hand over what was kept but not handled before the last stop."""
        kept = await self.redis.hgetall(PENDING_KEY)
        self._replayed = True
        batch = []
        for key, value in kept.items():
            try:
                if int(key) in self.in_flight:
                    continue  # this process handles it already (the lease taken back)
                batch.append((int(key), json.loads(value)))
            except ValueError:
                log.error("dropping an unreadable kept update")
                await self.redis.hdel(PENDING_KEY, key)
        if batch:
            # The offset stays: Telegram hands over again what it did not see confirmed, and
            # the take script skips those kept here.
            log.info("handing over %d updates kept before the last stop", len(batch))
            pipe = self.redis.pipeline(transaction=False)
            for update_id, _ in batch:
                pipe.hincrby(REPLAYS_KEY, str(update_id), 1)
            counts = await pipe.execute()
            await self._hand_over(batch, {i: int(n) for (i, _), n in
                                          zip(batch, counts, strict=True)})

    async def _fetch_once(self) -> None:
        if not self._replayed:
            await self._replay()
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            self._released.clear()
            await pause(self._released, 1.0)
            return
        # The raw result is what is kept in Redis, so it is fetched unparsed: Bot._post is the
        # step of Bot.get_updates before parsing (same request pool, no rate limiter).
        # do_api_request, the public way to a raw result, refuses existing methods.
        raw = await self.app.bot._post(
            "getUpdates", {"offset": self.next_offset or None,
                           "limit": min(100, MAX_IN_FLIGHT - len(self.in_flight)),
                           "timeout": self.timeout, "allowed_updates": self.allowed_updates},
            read_timeout=self.timeout + 10)
        if self._stopping or not raw:
            return
        batch = [(u["update_id"], u) for u in raw if isinstance(u.get("update_id"), int)]
        if not batch:
            return
        for _, data in batch:
            scrub_names(data)
        try:
            taken = await self._take(
                keys=[PENDING_KEY, *(done_key(i) for i, _ in batch)],
                args=[x for i, u in batch for x in (i, json.dumps(u, separators=(",", ":")))])
        except REDIS_DOWN:
            # Telegram keeps them: nothing is confirmed. Tell each waiting chat once.
            for _, data in batch:
                update = self._parse(data)
                if update is not None:
                    await self._tell_unavailable(update)
            raise
        if self._told and not self._failed and not self._retry:
            self._told.clear()  # Redis answers again: a later outage is told anew
        # Kept (or already pending or handled): the next poll may confirm them all.
        self.next_offset = max(self.next_offset, max(i for i, _ in batch) + 1)
        fresh = {int(i) for i in taken}
        await self._hand_over([(i, u) for i, u in batch if i in fresh])

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when stopping."""
        self._wake.clear()
        if self._stopping:
            return
        await pause(self._wake, seconds)

    async def _run(self) -> None:
        while not self._stopping:
            if self.lease is not None and not await self._take_lease():
                return
            await self._poll()

    async def _take_lease(self) -> bool:
        """Wait until this instance holds the polling lease (True) or is stopped (False)."""
        assert self.lease is not None
        while not self._stopping:
            try:
                taken = await (self.lease.seize() if self._seize else self.lease.acquire())
            except RedisError as exc:
                log.warning("polling lease: Redis unavailable (%s)", type(exc).__name__)
                taken = False
            if taken:
                self._seize = False
                log.info("polling lease taken (fence %d)", self.lease.fence)
                self._replayed = False  # what the previous holder kept comes first
                if self._renewer is None or self._renewer.done():
                    self._renewer = asyncio.create_task(self._renew(),
                                                        name="vraagbaak-poll-lease")
                return True
            await self._sleep(self.lease.ttl / 3)
        return False

    async def _renew(self) -> None:
        """Renew the polling lease until it is lost (polling then stops) or released."""
        assert self.lease is not None
        while self.lease.held:
            await asyncio.sleep(self.lease.ttl / 3)
            try:
                await self.lease.renew()
            except RedisError as exc:  # held until it expires; the next renewal tells
                log.warning("polling lease not renewed (%s)", type(exc).__name__)
        self._wake.set()

    async def _poll(self) -> None:
        backoff = 1.0
        while not self._stopping and (self.lease is None or self.lease.held):
            try:
                await self._fetch_once()
                backoff = 1.0
            except InvalidToken:
                log.error("Telegram refused the token; polling stops")
                raise
            except REDIS_DOWN as exc:
                log.warning("Redis unavailable (%s); retrying in %.1f s", type(exc).__name__,
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
        """Stop fetching within `timeout` seconds; unhandled updates stay kept in Redis.

        A stop flag ends the loop even when a cancellation is swallowed on the way (redis-py
        wraps calls in `asyncio.wait_for`, which on Python 3.11 can drop a cancel), the
        cancel is repeated while waiting, and the wait is bounded. A cancellation of the
        caller itself propagates. Handled marks still come in while the handlers drain;
        `flush` writes the last of them."""
        self._stopping = True
        self._wake.set()
        self._released.set()
        retrier, self._retrier = self._retrier, None
        if retrier is not None:
            retrier.cancel()
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

    async def flush(self, timeout: float = 2.0) -> None:
        """After the handlers drained: write the last handled marks (what is not written in
        time stays pending and is handled again after the restart), then release the polling
        lease, so another instance polls at once."""
        self._write_later()
        writer = self._writer
        if writer is not None and not writer.done():
            await asyncio.wait({writer}, timeout=timeout)
            if not writer.done():
                writer.cancel()
                log.warning("%d handled marks not written before the stop", len(self._to_mark))
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        if self.lease is not None:
            await self.lease.release()
