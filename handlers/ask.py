"""Free-text questions: triage, guidance snippets, feedback and the way to an expert."""

from __future__ import annotations

import functools
import logging

from redis.exceptions import RedisError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import metrics
from handlers.consent import ask_consent
from handlers.context import DeskContext, closing_transaction, esc
from handlers.keyboards import ReusedKeyboard
from handlers.render import ADVICE_LINE, snippet_html, urgent_html
from handoff.users import Role
from knowledge.asked import LastAnswer
from knowledge.base import Snippet, button_key
from knowledge.followup import is_follow_up, with_context
from knowledge.gaps import NO_CARD, NOT_HELPED
from knowledge.preference import ACUTE_NOW, close_second, put_first
from knowledge.smalltalk import SmallTalk, classify
from locales import translator

log = logging.getLogger(__name__)

SHOW = "sn:"  # show a snippet
FEEDBACK = "fb:"  # fb:1:<snippet> helps, fb:0:<snippet> does not help
TOPICS = "topics"
EXPERT = "expert"
MAX_QUESTION = 3000


def answer_keyboard(context: DeskContext, shown: str, more: list[tuple[str, str]]
                    ) -> InlineKeyboardMarkup:
    """More snippets, feedback, another topic, an expert."""
    return _answer_keyboard(context.locale, shown, tuple(more))


@functools.lru_cache(maxsize=4096)
def _answer_keyboard(locale: str, shown: str, more: tuple[tuple[str, str], ...]
                     ) -> InlineKeyboardMarkup:
    # Telegram objects are immutable: one markup per answer shape serves every asker.
    tr = translator(locale)
    rows = [[InlineKeyboardButton("➕ " + title, callback_data=SHOW + button_key(sid))]
            for sid, title in more]
    rows.append([
        InlineKeyboardButton(tr._p("button", "This helps"),
                             callback_data=f"{FEEDBACK}1:{button_key(shown)}"),
        InlineKeyboardButton(tr._p("button", "This does not help"),
                             callback_data=f"{FEEDBACK}0:{button_key(shown)}"),
    ])
    rows.append([InlineKeyboardButton(tr._p("button", "Another topic"), callback_data=TOPICS)])
    rows.append([InlineKeyboardButton(tr._p("button", "Talk to an expert"),
                                      callback_data=EXPERT)])
    return ReusedKeyboard(rows)


def no_card_html(context: DeskContext) -> str:
    """When no card fits: say so, and where to go instead."""
    return esc(context.tr._(
        "I don't have ready-made guidance for this. The advice line of Platform JEP ({phone}, "
        "office hours) or one of our experts can think along with you. Perhaps one of these "
        "comes close:").format(phone=ADVICE_LINE))


def weak_fit_html(context: DeskContext) -> str:
    """Before a card that fits the question poorly: say so, and where to go instead."""
    return "<i>" + esc(context.tr._(
        "This guidance may not fit your situation exactly. The advice line of Platform JEP "
        "({phone}, office hours) or one of our experts can think along with you."
    ).format(phone=ADVICE_LINE)) + "</i>"


def no_card_keyboard(context: DeskContext, near: list[tuple[str, str]]
                     ) -> InlineKeyboardMarkup:
    """The nearest cards, an expert, another topic."""
    return _no_card_keyboard(context.locale, tuple(near))


@functools.lru_cache(maxsize=1024)
def _no_card_keyboard(locale: str, near: tuple[tuple[str, str], ...]
                      ) -> InlineKeyboardMarkup:
    tr = translator(locale)
    rows = [[InlineKeyboardButton("➕ " + title, callback_data=SHOW + button_key(sid))]
            for sid, title in near]
    rows.append([InlineKeyboardButton(tr._p("button", "Talk to an expert"),
                                      callback_data=EXPERT)])
    rows.append([InlineKeyboardButton(tr._p("button", "Another topic"), callback_data=TOPICS)])
    return ReusedKeyboard(rows)


def close_second_html(context: DeskContext) -> str:
    """Before a second card sent in full, when the desk could hardly choose between two."""
    return "<i>" + esc(context.tr._("This may also fit your situation:")) + "</i>"


def small_talk_reply(context: DeskContext, kind: SmallTalk) -> str:
    """A short friendly prompt for a greeting, thanks or an emoji: what the desk can do."""
    tr = context.tr
    if kind is SmallTalk.THANKS:
        return tr._("You're welcome! If anything else comes up, just type your question. "
                    "/topics shows all topics, /expert puts you in touch with an expert.")
    if kind is SmallTalk.GREETING:
        return tr._("Hello! I am Vraagbaak, the advice desk of Platform JEP for polarisation, "
                    "radicalisation and extremism among young people. Type your question in "
                    "your own words, or browse /topics.")
    return tr._("Type your question in your own words and I will look for guidance. "
                "/topics shows all topics, /help explains what I can do.")


