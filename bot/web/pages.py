"""Dashboard pages: login, live queue, summaries, experts (admins) and knowledge."""

from __future__ import annotations

import secrets
import time
from datetime import date
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web import actions
from bot.web.app import DESK, ENGINE, LOGINS, PREFIX, SESSION, SESSIONS, SETTINGS, STATE
from bot.web.auth import (
    COOKIE,
    LOGIN_COOKIE,
    Session,
    is_secure,
    same_token,
    set_cookie,
    set_login_cookie,
)
from handoff.models import ConversationSummary
from handoff.notices import Refusal
from handoff.summaries import expert_ref
from knowledge.topics import Topic
from locales import negotiate, translator
from locales.vocabulary import Vocabulary

MAX_SUMMARIES = 200
MAX_SEARCH = 100


def page_context(request: web.Request, lang: str | None = None, **values: Any) -> dict[str, Any]:
    """What every template gets: the translator, the session, paths."""
    session = request.get(SESSION)
    if lang is None:
        lang = session.lang if session else negotiate(
            request.headers.get("Accept-Language", "").split(",")[0].split(";")[0] or None,
            request.app[SETTINGS].default_locale)
    tr = translator(lang)
    return {"_": tr._, "_n": tr._n, "words": Vocabulary(lang), "lang": lang,
            "session": session, "prefix": PREFIX,
            "csrf": session.csrf if session else "", "path": request.path, **values}


def topic_label(request: web.Request, topic: str, lang: str) -> str:
    """A topic's label in the page's language (the id if unknown)."""
    try:
        return request.app[DESK].kb.topics[Topic(topic)].label[lang]
    except (ValueError, KeyError):
        return topic


