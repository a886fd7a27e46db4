"""The desk works in private chats only: in a group or channel it says so once and leaves."""

from __future__ import annotations

import contextlib
import logging

from redis.exceptions import RedisError
from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from handlers.context import DeskContext
from locales import negotiate, translator

log = logging.getLogger(__name__)

# Before every other group, the prelude included: nothing from a group is read, triaged,
# queued or relayed, and no profile is loaded for it.
GROUP_PRIVATE_ONLY = -100
NOTICE_TTL_SECONDS = 24 * 3600


def notice_key(chat_id: int) -> str:
    """Set while the 'private chats only' notice was sent to a group, so it is said once."""
    return f"vb:group_notice:{chat_id}"


async def refuse_group(update: Update, context: DeskContext) -> None:
    """Anything from a group, supergroup or channel: one polite notice, then leave."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    user = update.effective_user
    lang = negotiate(user.language_code if user else None,
                     context.desk.settings.default_locale)
    try:
        first = await context.desk.redis.set(notice_key(chat.id), 1, nx=True,
                                             ex=NOTICE_TTL_SECONDS)
    except RedisError:
        first = True
    try:
        if first:
            await context.bot.send_message(chat.id, translator(lang)._(
                "Vraagbaak only works in a private chat. Send me a direct message at "
                "@{username}; I am leaving this chat now.").format(
                    username=context.bot.username))
        await context.bot.leave_chat(chat.id)
    except TelegramError as exc:
        log.info("could not leave a %s chat: %s", chat.type, type(exc).__name__)
    else:
        log.info("left a %s chat", chat.type)
    raise ApplicationHandlerStop


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the group refusal before every other handler."""
    app.add_handler(TypeHandler(Update, refuse_group), group=GROUP_PRIVATE_ONLY)
