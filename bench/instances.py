"""One desk instance against two behind a round-robin front (issue 22), side by side.

Both set-ups run in multi-instance mode on the same parts (a Redis server by URL, a
PostgreSQL database, the sandbox Telegram in its own process posting to the webhook through
the front; tests/instances_harness.py), each with a fresh Redis and database. A burst of
numbered questions is sent as fast as the sandbox takes them; the figure is answered
questions per second, first question sent to last answer landed.

On one 2-core machine the second instance cannot double the rate: both instances, Redis,
PostgreSQL, the sandbox (posting over 8 connections, each chat in order) and the front share
the same two cores, and in multi-instance mode a question costs a desk more (leases, the
shared send limit in Redis). A second machine buys availability first (a kill or a redeploy
loses no answers); the throughput it adds is what its own cores add.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import Measure
from bot.redis_server import EmbeddedRedis

BURST_RATE = 2000.0  # questions per second asked of the sandbox: as fast as it takes them


@dataclass(frozen=True)
class InstancesLoad:
    """How much one comparison asks."""

    chats: int
    per_chat: int
    rounds: int


FULL_INSTANCES = InstancesLoad(100, 10, 2)
QUICK_INSTANCES = InstancesLoad(50, 5, 1)


async def _one(workdir: Path, cluster: Any, names: tuple[str, ...], load: InstancesLoad,
               tag: str) -> dict[str, Any]:
    from tests.instances_harness import Desks, RedisAddress
    from tests.postgres import fresh_database
    from tests.soak_load import Plan, analyse, calibrate, drive, wait_answered

    base = workdir / tag
    server = EmbeddedRedis(base / "redis")
    server.start()
    try:
        database_url = await fresh_database(cluster, f"vb_bench_{tag}")
        async with Desks.start(base, database_url, RedisAddress(url=server.url), names,
                               with_worker=False) as desks:
            plan = Plan.make(await calibrate(desks, load.per_chat), load.chats, load.per_chat)
            cpu_before = desks.cpu_seconds()
            started = time.time()
            run = await drive(desks, plan, BURST_RATE, [])
            await wait_answered(desks, run, timeout=300)
            cpu_after = desks.cpu_seconds()
            records = await desks.records(run.first_record)
            figures = analyse(run, records)
            last = max(r["t"] for r in records if r["key"])
            figures["rate"] = plan.total / (last - started)
            desk_cpu = sum(cpu_after[n] - cpu_before.get(n, 0.0) for n in cpu_after
                           if n.startswith("instance"))
            figures["desk_cpu_ms"] = 1000 * desk_cpu / plan.total
            figures["cpu_share"] = desk_cpu / (last - started)  # cores the desks used
            return figures
    finally:
        server.stop()


async def compare(workdir: Path, load: InstancesLoad) -> list[Measure]:
    """Rounds alternating one and two instances; their rates and the ratio."""
    from tests.postgres import PostgresCluster, _bindir

    bindir = _bindir()
    if bindir is None:
        print("instances: skipped, PostgreSQL is not installed (`make postgres`)")
        return []
    cluster = PostgresCluster(bindir)
    cluster.start()
    try:
        one: list[float] = []
        two: list[float] = []
        cpu: dict[int, list[float]] = {1: [], 2: []}
        cores: dict[int, list[float]] = {1: [], 2: []}
        disorder = 0
        for r in range(load.rounds):
            for names, rates in ((("a",), one), (("a", "b"), two)):
                figures = await _one(workdir, cluster, names, load, f"{len(names)}x{r}")
                rates.append(figures["rate"])
                cpu[len(names)].append(figures["desk_cpu_ms"])
                cores[len(names)].append(figures["cpu_share"])
                disorder += len(figures["out_of_order_chats"]) + len(figures["unanswered_chats"])
    finally:
        await asyncio.to_thread(cluster.stop)
    note = f"{load.chats} chats x {load.per_chat} questions; chats out of order or " \
           f"unanswered: {disorder}"
    ratio = tuple(b / a for a, b in zip(one, two, strict=True))
    return [Measure("instances: one desk, answered questions/s", "q/s", tuple(one), note),
            Measure("instances: two desks behind the front, answered questions/s", "q/s",
                    tuple(two), note),
            Measure("instances: ratio two / one", "x", ratio,
                    "2 cores shared by both desks, Redis, PostgreSQL, sandbox and front"),
            *(Measure(f"instances: {n} desk(s), desk CPU per question", "ms", tuple(cpu[n]),
                      f"cores the desks kept busy: "
                      f"{', '.join(f'{c:.2f}' for c in cores[n])}") for n in (1, 2))]


def main() -> None:
    """`python -m bench.instances [--quick]`: only this comparison, printed."""
    import sys
    import tempfile

    from bench.report import table

    load = QUICK_INSTANCES if "--quick" in sys.argv else FULL_INSTANCES
    with tempfile.TemporaryDirectory(prefix="vraagbaak-bench-") as tmp:
        found = asyncio.run(compare(Path(tmp), load))
    if found:
        print(table(found))
        print(f"two instances answer {found[2].median:.2f}x as many questions per second as "
              "one (on 2 cores expect <= 1.5x: see bench/instances.py)")


if __name__ == "__main__":
    main()
