"""A rush: professionals each start, ask, read the answer and press a button; some ask for
an expert, and simulated experts claim and answer them.

Buttons are found by their label in the user's catalog (or by position where the flow asks
questions), never by hard-coded callback data, so the load survives changes to the handoff
flow; what it cannot complete it counts instead of failing.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.compare import ROOT, BotProcess, desk_env
from bench.stats import percentile
from bot.sandbox.server import ChatMessage
from locales import translator

STEP_TIMEOUT = 30.0
POLL = 0.02
QUEUE_AFTER = 5.0  # an expert with nothing to claim for this long asks for the queue
RELAY_CHECK = 2.0
EXPERT_PATIENCE = 4 * STEP_TIMEOUT
EXPERT_BASE = 8_000_000
PRO_BASE = 8_100_000



def labels(source: str) -> tuple[str, ...]:
    """A button label as the desk shows it in each language (answers follow the question's)."""
    return tuple(translator(lang)._p("button", source) for lang in ("nl", "en"))


HELPS = labels("This helps")
TALK = labels("Talk to an expert")
CLAIM = labels("Claim")
CONSENT = labels("Yes, connect me")


@dataclass
class RushResult:
    """What a rush gave."""

    professionals: int
    answered: int
    answer_latencies: list[float]
    messages_after_plain_questions: int
    plain_questions: int
    handoffs_asked: int
    handoffs_answered: int
    handoff_seconds: list[float]
    seconds: float
    failures: list[str]

    def as_json(self) -> dict[str, Any]:
        """The result as it goes into results.json."""
        return {
            "professionals": self.professionals, "answered": self.answered,
            "answer_p50_ms": 1000 * percentile(self.answer_latencies, 50)
            if self.answer_latencies else None,
            "answer_p95_ms": 1000 * percentile(self.answer_latencies, 95)
            if self.answer_latencies else None,
            "messages_per_plain_question":
                self.messages_after_plain_questions / max(self.plain_questions, 1),
            "handoffs_asked": self.handoffs_asked, "handoffs_answered": self.handoffs_answered,
            "handoff_p50_s": percentile(self.handoff_seconds, 50)
            if self.handoff_seconds else None,
            "seconds": self.seconds, "failures": self.failures[:20],
        }


def bot_messages(bot: BotProcess, user_id: int) -> list[ChatMessage]:
    """Everything the bot sent this user so far (edits applied)."""
    user = bot.sandbox.users.get(user_id)
    return [m for m in user.messages if m.from_bot] if user else []


async def wait_for(check: Callable[[], Any], what: str, timeout: float = STEP_TIMEOUT) -> Any:
    """Poll until `check()` is truthy; raise with `what` after the timeout."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(POLL)
    return found


def button(message: ChatMessage, label: tuple[str, ...] | None = None) -> str | None:
    """Callback data of the first button with one of those labels, or of the first button."""
    for row in message.buttons:
        for b in row:
            if "data" in b and (label is None or b["text"].startswith(label)):
                return b["data"]
    return None


async def invite(bot: BotProcess, name: str) -> str:
    """An expert invite code from `vraagbaak experts invite`, run beside the desk."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "experts", "invite", "--name", name,
        cwd=ROOT, env=desk_env(bot.url, bot.sandbox.token, bot.data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    found = re.search(r"start=(\S+)", out.decode())
    if proc.returncode != 0 or found is None:
        raise RuntimeError("vraagbaak experts invite failed")
    return found.group(1)


class Rush:
    """One rush against a running desk."""

    def __init__(self, bot: BotProcess, questions: list[str], professionals: int,
                 expert_every: int) -> None:
        self.bot = bot
        self.questions = questions
        self.professionals = professionals
        self.expert_every = expert_every
        self.latencies: list[float] = []
        self.handoff_seconds: list[float] = []
        self.failures: list[str] = []
        self.handoffs_answered = 0
        self.asked_at: dict[int, int] = {}  # plain askers: last bot message before asking

    async def send(self, user_id: int, text: str) -> None:
        """A user sends a text."""
        await self.bot.sandbox.user_sends(user_id, text, "Bench", "nl")

    async def press(self, user_id: int, message: ChatMessage, data: str) -> None:
        """A user presses a button."""
        await self.bot.sandbox.user_presses(user_id, message.message_id, data)

    async def new_message(self, user_id: int, after: int, what: str,
                          with_button: tuple[str, ...] | None = None,
                          without: tuple[str, ...] = (),
                          timeout: float = STEP_TIMEOUT) -> ChatMessage:
        """The first bot message after message id `after` with that button (if given) and
        none of the `without` buttons."""
        def check() -> ChatMessage | None:
            for m in bot_messages(self.bot, user_id):
                if (m.message_id > after and (with_button is None or button(m, with_button))
                        and not (without and button(m, without))):
                    return m
            return None
        return await wait_for(check, what, timeout)

    async def professional(self, index: int) -> None:
        """Start, choose a role, ask, read, press; every n-th asks for an expert."""
        user = PRO_BASE + index
        await self.send(user, "/start")
        welcome = await self.new_message(user, 0, "welcome with role buttons")
        await self.press(user, welcome, button(welcome) or "")
        await self.new_message(user, welcome.message_id, "role confirmed")
        seen = max(m.message_id for m in bot_messages(self.bot, user))
        question = self.questions[index % len(self.questions)]
        sent = time.perf_counter()
        await self.send(user, question)
        answer = await self.new_message(user, seen, "answer", with_button=HELPS)
        self.latencies.append(time.perf_counter() - sent)
        if index % self.expert_every != 0:
            self.asked_at[user] = seen
            await self.press(user, answer, button(answer, HELPS) or "")
            return
        talk = button(answer, TALK)
        if talk is None:
            raise RuntimeError("no expert button on the answer")
        asked = time.perf_counter()
        await self.press(user, answer, talk)
        await self.intake(user, answer.message_id)
        # As long as the experts keep trying (claims race; a queue is only looked at now
        # and then), not just one step's time.
        await wait_for(lambda: any("bench reply" in m.text
                                   for m in bot_messages(self.bot, user)), "expert reply",
                       EXPERT_PATIENCE)
        self.handoff_seconds.append(time.perf_counter() - asked)
        self.handoffs_answered += 1

    async def intake(self, user: int, after: int) -> None:
        """Answer the intake: the consent button when offered, else the first choice."""
        pressed: set[tuple[int, str]] = set()
        for _ in range(8):
            def offered() -> tuple[ChatMessage, str] | None:
                for m in reversed(bot_messages(self.bot, user)):
                    if m.message_id <= after:
                        break
                    data = button(m, CONSENT) or button(m)
                    if data is not None and (m.message_id, data) not in pressed:
                        return m, data
                return None
            try:
                message, data = await wait_for(offered, "intake step")
            except TimeoutError:
                return  # no further question: the intake is done
            pressed.add((message.message_id, data))
            await self.press(user, message, data)
            if button(message, CONSENT) == data:
                return

    async def join(self, index: int, code: str) -> int:
        """An expert redeems the invite and becomes available; returns their last message id."""
        user = EXPERT_BASE + index
        await self.send(user, f"/start {code}")
        await self.new_message(user, 0, "expert welcome")
        seen = max(m.message_id for m in bot_messages(self.bot, user))
        await self.send(user, "/beschikbaar")
        await self.new_message(user, seen, "availability confirmed")
        return max(m.message_id for m in bot_messages(self.bot, user))

    async def expert(self, index: int, seen: int) -> None:
        """Claim one question (announced, or from the queue) and answer it."""
        user = EXPERT_BASE + index
        deadline = time.monotonic() + EXPERT_PATIENCE
        while time.monotonic() < deadline:
            try:
                offer = await self.new_message(user, seen, "claim button", with_button=CLAIM,
                                               timeout=QUEUE_AFTER)
            except TimeoutError:
                # Queued before anyone was available: not announced; ask for the queue.
                await self.send(user, "/wachtrij")
                continue
            seen = max(m.message_id for m in bot_messages(self.bot, user))
            if not await self.claim(user, offer, seen):
                # Someone else was quicker: look at the queue again at once, as a person
                # who sees "already taken" would.
                await self.send(user, "/wachtrij")
                continue
            seen = max(m.message_id for m in bot_messages(self.bot, user))
            await self.send(user, f"bench reply from expert {index}")
            # A relayed reply gets no answer of its own; any answer but a new question
            # means the reply reached no conversation (the claim did not hold): try again.
            try:
                await self.new_message(user, seen, "answer to a relayed reply", without=CLAIM,
                                       timeout=RELAY_CHECK)
            except TimeoutError:
                return
        raise TimeoutError("no question claimed")

    async def claim(self, user: int, offer: ChatMessage, seen: int) -> bool:
        """Press Claim; True once the conversation card came, False when the desk answered
        the press without one (taken by another expert: a short notice on the button)."""
        person = self.bot.sandbox.users[user]
        person.last_callback_answer = None
        await self.press(user, offer, button(offer, CLAIM) or "")

        def card() -> ChatMessage | None:  # the card has no Claim button
            return next((m for m in bot_messages(self.bot, user)
                         if m.message_id > seen and not button(m, CLAIM)), None)

        try:
            await wait_for(lambda: card() or person.last_callback_answer, "claim outcome",
                           QUEUE_AFTER)
            # A won claim may answer the button too: give its card a moment to follow.
            await wait_for(card, "handoff card", RELAY_CHECK)
        except TimeoutError:
            return False
        return True

    async def run(self, experts: int) -> RushResult:
        """Everyone at once; failures are counted, not raised."""
        codes = [await invite(self.bot, f"Expert {i}") for i in range(experts)]

        async def guarded(coro: Any, who: str) -> None:
            try:
                await coro
            except Exception as exc:
                self.failures.append(f"{who}: {type(exc).__name__}: {exc}")

        start = time.perf_counter()
        joined = [await self.join(i, code) for i, code in enumerate(codes)]
        expert_tasks = [asyncio.create_task(guarded(self.expert(i, seen), f"expert {i}"))
                        for i, seen in enumerate(joined)]
        await asyncio.gather(*(guarded(self.professional(i), f"professional {i}")
                               for i in range(self.professionals)))
        await asyncio.gather(*expert_tasks)
        seconds = time.perf_counter() - start
        # What a plain question costs in sent messages: everything after it (answer, and a
        # 112 notice first when urgent; the feedback press edits, it sends nothing).
        messages = sum(sum(1 for m in bot_messages(self.bot, u) if m.message_id > seen)
                       for u, seen in self.asked_at.items())
        return RushResult(
            self.professionals, len(self.latencies), self.latencies, messages,
            len(self.asked_at), len(range(0, self.professionals, self.expert_every)),
            self.handoffs_answered, self.handoff_seconds, seconds, self.failures)


async def rush(bot: BotProcess, questions: list[str], professionals: int,
               expert_every: int) -> RushResult:
    """N professionals at once, one in `expert_every` asking for an expert."""
    experts = len(range(0, professionals, expert_every))
    return await Rush(bot, questions, professionals, expert_every).run(experts)
