"""Trends: anonymous question rows flow from the bot to SQL; every shown or exported count is
protected, whatever the filters, so no single conversation or question can be picked out."""

from __future__ import annotations

import csv
import html
import io
import itertools
import re
from collections import Counter
from datetime import date, timedelta

import pytest
from babel.dates import format_date
from redis.asyncio import Redis
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.app import ENGINE
from bot.web.trends import PERIODS, ROLES, TABLES, choose_step, month_start, protect
from handoff.database import make_engine, migrate
from handoff.models import ConversationSummary, QuestionTrend
from handoff.trends import GROUP, TrendWriter
from knowledge import keys as knowledge_keys
from tests.web_harness import EXPERT, Web

pytestmark = pytest.mark.timeout(120)


def test_protect_shows_zero_suppresses_small_counts_and_rounds_the_rest() -> None:
    assert [protect(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 100)] == [
        0, None, None, 5, 5, 10, 10, 15, 100]


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
    # No user id in any field. The row key is a keyed hash (32 hex digits): it may contain
    # "7002" by chance (once in a few thousand runs), so it is checked as a whole.
    dumped = repr([{k: v for k, v in row.model_dump().items() if k != "row_key"}
                   for row in (family, online)])
    assert "7001" not in dumped and "7002" not in dumped
    assert {family.row_key, online.row_key}.isdisjoint({"7001", "7002"})
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
        if value in ("", "0", "< 5", "new", "nieuw") or value.endswith("%"):
            continue
        assert value.isdigit() and int(value) % 5 == 0 and int(value) >= 5, (where, value)


def every_filter(today: date) -> list[dict[str, str]]:
    """Each period (two own ones: the lone question's day, and a long stretch), each role the
    bot asks and each language, and 'all' for both."""
    periods = [{"period": p} for p in PERIODS if p != "custom"] + [
        {"period": "custom", "since": str(today), "until": str(today)},
        {"period": "custom", "since": str(today - timedelta(days=400)), "until": str(today)}]
    return [{**period, "role": role, "lang": lang} for period in periods
            for role, lang in itertools.product(("", *ROLES), ("", "nl", "en"))]


async def test_a_flag_read_by_another_worker_before_its_row_is_written_waits_for_it(
    redis: Redis, database_url: str, web: Web,
) -> None:
    await web.desk.trends.answered(7001, "family", "parent", "nl", True, "family-parents-allies")
    await web.desk.trends.helped(7001, False)
    engine = make_engine(database_url)
    await migrate(engine)
    try:
        # Two hosts' workers in one consumer group: A takes the row's job and is still
        # writing it when B reads the flag.
        a = TrendWriter(redis, engine, "worker-host-a-11")
        b = TrendWriter(redis, engine, "worker-host-b-11")
        await a.ensure_group()
        [(_, row_job)] = await redis.xreadgroup(GROUP, a.consumer, {knowledge_keys.trends(): ">"},
                                                count=1)
        assert await b.run_once() == 0  # the flag is not applied to a row that is not there
        pending = await redis.xpending(knowledge_keys.trends(), GROUP)
        assert pending["pending"] == 2  # nor acknowledged: it waits
        assert await a._process(row_job) == 1  # A's row is written
        # Once the flag idled, B (or any worker) takes it up again and applies it.
        b_again = TrendWriter(redis, engine, b.consumer, reclaim_idle_ms=0)
        assert await b_again.run_once() == 1
        async with AsyncSession(engine) as db:
            [row] = (await db.exec(select(QuestionTrend))).all()
    finally:
        await engine.dispose()
    assert row.helped is False
    assert (await redis.xpending(knowledge_keys.trends(), GROUP))["pending"] == 0
    assert await redis.xlen(knowledge_keys.trends()) == 0


