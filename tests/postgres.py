"""A throwaway PostgreSQL cluster in a temp dir for the tests (Debian's `postgresql` package).

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user. Where
the binaries or that user are missing the PostgreSQL variants skip, saying why."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SKIP_REASON = ""


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    if owner is None:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser to drop to the postgres user")
    return [runuser, "-u", owner, "--", *command]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """initdb + pg_ctl start/stop of a cluster under a temp dir, trust auth on localhost."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.owner: str | None = None
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")  # KeyError: no such user
            self.owner = "postgres"
        self.dir = Path(tempfile.mkdtemp(prefix="vb-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> None:
        subprocess.run(_as_owner([str(self.bindir / args[0]), *args[1:]], self.owner),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy asyncpg URL."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One cluster per test process; skips with the reason when it cannot run here."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (`make postgres` installs it as root)")
    try:
        cluster = PostgresCluster(bindir)
        cluster.start()
    except (KeyError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"cannot start a throwaway PostgreSQL: {exc} {detail.decode()[-300:]}")
    yield cluster
    cluster.stop()


async def fresh_database(cluster: PostgresCluster, name: str) -> str:
    """Create an empty database; its URL."""
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                                 database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return cluster.url(name)
