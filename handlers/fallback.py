"""Polite answers to everything the desk does not handle: media, edits, unknown commands."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from handlers.context import DeskContext

log = logging.getLogger(__name__)


async def unknown_command(update: Update, context: DeskContext) -> None:
    """An unknown /command."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        context.tr._("I don't know that command. /help lists what I can do."))


async def not_text(update: Update, context: DeskContext) -> None:
    """Stickers, photos, voice notes, files, locations…"""
    if update.effective_message is None or update.effective_user is None:
        return
    in_conversation = await context.desk.service.in_conversation(update.effective_user.id)
    if in_conversation:
        text = context.tr._("Photos, voice messages and files are not passed on in a "
                            "conversation: they can contain personal details and the desk "
                            "keeps only text. Please describe it in a message.")
    else:
        text = context.tr._("I can only read text messages. Please type your question; and "
                            "please don't send photos or files with personal details.")
    await update.effective_message.reply_text(text)


async def edited(update: Update, context: DeskContext) -> None:
    """Edits of earlier messages are not picked up; say so instead of ignoring silently."""
    assert update.edited_message is not None
    await update.edited_message.reply_text(
        context.tr._("I don't read edited messages. Please send your text again as a new "
                     "message."))


async def stale_button(update: Update, context: DeskContext) -> None:
    """A button nobody handles any more (old message, forged data)."""
    query = update.callback_query
    assert query is not None
    log.info("unhandled callback user=%s", context.log_id(update))
    await query.answer(context.tr._("This button is no longer valid."), show_alert=True)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the fallbacks; they must come after every feature's handlers."""
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, edited))
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(~filters.TEXT & filters.UpdateType.MESSAGE, not_text))
    app.add_handler(CallbackQueryHandler(stale_button))