async def on_question(update: Update, context: DeskContext) -> None:
    """Triage a question and answer with the best guidance for its topic."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and message.text is not None and user is not None
    text = message.text.strip()
    if len(text) > MAX_QUESTION:
        await message.reply_text(context.tr._(
            "That is a long message. Please keep your question under {limit} characters; "
            "a short description of the situation is enough.").format(limit=MAX_QUESTION))
        return
    kind = classify(text)
    if kind is not None:
        # Greetings, thanks and emoji are not questions: a prompt, not a snippet.
        await message.reply_text(small_talk_reply(context, kind))
        log.info("small talk user=%s kind=%s", context.log_id(update), kind.value)
        return
    role = context.profile.role.value if context.profile and context.profile.role else None
    desk = context.desk
    # A short message that continues the question just asked is read with it (the case).
    previous = context.previous
    follow_up = previous is not None and is_follow_up(text, previous.at, desk.asked.clock())
    case = with_context(previous.context, text) if follow_up and previous else text
    # One published version for the whole answer (a publication may swap it meanwhile).
    version = desk.knowledge.current
    result = version.triage.triage(case, context.locale, role)
    # A follow-up on a case the knowledge covers stays covered (its words alone may not say).
    covered = result.covered or bool(follow_up and previous and previous.covered)
    if result.lang != context.locale:
        # The text is clearly in the other language: answer in the language it was asked in.
        context.locale = result.lang
    if result.urgent:
        await message.reply_text(urgent_html(context))
    # Ranked best first across all topics (the role already weighed in); acute: what to do
    # now comes straight after the 112 block; volunteers: their own card first.
    snippets = [version.kb.snippets[sid] for sid in result.snippets]
    ordered = put_first(version.kb, snippets, result.top, role, result.urgent,
                        result.urgent_sure)
    # Acute danger always gets its card; otherwise, when no card fits, the desk says so
    # and offers the two nearest as buttons rather than presenting one as the answer.
    best = ordered[0] if result.urgent or covered else None
    shown: list[Snippet] = []  # the cards sent in full, in order
    if best is None:
        more = [(s.id, s.text(result.lang).title) for s in ordered[:2]]
        await message.reply_text(no_card_html(context),
                                 reply_markup=no_card_keyboard(context, more))
        metrics.NO_CARD.inc()
        # What the desk could not answer teaches Platform JEP, if the asker agrees.
        await ask_consent(message, context, user.id, text, result.top.value, result.lang,
                          ordered[0].id if ordered else "", NO_CARD)
    else:
        limit = 1 if role == Role.VOLUNTEER else 2
        shown.append(best)
        if (result.urgent and result.urgent_sure and covered and best.id == ACUTE_NOW
                and len(ordered) > 1):
            # A certain alarm on a situation the knowledge covers: "what to do now" first,
            # then the card on the situation itself, both in full (not one behind a button).
            await message.reply_text(snippet_html(context, best, result.lang))
            best = ordered[1]
            shown.append(best)
        # Two cards the ranking could hardly choose between: both in full, the second as
        # "this may also fit" (never on an alarm).
        second = close_second(result, ordered, covered)
        if second is not None:
            shown.append(second)
        more = [(s.id, s.text(result.lang).title) for s in ordered[len(shown):][:limit]]
        html = snippet_html(context, best, result.lang)
        if result.weak_fit and not result.urgent:
            # The nearest card, not presented as the answer: the asker hears it may not fit.
            html = weak_fit_html(context) + "\n\n" + html
            metrics.WEAK_FIT.inc()
        if second is not None:
            # One message (well under Telegram's 4,096 characters): the buttons stay under
            # the answer, and their feedback is for the desk's best card.
            html += ("\n\n" + close_second_html(context) + "\n\n"
                     + snippet_html(context, second, result.lang))
            metrics.SECOND_CARD.inc()
        await message.reply_text(html, reply_markup=answer_keyboard(context, best.id, more))
    # What the user was offered (the answers and the buttons under the last).
    offered = (*(s.id for s in shown), *(sid for sid, _ in more))
    # Remembered for a handoff, and an anonymous trend row for the dashboard: once the
    # answer is out, in one transaction with the update's handled mark (the chat's next
    # update, such as the expert button, waits for it).
    try:
        async with closing_transaction(context, update) as batch:
            desk.asked.queue_remember(batch, user.id, text, LastAnswer(
                result.top.value, result.urgent, offered, result.lang), case, best is not None)
            for card in shown:
                desk.asked.queue_received(batch, user.id, card.id)
            desk.trends.queue_answered(batch, user.id, result.top.value, role, result.lang,
                                       result.urgent, best.id if best is not None else None)
    except RedisError as exc:
        # Redis went away after the answer went out: not handled again (the answer would
        # come twice); only the memory for a handoff and the trend row are missing.
        log.warning("question answered but not remembered: %s", type(exc).__name__)
    log.info("question triaged user=%s topic=%s urgent=%s", context.log_id(update),
             result.top.value, result.urgent)
    metrics.TOPICS.labels(topic=result.top.value).inc()


async def show_snippet(update: Update, context: DeskContext) -> None:
    """A 'more' button: send that snippet."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    snippet = context.desk.kb.resolve(query.data.removeprefix(SHOW))  # old ids too
    if snippet is None:
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    await query.message.reply_text(snippet_html(context, snippet, context.locale),
                                   reply_markup=answer_keyboard(context, snippet.id, []))
    assert update.effective_user is not None
    try:
        async with closing_transaction(context, update) as batch:
            context.desk.asked.queue_received(batch, update.effective_user.id, snippet.id)
    except RedisError as exc:
        # As for an answer: the card went out; only the memory for a handoff is missing.
        log.warning("card shown but not remembered: %s", type(exc).__name__)


