"""One side-by-side run: loads alternating between the desk and the echo bot, a rush on the
desk, and the desk's memory with its summariser worker; summarised as measures and goals."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.compare import (
    LOAD_TIMEOUT,
    BotProcess,
    Phase,
    Schedule,
    bot_process,
    burst_schedule,
    calibrate,
    keys_for,
    paced_schedule,
    plan,
    rss_bytes,
    run_load,
)
from bench.rush import RushResult, rush
from bench.stats import Measure, paired_ratio

MB = 2**20


@dataclass(frozen=True)
class Load:
    """How much one side-by-side run asks of each bot."""

    burst_chats: int
    burst_per_chat: int
    paced_rates: tuple[int, ...]
    paced_seconds: float
    paced_chats: int
    rounds: int
    calibration: int  # dev-set questions used to calibrate (0: all)
    rush_professionals: int
    rush_expert_every: int
    worker_wait: float  # 0: skip the run with the summariser worker


FULL_LOAD = Load(100, 20, (100, 200), 10.0, 100, 2, 0, 100, 10, 120.0)
QUICK_LOAD = Load(50, 10, (100, 200), 3.0, 50, 1, 0, 20, 5, 0.0)
TINY_LOAD = Load(4, 3, (20,), 0.5, 4, 1, 40, 4, 2, 0.0)


@dataclass
class SideBySide:
    """Every phase of both bots, keyed by bot kind and load name, and the rush."""

    phases: dict[str, dict[str, list[Phase]]]
    messages_per_question: float  # the desk over the whole calibration set, urgent included
    calibration_questions: int
    distinct_answers: int
    rush: RushResult | None


async def side_by_side(load: Load, workdir: Path, texts: list[str]) -> SideBySide:
    """Both bots up at once, loads alternating which bot goes first; then a rush on the desk."""
    if load.calibration:
        texts = texts[:load.calibration]
    phases: dict[str, dict[str, list[Phase]]] = {"desk": defaultdict(list),
                                                  "echo": defaultdict(list)}
    async with bot_process("desk", workdir) as desk, bot_process("echo", workdir) as echo:
        groups, per_question = await calibrate(desk, texts, LOAD_TIMEOUT)
        if len(groups) < 2:
            raise RuntimeError(f"calibration: only {len(groups)} distinct answers")
        await calibrate(echo, texts, LOAD_TIMEOUT)  # the same warm-up for the peer
        for r in range(load.rounds):
            order = (desk, echo) if r % 2 == 0 else (echo, desk)
            loads: list[tuple[str, int, int, float | None]] = [
                ("burst", load.burst_chats, load.burst_per_chat, None)]
            for rate in load.paced_rates:
                per_chat = max(1, round(rate * load.paced_seconds / load.paced_chats))
                loads.append((f"paced {rate}/s", load.paced_chats, per_chat, float(rate)))
            for name, chats, per_chat, rate in loads:
                for bot in order:
                    questions = plan(bot, groups, chats, per_chat, r)
                    schedule = (burst_schedule(questions) if rate is None
                                else paced_schedule(questions, rate))
                    expected = {c: keys_for(bot.kind, qs) for c, qs in questions.items()}
                    timeout = LOAD_TIMEOUT + schedule[-1][0]
                    phases[bot.kind][name].append(
                        await run_phase(bot, schedule, expected, timeout))
        rushed = None
        if load.rush_professionals:
            rushed = await rush(desk, texts, load.rush_professionals, load.rush_expert_every)
    return SideBySide({k: dict(v) for k, v in phases.items()}, per_question,
                      sum(len(g) for g in groups), len(groups), rushed)


async def run_phase(bot: BotProcess, schedule: Schedule, expected: dict[int, list[str]],
                    timeout: float) -> Phase:
    """One load, after a short pause so the previous bot's stragglers are done."""
    await asyncio.sleep(0.5)
    return await run_load(bot, schedule, expected, timeout)


