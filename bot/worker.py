"""The summariser worker process (`vraagbaak worker`), started and supervised by the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from bot.processes import die_with_parent
from bot.redis_server import redis_for_settings
from bot.settings import Settings

log = logging.getLogger(__name__)
FEEDBACK_EVERY_SECONDS = 60
HEARTBEAT_TTL_SECONDS = 30
EXIT_CONFIG = 2  # the worker cannot start with this configuration (e.g. the database URL)


def heartbeat_key(instance: str) -> str:
    """The worker of desk instance `instance` proves it is alive with this key; that
    instance's /healthz reports it down once the key expires."""
    return f"vb:worker:heartbeat:{instance}"


async def run_worker(settings: Settings) -> int:
    """Load the anonymiser once, migrate the database, then summarise until stopped.

    Until it is ready, SIGTERM and SIGINT keep their default action (end the process at
    once): there is nothing to finish yet, and a loading worker must not hold up a stop."""
    # Imported here: the bot process imports this module only to spawn the worker.
    from handoff.database import make_engine, migrate
    from handoff.summaries import Summariser, SummaryWriter
    from handoff.trends import TrendWriter
    from knowledge import keys as knowledge_keys
    from knowledge.anonymise import Anonymiser
    from knowledge.base import KnowledgeError, load_knowledge
    from knowledge.feedback import FeedbackStore
    from knowledge.gaps import GapStore, GapWriter
    from knowledge.revisions import RevisionStore

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    started = time.monotonic()
    try:
        engine = make_engine(settings.sqlalchemy_url)
        await migrate(engine)
    except Exception as exc:
        # One clear line, no traceback and no URL (it may hold a password).
        print(f"vraagbaak worker: cannot use the database: {type(exc).__name__}: "
              f"{_first_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    anonymiser = await asyncio.to_thread(Anonymiser)
    # The published knowledge: a summary's secondary topics are its cards' topics. Reloaded
    # (validation only, no training) when a publication raises the generation.
    revisions = RevisionStore(engine)
    kb = load_knowledge(overlay=await revisions.overlay())
    generation = -1
    log.info("summariser worker loaded in %.1f s", time.monotonic() - started)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with redis_for_settings(settings, reuse_running=True) as redis:
            heartbeat = heartbeat_key(settings.instance)  # the desk instance that spawned it
            writer = SummaryWriter(
                engine, anonymiser, settings.secret(), settings.zone,
                lambda sid: [t.value for t in card.topics] if (card := kb.resolve(sid))
                else [])
            # Unique across hosts too: several machines' workers share one consumer group.
            consumer = f"worker-{socket.gethostname()}-{os.getpid()}"
            summariser = Summariser(redis, writer, consumer=consumer,
                                    ttl_seconds=settings.transcript_ttl_days * 24 * 3600)
            feedback = FeedbackStore(redis)
            trends = TrendWriter(redis, engine, consumer=consumer)
            gaps = GapWriter(redis, engine, anonymiser, consumer=consumer)
            last_copy = 0.0

            async def each_round() -> None:
                nonlocal last_copy, kb, generation
                published = int(await redis.get(knowledge_keys.knowledge_generation()) or 0)
                # The first round reloads only if something was published before it.
                if generation != published and (generation, published) != (-1, 0):
                    try:
                        kb = await asyncio.to_thread(
                            lambda overlay: load_knowledge(overlay=overlay),
                            await revisions.overlay())
                    except KnowledgeError as exc:  # the desk refuses it too: keep the old
                        log.warning("published knowledge not loaded: %s", type(exc).__name__)
                generation = published
                # Between summary jobs: the dashboard's trend rows, and a sign of life.
                await trends.run_once()
                await gaps.run_once()  # consented questions, anonymised into SQL
                await redis.set(heartbeat, repr(time.time()), ex=HEARTBEAT_TTL_SECONDS)
                if time.monotonic() - last_copy > FEEDBACK_EVERY_SECONDS:
                    await writer.copy_feedback(await feedback.counts())
                    await GapStore(engine).expire()  # kept KEEP_DAYS, then gone
                    last_copy = time.monotonic()

            log.info("summariser worker ready")
            await summariser.run(stop, each_round)
            with contextlib.suppress(Exception):
                await redis.delete(heartbeat)
    finally:
        await engine.dispose()
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no details"


WORKER_NICENESS = 10


def _worker_preexec() -> None:
    # The worker's ~20 s of loading must not slow the bot's start or its answers: it runs
    # at a lower CPU priority, and dies with the bot.
    os.nice(WORKER_NICENESS)
    die_with_parent()


def worker_env(settings: Settings) -> dict[str, str]:
    """What a desk instance tells its worker beyond its own environment (its settings may
    come from a .env file or from code): whose worker it is, and how to reach Redis."""
    env = {"VRAAGBAAK_INSTANCE_ID": settings.instance}
    if settings.redis_sentinels:
        env |= {"VRAAGBAAK_REDIS_SENTINELS": ",".join(settings.redis_sentinels),
                "VRAAGBAAK_REDIS_SENTINEL_SERVICE": settings.redis_sentinel_service,
                "VRAAGBAAK_REDIS_TLS": "true" if settings.redis_tls else "false"}
    for name, secret in (("VRAAGBAAK_REDIS_PASSWORD", settings.redis_password),
                         ("VRAAGBAAK_REDIS_SENTINEL_PASSWORD",
                          settings.redis_sentinel_password)):
        if secret is not None:
            env[name] = secret.get_secret_value()
    return env


def spawn_worker(redis_url: str,
                 extra_env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `vraagbaak worker` as a child that dies with us, on the same Redis (with
    `extra_env` from `worker_env`: through the same Sentinels, as this instance's worker)."""
    # The worker never talks to Telegram: it does not get the token.
    env = {name: value for name, value in os.environ.items()
           if name != "VRAAGBAAK_TELEGRAM_TOKEN"}
    env["VRAAGBAAK_REDIS_URL"] = redis_url
    env.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"], env=env, stdin=subprocess.DEVNULL,
        preexec_fn=_worker_preexec)


@dataclass
class WorkerStatus:
    """What /healthz and the logs can tell about the summariser child."""

    state: str  # "starting", "running", "restarting", "failed-config", "stopped"
    pid: int | None
    restarts: int
    last_exit: int | None


class WorkerSupervisor:
    """Runs the summariser child; restarts it with backoff when it dies; stops it bounded.

    The child is spawned from the event loop's thread (PR_SET_PDEATHSIG fires when the
    spawning *thread* ends, so never from a worker thread)."""

    def __init__(self, redis_url: str, min_backoff: float = 1.0, max_backoff: float = 60.0,
                 poll_seconds: float = 0.2, env: Mapping[str, str] | None = None) -> None:
        self.redis_url = redis_url
        self.env = dict(env or {})
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.poll_seconds = poll_seconds
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self.state = "stopped"
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def status(self) -> WorkerStatus:
        """The child's state now."""
        pid = self.proc.pid if self.proc is not None and self.proc.poll() is None else None
        return WorkerStatus(self.state, pid, self.restarts, self.last_exit)

    def start(self) -> None:
        """Spawn the child now and watch it."""
        self._stopping = False
        self._spawn()
        self._task = asyncio.create_task(self._watch(), name="vraagbaak-worker-supervisor")

    def _spawn(self) -> None:
        self.proc = spawn_worker(self.redis_url, self.env)
        self.state = "running" if self.restarts == 0 else "starting"
        self._started = time.monotonic()

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        if not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)

    async def _watch(self) -> None:
        backoff = self.min_backoff
        while not self._stopping:
            assert self.proc is not None
            code = self.proc.poll()
            if code is None:
                if time.monotonic() - self._started > 60:
                    backoff = self.min_backoff  # it ran a while: the next death starts over
                await self._sleep(self.poll_seconds)
                continue
            if self._stopping:
                break
            self.last_exit = code
            if code == EXIT_CONFIG:
                self.state = "failed-config"
                log.error("the summariser worker cannot start with this configuration (exit "
                          "%d, see its message above); retrying in %.0f s", code, backoff)
            else:
                self.state = "restarting"
                log.error("the summariser worker died (exit %d); restarting in %.0f s", code,
                          backoff)
            await self._sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)
            if self._stopping:
                break
            self.restarts += 1
            self._spawn()

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM) without waiting; no restart after this."""
        self._stopping = True
        self._wake.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    async def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL; always reaps the child."""
        self.terminate()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        proc = self.proc
        if proc is not None:
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                log.warning("the summariser worker did not stop in %.0f s; killing it", timeout)
                proc.kill()
                proc.wait()
        self.state = "stopped"
