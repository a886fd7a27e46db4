"""`python -m bench.trend_noise`: rounding to multiples of 5 against calibrated Laplace noise for
the trends page, on a small desk's volumes (about twenty questions a week over four topics).

Noise that cannot be averaged away must be fixed per released cell. The trends page releases the
same question in many cells (four tables, every role and language filter, every period, own
dates), so either each cell gets a share of the budget, or the noise is drawn once per atom
(week × topic × role × language × urgent) and every figure is a sum of noisy atoms (then the
budget holds whatever is asked, but the noise adds up). Both are measured here, against rounding.
"""

from __future__ import annotations

import math

import numpy as np

WEEKLY = 20
SHARES = (0.4, 0.3, 0.2, 0.1)  # four topics, as a small desk sees them
WEEKS = 52
ATOMS_PER_WEEK_CELL = 2 * 2 * 2  # roles × languages × urgent, under one week and one topic
RELEASES = 4 * 4 * 4  # periods × filter pairs (role all/own × language all/own) × tables
TRIALS = 2000


def rounded(true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shown value (NaN for '< 5') as the page shows it."""
    shown = np.where(true >= 5, 5 * np.round(true / 5), np.where(true == 0, 0, np.nan))
    return shown, np.isnan(shown)


def laplace_sd(epsilon: float, atoms: int = 1) -> float:
    """Standard deviation of a sum of `atoms` Laplace(1/epsilon) draws (sensitivity 1)."""
    return math.sqrt(atoms) * math.sqrt(2) / epsilon


def noise_error(rng: np.random.Generator, epsilon: float, atoms: int) -> float:
    """Mean absolute error of a figure that sums `atoms` cells, each with its own fixed
    Laplace(1/epsilon) noise (drawn, not approximated)."""
    return float(np.abs(rng.laplace(0, 1 / epsilon, size=(TRIALS, atoms)).sum(axis=1)).mean())


def report() -> None:
    rng = np.random.default_rng(21)
    rows = []
    for step, weeks in (("week", 1), ("month", 52 / 12), ("quarter", 13)):
        means = np.array(SHARES) * WEEKLY * weeks
        true = rng.poisson(means, size=(TRIALS, len(SHARES)))
        shown, hidden = rounded(true)
        err = np.abs(shown - true)[~hidden]
        rows.append((step, f"{means.min():.0f}-{means.max():.0f}",
                     f"{100 * hidden.mean():.0f}%", f"{err.mean():.1f}", f"{err.max():.0f}",
                     *(f"{noise_error(rng, eps, round(ATOMS_PER_WEEK_CELL * weeks)):.1f}"
                       for eps in (1.0, 0.5)),
                     f"{noise_error(rng, 1.0 / RELEASES, 1):.0f}"))
    head = ("step", "mean per cell", "rounding: '< 5'", "rounding: mean |err|",
            "rounding: max |err|", "atoms, ε=1: mean |err|", "atoms, ε=0.5: mean |err|",
            "per cell, ε=1 total: mean |err|")
    print(" | ".join(head))
    for row in rows:
        print(" | ".join(row))
    year_atoms = WEEKS * len(SHARES) * ATOMS_PER_WEEK_CELL
    print(f"\nA year's total ({WEEKLY * WEEKS} questions) from noisy atoms, ε=1: "
          f"sd {laplace_sd(1.0, year_atoms):.0f}; rounded: off by at most 2.")
    # What rounding gives away: the chance that one question more changes a shown figure.
    counts = np.arange(5, 200)
    flips = np.mean(rounded(counts)[0] != rounded(counts + 1)[0])
    print(f"One question more changes a rounded figure (>= 5) in {100 * flips:.0f}% of counts; "
          "Laplace at ε=1 bounds any such change to a factor e = 2.7 in likelihood.")


if __name__ == "__main__":
    report()
