"""Two desk instances behind a round-robin front, with faults (issue 22's proof).

The short version (in `make test`): one Redis without Sentinel, 20 chats x 5 questions,
one kill -9 of one instance mid-burst and its restart. The full version (`make soak`):
Redis with a replica and three Sentinels, 100 chats x 20 questions at 50/s, kill -9 of
instance A mid-burst and its restart, SIGTERM of instance B and its restart (a redeploy),
kill -9 of the Redis primary (Sentinel fails over). Both print their figures and write
them to soak-figures.json in the test's tmp dir."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from bot.leases import LEASE_TTL
from bot.redis_server import EmbeddedRedis, make_client
from tests.instances_harness import Desks, RedisAddress
from tests.postgres import PostgresCluster, fresh_database
from tests.redis_cluster import SERVICE, RedisCluster
from tests.soak_handoffs import counts, people, prepare, script
from tests.soak_load import (
    Fault,
    Plan,
    Question,
    Run,
    analyse,
    calibrate,
    drive,
    feed_streams,
    leftovers,
    owned_chats,
    wait_answered,
    wait_for,
    write_figures,
)

INSTANCES = ("a", "b")


async def settled(desks: Desks, redis: Any) -> dict[str, Any]:
    """Wait until the update streams are empty and nothing is pending; what is left."""
    state: dict[str, Any] = {}

    async def empty() -> bool:
        nonlocal state
        state = await leftovers(redis)
        return (not any(feed_streams(state).values()) and state["pending_updates"] == 0
                and not any(n for s in state["streams"].values() for n in s["pending"].values()))

    with contextlib.suppress(AssertionError):  # the assertions below say what is left
        await wait_for(empty, 30, "the streams did not empty")
    return state


async def attempt(step: Awaitable[None]) -> str | None:
    """Run a step whose failure must not stop the figures from being written: its error."""
    try:
        await step
    except (AssertionError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


def check(figures: dict[str, Any], state: dict[str, Any], kills: int) -> None:
    """The assertions both versions share."""
    assert figures["errors"] == [], figures
    assert figures["unanswered_chats"] == [], figures
    assert figures["out_of_order_chats"] == [], figures
    assert figures["max_repeats_in_a_chat"] <= kills, figures
    assert feed_streams(state) == {k: 0 for k in feed_streams(state)}, state
    assert state["pending_updates"] == 0, state
    pending = {name: s["pending"] for name, s in state["streams"].items()
               if any(s["pending"].values())}
    assert pending == {}, state


@pytest.mark.timeout(300)  # four desk processes start on a machine `make test` keeps busy
async def test_an_instance_killed_mid_burst_loses_nothing_and_keeps_order(
        tmp_path: Path, postgres: PostgresCluster) -> None:
    database_url = await fresh_database(postgres, "vb_soak_short")
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    try:
        async with Desks.start(tmp_path / "desks", database_url, RedisAddress(url=server.url),
                               INSTANCES, with_worker=False) as desks:
            plan = Plan.make(await calibrate(desks, 5), chats=20, per_chat=5)
            victim = desks.instances["a"]
            redis = make_client(server.url)

            async def kill_and_restart(fault: Fault) -> None:
                fault.chats = await owned_chats(redis, plan, victim.name)
                victim.kill()
                await victim.start()

            try:
                run = await drive(desks, plan, rate=50.0,
                                  faults=[Fault("kill -9 instance a", 0.8, kill_and_restart)])
                waited = await attempt(wait_answered(desks, run, timeout=60))
                await asyncio.sleep(1.0)  # an answer sent twice would show by now
                figures = analyse(run, await desks.records(run.first_record))
                figures["errors"] = [e for e in (waited,) if e]
                state = await settled(desks, redis)
            finally:
                await redis.aclose(close_connection_pool=True)
            figures["front"] = desks.front.figures()
            figures["cpu_seconds"] = desks.cpu_seconds()
            figures["leftovers"] = state
            write_figures(tmp_path / "soak-figures.json", figures)
            check(figures, state, kills=1)
    finally:
        server.stop()


LEASE_BOUND = LEASE_TTL + 2.0  # the killed instance's chats are answered again within this


@contextlib.asynccontextmanager
async def own_client(cluster: RedisCluster) -> AsyncIterator[Redis]:  # type: ignore[type-arg]
    """The test's own Redis client, following the primary through a failover; closed with
    its Sentinel connections at the end."""
    hosts = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in cluster.sentinel_addresses]
    sentinels = Sentinel(hosts, socket_timeout=2)
    client = sentinels.master_for(SERVICE, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose(close_connection_pool=True)
        for node in sentinels.sentinels:
            await node.aclose(close_connection_pool=True)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_two_instances_ride_out_kills_a_redeploy_and_a_failover(
        tmp_path: Path, postgres: PostgresCluster) -> None:
    database_url = await fresh_database(postgres, "vb_soak_full")
    with RedisCluster(tmp_path, replicas=1, sentinels=3) as cluster:
        address = RedisAddress(sentinels=cluster.sentinel_addresses, service=SERVICE)
        extra = {"VRAAGBAAK_EXPERT_REQUEUE_MINUTES": "1",
                 "VRAAGBAAK_EXPERT_REMINDER_MINUTES": "1",
                 "VRAAGBAAK_EXPERT_MAX_CONVERSATIONS": "10"}
        async with own_client(cluster) as redis, Desks.start(
                tmp_path / "desks", database_url, address, INSTANCES, extra_env=extra) as desks:
            plan = Plan.make(await calibrate(desks, 20), chats=100, per_chat=20)
            h = people(desks.session, desks.sandbox_url)
            await prepare(h, redis)
            a, b = desks.instances["a"], desks.instances[INSTANCES[-1]]
            failover: dict[str, float] = {}

            async def kill_a(fault: Fault) -> None:
                fault.chats = await owned_chats(redis, plan, a.name)
                a.kill()
                await a.start()

            async def redeploy_b(fault: Fault) -> None:
                fault.chats = await owned_chats(redis, plan, b.name)
                await b.terminate()
                await b.start()

            async def kill_primary(fault: Fault) -> None:
                began = time.monotonic()
                cluster.kill("primary")
                await asyncio.to_thread(cluster.wait_for_failover)
                failover["sentinel_failover_s"] = time.monotonic() - began
                # From this (the event loop's) thread: the child dies with it.
                cluster.start_node("primary")  # now a replica of the new primary

            faults = [Fault("kill -9 instance a", 8.0, kill_a),
                      Fault("SIGTERM instance b", 18.0, redeploy_b),
                      Fault("kill -9 redis primary", 28.0, kill_primary)]
            handoffs = asyncio.create_task(script(h, desks))
            run = await drive(desks, plan, rate=50.0, faults=faults)
            waited = await attempt(wait_answered(desks, run, timeout=180))
            scripted = await attempt(asyncio.wait_for(handoffs, 420))
            await asyncio.sleep(2.0)  # an answer or notice sent twice would show by now
            figures = analyse(run, await desks.records(run.first_record))
            figures["errors"] = [e for e in (waited, scripted) if e]
            figures["handoffs"] = await counts(h)
            figures["summary_rows"] = await summary_rows(database_url, h.closed)
            state = await settled(desks, redis)
            figures.update(failover)
            figures["front"] = desks.front.figures()
            figures["cpu_seconds"] = desks.cpu_seconds()
            figures["leftovers"] = state
            write_figures(tmp_path / "soak-figures.json", figures)
            check(figures, state, kills=len(faults))
            for fault in ("kill -9 instance a", "SIGTERM instance b"):
                assert figures["resume"][fault]["seconds_to_resume"] <= LEASE_BOUND, figures
            handed = figures["handoffs"]
            assert handed["requeue_notices_per_asker"] == [1, 1, 1], handed
            assert handed["expert_left_notices_per_asker"] == [1, 1, 1], handed
            assert handed["requeue_notices_to_the_silent_expert"] == 3, handed
            assert handed["closed_confirmations"] == [10], handed
            assert figures["summary_rows"] == 10, figures


async def summary_rows(database_url: str, expected: int, timeout: float = 120) -> int:
    """The summary rows in PostgreSQL, once the worker has written `expected` (or timed out)."""
    from handoff.database import make_engine
    from handoff.summaries import load_rows

    engine = make_engine(database_url)
    rows: list[object] = []
    try:
        async def written() -> bool:
            nonlocal rows
            rows = list(await load_rows(engine))
            return len(rows) >= expected

        with contextlib.suppress(AssertionError):
            await wait_for(written, timeout, "summaries not written")
        await asyncio.sleep(1.0)
        return len(await load_rows(engine))
    finally:
        await engine.dispose()


def test_the_checks_see_a_lost_a_late_and_a_repeated_answer() -> None:
    """The soak's analysis on made-up records: what it must call unanswered, out of order or
    repeated (so a passing soak means something)."""
    plan = Plan({1: [Question(f"vraag {k}", key) for k, key in enumerate("abc")]})
    run = Run(plan, sent_at={(1, k): float(k) for k in range(3)})

    def verdict(keys: str) -> tuple[bool, bool, int]:
        figures = analyse(run, [{"chat": 1, "key": k, "t": 10.0 + i}
                                for i, k in enumerate(keys)])
        return (figures["unanswered_chats"] == [1], figures["out_of_order_chats"] == [1],
                figures["repeats"])

    assert verdict("abc") == (False, False, 0)
    assert verdict("abbc") == (False, False, 1)  # the answer in flight at a kill, again
    assert verdict("abca") == (False, True, 1)  # an older answer again
    assert verdict("acb") == (False, True, 0)
    assert verdict("ab") == (True, True, 0)
