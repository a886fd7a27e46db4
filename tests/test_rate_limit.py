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


async def test_a_429_for_one_chat_does_not_hold_up_another(monkeypatch) -> None:
    from datetime import timedelta

    from telegram.error import RetryAfter

    from bot.rate_limit import PriorityRateLimiter

    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as bot.application sets it for the desk
    limiter = PriorityRateLimiter(overall_max_rate=1000)
    sent: list[str] = []
    refused = False

    async def call(chat: str) -> dict[str, str]:
        nonlocal refused
        if chat == "a" and not refused:
            refused = True
            raise RetryAfter(timedelta(seconds=0.5))
        sent.append(chat)
        return {"ok": chat}

    async def send(chat: str) -> object:
        return await limiter.process_request(call, (chat,), {}, "sendMessage",
                                             {"chat_id": chat}, None)

    first = asyncio.create_task(send("a"))
    await asyncio.sleep(0.05)  # chat a met its 429 and waits it out
    assert await send("b") == {"ok": "b"}
    assert sent == ["b"]  # b went out while a still waited
    assert await first == {"ok": "a"}
    assert sent == ["b", "a"]
    await limiter.shutdown()


async def test_two_instances_never_send_more_than_the_shared_limit_together(redis) -> None:
    import time

    from bot.rate_limit import SharedLimit

    rate = 20
    buckets = [PriorityBucket(rate, SharedLimit(redis, rate, f"instance-{i}")) for i in (1, 2)]
    grants: list[tuple[float, int]] = []
    stop_at = time.monotonic() + 3

    async def sender(which: int) -> None:
        while time.monotonic() < stop_at:
            await buckets[which].acquire()
            grants.append((time.monotonic(), which))

    await asyncio.gather(*(sender(which) for which in (0, 1) for _ in range(4)))
    # Each instance alone would have granted `rate` a second (plus its burst); together,
    # any stretch of a little under a second (the margin: local stamps lag Redis's clock by a
    # round trip) holds at most `rate` grants.
    stamps = sorted(at for at, _ in grants)
    busiest = max(sum(1 for other in stamps if start <= other < start + 0.95)
                  for start in stamps)
    assert busiest <= rate
    assert {which for _, which in grants} == {0, 1}  # both instances sent
    assert len(grants) >= 2 * rate  # the limit was used, not just respected by idling
    for bucket in buckets:
        await bucket.close()


async def test_without_redis_the_shared_limit_falls_back_on_the_instance_own(redis) -> None:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from bot.rate_limit import SharedLimit

    # Nobody listens there (and no retries: the test need not wait them out).
    gone = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    bucket = PriorityBucket(4, SharedLimit(gone, 4, "alone"))
    for _ in range(4):  # the local burst allowance still serves
        await asyncio.wait_for(bucket.acquire(), 5)
    assert bucket.level < 1  # and it was the local one that served
    await bucket.close()
    await gone.aclose()
