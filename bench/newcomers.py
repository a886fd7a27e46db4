"""A bystander's answer while newcomers rush in: hundreds of new chats send /start within a
second (a link shared in a big group) while others ask questions.

The bystanders' send -> answer p95 is compared with the same questions without the rush, on
the same desk process; every newcomer must get its welcome."""

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

SETTLE = 2.0  # seconds between the loads: the previous one's stragglers are answered
TELEGRAM_RATE = 30  # messages a second: Telegram's overall limit, the desk's default


@dataclass(frozen=True)
class NewcomerLoad:
    """How much one newcomer-rush run asks."""

    newcomers: int  # new chats sending /start
    seconds: float  # over this long
    bystanders: int  # chats asking one question each during the same time
    rounds: int


FULL_NEWCOMERS = NewcomerLoad(300, 1.0, 20, 2)
QUICK_NEWCOMERS = NewcomerLoad(300, 1.0, 20, 1)
TINY_NEWCOMERS = NewcomerLoad(20, 0.5, 3, 1)


@dataclass
class NewcomerRound:
    """One round: bystanders' latencies without and with the rush, and the welcomes."""

    normal: list[float]
    rushed: list[float]
    newcomers: int
    welcomed: int
    welcome_seconds: float  # from the first /start to the last welcome
    bystanders_unanswered: int


async def _rush(bot: BotProcess, chats: list[int], seconds: float) -> float:
    """Each chat sends /start, evenly over `seconds`; returns when the first went out."""
    start = time.perf_counter()
    for i, chat in enumerate(chats):
        delay = start + i * seconds / len(chats) - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await bot.sandbox.user_sends(chat, "/start", "Bench", "nl")
    return start


async def bystanders_ask(bot: BotProcess, questions: dict[int, list[Question]],
                         seconds: float, newcomers: list[int]
                         ) -> tuple[list[float], int, float]:
    """The bystanders' questions spread over `seconds` (with the newcomers' /start rush
    alongside); their latencies, how many never got an answer, and the rush's duration."""
    sandbox = bot.sandbox
    chats = list(questions)
    before = {chat: len(sandbox.answers[chat]) for chat in chats}
    rush = asyncio.create_task(_rush(bot, newcomers, seconds)) if newcomers else None
    await asyncio.sleep(0.1 * seconds)  # the rush is under way before the first question
    sent_at = await send_on_schedule(sandbox, paced_schedule(questions, len(chats) / seconds))
    started = await rush if rush is not None else time.perf_counter()
    deadline = time.monotonic() + LOAD_TIMEOUT
    while time.monotonic() < deadline and (
            any(len(sandbox.answers[c]) - before[c] < len(questions[c]) for c in chats)
            or any(sandbox.sent[c] == 0 for c in newcomers)):
        await asyncio.sleep(0.01)
    welcomed_at = time.perf_counter()
    latencies: list[float] = []
    missing = 0
    for chat in chats:
        answers = sandbox.answers[chat][before[chat]:]
        missing += max(0, len(questions[chat]) - len(answers))
        latencies += [a - s for s, (a, _) in zip(sent_at[chat], answers, strict=False)]
    return latencies, missing, welcomed_at - started


async def newcomer_rounds(workdir: Path, texts: list[str], load: NewcomerLoad
                          ) -> list[NewcomerRound]:
    """Rounds of: the bystanders' questions alone, then the same with the newcomers' rush."""
    rounds = []
    # With Telegram's overall limit, as in production: a rush is as long as its welcomes take.
    async with bot_process("desk", workdir,
                           extra_env={"VRAAGBAAK_RATE_LIMIT_PER_SECOND": str(TELEGRAM_RATE)}
                           ) as bot:
        groups, _ = await calibrate(bot, texts[:60], LOAD_TIMEOUT)
        for r in range(load.rounds):
            normal, lost_a, _ = await bystanders_ask(
                bot, plan(bot, groups, load.bystanders, 1, r), load.seconds, [])
            await asyncio.sleep(SETTLE)
            newcomers = bot.users(load.newcomers)
            rushed, lost_b, welcome = await bystanders_ask(
                bot, plan(bot, groups, load.bystanders, 1, r + 1), load.seconds, newcomers)
            welcomed = sum(1 for chat in newcomers if bot.sandbox.sent[chat] > 0)
            rounds.append(NewcomerRound(normal, rushed, load.newcomers, welcomed, welcome,
                                        lost_a + lost_b))
            await asyncio.sleep(SETTLE)
    return rounds


def newcomer_measures(rounds: list[NewcomerRound]) -> list[Measure]:
    """Bystanders' p95 without and with the rush, and how long the welcomes took."""
    size = rounds[0].newcomers
    normal = Measure("newcomers: bystanders' p95, no rush", "ms",
                     tuple(1000 * percentile(r.normal, 95) for r in rounds))
    rushed = Measure(f"newcomers: bystanders' p95, {size} newcomers /start within a second",
                     "ms", tuple(1000 * percentile(r.rushed, 95) for r in rounds),
                     f"bystanders unanswered {sum(r.bystanders_unanswered for r in rounds)}")
    welcomes = Measure("newcomers: first /start to last welcome", "ms",
                       tuple(1000 * r.welcome_seconds for r in rounds),
                       f"welcomed {', '.join(f'{r.welcomed}/{r.newcomers}' for r in rounds)}")
    return [normal, rushed, welcomes]


def main() -> None:
    """`python -m bench.newcomers`: this case alone (`make bench` runs it with the others)."""
    from bench import triage
    from bench.compare import workspace
    from bench.report import table
    from bot.logs import setup_logging

    setup_logging("WARNING")
    texts = [text for text, _ in triage.dev_questions()]

    async def run() -> list[NewcomerRound]:
        with workspace() as tmp:
            return await newcomer_rounds(Path(tmp), texts, FULL_NEWCOMERS)

    rounds = asyncio.run(run())
    print(table(newcomer_measures(rounds)))


if __name__ == "__main__":
    main()
