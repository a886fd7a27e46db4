"""Webhook mode: Telegram posts updates here; each is on a Redis stream before we answer 200.

A consumer feeds the stream to the Application in order (per-chat order is kept by
bot.processor) and acknowledges an entry only once its update was handled, so a crash after
the 200 replays it on the next start, and a handled update is not handled twice."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Sequence

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Update
from telegram.ext import Application

from bot.dead_letters import FAILING, MAX_ATTEMPTS, UNREADABLE, move_aside
from bot.polling import DONE_TTL_SECONDS, done_key, scrub_names
from bot.web import keys
from bot.web.app import DESK, STATE
from handoff.batch import Batch
from handoff.streams import ensure_group

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GROUP = "bot"
CONSUMER = "bot"  # one bot process: after a restart it rereads its own unacknowledged entries
MAX_BODY = 1024 * 1024
# Short blocking reads: the feed stops by finishing its read, not by cancelling it (cancelling
# a blocked redis-py read can leave the connection hanging).
BLOCK_MS = 500


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
    try:
        await request.app[DESK].redis.xadd(keys.webhook(), {"update": json.dumps(update)})
    except RedisError:
        # Not stored: Telegram retries a non-2xx answer later.
        log.warning("webhook update not stored: Redis unavailable")
        raise web.HTTPServiceUnavailable() from None
    return web.Response(status=200)


def _queue_mark(batch: Batch, update_id: int, entry_id: str) -> None:
    """The handled mark, and the update's acknowledgement and removal from the stream."""
    batch.set(done_key(update_id), 1, ex=DONE_TTL_SECONDS)
    batch.xack(keys.webhook(), GROUP, entry_id)
    batch.xdel(keys.webhook(), entry_id)


class WebhookFeed:
    """Registers the webhook and feeds stored updates to the Application (no Updater)."""

    def __init__(self, app: Application, redis: Redis,  # type: ignore[type-arg]
                 url: str, secret: str, allowed_updates: Sequence[str]) -> None:
        self.app = app
        self.redis = redis
        self.url = url
        self.secret = secret
        self.allowed_updates = list(allowed_updates)
        self.in_flight: dict[int, str] = {}  # update id -> stream entry id
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def mark_done(self, update: object) -> None:
        """Called after an update was handled: remember it, then drop it from the stream."""
        if not isinstance(update, Update):
            return
        entry_id = self.in_flight.pop(update.update_id, None)
        if entry_id is None:
            return
        batch = Batch()
        _queue_mark(batch, update.update_id, entry_id)
        try:
            await batch.run(self.redis)
        except RedisError as exc:
            log.warning("could not acknowledge a handled update: %s", type(exc).__name__)

    def queue_handled(self, batch: Batch, update_id: int) -> bool:
        """Add the handled mark and the stream acknowledgement to a handler's transaction."""
        entry_id = self.in_flight.get(update_id)
        if entry_id is None:
            return False
        _queue_mark(batch, update_id, entry_id)
        return True

    def handled_written(self, update_id: int) -> None:
        """The transaction with this update's mark was executed: nothing left to write."""
        self.in_flight.pop(update_id, None)

    async def flush(self, timeout: float = 2.0) -> None:
        """Nothing to write at the end: each mark is written as its update finishes."""

    async def _ensure_group(self) -> None:
        await ensure_group(self.redis, keys.webhook(), GROUP)

    async def _drop(self, entry_id: str) -> None:
        await self.redis.xack(keys.webhook(), GROUP, entry_id)
        await self.redis.xdel(keys.webhook(), entry_id)

    async def _deliveries(self, entries: list[tuple[str, dict[str, str]]]) -> dict[str, int]:
        """How often each of these pending entries was read (this read included)."""
        pending = await self.redis.xpending_range(
            keys.webhook(), GROUP, min=entries[0][0], max=entries[-1][0], count=len(entries))
        return {str(p["message_id"]): int(p["times_delivered"]) for p in pending}

    async def _feed(self, entries: list[tuple[str, dict[str, str]]], replay: bool) -> None:
        # Read again after a restart: an update that was read this often without being
        # handled (it crashed the process each time) is moved aside.
        deliveries = await self._deliveries(entries) if replay and entries else {}
        for entry_id, fields in entries:
            raw = (fields or {}).get("update", "")
            data: object = None
            try:
                data = json.loads(raw) if raw else None
                update = Update.de_json(data, self.app.bot) if isinstance(data, dict) else None
            except Exception:  # whatever PTB raises for a shape it cannot read
                update = None
            if update is None:
                update_id = data.get("update_id") if isinstance(data, dict) else None
                await move_aside(self.redis, update_id, raw, UNREADABLE)
                await self._drop(entry_id)
                continue
            if deliveries.get(entry_id, 1) > MAX_ATTEMPTS:
                await move_aside(self.redis, update.update_id, raw, FAILING)
                await self._drop(entry_id)
                continue
            if await self.redis.exists(done_key(update.update_id)):
                # Handled before a crash: only the acknowledgement was lost.
                await self._drop(entry_id)
                continue
            if update.update_id in self.in_flight:
                continue
            self.in_flight[update.update_id] = entry_id
            await self.app.update_queue.put(update)

    async def _run(self) -> None:
        backoff = 1.0
        # First what this consumer read but never acknowledged (before a crash), then new ones.
        cursor = "0"
        while not self._stopping.is_set():
            try:
                await self._ensure_group()
                response = await self.redis.xreadgroup(
                    GROUP, CONSUMER, {keys.webhook(): cursor}, count=100,
                    block=None if cursor == "0" else BLOCK_MS)
                entries = [e for _s, batch in response or [] for e in batch]
                await self._feed(entries, replay=cursor != ">")
                if cursor != ">" and not entries:
                    cursor = ">"  # the pending list is through: new entries from now on
                elif cursor != ">":
                    cursor = entries[-1][0]  # continue through the pending list
                backoff = 1.0
            except RedisError as exc:
                log.warning("webhook stream unavailable (%s); retrying in %.0f s",
                            type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:
                # Never let an unexpected error end the feed: the desk would go deaf while
                # the webhook goes on answering 200.
                log.exception("unexpected webhook feed error; retrying in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def start(self) -> None:
        """Tell Telegram where to post, with the secret it must send back, and start feeding."""
        await self.app.bot.set_webhook(self.url, secret_token=self.secret,
                                       allowed_updates=self.allowed_updates,
                                       drop_pending_updates=False)
        self._task = asyncio.create_task(self._run(), name="vraagbaak-webhook-feed")

    async def stop(self) -> None:
        """Stop feeding; unacknowledged updates stay on the stream for the next start."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), BLOCK_MS / 1000 + 5)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
