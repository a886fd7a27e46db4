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

from aiohttp import web
from redis.asyncio import Redis
from telegram.ext import Application

from bot.application import ALLOWED_UPDATES, build_application
from bot.files import private_dir
from bot.polling import ReliablePoller
from bot.processor import PerChatUpdateProcessor
from bot.redis_server import redis_for, redis_url_for
from bot.sandbox import SandboxTelegram, make_sandbox_app
from bot.sandbox.server import BOT_ID
from bot.settings import Settings
from bot.worker import spawn_worker, stop_worker
from handlers.context import Desk
from handlers.menu import set_default_commands
from handoff.erasure import AofRewriter
from handoff.experts import ExpertStore
from handoff.office_hours import OfficeHours
from handoff.pseudonyms import Pseudonyms
from handoff.sessions import SessionStore
from handoff.tickets import HandoffStore
from handoff.users import UserStore
from knowledge.asked import AskedStore
from knowledge.base import KnowledgeBase, load_knowledge
from knowledge.feedback import FeedbackStore
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
    private_dir(settings.data_dir)
    kb, triage = knowledge()
    office_hours = OfficeHours(settings.office_hours, settings.zone)
    async with redis_for(settings.redis_url, settings.data_dir) as redis, \
            aof_rewrites(redis):
        yield Desk(
            settings=settings,
            redis=redis,
            users=UserStore(redis),
            pseudonyms=Pseudonyms(settings.secret(), clock, settings.zone),
            kb=kb,
            triage=triage,
            feedback=FeedbackStore(redis),
            asked=AskedStore(redis),
            handoff=HandoffStore(redis, clock, settings.transcript_ttl_days * 24 * 3600),
            experts=ExpertStore(redis, clock),
            sessions=SessionStore(redis),
            office_hours=office_hours,
        )


@contextlib.asynccontextmanager
async def aof_rewrites(redis: Redis) -> AsyncIterator[None]:
    """Rewrite Redis's append-only file after deletions of personal data, until the block
    ends (it stops within a second)."""
    stop = asyncio.Event()
    task = asyncio.create_task(AofRewriter(redis).run(stop), name="vraagbaak-aof-rewrite")
    try:
        yield
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, desk: Desk, token: str) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The Application, started and long-polling (reliably) until the block ends."""
    app = build_application(settings, desk, token)
    poller = ReliablePoller(app, desk.redis, ALLOWED_UPDATES)
    processor = app.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    processor.on_done = poller.mark_done
    async with app:
        # post_init hooks only run under run_polling(); we start the parts ourselves.
        await set_default_commands(app.bot, settings.default_locale)
        await app.start()
        await poller.start()
        try:
            yield app
        finally:
            await poller.stop()
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
    async with desk_services(settings) as desk, running_bot(
        settings, desk, settings.telegram_token.get_secret_value()
    ) as app:
        with summariser_child(settings, with_worker):
            log.info("Vraagbaak is running as @%s; Ctrl+C stops it", app.bot.username)
            await stop.wait()


async def sandbox_only(host: str, port: int, token: str | None) -> None:
    """`vraagbaak sandbox`: only the stand-in Telegram, for a bot run as a separate process."""
    stop = _stop_event()
    async with running_sandbox(host, port, token) as (sandbox, url):
        print(f"sandbox Telegram at {url} token {sandbox.token}", flush=True)
        await stop.wait()


async def demo(settings: Settings, host: str, port: int, with_worker: bool = True) -> None:
    """`vraagbaak demo`: the same desk against the local sandbox, with a chat page."""
    stop = _stop_event()
    async with running_sandbox(host, port) as (sandbox, url):
        sandbox_settings = settings.model_copy(update={"telegram_api_url": url})
        async with desk_services(sandbox_settings) as desk, running_bot(
            sandbox_settings, desk, sandbox.token
        ):
            # A ready invite, so the page's expert pane can join the pool straight away.
            code = await desk.experts.create_invite("Marieke", (), ("nl", "en"))
            with summariser_child(sandbox_settings, with_worker):
                print(f"Vraagbaak sandbox: open {url}/ in your browser (Ctrl+C stops)\n"
                      f"To act as an expert, send in the Expert pane: /start inv_{code}",
                      flush=True)
                await stop.wait()
