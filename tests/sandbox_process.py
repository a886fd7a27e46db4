"""The sandbox Telegram as a process of its own, for tests that run `vraagbaak run` or `demo`
as separate processes (so "Telegram" outlives the bot)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

TOKEN = "7000000001:sandbox-kill-test-token-abcdefghijkl"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_process() -> Iterator[str]:
    """`vraagbaak sandbox` on a free port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port),
                             "--token", TOKEN], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert "sandbox Telegram" in proc.stdout.readline()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