async def test_no_filter_or_export_singles_out_one_conversation(web: Web) -> None:
    await seed(web)
    await web.login(EXPERT)
    for query in every_filter(web.today()):
        page = await (await web.client.get("/dashboard/trends", params=query)).text()
        assert "Onbekend" not in page, query
        cells = [html.unescape(c) for c in re.findall(
            r'<td[^>]*>([^<]*)</td>|<span class="bar-value">([^<]*)</span>', page)
            for c in c if c]
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
    # The lone question's role is one the bot no longer asks: filtering on it is refused.
    refused = await web.client.get("/dashboard/trends", params={"role": "parent"})
    assert refused.status == 400 and "Onbekende rol “parent”." in await refused.text()
    page = await (await web.client.get("/dashboard/trends")).text()
    zeeland = page[page.index('<th scope="row">Zeeland</th>'):]
    assert zeeland.startswith('<th scope="row">Zeeland</th><td>&lt; 5</td>')
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


def test_the_step_follows_the_volume() -> None:
    start, end = date(2026, 1, 5), date(2026, 3, 29)  # twelve whole weeks, Monday to Sunday
    mondays = [start + timedelta(weeks=w) for w in range(12)]

    def weekly(**per_topic: int) -> Counter[tuple[str, date]]:
        return Counter({(topic, monday): n for monday in mondays
                        for topic, n in per_topic.items()})

    # 2 of 3 weekly cells reach 5: weeks. Half of them: not most, so months.
    assert choose_step(weekly(family=10, online=6, signals=4), start, end) == "week"
    assert choose_step(weekly(family=8, online=6, signals=4, polarisation=2),
                       start, end) == "month"
    # One question per topic a month over a year: quarters, the coarsest step.
    year = Counter({("family", date(2025, m, 1)): 1 for m in range(1, 13)})
    assert choose_step(year, date(2025, 1, 1), date(2025, 12, 31)) == "quarter"
    # Three weeks cannot be shown per month, however few questions they hold.
    assert choose_step(Counter({("family", start): 1}), start, start + timedelta(days=20)
                       ) == "week"
    assert choose_step(Counter(), start, end) == "month"


async def get_page(web: Web, **query: str) -> str:
    resp = await web.client.get("/dashboard/trends", params=query)
    assert resp.status == 200, await resp.text()
    return await resp.text()


def rows_of(page: str, table: str) -> list[list[str]]:
    """A trend table's rows as the page shows them: label then cells."""
    section = page[page.index(f'<section class="trend" id="{table}">'):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(
        r"<t[hd][^>]*>(.*?)</t[hd]>", row)] for row in re.findall(r"<tr>(.*?)</tr>", body)]


def headers_of(page: str, table: str) -> list[str]:
    section = page[page.index(f'<section class="trend" id="{table}">'):]
    head = section[section.index("<thead>"):section.index("</thead>")]
    return [html.unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", head)]


async def test_a_desk_of_twenty_questions_a_week_reads_in_whole_figures(web: Web) -> None:
    today = web.today()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=w) for w in range(12, 0, -1)]
    async with AsyncSession(web.client.app[ENGINE]) as db:
        for w, monday in enumerate(mondays):
            for i, topic in enumerate(["family"] * 10 + ["online"] * 6 + ["signals"] * 4):
                db.add(QuestionTrend(row_key=f"w{w}q{i}", day=monday + timedelta(days=i % 7),
                                     topic=topic, role=("professional", "volunteer")[i % 2],
                                     urgent=i < 5))
        await db.commit()
    await web.login(EXPERT)
    page = await get_page(web, period="custom", since=str(mondays[0]),
                          until=str(this_monday - timedelta(days=1)))
    assert "Per week getoond: de meeste cellen halen 5." in page
    weeks = [m.isocalendar()[1] for m in reversed(mondays)]  # newest first
    one_year = len({m.isocalendar()[0] for m in mondays}) == 1
    columns = headers_of(page, "topics")[1:]
    assert len(columns) == 12 and columns[0].startswith(f"week {weeks[0]}")
    assert [int(re.search(r"\d+", c).group()) for c in columns] == weeks
    if one_year:
        assert columns[0] == f"week {weeks[0]}"
    labels = {t: web.desk.kb.topics[t].label["nl"] for t in ("family", "online", "signals")}
    assert rows_of(page, "topics") == sorted([
        [labels["family"], *["10"] * 12], [labels["online"], *["5"] * 12],
        [labels["signals"], *["< 5"] * 12]])
    assert f"Hoogst: {labels['family']}, {columns[0]}: 10" in page
    assert [row[1:] for row in rows_of(page, "urgent")] == [["20", "5", "25%"]] * 12
    assert '<td class="heat-4">10</td>' in page and '<td class="heat-low">&lt; 5</td>' in page
    # One role halves every cell: fewer reach 5, so the page reads per month instead.
    page = await get_page(web, period="custom", since=str(mondays[0]),
                          until=str(this_monday - timedelta(days=1)), role="volunteer")
    assert "Per maand getoond" in page
    assert all(v not in ("", "0") for row in rows_of(page, "urgent") for v in row[1:2])


