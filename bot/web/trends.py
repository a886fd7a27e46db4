"""Trends for agenderen: aggregated counts only, small cells suppressed, charts in plain HTML.

A count of 0 is shown as 0; 1-4 as "< 5"; counts from 5 up are rounded to a multiple of 5, so
comparing two filter settings (or a table with its filtered twin) cannot single out one
question or conversation either. The step (week, month or quarter) follows the volume: the
finest at which most cells reach 5. The same `Table` feeds the page, the charts and the CSV."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from babel.dates import format_date
from markupsafe import Markup, escape
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.app import DESK, ENGINE, PREFIX
from bot.web.pages import page_context, topic_label
from handoff.models import ConversationSummary, QuestionTrend
from handoff.spreadsheet import csv_text
from locales import N_, translator
from locales.vocabulary import Vocabulary

THRESHOLD = 5
SUPPRESSED = "< 5"
PERIODS = ("month", "last_month", "quarter", "year", "custom")
DEFAULT_PERIOD = "quarter"
ROLES = ("professional", "volunteer")  # the roles the bot asks
LANGS = ("nl", "en")
STEPS = ("week", "month", "quarter")  # finest first
LONGEST = timedelta(days=5 * 366)  # a custom period of at most five years
TABLES = ("topics", "sectors", "provinces", "urgent", "rising")


def protect(count: int) -> int | None:
    """0 as it is, None for 1-4, else the count rounded to a multiple of 5."""
    if count == 0:
        return 0
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


class FilterError(ValueError):
    """A filter the page cannot honour; the message (translated) says which and why."""


def month_start(day: date, back: int = 0) -> date:
    """The first day of the month `back` months before `day`'s."""
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


@dataclass(frozen=True)
class Filters:
    """What the visitor chose: a period (with dates for a custom one), a role and a language."""

    period: str = DEFAULT_PERIOD
    since: date | None = None
    until: date | None = None
    role: str = ""
    lang: str = ""

    @classmethod
    def parse(cls, query: Any, lang: str, today: date) -> Filters:
        """The filters in a query string; anything unknown or invalid raises FilterError."""
        _ = translator(lang)._
        period = query.get("period") or DEFAULT_PERIOD
        if period not in PERIODS:
            raise FilterError(_("Unknown period “{period}”. Choose this month, last month, the "
                                "last three months, the last twelve months or your own dates."
                                ).format(period=period))
        role, language = query.get("role", ""), query.get("lang", "")
        if role and role not in ROLES:
            raise FilterError(_("Unknown role “{role}”.").format(role=role))
        if language and language not in LANGS:
            raise FilterError(_("Unknown language “{lang}”.").format(lang=language))
        if period != "custom":
            return cls(period, None, None, role, language)
        try:
            since = date.fromisoformat(query.get("since", ""))
            until = date.fromisoformat(query.get("until", ""))
        except ValueError:
            raise FilterError(_("Your own period needs a start and an end date, such as "
                                "2026-01-01 and 2026-03-31.")) from None
        if since > until:
            raise FilterError(_("The period starts after it ends."))
        if since > today:
            raise FilterError(_("The period starts after today: nothing has been counted yet."))
        if until - since > LONGEST:
            raise FilterError(_("A period can be at most five years long."))
        return cls(period, since, until, role, language)

    def span(self, today: date) -> tuple[date, date]:
        """The first and the last day counted."""
        if self.period == "month":
            return month_start(today), today
        if self.period == "last_month":
            return month_start(today, 1), month_start(today) - timedelta(days=1)
        if self.period == "quarter":
            return month_start(today, 2), today
        if self.period == "year":
            return month_start(today, 11), today
        assert self.since is not None and self.until is not None
        return self.since, min(self.until, today)

    def query(self) -> str:
        """These filters as a query string (for the CSV links)."""
        values = {"period": self.period, "role": self.role, "lang": self.lang}
        if self.period == "custom":
            values.update(since=str(self.since), until=str(self.until))
        return urlencode(values)


def step_start(day: date, step: str) -> date:
    """The first day of the week (Monday), month or quarter that holds `day`."""
    if step == "week":
        return day - timedelta(days=day.weekday())
    if step == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def step_end(first: date, step: str) -> date:
    """The last day of the step that begins on `first`."""
    if step == "week":
        return first + timedelta(days=6)
    return month_start(first, -(1 if step == "month" else 3)) - timedelta(days=1)


