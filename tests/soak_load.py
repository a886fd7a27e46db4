"""The soak test's load and its checks (issue 22), on the parts tests/instances_harness.py
starts: numbered questions from many chats at a steady rate, faults at set moments, then
what a person would notice, read from the sandbox's record of every bot message.

A chat's questions are tied to its answers by the answer itself: each chat asks questions
whose answers (the guidance card, read from the "This helps" button) all differ, found by a
calibration that asks each candidate once from a chat of its own. Question k of a chat is
then answered when that card arrives, and the chat's answers are in order when the cards
arrive in the order the questions went out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.triage import DEV_SET
from bot.leases import lease_key
from bot.polling import PENDING_KEY
from bot.settings import Settings
from tests.instances_harness import Desks

# Longer than a follow-up can be (knowledge/followup.py MAX_WORDS): each question stands alone.
MIN_WORDS = 15
CALIBRATION_CHATS = 7_000_000
LOAD_CHATS = 7_100_000
PARTITIONS = Settings.model_fields["feed_partitions"].default


@dataclass(frozen=True)
class Question:
    text: str
    key: str  # the card that answers it


def candidates() -> list[str]:
    """Dutch, not acute, self-contained questions from the triage dev set."""
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r["text"] for r in rows if r.get("lang") == "nl" and not r.get("acute")
            and len(r["text"].split()) >= MIN_WORDS and len(r["text"]) < 1000]


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll `check` until it holds; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def calibrate(desks: Desks, needed: int, timeout: float = 120.0) -> list[Question]:
    """`needed` questions with different cards as answers (one message each)."""
    texts = candidates()
    chats = [CALIBRATION_CHATS + i for i in range(len(texts))]
    start = len(await desks.records())
    for chat, text in zip(chats, texts, strict=True):
        await desks.send(chat, text)

    async def answered() -> bool:
        return len({r["chat"] for r in await desks.records(start) if r["key"]}) >= len(chats)

    await wait_for(answered, timeout, "calibration questions not all answered")
    await asyncio.sleep(0.5)  # a second message to one of them would show by now
    by_chat: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in await desks.records(start):
        by_chat[record["chat"]].append(record)
    found: dict[str, Question] = {}
    for chat, text in zip(chats, texts, strict=True):
        sent = by_chat[chat]
        if len(sent) == 1 and sent[0]["key"] and not sent[0]["key"].startswith("no card"):
            found.setdefault(sent[0]["key"], Question(text, sent[0]["key"]))
    if len(found) < needed:
        raise AssertionError(f"only {len(found)} distinct answers among {len(texts)} questions")
    return list(found.values())[:needed]


@dataclass
class Plan:
    """Which chat asks which questions, in which order."""

    questions: dict[int, list[Question]]

    @classmethod
    def make(cls, pool: list[Question], chats: int, per_chat: int) -> Plan:
        assert per_chat <= len(pool)
        return cls({LOAD_CHATS + i: [pool[(i + k) % len(pool)] for k in range(per_chat)]
                    for i in range(chats)})

    @property
    def total(self) -> int:
        return sum(len(qs) for qs in self.questions.values())

    def schedule(self) -> list[tuple[int, int]]:
        """(chat, question number), round robin over the chats."""
        per_chat = max(len(qs) for qs in self.questions.values())
        return [(chat, k) for k in range(per_chat) for chat in self.questions
                if k < len(self.questions[chat])]


@dataclass
class Fault:
    """Something done to the system `at` seconds into the load."""

    name: str
    at: float
    act: Callable[[Fault], Awaitable[None]]
    # The chats it stops (the killed instance's partitions), noted by `act`; None: all.
    chats: set[int] | None = None
    started: float = 0.0  # wall clock
    seconds: float = 0.0  # how long the act took (e.g. a restart until the desk runs)


@dataclass
class Run:
    """What the load sent and when."""

    plan: Plan
    sent_at: dict[tuple[int, int], float] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    first_record: int = 0
    load_seconds: float = 0.0


async def drive(desks: Desks, plan: Plan, rate: float, faults: list[Fault]) -> Run:
    """Send the plan at `rate` questions per second; alongside, each fault at its moment but
    not before the one before it is over (a redeploy waits until the killed instance runs
    again), so the load is not held up by a fault that waits for an instance to start."""
    run = Run(plan, faults=faults, first_record=len(await desks.records()))
    start = time.monotonic()

    async def in_turn() -> None:
        for fault in sorted(faults, key=lambda f: f.at):
            await asyncio.sleep(max(0.0, start + fault.at - time.monotonic()))
            fault.started = time.time()
            began = time.monotonic()
            await fault.act(fault)
            fault.seconds = time.monotonic() - began

    acting = asyncio.create_task(in_turn())
    try:
        for i, (chat, k) in enumerate(plan.schedule()):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            run.sent_at[chat, k] = time.time()
            await desks.send(chat, plan.questions[chat][k].text)
        run.load_seconds = time.monotonic() - start
        await acting
    finally:
        acting.cancel()
    return run


async def wait_answered(desks: Desks, run: Run, timeout: float) -> None:
    """Until every question's card has arrived in its chat (or AssertionError)."""
    async def done() -> bool:
        got = _answers(await desks.records(run.first_record))
        return all({q.key for q in qs} <= set(got.get(chat, []))
                   for chat, qs in run.plan.questions.items())

    await wait_for(done, timeout, "not every question was answered")


