"""The summariser worker process (`vraagbaak worker`), started beside the bot by default."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

from bot.processes import die_with_parent, stop_process
from bot.redis_server import redis_for
from bot.settings import Settings

log = logging.getLogger(__name__)
FEEDBACK_EVERY_SECONDS = 60
# The worker proves it is alive with this key; /healthz reports it down once the key expires.
HEARTBEAT_KEY = "vb:worker:heartbeat"
HEARTBEAT_TTL_SECONDS = 30


async def run_worker(settings: Settings) -> None:
    """Load the anonymiser once, migrate the database, then summarise until stopped."""
    # Imported here: the bot process imports this module only to spawn the worker.
    from handoff.database import make_engine, migrate
    from handoff.summaries import Summariser, SummaryWriter
    from handoff.trends import TrendWriter
    from knowledge.anonymise import Anonymiser
    from knowledge.base import load_knowledge
    from knowledge.feedback import FeedbackStore

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    anonymiser = await asyncio.to_thread(Anonymiser)
    log.info("anonymiser loaded in %.1f s", time.monotonic() - started)
    kb = load_knowledge()
    engine = make_engine(settings.sqlalchemy_url)
    await migrate(engine)
    try:
        async with redis_for(settings.redis_url, settings.data_dir, reuse_running=True) as redis:
            writer = SummaryWriter(
                engine, anonymiser, settings.secret(), settings.zone,
                lambda sid: [t.value for t in kb.snippets[sid].topics] if sid in kb.snippets
                else [])
            summariser = Summariser(redis, writer, consumer=f"worker-{os.getpid()}")
            feedback = FeedbackStore(redis)
            trends = TrendWriter(redis, engine, consumer=f"worker-{os.getpid()}")
            last_copy = 0.0

            async def copy_feedback() -> None:
                nonlocal last_copy
                # Between summary jobs: the dashboard's trend rows, and a sign of life.
                await trends.run_once()
                await redis.set(HEARTBEAT_KEY, repr(time.time()), ex=HEARTBEAT_TTL_SECONDS)
                if time.monotonic() - last_copy > FEEDBACK_EVERY_SECONDS:
                    await writer.copy_feedback(await feedback.counts())
                    last_copy = time.monotonic()

            log.info("summariser worker ready")
            await summariser.run(stop, copy_feedback)
    finally:
        await engine.dispose()


def spawn_worker(redis_url: str) -> subprocess.Popen[bytes]:
    """Start `vraagbaak worker` as a child that dies with us, on the same Redis."""
    env = dict(os.environ, VRAAGBAAK_REDIS_URL=redis_url)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"], env=env, stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """Ask the worker to finish its current job and wait for it."""
    stop_process(proc, timeout=15)
