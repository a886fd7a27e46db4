"""Starting and stopping the parts: Redis, the desk's services, the bot, the sandbox."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application

import knowledge as knowledge_package
from bot.application import ALLOWED_UPDATES, build_application
from bot.files import private_dir, write_private
from bot.leases import SINGLETONS, Instances, Lease, hold
from bot.observed import ObservedHandoffStore
from bot.polling import POLLING_LEASE, ReliablePoller
from bot.processes import die_with_parent
from bot.processor import FloodGate, PerChatUpdateProcessor
from bot.redis_server import node_client, redis_for_settings, redis_url_for
from bot.reload import KnowledgeReloader
from bot.sandbox import SandboxTelegram, make_sandbox_app
from bot.sandbox.server import BOT_ID, BOT_USERNAME
from bot.settings import Settings
from bot.web import WebState, init_app
from bot.web.serving import listen, serving, url_of
from bot.web.webhook import WebhookFeed
from bot.worker import WorkerSupervisor, worker_env
from handlers.context import FEED_KEY, Desk
from handlers.menu import set_default_commands
from handoff.batch import BatchRunner
from handoff.database import make_engine, migrate, sqlite_path_exists
from handoff.erasure import AofRewriter
from handoff.experts import ExpertStore, NameTaken
from handoff.office_hours import OfficeHours
from handoff.outbox import Outbox
from handoff.pseudonyms import Pseudonyms
from handoff.service import HandoffService, Timeouts
from handoff.sessions import SessionStore
from handoff.states import StateStore
from handoff.tickets import HandoffStore
from handoff.users import UserStore
from knowledge import snapshot
from knowledge.asked import AskedStore
from knowledge.base import KnowledgeBase, Overlay, load_knowledge
from knowledge.editorial import Editorial
from knowledge.feedback import FeedbackStore
from knowledge.gaps import GapQueue
from knowledge.live import LiveKnowledge
from knowledge.revisions import RevisionStore
from knowledge.trends import TrendRecorder
from knowledge.triage import Triage
from locales import negotiate, translator

log = logging.getLogger(__name__)
WORKER_KEY = "worker"  # bot_data: the WorkerSupervisor, or None when run without a worker


KNOWLEDGE_DIR = Path(knowledge_package.__file__).parent
_TRAINED_WITH = ("numpy", "scikit-learn", "lingua-language-detector")  # distributions
TRAINING_TIMEOUT = 600  # seconds; ~2 s on an idle core, far longer on a busy small server


def _knowledge_key(overlay: Overlay | None = None) -> str:
    """Changes whenever the trained triage could: the knowledge code and data, the published
    edits, Python, the libraries that train it (their versions read without importing them)."""
    digest = hashlib.sha256()
    for path in sorted(KNOWLEDGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(KNOWLEDGE_DIR)).encode())
            digest.update(path.read_bytes())
    versions = (sys.version, *(metadata.version(name) for name in _TRAINED_WITH))
    digest.update(repr(versions).encode())
    if overlay:
        digest.update(_overlay_json(overlay).encode())
    return digest.hexdigest()[:24]


def _overlay_json(overlay: Overlay) -> str:
    return json.dumps({"snippets": overlay.snippets, "referrals": overlay.referrals},
                      ensure_ascii=False, sort_keys=True)


def load_knowledge_now(cache_dir: Path | None, overlay: Overlay | None = None,
                       validated: bool = False) -> tuple[KnowledgeBase, Triage]:
    """Load the knowledge (the seed files with the published edits) and the trained triage,
    from the cache under DATA_DIR when it matches (a restart then takes a fraction of a
    second instead of seconds of training). Blocking: run it in a thread.

    With a cache directory, a missing cache is trained in a child process, so this process
    never imports sklearn nor keeps the training's peak memory; without one, in-process."""
    if cache_dir is None:
        kb = load_knowledge(overlay=overlay)
        triage = Triage(kb)
    else:
        if overlay and not validated:  # a bad edit fails here, with the loader's message,
            load_knowledge(overlay=overlay)  # before any training
        path = cache_dir / f"triage-{_knowledge_key(overlay)}.pickle"
        try:
            kb, triage = snapshot.read(path)
            log.info("knowledge and triage loaded from the cache")
        except FileNotFoundError:
            kb, triage = _train_in_child(path, overlay)
        except Exception as exc:  # a cache from another version: train anew
            log.warning("ignoring the triage cache (%s)", type(exc).__name__)
            kb, triage = _train_in_child(path, overlay)
    triage.triage("warm up", None)  # first calls fill the stem caches
    return kb, triage



