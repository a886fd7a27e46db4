"""kill -9 of the bot process mid-conversation: nothing queued, claimed or relayed is lost.

The sandbox Telegram runs in its own process, like Telegram itself, and the bot is
`vraagbaak run` pointed at it; only the bot is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.redis_server import make_client
from handoff.experts import ExpertStore
from tests.sandbox_process import TOKEN
from tests.trained import seed


def start_bot(data_dir: Path, url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    env.update(VRAAGBAAK_TELEGRAM_TOKEN=TOKEN, VRAAGBAAK_TELEGRAM_API_URL=url,
               VRAAGBAAK_DATA_DIR=str(data_dir), VRAAGBAAK_OFFICE_HOURS="always",
               VRAAGBAAK_SECRET_KEY="kill-test", VRAAGBAAK_LOG_LEVEL="WARNING",
               VRAAGBAAK_WEB_PORT="0")  # several bots run side by side
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-worker"], env=env)


class Chat:
    """One sandbox user over HTTP."""

    def __init__(self, session: aiohttp.ClientSession, url: str, user_id: int) -> None:
        self.session, self.url, self.user_id, self.seen = session, url, user_id, 0

    async def send(self, text: str) -> None:
        async with self.session.post(f"{self.url}/sandbox/api/send", json={
                "user_id": self.user_id, "text": text, "language_code": "nl"}) as resp:
            assert resp.status == 200

    async def press(self, message: dict, label: str) -> None:
        data = next(b["data"] for row in message["buttons"] for b in row if label in b["text"])
        async with self.session.post(f"{self.url}/sandbox/api/press", json={
                "user_id": self.user_id, "message_id": message["message_id"],
                "data": data}) as resp:
            assert resp.status == 200, await resp.text()

    async def join_pool(self, redis: Redis, name: str) -> None:
        """Redeem an invite created through the desk's Redis and go on duty."""
        code = await ExpertStore(redis).create_invite(name, ("signals",), ("nl",))
        await self.send(f"/start inv_{code}")
        await self.expect("Welkom in de expertpool")
        await self.send("/beschikbaar")
        await self.expect("beschikbaar")

    async def ask_an_expert(self, question: str, timeout: float = 60) -> None:
        """Ask, press the expert button, answer the three intake steps: queued. The first
        answer of a desk started on an empty data directory waits for its training."""
        await self.send(question)
        await self.press(await self.expect("Onderwerp:", timeout), "Spreek een expert")
        intake = await self.expect("1/3")
        await self.press(intake, "Onderwijs")
        await self.press(await self.edited(intake, "2/3"), "Utrecht")
        await self.press(await self.edited(intake, "3/3"), "Ja")
        await self.expect("wachtrij")

    async def expect(self, needle: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with self.session.get(f"{self.url}/sandbox/api/inbox", params={
                    "user_id": self.user_id, "after": self.seen}) as resp:
                for message in (await resp.json())["messages"]:
                    self.seen = max(self.seen, message["message_id"])
                    if needle in message["text"]:
                        return message
            await asyncio.sleep(0.1)
        raise AssertionError(f"user {self.user_id} never got {needle!r}")

    async def edited(self, message: dict, needle: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with self.session.get(f"{self.url}/sandbox/api/inbox", params={
                    "user_id": self.user_id, "after": message["message_id"] - 1}) as resp:
                now = (await resp.json())["messages"][0]
            if needle in now["text"]:
                return now
            await asyncio.sleep(0.1)
        raise AssertionError(f"message never said {needle!r}")


def redis_pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / "redis.pid").read_text())


def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(420)
async def test_kill_minus_nine_mid_conversation(tmp_path: Path, sandbox_url: str,
                                                session: aiohttp.ClientSession) -> None:
    data_dir = tmp_path / "d"
    seed(data_dir)  # the run's training: the desk answers at once
    bot = start_bot(data_dir, sandbox_url)
    try:
        user, expert, waiting = (Chat(session, sandbox_url, uid) for uid in (71, 72, 73))
        await user.send("/start")
        await user.press(await user.expect("Wie ben je"), "professional")
        # An expert joins with an invite created through the same Redis.
        redis = make_client(f"unix://{(data_dir / 'redis' / 'redis.sock').resolve()}")
        await expert.join_pool(redis, "Anna")
        await redis.aclose(close_connection_pool=True)
        for chat, question in ((user, "Een leerling deelt IS-filmpjes, is dit een signaal?"),
                               (waiting, "Hoe praat ik met ouders over radicalisering?")):
            if chat is waiting:
                await chat.send("/start")
                await chat.press(await chat.expect("Wie ben je"), "professional")
            # The first question waits for the training of a fresh desk (38 s on a quiet
            # two-core machine, more under the suite's load).
            await chat.ask_an_expert(question, timeout=240 if chat is user else 60)
        await expert.expect("Nieuwe vraag")
        await expert.send("/volgende")
        await expert.expect("📋")
        await user.expect("leest nu je vraag")
        await expert.send("Vertel eens meer.")
        await user.expect("Vertel eens meer.")
        pid = redis_pid(data_dir)
    finally:
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=10)
    assert gone(pid), "the embedded Redis outlived the killed bot"
    # While the bot is down, the user writes: Telegram (the sandbox) keeps the update.
    await user.send("Hij is 15 en zit in de brugklas.")
    bot = start_bot(data_dir, sandbox_url)
    try:
        relayed = await expert.expect("Hij is 15 en zit in de brugklas.")
        assert relayed["text"].startswith("💬 Vraagsteller")
        await expert.send("Dank je, ik denk mee.")
        await user.expect("Dank je, ik denk mee.")
        await waiting.send("Ben ik nog aan de beurt?")
        await waiting.expect("Toegevoegd aan je vraag")
        await expert.send("/wachtrij")
        queue = await expert.expect("Wachtende vragen")
        assert "Onderwijs" in queue["text"] and "Utrecht" in queue["text"]
    finally:
        bot.terminate()
        bot.wait(timeout=20)