def minutes_since(moment: float, now: float) -> int:
    """Whole minutes from `moment` to `now`."""
    return max(0, int((now - moment) // 60))


def session_of(request: web.Request) -> Session:
    """The logged-in visitor (the guard middleware set it)."""
    return request[SESSION]


def admin_only(request: web.Request) -> Session:
    """The session, if it is an admin's; 403 otherwise."""
    session = session_of(request)
    if not session.admin:
        raise web.HTTPForbidden(text="admins only")
    return session


# -- logging in ---------------------------------------------------------------------------------

async def how(request: web.Request) -> web.Response:
    """How to log in: ask the bot for a link."""
    return aiohttp_jinja2.render_template("how.html", request, page_context(request))


async def login_form(request: web.Request) -> web.Response:
    """The link from the bot lands here; a button posts the token (a link preview can't).
    The form is bound to this browser by a cookie, so no other site can post a login."""
    token = request.query.get("t", "")
    form_token = secrets.token_urlsafe(32)
    response = aiohttp_jinja2.render_template(
        "login.html", request, page_context(request, token=token, form_token=form_token))
    set_login_cookie(response, form_token,
                     is_secure(request, request.app[SETTINGS].dashboard_url))
    return response


async def login(request: web.Request) -> web.Response:
    """Redeem the one-time token and start a session (only from our own login page: login
    CSRF would otherwise log a coordinator into someone else's session)."""
    app = request.app
    form = await request.post()
    form_token = form.get("form")
    if not same_token(request.cookies.get(LOGIN_COOKIE),
                      form_token if isinstance(form_token, str) else None):
        # The one-time token stays unused: the link from the bot still works.
        return aiohttp_jinja2.render_template("refused.html", request, page_context(request),
                                              status=403)
    token = form.get("t")
    user_id = await app[LOGINS].redeem(token) if isinstance(token, str) else None
    desk = app[DESK]
    if user_id is None or not await desk.service.may_see_dashboard(user_id):
        raise web.HTTPSeeOther(f"{PREFIX}/how?expired=1")
    profile = await desk.users.get(user_id)
    lang = profile.lang or app[SETTINGS].default_locale
    session = await app[SESSIONS].create(user_id, lang)
    response = web.HTTPSeeOther(f"{PREFIX}/queue")
    set_cookie(response, session, is_secure(request, app[SETTINGS].dashboard_url))
    response.del_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
    raise response


async def logout(request: web.Request) -> web.Response:
    """End the session."""
    await request.app[SESSIONS].end(session_of(request).session_id)
    response = web.HTTPSeeOther(f"{PREFIX}/how")
    response.del_cookie(COOKIE, path="/dashboard")
    raise response


async def home(request: web.Request) -> web.Response:
    """/dashboard: the queue."""
    raise web.HTTPSeeOther(f"{PREFIX}/queue")


# -- the live queue -----------------------------------------------------------------------------

async def queue_values(request: web.Request, lang: str) -> dict[str, Any]:
    """Waiting conversations (never their text), who is available and who holds what."""
    desk = request.app[DESK]
    words = Vocabulary(lang)
    now = time.time()
    waiting = [{
        "asker": desk.pseudonyms.asker_number(ticket.id),
        "topic": topic_label(request, ticket.topic, lang),
        "sector": words.sector(ticket.sector), "province": words.region(ticket.region),
        "urgent": ticket.urgent, "requeued": ticket.requeues > 0,
        "waiting": minutes_since(ticket.queued_at, now), "lang": ticket.lang,
    } for ticket in await desk.handoff.queue()]
    experts = []
    for expert in await desk.experts.list():
        held = await desk.handoff.active_for_expert(expert.expert_id)
        experts.append({
            "name": expert.display_name, "available": expert.available,
            "max": expert.max_conversations,
            "holds": [{"asker": desk.pseudonyms.asker_number(t.id),
                       "topic": topic_label(request, t.topic, lang),
                       "minutes": minutes_since(t.claimed_at or now, now)} for t in held],
        })
    return {"waiting": waiting, "experts": experts}


async def queue_page(request: web.Request) -> web.Response:
    """The live queue (the table refreshes itself from /dashboard/queue/live)."""
    context = page_context(request)
    context.update(await queue_values(request, context["lang"]))
    return aiohttp_jinja2.render_template("queue.html", request, context)


async def queue_live(request: web.Request) -> web.Response:
    """Only the queue's tables, for the page's polling script."""
    context = page_context(request)
    context.update(await queue_values(request, context["lang"]))
    return aiohttp_jinja2.render_template("queue_tables.html", request, context)


# -- summaries ----------------------------------------------------------------------------------

def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def summaries_page(request: web.Request) -> web.Response:
    """Anonymised summaries, filtered and searched."""
    query = request.query
    filters = {name: query.get(name, "")[:MAX_SEARCH]
               for name in ("since", "until", "topic", "sector", "province", "outcome", "q")}
    statement = select(ConversationSummary).order_by(
        col(ConversationSummary.closed_on).desc(), col(ConversationSummary.id).desc())
    since, until = _day(filters["since"]), _day(filters["until"])
    if since:
        statement = statement.where(ConversationSummary.closed_on >= since)
    if until:
        statement = statement.where(ConversationSummary.closed_on <= until)
    for name in ("topic", "sector", "province", "outcome"):
        if filters[name]:
            statement = statement.where(getattr(ConversationSummary, name) == filters[name])
    if filters["q"]:
        needle = f"%{filters['q'].lower()}%"
        statement = statement.where(func.lower(ConversationSummary.summary).like(needle))
    async with AsyncSession(request.app[ENGINE]) as db:
        rows = list((await db.exec(statement.limit(MAX_SUMMARIES))).all())
        options = {}
        for name in ("topic", "sector", "province", "outcome"):
            column = getattr(ConversationSummary, name)
            options[name] = sorted(v for v in (await db.exec(select(column).distinct())).all()
                                   if v)
    context = page_context(request, filters=filters, options=options)
    lang = context["lang"]
    words: Vocabulary = context["words"]
    context["rows"] = [{
        "closed_on": row.closed_on.isoformat(), "topic": topic_label(request, row.topic, lang),
        "sector": words.sector(row.sector), "province": words.region(row.province),
        "outcome": words.outcome(row.outcome),
        "urgent": row.urgent, "rating": row.rating, "summary": row.summary,
        "comment": row.comment, "waiting": row.waiting_minutes, "lang": row.lang,
    } for row in rows]
    context["labels"] = {"topic": {t: topic_label(request, t, lang) for t in options["topic"]},
                         "sector": {v: words.sector(v) for v in options["sector"]},
                         "province": {v: words.region(v) for v in options["province"]},
                         "outcome": {v: words.outcome(v) for v in options["outcome"]}}
    return aiohttp_jinja2.render_template("summaries.html", request, context)


# -- experts (admins) ---------------------------------------------------------------------------

async def experts_page(request: web.Request, invite: str | None = None,
                       notice: str | None = None, name: str = "") -> web.Response:
    """The pool: availability, conversations, time to claim, ratings; invite, pause, remove."""
    admin_only(request)
    desk = request.app[DESK]
    secret = request.app[SETTINGS].secret()
    async with AsyncSession(request.app[ENGINE]) as db:
        stats = {ref: (count, wait, rating) for ref, count, wait, rating in (await db.exec(
            select(ConversationSummary.expert_ref, func.count(),
                   func.avg(ConversationSummary.waiting_minutes),
                   func.avg(ConversationSummary.rating))
            .group_by(ConversationSummary.expert_ref))).all()}
    context = page_context(request)
    words: Vocabulary = context["words"]
    topics = {t.value: info.label[context["lang"]] for t, info in desk.kb.topics.items()}
    experts = []
    for expert in await desk.experts.list():
        count, wait, rating = stats.get(expert_ref(secret, expert.expert_id), (0, None, None))
        experts.append({
            "id": expert.expert_id, "name": expert.display_name, "available": expert.available,
            "expertise": words.expertise(expert.expertise, topics),
            "languages": ", ".join(words.language(code) for code in expert.languages),
            "active": len(await desk.handoff.active_for_expert(expert.expert_id)),
            "closed": count, "wait": None if wait is None else round(float(wait)),
            "rating": None if rating is None else round(float(rating), 1),
        })
    username = request.app[STATE].bot_username
    link = None
    if invite:
        link = (f"https://t.me/{username}?start=inv_{invite}" if username
                else f"/start inv_{invite}")
    context.update(experts=experts, invite_link=link, notice=notice, name=name)
    return aiohttp_jinja2.render_template("experts.html", request, context)


async def experts_get(request: web.Request) -> web.Response:
    """GET /dashboard/experts."""
    return await experts_page(request)


async def invite(request: web.Request) -> web.Response:
    """POST: a single-use invite link, shown once on the page."""
    session = admin_only(request)
    form = await request.post()
    name = str(form.get("name", "")).strip()[:60]
    expertise = [t for t in str(form.get("expertise", "")).replace(",", " ").split() if t][:10]
    languages = [lang for lang in ("nl", "en") if form.get(f"lang_{lang}")] or ["nl", "en"]
    if not name:
        return await experts_page(request, notice="name")
    code = await actions.invite_expert(request.app[DESK], session.user_id, name, expertise,
                                       languages)
    if code is Refusal.NAME_TAKEN:
        return await experts_page(request, notice="taken", name=name)
    if isinstance(code, Refusal):
        raise web.HTTPForbidden(text="admins only")
    return await experts_page(request, invite=code)


def _expert_id(request: web.Request) -> int:
    try:
        return int(request.match_info["expert_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def pause(request: web.Request) -> web.Response:
    """POST: take an expert off duty."""
    session = admin_only(request)
    if not await actions.pause_expert(request.app[DESK], session.user_id, _expert_id(request)):
        raise web.HTTPNotFound()
    raise web.HTTPSeeOther(f"{PREFIX}/experts")


async def remove_form(request: web.Request) -> web.Response:
    """GET: what removing an expert does, and a button to confirm it (WCAG 3.3.4)."""
    admin_only(request)
    desk = request.app[DESK]
    expert_id = _expert_id(request)
    expert = await desk.experts.get(expert_id)
    if expert is None:
        raise web.HTTPNotFound()
    held = len(await desk.handoff.active_for_expert(expert_id))
    context = page_context(request, expert_id=expert_id)
    tr = translator(context["lang"])
    context.update(
        heading=tr._("Remove {name} from the pool?").format(name=expert.display_name),
        consequence=tr._n(
            "Their {count} conversation goes back to the queue; the asker is told.",
            "Their {count} conversations go back to the queue; the askers are told.",
            held).format(count=held) if held else tr._("They hold no conversations now."),
        confirm_label=tr._("Remove {name}").format(name=expert.display_name))
    return aiohttp_jinja2.render_template("remove.html", request, context)


async def remove(request: web.Request) -> web.Response:
    """POST from the confirmation page: requeue an expert's conversations and remove them
    from the pool (a post without the confirmation goes to that page instead)."""
    session = admin_only(request)
    expert_id = _expert_id(request)
    if (await request.post()).get("confirm") != "1":
        raise web.HTTPSeeOther(f"{PREFIX}/experts/{expert_id}/remove")
    if await actions.remove_expert(request.app[DESK], session.user_id, expert_id) is None:
        raise web.HTTPNotFound()
    raise web.HTTPSeeOther(f"{PREFIX}/experts")


def setup_routes(app: web.Application) -> None:
    """The dashboard's pages."""
    app.router.add_get(PREFIX, home)
    app.router.add_get(f"{PREFIX}/", home)
    app.router.add_get(f"{PREFIX}/how", how)
    app.router.add_get(f"{PREFIX}/login", login_form)
    app.router.add_post(f"{PREFIX}/login", login)
    app.router.add_post(f"{PREFIX}/logout", logout)
    app.router.add_get(f"{PREFIX}/queue", queue_page)
    app.router.add_get(f"{PREFIX}/queue/live", queue_live)
    app.router.add_get(f"{PREFIX}/summaries", summaries_page)
    app.router.add_get(f"{PREFIX}/experts", experts_get)
    app.router.add_post(f"{PREFIX}/experts/invite", invite)
    app.router.add_post(f"{PREFIX}/experts/{{expert_id}}/pause", pause)
    app.router.add_get(f"{PREFIX}/experts/{{expert_id}}/remove", remove_form)
    app.router.add_post(f"{PREFIX}/experts/{{expert_id}}/remove", remove)
