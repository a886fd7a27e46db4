"""Per-chat ordered, cross-chat parallel processing of updates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import metrics

# PTB's own semaphore only admits updates into do_process_update; keep it wide so admission
# never blocks (admission order is what preserves per-chat order) and bound the real work below.
_ADMISSION = 100_000


def chat_key(update: object) -> int | str:
    """The serialisation key of an update: its chat, else its user, else one global lane."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return f"user:{update.effective_user.id}"
    return "global"


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Runs updates of one chat strictly in arrival order and up to `max_chats` chats at once."""

    def __init__(self, max_chats: int = 64) -> None:
        super().__init__(_ADMISSION)
        self.max_chats = max_chats
        self._running = asyncio.BoundedSemaphore(max_chats)
        self._tails: dict[int | str, asyncio.Future[None]] = {}
        # Told when an update has been handled, so the poller may confirm it to Telegram.
        self.on_done: Callable[[object], Awaitable[None]] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's previous update, then run this one within the parallel bound."""
        key = chat_key(update)
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Registered before the first await, so arrival order decides the chain order.
        self._tails[key] = done
        try:
            if previous is not None:
                await asyncio.shield(previous)
            async with self._running:
                started = time.perf_counter()
                await coroutine
                metrics.observe_update(update, time.perf_counter() - started)
            if self.on_done is not None:
                await self.on_done(update)
        except asyncio.CancelledError:
            # Cancelled before it ran (shutdown): close it so no 'never awaited' warning leaks.
            close = getattr(coroutine, "close", None)
            if close is not None:
                close()
            raise
        finally:
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""
