"""Batches: redis-py's builders, one atomic script call, replies in order."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from handoff.batch import Batch, pairs
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
