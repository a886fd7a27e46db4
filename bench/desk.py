"""End to end: simulated users ask through the sandbox's JSON API and the real desk answers.

Everything runs as `vraagbaak demo` runs it: the sandbox, the embedded Redis (in a temporary
directory) and the PTB application in one process. The users talk to the sandbox over HTTP;
the moment an answer lands is read from the sandbox itself, so watching costs no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import Measure, paired_ratio, percentile
from bot.runtime import desk_services, running_bot, running_sandbox
from bot.sandbox import SandboxTelegram
from bot.settings import Settings
from handlers.ask import FEEDBACK, MAX_QUESTION
from handlers.context import Desk

PER_USER = 5
RATE_LIMIT = 10_000  # far above what the desk reaches, so Telegram's 30/s does not cap it
ROUND_TIMEOUT = 60.0
CALIBRATION_USERS = 5_000_000
ROUND_USERS = 6_000_000
HELPS = f"{FEEDBACK}1:"


@dataclass(frozen=True)
class Question:
    """A dev-set question and the snippet the desk answers it with."""

    text: str
    lang: str | None
    snippet: str


def shown_snippet(message: dict[str, Any]) -> str | None:
    """The snippet an answer shows, read from its 'This helps' button."""
    for row in message["buttons"]:
        for button in row:
            data = button.get("data", "")
            if data.startswith(HELPS):
                return data.removeprefix(HELPS)
    return None


class AnswerClock:
    """Notes the moment each bot message to a watched user lands in the sandbox."""

    def __init__(self, sandbox: SandboxTelegram) -> None:
        self.sandbox = sandbox
        self.arrivals: dict[int, list[float]] = {}
        self.expected: dict[int, int] = {}
        self.complete = asyncio.Event()

    def watch(self, expected: dict[int, int]) -> None:
        """Start timing these users, each expecting that many answers."""
        self.arrivals = {user_id: [] for user_id in expected}
        self.expected = dict(expected)
        self.complete.clear()

    async def run(self) -> None:
        """Wake on every bot message; the short timeout covers a wake-up missed in between."""
        while True:
            await self.sandbox.wait_for_bot_message(0.05)
            self._note(time.perf_counter())

    def _note(self, now: float) -> None:
        complete = True
        for user_id, times in self.arrivals.items():
            user = self.sandbox.users.get(user_id)
            count = 0 if user is None else sum(1 for m in user.messages if m.from_bot)
            times.extend([now] * (count - len(times)))
            complete = complete and len(times) >= self.expected[user_id]
        if complete:
            self.complete.set()


@dataclass
class ReadyDesk:
    """The sandbox and the desk's services, started; the bot not yet."""

    sandbox: SandboxTelegram
    url: str
    settings: Settings
    desk: Desk
    start_seconds: float


@contextlib.asynccontextmanager
async def ready_desk() -> AsyncIterator[ReadyDesk]:
    """Sandbox, embedded Redis in a temporary directory and the desk's services."""
    with tempfile.TemporaryDirectory(prefix="vraagbaak-bench-") as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp),
            redis_url=None,
            database_url=None,
            secret_key="bench",  # type: ignore[arg-type]
            rate_limit_per_second=RATE_LIMIT,
        )
        async with running_sandbox("127.0.0.1", 0) as (sandbox, url):
            bot_settings = settings.model_copy(update={"telegram_api_url": url})
            start = time.perf_counter()
            async with desk_services(bot_settings) as desk:
                yield ReadyDesk(sandbox, url, bot_settings, desk, time.perf_counter() - start)


@dataclass
class Users:
    """Simulated people on the sandbox's JSON API."""

    url: str
    session: aiohttp.ClientSession
    clock: AnswerClock

    async def send(self, user_id: int, text: str, lang: str | None) -> None:
        """One text from one user."""
        body = {"user_id": user_id, "text": text, "first_name": "Bench", "language_code": lang}
        async with self.session.post(f"{self.url}/sandbox/api/send", json=body) as resp:
            if resp.status != 200:
                raise RuntimeError(f"/sandbox/api/send answered {resp.status}")
            await resp.read()

    async def inbox(self, user_id: int) -> list[dict[str, Any]]:
        """Everything the bot sent that user, in the order it arrived."""
        async with self.session.get(f"{self.url}/sandbox/api/inbox",
                                    params={"user_id": str(user_id)}) as resp:
            resp.raise_for_status()
            return (await resp.json())["messages"]

    async def answered(self) -> bool:
        """Wait until every watched user has their answers; False on timeout."""
        try:
            await asyncio.wait_for(self.clock.complete.wait(), ROUND_TIMEOUT)
        except TimeoutError:
            return False
        return True


