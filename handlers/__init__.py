"""Telegram handlers: the only package that imports `telegram` (besides the composition root)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, TypeHandler

from handlers import (
    ask,
    consent,
    errors,
    expert,
    fallback,
    handoff,
    membership,
    once,
    router,
    start,
    topics,
)
from handlers.context import load_profile

# Handler groups: the prelude runs first for every update (it stops updates without a person
# and presses on messages the desk cannot read, and otherwise never stops processing);
# the once-guard then swallows a repeated press of a send-once button (handlers.once);
# all features share the main group, where the first matching handler wins, so the deep-link
# /start handlers (expert invites, topics) register before the plain /start, the text router
# after every command, and `fallback` last.
GROUP_PRELUDE = -10
GROUP_ONCE = -5
GROUP_MAIN = 0
SWEEP_SECONDS = 20
OUTBOX_SECONDS = 2


def register_all(app: Application) -> None:  # type: ignore[type-arg]
    """Register every handler in the order the groups above describe."""
    app.add_handler(TypeHandler(Update, load_profile), group=GROUP_PRELUDE)
    app.add_handler(CallbackQueryHandler(once.guard, pattern=once.ONCE_PATTERN),
                    group=GROUP_ONCE)
    for module in (expert, handoff, topics, ask, consent, start, router, membership,
                   fallback):
        module.register(app)
    app.add_error_handler(errors.on_error)  # type: ignore[arg-type]
    assert app.job_queue is not None
    app.job_queue.run_repeating(expert.sweep, interval=SWEEP_SECONDS, first=SWEEP_SECONDS,  # type: ignore[arg-type]
                                name="handoff-sweep")
    app.job_queue.run_repeating(expert.deliver_outbox, interval=OUTBOX_SECONDS,  # type: ignore[arg-type]
                                first=OUTBOX_SECONDS, name="handoff-outbox")