def steps_between(start: date, end: date, step: str) -> list[date]:
    """The steps from `start` to `end`, newest first (so the current one is always in view)."""
    found, day = [], step_start(start, step)
    while day <= end:
        found.append(day)
        day = day + timedelta(days=7) if step == "week" else month_start(day, -(
            1 if step == "month" else 3))
    return found[::-1]


def allowed_steps(start: date, end: date) -> tuple[str, ...]:
    """Steps no longer than the period (a quarter column for one month would mislead)."""
    days = (end - start).days + 1
    return tuple(step for step, shortest in zip(STEPS, (0, 28, 180), strict=True)
                 if days >= shortest)


def choose_step(per_day: Counter[tuple[str, date]], start: date, end: date) -> str:
    """The finest allowed step at which most topic cells reach the threshold, else the
    coarsest allowed (a small desk is then read per month or quarter, not as rows of < 5)."""
    allowed = allowed_steps(start, end)
    topics = {topic for topic, _day in per_day}
    for step in allowed:
        cells: Counter[tuple[str, date]] = Counter()
        for (topic, day), n in per_day.items():
            cells[(topic, step_start(day, step))] += n
        every = [cells[(t, s)] for t in topics for s in steps_between(start, end, step)]
        if every and 2 * sum(1 for n in every if n >= THRESHOLD) > len(every):
            return step
    return allowed[-1]