async def whole_desk_rss(workdir: Path, wait: float) -> dict[str, float]:
    """RSS of the desk with its summariser worker once the worker has loaded, in MB."""
    async with bot_process("desk", workdir, with_worker=True) as desk:
        deadline = time.monotonic() + wait
        samples: list[int] = []
        while time.monotonic() < deadline:
            procs = desk.tree()
            samples.append(rss_bytes(procs))
            # Loaded: three samples 2 s apart within 1 % of each other, worker present.
            if (len(samples) >= 3 and any(is_worker(p) for p in procs)
                    and max(samples[-3:]) - min(samples[-3:]) < 0.01 * samples[-1]):
                break
            await asyncio.sleep(2.0)
        procs = desk.tree()
        worker = [p for p in procs if is_worker(p)]
        for w in worker:
            worker += w.children(recursive=True)
        bot_only = [p for p in procs if p not in worker]
        return {"whole_mb": rss_bytes(procs) / MB, "bot_mb": rss_bytes(bot_only) / MB,
                "worker_mb": rss_bytes(worker) / MB, "worker_found": bool(worker),
                "seconds_waited": wait - max(0.0, deadline - time.monotonic())}


def is_worker(proc: Any) -> bool:
    """The summariser worker: `python -m bot.cli worker`."""
    try:
        return proc.cmdline()[-1:] == ["worker"]
    except Exception:  # gone, or not ours to read
        return False


def _by_round(phases: list[Phase], value: str) -> tuple[float, ...]:
    return tuple(float(getattr(p, value)) for p in phases)


def measures(result: SideBySide) -> list[Measure]:
    """Desk, echo and their ratio for every load, paired per round."""
    out: list[Measure] = []
    desk, echo = result.phases["desk"], result.phases["echo"]
    burst_d, burst_e = desk["burst"], echo["burst"]
    pairs = [("burst throughput", "rate", "updates/s", "burst"),
             ("CPU per update (burst)", "cpu_per_update_ms", "ms", "burst")]
    pairs += [(f"p95 latency, {name}", "p95_ms", "ms", name)
              for name in desk if name.startswith("paced")]
    pairs += [(f"CPU per update ({name})", "cpu_per_update_ms", "ms", name)
              for name in desk if name.startswith("paced")]
    for label, value, unit, name in pairs:
        d = Measure(f"desk: {label}", unit, _by_round(desk[name], value))
        e = Measure(f"echo: {label}", unit, _by_round(echo[name], value))
        out += [d, e, paired_ratio(f"ratio desk/echo: {label}", d, e)]
    rss_d = Measure("desk: RSS of the bot tree (bot + redis), peak", "MB",
                    tuple(p.rss / MB for p in burst_d))
    rss_e = Measure("echo: RSS of the bot process, peak", "MB",
                    tuple(p.rss / MB for p in burst_e))
    out += [rss_d, rss_e, paired_ratio("ratio desk/echo: RSS", rss_d, rss_e)]
    out.append(Measure("desk: messages per ordinary answer (burst)", "msgs",
                       _by_round(burst_d, "messages_per_answer")))
    out.append(Measure("desk: messages per question, all dev questions", "msgs",
                       (result.messages_per_question,),
                       f"{result.calibration_questions} ordinary + urgent ones"))
    return out


def ordering(result: SideBySide) -> dict[str, Any]:
    """Whether every chat of every load got its answers, in the order asked."""
    out: dict[str, Any] = {}
    for kind, loads in result.phases.items():
        phases = [p for ps in loads.values() for p in ps]
        out[kind] = {
            "ok": all(p.in_order and p.answered == p.asked for p in phases),
            "questions_asked": sum(p.asked for p in phases),
            "questions_answered": sum(p.answered for p in phases),
            "chats_out_of_order": sum(len(p.out_of_order_chats) for p in phases),
        }
    return out
