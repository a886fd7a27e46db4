"""Asking, once per question, whether Platform JEP may keep a question the desk could not
answer well (anonymised, with nothing that links it to the asker), and taking the answer."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler

from handlers.context import DeskContext
from knowledge.gaps import KEEP_DAYS

log = logging.getLogger(__name__)
CONSENT = "gap:"  # gap:1:<token> keep it, gap:0:<token> do not


async def ask_consent(message: Message, context: DeskContext, user_id: int, text: str,
                      topic: str, lang: str, shown: str, reason: str) -> None:
    """Ask once for this question (nothing is kept unless the asker says yes)."""
    profile = context.profile
    role = profile.role.value if profile and profile.role else ""
    token = await context.desk.gaps.offer(user_id, text, topic, lang, role, shown, reason)
    if token is None:
        return
    tr = context.tr
    await message.reply_text(
        tr._("May Platform JEP keep this question, anonymised, to improve its guidance? Names "
             "and other details are removed and nothing links it to you, so /forget cannot "
             "find it later; it is kept for {days} days. Only a yes keeps anything.").format(
            days=KEEP_DAYS),
        reply_markup=InlineKeyboardMarkup([[
            InlineKeyboardButton(tr._p("button", "Yes, keep it anonymised"),
                                 callback_data=f"{CONSENT}1:{token}"),
            InlineKeyboardButton(tr._p("button", "No"), callback_data=f"{CONSENT}0:{token}"),
        ]]))


async def on_consent(update: Update, context: DeskContext) -> None:
    """Yes or no: keep the question (to the worker, which anonymises it) or not."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    flag, _, token = query.data.removeprefix(CONSENT).partition(":")
    tr = context.tr
    kept = None if flag not in ("0", "1") else await context.desk.gaps.answer(
        update.effective_user.id, token, flag == "1")
    if kept is None:
        await query.answer(tr._("This question is no longer open."), show_alert=True)
        return
    await query.answer()
    log.info("gap consent user=%s kept=%s", context.log_id(update), kept)
    await query.edit_message_text(
        tr._("Thank you: the question is kept anonymised to improve the guidance.") if kept
        else tr._("Understood: nothing of this question is kept."))


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the consent buttons."""
    app.add_handler(CallbackQueryHandler(on_consent, pattern=f"^{CONSENT}"))
