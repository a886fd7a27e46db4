"""Webhook mode: Telegram posts updates here; each is on a Redis stream before we answer 200.

Several desk instances can run behind one webhook URL, on one Redis:
- `receive` de-duplicates a post across instances (the update id is marked as stored, so
  Telegram's retry of an update that another instance stored is answered 200 and not stored
  again) and appends the update to one of N partition streams, chosen by its chat (the chat
  id modulo N), in one script: a crash cannot keep the mark without the update;
- each partition has one owner at a time, a `Lease` renewed every second. An instance takes
  free or expired partitions up to its share of the live instances and gives up (after
  draining them) those above it, so two instances own N/2 each. On a stop it stops reading,
  lets its in-flight updates finish (the processor's drain), then releases its leases, so
  another instance takes them over at once instead of after their expiry;
- a new owner first claims the previous owner's pending entries (XAUTOCLAIM) and hands them
  over in stream order, dropping those already marked handled and moving aside those read
  too often (bot.dead_letters), and only then reads new ones. Reads and claims run in a
  script that checks the lease in the same step, so an instance that lost a partition cannot
  take entries from it any more, and an update that had not started when its partition was
  lost is left to the new owner (`still_ours`).
One owner per chat keeps the chat's order and the in-memory flood gate valid. A consumer
acknowledges an entry only once its update was handled, so a crash after the 200 replays it.

Repeat bound: an update whose handling had started when its owner died (or lost its lease
while frozen for longer than the lease) is handled again by the new owner, as its handled
mark was not written: at most the updates in flight per chat, which the per-chat processor
keeps to one. A single instance (the default) owns every partition; a restart of it takes
its own leases back at once."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import zlib
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from telegram import Update
from telegram.ext import Application

from bot import leases, metrics
from bot.dead_letters import FAILING, MAX_ATTEMPTS, UNREADABLE, move_aside
from bot.leases import Instances, Lease, lease_key, pause
from bot.polling import DONE_TTL_SECONDS, done_key, scrub_names
from bot.web import keys
from bot.web.app import DESK, SETTINGS, STATE
from handoff.batch import Batch
from handoff.streams import ensure_group

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GROUP = "bot"
MAX_BODY = 1024 * 1024
# Short blocking reads: the feed stops by finishing its read, not by cancelling it (cancelling
# a blocked redis-py read can leave the connection hanging).
BLOCK_MS = 500
READ_COUNT = 100
# How often partitions are renewed, taken and given up (at most a third of the lease, so a
# renewal never comes too late; once a second, so a dead owner's partitions are taken over
# within a second of their expiry).
TICK_SECONDS = 1.0

# KEYS: the stored mark, the handled mark, the partition stream; ARGV: the marks' lifetime,
# the update's JSON. 1 if stored now, 0 if this update was stored or handled before.
_RECEIVE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('XADD', KEYS[3], '*', 'update', ARGV[2])
redis.call('SET', KEYS[1], 1, 'EX', ARGV[1])
return 1
"""

# KEYS: per partition its lease key and its stream; ARGV: group, consumer, count, then per
# partition the lease token. Per partition {-1} when the lease is not this holding's (nothing
# read), {0, the stream's last entry id or '0-0'} when there is nothing new, {1, entries}.
_READ = """
local out = {}
for i = 1, #KEYS / 2 do
  local stream = KEYS[2 * i]
  if redis.call('GET', KEYS[2 * i - 1]) ~= ARGV[3 + i] then
    out[i] = {-1}
  else
    local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                           'STREAMS', stream, '>')
    if got then
      out[i] = {1, got[1][2]}
    else
      local tail = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
      out[i] = {0, tail[1] and tail[1][1] or '0-0'}
    end
  end
end
return out
"""

