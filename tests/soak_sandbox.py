"""The sandbox Telegram in its own process, noting when each bot message lands and which
answer it is: the soak test reads every chat's answers, in order, with their times, in one
request (`GET /soak/records?after=N`) instead of polling a hundred inboxes.

    python -m tests.soak_sandbox PORT TOKEN
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from aiohttp import web

from bench.compare import answer_key
from bot.runtime import StopSignal
from bot.sandbox import SandboxTelegram, make_sandbox_app

RECORDS: web.AppKey[list[dict[str, Any]]] = web.AppKey("records", list)


class RecordingSandbox(SandboxTelegram):
    """The sandbox, keeping (time, chat, message id, answer key, text head) per message."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.records: list[dict[str, Any]] = []

    async def api_sendmessage(self, params: dict[str, Any]) -> Any:
        result = await super().api_sendmessage(params)
        chat_id = int(params["chat_id"])
        sent = next(m for m in reversed(self.users[chat_id].messages)
                    if m.message_id == result["message_id"])
        inbox = sent.as_inbox()
        self.records.append({"t": time.time(), "chat": chat_id, "id": sent.message_id,
                             "key": answer_key("desk", inbox), "text": sent.text[:160]})
        return result


async def records(request: web.Request) -> web.Response:
    """GET /soak/records?after=N: the messages the bot sent, from the N-th on."""
    after = int(request.query.get("after", "0"))
    return web.json_response({"records": request.app[RECORDS][after:]})


async def serve(port: int, token: str) -> None:
    stop = StopSignal()
    sandbox = RecordingSandbox(token)
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
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))
