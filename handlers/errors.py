"""The error handler: log without personal data, apologise in the user's language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut

from bot import metrics
from handlers.context import DeskContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: DeskContext) -> None:
    """Log the failure (type and place only) and tell the user we could not handle it."""
    error = context.error
    metrics.ERRORS.labels(kind=type(error).__name__).inc()
    if isinstance(error, Forbidden):
        log.info("user blocked the bot user=%s", context.log_id(update))
        return
    kind = type(update).__name__ if update is not None else "none"
    if isinstance(error, (TimedOut, NetworkError)) and not isinstance(error, BadRequest):
        log.warning("network error %s while handling %s", type(error).__name__, kind)
    else:
        log.error("error while handling %s user=%s", kind, context.log_id(update),
                  exc_info=error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(
                update.effective_chat.id,
                context.tr._("Sorry, something went wrong on our side. Please try again in a "
                             "moment. In acute danger, call 112."))
        except Exception:
            log.warning("could not send the apology")