async def feedback(update: Update, context: DeskContext) -> None:
    """Count helps / does not help for a snippet (no user attached) and offer next steps."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    try:
        helpful_flag, sid = query.data.removeprefix(FEEDBACK).split(":", 1)
    except ValueError:
        helpful_flag, sid = "", ""
    snippet = context.desk.kb.resolve(sid)  # a merged-away id counts for its successor
    if helpful_flag not in ("0", "1") or snippet is None:
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    helpful = helpful_flag == "1"
    user = update.effective_user
    # Counted once per card the user received: not a forged press, not a second one. The
    # user's own vote is kept briefly for an expert who may take over.
    if user is None or not await context.desk.asked.vote(user.id, snippet.id, helpful,
                                                         query.message.message_id):
        await query.answer(context.tr._("Thank you for your feedback."))
        return
    await context.desk.feedback.record(snippet.id, helpful)
    # Dashboard trends and metrics: the vote, on the user's last anonymous question row.
    await context.desk.trends.helped(user.id, helpful)
    metrics.VOTES.labels(vote="helps" if helpful else "does_not_help").inc()
    await query.answer(context.tr._("Thank you for your feedback."))
    # Drop the feedback row so one message cannot be voted on twice.
    markup = query.message.reply_markup
    if markup is not None:
        rows = [row for row in markup.inline_keyboard
                if not any((b.callback_data or "").startswith(FEEDBACK) for b in row)]
        await query.edit_message_reply_markup(InlineKeyboardMarkup(rows))
    if not helpful:
        tr = context.tr
        await query.message.reply_text(
            tr._("Sorry this did not help. Pick another topic, ask your question in other "
                 "words, or talk to an expert."),
            reply_markup=InlineKeyboardMarkup([
                [InlineKeyboardButton(tr._p("button", "Another topic"), callback_data=TOPICS)],
                [InlineKeyboardButton(tr._p("button", "Talk to an expert"),
                                      callback_data=EXPERT)],
            ]))
        if isinstance(query.message, Message):
            await _consent_after_vote(query.message, context, user.id, snippet.id)


async def _consent_after_vote(message: Message, context: DeskContext, user: int,
                              snippet_id: str) -> None:
    """After 'does not help' on the answer to the latest question: may it be kept?"""
    last = await context.desk.asked.last(user)
    questions = await context.desk.asked.questions(user)
    if last is None or not questions or snippet_id not in last.snippets:
        return  # a vote on an older answer: its question is not the one remembered
    await ask_consent(message, context, user, questions[-1], last.topic, last.lang,
                      snippet_id, NOT_HELPED)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the answer buttons (the text itself arrives through handlers.router)."""
    app.add_handler(CallbackQueryHandler(show_snippet, pattern=f"^{SHOW}"))
    app.add_handler(CallbackQueryHandler(feedback, pattern=f"^{FEEDBACK}"))