async def test_empty_weeks_read_0_and_only_one_to_four_reads_under_5(web: Web) -> None:
    today = web.today()
    async with AsyncSession(web.client.app[ENGINE]) as db:
        for i in range(2):
            db.add(QuestionTrend(row_key=f"now{i}", day=today, topic="family"))
        await db.commit()
    await web.login(EXPERT)
    page = await get_page(web, period="custom", since=str(today - timedelta(days=20)),
                          until=str(today))
    urgent = rows_of(page, "urgent")
    assert len(urgent) >= 3
    assert urgent[0][1:] == ["< 5", "0", ""]  # the current week first
    assert all(row[1:] == ["0", "0", ""] for row in urgent[1:]), urgent
    topics = rows_of(page, "topics")
    assert topics[0][1] == "< 5" and set(topics[0][2:]) == {"0"}
    assert '<td class="heat-0">0</td>' in page


async def test_periods_cover_their_own_days_and_a_wrong_one_is_said(web: Web) -> None:
    today = web.today()
    first = today.replace(day=1)
    async with AsyncSession(web.client.app[ENGINE]) as db:
        for i in range(7):
            db.add(QuestionTrend(row_key=f"last{i}", day=first - timedelta(days=1),
                                 topic="online"))
        await db.commit()
    await web.login(EXPERT)
    last = await get_page(web, period="last_month")
    assert [r[1] for r in rows_of(last, "urgent")][-1] in ("5", "0")
    assert sum(int(r[1]) for r in rows_of(last, "urgent") if r[1] != "< 5") == 5
    this = await get_page(web, period="month")
    assert {r[1] for r in rows_of(this, "urgent")} == {"0"}
    year = await get_page(web, period="year")
    start = month_start(today, 11)
    assert (f"Geteld van {format_date(start, 'd MMMM yyyy', locale='nl')} tot en met "
            f"{format_date(today, 'd MMMM yyyy', locale='nl')}.") in year
    for query, message in (
            ({"period": "fortnight"}, "Onbekende periode “fortnight”."),
            ({"period": "custom"}, "Voor eigen data zijn een begin- en een einddatum nodig"),
            ({"period": "custom", "since": str(today), "until": str(first - timedelta(days=40))},
             "De periode begint na het einde."),
            ({"period": "custom", "since": "2001-01-01", "until": str(today)},
             "Een periode duurt hoogstens vijf jaar."),
            ({"period": "custom", "since": str(today + timedelta(days=1)),
              "until": str(today + timedelta(days=9))},
             "De periode begint na vandaag: er is nog niets geteld."),
            ({"lang": "de"}, "Onbekende taal “de”.")):
        resp = await web.client.get("/dashboard/trends", params=query)
        text = await resp.text()
        assert resp.status == 400 and message in text, (query, text)
        assert "<table" not in text
        csv_resp = await web.client.get("/dashboard/trends.csv", params={**query,
                                                                          "table": "topics"})
        assert csv_resp.status == 400 and message in await csv_resp.text()


async def test_the_role_filter_offers_only_the_roles_the_bot_asks(web: Web) -> None:
    await web.login(EXPERT)
    page = await get_page(web)
    select_ = page[page.index('<select name="role">'):]
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select_[:select_.index("</select>")])
    assert options == ["alle", "Professional", "Vrijwilliger"]