# KEYS: the lease key, the stream; ARGV: lease token, group, consumer, start id, count.
# The XAUTOCLAIM reply (every pending entry, whoever read it), or nil if the lease was lost.
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return nil
end
return redis.call('XAUTOCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, ARGV[4], 'COUNT', ARGV[5])
"""

# KEYS: the stream; ARGV: group, this consumer. Deletes the earlier owners' consumers that
# have nothing pending (each restart has a new name; deleting one with entries would lose
# them, so that is checked in the same step).
_FORGET = """
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if info['name'] ~= ARGV[2] and info['pending'] == 0 then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
  end
end
"""

# KEYS: a stream no partition reads, a partition stream; ARGV: the entry id, the update's
# JSON.
_MOVE = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('XADD', KEYS[2], '*', 'update', ARGV[2])
end
"""

_DROP_IF_EMPTY = """
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
end
"""


def chat_of(update: dict[str, Any]) -> int | None:
    """The id by which the processor orders an update: its chat, else its sender."""
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        chat = value.get("chat")
        message = value.get("message")
        if not isinstance(chat, dict) and isinstance(message, dict):
            chat = message.get("chat")  # a callback query: the chat of its message
        for holder in (chat, value.get("from"), value.get("user")):
            if isinstance(holder, dict) and isinstance(holder.get("id"), int):
                return int(holder["id"])
    return None


def partition_of(update: dict[str, Any], partitions: int) -> int:
    """The update's partition: its chat id modulo N (stable across processes, unlike
    Python's salted hash); partition 0 for an update without chat or sender."""
    chat = chat_of(update)
    return 0 if chat is None else chat % partitions


async def receive(request: web.Request) -> web.Response:
    """POST /telegram/webhook: 403 without the secret, 400 if malformed, 200 once stored."""
    secret = request.app[STATE].webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
        raise web.HTTPForbidden()
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length)
    try:
        update = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="body is not JSON") from None
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise web.HTTPBadRequest(text="not a Telegram update")
    scrub_names(update)  # as the poller does: names never reach the desk's storage
    update_id = update["update_id"]
    partition = partition_of(update, request.app[SETTINGS].feed_partitions)
    redis = request.app[DESK].redis
    try:
        await redis.register_script(_RECEIVE)(
            keys=[keys.update_seen(update_id), done_key(update_id),
                  keys.webhook_partition(partition)],
            args=[DONE_TTL_SECONDS, json.dumps(update)])
    except RedisError:
        # Not stored: Telegram retries a non-2xx answer later.
        log.warning("webhook update not stored: Redis unavailable")
        raise web.HTTPServiceUnavailable() from None
    return web.Response(status=200)


def _queue_mark(batch: Batch, update_id: int, partition: int, entry_id: str) -> None:
    """The handled mark, and the update's acknowledgement and removal from its stream.

    Written also by an owner that lost the partition meanwhile: the handling's effects took
    place, and the mark spares the new owner a repeat (it skips a marked entry)."""
    stream = keys.webhook_partition(partition)
    batch.set(done_key(update_id), 1, ex=DONE_TTL_SECONDS)
    batch.xack(stream, GROUP, entry_id)
    batch.xdel(stream, entry_id)


def _fields(raw: Any) -> dict[str, str]:
    """A stream entry's fields from a script's reply (a flat list) or a parsed one."""
    if isinstance(raw, dict):
        return raw
    items = list(raw or [])
    return dict(zip(items[::2], items[1::2], strict=False))