def _train_in_child(path: Path, overlay: Overlay | None = None,
                    ) -> tuple[KnowledgeBase, Triage]:
    """Train in `python -m knowledge.training`, which writes the cache, then load it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(snapshot.PATTERN):
        old.unlink(missing_ok=True)
    # The child imports the same code as this process, whatever its working directory.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, (str(KNOWLEDGE_DIR.parent), os.environ.get("PYTHONPATH"))))
    command = [sys.executable, "-m", "knowledge.training", "--write", str(path)]
    edits = path.with_suffix(".overlay.json")
    if overlay:
        write_private(edits, _overlay_json(overlay))
        command += ["--overlay", str(edits)]
    started = time.monotonic()
    try:
        # die_with_parent: a bot killed meanwhile takes the training with it (the signal is
        # tied to this thread, which waits here until the child ends).
        done = subprocess.run(
            command, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace", timeout=TRAINING_TIMEOUT, check=False,
            preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"training the triage took over {TRAINING_TIMEOUT} s") from exc
    finally:
        edits.unlink(missing_ok=True)
    for line in done.stderr.splitlines():
        log.warning("triage training: %s", line)
    if done.returncode != 0:
        raise RuntimeError(f"training the triage failed (exit status {done.returncode}); "
                           "its output is in the log above")
    log.info("triage trained in a child process in %.1f s", time.monotonic() - started)
    return snapshot.read(path)


_loading: concurrent.futures.Future[tuple[KnowledgeBase, Triage]] | None = None
_loading_lock = threading.Lock()


def start_loading_knowledge(
        cache_dir: Path | None = None) -> concurrent.futures.Future[tuple[KnowledgeBase, Triage]]:
    """Start loading (once per process) in a daemon thread: a stop while it still trains
    must not wait for it, as it would for the default executor at exit."""
    global _loading
    with _loading_lock:
        if _loading is not None:
            return _loading
        future: concurrent.futures.Future[tuple[KnowledgeBase, Triage]] = (
            concurrent.futures.Future())
        _loading = future

    def work() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(load_knowledge_now(cache_dir))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, name="vraagbaak-knowledge", daemon=True).start()
    return future


def knowledge() -> tuple[KnowledgeBase, Triage]:
    """Load and validate the knowledge and train the triage once per process (read-only)."""
    return start_loading_knowledge().result()


async def knowledge_async(cache_dir: Path | None = None, overlay: Overlay | None = None,
                          ) -> tuple[KnowledgeBase, Triage]:
    """The same, awaited off the event loop (started at once, shared by every caller)."""
    if overlay:  # the published edits of this desk's database: loaded for it alone
        return await asyncio.to_thread(load_knowledge_now, cache_dir, overlay)
    # Shielded: a cancelled caller must not cancel the shared loading for everyone.
    return await asyncio.shield(asyncio.wrap_future(start_loading_knowledge(cache_dir)))


def handoff_service(settings: Settings, redis: Redis,  # type: ignore[type-arg]
                    known: KnowledgeBase | LiveKnowledge,
                    clock: Callable[[], float] = time.time,
                    trends: TrendRecorder | None = None) -> HandoffService:
    """The handoff service and its stores, as every front door uses it (with `trends`, the
    ticket store also feeds the metrics and the dashboard's trend rows)."""
    def kb() -> KnowledgeBase:  # the published knowledge now
        return known.kb if isinstance(known, LiveKnowledge) else known

    ttl = settings.transcript_ttl_days * 24 * 3600
    tickets = HandoffStore(redis, clock, ttl) if trends is None else \
        ObservedHandoffStore(redis, clock, ttl).attach(trends)
    return HandoffService(
        redis=redis,
        tickets=tickets,
        experts=ExpertStore(redis, clock),
        states=StateStore(redis, clock),
        sessions=SessionStore(redis),
        office_hours=OfficeHours(settings.office_hours, settings.zone),
        zone=settings.zone,
        timeouts=Timeouts(
            unclaimed_alert=settings.unclaimed_alert_minutes * 60,
            remind=settings.expert_reminder_minutes * 60,
            requeue=settings.expert_requeue_minutes * 60,
            idle=settings.conversation_idle_hours * 3600,
            summary=settings.conversation_idle_hours * 3600),
        admin_ids=settings.admin_ids,
        topic_snippets=lambda topic: [s.id for s in kb().by_topic.get(topic, ())],
        resolve_snippet=lambda sid: snippet.id if (snippet := kb().resolve(sid)) else None,
    )


@contextlib.asynccontextmanager
async def desk_services(settings: Settings,
                        clock: Callable[[], float] = time.time) -> AsyncIterator[Desk]:
    """Redis (embedded unless a URL is set), the database, the published knowledge and the
    services built on them; publications are reloaded while the block runs."""
    private_dir(settings.data_dir)
    cache_dir = settings.data_dir / "cache"
    # A SQLite file that does not exist yet holds no edits (the web app creates its schema).
    fresh = not sqlite_path_exists(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    revisions = RevisionStore(engine)
    overlay = Overlay() if fresh else await _published_overlay(engine, revisions)
    # Trains (or reads the cache) while Redis starts.
    loading = asyncio.ensure_future(knowledge_async(cache_dir, overlay))
    try:
        async with redis_for_settings(settings) as redis, \
                instance_beating(instances := Instances(redis, settings.instance)), \
                aof_rewrites(redis, singletons := Lease(redis, SINGLETONS, settings.instance),
                             settings):
            trends = TrendRecorder(redis, settings.zone, clock)
            kb, triage = await loading
            # The generation counter is read after the overlay: a publication in between is
            # loaded again by the reloader (twice rather than never).
            live = LiveKnowledge(kb, triage, 0 if not overlay else -1)
            service = handoff_service(settings, redis, live, clock, trends)
            desk = Desk(
                settings=settings,
                redis=redis,
                users=UserStore(redis),
                pseudonyms=Pseudonyms(settings.secret(), clock, settings.zone),
                knowledge=live,
                feedback=FeedbackStore(redis),
                asked=AskedStore(redis, clock),
                handoff=service.tickets,
                experts=service.experts,
                sessions=service.sessions,
                office_hours=service.office_hours,
                states=service.states,
                service=service,
                outbox=Outbox(redis, service.tickets),
                trends=trends,
                batches=BatchRunner(redis),
                editorial=Editorial(revisions, redis, service.experts, settings.admin_ids),
                gaps=GapQueue(redis),
                instances=instances,
                singletons=singletons,
            )
            reloader = KnowledgeReloader(
                live, redis, revisions,
                # The reloader has validated the edits already (it serves them meanwhile).
                functools.partial(load_knowledge_now, cache_dir, validated=True))
            async with background(reloader.run, "vraagbaak-knowledge-reload"):
                yield desk
    finally:
        loading.cancel()
        await engine.dispose()


async def _published_overlay(engine: AsyncEngine, revisions: RevisionStore) -> Overlay:
    """The coordinators' published edits (the schema brought up to date first); none when the
    database cannot be reached: the desk then answers from the seed files, and the reloader
    loads the edits once the database is back (a publication needs it anyway)."""
    try:
        await migrate(engine)
        return await revisions.overlay()
    except (SQLAlchemyError, OSError) as exc:
        log.error("published knowledge unavailable, answering from the seed files: %s",
                  type(exc).__name__)
        return Overlay()


@contextlib.asynccontextmanager
async def background(run: Callable[[asyncio.Event], Awaitable[None]],
                     name: str) -> AsyncIterator[None]:
    """Run `run(stop)` as a task for the block; set `stop` and await it on the way out."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop), name=name)
    try:
        yield
    finally:
        stop.set()
        await task


def instance_beating(instances: Instances) -> contextlib.AbstractAsyncContextManager[None]:
    """Count this process among the live desk instances until the block ends."""
    return background(instances.run, "vraagbaak-instance-beat")


def aof_rewrites(redis: Redis, lease: Lease,  # type: ignore[type-arg]
                 settings: Settings) -> contextlib.AbstractAsyncContextManager[None]:
    """Rewrite Redis's append-only file (the primary's and every replica's) after deletions
    of personal data, on the instance holding `lease`, until the block ends (it stops within
    a second)."""
    rewriter = AofRewriter(redis, replica=functools.partial(node_client, settings))
    return background(functools.partial(hold, lease, rewriter.run), "vraagbaak-aof-rewrite")


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, desk: Desk, token: str,
                      webhook_secret: str | None = None) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The Application, started and fed until the block ends: by the webhook when
    VRAAGBAAK_WEBHOOK_URL is set (the web app must be serving by then), else by long polling."""
    app = build_application(settings, desk, token)
    feed: ReliablePoller | WebhookFeed
    multi = settings.instances == "multi"
    processor = app.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    if settings.webhook_url and webhook_secret:
        feed = WebhookFeed(app, desk.redis, settings.webhook_url, webhook_secret,
                           ALLOWED_UPDATES, partitions=settings.feed_partitions,
                           instance=settings.instance, multi=multi)
    else:
        # Telegram allows one getUpdates consumer: only the holder of this lease polls.
        feed = ReliablePoller(app, desk.redis, ALLOWED_UPDATES,
                              lease=Lease(desk.redis, POLLING_LEASE, settings.instance),
                              seize=not multi)
    app.bot_data[FEED_KEY] = feed  # handlers mark an update inside their own transaction
    processor.on_done = feed.mark_done
    processor.still_ours = feed.still_ours
    if settings.flood_messages:
        processor.flood = FloodGate(settings.flood_messages, settings.flood_seconds)
        processor.is_exempt = desk.service.may_write_fast

        async def tell_flooder(update: Update) -> None:
            user, chat = update.effective_user, update.effective_chat
            if chat is None or chat.type != ChatType.PRIVATE:
                return
            tr = translator(negotiate(user.language_code if user else None,
                                      settings.default_locale))
            try:
                await app.bot.send_message(chat.id, tr._(
                    "You are sending many messages in a short time. I read along again in a "
                    "few seconds; what you send until then is not handled."))
            except TelegramError as exc:
                log.warning("could not send the flood notice: %s", type(exc).__name__)

        processor.on_flood = tell_flooder
    # The poller's error handler must run before the others: a Redis outage is retried, not
    # apologised for (it raises ApplicationHandlerStop so the later ones are skipped).
    if isinstance(feed, ReliablePoller):
        others = dict(app.error_handlers)
        app.error_handlers.clear()
        app.add_error_handler(feed.on_error)
        app.error_handlers.update(others)
    async with app:
        # post_init hooks only run under run_polling(); we start the parts ourselves.
        await set_default_commands(app.bot, settings.default_locale)
        await app.start()
        await feed.start()
        try:
            yield app
        finally:
            await stop_bot(app, feed, processor)


async def stop_bot(app: Application, feed: ReliablePoller | WebhookFeed,  # type: ignore[type-arg]
                   processor: PerChatUpdateProcessor, grace: float = 3.0) -> None:
    """Stop in a bounded time: fetching first, then handling (what has not started stays
    unconfirmed for the next start; running handlers get `grace` seconds), then the jobs."""
    started = time.monotonic()
    await feed.stop()
    await processor.drain(grace)
    await feed.flush()
    jobs = app.job_queue
    if jobs is not None and jobs.scheduler.running:
        jobs.scheduler.pause()
        # A sweep still running gets the same grace; JobQueue.stop(wait=False) cancels it.
        running = set(getattr(jobs._executor, "_pending_futures", ()))
        if running:
            await asyncio.wait(running, timeout=grace)
        await jobs.stop(wait=False)
    try:
        await asyncio.wait_for(app.stop(), timeout=grace + 2)
    except TimeoutError:
        log.error("the application did not stop within %.0f s", grace + 2)
    log.info("bot stopped in %.2f s", time.monotonic() - started)


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


class StopSignal:
    """SIGINT/SIGTERM: once running, end `wait()`; while still starting, cancel the start-up
    (loading the knowledge takes seconds, and a stop must not wait for it)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._main = asyncio.current_task()
        self._running = False
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        log.info("stop requested%s", "" if self._running else " during start-up")
        self._event.set()
        self._cancel_start_up()

    def _cancel_start_up(self) -> None:
        # Repeated: a cancel landing inside redis-py's `asyncio.wait_for` can be swallowed on
        # Python 3.11, and start-up would then run on to the end.
        if not self._running and self._main is not None and not self._main.done():
            self._main.cancel()
            asyncio.get_running_loop().call_later(0.2, self._cancel_start_up)

    async def wait(self) -> None:
        """Mark start-up as done and wait for the signal."""
        self._running = True
        await self._event.wait()


def _stop_event() -> StopSignal:
    return StopSignal()


@contextlib.asynccontextmanager
async def summariser_child(settings: Settings, enabled: bool,
                           ) -> AsyncIterator[WorkerSupervisor | None]:
    """The summariser worker as a supervised child process (it needs ~1 GB, so not in the bot
    process). It loads in the background; nothing waits for it. On the way out it is asked
    to stop at once, and waited for (bounded) only after the blocks inside it have ended, so
    it stops while the bot stops."""
    if not enabled:
        yield None
        return
    supervisor = WorkerSupervisor(redis_url_for(settings.redis_url, settings.data_dir),
                                  env=worker_env(settings))
    try:
        yield supervisor
    finally:
        await supervisor.stop()


@contextlib.asynccontextmanager
async def worker_running(supervisor: WorkerSupervisor | None) -> AsyncIterator[None]:
    """Spawn the worker for the block (the bot already answers); ask it to stop at the end."""
    if supervisor is not None:
        supervisor.start()
    try:
        yield
    finally:
        if supervisor is not None:
            supervisor.terminate()


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends with each webhook call: derived from the desk's secret key,
    so every desk process behind one URL (sharing VRAAGBAAK_SECRET_KEY) accepts the same
    calls, and the last one to call setWebhook does not lock the others out."""
    digest = hmac.new(settings.secret(), b"telegram-webhook-secret", hashlib.sha256)
    return digest.hexdigest()[:64]


async def run(settings: Settings, with_worker: bool = True) -> None:
    """`vraagbaak run`: the desk against Telegram (or a self-hosted Bot API server)."""
    assert settings.telegram_token is not None
    stop = _stop_event()
    state = WebState(webhook_secret=webhook_secret(settings) if settings.webhook_url else None,
                     expect_worker=with_worker)
    # The worker is spawned once the bot answers, so its loading never delays the bot.
    async with desk_services(settings) as desk, serving(
        init_app(settings, desk, state), listen(settings.web_host, settings.web_port)
    ), summariser_child(settings, with_worker) as worker, running_bot(
        settings, desk, settings.telegram_token.get_secret_value(), state.webhook_secret
    ) as app, worker_running(worker):
        app.bot_data[WORKER_KEY] = worker  # worker.status()
        state.bot_username = app.bot.username
        state.feed_status = app.bot_data[FEED_KEY].status
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
            state.feed_status = app.bot_data[FEED_KEY].status
            yield DemoDesk(sandbox, url, demo_settings, desk, app, state)


DEMO_COORDINATOR = 1003  # the chat page's Expert pane (bot/sandbox/page.html)


async def demo(settings: Settings, host: str, port: int, with_worker: bool = True) -> None:
    """`vraagbaak demo`: the same desk against the local sandbox, with a chat page."""
    stop = _stop_event()
    if not settings.admin_ids:
        # Someone has to be able to try the coordinator's side (the knowledge editor, the
        # expert pool): the Expert pane, unless VRAAGBAAK_ADMIN_IDS names others.
        settings = settings.model_copy(update={"admin_ids": [DEMO_COORDINATOR]})
    # The worker is spawned once the bot answers and waited for only after the bot stopped.
    async with summariser_child(settings, with_worker) as worker, demo_desk(
        settings, host, port, with_worker
    ) as ready, worker_running(worker):
        ready.app.bot_data[WORKER_KEY] = worker  # worker.status()
        # A ready invite, so the page's expert pane can join the pool straight away.
        try:
            code = await ready.desk.experts.create_invite("Marieke", (), ("nl", "en"))
            join = f"To act as an expert, send in the Expert pane: /start inv_{code}"
        except NameTaken:  # a data directory kept from an earlier demo: she joined then
            join = "Marieke is already in the expert pool (the Expert pane)"
        print(f"Vraagbaak sandbox: open {ready.url}/ in your browser (Ctrl+C stops)\n"
              f"{join}\n"
              f"Then send /dashboard there for a link to {ready.url}/dashboard (the Expert "
              "pane is also the demo's coordinator: the knowledge editor is under Kennis)",
              flush=True)
        await stop.wait()
