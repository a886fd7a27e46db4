"""The triage this test run trained once (tests/conftest.py), handed to the desks that tests
start as separate processes on empty data directories, as a desk that ran there before would
have left it: they answer at once instead of training again while the test waits."""

from __future__ import annotations

import shutil
from pathlib import Path

# Under pytest's own cache directory: ignored by git, kept between runs in one checkout.
TRIAGE_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "vraagbaak-triage"


def seed(data_dir: Path) -> None:
    """Copy the run's trained snapshot into `data_dir`'s cache (the desk still checks that it
    matches its knowledge, and trains anew if not)."""
    cache = data_dir / "cache"
    for folder in (data_dir, cache):  # private, as the desk makes them
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for snapshot in TRIAGE_CACHE.glob("triage-*.pickle"):
        shutil.copyfile(snapshot, cache / snapshot.name)
        (cache / snapshot.name).chmod(0o600)
