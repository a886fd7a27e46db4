"""Updates the desk cannot handle are moved aside, so that they never stop the feed.

An update python-telegram-bot cannot parse, or one whose handling failed (or crashed the
process) on every one of `MAX_ATTEMPTS` tries, goes to a dead-letter stream in Redis that
expires after `TTL_SECONDS` (names are already scrubbed from it), is counted in a metric and
logged by its id and reason only, never its content; the feed then goes on with the next one."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import metrics
from handoff.keys import PREFIX

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # hand-overs of one update before it is moved aside
TTL_SECONDS = 7 * 24 * 3600  # long enough to look into, short enough not to keep content
MAX_LENGTH = 1000
UNREADABLE = "unreadable"
FAILING = "failing"


def dead_letters() -> str:
    """Stream of the updates moved aside: update id, reason and the update's JSON."""
    return f"{PREFIX}:updates:dead"


async def move_aside(redis: Redis, update_id: int | None, raw: str, reason: str) -> None:
    """Keep an update that cannot be handled out of the feed's way (best effort: the feed goes
    on also when Redis cannot take it)."""
    metrics.DEAD_LETTERS.labels(reason=reason).inc()
    log.error("update moved aside as %s update_id=%s", reason, update_id)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead_letters(), {"update_id": str(update_id), "reason": reason,
                                       "update": raw}, maxlen=MAX_LENGTH, approximate=True)
            pipe.expire(dead_letters(), TTL_SECONDS)
            await pipe.execute()
    except RedisError as exc:
        log.warning("could not keep a dead letter: %s", type(exc).__name__)
