"""The SQL database: engine, Alembic migrations at start-up, sessions."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# The advisory lock key that serialises migrations across desk processes ("vbmigrat").
MIGRATION_LOCK = 0x76626D6967726174


def make_engine(url: str) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        if path.name != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private(path)
    return create_async_engine(url, pool_pre_ping=True)


def sqlite_path_exists(url: str) -> bool:
    """False only for a SQLite database whose file is not there yet (any other URL: True)."""
    if not url.startswith("sqlite"):
        return True
    path = url.split("///", 1)[1]
    return path == ":memory:" or Path(path).exists()


def _create_private(path: Path) -> None:
    # SQLite would create the file with the process umask; create it owner-only first.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision. On PostgreSQL, desk processes that
    start together take turns (a transaction-level advisory lock, released at the commit):
    the first upgrades, the others then find the schema current."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": MIGRATION_LOCK})
        await connection.run_sync(_upgrade)
