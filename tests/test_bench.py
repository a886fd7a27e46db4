"""The benchmark's machinery on a tiny load: both bots, the rush, the claim timing, the file.

No timing is asserted (the machine is shared); only that a run produces a well-formed result.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from bench.__main__ import TINY, bench
from bench.compare import TRIAGE_SEED_ENV
from tests.trained import TRIAGE_CACHE


@pytest.mark.timeout(300)
def test_tiny_run_writes_a_well_formed_result(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The desks start from the run's trained snapshot, as a desk that ran before would: on a
    # busy machine a training per desk took this test past its timeout.
    monkeypatch.setenv(TRIAGE_SEED_ENV, str(TRIAGE_CACHE))
    output = tmp_path / "results.json"
    returned = bench(TINY, output, extra=False, command=[sys.executable, "-m", "bench"])
    results = json.loads(output.read_text(encoding="utf-8"))
    assert results == json.loads(json.dumps(returned))
    names = {m["name"] for m in results["measures"]}
    for label in ("burst throughput", "CPU per update (burst)", "p95 latency, paced 20/s"):
        assert {f"desk: {label}", f"echo: {label}", f"ratio desk/echo: {label}"} <= names
    assert "ratio: claim 200 / 20 waiting" in names
    for measure in results["measures"]:
        assert measure["samples"] and all(math.isfinite(v) and v >= 0
                                          for v in measure["samples"]), measure
    # Every question of every load was answered, in order, by both bots.
    for kind in ("desk", "echo"):
        verdict = results["ordering"][kind]
        assert verdict["questions_answered"] == verdict["questions_asked"] > 0
        assert verdict["ok"], verdict
    assert {g["goal"] for g in results["goals"]} >= {"every chat's answers in order",
                                                     "one message per ordinary answer"}
    rush = results["rush"]
    assert rush["answered"] == rush["professionals"] == TINY.load.rush_professionals
    assert rush["failures"] == []
    # The flood run: the flooder's surplus was not answered, every other chat was.
    flood = {m["name"]: m for m in results["measures"] if m["name"].startswith("flood:")}
    answered = flood["flood: flooder's messages answered"]
    assert answered["median"] <= 5 and "others unanswered 0" in answered["note"]
    # The newcomer rush: every newcomer welcomed, every bystander answered.
    rush_of = {m["name"]: m for m in results["measures"] if m["name"].startswith("newcomers:")}
    assert rush_of["newcomers: first /start to last welcome"]["note"] == "welcomed 20/20"
    assert rush_of["newcomers: bystanders' p95, 20 newcomers /start within a second"][
        "note"] == "bystanders unanswered 0"
