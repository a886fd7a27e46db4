"""Buttons that must act once: a second press of the same button on the same message (a double
tap, an impatient retry) is answered with a short notice instead of sending the same again.

`first_press` is the shared check; `guard` applies it ahead of the feature handlers to the
buttons listed in `ONCE_PATTERN` (➕ more snippets and 'Talk to an expert')."""

from __future__ import annotations

import hashlib
import logging

from redis.asyncio import Redis
from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.ask import EXPERT, SHOW
from handlers.context import DeskContext

log = logging.getLogger(__name__)

ONCE_TTL_SECONDS = 120  # long enough for double taps and retries, short enough to forget
ONCE_PATTERN = rf"^(?:{SHOW}|{EXPERT}$)"


def press_key(user_id: int, message_id: int, data: str) -> str:
    """Redis key marking that this user pressed this button on this message."""
    digest = hashlib.sha256(f"{user_id}:{message_id}:{data}".encode()).hexdigest()[:32]
    return f"vb:once:{digest}"


async def first_press(redis: Redis, user_id: int, message_id: int, data: str) -> bool:
    """True the first time (user, message, button) is seen within the TTL, then False."""
    return bool(await redis.set(press_key(user_id, message_id, data), 1, nx=True,
                                ex=ONCE_TTL_SECONDS))


async def guard(update: Update, context: DeskContext) -> None:
    """Stop a repeated press before any feature handler sends anything."""
    query = update.callback_query
    user = update.effective_user
    if query is None or query.data is None or query.message is None or user is None:
        return
    if await first_press(context.desk.redis, user.id, query.message.message_id, query.data):
        return
    log.info("repeated press ignored user=%s", context.log_id(update))
    await query.answer(context.tr._("Already sent: see above."))
    raise ApplicationHandlerStop
