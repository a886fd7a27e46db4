"""The printed table and the JSON results file of a benchmark run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import Measure

RESULTS = Path(__file__).resolve().parent / "results.json"
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


def goals_table(goals: list[dict[str, Any]]) -> str:
    """Each goal with its measured figure and a verdict."""
    width = max(len(g["goal"]) for g in goals)
    lines = [f"{'goal':<{width}}  {'measured':>10}  {'target':>8}  verdict"]
    lines.append("-" * len(lines[0]))
    for g in goals:
        value = g["measured"]
        shown = "n/a" if value is None else _number(float(value))
        verdict = {True: "met", False: "MISSED", None: ""}[g["met"]]
        lines.append(f"{g['goal']:<{width}}  {shown:>10}  {g['target']:>8}  {verdict}")
    return "\n".join(lines)


def write_results(path: Path, results: dict[str, Any]) -> Path:
    """Write the results file (the latest run; the README quotes it)."""
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
