"""Batches: redis-py's builders, one atomic script call, replies in order."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.redis_server import make_client
from handoff.batch import Batch, BatchRunner, pairs
from handoff.users import Role, UserStore

pytestmark = pytest.mark.timeout(30)


async def test_replies_come_back_in_order_as_a_script_sees_them(redis: Redis) -> None:
    batch = Batch()
    batch.hset("t:h", mapping={"a": "1", "b": "two words"})
    batch.hgetall("t:h")
    batch.hget("t:h", "missing")
    batch.rpush("t:l", "x", "y")
    batch.set("t:s", "v", ex=60)
    batch.exists("t:nothing")
    replies = await batch.run(redis)
    assert replies[0] == 2
    assert pairs(replies[1]) == {"a": "1", "b": "two words"}
    assert replies[2] is None
    assert replies[3] == 2
    assert replies[4] == "OK"
    assert replies[5] == 0
    assert 0 < await redis.ttl("t:s") <= 60


async def test_an_empty_batch_costs_nothing(redis: Redis) -> None:
    assert await Batch().run(redis) == []


async def test_a_flushed_script_cache_is_reloaded(redis: Redis) -> None:
    await redis.script_flush()
    batch = Batch()
    batch.incr("t:n")
    assert await batch.run(redis) == [1]
    batch = Batch()
    batch.incr("t:n")
    assert await batch.run(redis) == [2]  # by EVALSHA this time


async def test_nothing_runs_between_the_commands_of_a_batch(redis: Redis) -> None:
    # Each batch reads the counter and writes it back +1 in separate commands; interleaved
    # with others it would lose updates.
    async def bump() -> None:
        for _ in range(50):
            batch = Batch()
            batch.incr("t:c")
            batch.incr("t:c")
            a, b = await batch.run(redis)
            assert b == a + 1

    await asyncio.gather(*(bump() for _ in range(8)))
    assert int(await redis.get("t:c")) == 8 * 50 * 2


async def test_a_wrong_command_raises_and_stops_the_rest(redis: Redis) -> None:
    await redis.set("t:str", "x")
    batch = Batch()
    batch.set("t:before", 1)
    batch.hset("t:str", "f", "v")  # WRONGTYPE
    batch.set("t:after", 1)
    with pytest.raises(ResponseError):
        await batch.run(redis)
    assert await redis.exists("t:after") == 0


async def test_a_profile_read_through_a_batch(redis: Redis) -> None:
    users = UserStore(redis)
    assert (await users.get(41)).role is None
    await users.set_role(41, Role.VOLUNTEER)
    await users.set_lang(41, "en")
    profile = await users.get(41)
    assert (profile.role, profile.lang) == (Role.VOLUNTEER, "en")


async def test_a_runner_groups_what_arrives_meanwhile_and_splits_the_replies(
        redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    evalsha = redis.evalsha

    async def counted(*args: object) -> object:
        calls.append(len(args))
        return await evalsha(*args)

    monkeypatch.setattr(redis, "evalsha", counted)
    runner = BatchRunner(redis)

    async def one(i: int) -> list[object]:
        batch = Batch()
        batch.set(f"t:g{i}", i)
        batch.get(f"t:g{i}")
        batch.hget("t:none", "x")
        return await runner.run(batch)

    replies = await asyncio.gather(*(one(i) for i in range(100)))
    assert replies == [["OK", str(i), None] for i in range(100)]
    # All 100 are queued before the runner's task starts: two calls of 64 and 36.
    assert len(calls) == 2


async def test_in_a_group_only_the_faulty_batch_sees_its_error(redis: Redis) -> None:
    await redis.set("t:str", "x")
    runner = BatchRunner(redis)

    async def good(i: int) -> list[object]:
        batch = Batch()
        batch.incr(f"t:ok{i}")
        return await runner.run(batch)

    bad = Batch()
    bad.hset("t:str", "f", "v")
    results = await asyncio.gather(good(0), good(1), runner.run(bad), good(2),
                                   return_exceptions=True)
    assert results[0] == results[1] == results[3] == [1]  # each ran exactly once
    assert isinstance(results[2], ResponseError)
    assert [await redis.get(f"t:ok{i}") for i in range(3)] == ["1", "1", "1"]


async def test_an_outage_reaches_every_waiter_and_the_runner_recovers(redis: Redis) -> None:
    gone = make_client("unix:///nonexistent.sock")
    runner = BatchRunner(gone)
    batches = [Batch().incr("t:x") for _ in range(5)]
    try:
        results = await asyncio.gather(*(runner.run(b) for b in batches),
                                       return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in results)
        runner.redis = redis  # back again: the next batch runs
        assert await runner.run(Batch().incr("t:x")) == [1]
    finally:
        await gone.aclose(close_connection_pool=True)


async def test_a_cancelled_waiter_leaves_the_others_their_replies(redis: Redis) -> None:
    runner = BatchRunner(redis)
    first = asyncio.ensure_future(runner.run(Batch().incr("t:y")))
    second = asyncio.ensure_future(runner.run(Batch().incr("t:y")))
    third = asyncio.ensure_future(runner.run(Batch().incr("t:y")))
    await asyncio.sleep(0)
    second.cancel()
    assert await first == [1]
    assert await third in ([2], [3])  # the cancelled one may already have been sent
    assert second.cancelled()
