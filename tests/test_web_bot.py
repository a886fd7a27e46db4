"""The web app with the real bot: /dashboard links, and webhook mode against the sandbox
(updates posted with and without the secret, and replayed after a crash)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from bot.dead_letters import FAILING, MAX_ATTEMPTS, TTL_SECONDS, UNREADABLE, dead_letters
from bot.polling import done_key
from bot.runtime import DemoDesk, demo_desk, desk_services, running_bot, running_sandbox
from bot.settings import Settings
from bot.web import WebState, init_app
from bot.web import keys as web_keys
from bot.web.serving import listen, serving, url_of
from bot.web.webhook import GROUP, SECRET_HEADER, partition_of

pytestmark = pytest.mark.timeout(90)
ADMIN = 3001


async def bot_says(ready: DemoDesk, user_id: int, needle: str, timeout: float = 15.0) -> str:
    """Wait until the bot has sent this user a message containing `needle`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in ready.sandbox.inbox(user_id):
            if needle in message["text"]:
                return message["text"]
        await asyncio.sleep(0.05)
    seen = [m["text"][:80] for m in ready.sandbox.inbox(user_id)]
    raise AssertionError(f"no {needle!r} in {seen}")


@pytest.fixture
async def desk(settings: Settings, redis: Redis) -> AsyncIterator[DemoDesk]:
    async with demo_desk(settings.model_copy(update={"admin_ids": [ADMIN]}), "127.0.0.1", 0,
                         with_worker=False) as ready:
        yield ready


async def test_dashboard_command_sends_experts_a_one_time_login_link(desk: DemoDesk) -> None:
    await desk.sandbox.user_sends(3002, "/dashboard", "Tom", "nl")
    await bot_says(desk, 3002, "alleen voor de experts")
    assert desk.state.feed_status is not None and desk.state.feed_status()["polling"]
    code = await desk.desk.experts.create_invite("Marieke", (), ("nl",))
    await desk.sandbox.user_sends(3003, f"/start inv_{code}", "Marieke", "nl")
    await desk.sandbox.user_sends(3003, "/dashboard")
    text = await bot_says(desk, 3003, "/dashboard/login?t=")
    link = re.search(r"(http://\S+/dashboard/login\?t=\S+)", text).group(1)
    assert link.startswith(desk.url)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        form = await (await http.get(link)).text()
        token = re.search(r'name="t" value="([^"]+)"', form).group(1)
        bound = re.search(r'name="form" value="([^"]+)"', form).group(1)
        resp = await http.post(f"{desk.url}/dashboard/login", data={"t": token, "form": bound})
        assert resp.url.path == "/dashboard/queue" and "Wachtrij" in await resp.text()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
        form = await (await stranger.get(link)).text()
        bound = re.search(r'name="form" value="([^"]+)"', form).group(1)
        again = await stranger.post(f"{desk.url}/dashboard/login",
                                    data={"t": token, "form": bound})
        assert again.url.path == "/dashboard/how"
    assert "unknown" not in " ".join(m["text"] for m in desk.sandbox.inbox(3003)).lower()


