"""Starting and stopping the parts: Redis, the desk's services, the bot, the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from aiohttp import web
from telegram.ext import Application

from bot.application import ALLOWED_UPDATES, build_application
from bot.observed import ObservedHandoffStore
from bot.polling import ReliablePoller
from bot.processor import PerChatUpdateProcessor
from bot.redis_server import redis_for, redis_url_for
from bot.sandbox import SandboxTelegram, make_sandbox_app
from bot.sandbox.server import BOT_ID, BOT_USERNAME
from bot.settings import Settings
from bot.web import WebState, init_app
from bot.web.serving import listen, serving, url_of
from bot.web.webhook import WebhookFeed
from bot.worker import spawn_worker, stop_worker
from handlers.context import Desk
from handlers.menu import set_default_commands
from handoff.experts import ExpertStore
from handoff.office_hours import OfficeHours
from handoff.pseudonyms import Pseudonyms
from handoff.sessions import SessionStore
from handoff.users import UserStore
from knowledge.asked import AskedStore
from knowledge.base import KnowledgeBase, load_knowledge
from knowledge.feedback import FeedbackStore
from knowledge.trends import TrendRecorder
from knowledge.triage import Triage

log = logging.getLogger(__name__)


@functools.cache
def knowledge() -> tuple[KnowledgeBase, Triage]:
    """Load and validate the knowledge and train the triage once per process (read-only)."""
    kb = load_knowledge()
    return kb, Triage(kb)


@contextlib.asynccontextmanager
async def desk_services(settings: Settings,
                        clock: Callable[[], float] = time.time) -> AsyncIterator[Desk]:
    """Redis (embedded unless a URL is set) and the services built on it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    kb, triage = knowledge()
    office_hours = OfficeHours(settings.office_hours, settings.zone)
    async with redis_for(settings.redis_url, settings.data_dir) as redis:
        trends = TrendRecorder(redis, settings.zone, clock)
        yield Desk(
            settings=settings,
            redis=redis,
            users=UserStore(redis),
            pseudonyms=Pseudonyms(settings.secret()),
            kb=kb,
            triage=triage,
            feedback=FeedbackStore(redis),
            asked=AskedStore(redis),
            handoff=ObservedHandoffStore(
                redis, clock, settings.transcript_ttl_days * 24 * 3600).attach(trends),
            experts=ExpertStore(redis, clock),
            sessions=SessionStore(redis),
            office_hours=office_hours,
            trends=trends,
        )


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, desk: Desk, token: str,
                      webhook_secret: str | None = None) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The Application, started and fed until the block ends: by the webhook when
    VRAAGBAAK_WEBHOOK_URL is set (the web app must be serving by then), else by long polling."""
    app = build_application(settings, desk, token)
    feed: ReliablePoller | WebhookFeed
    if settings.webhook_url and webhook_secret:
        feed = WebhookFeed(app, desk.redis, settings.webhook_url, webhook_secret,
                           ALLOWED_UPDATES)
    else:
        feed = ReliablePoller(app, desk.redis, ALLOWED_UPDATES)
    processor = app.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    processor.on_done = feed.mark_done
    async with app:
        # post_init hooks only run under run_polling(); we start the parts ourselves.
        await set_default_commands(app.bot, settings.default_locale)
        await app.start()
        await feed.start()
        try:
            yield app
        finally:
            await feed.stop()
            await app.stop()


@contextlib.asynccontextmanager
async def running_sandbox(host: str, port: int, token: str | None = None,
                          ) -> AsyncIterator[tuple[SandboxTelegram, str]]:
    """The sandbox Telegram server; yields it and its base URL (port 0 picks a free port)."""
    sandbox = SandboxTelegram(token or f"{BOT_ID}:sandbox-{secrets.token_urlsafe(24)}")
    runner = web.AppRunner(make_sandbox_app(sandbox), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    try:
        yield sandbox, f"http://{bound[0]}:{bound[1]}"
    finally:
        await runner.cleanup()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@contextlib.contextmanager
def summariser_child(settings: Settings, enabled: bool) -> Iterator[None]:
    """The summariser worker as a child process (it needs ~1 GB, so not in the bot process)."""
    if not enabled:
        yield
        return
    proc = spawn_worker(redis_url_for(settings.redis_url, settings.data_dir))
    try:
        yield
    finally:
        stop_worker(proc)


async def run(settings: Settings, with_worker: bool = True) -> None:
    """`vraagbaak run`: the desk against Telegram (or a self-hosted Bot API server)."""
    assert settings.telegram_token is not None
    stop = _stop_event()
    state = WebState(webhook_secret=secrets.token_urlsafe(32) if settings.webhook_url else None,
                     expect_worker=with_worker)
    async with desk_services(settings) as desk, serving(
        init_app(settings, desk, state), listen(settings.web_host, settings.web_port)
    ), running_bot(
        settings, desk, settings.telegram_token.get_secret_value(), state.webhook_secret
    ) as app:
        state.bot_username = app.bot.username
        with summariser_child(settings, with_worker):
            log.info("Vraagbaak is running as @%s (%s); web app on %s:%s; Ctrl+C stops it",
                     app.bot.username, "webhook" if state.webhook_secret else "long polling",
                     settings.web_host, settings.web_port)
            await stop.wait()


async def sandbox_only(host: str, port: int, token: str | None) -> None:
    """`vraagbaak sandbox`: only the stand-in Telegram, for a bot run as a separate process."""
    stop = _stop_event()
    async with running_sandbox(host, port, token) as (sandbox, url):
        print(f"sandbox Telegram at {url} token {sandbox.token}", flush=True)
        await stop.wait()


@dataclass
class DemoDesk:
    """The sandbox, the desk, the bot and the web app, all on one local server."""

    sandbox: SandboxTelegram
    url: str
    settings: Settings
    desk: Desk
    app: Application  # type: ignore[type-arg]
    state: WebState


@contextlib.asynccontextmanager
async def demo_desk(settings: Settings, host: str, port: int, with_worker: bool = True,
                    clock: Callable[[], float] = time.time,
                    webhook: bool = False) -> AsyncIterator[DemoDesk]:
    """One server for the sandbox Telegram, its chat page, health, metrics and /dashboard;
    the bot against it, through this server's webhook if `webhook` (or the configured
    VRAAGBAAK_WEBHOOK_URL), else by long polling."""
    sock = listen(host, port)
    url = url_of(sock)
    sandbox = SandboxTelegram(f"{BOT_ID}:sandbox-{secrets.token_urlsafe(24)}")
    updates = {"telegram_api_url": url, "web_public_url": url}
    if webhook:
        updates["webhook_url"] = f"{url}/telegram/webhook"
    demo_settings = settings.model_copy(update=updates)
    state = WebState(
        webhook_secret=secrets.token_urlsafe(32) if demo_settings.webhook_url else None,
        bot_username=BOT_USERNAME, expect_worker=with_worker)
    async with desk_services(demo_settings, clock) as desk:
        web_app = init_app(demo_settings, desk, state, app=make_sandbox_app(sandbox))
        async with serving(web_app, sock), running_bot(
            demo_settings, desk, sandbox.token, state.webhook_secret
        ) as app:
            yield DemoDesk(sandbox, url, demo_settings, desk, app, state)


async def demo(settings: Settings, host: str, port: int, with_worker: bool = True) -> None:
    """`vraagbaak demo`: the same desk against the local sandbox, with a chat page."""
    stop = _stop_event()
    async with demo_desk(settings, host, port, with_worker) as ready:
        # A ready invite, so the page's expert pane can join the pool straight away.
        code = await ready.desk.experts.create_invite("Marieke", (), ("nl", "en"))
        with summariser_child(ready.settings, with_worker):
            print(f"Vraagbaak sandbox: open {ready.url}/ in your browser (Ctrl+C stops)\n"
                  f"To act as an expert, send in the Expert pane: /start inv_{code}\n"
                  f"Then send /dashboard there for a link to {ready.url}/dashboard",
                  flush=True)
            await stop.wait()
