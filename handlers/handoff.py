"""The asker's side of the handoff: /expert and its intake, /stop, the rating and comment.

Every rule lives in handoff.service; these handlers read the update, call the service and let
handlers.notify render and send what it returns."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.ask import EXPERT
from handlers.context import DeskContext
from handlers.notify import INTAKE, NO_COMMENT, RATE, answer
from handoff.service import SESSION_GAP_SECONDS, Triaged
from handoff.users import Role

log = logging.getLogger(__name__)


async def start_intake(update: Update, context: DeskContext) -> None:
    """/expert or the 'Talk to an expert' button."""
    user = update.effective_user
    if user is None or update.effective_message is None:
        if update.callback_query is not None:
            await update.callback_query.answer()
        return
    volunteer = context.profile is not None and context.profile.role is Role.VOLUNTEER
    last = await context.desk.asked.last(user.id)
    result = await context.desk.service.begin_intake(user.id, volunteer,
                                                     last.topic if last is not None else "")
    await answer(context, update, result)


async def _triaged(context: DeskContext, user_id: int) -> Triaged:
    """What the knowledge side found for this session's questions, and the guidance cards
    the asker received in it (with their votes)."""
    asked = context.desk.asked
    last = await asked.last(user_id)
    session = await asked.session(user_id, SESSION_GAP_SECONDS)
    received = tuple(r.snippet for r in session.received)
    votes = {r.snippet: r.helped for r in session.received if r.helped is not None}
    if last is None:
        return Triaged("", False, received, session.questions, votes)
    return Triaged(last.topic, last.urgent, received, session.questions, votes)


async def intake_answer(update: Update, context: DeskContext) -> None:
    """An intake button: sector, province or consent."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    step, _, value = (query.data or "").removeprefix(INTAKE).partition(":")
    result = await context.desk.service.intake_answer(
        user.id, step, value, context.locale, await _triaged(context, user.id))
    await answer(context, update, result)


async def stop(update: Update, context: DeskContext) -> None:
    """/stop: cancel a queued request or end a conversation."""
    user = update.effective_user
    if user is None:
        return
    if await context.desk.service.is_expert(user.id):
        # Experts end conversations with /sluit, which asks for the summary.
        result = await context.desk.service.start_close(user.id)
    else:
        result = await context.desk.service.asker_stop(user.id)
    await answer(context, update, result)


async def rate(update: Update, context: DeskContext) -> None:
    """A rating button (rt:<ticket>:<1-5>)."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    ticket_id, _, value = (query.data or "").removeprefix(RATE).rpartition(":")
    result = await context.desk.service.rate(user.id, ticket_id, value)
    await answer(context, update, result)


async def skip(update: Update, context: DeskContext) -> None:
    """/skip or 'No comment' after a rating."""
    user = update.effective_user
    if user is None:
        return
    if update.callback_query is not None and update.callback_query.message is not None:
        await update.callback_query.edit_message_reply_markup(None)
    await answer(context, update, await context.desk.service.skip_comment(user.id))


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the asker-side handoff handlers."""
    app.add_handler(CommandHandler("expert", start_intake))
    app.add_handler(CallbackQueryHandler(start_intake, pattern=f"^{EXPERT}$"))
    app.add_handler(CallbackQueryHandler(intake_answer, pattern=f"^{INTAKE}"))
    app.add_handler(CallbackQueryHandler(skip, pattern=f"^{NO_COMMENT}$"))
    app.add_handler(CallbackQueryHandler(rate, pattern=f"^{RATE}"))
    app.add_handler(CommandHandler("stop", stop))
    app.add_handler(CommandHandler("skip", skip))
