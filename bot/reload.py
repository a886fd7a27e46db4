"""Publications reach every running desk process: a watcher notices the generation counter
in Redis, loads the published knowledge and retrains the triage (in the training child
process, as at start-up), and swaps it in; a failed reload keeps the old version and says
why on the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from knowledge import keys
from knowledge.base import KnowledgeBase, KnowledgeError, Overlay, load_knowledge
from knowledge.live import LiveKnowledge
from knowledge.revisions import RevisionStore
from knowledge.triage import Triage

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0

Loader = Callable[[Overlay], tuple[KnowledgeBase, Triage]]
Validator = Callable[[Overlay], KnowledgeBase]


class KnowledgeReloader:
    """Watches for publications and swaps the new knowledge in."""

    def __init__(self, live: LiveKnowledge, redis: Redis, revisions: RevisionStore,
                 load: Loader, poll: float = POLL_SECONDS,
                 validate: Validator = lambda overlay: load_knowledge(overlay=overlay),
                 ) -> None:
        self.live = live
        self.redis = redis
        self.revisions = revisions
        self.load = load
        self.validate = validate
        self.poll = poll
        self.failed: int | None = None  # a generation that failed is not retried in a loop

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `poll` seconds until `stop` is set (it ends within a poll)."""
        while not stop.is_set():
            try:
                await self.check()
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("knowledge reload check failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll)

    async def check(self) -> bool:
        """Reload if a publication happened since the current version; True if swapped."""
        generation = int(await self.redis.get(keys.knowledge_generation()) or 0)
        if generation == self.live.current.generation or generation == self.failed:
            return False
        started = time.monotonic()
        overlay = await self.revisions.overlay()
        previous = self.live.current
        try:
            # Seconds, not the retrain's tens: an edit of the same cards is served at once
            # with the trained models rebound to it, and then again once retrained on it.
            kb = await asyncio.to_thread(self.validate, overlay)
            quick = self.live.current.triage.rebound(kb)
            if quick is not None:
                self.live.swap(kb, quick, generation, trained=False)
                await self._status(generation, "ok", time.monotonic() - started, "")
                log.info("knowledge generation %s live (retraining) after %.1f s",
                         generation, time.monotonic() - started)
            kb, triage = await asyncio.to_thread(self.load, overlay)
        except (KnowledgeError, RuntimeError, OSError) as exc:
            self.live.current = previous  # all or nothing: what the page says is served
            self.failed = generation
            log.error("knowledge generation %s not loaded, the old one stays: %s", generation,
                      type(exc).__name__)
            await self._status(generation, "failed", time.monotonic() - started,
                               str(exc)[:500])
            return False
        # A publication during the load is picked up by the next check.
        self.live.swap(kb, triage, generation)
        self.failed = None
        seconds = time.monotonic() - started
        log.info("knowledge generation %s live after %.1f s", generation, seconds)
        await self._status(generation, "ok", seconds, "")
        return True

    async def _status(self, generation: int, outcome: str, seconds: float,
                      reason: str) -> None:
        await self.redis.hset(keys.knowledge_status(), mapping={
            "generation": generation, "outcome": outcome, "seconds": f"{seconds:.1f}",
            "reason": reason, "at": int(time.time())})
