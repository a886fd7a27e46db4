"""The reliable poller: updates still being handled when a process dies are handed over
again by Telegram after a restart; updates already handled are not handled twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters

from bot import polling
from bot.dead_letters import FAILING, MAX_ATTEMPTS, UNREADABLE, dead_letters
from bot.polling import PENDING_KEY, ReliablePoller, done_key
from bot.processor import PerChatUpdateProcessor
from bot.request import AiohttpRequest
from bot.runtime import running_sandbox


class MiniDesk:
    """A minimal application on the real transport that records the texts it handles."""

    def __init__(self, token: str, url: str, redis: Redis, gate: asyncio.Event | None) -> None:
        self.seen: list[str] = []
        processor = PerChatUpdateProcessor(8)
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder().token(token).base_url(f"{url}/bot")
            .request(AiohttpRequest()).get_updates_request(AiohttpRequest(read_timeout=10))
            .updater(None).concurrent_updates(processor).build())

        async def record(update: Update, _: object) -> None:
            assert update.message is not None and update.message.text is not None
            if update.message.text == "slow" and gate is not None:
                await gate.wait()  # this process "dies" while handling it
            self.seen.append(update.message.text)

        self.app.add_handler(MessageHandler(filters.TEXT, record))
        self.poller = ReliablePoller(self.app, redis, [Update.MESSAGE], timeout=1)
        processor.on_done = self.poller.mark_done

    async def start(self) -> None:
        await self.app.initialize()
        await self.app.start()
        await self.poller.start()

    async def close(self) -> None:
        await self.poller.stop()
        await self.app.stop()
        await self.app.shutdown()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_in_flight_updates_survive_a_crash_and_none_run_twice(redis: Redis) -> None:
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        gate = asyncio.Event()
        first = MiniDesk(sandbox.token, url, redis, gate)
        await first.start()
        await sandbox.user_sends(42, "one")
        await wait_for(lambda: first.seen == ["one"])
        await sandbox.user_sends(42, "slow")
        await sandbox.user_sends(42, "two")  # same chat: waits behind "slow"
        await wait_for(lambda: len(first.poller.in_flight) == 2)
        # Kept in Redis, so the next poll confirmed them: Telegram holds nothing any more.
        await wait_for(lambda: not sandbox.updates)
        assert len(await redis.hkeys(PENDING_KEY)) == 2
        # The process dies mid-work: no more fetching, handling or confirming.
        await first.poller.stop()
        assert len(await redis.keys(done_key(0).replace("0", "*"))) == 1  # "one" only

        second = MiniDesk(sandbox.token, url, redis, None)
        await second.start()
        try:
            await wait_for(lambda: second.seen == ["slow", "two"])
            await wait_for(lambda: not second.poller.in_flight)
        finally:
            await second.close()
        assert "one" not in second.seen
        assert await redis.hlen(PENDING_KEY) == 0
        # Let the abandoned first process finish so the test leaves nothing running.
        gate.set()
        await wait_for(lambda: "slow" in first.seen)
        await first.close()


async def test_telegrams_redelivery_of_kept_or_handled_updates_is_skipped(redis: Redis) -> None:
    """A kill between keeping (or marking) an update and confirming it: Telegram hands it
    over again after the restart; a handled one is skipped, a kept one is handled once."""
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        await sandbox.user_sends(7, "handled before the kill")
        await sandbox.user_sends(7, "kept before the kill")
        handled, kept = sandbox.updates
        await redis.set(done_key(handled["update_id"]), 1)
        await redis.hset(PENDING_KEY, str(kept["update_id"]), json.dumps(kept))
        desk = MiniDesk(sandbox.token, url, redis, None)
        await desk.start()
        try:
            await wait_for(lambda: desk.seen == ["kept before the kill"])
            await wait_for(lambda: not sandbox.updates and not desk.poller.in_flight)
            await sandbox.user_sends(7, "after")
            await wait_for(lambda: desk.seen == ["kept before the kill", "after"])
        finally:
            await desk.close()
        assert await redis.hlen(PENDING_KEY) == 0


async def test_an_unreadable_kept_update_is_dropped_not_looped(redis: Redis) -> None:
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        await redis.hset(PENDING_KEY, mapping={"5": "{not json", "x": "{}", "6": "{}"})
        desk = MiniDesk(sandbox.token, url, redis, None)
        await desk.start()
        try:
            await sandbox.user_sends(7, "still served")
            await wait_for(lambda: desk.seen == ["still served"])
            await wait_for(lambda: not desk.poller.in_flight)
        finally:
            await desk.close()
        assert await redis.hlen(PENDING_KEY) == 0


async def test_kept_updates_carry_no_names(redis: Redis) -> None:
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        gate = asyncio.Event()
        desk = MiniDesk(sandbox.token, url, redis, gate)
        await desk.start()
        try:
            await sandbox.user_sends(42, "slow", first_name="Fatima")
            await wait_for(lambda: len(desk.poller.in_flight) == 1)
            kept = await redis.hvals(PENDING_KEY)
            assert len(kept) == 1 and "Fatima" not in kept[0] and '"text":"slow"' in kept[0]
        finally:
            gate.set()
            await desk.close()


async def test_fetching_pauses_while_too_many_updates_are_in_flight(
        redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backlog the handlers cannot keep up with waits at Telegram, not in memory."""
    monkeypatch.setattr(polling, "MAX_IN_FLIGHT", 2)
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        gate = asyncio.Event()
        desk = MiniDesk(sandbox.token, url, redis, gate)
        await desk.start()
        try:
            for i in range(5):  # one chat: each waits behind the "slow" first one
                await sandbox.user_sends(42, "slow" if i == 0 else f"m{i}")
            await wait_for(lambda: len(desk.poller.in_flight) == 2)
            await asyncio.sleep(0.5)
            assert len(desk.poller.in_flight) == 2 and len(sandbox.updates) >= 3
            gate.set()
            await wait_for(lambda: desk.seen == ["slow", "m1", "m2", "m3", "m4"])
            await wait_for(lambda: not sandbox.updates and not desk.poller.in_flight)
        finally:
            gate.set()
            await desk.close()


async def test_a_poison_update_is_moved_aside_and_polling_goes_on(redis: Redis) -> None:
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        # Kept before earlier stops and handed over at each start since: it crashes the
        # process, so this start moves it aside instead of handing it over once more.
        crashing = {"update_id": 9, "message": {
            "message_id": 1, "date": 1, "text": "crash",
            "chat": {"id": 8, "type": "private", "first_name": ""},
            "from": {"id": 8, "is_bot": False, "first_name": ""}}}
        await redis.hset(PENDING_KEY, "9", json.dumps(crashing))
        await redis.hset(polling.REPLAYS_KEY, "9", MAX_ATTEMPTS)
        unreadable = await sandbox._push({"message": {"message_id": 1}})
        await sandbox.user_sends(7, "after")
        desk = MiniDesk(sandbox.token, url, redis, None)
        await desk.start()
        try:
            await wait_for(lambda: desk.seen == ["after"])
            await wait_for(lambda: not desk.poller.in_flight)
        finally:
            await desk.close()
        dead = await redis.xrange(dead_letters())
        assert [(d[1]["reason"], d[1]["update_id"]) for d in dead] == [
            (FAILING, "9"), (UNREADABLE, str(unreadable))]
        assert await redis.hlen(PENDING_KEY) == 0 and await redis.hlen(polling.REPLAYS_KEY) == 0
