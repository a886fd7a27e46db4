"""The Gaps page (questions the desk could not answer, kept with the asker's yes) and the
Quality view (how often the first card was the one a coordinator assigned)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.app import DESK, GAPS, PREFIX
from bot.web.editor import editor_only
from bot.web.pages import page_context, session_of
from handoff.models import KnowledgeRevision
from knowledge.editorial import Refused
from knowledge.gaps import ASSIGNED, DISMISSED, OPEN
from knowledge.revisions import Conflict
from knowledge.topics import Topic

GAPS_PATH = f"{PREFIX}/gaps"


async def gaps_page(request: web.Request) -> web.Response:
    """Open gaps, newest first, grouped by topic, with the card the desk showed."""
    await editor_only(request)
    desk = request.app[DESK]
    context = page_context(request, notice=request.query.get("done", ""))
    lang = context["lang"]
    kb = desk.kb
    groups: dict[str, list[dict[str, Any]]] = {}
    for gap in await request.app[GAPS].listing(OPEN):
        shown = kb.resolve(gap.shown) if gap.shown else None
        try:
            label = kb.topics[Topic(gap.topic)].label[lang]
        except ValueError:
            label = gap.topic
        groups.setdefault(label, []).append({
            "id": gap.id, "text": gap.text, "lang": gap.lang, "week": gap.week.isoformat(),
            "role": gap.role, "reason": gap.reason, "topic": gap.topic,
            "shown": shown.text(lang).title if shown else None,
            "shown_id": shown.id if shown else ""})
    context["groups"] = sorted(groups.items())
    context["cards"] = sorted(((s.id, s.text(lang).title) for s in kb.snippets.values()),
                              key=lambda c: c[1].casefold())
    context["quality"] = await request.app[GAPS].quality()
    return aiohttp_jinja2.render_template("gaps.html", request, context)


def _gap_id(request: web.Request) -> int:
    try:
        return int(request.match_info["gap_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def assign_post(request: web.Request) -> web.Response:
    """POST: the card that would have been right; the question becomes its example."""
    await editor_only(request)
    form = await request.post()
    store, desk = request.app[GAPS], request.app[DESK]
    gap = await store.get(_gap_id(request))
    snippet = desk.kb.resolve(str(form.get("snippet", "")))
    if gap is None or snippet is None:
        raise web.HTTPNotFound()
    if not await store.settle(gap.id or 0, ASSIGNED, snippet.id):
        raise web.HTTPSeeOther(f"{GAPS_PATH}?done=gone")
    outcome = await desk.editorial.add_example(session_of(request).user_id, snippet.id,
                                               gap.lang, gap.text, desk.kb)
    if not isinstance(outcome, KnowledgeRevision):
        await store.reopen(gap.id or 0)
        if isinstance(outcome, Refused) and outcome.reason == "not_allowed":
            raise web.HTTPForbidden(text="knowledge editors only")
        raise web.HTTPSeeOther(f"{GAPS_PATH}?done="
                               + ("conflict" if isinstance(outcome, Conflict) else "invalid"))
    raise web.HTTPSeeOther(f"{GAPS_PATH}?done=assigned")


async def dismiss_post(request: web.Request) -> web.Response:
    """POST: nothing to learn from this one."""
    await editor_only(request)
    if not await request.app[GAPS].settle(_gap_id(request), DISMISSED):
        raise web.HTTPSeeOther(f"{GAPS_PATH}?done=gone")
    raise web.HTTPSeeOther(f"{GAPS_PATH}?done=dismissed")


def setup_routes(app: web.Application) -> None:
    """The gaps pages."""
    app.router.add_get(GAPS_PATH, gaps_page)
    app.router.add_post(f"{GAPS_PATH}/{{gap_id}}/assign", assign_post)
    app.router.add_post(f"{GAPS_PATH}/{{gap_id}}/dismiss", dismiss_post)
