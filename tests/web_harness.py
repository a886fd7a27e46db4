"""The web app under aiohttp's test client, with a desk, an admin and an expert."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.runtime import desk_services
from bot.settings import Settings
from bot.web import WebState, init_app
from bot.web.login import LoginLinks
from handlers.context import Desk

ADMIN = 900
EXPERT = 901


@dataclass
class Web:
    """A test client on the web app, with the desk behind it."""

    client: TestClient
    desk: Desk
    settings: Settings

    def today(self) -> date:
        """Today in the desk's time zone, the one its trend rows are dated in."""
        return datetime.now(self.settings.zone).date()

    async def login(self, user_id: int) -> None:
        """Log in through a fresh one-time link, as the bot's /dashboard would issue it."""
        token = await LoginLinks(self.desk.redis, self.settings.secret()).issue(user_id)
        resp = await self.post_login(token)
        assert resp.status == 303 and resp.headers["Location"] == "/dashboard/queue"

    async def post_login(self, token: str) -> ClientResponse:
        """Open the login page of a link and press its button, as a browser would."""
        page = await (await self.client.get("/dashboard/login", params={"t": token})).text()
        form = re.search(r'name="form" value="([^"]+)"', page).group(1)
        return await self.client.post("/dashboard/login", data={"t": token, "form": form},
                                      allow_redirects=False)

    async def csrf(self) -> str:
        page = await (await self.client.get("/dashboard/queue")).text()
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
async def web(settings: Settings, redis: Redis, database_url: str) -> AsyncIterator[Web]:
    web_settings = settings.model_copy(update={"admin_ids": [ADMIN],
                                               "database_url": database_url})
    async with desk_services(web_settings) as desk:
        code = await desk.experts.create_invite("Marieke", ("onderwijs",), ("nl",))
        await desk.experts.redeem_invite(code, EXPERT)
        app = init_app(web_settings, desk, WebState(bot_username="VraagbaakSandboxBot"))
        async with TestClient(TestServer(app)) as client:
            yield Web(client, desk, web_settings)
