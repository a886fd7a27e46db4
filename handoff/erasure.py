"""Deletions that reach the disk: Redis's append-only file is rewritten after personal data
was deleted, so a deleted question or conversation is not left in the file.

Anything that deletes personal data sets a small "rewrite requested" flag (one SET, also from
the worker process or inside a transaction); one loop in the bot turns requests into at most one
BGREWRITEAOF a minute, and rewrites at least hourly so that keys that expired (transcripts,
questions) leave the file as well.

Replicas keep their own append-only file: after the primary's rewrite, each replica the primary
lists (INFO replication) rewrites its file too, once it has replayed the deletions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, ResponseError

from handoff.keys import PREFIX

log = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 3600
POLL_SECONDS = 1.0
REPLICA_CATCH_UP_TRIES = 20
REPLICA_CATCH_UP_SECONDS = 0.05


def rewrite_requested() -> str:
    """Set when personal data was deleted and the append-only file still holds it."""
    return f"{PREFIX}:aof:rewrite_requested"


def rewrite_lock() -> str:
    """Exists for a minute after a rewrite started: the rate limit, shared by all processes."""
    return f"{PREFIX}:aof:rewrite_lock"


def request_rewrite(redis: Redis | Pipeline) -> Any:
    """Ask for the append-only file to be rewritten soon (await it unless on a pipeline)."""
    return redis.set(rewrite_requested(), 1)


class AofRewriter:
    """Turns rewrite requests into BGREWRITEAOF, rate-limited across processes."""

    def __init__(self, redis: Redis, min_interval: int = MIN_INTERVAL_SECONDS,
                 max_interval: float = MAX_INTERVAL_SECONDS, poll: float = POLL_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 replica: Callable[[str, int], Redis] | None = None) -> None:
        self.redis = redis
        self.replica = replica  # a client on a replica by address; None: the primary only
        self._replicas_missed = False  # a replica could not be asked at the last rewrite
        self._replicas_asked = 0.0
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.poll = poll
        self.clock = clock
        self._last = clock()

    async def tick(self) -> bool:
        """Start a rewrite if one was requested (or the last is an hour old) and none ran in
        the last minute; True if one was started. Replicas that missed the last one are
        asked again, at most once a minute."""
        if self._replicas_missed and self.clock() - self._replicas_asked >= self.min_interval:
            await self._rewrite_replicas()
        requested = await self.redis.exists(rewrite_requested())
        if not requested and self.clock() - self._last < self.max_interval:
            return False
        if not await self.redis.set(rewrite_lock(), 1, nx=True, ex=self.min_interval):
            return False
        await self.redis.delete(rewrite_requested())
        self._last = self.clock()
        try:
            await self.redis.bgrewriteaof()
        except ResponseError as exc:
            if "in progress" in str(exc):
                # A rewrite that began before the deletion may still carry the data: again.
                await request_rewrite(self.redis)
                await self.redis.delete(rewrite_lock())
            else:
                # An external Redis may forbid the command or run without AOF.
                log.info("Redis refused to rewrite its append-only file: %s", exc)
            return False
        log.info("Redis append-only file rewrite started")
        if self.replica is not None:
            await self._rewrite_replicas()
        return True

    async def _rewrite_replicas(self) -> None:
        """BGREWRITEAOF on every replica the primary lists, once it has caught up with the
        deletions (a replica still behind would write the deleted data into its new file)."""
        assert self.replica is not None
        self._replicas_asked = self.clock()
        self._replicas_missed = False
        info = await self.redis.info("replication")
        offset = int(info.get("master_repl_offset", 0))
        for name, replica in sorted(info.items()):
            if not (name.startswith("slave") and isinstance(replica, dict)):
                continue
            client = self.replica(str(replica["ip"]), int(replica["port"]))
            try:
                for _ in range(REPLICA_CATCH_UP_TRIES):
                    seen = await client.info("replication")
                    if int(seen.get("slave_repl_offset", 0)) >= offset:
                        break
                    await asyncio.sleep(REPLICA_CATCH_UP_SECONDS)
                await client.bgrewriteaof()
                log.info("append-only file rewrite started on a replica")
            except (RedisError, OSError) as exc:
                # Asked again a minute on (the primary's file is done): the replica must not
                # keep the data.
                log.warning("a replica did not rewrite its append-only file (%s)",
                            type(exc).__name__)
                self._replicas_missed = True
            finally:
                await client.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Check for requests every `poll` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.tick()
            except RedisError as exc:
                log.info("could not ask Redis to rewrite its append-only file (%s)",
                         type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll)
