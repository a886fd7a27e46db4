"""The trained triage on disk: written by the training process, read by the bot.

It holds numpy arrays and plain Python only, so loading it never imports sklearn or scipy."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.triage import Triage

PATTERN = "triage-*.pickle"  # a desk's snapshots in its cache directory (named by bot.runtime)


def write(path: Path, kb: KnowledgeBase, triage: Triage) -> None:
    """Write the knowledge base and its trained triage, replacing `path` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            pickle.dump((kb, triage), handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read(path: Path) -> tuple[KnowledgeBase, Triage]:
    """The knowledge base and trained triage written to `path`."""
    # Our own file under the desk's private data directory (like the secret key): trusted.
    with path.open("rb") as handle:
        kb, triage = pickle.load(handle)
    if not isinstance(kb, KnowledgeBase) or not isinstance(triage, Triage):
        raise TypeError(f"{path.name} does not hold a knowledge base and its triage")
    return kb, triage


def copy_all(source: Path, target: Path) -> None:
    """Copy the snapshots in `source` into the cache directory `target` (made private),
    keeping any already there: a desk started on it answers without training first (it still
    checks that a snapshot matches its knowledge, and trains anew if not)."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for found in source.glob(PATTERN):
        copy = target / found.name
        if not copy.exists():
            shutil.copyfile(found, copy)
            copy.chmod(0o600)