def step_label(day: date, step: str, lang: str, years: set[int]) -> str:
    """A step as a reader names it: week 49, December 2026, Q4 2026."""
    _ = translator(lang)._
    if step == "week":
        year, week, _weekday = day.isocalendar()
        if len(years) > 1:
            return _("week {week}, {year}").format(week=week, year=year)
        return _("week {week}").format(week=week)
    if step == "month":
        return format_date(day, "LLLL yyyy", locale=lang)
    return _("Q{quarter} {year}").format(quarter=(day.month - 1) // 3 + 1, year=day.year)


async def _question_counts(engine: Any, filters: Filters, since: date, until: date,
                           ) -> list[tuple[date, str, bool, int]]:
    statement = (select(QuestionTrend.day, QuestionTrend.topic, QuestionTrend.urgent,
                        func.count())
                 .where(QuestionTrend.day >= since, QuestionTrend.day <= until)
                 .group_by(QuestionTrend.day, QuestionTrend.topic, QuestionTrend.urgent))
    if filters.role:
        statement = statement.where(QuestionTrend.role == filters.role)
    if filters.lang:
        statement = statement.where(QuestionTrend.lang == filters.lang)
    async with AsyncSession(engine) as db:
        return [(d, t, u, int(n)) for d, t, u, n in (await db.exec(statement)).all()]


async def _conversation_counts(engine: Any, filters: Filters, since: date, until: date,
                               dimension: str) -> Counter[str]:
    column = getattr(ConversationSummary, dimension)
    statement = (select(column, func.count())
                 .where(ConversationSummary.closed_on >= since,
                        ConversationSummary.closed_on <= until)
                 .group_by(column))
    if filters.lang:
        statement = statement.where(ConversationSummary.lang == filters.lang)
    async with AsyncSession(engine) as db:
        return Counter({value or "?": int(n) for value, n in (await db.exec(statement)).all()})


TITLES = {
    "topics": {"week": N_("Questions per topic per week"),
               "month": N_("Questions per topic per month"),
               "quarter": N_("Questions per topic per quarter")},
    "urgent": {"week": N_("Urgent questions per week"),
               "month": N_("Urgent questions per month"),
               "quarter": N_("Urgent questions per quarter")},
}


@dataclass
class Trends:
    """Every trend table for one set of filters, and the step the time tables are in."""

    step: str
    start: date
    end: date
    tables: dict[str, Table]


def desk_today(request: web.Request) -> date:
    """The desk's day, as the rows were dated (not the server's: UTC on most servers)."""
    return datetime.now(request.app[DESK].settings.zone).date()


async def build_tables(request: web.Request, filters: Filters, lang: str) -> Trends:
    """All trend tables for these filters, protected."""
    _ = translator(lang)._
    words = Vocabulary(lang)
    engine = request.app[ENGINE]
    today = desk_today(request)
    start, end = filters.span(today)
    earliest = min(start, month_start(today, 3))
    counts = await _question_counts(engine, filters, earliest, max(end, today))
    in_period = [(d, t, u, n) for d, t, u, n in counts if start <= d <= end]

    per_day: Counter[tuple[str, date]] = Counter()
    for d, t, _u, n in in_period:
        per_day[(t, d)] += n
    step = choose_step(per_day, start, end)
    steps = steps_between(start, end, step)
    years = {s.isocalendar()[0] if step == "week" else s.year for s in steps}
    # A step cut by the period's edge (the current week, say) is marked, so its lower figure
    # is not read as a drop.
    labels = [step_label(s, step, lang, years) + (
        " " + _("(part)") if s < start or step_end(s, step) > end else "") for s in steps]

    by_topic: Counter[tuple[str, date]] = Counter()
    total: Counter[date] = Counter()
    urgent: Counter[date] = Counter()
    for d, t, u, n in in_period:
        by_topic[(t, step_start(d, step))] += n
        total[step_start(d, step)] += n
        if u:
            urgent[step_start(d, step)] += n
    topic_rows = sorted((topic_label(request, t, lang), t) for t in {t for t, _d in by_topic})
    tables = {"topics": Table("topics", _(TITLES["topics"][step]), labels, [
        (label, [cell(protect(by_topic[(t, s)])) for s in steps]) for label, t in topic_rows])}

    for dimension, title in (("sector", _("Conversations with an expert by sector")),
                             ("province", _("Conversations with an expert by province"))):
        found = await _conversation_counts(engine, filters, start, end, dimension)
        word = words.sector if dimension == "sector" else words.region
        tables[dimension + "s"] = Table(dimension + "s", title, [_("conversations")], [
            (word(value), [cell(protect(n))]) for value, n in sorted(found.items())])

    urgent_rows = []
    for label, s in zip(labels, steps, strict=True):
        shown_total, shown_urgent = protect(total[s]), protect(urgent[s])
        calm = protect(total[s] - urgent[s])
        # A share is shown only when neither part is small, or it would give the small one away.
        share = (f"{round(100 * shown_urgent / (shown_urgent + calm))}%"
                 if shown_urgent is not None and calm is not None and shown_total else "")
        urgent_rows.append((label, [cell(shown_total), cell(shown_urgent), share]))
    tables["urgent"] = Table("urgent", _(TITLES["urgent"][step]),
                             [_("questions"), _("urgent"), _("urgent share")], urgent_rows)
    tables["rising"] = rising_table(request, counts, today, lang)
    return Trends(step, start, end, tables)


def rising_table(request: web.Request, counts: list[tuple[date, str, bool, int]],
                 today: date, lang: str) -> Table:
    """This month's questions per topic against the monthly mean of the three months before."""
    _ = translator(lang)._
    this_month, before = month_start(today), month_start(today, 3)
    now_counts: Counter[str] = Counter()
    past_counts: Counter[str] = Counter()
    for d, t, _u, n in counts:
        if this_month <= d <= today:
            now_counts[t] += n
        elif before <= d < this_month:
            past_counts[t] += n
    rising = []
    for t in sorted(set(now_counts) | set(past_counts)):
        shown_now, shown_past = protect(now_counts[t]), protect(past_counts[t])
        change = ""
        if shown_now is not None and shown_past:
            change = f"{round(100 * (shown_now - shown_past / 3) / (shown_past / 3)):+d}%"
        elif shown_now and shown_past == 0:
            change = _("new")
        rising.append((shown_now or 0, topic_label(request, t, lang),
                       [cell(shown_now), cell(shown_past), change]))
    rising.sort(key=lambda r: (-r[0], r[1]))
    return Table("rising", _("Rising topics: this month against the three before"),
                 [_("this month"), _("previous three months"), _("change")],
                 [(label, values) for _n, label, values in rising])


# -- charts (plain HTML with an SVG bar per row, no scripts, no external files) ------------------

def _number(text: str) -> int | None:
    return None if text == SUPPRESSED or not text else int(text.rstrip("%"))


def highest(cells: list[tuple[str, str]], lang: str) -> str:
    """A caption naming the largest figures (label: value), so the chart says its point."""
    _ = translator(lang)._
    ranked = sorted(((n, label) for label, text in cells if (n := _number(text))),
                    key=lambda r: -r[0])[:3]
    if not ranked:
        return _("No figure reaches 5 in this period; the table below gives every figure.")
    items = ", ".join(f"{label}: {n}" for n, label in ranked)
    return _("Highest: {items}. The table below gives every figure.").format(items=items)


def bar_chart(table: Table, lang: str, column: int = 0) -> Markup:
    """Horizontal bars for one column, labels in full (they wrap); a suppressed cell is an
    open bar labelled < 5. The rows repeat the table, so assistive technology reads the
    caption and the table instead."""
    rows = [(label, values[column]) for label, values in table.rows]
    if not rows:
        return Markup("")
    top = max([n for _l, text in rows if (n := _number(text))] + [THRESHOLD])
    parts = [f'<figure class="chart bars"><figcaption>{escape(highest(rows, lang))}'
             '</figcaption><div class="bar-rows" aria-hidden="true">']
    for label, text in rows:
        value = _number(text)
        width = 100 * (THRESHOLD if value is None else value) / top
        kind = "open" if value is None else "full"
        parts.append(f'<div class="bar-row"><span class="bar-label">{escape(label)}</span>'
                     '<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" '
                     f'focusable="false"><rect class="{kind}" width="{width:.1f}" height="10"'
                     ' vector-effect="non-scaling-stroke"/></svg>'
                     f'<span class="bar-value">{escape(text)}</span></div>')
    parts.append("</div></figure>")
    return Markup("".join(parts))


def heat_rows(table: Table) -> list[tuple[str, list[tuple[str, str]]]]:
    """The topic table's cells with a colour class: white for 0, grey for < 5, and four
    blues from light to dark (the figure is always written in the cell as well)."""
    top = max([n for _l, row in table.rows for text in row if (n := _number(text))]
              + [THRESHOLD])
    shaded = []
    for label, row in table.rows:
        cells = []
        for text in row:
            value = _number(text)
            if value is None:
                kind = "heat-low"
            elif value == 0:
                kind = "heat-0"
            else:
                kind = f"heat-{min(4, 1 + int(4 * (value - 1) / top))}"
            cells.append((text, kind))
        shaded.append((label, cells))
    return shaded


# -- routes ---------------------------------------------------------------------------------------

STEP_NOTES = {
    "week": N_("Shown per week: most cells reach 5."),
    "month": N_("Shown per month: per week most cells would be under 5."),
    "quarter": N_("Shown per quarter: per week or per month most cells would be under 5."),
}


async def trends_page(request: web.Request) -> web.Response:
    """Charts and tables, with the filters; a filter it cannot honour is said, not replaced."""
    context = page_context(request, periods=PERIODS, roles=ROLES, langs=LANGS)
    lang = context["lang"]
    _ = translator(lang)._
    try:
        filters = Filters.parse(request.query, lang, desk_today(request))
    except FilterError as error:
        context.update(filters=Filters(), error=str(error))
        return aiohttp_jinja2.render_template("trends.html", request, context, status=400)
    found = await build_tables(request, filters, lang)
    tables = found.tables
    topics = tables["topics"]
    context.update(
        filters=filters, error="", tables=tables, query=filters.query(),
        heat=heat_rows(topics),
        heat_caption=highest([(f"{label}, {column}", text) for label, row in topics.rows
                              for column, text in zip(topics.columns, row, strict=True)], lang),
        span=_("Counted from {start} to {end}.").format(
            start=format_date(found.start, "d MMMM yyyy", locale=lang),
            end=format_date(found.end, "d MMMM yyyy", locale=lang)),
        step_note=_(STEP_NOTES[found.step]),
        charts={"sectors": bar_chart(tables["sectors"], lang),
                "provinces": bar_chart(tables["provinces"], lang),
                "urgent": bar_chart(tables["urgent"], lang, column=1)})
    return aiohttp_jinja2.render_template("trends.html", request, context)


async def trends_csv(request: web.Request) -> web.Response:
    """GET /dashboard/trends.csv?table=…: one aggregated table, protected like the page."""
    name = request.query.get("table", "")
    if name not in TABLES:
        raise web.HTTPNotFound(text="unknown table")
    lang = page_context(request)["lang"]
    try:
        filters = Filters.parse(request.query, lang, desk_today(request))
    except FilterError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    table = (await build_tables(request, filters, lang)).tables[name]
    return web.Response(text=table.csv(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="vraagbaak-{name}.csv"'})


def setup_routes(app: web.Application) -> None:
    """The trends page and its CSV export."""
    app.router.add_get(f"{PREFIX}/trends", trends_page)
    app.router.add_get(f"{PREFIX}/trends.csv", trends_csv)
