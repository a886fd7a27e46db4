"""Telegram handlers: the only package that imports `telegram` (besides the composition root)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from handlers import ask, errors, fallback, start, topics
from handlers.context import load_profile

# Handler groups: the prelude runs first for every update and never stops processing;
# all features share the main group, where the first matching handler wins, so feature
# modules register before `start` (deep links) and `fallback` comes last.
GROUP_PRELUDE = -10
GROUP_MAIN = 0


def register_all(app: Application) -> None:  # type: ignore[type-arg]
    """Register every handler in the order the groups above describe."""
    app.add_handler(TypeHandler(Update, load_profile), group=GROUP_PRELUDE)
    for module in (topics, ask, start):
        module.register(app)
    ask.register_text(app)
    fallback.register(app)
    app.add_error_handler(errors.on_error)  # type: ignore[arg-type]
