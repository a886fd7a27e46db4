"""The desk's Bot: python-telegram-bot's ExtBot with Telegram's harmless answers taken as such.

Real Telegram refuses to answer a callback query that waited too long ("query is too old",
"query ID is invalid": after a restart, a replay of kept updates, a slow network) and refuses an
edit that changes nothing ("message is not modified": a double tap). Neither means the
operation failed; raised as errors they would end a handler half-way, with its notices unsent
and a generic apology instead. Here they are logged at INFO and treated as done, for every
caller at once. An edit of a message that is gone (the user deleted it) or too old to edit
("message to edit not found", "message can't be edited") sends the new text as a new message
instead, so what the edit was to say is not lost; a keyboard edit of such a message is done
(there is nothing left to press)."""

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
_NOT_EDITABLE = ("message to edit not found", "message can't be edited")


def is_expired_query(error: BaseException) -> bool:
    """Telegram's answer to a callback query answered too late (or never known)."""
    return isinstance(error, BadRequest) and any(
        phrase in error.message.lower() for phrase in _EXPIRED_QUERY)


def is_not_modified(error: BaseException) -> bool:
    """Telegram's answer to an edit that would change nothing."""
    return isinstance(error, BadRequest) and _NOT_MODIFIED in error.message.lower()


def is_not_editable(error: BaseException) -> bool:
    """Telegram's answer to an edit of a message that is gone or too old to edit."""
    return isinstance(error, BadRequest) and any(
        phrase in error.message.lower() for phrase in _NOT_EDITABLE)


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

    async def edit_message_text(self, text: str, chat_id: int | str | None = None,
                                *args: Any, **kwargs: Any) -> Message | bool:
        try:
            return await _done_if_unchanged(super().edit_message_text(text, chat_id, *args,
                                                                      **kwargs))
        except BadRequest as exc:
            if not is_not_editable(exc) or chat_id is None:
                raise
            log.info("message no longer editable: its new text is sent as a new message")
            keep = {k: v for k, v in kwargs.items()
                    if k in ("parse_mode", "reply_markup", "entities", "link_preview_options")}
            return await self.send_message(chat_id, text, **keep)

    async def edit_message_reply_markup(self, *args: Any, **kwargs: Any) -> Message | bool:
        try:
            return await _done_if_unchanged(super().edit_message_reply_markup(*args, **kwargs))
        except BadRequest as exc:
            if not is_not_editable(exc):
                raise
            log.info("message no longer editable: its keyboard is left as it is")
            return True


async def _done_if_unchanged(edit: Awaitable[Message | bool]) -> Message | bool:
    """An edit's result; True when Telegram says it would change nothing."""
    try:
        return await edit
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise
        return True