async def calibrate(users: Users, desk: Desk,
                    questions: list[tuple[str, str | None]]) -> list[list[Question]]:
    """Ask each usable question once, one user each; group the questions by answer snippet.

    This also warms the desk up. Urgent questions (two messages) and overlong ones are left
    out so that every question gets exactly one answer that names its snippet.
    """
    usable = [(text, lang) for text, lang in questions
              if len(text) <= MAX_QUESTION and not desk.triage.urgency.is_urgent(text)]
    asked = {CALIBRATION_USERS + i: q for i, q in enumerate(usable)}
    users.clock.watch(dict.fromkeys(asked, 1))
    await asyncio.gather(*(users.send(user_id, text, lang)
                         for user_id, (text, lang) in asked.items()))
    if not await users.answered():
        raise RuntimeError("calibration: not every question was answered in time")
    groups: dict[str, list[Question]] = defaultdict(list)
    for user_id, (text, lang) in asked.items():
        inbox = await users.inbox(user_id)
        snippet = shown_snippet(inbox[0]) if len(inbox) == 1 else None
        if snippet is not None:
            groups[snippet].append(Question(text, lang, snippet))
    if len(groups) < PER_USER:
        raise RuntimeError(f"calibration: only {len(groups)} distinct answers")
    return [groups[s] for s in sorted(groups)]


def plan_round(groups: list[list[Question]], users: int, round_no: int
               ) -> dict[int, list[Question]]:
    """PER_USER questions per fresh user, each with a different answer, so order shows."""
    first = ROUND_USERS + round_no * 100_000
    plan = {}
    for i in range(users):
        picks = []
        for k in range(PER_USER):
            group = groups[(i * PER_USER + k) % len(groups)]
            picks.append(group[(i + round_no) % len(group)])
        plan[first + i] = picks
    return plan


@dataclass
class RoundResult:
    """What one burst of questions gave."""

    asked: int
    answered: int
    seconds: float
    latencies: list[float]
    users: int
    users_in_order: int
    out_of_order: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Answered questions per second, from the first send to the last answer."""
        return self.answered / self.seconds


async def run_round(users: Users, plan: dict[int, list[Question]]) -> RoundResult:
    """Every user sends their questions back to back, all users at once."""
    users.clock.watch({user_id: len(qs) for user_id, qs in plan.items()})
    sent: dict[int, list[float]] = {user_id: [] for user_id in plan}

    async def ask(user_id: int, questions: list[Question]) -> None:
        for question in questions:
            sent[user_id].append(time.perf_counter())
            await users.send(user_id, question.text, question.lang)

    start = time.perf_counter()
    await asyncio.gather(*(ask(user_id, qs) for user_id, qs in plan.items()))
    await users.answered()
    arrivals = users.clock.arrivals
    answered = sum(min(len(arrivals[u]), len(qs)) for u, qs in plan.items())
    last = max((t for times in arrivals.values() for t in times), default=start)
    latencies = [a - s for u in plan for s, a in zip(sent[u], arrivals[u], strict=False)]
    out_of_order = []
    for user_id, questions in plan.items():
        shown = [shown_snippet(m) for m in await users.inbox(user_id)]
        if shown != [q.snippet for q in questions]:
            out_of_order.append(user_id)
    asked = sum(len(qs) for qs in plan.values())
    return RoundResult(asked, answered, max(last - start, 1e-9), latencies, len(plan),
                       len(plan) - len(out_of_order), out_of_order)


@dataclass
class DeskResults:
    """The measures and the ordering check of the end-to-end benchmark."""

    measures: list[Measure]
    ordering: dict[str, Any]
    settings: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Every question answered, and every user's answers in the order asked."""
        return bool(self.ordering["ok"])


async def throughput(ready: ReadyDesk, n_users: int, repeat: int,
                     questions: list[tuple[str, str | None]]) -> DeskResults:
    """Start the bot, calibrate, then `repeat` bursts of n_users x PER_USER questions."""
    async with running_bot(ready.settings, ready.desk, ready.sandbox.token), \
            aiohttp.ClientSession() as session:
        clock = AnswerClock(ready.sandbox)
        watcher = asyncio.create_task(clock.run())
        try:
            users = Users(ready.url, session, clock)
            groups = await calibrate(users, ready.desk, questions)
            rounds = [await run_round(users, plan_round(groups, n_users, r))
                      for r in range(repeat)]
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    note = f"{n_users} users x {PER_USER} questions, sent back to back"
    rate = Measure("desk: throughput", "updates/s", tuple(r.rate for r in rounds), note)
    p50 = Measure("desk: latency p50", "ms",
                  tuple(1000 * percentile(r.latencies, 50) for r in rounds),
                  "send -> answer stored in the sandbox")
    p95 = Measure("desk: latency p95", "ms",
                  tuple(1000 * percentile(r.latencies, 95) for r in rounds),
                  "send -> answer stored in the sandbox")
    ordering = {
        "ok": all(r.answered == r.asked and not r.out_of_order for r in rounds),
        "rounds": len(rounds),
        "users_checked": sum(r.users for r in rounds),
        "users_in_order": sum(r.users_in_order for r in rounds),
        "questions_asked": sum(r.asked for r in rounds),
        "questions_answered": sum(r.answered for r in rounds),
        "out_of_order_users": [u for r in rounds for u in r.out_of_order],
        "calibration_questions": sum(len(g) for g in groups),
        "distinct_answers": len(groups),
    }
    settings = {"rate_limit_per_second": ready.settings.rate_limit_per_second,
                "max_concurrent_chats": ready.settings.max_concurrent_chats}
    return DeskResults([rate, p50, p95, paired_ratio("ratio: desk latency p95 / p50", p95, p50)],
                       ordering, settings)
