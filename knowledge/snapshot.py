"""The trained triage on disk: written by the training process, read by the bot.

It holds numpy arrays and plain Python only, so loading it never imports sklearn or scipy."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.triage import Triage


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
