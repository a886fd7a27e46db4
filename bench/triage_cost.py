"""`python -m bench.triage_cost`: what triage costs in one process, measured with perf_counter.

Start-up (imports, knowledge files, Triage()), the first call, then every dev-set question
once: median and p95 per message. One pass, so caches only help where a word repeats."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

DEV_SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "triage_dev.jsonl"


def main() -> None:
    """Print one line of figures."""
    started = time.perf_counter()
    from knowledge.base import load_knowledge
    from knowledge.triage import Triage

    imported = time.perf_counter()
    kb = load_knowledge()
    loaded = time.perf_counter()
    triage = Triage(kb)
    built = time.perf_counter()
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    begin = time.perf_counter()
    triage.triage(rows[0]["text"], rows[0].get("lang"))
    first = time.perf_counter() - begin
    times = []
    for row in rows[1:]:
        begin = time.perf_counter()
        triage.triage(row["text"], row.get("lang"))
        times.append(time.perf_counter() - begin)
    times.sort()
    print(f"imports {imported - started:.2f} s, knowledge {loaded - imported:.2f} s, "
          f"Triage() {built - loaded:.2f} s, first call {first * 1000:.1f} ms, "
          f"per message median {statistics.median(times) * 1000:.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms ({len(times)} messages)")


if __name__ == "__main__":
    main()
