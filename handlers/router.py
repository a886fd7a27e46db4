"""Plain text goes to whatever the person is in the middle of: an awaited answer, a
conversation with an expert (either side), or otherwise a new question."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from handlers.ask import on_question
from handlers.context import DeskContext
from handlers.expert import relay_from_expert, save_summary
from handlers.handoff import relay_from_user, save_comment
from handoff.users import Role


async def on_text(update: Update, context: DeskContext) -> None:
    """Route one plain text message."""
    user = update.effective_user
    assert user is not None
    desk = context.desk
    pending = await desk.sessions.expected(user.id)
    if pending:
        kind, _, rest = pending.partition(":")
        if kind == "summary":
            ticket_id, _, outcome = rest.rpartition(":")
            await save_summary(update, context, ticket_id, outcome)
            return
        if kind == "comment":
            await save_comment(update, context, rest)
            return
    if context.profile is not None and context.profile.role is Role.EXPERT:
        await relay_from_expert(update, context)
        return
    ticket = await desk.handoff.ticket_of_user(user.id)
    if ticket is not None:
        await relay_from_user(update, context, ticket)
        return
    await on_question(update, context)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """The catch-all for plain text; registered after every command handler."""
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND
                                   & filters.UpdateType.MESSAGE, on_text))
