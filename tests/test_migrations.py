"""Desk instances that start together on one fresh PostgreSQL database migrate it once,
without crashing (an advisory lock makes them take turns)."""

from __future__ import annotations

import asyncio

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from handoff.database import MIGRATIONS, make_engine, migrate
from tests.postgres import PostgresCluster, fresh_database


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


async def test_three_instances_migrate_a_fresh_database_at_once(
        postgres: PostgresCluster) -> None:
    url = await fresh_database(postgres, "vb_migrate_race")
    engines = [make_engine(url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(engine) for engine in engines))
        async with engines[0].connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))
                        ).scalars().all()
            tables = (await conn.execute(text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name = 'conversation_summary'"))).scalar_one()
        assert versions == [head()]
        assert tables == 1
        await migrate(engines[1])  # a later start finds it current
    finally:
        for engine in engines:
            await engine.dispose()
