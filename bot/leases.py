"""Ownership shared by several desk instances: leases on Redis, and the live instances.

A `Lease` is redis-py's `Lock` (a random token in the key's value, an expiry, compare-and-set
renewal and release) plus a fencing number: each acquisition increments
`vb:lease:fence:<name>`, so work that outlives a lost lease can be told apart from the new
owner's. A lease that is not renewed expires after `ttl` seconds: a killed instance's work is
taken over after at most that long.

`Instances` is the set of live desk instances (each renews its own entry), from which an
instance computes its share of partitioned work.

`hold(...)` runs a singleton job (the sweep, the outbox, the AOF rewrite) on whichever
instance holds the lease: it tries to take the lease every `ttl / 3` seconds, runs the job
while it holds it, and stops the job as soon as renewal fails or a stop is requested.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)

LEASE_TTL = 10.0  # seconds; renewed every third of it
SINGLETONS = "singletons"  # the sweep, the outbox delivery and the AOF rewrite run on its holder
INSTANCES_KEY = "vb:instances"


def lease_key(name: str) -> str:
    return f"vb:lease:{name}"


def fence_key(name: str) -> str:
    return f"vb:lease:fence:{name}"


class Lease:
    """One named ownership, held by at most one instance at a time."""

    def __init__(self, redis: Redis, name: str, owner: str,  # type: ignore[type-arg]
                 ttl: float = LEASE_TTL) -> None:
        self.redis = redis
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.fence = 0  # the fencing number of the current holding; 0 when not held
        self._lock = Lock(redis, lease_key(name), timeout=ttl, blocking=False,
                          thread_local=False)

    @property
    def held(self) -> bool:
        return self.fence > 0

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it (never waits). True when this instance holds it."""
        if self.held:
            return await self.renew()
        token = f"{self.owner}:{secrets.token_hex(8)}"
        if not await self._lock.acquire(blocking=False, token=token):
            return False
        self.fence = int(await self.redis.incr(fence_key(self.name)))
        return True

    @property
    def token(self) -> str | None:
        """The value this holding wrote into the lease key, for scripts that check the lease
        in the same step as the work it guards; None when not held."""
        token = self._lock.local.token if self.held else None
        return token.decode() if isinstance(token, bytes) else token

    async def seize(self) -> bool:
        """Take the lease whoever holds it. Only for a holder known to be this instance's own
        earlier process (a single instance, or a restart under the same instance id), so a
        restart after a kill does not wait `ttl` for its own leases to expire."""
        token = f"{self.owner}:{secrets.token_hex(8)}"
        await self.redis.set(lease_key(self.name), token, px=int(self.ttl * 1000))
        self._lock.local.token = token.encode()
        self.fence = int(await self.redis.incr(fence_key(self.name)))
        return True

    async def renew(self) -> bool:
        """Reset the expiry to `ttl`; False (and no longer held) if the lease was lost."""
        if not self.held:
            return False
        try:
            await self._lock.reacquire()
        except LockError:
            log.warning("lease %s was lost", self.name)
            self.fence = 0
            return False
        return True

    async def still_current(self) -> bool:
        """The fencing check: nobody took the lease since this instance acquired it."""
        if not self.held:
            return False
        current = await self.redis.get(fence_key(self.name))
        return current is not None and int(current) == self.fence and await self._lock.owned()

    async def release(self) -> None:
        """Give the lease up (a drained owner on its way out); harmless if it was lost."""
        if not self.held:
            return
        self.fence = 0
        with contextlib.suppress(LockError, RedisError):
            await self._lock.release()

    async def holder(self) -> str | None:
        """Which instance holds the lease now, if any (for health pages and tests)."""
        value = await self.redis.get(lease_key(self.name))
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return text.rsplit(":", 1)[0]


class Instances:
    """The live desk instances: each renews its entry; an entry older than `ttl` is dead."""

    def __init__(self, redis: Redis, instance_id: str,  # type: ignore[type-arg]
                 ttl: float = LEASE_TTL, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.instance_id = instance_id
        self.ttl = ttl
        self.clock = clock

    async def beat(self) -> None:
        now = self.clock()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(INSTANCES_KEY, {self.instance_id: now})
            pipe.zremrangebyscore(INSTANCES_KEY, "-inf", now - 6 * self.ttl)
            await pipe.execute()

    async def leave(self) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.zrem(INSTANCES_KEY, self.instance_id)

    async def live(self) -> list[str]:
        """The live instances, this one included, in a stable order."""
        members = await self.redis.zrangebyscore(INSTANCES_KEY, self.clock() - self.ttl, "+inf")
        ids = {m.decode() if isinstance(m, bytes) else str(m) for m in members}
        ids.add(self.instance_id)
        return sorted(ids)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat every third of `ttl` until `stop` is set, then leave (so the others see a
        clean stop at once). Every desk process runs this while it serves."""
        try:
            while not stop.is_set():
                try:
                    await self.beat()
                except RedisError as exc:
                    log.warning("instance beat: Redis unavailable (%s)", type(exc).__name__)
                await pause(stop, self.ttl / 3)
        finally:
            await self.leave()

    async def share(self, total: int) -> int:
        """How many of `total` partitions this instance should own: an even split, rounded up."""
        return math.ceil(total / max(1, len(await self.live())))


async def pause(event: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `event` is set meanwhile (a stop, a wake-up)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def hold(lease: Lease, job: Callable[[asyncio.Event], Awaitable[None]],
               stop: asyncio.Event) -> None:
    """Run `job(lost)` whenever this instance holds `lease`, until `stop` is set.

    `lost` is set when the lease could not be renewed or a stop is requested; the job must
    return promptly then (within a second or two). The lease is released after the job
    returned, so another instance can take over at once rather than after the expiry.
    """
    period = lease.ttl / 3
    while not stop.is_set():
        try:
            acquired = await lease.acquire()
        except RedisError as exc:
            log.warning("lease %s: Redis unavailable (%s)", lease.name, type(exc).__name__)
            acquired = False
        if not acquired:
            await pause(stop, period)
            continue
        lost = asyncio.Event()
        task = asyncio.create_task(job(lost), name=f"vraagbaak-lease-{lease.name}")
        try:
            while not stop.is_set() and not task.done():
                await pause(stop, period)
                if stop.is_set() or task.done():
                    break
                try:
                    renewed = await lease.renew()
                except RedisError:
                    renewed = False
                if not renewed:
                    break
        finally:
            lost.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), 5)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            except Exception:
                log.exception("job under lease %s failed", lease.name)
            await lease.release()
