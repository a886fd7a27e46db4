"""What more than one desk process may share safely already (issue 22, in part): the outbox
is delivered once whoever reads it, and the webhook secret is the same for every process
with the same secret key."""

from __future__ import annotations

import asyncio
import re

from pydantic import SecretStr

from bot.runtime import webhook_secret
from bot.settings import Settings
from handoff.notices import Kind, Notice
from handoff.outbox import Outbox
from handoff.tickets import HandoffStore


async def test_two_processes_reading_the_outbox_deliver_each_notice_once(redis) -> None:
    tickets = HandoffStore(redis)
    await Outbox(redis, tickets).put(
        Notice(7000 + i, Kind.STATUS, None, {"n": i}) for i in range(300))
    first, second = Outbox(redis, tickets), Outbox(redis, tickets)
    taken: list[Notice] = []
    while True:
        batches = await asyncio.gather(first.take(50), second.take(50))
        if not any(batches):
            break
        taken += [notice for batch in batches for notice in batch]
    assert sorted(n.to for n in taken) == [7000 + i for i in range(300)]


def test_the_webhook_secret_follows_the_shared_secret_key(settings: Settings) -> None:
    same = settings.model_copy()
    other = settings.model_copy(update={"secret_key": SecretStr("another-secret")})
    assert webhook_secret(settings) == webhook_secret(same)
    assert webhook_secret(settings) != webhook_secret(other)
    # Telegram's rule for secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret(settings))
