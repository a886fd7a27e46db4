"""GET /healthz for the load balancer and GET /metrics for Prometheus."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.web import keys as web_keys
from bot.web.app import DESK, ENGINE, STATE
from bot.worker import heartbeat_key
from handoff import handoff_keys
from knowledge import keys as knowledge_keys

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0
# The webhook's oldest stored update waiting longer than this: the feed is stuck or behind.
WEBHOOK_BACKLOG_SECONDS = 60.0


async def _redis_ok(request: web.Request) -> bool:
    try:
        return bool(await asyncio.wait_for(request.app[DESK].redis.ping(), CHECK_TIMEOUT))
    except (RedisError, OSError, TimeoutError):
        return False


async def _database_ok(request: web.Request) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except (SQLAlchemyError, OSError, TimeoutError):
        return False


async def _worker_ok(request: web.Request) -> bool:
    """This instance's worker (each desk instance spawns its own) beat recently."""
    desk = request.app[DESK]
    try:
        return bool(await asyncio.wait_for(
            desk.redis.exists(heartbeat_key(desk.settings.instance)), CHECK_TIMEOUT))
    except (RedisError, OSError, TimeoutError):
        return False


async def _live_instances(request: web.Request) -> list[str] | None:
    """The desk instances that beat recently, None when Redis does not answer."""
    try:
        return await asyncio.wait_for(request.app[DESK].instances.live(), CHECK_TIMEOUT)
    except (RedisError, OSError, TimeoutError):
        return None


async def _webhook_flowing(request: web.Request) -> bool:
    """False when the oldest update on any webhook partition stream waits too long (a growing
    backlog, e.g. a partition nobody owns): stream ids are the Redis server's milliseconds,
    compared with its own clock."""
    redis = request.app[DESK].redis
    streams = web_keys.webhook_partitions(request.app[DESK].settings.feed_partitions)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with redis.pipeline(transaction=False) as pipe:
                for stream in streams:
                    pipe.xrange(stream, count=1)
                heads = [found[0][0] for found in await pipe.execute() if found]
            if not heads:
                return True
            seconds, micros = await redis.time()
    except (RedisError, OSError, TimeoutError):
        return True  # Redis being down is its own check
    oldest = min(int(str(entry).split("-")[0]) for entry in heads)
    return seconds + micros / 1e6 - oldest / 1000 <= WEBHOOK_BACKLOG_SECONDS


async def healthz(request: web.Request) -> web.Response:
    """200 when this instance's Redis, database and summariser worker answer (status
    "degraded" when the webhook's updates pile up); else 503 naming what is down. It names
    this instance, and with several instances the live ones."""
    checks = {"redis": _redis_ok(request), "database": _database_ok(request)}
    if request.app[STATE].expect_worker:
        checks["worker"] = _worker_ok(request)
    results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
    down = sorted(name for name, ok in results.items() if not ok)
    degraded = [] if await _webhook_flowing(request) else ["webhook_backlog"]
    if down or degraded:
        log.warning("health check failed: %s", ",".join(down + degraded))
    status = "down" if down else "degraded" if degraded else "ok"
    settings = request.app[DESK].settings
    body: dict[str, object] = {"status": status, "down": down, "degraded": degraded,
                               "instance": settings.instance}
    if settings.instances == "multi":
        body["instances"] = await _live_instances(request)
    feed_status = request.app[STATE].feed_status
    if feed_status is not None:  # which partitions (or the polling) this instance owns
        body["feed"] = feed_status()
    return web.json_response(body, status=503 if down else 200,
                             headers={"Cache-Control": "no-store"})


async def metrics_gauges(request: web.Request) -> None:
    """Refresh the gauges that are read from Redis at scrape time."""
    desk = request.app[DESK]
    waiting = await desk.handoff.queue()
    urgent = sum(1 for ticket in waiting if ticket.urgent)
    metrics.QUEUE.labels(urgency="urgent").set(urgent)
    metrics.QUEUE.labels(urgency="normal").set(len(waiting) - urgent)
    # Every consumer deletes an entry once it is done, so a stream's length is its backlog.
    for name, stream in (("summaries", handoff_keys.summaries()),
                         ("trends", knowledge_keys.trends())):
        metrics.WORKER_LAG.labels(stream=name).set(await desk.redis.xlen(stream))
    webhook = 0
    for stream in web_keys.webhook_partitions(desk.settings.feed_partitions):
        webhook += await desk.redis.xlen(stream)
    metrics.WORKER_LAG.labels(stream="webhook").set(webhook)


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus text format."""
    try:
        await metrics_gauges(request)
    except RedisError as exc:
        log.warning("metrics without Redis gauges: %s", type(exc).__name__)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