class WebhookFeed:
    """Registers the webhook and feeds the stored updates of the partitions this instance
    owns to the Application (no Updater)."""

    def __init__(self, app: Application, redis: Redis,  # type: ignore[type-arg]
                 url: str, secret: str, allowed_updates: Sequence[str], *,
                 partitions: int = 1, instance: str = "bot", multi: bool = False,
                 ttl: float | None = None) -> None:
        self.app = app
        self.redis = redis
        self.url = url
        self.secret = secret
        self.allowed_updates = list(allowed_updates)
        self.partitions = partitions
        self.instance = instance  # also this instance's consumer name in each stream's group
        self.multi = multi
        ttl = ttl or leases.LEASE_TTL
        self.leases = {p: Lease(redis, f"feed:{p}", instance, ttl) for p in range(partitions)}
        self.instances = Instances(redis, instance, ttl) if multi else None
        self.tick = min(TICK_SECONDS, ttl / 3)
        self.in_flight: dict[int, tuple[int, str]] = {}  # update id -> partition, entry id
        self._reading: set[int] = set()  # owned partitions read from
        self._draining: set[int] = set()  # owned, no longer read; released once drained
        self._claims: list[int] = []  # newly owned: their pending entries come first
        self._tails: dict[int, str] = {}  # partition -> its stream's last entry when read
        self._read = redis.register_script(_READ)
        self._claim = redis.register_script(_CLAIM)
        self._forget = redis.register_script(_FORGET)
        self._move = redis.register_script(_MOVE)
        self._drop_if_empty = redis.register_script(_DROP_IF_EMPTY)
        self._task: asyncio.Task[None] | None = None
        self._manager: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()  # no more reading
        self._closed = asyncio.Event()  # no more renewing
        self._wake = asyncio.Event()

    # -- what others see -------------------------------------------------------------------

    @property
    def owned(self) -> list[int]:
        """The partitions this instance owns now (for /healthz and tests)."""
        return sorted(p for p, lease in self.leases.items() if lease.held)

    def status(self) -> dict[str, Any]:
        """This instance's part of the feed: its id, owned, read and draining partitions."""
        return {"instance": self.instance, "partitions": self.partitions,
                "owned": self.owned, "reading": sorted(self._reading),
                "draining": sorted(self._draining), "in_flight": len(self.in_flight)}

    # -- called by the handling side -------------------------------------------------------

    def still_ours(self, update: object) -> bool:
        """Asked by the processor before an update's handling starts: False (and the update
        forgotten) when its partition was lost meanwhile, so that only the new owner, which
        claims the entry, handles it, in its chat's order."""
        if not isinstance(update, Update):
            return True
        entry = self.in_flight.get(update.update_id)
        if entry is None or self.leases[entry[0]].held:
            return True
        del self.in_flight[update.update_id]
        return False

    async def mark_done(self, update: object) -> None:
        """Called after an update was handled: remember it, then drop it from the stream."""
        if not isinstance(update, Update):
            return
        entry = self.in_flight.pop(update.update_id, None)
        if entry is None:
            return
        batch = Batch()
        _queue_mark(batch, update.update_id, *entry)
        try:
            await batch.run(self.redis)
        except RedisError as exc:
            log.warning("could not acknowledge a handled update: %s", type(exc).__name__)

    def queue_handled(self, batch: Batch, update_id: int) -> bool:
        """Add the handled mark and the stream acknowledgement to a handler's transaction."""
        entry = self.in_flight.get(update_id)
        if entry is None:
            return False
        _queue_mark(batch, update_id, *entry)
        return True

    def handled_written(self, update_id: int) -> None:
        """The transaction with this update's mark was executed: nothing left to write."""
        self.in_flight.pop(update_id, None)

    # -- ownership -------------------------------------------------------------------------

    def _order(self) -> list[int]:
        """The partitions in the order this instance tries them: from a place of its own, so
        instances starting together do not all reach for the same ones."""
        offset = zlib.crc32(self.instance.encode()) % self.partitions
        return [(offset + i) % self.partitions for i in range(self.partitions)]

    def _lose(self, partition: int) -> None:
        log.warning("feed partition %d was lost", partition)
        self._reading.discard(partition)
        self._draining.discard(partition)
        if partition in self._claims:
            self._claims.remove(partition)

    async def _may_seize(self, lease: Lease) -> bool:
        """At start-up, a lease still held by this instance's earlier process is taken back at
        once: every lease for a single instance, those under its own id for several."""
        return not self.multi or await lease.holder() == self.instance

    async def _balance(self, first: bool) -> None:
        """Renew what is held; give up partitions above the share, release those drained;
        take free or expired ones up to the share."""
        if self.instances is not None:
            await self.instances.beat()
        for p in self.owned:
            if not await self.leases[p].renew():
                self._lose(p)
        if self._stopping.is_set():
            return  # held until the in-flight updates are done (flush releases them)
        share = (await self.instances.share(self.partitions) if self.instances is not None
                 else self.partitions)
        active = [p for p in self.owned if p not in self._draining]
        for p in sorted(active, reverse=True)[:max(0, len(active) - share)]:
            log.info("feed partition %d: giving it up to another instance", p)
            active.remove(p)
            self._reading.discard(p)
            self._draining.add(p)
            if p in self._claims:
                self._claims.remove(p)
        for p in sorted(self._draining):
            if not any(part == p for part, _ in self.in_flight.values()):
                self._draining.discard(p)
                await self.leases[p].release()
        for p in self._order():
            if len(active) >= share:
                break
            lease = self.leases[p]
            if lease.held:
                continue
            taken = await lease.seize() if first and await self._may_seize(lease) \
                else await lease.acquire()
            if taken:
                log.info("feed partition %d taken (fence %d)", p, lease.fence)
                active.append(p)
                self._claims.append(p)
                self._wake.set()

    async def _manage(self) -> None:
        first = True
        while not self._closed.is_set():
            try:
                await self._balance(first)
                first = False
            except RedisError as exc:
                log.warning("feed partitions: Redis unavailable (%s)", type(exc).__name__)
            except Exception:
                log.exception("unexpected error while balancing the feed's partitions")
            metrics.FEED_PARTITIONS.set(len(self.owned))
            await pause(self._closed, self.tick)

    # -- reading ---------------------------------------------------------------------------

    async def _drop(self, partition: int, entry_id: str) -> None:
        stream = keys.webhook_partition(partition)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()

    async def _feed(self, partition: int, entries: list[tuple[str, dict[str, str]]],
                    deliveries: dict[str, int] | None = None) -> None:
        """Hand these entries over in order; `deliveries`: how often each claimed entry was
        read (an update read this often without being handled crashed its owners: moved
        aside). Unreadable ones are moved aside, handled ones dropped."""
        parsed: list[tuple[str, str, Any, Update | None]] = []
        for entry_id, fields in entries:
            raw = (fields or {}).get("update", "")
            data: Any = None
            try:
                data = json.loads(raw) if raw else None
                update = Update.de_json(data, self.app.bot) if isinstance(data, dict) else None
            except Exception:  # whatever PTB raises for a shape it cannot read
                update = None
            parsed.append((entry_id, raw, data, update))
        ids = [u.update_id for *_, u in parsed if u is not None]
        handled: dict[int, bool] = {}
        if ids:
            async with self.redis.pipeline(transaction=False) as pipe:
                for update_id in ids:
                    pipe.exists(done_key(update_id))
                handled = {i: bool(n) for i, n in zip(ids, await pipe.execute(), strict=True)}
        for entry_id, raw, data, update in parsed:
            if update is None:
                update_id = data.get("update_id") if isinstance(data, dict) else None
                await move_aside(self.redis, update_id, raw, UNREADABLE)
                await self._drop(partition, entry_id)
                continue
            if (deliveries or {}).get(entry_id, 1) > MAX_ATTEMPTS:
                await move_aside(self.redis, update.update_id, raw, FAILING)
                await self._drop(partition, entry_id)
                continue
            if handled.get(update.update_id):
                # Handled before a crash: only the acknowledgement was lost.
                await self._drop(partition, entry_id)
                continue
            if update.update_id in self.in_flight:
                continue  # this instance handles it already (a partition taken back)
            self.in_flight[update.update_id] = (partition, entry_id)
            await self.app.update_queue.put(update)

    async def _take_over(self, partition: int) -> None:
        """A newly owned partition: claim every pending entry, whoever read it, and hand them
        over in stream order before anything new."""
        stream = keys.webhook_partition(partition)
        lease = self.leases[partition]
        await ensure_group(self.redis, stream, GROUP)
        start, claimed = "0-0", 0
        while lease.held:
            reply = await self._claim(
                keys=[lease_key(lease.name), stream],
                args=[lease.token or "", GROUP, self.instance, start, READ_COUNT])
            if reply is None:
                return  # lost meanwhile: the next owner claims them
            cursor, raw_entries = str(reply[0]), reply[1]
            entries = [(str(e[0]), _fields(e[1])) for e in raw_entries if e]
            # Read counts, and the entries deleted from the stream but never acknowledged
            # (Redis 6.2 claims them as empty entries): acknowledged now.
            pending = await self.redis.xpending_range(
                stream, GROUP, min=start, max="+" if cursor == "0-0" else f"({cursor}",
                count=max(READ_COUNT, len(raw_entries)), consumername=self.instance)
            deliveries = {str(p["message_id"]): int(p["times_delivered"]) for p in pending}
            present = {entry_id for entry_id, _ in entries}
            gone = [i for i in deliveries if i not in present and not self._is_in_flight(i)]
            if gone:
                await self.redis.xack(stream, GROUP, *gone)
            claimed += len(entries)
            await self._feed(partition, entries, deliveries)
            if cursor == "0-0":
                break
            start = cursor
        if claimed:
            metrics.TAKEN_OVER.inc(claimed)
            log.info("feed partition %d: %d pending entries taken over", partition, claimed)
        await self._forget(keys=[stream], args=[GROUP, self.instance])

    def _is_in_flight(self, entry_id: str) -> bool:
        return any(e == entry_id for _, e in self.in_flight.values())

    async def _read_new(self) -> bool:
        """One read of every partition being read, each under its lease; True if one may have
        more entries at once (a full batch), else the next step is to wait for new ones."""
        parts = sorted(self._reading)
        stream_keys = [k for p in parts for k in (lease_key(self.leases[p].name),
                                                  keys.webhook_partition(p))]
        tokens = [self.leases[p].token or "" for p in parts]
        replies = await self._read(keys=stream_keys,
                                   args=[GROUP, self.instance, READ_COUNT, *tokens])
        more = False
        for p, reply in zip(parts, replies, strict=True):
            if reply[0] == -1:
                self._reading.discard(p)  # not ours any more; the renewal will confirm it
            elif reply[0] == 0:
                self._tails[p] = str(reply[1])
            elif p in self._reading:
                entries = [(str(e[0]), _fields(e[1])) for e in reply[1]]
                # Everything up to the last entry read was delivered: waiting for what comes
                # after it saves the empty read in between (a wait returns at once if more
                # came meanwhile).
                self._tails[p] = entries[-1][0]
                more = more or len(entries) >= READ_COUNT
                await self._feed(p, entries)
        return more

    async def _wait_for_new(self) -> None:
        """Block (briefly) until an entry arrives after the last one seen on any partition
        being read; reads nothing for the group."""
        streams = {keys.webhook_partition(p): self._tails.get(p, "0-0")
                   for p in sorted(self._reading)}
        if streams:
            await self.redis.xread(streams, block=BLOCK_MS, count=1)

    async def _ensure_groups(self) -> None:
        for p in sorted(self._reading):
            await ensure_group(self.redis, keys.webhook_partition(p), GROUP)

    async def _old_streams(self) -> list[str]:
        """Streams no partition reads: the single stream of desks before the partitioned
        feed, and partitions above the configured number (it was lowered) nobody owns."""
        found = [keys.webhook()]
        async for name in self.redis.scan_iter(match=keys.webhook_partition("*"), count=100):
            number = str(name).rsplit(":", 1)[-1]
            if number.isdigit() and int(number) >= self.partitions \
                    and await self.redis.get(lease_key(f"feed:{number}")) is None:
                found.append(str(name))
        return found

    async def _move_old_streams(self) -> None:
        """Updates on streams no partition reads are moved into their partitions (each move
        is atomic, so instances starting together move each once)."""
        for old in await self._old_streams():
            moved = 0
            while entries := await self.redis.xrange(old, count=READ_COUNT):
                for entry_id, fields in entries:
                    raw = (fields or {}).get("update", "")
                    try:
                        data = json.loads(raw)
                    except ValueError:
                        data = None
                    partition = partition_of(data, self.partitions) \
                        if isinstance(data, dict) else 0
                    await self._move(keys=[old, keys.webhook_partition(partition)],
                                     args=[entry_id, raw])
                moved += len(entries)
            if moved:
                log.info("moved %d updates from a stream no partition reads", moved)
            if old != keys.webhook():
                await self._drop_if_empty(keys=[old])

    async def _run(self) -> None:
        backoff = 1.0
        moved = False
        while not self._stopping.is_set():
            try:
                if not moved:
                    await self._move_old_streams()
                    moved = True
                while self._claims and not self._stopping.is_set():
                    partition = self._claims[0]
                    await self._take_over(partition)
                    if partition in self._claims:
                        self._claims.remove(partition)
                        if self.leases[partition].held:
                            self._reading.add(partition)
                if not self._reading:
                    self._wake.clear()
                    await pause(self._wake, self.tick)
                    continue
                if not await self._read_new():
                    await self._wait_for_new()
                backoff = 1.0
            except RedisError as exc:
                log.warning("webhook stream unavailable (%s); retrying in %.0f s",
                            type(exc).__name__, backoff)
                await pause(self._stopping, backoff)
                backoff = min(backoff * 2, 30.0)
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    with contextlib.suppress(RedisError):
                        await self._ensure_groups()
            except Exception:
                # Never let an unexpected error end the feed: the desk would go deaf while
                # the webhook goes on answering 200.
                log.exception("unexpected webhook feed error; retrying in %.0f s", backoff)
                await pause(self._stopping, backoff)
                backoff = min(backoff * 2, 30.0)

    # -- start and stop --------------------------------------------------------------------

    async def start(self) -> None:
        """Tell Telegram where to post, with the secret it must send back, and start taking
        partitions and feeding."""
        await self.app.bot.set_webhook(self.url, secret_token=self.secret,
                                       allowed_updates=self.allowed_updates,
                                       drop_pending_updates=False)
        self._manager = asyncio.create_task(self._manage(), name="vraagbaak-feed-partitions")
        self._task = asyncio.create_task(self._run(), name="vraagbaak-webhook-feed")

    async def stop(self) -> None:
        """Stop reading; the partitions stay held (and renewed) until `flush`, after the
        processor let the in-flight updates finish. Unacknowledged updates stay pending."""
        self._stopping.set()
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), BLOCK_MS / 1000 + 5)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def flush(self, timeout: float = 2.0) -> None:
        """After the handlers drained: release every partition, so that another instance
        takes it over at once (what was not handled stays pending for it). Each handled mark
        was written as its update finished."""
        self._closed.set()
        manager, self._manager = self._manager, None
        if manager is not None:
            try:
                await asyncio.wait_for(manager, timeout)
            except TimeoutError:
                log.warning("the feed's partition manager did not stop in %.0f s", timeout)
        for p in self.owned:
            await self.leases[p].release()
        self._reading.clear()
        self._draining.clear()
        metrics.FEED_PARTITIONS.set(0)
        if self.instances is not None:
            await self.instances.leave()
