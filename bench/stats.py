"""Repeated samples of one measurement, summarised as median, min and max."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """One benchmark number, measured `len(samples)` times."""

    name: str
    unit: str
    samples: tuple[float, ...]
    note: str = ""

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        """The smallest sample."""
        return min(self.samples)

    @property
    def high(self) -> float:
        """The largest sample."""
        return max(self.samples)

    def as_json(self) -> dict[str, object]:
        """The measure as it goes into the results file."""
        return {"name": self.name, "unit": self.unit, "median": self.median, "min": self.low,
                "max": self.high, "n": len(self.samples), "samples": list(self.samples),
                "note": self.note}


def paired_ratio(name: str, numerator: Measure, denominator: Measure) -> Measure:
    """Ratio per repeat of two measures taken side by side in the same repeats."""
    assert len(numerator.samples) == len(denominator.samples)
    samples = tuple(a / b for a, b in zip(numerator.samples, denominator.samples, strict=True))
    return Measure(name, "x", samples, "paired per repeat")


def percentile(values: Sequence[float], pct: int) -> float:
    """The pct-th percentile (inclusive method) of at least one value."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
