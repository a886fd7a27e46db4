"""Files under DATA_DIR are private to the desk's user: 0700 directories, 0600 files."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Every file and directory the process (and its children) creates is owner-only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) owner-only; tighten it if an older run left it open."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def tighten(path: Path) -> None:
    """Make an existing file owner-only (files an older version created 0644)."""
    if path.exists():
        path.chmod(0o600)


def read_or_create_secret(path: Path) -> bytes:
    """A random key in `path`, created 0600 in one step so it is never readable by others.

    The key is written to a private temporary file first and then linked into place, so a
    second process either wins the race or reads the complete key, never an empty file.
    """
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            # If another process created it first, theirs is used.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    tighten(path)
    return path.read_text().strip().encode()


def write_private(path: Path, text: str) -> None:
    """Write `path` owner-only (created 0600, never readable by others in between)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
