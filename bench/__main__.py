"""`python -m bench`: the desk side by side with a bare PTB echo bot; a table and results.json.

All traffic stays on 127.0.0.1; every wait has a time limit. The machine is shared and noisy,
so loads alternate between the two bots and the ratios between numbers measured side by side
matter more than any absolute value.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import claim, transport, triage
from bench.compare import workspace
from bench.flood import (
    FULL_FLOOD,
    QUICK_FLOOD,
    TINY_FLOOD,
    FloodLoad,
    flood_measures,
    flood_rounds,
)
from bench.instances import FULL_INSTANCES, QUICK_INSTANCES, InstancesLoad, compare
from bench.newcomers import (
    FULL_NEWCOMERS,
    QUICK_NEWCOMERS,
    TINY_NEWCOMERS,
    NewcomerLoad,
    newcomer_measures,
    newcomer_rounds,
)
from bench.report import RESULTS, goals_table, table, write_results
from bench.sidebyside import (
    FULL_LOAD,
    QUICK_LOAD,
    TINY_LOAD,
    Load,
    measures,
    ordering,
    side_by_side,
    whole_desk_rss,
)
from bench.stats import Measure
from bot.logs import setup_logging
from bot.runtime import knowledge


@dataclass(frozen=True)
class Plan:
    """Everything one run does."""

    load: Load
    claim_big: int
    claim_small: int
    claims: int
    flood: FloodLoad | None
    newcomers: NewcomerLoad | None = None
    instances: InstancesLoad | None = None  # one desk instance against two (issue 22)


FULL = Plan(FULL_LOAD, 100_000, 100, 50, FULL_FLOOD, FULL_NEWCOMERS, FULL_INSTANCES)
QUICK = Plan(QUICK_LOAD, 10_000, 100, 20, QUICK_FLOOD, QUICK_NEWCOMERS, QUICK_INSTANCES)
# the test's: the machinery, not a measurement
TINY = Plan(TINY_LOAD, 200, 20, 1, TINY_FLOOD, TINY_NEWCOMERS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller loads, 10,000 tickets, no worker run (a smoke run)")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="alternating rounds of every load (default 2, quick 1)")
    parser.add_argument("--extra", action="store_true",
                        help="also the in-process benchmarks: transport, triage alone")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the results file")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "loadavg": os.getloadavg(),
        "python-telegram-bot": version("python-telegram-bot"),
        "aiohttp": version("aiohttp"),
        "redis": version("redis"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def goals(by_name: dict[str, Measure], order: dict[str, Any], plan: Plan,
          whole: dict[str, float] | None) -> list[dict[str, Any]]:
    """The issue's goals, each with the measured figure and whether it is met."""
    def median(name: str) -> float | None:
        return by_name[name].median if name in by_name else None

    rates = plan.load.paced_rates
    top = f"p95 latency, paced {max(rates)}/s"
    rows = [
        ("burst throughput >= 1.0x echo", median("ratio desk/echo: burst throughput"),
         ">=", 1.0, "x"),
        ("CPU per update <= 1.5x echo", median("ratio desk/echo: CPU per update (burst)"),
         "<=", 1.5, "x"),
        (f"paced {max(rates)}/s p95 < 100 ms", median(f"desk: {top}"), "<", 100.0, "ms"),
        ("bot tree (no worker) <= 250 MB",
         by_name["desk: RSS of the bot tree (bot + redis), peak"].high, "<=", 250.0, "MB"),
        ("every chat's answers in order", float(order["desk"]["ok"]), "==", 1.0, "bool"),
        ("one message per ordinary answer",
         median("desk: messages per ordinary answer (burst)"), "==", 1.0, "msgs"),
        ("others' p95 during a 50 msgs/s flood <= 2x normal",
         median("flood: ratio others' p95 flooded / normal"), "<=", 2.0, "x"),
        ("bystanders' p95 during 300 newcomers' /start in a second < 1000 ms",
         median("newcomers: bystanders' p95, 300 newcomers /start within a second"),
         "<", 1000.0, "ms"),
        (f"claim with {plan.claim_big:,} waiting <= 1.5x with {plan.claim_small:,}",
         median(f"ratio: claim {plan.claim_big:,} / {plan.claim_small:,} waiting"),
         "<=", 1.5, "x"),
    ]
    if whole is not None:
        rows.append(("whole desk with worker (reported)", whole["whole_mb"], "info", 0.0, "MB"))
    if "instances: ratio two / one" in by_name:
        rows.append(("two instances / one, answered q/s (2 cores: expect <= 1.5x; reported)",
                     median("instances: ratio two / one"), "info", 0.0, "x"))
    checks = {">=": float.__ge__, "<=": float.__le__, "<": float.__lt__, "==": float.__eq__}
    out = []
    for goal, value, op, target, unit in rows:
        met = None if value is None or op == "info" else checks[op](float(value), target)
        out.append({"goal": goal, "measured": value, "target": f"{op} {target:g}",
                    "unit": unit, "met": met})
    return out


