"""Per-chat ordered, cross-chat parallel processing of updates."""

from __future__ import annotations

import asyncio
import time
from collections import deque
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


class FloodGate:
    """Per-chat message rate: above `limit` messages in `window` seconds a chat is flooding.

    Counted by the time Telegram received each message (not when we see it), so a backlog
    after a restart is not mistaken for a flood. The first surplus message of an episode is
    reported (`notice`), the rest are silent; the episode ends once the rate is normal again.
    Chats for which `exempt` says yes (experts, and askers in a conversation with one: they
    type to a person, often in short bursts) are never limited.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: dict[int, deque[float]] = {}
        self._flooding: set[int] = set()
        self.dropped = 0

    def check(self, update: object) -> str:
        """'pass', 'notice' (first surplus message) or 'drop'."""
        if not isinstance(update, Update) or update.message is None:
            return "pass"  # only new messages count; button presses are answered
        chat = update.message.chat.id
        when = update.message.date.timestamp() if update.message.date else time.time()
        times = self._times.setdefault(chat, deque())
        while times and times[0] <= when - self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(when)
            self._flooding.discard(chat)
            if len(self._times) > 10_000:
                self._forget_quiet(when)
            return "pass"
        self.dropped += 1
        if chat in self._flooding:
            return "drop"
        self._flooding.add(chat)
        return "notice"

    def pardon(self, chat: int) -> None:
        """An exempt chat was counted as flooding: undo that."""
        if chat in self._flooding:
            self._flooding.discard(chat)
        self.dropped -= 1

    def _forget_quiet(self, now: float) -> None:
        for chat in [c for c, t in self._times.items() if not t or t[-1] <= now - self.window]:
            del self._times[chat]
            self._flooding.discard(chat)


def _close(coroutine: Awaitable[Any]) -> None:
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Runs updates of one chat strictly in arrival order and up to `max_chats` chats at once."""

    def __init__(self, max_chats: int = 64) -> None:
        super().__init__(_ADMISSION)
        self.max_chats = max_chats
        self._running = asyncio.BoundedSemaphore(max_chats)
        self._tails: dict[int | str, asyncio.Future[None]] = {}
        # Told when an update has been handled, so the poller may confirm it to Telegram.
        self.on_done: Callable[[object], Awaitable[None]] | None = None
        # Flood control (set by the runtime): surplus messages of a flooding chat are not
        # handled, only marked done so the offset moves on; the first one is told once.
        self.flood: FloodGate | None = None
        self.on_flood: Callable[[Update], Awaitable[None]] | None = None
        self.is_exempt: Callable[[int], Awaitable[bool]] | None = None
        # Asked just before an update's handling starts (set by the feed): False when another
        # instance has taken the update's chat (its partition, or the polling) over meanwhile.
        self.still_ours: Callable[[object], bool] | None = None
        self._closing = False
        self._waiting: set[asyncio.Task[Any]] = set()  # admitted, not yet running
        self._active: set[asyncio.Task[Any]] = set()  # running a handler

    async def drain(self, grace: float) -> None:
        """Stop taking updates: those not yet started are dropped unconfirmed (Telegram hands
        them over again after a restart); running ones get `grace` seconds, then a cancel."""
        self._closing = True
        for task in list(self._waiting):
            task.cancel()
        if self._active:
            await asyncio.wait(set(self._active), timeout=grace)
        leftover = self._waiting | self._active
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.wait(leftover, timeout=1.0)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's previous update, then run this one within the parallel bound."""
        if self._closing:
            _close(coroutine)  # stopping: left unconfirmed for the next start
            return
        if self.flood is not None and await self._flooded(update):
            _close(coroutine)
            if self.on_done is not None:
                await self.on_done(update)  # handled as dropped: the offset moves on
            return
        task = asyncio.current_task()
        assert task is not None
        key = chat_key(update)
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Registered before the first await, so arrival order decides the chain order.
        self._tails[key] = done
        self._waiting.add(task)
        try:
            if previous is not None:
                await asyncio.shield(previous)
            async with self._running:
                self._waiting.discard(task)
                if self._closing or (self.still_ours is not None
                                     and not self.still_ours(update)):
                    _close(coroutine)
                    return
                self._active.add(task)
                started = time.perf_counter()
                await coroutine
                metrics.observe_update(update, time.perf_counter() - started)
            if self.on_done is not None:
                await self.on_done(update)
        except asyncio.CancelledError:
            # Cancelled before it ran (shutdown): close it so no 'never awaited' warning leaks.
            _close(coroutine)
            raise
        finally:
            self._waiting.discard(task)
            self._active.discard(task)
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]

    async def _flooded(self, update: object) -> bool:
        assert self.flood is not None
        verdict = self.flood.check(update)
        if verdict == "pass":
            return False
        assert isinstance(update, Update) and update.message is not None
        user = update.message.from_user
        if user is not None and self.is_exempt is not None:
            try:
                exempt = await self.is_exempt(user.id)
            except Exception:
                exempt = False  # Redis unreachable: limit as anyone else
            if exempt:
                self.flood.pardon(update.message.chat.id)
                return False
        if verdict == "notice" and self.on_flood is not None:
            await self.on_flood(update)
        return True

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""
