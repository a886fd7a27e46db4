"""The bot's triage without sklearn: importing the runtime, loading the cached snapshot and a
first start that trains in a child process all leave sklearn and scipy out of the process."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import bot.runtime as runtime

ACUTE = "hij zegt dat hij morgen naar syrie vertrekt, ticket al geboekt"

# Run in a fresh interpreter: this test process has imported sklearn for other tests.
_LOAD = """
import json, logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
from bot.runtime import load_knowledge_now
kb, triage = load_knowledge_now(Path(sys.argv[1]))
result = triage.triage(sys.argv[2], "nl")
print(json.dumps({"urgent": result.urgent, "top": result.top.value,
                  "snippets": len(result.snippets),
                  "imported": sorted(m for m in ("sklearn", "scipy") if m in sys.modules)}))
"""


def _training_children(pid: int) -> list[psutil.Process]:
    """The process's children that run the training (once they have exec'd it)."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if "knowledge.training" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def _running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (whoever inherits an orphan may be slow to reap it)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _fresh(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=280, check=True)


@pytest.mark.timeout(120)
def test_importing_the_runtime_and_triage_leaves_sklearn_out() -> None:
    done = _fresh("import sys, bot.runtime, knowledge.triage, knowledge.snapshot; "
                  "print([m for m in ('sklearn', 'scipy') if m in sys.modules])")
    assert done.stdout.strip() == "[]"


@pytest.mark.timeout(300)
def test_the_bot_trains_in_a_child_and_then_loads_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / "triage-0123456789abcdef01234567.pickle"
    stale.write_bytes(b"an old version's cache")
    first = _fresh(_LOAD, str(cache), ACUTE)
    assert "triage trained in a child process" in first.stderr
    out = json.loads(first.stdout)
    assert out == {"urgent": True, "top": out["top"], "snippets": 6, "imported": []}
    written = list(cache.iterdir())
    assert [p.name for p in written] == [f"triage-{runtime._knowledge_key()}.pickle"]
    assert stat.S_IMODE(written[0].stat().st_mode) == 0o600
    second = _fresh(_LOAD, str(cache), ACUTE)
    assert "loaded from the cache" in second.stderr
    assert "trained" not in second.stderr
    assert json.loads(second.stdout) == out


@pytest.mark.timeout(300)
def test_a_damaged_cache_is_trained_anew(tmp_path: Path) -> None:
    path = tmp_path / f"triage-{runtime._knowledge_key()}.pickle"
    path.write_bytes(b"\x80\x05 not a pickle")
    done = _fresh(_LOAD, str(tmp_path), ACUTE)
    assert "ignoring the triage cache (UnpicklingError)" in done.stderr
    assert "triage trained in a child process" in done.stderr
    assert json.loads(done.stdout)["imported"] == []


@pytest.mark.timeout(120)
def test_a_killed_bot_takes_its_training_child_with_it(tmp_path: Path) -> None:
    bot = subprocess.Popen([sys.executable, "-c", _LOAD, str(tmp_path), ACUTE],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (children := _training_children(bot.pid)):
            assert time.monotonic() < deadline and bot.poll() is None, "no training child"
            time.sleep(0.02)
        bot.kill()
        bot.wait()
        # SIGTERM ends it at once; left alone it would train for seconds more.
        deadline = time.monotonic() + 1.5
        while running := [c for c in children if _running(c)]:
            assert time.monotonic() < deadline, running
            time.sleep(0.02)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()


@pytest.mark.timeout(60)
def test_training_that_overruns_its_time_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "TRAINING_TIMEOUT", 0.05)
    with pytest.raises(RuntimeError, match=r"training the triage took over 0\.05 s"):
        runtime.load_knowledge_now(tmp_path)
    assert not list(tmp_path.glob("triage-*"))


def test_the_ranker_trained_in_groups_on_threads_equals_one_vs_rest_over_all() -> None:
    """The snippet ranker trains its classes in groups on parallel threads, each group
    against one REST class standing for all the others: the same models as liblinear's
    one-vs-rest over every class (within the solver's tolerance)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.svm import LinearSVC

    from knowledge import training

    rng = np.random.default_rng(7)
    classes = [f"card-{i:02d}" for i in range(9)]
    labels = np.array([classes[i % 9] for i in range(270)], dtype=object)
    centres = sp.random(9, 400, density=0.05, random_state=3, format="csr")
    noise = sp.random(270, 400, density=0.02, random_state=5, format="csr")
    rows = sp.csr_matrix(centres[[i % 9 for i in range(270)]] + noise)
    rows.data += rng.random(rows.data.size) * 0.01
    # Practice cases train with a lower weight (training.CASE_WEIGHT): every third row here.
    weights = np.where(np.arange(270) % 3 == 0, training.CASE_WEIGHT, 1.0)
    for sample_weight in (None, weights):
        whole = LinearSVC(C=training.C_SNIPPETS, tol=1e-6, max_iter=20000).fit(
            rows, labels, sample_weight=sample_weight)
        for group in (classes[0::2], classes[1::2], classes[:2]):
            found, coef, intercept = training._fit_ranker_group(rows, labels, group,
                                                                sample_weight)
            assert found == group
            picked = [list(whole.classes_).index(c) for c in group]
            assert np.abs(coef - whole.coef_[picked]).max() < 1e-3
            assert np.abs(intercept - whole.intercept_[picked]).max() < 1e-3
    # The weights reach the solver: the weighted models differ from the unweighted ones.
    plain = training._fit_ranker_group(rows, labels, classes[:2])[1]
    assert np.abs(plain - training._fit_ranker_group(rows, labels, classes[:2], weights)[1]
                  ).max() > 1e-2
