"""`python -m bench.triage_cost`: what triage costs in one process, measured with perf_counter.

Start-up (imports, knowledge files, training, the snapshot the bot loads), the first call,
then every dev-set question once: median and p95 per message, and the mean of each step in
the order `Triage.triage` runs them. One pass, so caches only help where a word repeats."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

DEV_SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "triage_dev.jsonl"


def main() -> None:
    """Print two lines of figures."""
    started = time.perf_counter()
    from knowledge import snapshot
    from knowledge.base import load_knowledge
    from knowledge.features import Tokens
    from knowledge.triage import SNIPPETS, Triage

    imported = time.perf_counter()
    kb = load_knowledge()
    loaded = time.perf_counter()
    triage = Triage(kb)
    built = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "triage.pickle"
        snapshot.write(path, kb, triage)
        begin = time.perf_counter()
        snapshot.read(path)
        read = time.perf_counter() - begin
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
          f"Triage() {built - loaded:.2f} s, snapshot read {read:.2f} s, "
          f"first call {first * 1000:.1f} ms, "
          f"per message median {statistics.median(times) * 1000:.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms ({len(times)} messages)")
    steps: dict[str, float] = defaultdict(float)
    for row in rows[1:]:
        clock = time.perf_counter()

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            steps[step] += now - clock
            clock = now

        tokens = Tokens(row["text"])
        lang = triage.detect_language(tokens, row.get("lang"))
        lap("language")
        vector = triage.features.row(tokens)
        lap("features")
        topics = triage.rank(tokens, lang, vector)
        lap("topics (bm25 + model)")
        triage.ranker.rank(vector, dict(topics), None, SNIPPETS)
        lap("snippets")
        triage.urgency.is_urgent(tokens)
        lap("urgency")
    print("per message, mean: " + ", ".join(
        f"{step} {total / (len(rows) - 1) * 1000:.3f} ms" for step, total in steps.items()))


if __name__ == "__main__":
    main()
