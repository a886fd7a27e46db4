"""The triage this test run trained once (tests/conftest.py), handed to the desks that tests
start as separate processes on empty data directories, as a desk that ran there before would
have left it: they answer at once instead of training again while the test waits."""

from __future__ import annotations

from pathlib import Path

from knowledge import snapshot

# Under pytest's own cache directory: ignored by git, kept between runs in one checkout.
TRIAGE_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "vraagbaak-triage"


def seed(data_dir: Path) -> None:
    """Copy the run's trained snapshot into `data_dir`'s cache (the desk still checks that it
    matches its knowledge, and trains anew if not)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, as the desk makes it
    snapshot.copy_all(TRIAGE_CACHE, data_dir / "cache")
