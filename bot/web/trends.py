"""Trends for agenderen: aggregated counts only, small cells suppressed, charts as SVG.

Every count below 5 is shown as "< 5"; counts from 5 up are rounded to a multiple of 5, so
comparing two filter settings (or a table with its filtered twin) cannot single out one
question or conversation either. The same `Table` feeds the page, the charts and the CSV."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.app import DESK, ENGINE, PREFIX
from bot.web.pages import page_context, topic_label
from handoff.models import ConversationSummary, QuestionTrend
from handoff.spreadsheet import csv_text
from locales import translator
from locales.vocabulary import Vocabulary

THRESHOLD = 5
SUPPRESSED = "< 5"
PERIODS = (3, 6, 12)  # months
ROLES = ("professional", "volunteer", "parent", "other")
TABLES = ("topics_weekly", "sectors", "provinces", "urgent", "rising")


def protect(count: int) -> int | None:
    """None below the threshold, else the count rounded to a multiple of 5."""
    return None if count < THRESHOLD else THRESHOLD * round(count / THRESHOLD)


def cell(value: int | None) -> str:
    """How a protected count is written."""
    return SUPPRESSED if value is None else str(value)


@dataclass
class Table:
    """An aggregated table of protected counts (and derived percentages)."""

    name: str
    title: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]

    def csv(self) -> str:
        """The table as CSV, suppression included (cells neutralised for spreadsheets)."""
        return csv_text(["", *self.columns], ([label, *values] for label, values in self.rows))


@dataclass(frozen=True)
class Filters:
    """What the visitor chose: a period in months, a role and a language."""

    months: int = 6
    role: str = ""
    lang: str = ""

    @classmethod
    def parse(cls, query: Any) -> Filters:
        """Unknown values fall back to 'all'."""
        try:
            months = int(query.get("months", 6))
        except ValueError:
            months = 6
        role, lang = query.get("role", ""), query.get("lang", "")
        return cls(months if months in PERIODS else 6, role if role in ROLES else "",
                   lang if lang in ("nl", "en") else "")

    def since(self, today: date) -> date:
        """The first day counted: a Monday, so weeks are whole."""
        start = today - timedelta(days=30 * self.months)
        return start - timedelta(days=start.weekday())


def week_of(day: date) -> str:
    """ISO week label, e.g. 2026-W48."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_start(day: date, back: int = 0) -> date:
    """The first day of the month `back` months before `day`'s."""
    year, month = day.year, day.month - back
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


async def _question_counts(engine: Any, filters: Filters, since: date,
                           ) -> list[tuple[date, str, bool, int]]:
    statement = (select(QuestionTrend.day, QuestionTrend.topic, QuestionTrend.urgent,
                        func.count()).where(QuestionTrend.day >= since)
                 .group_by(QuestionTrend.day, QuestionTrend.topic, QuestionTrend.urgent))
    if filters.role:
        statement = statement.where(QuestionTrend.role == filters.role)
    if filters.lang:
        statement = statement.where(QuestionTrend.lang == filters.lang)
    async with AsyncSession(engine) as db:
        return [(d, t, u, int(n)) for d, t, u, n in (await db.exec(statement)).all()]


async def _conversation_counts(engine: Any, filters: Filters, since: date,
                               dimension: str) -> Counter[str]:
    column = getattr(ConversationSummary, dimension)
    statement = (select(column, func.count()).where(ConversationSummary.closed_on >= since)
                 .group_by(column))
    if filters.lang:
        statement = statement.where(ConversationSummary.lang == filters.lang)
    async with AsyncSession(engine) as db:
        return Counter({value or "?": int(n) for value, n in (await db.exec(statement)).all()})


async def build_tables(request: web.Request, filters: Filters, lang: str) -> dict[str, Table]:
    """All trend tables for these filters, protected."""
    _ = translator(lang)._
    words = Vocabulary(lang)
    engine = request.app[ENGINE]
    # The desk's day, as the rows were dated (not the server's: UTC on most servers).
    today = datetime.now(request.app[DESK].settings.zone).date()
    since = filters.since(today)
    earliest = min(since, month_start(today, 3))
    counts = await _question_counts(engine, filters, earliest)
    in_period = [(d, t, u, n) for d, t, u, n in counts if d >= since]

    weeks: list[str] = []
    day = since
    while day <= today:
        weeks.append(week_of(day))
        day += timedelta(days=7)
    by_topic_week: Counter[tuple[str, str]] = Counter()
    for d, t, _u, n in in_period:
        by_topic_week[(t, week_of(d))] += n
    topics = sorted({t for t, _w in by_topic_week})
    topics_weekly = Table("topics_weekly", _("Questions per topic per week"), weeks, [
        (topic_label(request, t, lang), [cell(protect(by_topic_week[(t, w)])) for w in weeks])
        for t in topics])

    tables = {"topics_weekly": topics_weekly}
    for dimension, title in (("sector", _("Conversations with an expert by sector")),
                             ("province", _("Conversations with an expert by province"))):
        found = await _conversation_counts(engine, filters, since, dimension)
        word = words.sector if dimension == "sector" else words.region
        tables[dimension + "s"] = Table(dimension + "s", title, [_("conversations")], [
            (word(value), [cell(protect(n))]) for value, n in sorted(found.items())])

    total: Counter[str] = Counter()
    urgent: Counter[str] = Counter()
    for d, _t, u, n in in_period:
        total[week_of(d)] += n
        if u:
            urgent[week_of(d)] += n
    urgent_rows = []
    for w in weeks:
        shown_total, shown_urgent = protect(total[w]), protect(urgent[w])
        calm = protect(total[w] - urgent[w])
        # A share is shown only when neither part is small, or it would give the small one away.
        share = (f"{round(100 * shown_urgent / (shown_urgent + calm))}%"
                 if shown_urgent is not None and calm is not None else "")
        urgent_rows.append((w, [cell(shown_total), cell(shown_urgent), share]))
    tables["urgent"] = Table("urgent", _("Urgent questions per week"),
                             [_("questions"), _("urgent"), _("urgent share")], urgent_rows)

    this_month, before = month_start(today), month_start(today, 3)
    now_counts: Counter[str] = Counter()
    past_counts: Counter[str] = Counter()
    for d, t, _u, n in counts:
        if d >= this_month:
            now_counts[t] += n
        elif d >= before:
            past_counts[t] += n
    rising = []
    for t in sorted(set(now_counts) | set(past_counts)):
        shown_now, shown_past = protect(now_counts[t]), protect(past_counts[t])
        change = ""
        if shown_now is not None and shown_past is not None:
            change = f"{round(100 * (shown_now - shown_past / 3) / (shown_past / 3)):+d}%"
        elif shown_now is not None:
            change = _("new")
        rising.append((shown_now or 0, topic_label(request, t, lang),
                       [cell(shown_now), cell(shown_past), change]))
    rising.sort(key=lambda r: (-r[0], r[1]))
    tables["rising"] = Table("rising", _("Rising topics: this month against the three before"),
                             [_("this month"), _("previous three months"), _("change")],
                             [(label, values) for _n, label, values in rising])
    return tables


