"""The printed table and the JSON results file of a benchmark run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import Measure

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_COLUMNS = ("benchmark", "median", "min", "max", "n", "unit")


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(measures: list[Measure]) -> str:
    """Median, min and max of every measure, one per line."""
    width = max(len(m.name) for m in measures)
    lines = [f"{_COLUMNS[0]:<{width}}  {_COLUMNS[1]:>9}  {_COLUMNS[2]:>9}  {_COLUMNS[3]:>9}  "
             f"{_COLUMNS[4]:>2}  {_COLUMNS[5]}"]
    lines.append("-" * len(lines[0]))
    for m in measures:
        lines.append(f"{m.name:<{width}}  {_number(m.median):>9}  {_number(m.low):>9}  "
                     f"{_number(m.high):>9}  {len(m.samples):>2}  {m.unit}")
    return "\n".join(lines)


def write_results(stamp: str, results: dict[str, Any]) -> Path:
    """Write bench/results/<stamp>.json and return its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
