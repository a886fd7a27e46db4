"""The overall send limit serves waiting sends by priority: welcomes wait, answers do not."""

from __future__ import annotations

import asyncio

from bot.rate_limit import PriorityBucket
from handlers.context import LOW_PRIORITY


async def test_a_normal_send_overtakes_waiting_low_priority_ones() -> None:
    bucket = PriorityBucket(rate=4)
    for _ in range(4):  # the burst allowance is used up (a token every 250 ms after)
        await bucket.acquire()
    served: list[str] = []

    async def send(name: str, priority: int) -> None:
        await bucket.acquire(priority)
        served.append(name)

    welcomes = [asyncio.create_task(send(f"welcome {i}", LOW_PRIORITY)) for i in range(5)]
    await asyncio.sleep(0)  # the welcomes are waiting before the answer asks
    answer = asyncio.create_task(send("answer", 0))
    await asyncio.gather(answer, *welcomes)
    assert served == ["answer", *(f"welcome {i}" for i in range(5))]
    await bucket.close()


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    bucket = PriorityBucket(rate=4)
    for _ in range(4):
        await bucket.acquire()
    gone = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    gone.cancel()
    await bucket.acquire()  # served, though the cancelled one came first
    assert gone.cancelled()
    await bucket.close()
