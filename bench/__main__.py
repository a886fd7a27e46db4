"""`python -m bench`: run the benchmarks, print a table, write bench/results/<timestamp>.json.

All traffic stays on 127.0.0.1; every wait has a time limit. The machine is shared and noisy,
so each number is repeated and the ratios between numbers measured side by side matter more
than any absolute value.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from typing import Any

from bench import desk, transport, triage
from bench.report import table, write_results
from bench.stats import Measure, median_ratio
from bot.logs import setup_logging


@dataclass(frozen=True)
class Sizes:
    """How much work one repeat does."""

    calls: int
    users: int
    question_step: int  # every n-th dev-set question is used
    load_time: bool


FULL = Sizes(calls=2000, users=50, question_step=1, load_time=True)
# The quick run skips the separate triage load timing: the desk start below is mostly that.
QUICK = Sizes(calls=500, users=20, question_step=2, load_time=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller bursts and no separate triage load timing (~40 s)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="repeats of every measurement (default 3)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


async def desk_and_triage(sizes: Sizes, repeat: int) -> tuple[list[Measure], desk.DeskResults]:
    """Triage speed on the desk's own Triage, then the end-to-end bursts on the same desk."""
    questions = triage.dev_questions()[::sizes.question_step]
    async with desk.ready_desk() as ready:
        started = Measure("desk: start (knowledge, triage model, Redis)", "s",
                          (ready.start_seconds,), "once per run")
        rate = triage.questions_per_second(ready.desk.triage, questions, repeat)
        results = await desk.throughput(ready, sizes.users, repeat, questions)
    ceiling = median_ratio("ratio: desk updates/s / triage questions/s",
                           results.measures[0], rate)
    return [*results.measures, started, rate, ceiling], results


def ordering_line(ordering: dict[str, Any]) -> str:
    """The per-chat ordering check in one line."""
    verdict = "OK" if ordering["ok"] else "FAILED"
    return (f"per-chat ordering: {verdict}: {ordering['users_in_order']}/"
            f"{ordering['users_checked']} users got their answers in the order asked; "
            f"{ordering['questions_answered']}/{ordering['questions_asked']} questions "
            f"answered over {ordering['rounds']} bursts")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python-telegram-bot": version("python-telegram-bot"),
        "httpx": version("httpx"),
        "aiohttp": version("aiohttp"),
    }


def main(argv: list[str] | None = None) -> int:
    """Run everything once; exit 1 if the ordering check fails."""
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    setup_logging("WARNING")
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    before = machine()
    began = time.monotonic()

    print(f"transport: {args.repeat} x {sizes.calls} sendMessage per transport ...", flush=True)
    with transport.sandbox_process() as sandbox:
        measures = asyncio.run(transport.measure(sandbox, sizes.calls, args.repeat))
    print(f"desk: {args.repeat} bursts of {sizes.users} users x {desk.PER_USER} questions ...",
          flush=True)
    desk_measures, desk_results = asyncio.run(desk_and_triage(sizes, args.repeat))
    measures += desk_measures
    if sizes.load_time:
        print(f"triage load: {args.repeat} x 2 loads ...", flush=True)
        measures += triage.load_time(args.repeat)
    elapsed = time.monotonic() - began

    print()
    print(table(measures))
    print()
    print(ordering_line(desk_results.ordering))
    path = write_results(stamp, {
        "started": stamp,
        "command": [sys.executable, "-m", "bench", *(argv if argv is not None else sys.argv[1:])],
        "quick": args.quick,
        "repeat": args.repeat,
        "sizes": {"calls": sizes.calls, "users": sizes.users,
                  "questions_per_user": desk.PER_USER, "question_step": sizes.question_step,
                  "concurrency": transport.POOL_SIZE},
        "seconds": elapsed,
        "machine": before,
        "loadavg_after": os.getloadavg(),
        "measures": [m.as_json() for m in measures],
        "ordering": desk_results.ordering,
        "desk_settings": desk_results.settings,
    })
    print(f"{elapsed:.0f} s; results in {path}")
    return 0 if desk_results.ok else 1


if __name__ == "__main__":
    sys.exit(main())
