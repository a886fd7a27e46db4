"""The desk's Bot: python-telegram-bot's ExtBot with Telegram's harmless answers taken as such.

Real Telegram refuses to answer a callback query that waited too long ("query is too old",
"query ID is invalid": after a restart, a replay of kept updates, a slow network) and refuses an
edit that changes nothing ("message is not modified": a double tap). Neither means the
operation failed; raised as errors they would end a handler half-way, with its notices unsent
and a generic apology instead. Here they are logged at INFO and treated as done, for every
caller at once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Message
from telegram.error import BadRequest
from telegram.ext import ExtBot

log = logging.getLogger(__name__)

_EXPIRED_QUERY = ("query is too old", "query id is invalid")
_NOT_MODIFIED = "message is not modified"


def is_expired_query(error: BaseException) -> bool:
    """Telegram's answer to a callback query answered too late (or never known)."""
    return isinstance(error, BadRequest) and any(
        phrase in error.message.lower() for phrase in _EXPIRED_QUERY)


def is_not_modified(error: BaseException) -> bool:
    """Telegram's answer to an edit that would change nothing."""
    return isinstance(error, BadRequest) and _NOT_MODIFIED in error.message.lower()


class DeskBot(ExtBot[Any]):
    """ExtBot that takes an expired callback query and an unchanged edit as done."""

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().answer_callback_query(*args, **kwargs)
        except BadRequest as exc:
            if not is_expired_query(exc):
                raise
            log.info("callback query expired before it was answered")
            return False

    async def edit_message_text(self, *args: Any, **kwargs: Any) -> Message | bool:
        return await _done_if_unchanged(super().edit_message_text(*args, **kwargs))

    async def edit_message_reply_markup(self, *args: Any, **kwargs: Any) -> Message | bool:
        return await _done_if_unchanged(super().edit_message_reply_markup(*args, **kwargs))


async def _done_if_unchanged(edit: Awaitable[Message | bool]) -> Message | bool:
    """An edit's result; True when Telegram says it would change nothing."""
    try:
        return await edit
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise
        return True
