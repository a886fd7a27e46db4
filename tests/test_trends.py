"""Trends: anonymous question rows flow from the bot to SQL; every shown or exported count is
protected, whatever the filters, so no single conversation or question can be picked out."""

from __future__ import annotations

import csv
import html
import io
import itertools
import re
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.app import ENGINE
from bot.web.trends import PERIODS, ROLES, TABLES, protect
from handoff.database import make_engine, migrate
from handoff.models import ConversationSummary, QuestionTrend
from handoff.trends import TrendWriter
from tests.web_harness import EXPERT, Web

pytestmark = pytest.mark.timeout(120)


def test_protect_suppresses_small_counts_and_rounds_the_rest() -> None:
    assert [protect(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 100)] == [
        None, None, None, 5, 5, 10, 10, 15, 100]


async def test_question_rows_reach_sql_without_text_or_id(
    redis: Redis, database_url: str, web: Web,
) -> None:
    desk = web.desk
    await desk.trends.answered(7001, "family", "parent", "nl", True, "family-parents-allies")
    await desk.trends.answered(7002, "online", None, "en", False, "online-algorithms")
    await desk.trends.helped(7001, False)
    await desk.handoff.open(7001, "nl", "family", "", "", True)  # a handoff follows
    await desk.handoff.open(7001, "nl", "family", "", "", True)  # the same ticket: once
    engine = make_engine(database_url)
    await migrate(engine)
    try:
        writer = TrendWriter(redis, engine, "w1")
        assert await writer.run_once() == 4
        assert await writer.run_once() == 0
        async with AsyncSession(engine) as db:
            rows = sorted((await db.exec(select(QuestionTrend))).all(), key=lambda r: r.topic)
    finally:
        await engine.dispose()
    family, online = rows
    assert (family.topic, family.role, family.lang, family.urgent) == ("family", "parent", "nl",
                                                                       True)
    assert family.helped is False and family.handoff is True
    assert online.helped is None and online.handoff is False and online.role == ""
    assert family.day == web.today() and len(family.row_key) == 32
    dumped = repr(family.model_dump()) + repr(online.model_dump())
    assert "7001" not in dumped and "7002" not in dumped
    assert await redis.xlen("vb:trends") == 0
    served = await redis.hgetall("vb:snippet_served")
    assert served == {"family-parents-allies": "1", "online-algorithms": "1"}
    assert await redis.hgetall("vb:snippet_handoff") == {"family-parents-allies": "1"}


async def seed(web: Web) -> None:
    """23 ordinary questions and 12 conversations, plus one that stands out on every axis."""
    today = web.today()
    async with AsyncSession(web.client.app[ENGINE]) as db:
        for i in range(23):
            db.add(QuestionTrend(row_key=f"q{i}", day=today - timedelta(days=i % 3),
                                 topic="family", role="professional", lang="nl",
                                 urgent=i < 6))
        db.add(QuestionTrend(row_key="alone", day=today, topic="ideologies", role="parent",
                             lang="en", urgent=True))
        for i in range(12):
            db.add(ConversationSummary(job_key=f"c{i}", closed_on=today, topic="family",
                                       sector="onderwijs", province="Utrecht",
                                       outcome="advice", lang="nl"))
        db.add(ConversationSummary(job_key="alone", closed_on=today, topic="ideologies",
                                   sector="politie", province="Zeeland", outcome="referred",
                                   lang="en"))
        await db.commit()


def assert_protected(values: list[str], where: str) -> None:
    for value in values:
        value = value.strip()
        if value in ("", "< 5", "new", "nieuw") or value.endswith("%"):
            continue
        assert value.isdigit() and int(value) % 5 == 0 and int(value) >= 5, (where, value)


async def test_no_filter_or_export_singles_out_one_conversation(web: Web) -> None:
    await seed(web)
    await web.login(EXPERT)
    for months, role, lang in itertools.product(PERIODS, ("", *ROLES), ("", "nl", "en")):
        query = {"months": str(months), "role": role, "lang": lang}
        page = await (await web.client.get("/dashboard/trends", params=query)).text()
        cells = [html.unescape(c) for c in re.findall(r"<td>([^<]*)</td>", page)]
        assert cells, query
        assert_protected(cells, f"page {query}")
        for table in TABLES:
            resp = await web.client.get("/dashboard/trends.csv", params={**query,
                                                                           "table": table})
            assert resp.status == 200 and resp.content_type == "text/csv"
            rows = list(csv.reader(io.StringIO(await resp.text())))
            assert_protected([v for row in rows[1:] for v in row[1:]], f"{table} {query}")
            for row in rows[1:]:
                if row[0] in ("Zeeland", "Politie"):
                    assert row[1] == "< 5", (table, query, row)
    page = await (await web.client.get("/dashboard/trends")).text()
    zeeland = page[page.index("<th>Zeeland</th>"):]
    assert zeeland.startswith("<th>Zeeland</th><td>&lt; 5</td>")
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


async def test_rising_topics_compare_this_month_with_the_three_before(web: Web) -> None:
    today = web.today()
    first = today.replace(day=1)
    async with AsyncSession(web.client.app[ENGINE]) as db:
        for i in range(10):
            db.add(QuestionTrend(row_key=f"now{i}", day=first, topic="online"))
        for i in range(15):
            db.add(QuestionTrend(row_key=f"old{i}", day=first - timedelta(days=20 + i),
                                 topic="online"))
        await db.commit()
    await web.login(EXPERT)
    resp = await web.client.get("/dashboard/trends.csv", params={"table": "rising"})
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[1][1:] == ["10", "15", "+100%"], rows


async def test_forget_drops_the_link_from_a_person_to_their_trend_row(web: Web) -> None:
    await web.desk.trends.answered(7101, "family", "parent", "nl", False, "family-parents-allies")
    assert await web.desk.redis.exists("vb:trend_last:7101")
    await web.desk.handoff.forget_user(7101)
    assert not await web.desk.redis.exists("vb:trend_last:7101")
    await web.desk.trends.helped(7101, True)  # a late vote reaches no row
    assert [f["kind"] for _, f in await web.desk.redis.xrange("vb:trends")] == ["question"]
