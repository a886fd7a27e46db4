"""Notices from front doors that cannot send themselves (the CLI), kept in Redis until the
running bot delivers them."""

from __future__ import annotations

import json
from collections.abc import Iterable

from redis.asyncio import Redis

from handoff.keys import PREFIX
from handoff.notices import Kind, Notice
from handoff.tickets import HandoffStore

OUTBOX_MAXLEN = 10_000
# Undelivered notices carry no message text, but they are not kept beyond a day.
OUTBOX_TTL_SECONDS = 24 * 3600


def outbox_key() -> str:
    """Stream of notices waiting for the bot."""
    return f"{PREFIX}:outbox"


class Outbox:
    """Puts notices on a stream; the bot takes them off and delivers them."""

    def __init__(self, redis: Redis, tickets: HandoffStore) -> None:
        self.redis = redis
        self.tickets = tickets

    async def put(self, notices: Iterable[Notice]) -> int:
        """Queue notices whose parameters are plain JSON; returns how many."""
        count = 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for notice in notices:
                payload = json.dumps({
                    "to": notice.to, "kind": notice.kind.value,
                    "ticket": notice.ticket.id if notice.ticket else None,
                    "params": dict(notice.params)})
                pipe.xadd(outbox_key(), {"notice": payload}, maxlen=OUTBOX_MAXLEN,
                          approximate=True)
                count += 1
            pipe.expire(outbox_key(), OUTBOX_TTL_SECONDS)
            await pipe.execute()
        return count

    async def take(self, limit: int = 100) -> list[Notice]:
        """Remove and return waiting notices, oldest first. Each is claimed by its delete:
        when several desk processes read the outbox, only the one whose XDEL removed an
        entry delivers it, so no notice goes out twice."""
        entries = await self.redis.xrange(outbox_key(), count=limit)
        notices = []
        for entry_id, fields in entries:
            if not await self.redis.xdel(outbox_key(), entry_id):
                continue  # another process took it first
            data = json.loads(fields["notice"])
            ticket = await self.tickets.get(data["ticket"]) if data["ticket"] else None
            if data["ticket"] and ticket is None:
                continue  # forgotten meanwhile: nothing to say about it
            notices.append(Notice(int(data["to"]), Kind(data["kind"]), ticket, data["params"]))
        return notices
