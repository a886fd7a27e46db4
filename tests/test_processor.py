"""PerChatUpdateProcessor: one chat strictly in order, many chats at once, bounded."""

from __future__ import annotations

import asyncio
import gc
import random
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from telegram import InlineQuery, Update

from bot.processor import PerChatUpdateProcessor, chat_key
from tests.factories import make_callback_update, make_message_update, make_user

CHATS = 20
PER_CHAT = 10


@dataclass
class Recorder:
    """Records which update ran when, and how many ran at the same time."""

    started: list[tuple[int, int]] = field(default_factory=list)
    finished: list[tuple[int, int]] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    running_per_chat: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    peak_per_chat: int = 0

    async def handle(self, chat: int, seq: int, delay: float) -> None:
        self.started.append((chat, seq))
        self.running += 1
        self.running_per_chat[chat] += 1
        self.peak = max(self.peak, self.running)
        self.peak_per_chat = max(self.peak_per_chat, self.running_per_chat[chat])
        try:
            await asyncio.sleep(delay)
        finally:
            self.running -= 1
            self.running_per_chat[chat] -= 1
            self.finished.append((chat, seq))


def burst() -> list[tuple[Update, int, int, float]]:
    """200 updates from 20 chats, interleaved, with seeded random handler durations."""
    rng = random.Random(20240501)
    items = []
    update_id = 0
    for seq in range(PER_CHAT):
        for chat in range(CHATS):
            update_id += 1
            chat_id = 1000 + chat
            # Button presses share the lane of the chat's messages.
            if seq % 3 == 2:
                update = make_callback_update(chat_id, chat_id, f"b{seq}", update_id)
            else:
                update = make_message_update(chat_id, chat_id, f"m{seq}", update_id)
            items.append((update, chat_id, seq, rng.uniform(0.0, 0.004)))
    return items


async def run_burst(processor: PerChatUpdateProcessor) -> Recorder:
    """Feed the burst the way PTB does: one task per update, created in arrival order."""
    recorder = Recorder()
    async with processor:
        tasks = [
            asyncio.create_task(
                processor.process_update(update, recorder.handle(chat, seq, delay)))
            for update, chat, seq, delay in burst()
        ]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    return recorder


def per_chat(events: list[tuple[int, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for chat, seq in events:
        out[chat].append(seq)
    return out


async def test_burst_keeps_each_chat_in_order_and_runs_chats_in_parallel() -> None:
    recorder = await run_burst(PerChatUpdateProcessor(max_chats=64))
    assert len(recorder.finished) == CHATS * PER_CHAT
    order = per_chat(recorder.started)
    assert len(order) == CHATS
    for chat, seqs in order.items():
        assert seqs == list(range(PER_CHAT)), f"chat {chat} ran out of order: {seqs}"
    assert per_chat(recorder.finished) == order
    assert recorder.peak_per_chat == 1, "two updates of one chat overlapped"
    # The first wave holds one update of every chat, and none of them waits for another.
    assert recorder.peak == CHATS


async def test_burst_never_runs_more_chats_than_max_chats() -> None:
    recorder = await run_burst(PerChatUpdateProcessor(max_chats=4))
    assert len(recorder.finished) == CHATS * PER_CHAT
    for chat, seqs in per_chat(recorder.started).items():
        assert seqs == list(range(PER_CHAT)), f"chat {chat} ran out of order: {seqs}"
    assert recorder.peak_per_chat == 1
    assert recorder.peak == 4


def test_chat_key_prefers_chat_then_user_then_global() -> None:
    assert chat_key(make_message_update(42, 7, "hoi")) == 42
    assert chat_key(make_callback_update(42, 7, "lang:en")) == 42
    inline = Update(5, inline_query=InlineQuery("q1", make_user(7), "zoek", ""))
    assert chat_key(inline) == "user:7"
    assert chat_key(Update(6)) == "global"
    assert chat_key(object()) == "global"


async def test_updates_without_chat_or_user_share_one_serial_lane() -> None:
    processor = PerChatUpdateProcessor(max_chats=8)
    release = asyncio.Event()
    log: list[str] = []

    async def blocking(name: str) -> None:
        log.append(f"{name} start")
        await release.wait()
        log.append(f"{name} end")

    async def quick(name: str) -> None:
        log.append(name)

    async with processor:
        first = asyncio.create_task(processor.process_update(Update(1), blocking("global-1")))
        second = asyncio.create_task(processor.process_update(object(), quick("global-2")))
        chat = asyncio.create_task(
            processor.process_update(make_message_update(9, 9, "hoi", 3), quick("chat")))
        await asyncio.wait_for(chat, timeout=5)
        await asyncio.sleep(0.05)
        # The chat update went past; the second global one waits for the first.
        assert log == ["global-1 start", "chat"]
        release.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=5)
    assert log == ["global-1 start", "chat", "global-1 end", "global-2"]


@pytest.mark.parametrize("waiting_for", ["previous update of the chat", "a free chat slot"])
async def test_cancelled_pending_update_is_closed_without_warning(waiting_for: str) -> None:
    processor = PerChatUpdateProcessor(max_chats=1)
    release = asyncio.Event()
    ran: list[str] = []

    async def handler(name: str, block: bool = False) -> None:
        ran.append(name)
        if block:
            await release.wait()

    pending_chat = 1 if waiting_for == "previous update of the chat" else 2
    async with processor:
        first = asyncio.create_task(
            processor.process_update(make_message_update(1, 1, "a", 1), handler("a", True)))
        await asyncio.sleep(0)
        pending = asyncio.create_task(processor.process_update(
            make_message_update(pending_chat, pending_chat, "b", 2), handler("b")))
        await asyncio.sleep(0.01)
        assert ran == ["a"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pending.cancel()
            await asyncio.wait([pending], timeout=5)
            assert pending.cancelled()
            # The task's traceback keeps the coroutine alive; drop it so it is finalised here.
            del pending
            gc.collect()
        leaked = [str(w.message) for w in caught if "never awaited" in str(w.message)]
        assert leaked == []
        assert ran == ["a"]
        release.set()
        await asyncio.wait_for(first, timeout=5)
        # The lanes still work after the cancellation.
        await asyncio.wait_for(processor.process_update(
            make_message_update(pending_chat, pending_chat, "c", 3), handler("c")), timeout=5)
    assert ran == ["a", "c"]
