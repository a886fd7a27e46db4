"""Triage alone: questions per second over the dev set, and the one-off load time."""

from __future__ import annotations

import json
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from bench.stats import Measure, paired_ratio
from knowledge.base import load_knowledge
from knowledge.triage import Triage

DEV_SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "triage_dev.jsonl"
WARM_UP = 32  # first calls fill caches (stems, spelling corrections)


def dev_questions() -> list[tuple[str, str | None]]:
    """(text, language) of every question in the triage dev set."""
    with DEV_SET.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [(row["text"], row.get("lang")) for row in rows]


def questions_per_second(triage: Triage, questions: list[tuple[str, str | None]],
                         repeat: int) -> Measure:
    """Full triage of every dev question, one pass per repeat, after a warm-up pass."""
    for text, lang in questions[:WARM_UP]:
        triage.triage(text, lang)
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for text, lang in questions:
            triage.triage(text, lang)
        rates.append(len(questions) / (time.perf_counter() - start))
    return Measure("triage: questions/s", "q/s", tuple(rates),
                   f"{len(questions)} dev questions, warmed up, one thread of Python")


def _load_seconds(threads: int | None) -> float:
    """Knowledge files plus Triage (BM25 indexes, language detector, trained model)."""
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        Triage(load_knowledge())
        return time.perf_counter() - start


def load_time(repeat: int) -> list[Measure]:
    """Load time as shipped, and with BLAS/OpenMP held to one thread, alternating."""
    default: list[float] = []
    single: list[float] = []
    for i in range(repeat):
        if i % 2 == 0:
            default.append(_load_seconds(None))
            single.append(_load_seconds(1))
        else:
            single.append(_load_seconds(1))
            default.append(_load_seconds(None))
    shipped = Measure("triage: load (as shipped)", "s", tuple(default),
                      "load_knowledge() + Triage(kb)")
    one = Measure("triage: load (BLAS/OpenMP 1 thread)", "s", tuple(single),
                  "same, under threadpoolctl.threadpool_limits(1)")
    return [shipped, one, paired_ratio("ratio: load as shipped / 1 thread", shipped, one)]
