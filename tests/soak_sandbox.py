"""The sandbox Telegram in its own process, noting when each bot message lands and which
answer it is: the soak test reads every chat's answers, in order, with their times, in one
request (`GET /soak/records?after=N`) instead of polling a hundred inboxes.

    python -m tests.soak_sandbox PORT TOKEN [LANES]

With LANES > 1 the webhook is posted over that many connections at once, as Telegram posts
over up to 40: each lane takes the chats whose id falls to it, so every chat's updates still
arrive one after the other, in order, while other chats' updates are under way.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from aiohttp import ClientSession, web

from bench.compare import answer_key
from bot.runtime import StopSignal
from bot.sandbox import SandboxTelegram, make_sandbox_app

RECORDS: web.AppKey[list[dict[str, Any]]] = web.AppKey("records", list)


class RecordingSandbox(SandboxTelegram):
    """The sandbox, keeping (time, chat, message id, answer key, text head) per message."""

    def __init__(self, token: str, lanes: int = 1) -> None:
        super().__init__(token)
        self.records: list[dict[str, Any]] = []
        self.lanes = lanes

    async def _deliver(self) -> None:
        if self.lanes <= 1:
            await super()._deliver()
            return
        async with ClientSession() as session:
            await asyncio.gather(*(self._lane(session, lane) for lane in range(self.lanes)))

    async def _lane(self, session: ClientSession, lane: int) -> None:
        """Post this lane's updates in order; retry one until it is accepted."""
        while True:
            update = next((u for u in self.updates if chat_of(u) % self.lanes == lane), None)
            if update is None:
                await asyncio.sleep(0.02)
                continue
            if await self._post_update(session, update):
                for i, queued in enumerate(self.updates):
                    if queued is update:
                        del self.updates[i]
                        break
            else:
                await asyncio.sleep(0.2)

    async def api_sendmessage(self, params: dict[str, Any]) -> Any:
        result = await super().api_sendmessage(params)
        chat_id = int(params["chat_id"])
        sent = next(m for m in reversed(self.users[chat_id].messages)
                    if m.message_id == result["message_id"])
        inbox = sent.as_inbox()
        self.records.append({"t": time.time(), "chat": chat_id, "id": sent.message_id,
                             "key": answer_key("desk", inbox), "text": sent.text[:160]})
        return result


def chat_of(update: dict[str, Any]) -> int:
    """The chat (or, for a button, the person) an update belongs to."""
    for value in update.values():
        if isinstance(value, dict):
            chat = (value.get("chat") or (value.get("message") or {}).get("chat")
                    or value.get("from") or {})
            return int(chat.get("id", 0))
    return 0


async def records(request: web.Request) -> web.Response:
    """GET /soak/records?after=N: the messages the bot sent, from the N-th on."""
    after = int(request.query.get("after", "0"))
    return web.json_response({"records": request.app[RECORDS][after:]})


async def serve(port: int, token: str, lanes: int) -> None:
    stop = StopSignal()
    sandbox = RecordingSandbox(token, lanes)
    app = make_sandbox_app(sandbox)
    app[RECORDS] = sandbox.records
    app.router.add_get("/soak/records", records)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"sandbox Telegram at http://127.0.0.1:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.close()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if sys.argv[3:] else 1))