# -- charts (server-side SVG, no scripts, no external files) ----------------------------------

def _number(text: str) -> int | None:
    return None if text == SUPPRESSED or not text else int(text.rstrip("%"))


def bar_chart(table: Table, column: int = 0) -> Markup:
    """Horizontal bars for one column; suppressed cells drawn as an open bar labelled < 5."""
    rows = [(label, _number(values[column])) for label, values in table.rows]
    if not rows:
        return Markup("")
    top = max([v for _l, v in rows if v is not None] + [THRESHOLD])
    height, label_w, bar_w = 22, 170, 260
    parts = [f'<svg class="chart" viewBox="0 0 {label_w + bar_w + 60} {height * len(rows)}" '
             f'role="img" aria-label="{escape(table.title)}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(rows):
        y = i * height
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" '
                     f'font-size="12">{escape(label[:28])}</text>')
        if value is None:
            width = bar_w * THRESHOLD / top
            parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="14" '
                         f'fill="none" stroke="#888" stroke-dasharray="3 2"/>')
            text_x = label_w + width + 4
            shown = SUPPRESSED
        else:
            width = bar_w * value / top
            parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="14" '
                         f'fill="#2b6cb0"/>')
            text_x = label_w + width + 4
            shown = str(value)
        parts.append(f'<text x="{text_x:.1f}" y="{y + 15}" font-size="12">'
                     f'{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap(table: Table) -> Markup:
    """Topics × weeks: darker is more questions; suppressed cells hatched grey."""
    if not table.rows:
        return Markup("")
    cell_w, cell_h, label_w, head_h = 16, 18, 170, 40
    values = [_number(v) for _l, row in table.rows for v in row]
    top = max([v for v in values if v is not None] + [THRESHOLD])
    width = label_w + cell_w * len(table.columns) + 10
    parts = [f'<svg class="chart" viewBox="0 0 {width} {head_h + cell_h * len(table.rows)}" '
             f'role="img" aria-label="{escape(table.title)}" xmlns="http://www.w3.org/2000/svg">']
    for j, week in enumerate(table.columns):
        if j % 4 == 0:
            x = label_w + j * cell_w
            parts.append(f'<text x="{x}" y="{head_h - 8}" font-size="10">'
                         f'{escape(week[-3:])}</text>')
    for i, (label, row) in enumerate(table.rows):
        y = head_h + i * cell_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" '
                     f'font-size="12">{escape(label[:28])}</text>')
        for j, text in enumerate(row):
            x = label_w + j * cell_w
            value = _number(text)
            if text == SUPPRESSED:
                fill = "#ddd"
            elif not value:
                fill = "#f7f7f7"
            else:
                fill = f"rgba(43,108,176,{0.25 + 0.75 * value / top:.2f})"
            parts.append(f'<rect x="{x}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" '
                         f'fill="{fill}"><title>{escape(table.columns[j])}: '
                         f'{escape(text)}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


# -- routes ---------------------------------------------------------------------------------------

async def trends_page(request: web.Request) -> web.Response:
    """Charts and tables, with the filters."""
    filters = Filters.parse(request.query)
    context = page_context(request, filters=filters, periods=PERIODS, roles=ROLES)
    tables = await build_tables(request, filters, context["lang"])
    context.update(tables=tables, charts={
        "topics_weekly": heatmap(tables["topics_weekly"]),
        "sectors": bar_chart(tables["sectors"]),
        "provinces": bar_chart(tables["provinces"]),
        "urgent": bar_chart(tables["urgent"], column=1),
    }, query=request.query_string)
    return aiohttp_jinja2.render_template("trends.html", request, context)


async def trends_csv(request: web.Request) -> web.Response:
    """GET /dashboard/trends.csv?table=…: one aggregated table, protected like the page."""
    name = request.query.get("table", "")
    if name not in TABLES:
        raise web.HTTPNotFound(text="unknown table")
    lang = page_context(request)["lang"]
    table = (await build_tables(request, Filters.parse(request.query), lang))[name]
    return web.Response(text=table.csv(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="vraagbaak-{name}.csv"'})


def setup_routes(app: web.Application) -> None:
    """The trends page and its CSV export."""
    app.router.add_get(f"{PREFIX}/trends", trends_page)
    app.router.add_get(f"{PREFIX}/trends.csv", trends_csv)
