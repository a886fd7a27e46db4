"""Leases: one holder at a time, taken over after expiry, fenced, and singleton jobs that run
on exactly one instance and move when it stops."""

from __future__ import annotations

import asyncio

from bot.leases import Instances, Lease, hold


async def test_one_holder_at_a_time_and_the_next_takes_over_after_expiry(redis) -> None:
    first = Lease(redis, "test-a", "host-1", ttl=0.5)
    second = Lease(redis, "test-a", "host-2", ttl=0.5)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.renew()
    assert await second.holder() == "host-1"
    await asyncio.sleep(0.7)  # host-1 stopped renewing (killed): the lease expires
    assert await second.acquire()
    assert second.fence == first.fence + 1
    assert not await first.still_current()
    assert not await first.renew()  # the old holder learns it lost the lease
    assert not first.held
    assert await second.still_current()


async def test_a_released_lease_is_free_at_once(redis) -> None:
    first = Lease(redis, "test-b", "host-1", ttl=30)
    second = Lease(redis, "test-b", "host-2", ttl=30)
    assert await first.acquire()
    await first.release()
    assert await second.acquire()
    await first.release()  # releasing a lease one no longer holds takes nothing away
    assert await second.still_current()


async def test_a_singleton_job_runs_on_one_instance_and_moves_when_it_stops(redis) -> None:
    runs: list[str] = []

    def job(name: str):
        async def run(lost: asyncio.Event) -> None:
            while not lost.is_set():
                runs.append(name)
                await asyncio.sleep(0.05)
        return run

    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(hold(Lease(redis, "test-c", "a", ttl=0.6), job("a"), stop_a))
    await asyncio.sleep(0.3)
    b = asyncio.create_task(hold(Lease(redis, "test-c", "b", ttl=0.6), job("b"), stop_b))
    await asyncio.sleep(0.5)
    assert set(runs) == {"a"}
    stop_a.set()
    await asyncio.wait_for(a, 6)
    for _ in range(60):
        if "b" in runs:
            break
        await asyncio.sleep(0.05)
    assert runs[-1] == "b"
    stop_b.set()
    await asyncio.wait_for(b, 6)


async def test_instances_share_partitions_evenly(redis) -> None:
    now = [1000.0]
    one = Instances(redis, "one", ttl=10, clock=lambda: now[0])
    two = Instances(redis, "two", ttl=10, clock=lambda: now[0])
    await redis.delete("vb:instances")
    await one.beat()
    assert await one.share(8) == 8
    await two.beat()
    assert await one.live() == ["one", "two"]
    assert await one.share(8) == 4 and await two.share(7) == 4
    now[0] += 11  # "two" stopped beating
    await one.beat()
    assert await one.live() == ["one"]
