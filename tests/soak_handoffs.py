"""The soak test's scripted handoffs (issue 22): ten askers queue for an expert while the
load and the faults run. Bram claims three and goes silent until the sweep puts them back in
the queue; Cees claims three and is removed with `vraagbaak experts remove` (the notices go
out through the outbox); Anna claims and closes conversations one at a time until all ten
are closed: ten summary rows."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from redis.asyncio import Redis

from tests.instances_harness import ROOT, Desks
from tests.test_kill_restart import Chat

ASKERS = 7_200_000
EXPERTS = 7_300_000
REQUEUED_SILENT = "Sorry dat je moest wachten"
EXPERT_LEFT = "Je expert is niet meer beschikbaar"
NO_ANSWER = "is terug in de wachtrij gezet omdat er geen antwoord kwam"  # to the silent expert
CLOSED = "Afgesloten"
SUMMARY = "Docent geadviseerd over signalen en een gesprek met de ouders."
QUESTION = ("Een leerling van mij deelt al weken filmpjes van een extremistische groep en "
            "zegt dat geweld soms nodig is; hoe ga ik daarover met hem in gesprek?")


@dataclass
class Handoffs:
    """Who did what, for the checks."""

    askers: list[Chat]
    anna: Chat
    bram: Chat
    cees: Chat
    closed: int = 0
    silent: list[Chat] = field(default_factory=list)  # Bram's askers
    removed: list[Chat] = field(default_factory=list)  # Cees's askers
    log: list[str] = field(default_factory=list)


def people(session: aiohttp.ClientSession, url: str, askers: int = 10) -> Handoffs:
    chats = [Chat(session, url, ASKERS + i) for i in range(askers)]
    anna, bram, cees = (Chat(session, url, EXPERTS + i) for i in range(3))
    return Handoffs(chats, anna, bram, cees)


async def claim(expert: Chat) -> None:
    """/volgende: the next conversation in the queue is this expert's."""
    await expert.send("/volgende")
    await expert.expect("📋", timeout=120)


async def close(expert: Chat) -> None:
    """/sluit the active conversation: outcome, summary, closed."""
    await expert.send("/sluit")
    outcome = await expert.expect("uitkomst", timeout=120)
    await expert.press(outcome, "Advies gegeven")
    await expert.edited(outcome, "samenvatting", timeout=120)
    await expert.send(SUMMARY)
    await expert.expect(CLOSED, timeout=120)


async def prepare(h: Handoffs, redis: Redis) -> None:  # type: ignore[type-arg]
    """The three experts join; every asker is onboarded and queued."""
    for expert, name in ((h.anna, "Anna"), (h.bram, "Bram"), (h.cees, "Cees")):
        await expert.join_pool(redis, name)
    for asker in h.askers:
        await asker.send("/start")
        await asker.press(await asker.expect("Wie ben je", timeout=120), "professional")
        await asker.expect("Typ je vraag", timeout=120)
        await asker.ask_an_expert(QUESTION)


async def remove(desks: Desks, expert: Chat) -> str:
    """`vraagbaak experts remove ID`, as an operator runs it beside the running desks."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot.cli", "experts", "remove",
                         str(expert.user_id)],
        cwd=ROOT, env={**desks.env, "VRAAGBAAK_LOG_LEVEL": "WARNING",
                       "VRAAGBAAK_DATA_DIR": str(desks.tmp / "cli")},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def script(h: Handoffs, desks: Desks) -> None:
    """Bram claims three and is silent; Cees claims three and is removed at once (before
    the requeue minute: removal, not silence, sends his back); Anna closes four, then, once
    the sweep has put Bram's back, the six that are left."""
    await claim_many(h.bram, 3)
    h.silent = await holders(h, "Bram", 3)
    await claim_many(h.cees, 3)
    h.removed = await holders(h, "Cees", 3)
    h.log.append(await remove(desks, h.cees))
    for asker in h.removed:
        await asker.expect(EXPERT_LEFT, timeout=60)
    for _ in range(4):
        await claim(h.anna)
        await close(h.anna)
        h.closed += 1
    for asker in h.silent:  # the sweep: the requeue minute, then up to 20 s
        await asker.expect(REQUEUED_SILENT, timeout=240)
    for _ in range(6):
        await claim(h.anna)
        await close(h.anna)
        h.closed += 1


async def claim_many(expert: Chat, count: int) -> None:
    """/volgende `count` times in a row, then their cards."""
    for _ in range(count):
        await expert.send("/volgende")
    for _ in range(count):
        await expert.expect("📋", timeout=120)


async def holders(h: Handoffs, name: str, count: int) -> list[Chat]:
    """The askers this expert has greeted ("Bram, ... leest nu je vraag"), `count` of them."""
    found: list[Chat] = []
    greeting = f"{name}, een expert van Platform JEP, leest nu je vraag"
    for _ in range(240):
        found = [a for a in h.askers if any(greeting in m["text"] for m in await inbox(a))]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"only {len(found)} askers were greeted by {name}")


async def inbox(chat: Chat) -> list[dict[str, Any]]:
    async with chat.session.get(f"{chat.url}/sandbox/api/inbox", params={
            "user_id": chat.user_id, "after": 0}) as resp:
        return (await resp.json())["messages"]


async def counts(h: Handoffs) -> dict[str, Any]:
    """How often each asker got the requeue and the expert-left notice."""
    silent = [sum(REQUEUED_SILENT in m["text"] for m in await inbox(a)) for a in h.silent]
    left = [sum(EXPERT_LEFT in m["text"] for m in await inbox(a)) for a in h.removed]
    closed = [sum(CLOSED in m["text"] for m in await inbox(e)) for e in (h.anna,)]
    no_answer = sum(NO_ANSWER in m["text"] for m in await inbox(h.bram))
    return {"requeue_notices_per_asker": silent, "expert_left_notices_per_asker": left,
            "requeue_notices_to_the_silent_expert": no_answer,
            "closed_confirmations": closed, "closed": h.closed, "cli": h.log}