async def run(plan: Plan, texts: list[str]) -> tuple[Any, dict[str, float] | None,
                                                     list[Measure]]:
    """The side-by-side loads, the worker run and the claim latencies."""
    with workspace() as tmp:
        result = await side_by_side(plan.load, Path(tmp), texts)
        flooded = (flood_measures(await flood_rounds(Path(tmp), texts, plan.flood))
                   if plan.flood else [])
        if plan.newcomers:
            flooded += newcomer_measures(
                await newcomer_rounds(Path(tmp), texts, plan.newcomers))
        whole = (await whole_desk_rss(Path(tmp), plan.load.worker_wait)
                 if plan.load.worker_wait else None)
        if plan.instances:
            flooded += await compare(Path(tmp), plan.instances)
    claims = await claim.measure(plan.claim_big, plan.claim_small, plan.claims)
    return result, whole, flooded + claims


def main(argv: list[str] | None = None) -> int:
    """Run once; exit 1 if some chat lost an answer or got them out of order."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = replace(plan, load=replace(plan.load, rounds=args.rounds))
    setup_logging("WARNING")
    command = [sys.executable, "-m", "bench", *(argv if argv is not None else sys.argv[1:])]
    results = bench(plan, args.output, args.extra, command)
    return 0 if all(v["ok"] for v in results["ordering"].values()) else 1


def bench(plan: Plan, output: Path, extra: bool, command: list[str]) -> dict[str, Any]:
    """Measure, print the tables, write the results file and return what it holds."""
    started = datetime.now(UTC)
    before = machine()
    began = time.monotonic()
    load = plan.load
    print(f"desk vs echo bot: {load.rounds} round(s) of a burst of "
          f"{load.burst_chats * load.burst_per_chat} questions from {load.burst_chats} chats and "
          f"paced loads at {', '.join(map(str, load.paced_rates))}/s; a rush of "
          f"{load.rush_professionals}; claim_next with {plan.claim_small:,} and "
          f"{plan.claim_big:,} waiting ...", flush=True)
    texts = [text for text, _ in triage.dev_questions()]
    result, whole, claims = asyncio.run(run(plan, texts))
    found = measures(result) + claims
    if extra:
        found += extra_measures(3)
    order = ordering(result)
    by_name = {m.name: m for m in found}
    met = goals(by_name, order, plan, whole)
    elapsed = time.monotonic() - began

    print()
    print(table(found))
    print()
    print(goals_table(met))
    print()
    for kind, verdict in order.items():
        print(f"{kind}: {verdict['questions_answered']}/{verdict['questions_asked']} answered, "
              f"{verdict['chats_out_of_order']} chats out of order")
    if result.rush is not None:
        print(f"rush: {result.rush.as_json()}")
    if whole is not None:
        print(f"with the summariser worker: {whole}")
    if "instances: ratio two / one" in by_name:
        one, two = (by_name[f"instances: {n}"].median for n in (
            "one desk, answered questions/s", "two desks behind the front, answered questions/s"))
        print(f"instances: one {one:.0f} q/s, two {two:.0f} q/s: "
              f"{by_name['instances: ratio two / one'].median:.2f}x (on 2 cores expect <= 1.5x: "
              "both desks share the same cores with Redis, PostgreSQL, the sandbox and the front)")
    results = {
        "started": started.isoformat(timespec="seconds"),
        "command": command,
        "load": load.__dict__,
        "claim": {"big": plan.claim_big, "small": plan.claim_small, "claims": plan.claims},
        "seconds": elapsed,
        "machine": before,
        "loadavg_after": os.getloadavg(),
        "measures": [m.as_json() for m in found],
        "goals": met,
        "ordering": order,
        "rush": result.rush.as_json() if result.rush else None,
        "whole_desk": whole,
        "calibration": {"questions": result.calibration_questions,
                        "distinct_answers": result.distinct_answers},
    }
    write_results(output, results)
    print(f"{elapsed:.0f} s; results in {output}")
    return results


def extra_measures(repeat: int) -> list[Measure]:
    """The in-process benchmarks: transport against transport, triage alone."""
    with transport.sandbox_process() as sandbox:
        found = asyncio.run(transport.measure(sandbox, 2000, repeat))
    _, model = knowledge()
    found.append(triage.questions_per_second(model, triage.dev_questions(), repeat))
    return found + triage.load_time(repeat)


if __name__ == "__main__":
    sys.exit(main())