async def test_webhook_mode_takes_updates_only_with_the_secret(settings: Settings,
                                                               redis: Redis) -> None:
    async with demo_desk(settings, "127.0.0.1", 0, with_worker=False, webhook=True) as ready:
        assert ready.sandbox.webhook_url == f"{ready.url}/telegram/webhook"
        assert ready.sandbox.webhook_secret == ready.state.webhook_secret
        await ready.sandbox.user_sends(4001, "/start", "Ann", "nl")
        await bot_says(ready, 4001, "Welkom bij de Vraagbaak")
        # A single instance owns every partition of the feed (reported for /healthz).
        assert ready.state.feed_status is not None
        assert ready.state.feed_status()["owned"] == list(range(8))
        async with aiohttp.ClientSession() as http, http.get(f"{ready.url}/healthz") as resp:
            health = await resp.json()
        assert health["feed"]["owned"] == list(range(8))
        assert health["feed"]["instance"] == settings.instance
        assert ready.sandbox.webhook_statuses and set(ready.sandbox.webhook_statuses) == {200}
        forged = {"update_id": 1, "message": {
            "message_id": 99, "date": int(time.time()), "text": "/start",
            "chat": {"id": 4002, "type": "private", "first_name": "Eve"},
            "from": {"id": 4002, "is_bot": False, "first_name": "Eve"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        ready.sandbox._user(4002, "Eve", "nl")
        hook = f"{ready.url}/telegram/webhook"
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "wrong"}):
                resp = await http.post(hook, json=forged, headers=headers)
                assert resp.status == 403
            right = {SECRET_HEADER: ready.state.webhook_secret}
            for body in (b"{not json", b"[1, 2]", b'{"update_id": "x"}'):
                resp = await http.post(hook, data=body, headers=right)
                assert resp.status == 400
        # The sandbox itself, posting with a wrong secret, is refused and keeps retrying.
        ready.sandbox.webhook_secret = "wrong"
        await ready.sandbox.user_sends(4001, "/privacy")
        await asyncio.sleep(1.0)
        assert ready.sandbox.webhook_statuses[-1] == 403
        assert ready.sandbox.inbox(4002) == []
        assert len(ready.sandbox.inbox(4001)) == 1
        ready.sandbox.webhook_secret = ready.state.webhook_secret
        await bot_says(ready, 4001, "bewaren")  # delivered once the secret is right again


async def test_an_update_stored_before_a_crash_is_handled_after_restart(
    settings: Settings, redis: Redis,
) -> None:
    def update(update_id: int, user_id: int) -> dict:
        return {"update_id": update_id, "message": {
            "message_id": update_id, "date": int(time.time()), "text": "/start",
            "chat": {"id": user_id, "type": "private", "first_name": "Ann"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": "nl"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}

    # The web app answered 200 for two updates and the process died: one was read but not
    # handled, one was handled but its acknowledgement was lost. (The next start has another
    # consumer name: the process id is in it.)
    for update_id, user_id in ((501, 4101), (502, 4102)):
        stream = web_keys.webhook_partition(partition_of(update(update_id, user_id), 8))
        await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        await redis.xadd(stream, {"update": json.dumps(update(update_id, user_id))})
        await redis.xreadgroup(GROUP, "host-1234", {stream: ">"}, count=10)
    await redis.set(done_key(502), 1)
    # One more was stored by a desk from before the partitioned feed, in its single stream,
    # and one by a desk with more partitions than now.
    await redis.xadd(web_keys.webhook(), {"update": json.dumps(update(503, 4103))})
    await redis.xadd(web_keys.webhook_partition(9), {"update": json.dumps(update(504, 4104))})
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        for user_id in (4101, 4102, 4103, 4104):
            sandbox._user(user_id, "Ann", "nl")
        sock = listen("127.0.0.1", 0)
        web_url = url_of(sock)
        bot_settings = settings.model_copy(update={
            "telegram_api_url": url, "webhook_url": f"{web_url}/telegram/webhook"})
        state = WebState(webhook_secret="s3cret", expect_worker=False)
        async with desk_services(bot_settings) as desk, serving(
                init_app(bot_settings, desk, state), sock), running_bot(
                bot_settings, desk, sandbox.token, state.webhook_secret):
            deadline = time.monotonic() + 15
            while not all(sandbox.inbox(u) for u in (4101, 4103, 4104)) \
                    and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            for user_id in (4101, 4103, 4104):
                assert "Welkom" in sandbox.inbox(user_id)[0]["text"]
            await asyncio.sleep(0.3)
            assert sandbox.inbox(4102) == []  # handled before the crash: not again
            for stream in (*web_keys.webhook_partitions(8), web_keys.webhook()):
                assert await redis.xlen(stream) == 0
            assert not await redis.exists(web_keys.webhook_partition(9))


async def test_a_poison_update_is_moved_aside_and_the_webhook_goes_on(
    settings: Settings, redis: Redis,
) -> None:
    dead_before = REGISTRY.get_sample_value(
        "vraagbaak_updates_dead_lettered_total", {"reason": UNREADABLE}) or 0
    # Left by an earlier run: read (and crashed on) as often as the feed allows.
    crashing = {"update_id": 601, "message": {
        "message_id": 1, "date": int(time.time()), "text": "/start",
        "chat": {"id": 4201, "type": "private", "first_name": ""},
        "from": {"id": 4201, "is_bot": False, "first_name": ""}}}
    stream = web_keys.webhook_partition(partition_of(crashing, 8))
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await redis.xadd(stream, {"update": json.dumps(crashing)})
    await redis.xreadgroup(GROUP, "host-1", {stream: ">"}, count=10)
    for _ in range(MAX_ATTEMPTS - 1):
        await redis.xreadgroup(GROUP, "host-1", {stream: "0"}, count=10)
    async with demo_desk(settings, "127.0.0.1", 0, with_worker=False, webhook=True) as ready:
        ready.sandbox._user(4201, "Ann", "nl")
        # Telegram posts an update python-telegram-bot cannot read (no date, no chat) ...
        poison = await ready.sandbox._push({"message": {"message_id": 1}})
        # ... and then a normal one, which is answered.
        await ready.sandbox.user_sends(4202, "/start", "Bo", "nl")
        await bot_says(ready, 4202, "Welkom bij de Vraagbaak")
        dead = await redis.xrange(dead_letters())
        assert [(d[1]["reason"], d[1]["update_id"]) for d in dead] == [
            (FAILING, "601"), (UNREADABLE, str(poison))]
        assert ready.sandbox.inbox(4201) == []  # the crashing one was not handed over again
        assert 0 < await redis.ttl(dead_letters()) <= TTL_SECONDS
        assert REGISTRY.get_sample_value("vraagbaak_updates_dead_lettered_total",
                                         {"reason": UNREADABLE}) == dead_before + 1
        assert await redis.xlen(stream) == 0
