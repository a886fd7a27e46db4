"""Transport: bursts of sendMessage from PTB's Bot, over our aiohttp request and PTB's httpx one.

The sandbox runs in a child process so that its own work does not share the event loop (and
the CPU time) of the client being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

import aiohttp
from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest

from bench.stats import Measure, paired_ratio
from bot.request import AiohttpRequest
from bot.runtime import running_sandbox

POOL_SIZE = 64
CHATS = 64
CHAT_BASE = 9_000_000
SANDBOX_LIFETIME = 600.0  # the child stops by itself after this, whatever the parent does
BURST_TIMEOUT = 120.0

TRANSPORTS: dict[str, Callable[[int], BaseRequest]] = {
    "aiohttp": lambda size: AiohttpRequest(connection_pool_size=size),
    "httpx": lambda size: HTTPXRequest(connection_pool_size=size),
}


@dataclass(frozen=True)
class Sandbox:
    """Where the child's sandbox listens and the bot token it accepts."""

    url: str
    token: str


def _serve(conn: Connection, lifetime: float) -> None:
    """Child process: run the sandbox until told to stop, the parent dies or time is up."""
    asyncio.run(_serve_until_stopped(conn, lifetime))


async def _serve_until_stopped(conn: Connection, lifetime: float) -> None:
    parent = os.getppid()
    async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
        conn.send((url, sandbox.token))
        deadline = time.monotonic() + lifetime
        while time.monotonic() < deadline and os.getppid() == parent and not conn.poll():
            await asyncio.sleep(0.1)


@contextlib.contextmanager
def sandbox_process(start_timeout: float = 60.0) -> Iterator[Sandbox]:
    """A sandbox in a child process on a free loopback port, stopped on exit."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(theirs, SANDBOX_LIFETIME), name="bench-sandbox",
                       daemon=True)
    proc.start()
    try:
        # Wake on the address or on the child's death, whichever comes first.
        wait([ours, proc.sentinel], start_timeout)
        if not ours.poll():
            raise RuntimeError("the sandbox process did not start (or died); see above")
        url, token = ours.recv()
        yield Sandbox(url, token)
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)


async def _open_chats(sandbox: Sandbox) -> list[int]:
    """Users who have written to the bot, so sendMessage finds their chats."""
    chat_ids = [CHAT_BASE + i for i in range(CHATS)]
    async with aiohttp.ClientSession() as session:
        for chat_id in chat_ids:
            async with session.post(f"{sandbox.url}/sandbox/api/send",
                                    json={"user_id": chat_id, "text": "hallo"}) as resp:
                resp.raise_for_status()
    return chat_ids


async def _burst(bot: Bot, chat_ids: list[int], calls: int, concurrency: int) -> float:
    """Send `calls` messages with at most `concurrency` in flight; returns calls per second."""
    numbers = itertools.count()

    async def worker() -> None:
        while (i := next(numbers)) < calls:
            await bot.send_message(chat_ids[i % len(chat_ids)], f"bench {i}")

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))),
                           BURST_TIMEOUT)
    return calls / (time.perf_counter() - start)


async def _one(sandbox: Sandbox, transport: str, chat_ids: list[int], calls: int) -> float:
    """One timed burst through a fresh Bot on that transport, after a warm-up burst."""
    make = TRANSPORTS[transport]
    bot = Bot(sandbox.token, base_url=f"{sandbox.url}/bot", request=make(POOL_SIZE),
              get_updates_request=make(1))
    async with bot:
        await _burst(bot, chat_ids, POOL_SIZE, POOL_SIZE)  # opens the pool's connections
        return await _burst(bot, chat_ids, calls, POOL_SIZE)


async def measure(sandbox: Sandbox, calls: int, repeat: int) -> list[Measure]:
    """Calls/s of each transport, alternating which goes first, and their ratio."""
    chat_ids = await _open_chats(sandbox)
    rates: dict[str, list[float]] = {name: [] for name in TRANSPORTS}
    for i in range(repeat):
        order = list(TRANSPORTS) if i % 2 == 0 else list(reversed(TRANSPORTS))
        for name in order:
            rates[name].append(await _one(sandbox, name, chat_ids, calls))
    note = f"{calls} sendMessage, {POOL_SIZE} in flight, pool {POOL_SIZE}"
    ours = Measure("transport: AiohttpRequest (ours)", "calls/s", tuple(rates["aiohttp"]), note)
    ptb = Measure("transport: HTTPXRequest (PTB default)", "calls/s", tuple(rates["httpx"]),
                  note)
    return [ours, ptb, paired_ratio("ratio: aiohttp / httpx calls/s", ours, ptb)]
