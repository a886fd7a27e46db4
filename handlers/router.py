"""Plain text goes to whatever the person is in the middle of, as the handoff service decides
from their state: an expert's step or reply, an asker's comment or message to the expert; and
otherwise it is a new question."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler

from handlers.ask import on_question
from handlers.context import PLAIN_TEXT, DeskContext
from handlers.notify import answer


async def on_text(update: Update, context: DeskContext) -> None:
    """Route one plain text message."""
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None or message.text is None:
        return
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    result = await context.desk.service.text(user.id, message.text, reply_to, context.route)
    if result is not None:
        await answer(context, update, result)
        return
    await on_question(update, context)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """The catch-all for plain text; registered after every command handler."""
    app.add_handler(MessageHandler(PLAIN_TEXT, on_text))
