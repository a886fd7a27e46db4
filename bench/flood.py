"""Others' answer times while one user floods: the desk with its flood control on.

One chat sends 50 messages a second; meanwhile other chats ask paced questions. Their p95
send -> answer is compared with the same load without the flood, on the same desk process.
The flooder's answers and notices show that its surplus was neither triaged nor answered."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.compare import (
    LOAD_TIMEOUT,
    BotProcess,
    Question,
    bot_process,
    calibrate,
    paced_schedule,
    plan,
    send_on_schedule,
)
from bench.stats import Measure, percentile

FLOOD_RATE = 50.0  # the flooder's messages per second
SETTLE = 2.0  # seconds between the two loads: the flood episode must be over


@dataclass(frozen=True)
class FloodLoad:
    """How much one flood run asks."""

    chats: int  # others, asking paced questions
    rate: float  # the others' questions per second together
    seconds: float
    rounds: int


FULL_FLOOD = FloodLoad(20, 20.0, 5.0, 2)
QUICK_FLOOD = FloodLoad(10, 10.0, 2.0, 1)
TINY_FLOOD = FloodLoad(3, 6.0, 0.5, 1)


@dataclass
class FloodRound:
    """One round: the others' latencies without and with the flood, and the flooder's lot."""

    normal: list[float]
    flooded: list[float]
    flood_sent: int
    flood_answers: int
    flood_other_messages: int
    others_unanswered: int


async def others_ask(bot: BotProcess, questions: dict[int, list[Question]], rate: float,
                     flooder: int | None) -> tuple[list[float], int, int]:
    """The others' paced questions (and, with `flooder`, the flood alongside); their send ->
    answer latencies, the flood's size, and how many of the others' answers never came."""
    sandbox = bot.sandbox
    chats = list(questions)
    schedule = paced_schedule(questions, rate)
    before = {chat: len(sandbox.answers[chat]) for chat in chats}
    flood_sent = 0
    stop = asyncio.Event()

    async def flood() -> None:
        nonlocal flood_sent
        assert flooder is not None
        start = time.perf_counter()
        texts = [q.text for qs in questions.values() for q in qs]
        while not stop.is_set():
            delay = start + flood_sent / FLOOD_RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await sandbox.user_sends(flooder, f"{texts[flood_sent % len(texts)]} "
                                              f"({flood_sent})", "Bench", "nl")
            flood_sent += 1

    flooding = asyncio.create_task(flood()) if flooder is not None else None
    if flooding is not None:
        await asyncio.sleep(0.5)  # the flood is under way before the others ask
    sent_at = await send_on_schedule(sandbox, schedule)
    stop.set()
    if flooding is not None:
        await flooding
    deadline = time.monotonic() + LOAD_TIMEOUT
    while (any(len(sandbox.answers[c]) - before[c] < len(questions[c]) for c in chats)
           and time.monotonic() < deadline):
        await asyncio.sleep(0.02)
    latencies: list[float] = []
    missing = 0
    for chat in chats:
        answers = sandbox.answers[chat][before[chat]:]
        missing += max(0, len(questions[chat]) - len(answers))
        latencies += [a - s for s, (a, _) in zip(sent_at[chat], answers, strict=False)]
    return latencies, flood_sent, missing


async def flood_rounds(workdir: Path, texts: list[str], load: FloodLoad) -> list[FloodRound]:
    """Rounds of: the others' load alone, then the same with a flooder, on one desk with the
    default flood control (5 messages in 10 s)."""
    rounds = []
    per_chat = max(1, round(load.rate * load.seconds / load.chats))
    async with bot_process("desk", workdir, extra_env={"VRAAGBAAK_FLOOD_MESSAGES": "5",
                                                        "VRAAGBAAK_FLOOD_SECONDS": "10"}) as bot:
        groups, _ = await calibrate(bot, texts[:60], LOAD_TIMEOUT)
        for r in range(load.rounds):
            normal, _, lost_a = await others_ask(
                bot, plan(bot, groups, load.chats, per_chat, r), load.rate, None)
            await asyncio.sleep(SETTLE)
            flooder = bot.users(1)[0]
            sent_before = bot.sandbox.sent[flooder]
            flooded, flood_sent, lost_b = await others_ask(
                bot, plan(bot, groups, load.chats, per_chat, r + 1), load.rate, flooder)
            await asyncio.sleep(1.0)  # the flooder's last answers, if any
            answers = len(bot.sandbox.answers[flooder])
            rounds.append(FloodRound(normal, flooded, flood_sent, answers,
                                     bot.sandbox.sent[flooder] - sent_before - answers,
                                     lost_a + lost_b))
            await asyncio.sleep(SETTLE)
    return rounds


def flood_measures(rounds: list[FloodRound]) -> list[Measure]:
    """Others' p95 without and with the flood, the ratio, and the flooder's answers."""
    normal = Measure("flood: others' p95, no flood", "ms",
                     tuple(1000 * percentile(r.normal, 95) for r in rounds))
    flooded = Measure("flood: others' p95, one user at 50 msgs/s", "ms",
                      tuple(1000 * percentile(r.flooded, 95) for r in rounds))
    ratio = Measure("flood: ratio others' p95 flooded / normal", "x",
                    tuple(percentile(r.flooded, 95) / percentile(r.normal, 95) for r in rounds))
    answered = Measure("flood: flooder's messages answered", "msgs",
                       tuple(float(r.flood_answers) for r in rounds),
                       f"of {', '.join(str(r.flood_sent) for r in rounds)} sent; notices "
                       f"{', '.join(str(r.flood_other_messages) for r in rounds)}; others "
                       f"unanswered {sum(r.others_unanswered for r in rounds)}")
    return [normal, flooded, ratio, answered]
