"""Drives the desk through the sandbox's JSON API over HTTP, as a person would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from telegram.ext import Application

from bot.runtime import desk_services, running_bot, running_sandbox
from bot.sandbox import SandboxTelegram
from bot.settings import Settings
from handlers.context import Desk

Message = dict[str, Any]


@dataclass
class Person:
    """One sandbox user with a cursor over what the bot sent them."""

    harness: DeskHarness
    user_id: int
    first_name: str = "Test"
    language_code: str | None = "nl"
    seen: int = 0
    messages: list[Message] = field(default_factory=list)

    async def send(self, text: str, reply_to: Message | None = None) -> None:
        """Send a text (commands get their entity), optionally as a reply to a message."""
        body: dict[str, Any] = {
            "user_id": self.user_id, "text": text, "first_name": self.first_name,
            "language_code": self.language_code}
        if reply_to is not None:
            body["reply_to_message_id"] = reply_to["message_id"]
        await self.harness.post("/sandbox/api/send", body)

    async def press(self, message: Message, data: str, expired: bool = False) -> None:
        """Press the button with that callback data on that message (`expired`: the query
        reaches the bot too late for Telegram to accept its answer)."""
        await self.harness.post("/sandbox/api/press", {
            "user_id": self.user_id, "message_id": message["message_id"], "data": data,
            "expired": expired})

    async def delete(self, message: Message) -> None:
        """Delete one of the bot's messages in this chat, for both sides."""
        await self.harness.post("/sandbox/api/delete", {
            "user_id": self.user_id, "message_id": message["message_id"]})

    async def press_label(self, message: Message, label: str, expired: bool = False) -> None:
        """Press the button whose label contains `label`."""
        for row in message["buttons"]:
            for button in row:
                if label in button["text"]:
                    await self.press(message, button["data"], expired)
                    return
        raise AssertionError(f"no button {label!r} in {message['buttons']}")

    async def onboard(self, role_label: str) -> Message:
        """/start, choose the role whose button contains `role_label`, wait for the
        confirmation (Dutch) and return it."""
        await self.send("/start")
        await self.press_label(await self.expect("Wie ben je"), role_label)
        return await self.expect("Typ je vraag")

    async def block(self, blocked: bool = True) -> None:
        """Block (or unblock) the bot: every message to this person then fails with 403."""
        await self.harness.post("/sandbox/api/block", {"user_id": self.user_id,
                                                       "blocked": blocked})

    async def inbox(self, after: int = 0) -> list[Message]:
        """Bot messages with message_id > after, edits applied."""
        return (await self.harness.get("/sandbox/api/inbox",
                                       {"user_id": self.user_id, "after": after}))["messages"]

    async def expect(self, predicate: Callable[[Message], bool] | str | None = None,
                     timeout: float = 10.0) -> Message:
        """Wait for the next new bot message matching `predicate` (a substring or function)."""
        if isinstance(predicate, str):
            needle = predicate
            predicate = lambda m: needle in m["text"]  # noqa: E731
        deadline = time.monotonic() + timeout
        while True:
            new = await self.inbox(self.seen)
            for message in new:
                self.seen = max(self.seen, message["message_id"])
                self.messages.append(message)
                if predicate is None or predicate(message):
                    return message
            if time.monotonic() > deadline:
                texts = [m["text"][:120] for m in self.messages[-5:]]
                raise AssertionError(f"no matching message for user {self.user_id}; "
                                     f"last seen: {texts}")
            await asyncio.sleep(0.02)

    async def current(self, message: Message) -> Message:
        """The present state of a message (after edits)."""
        for item in await self.inbox(message["message_id"] - 1):
            if item["message_id"] == message["message_id"]:
                return item
        raise AssertionError("message vanished")

    async def expect_edit(self, message: Message, needle: str, timeout: float = 10.0) -> Message:
        """Wait until an earlier message has been edited to contain `needle`."""
        deadline = time.monotonic() + timeout
        while True:
            now = await self.current(message)
            if needle in now["text"]:
                return now
            if time.monotonic() > deadline:
                raise AssertionError(f"message never said {needle!r}: {now['text'][:200]}")
            await asyncio.sleep(0.02)

    async def quiet(self, seconds: float = 0.3) -> list[Message]:
        """Wait a moment and return whatever new arrived (to assert nothing did)."""
        await asyncio.sleep(seconds)
        new = await self.inbox(self.seen)
        for message in new:
            self.seen = max(self.seen, message["message_id"])
        return new


@dataclass
class DeskHarness:
    """The sandbox + desk + bot, and an HTTP session to the sandbox."""

    sandbox: SandboxTelegram
    base_url: str
    desk: Desk
    session: aiohttp.ClientSession
    settings: Settings
    app: Application  # type: ignore[type-arg]

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, settings: Settings,
                    clock: Callable[[], float] = time.time) -> AsyncIterator[DeskHarness]:
        """Start everything on a free port; stop it all afterwards."""
        async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
            bot_settings = settings.model_copy(update={"telegram_api_url": url})
            async with desk_services(bot_settings, clock) as desk, running_bot(
                bot_settings, desk, sandbox.token
            ) as app, aiohttp.ClientSession() as session:
                yield cls(sandbox, url, desk, session, bot_settings, app)
            # Every request the desk sent must be one the Bot API specification accepts.
            assert not sandbox.violations, f"Bot API violations: {sandbox.violations}"

    async def forge_callback(self, user_id: int, message_id: int, data: str) -> None:
        """A tampered client: a callback query with data no button carried."""
        user = self.sandbox.users[user_id]
        msg = next(m for m in user.messages if m.message_id == message_id)
        query_id = f"forged-{message_id}-{data}"
        self.sandbox._callbacks[query_id] = user_id
        await self.sandbox._push({"callback_query": {
            "id": query_id, "from": user.as_user(),
            "chat_instance": "x", "data": data,
            "message": self.sandbox._bot_message_json(user, msg)}})

    def person(self, user_id: int, first_name: str = "Test",
               language_code: str | None = "nl") -> Person:
        """A sandbox user."""
        return Person(self, user_id, first_name, language_code)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(self.base_url + path, json=body) as resp:
            if resp.status != 200:
                raise AssertionError(f"{path} -> {resp.status}: {await resp.text()}")
            return await resp.json()

    async def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        async with self.session.get(self.base_url + path,
                                    params={k: str(v) for k, v in params.items()}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()
