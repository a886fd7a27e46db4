"""The web application: health, metrics, the Telegram webhook and the coordinators' dashboard.

`init_app` builds it (or adds it to the sandbox's application in the demo, so the dashboard is
served at /dashboard next to the chat page)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from bot.web.auth import COOKIE, Session, SessionStore, csrf_ok, is_secure, set_cookie
from bot.web.login import LoginLinks
from handlers.context import Desk
from handoff.database import make_engine, migrate
from knowledge.gaps import GapStore

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PREFIX = "/dashboard"
PUBLIC_PATHS = frozenset({f"{PREFIX}/login", f"{PREFIX}/how"})
# Fetched by the queue page's script every few seconds, whether anyone looks or not.
POLLED_PATHS = frozenset({f"{PREFIX}/queue/live"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@dataclass
class WebState:
    """What the web app learns once the bot runs, and the webhook's secret."""

    webhook_secret: str | None = None
    bot_username: str | None = None
    expect_worker: bool = True
    # This instance's part of the update feed (owned partitions, or whether it polls), for
    # /healthz; set once the bot runs.
    feed_status: Callable[[], dict[str, object]] | None = None


SETTINGS = web.AppKey("settings", Settings)
DESK = web.AppKey("desk", Desk)
STATE = web.AppKey("state", WebState)
ENGINE = web.AppKey("engine", AsyncEngine)
GAPS = web.AppKey("gaps", GapStore)
SESSIONS = web.AppKey("sessions", SessionStore)
LOGINS = web.AppKey("logins", LoginLinks)
SESSION = web.RequestKey("session", Session)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def database(app: web.Application) -> AsyncIterator[None]:
    """The SQL engine, migrated, for the app's lifetime (cleanup_ctx)."""
    engine = make_engine(app[SETTINGS].sqlalchemy_url)
    try:
        await migrate(engine)
    except (SQLAlchemyError, OSError) as exc:
        # Serve anyway: /healthz then reports the database down instead of nothing answering.
        log.error("database unavailable at start-up: %s", type(exc).__name__)
    app[ENGINE] = engine
    app[GAPS] = GapStore(engine)
    yield
    await engine.dispose()


def security_headers(response: web.StreamResponse) -> None:
    """No framing, no inline scripts, no referrer (login links carry a token), no caching."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")


def user_action(request: web.Request) -> bool:
    """A page someone opened or a form they sent, not a script refreshing in the background
    (only these renew the session's idle expiry, so an open queue tab still idles out)."""
    if request.method == "POST":
        return True
    if request.path in POLLED_PATHS:
        return False
    # Browsers say how a request was made; without the header (plain http off localhost),
    # the path above is what tells polling apart.
    return request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"


async def _session(request: web.Request, renew: bool) -> Session | None:
    """The visitor's session if it exists and they are still an expert or an admin, with
    their role as it is now (not as it was when they logged in)."""
    app = request.app
    session = await app[SESSIONS].load(request.cookies.get(COOKIE, ""), renew)
    if session is None:
        return None
    service = app[DESK].service
    if not await service.may_see_dashboard(session.user_id):
        await app[SESSIONS].end(session.session_id)  # removed from the pool meanwhile
        return None
    return replace(session, admin=service.may_manage_pool(session.user_id))


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Dashboard paths need a session (else: how to log in) and a CSRF token on every POST."""
    path = request.path
    if not (path == PREFIX or path.startswith(PREFIX + "/")):
        return await handler(request)
    renewed: Session | None = None
    try:
        if path not in PUBLIC_PATHS and not path.startswith(f"{PREFIX}/static/"):
            renew = user_action(request)
            session = await _session(request, renew)
            if session is None:
                raise web.HTTPSeeOther(f"{PREFIX}/how")
            if request.method == "POST":
                form = await request.post()
                token = form.get("csrf")
                if not csrf_ok(session, token if isinstance(token, str) else None):
                    raise web.HTTPForbidden(text="CSRF token missing or wrong")
            request[SESSION] = session
            renewed = session if renew else None
        response = await handler(request)
    except web.HTTPException as exc:
        finish(request, exc, renewed)
        raise
    finish(request, response, renewed)
    return response


def finish(request: web.Request, response: web.StreamResponse, renewed: Session | None) -> None:
    """Security headers; a renewed session's cookie lives as long as the session again."""
    security_headers(response)
    if renewed is not None and COOKIE not in response.cookies:  # not when logging out
        set_cookie(response, renewed, is_secure(request, request.app[SETTINGS].dashboard_url))


def init_app(settings: Settings, desk: Desk, state: WebState | None = None,
             app: web.Application | None = None) -> web.Application:
    """The web application (or `app` extended with it): routes, templates, database."""
    from bot.web import editor, gaps, health, pages, trends, webhook

    app = app if app is not None else web.Application()
    app[SETTINGS] = settings
    app[DESK] = desk
    app[STATE] = state or WebState()
    app[SESSIONS] = SessionStore(desk.redis)
    app[LOGINS] = LoginLinks(desk.redis, settings.secret())
    app.middlewares.append(guard)
    app.cleanup_ctx.append(database)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                         autoescape=jinja2.select_autoescape(["html", "svg"]),
                         undefined=jinja2.StrictUndefined)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/metrics", health.metrics_page)
    app.router.add_post("/telegram/webhook", webhook.receive)
    pages.setup_routes(app)
    trends.setup_routes(app)
    editor.setup_routes(app)
    gaps.setup_routes(app)
    app.router.add_static(f"{PREFIX}/static", HERE / "static")
    return app