def _answers(records: list[dict[str, Any]]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for record in records:
        if record["key"]:
            out[record["chat"]].append(record["key"])
    return out


def analyse(run: Run, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures: answers, repeats, order, and each fault's time to resume."""
    plan = run.plan
    answers = _answers(records)
    times: dict[int, list[float]] = defaultdict(list)
    for record in records:
        if record["key"]:
            times[record["chat"]].append(record["t"])
    unanswered, out_of_order, repeats = [], [], {}
    first_at: dict[tuple[int, int], float] = {}
    for chat, qs in plan.questions.items():
        got = answers.get(chat, [])
        expected = [q.key for q in qs]
        firsts = list(dict.fromkeys(got))
        if not set(expected) <= set(firsts):
            unanswered.append(chat)
        # A repeat is the answer just sent again (an update handled twice across a kill,
        # before the chat's next one); an older answer again is out of order.
        late = any(key in got[:i] and got[i - 1] != key for i, key in enumerate(got))
        if firsts != expected or late:
            out_of_order.append(chat)
        if len(got) > len(firsts):
            repeats[chat] = len(got) - len(firsts)
        for k, q in enumerate(qs):
            if q.key in got:
                first_at[chat, k] = times[chat][got.index(q.key)]
    resume = {}
    for fault in run.faults:
        # Each chat the fault stopped: from the fault (or the question, if sent later) to the
        # answer to its first question not yet answered when the fault struck; the longest
        # is the time to resume.
        waits = []
        for chat, qs in plan.questions.items():
            if fault.chats is not None and chat not in fault.chats:
                continue
            after = [(first_at[chat, k], run.sent_at[chat, k]) for k in range(len(qs))
                     if first_at.get((chat, k), 0.0) > fault.started]
            if after:
                answered, sent = min(after)
                waits.append(answered - max(sent, fault.started))
        resume[fault.name] = {"chats": len(waits), "fault_seconds": fault.seconds,
                              "seconds_to_resume": max(waits, default=0.0)}
    latencies = sorted(first_at[key] - run.sent_at[key] for key in first_at)
    first_fault = min((f.started for f in run.faults), default=float("inf"))
    calm = sorted(first_at[key] - run.sent_at[key] for key in first_at
                  if first_at[key] < first_fault)
    return {
        "questions": plan.total,
        "chats": len(plan.questions),
        "answers": sum(len(a) for chat, a in answers.items() if chat in plan.questions),
        "answered_questions": len(first_at),
        "unanswered_chats": unanswered,
        "out_of_order_chats": out_of_order,
        "repeats": sum(repeats.values()),
        "chats_with_repeats": len(repeats),
        "max_repeats_in_a_chat": max(repeats.values(), default=0),
        "resume": resume,
        "load_seconds": run.load_seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "max_latency_s": latencies[-1] if latencies else None,
        # Before any fault: whether the desks keep up with the load at all on this machine.
        "p50_ms_before_the_first_fault": 1000 * calm[len(calm) // 2] if calm else None,
    }


async def owned_chats(redis: Redis, plan: Plan, instance: str,  # type: ignore[type-arg]
                      partitions: int = PARTITIONS) -> set[int]:
    """The plan's chats whose feed partition this instance holds now."""
    owners = {}
    for p in range(partitions):
        holder = await redis.get(lease_key(f"feed:{p}"))
        owners[p] = _s(holder).rsplit(":", 1)[0] if holder is not None else None
    return {chat for chat in plan.questions if owners[chat % partitions] == instance}


async def leftovers(redis: Redis) -> dict[str, Any]:  # type: ignore[type-arg]
    """What is still waiting in Redis: every stream's length and pending entries per group,
    and the poller's pending-updates hash."""
    streams: dict[str, Any] = {}
    async for key in redis.scan_iter(_type="STREAM"):
        name = key.decode() if isinstance(key, bytes) else key
        groups = await redis.xinfo_groups(name)
        streams[name] = {"length": await redis.xlen(name),
                         "pending": {_s(g["name"]): int(g["pending"]) for g in groups}}
        if "webhook" in name or "feed" in name:  # what is left there, to say why
            streams[name]["left"] = [_describe(fields) for _, fields in
                                     await redis.xrange(name, count=10)]
    return {"streams": streams, "pending_updates": await redis.hlen(PENDING_KEY)}


def _describe(fields: dict[Any, Any]) -> str:
    """An update's kind, chat and first words (test data only)."""
    raw = {_s(k): _s(v) for k, v in fields.items()}.get("update", "{}")
    update = json.loads(raw)
    kind = next((k for k in update if k != "update_id"), "?")
    body = update.get(kind) or {}
    chat = (body.get("chat") or (body.get("message") or {}).get("chat") or {}).get("id")
    words = str(body.get("text", body.get("data", "")))[:40]
    return f"{update.get('update_id')} {kind} chat={chat} {words}"


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def feed_streams(state: dict[str, Any]) -> dict[str, int]:
    """The lengths of the streams that carry Telegram's updates (they must end empty)."""
    return {name: s["length"] for name, s in state["streams"].items()
            if "webhook" in name or "feed" in name}


def write_figures(path: Path, figures: dict[str, Any]) -> None:
    path.write_text(json.dumps(figures, indent=2, sort_keys=True), encoding="utf-8")
    print(f"\nsoak figures ({path}):\n{json.dumps(figures, indent=2, sort_keys=True)}")
