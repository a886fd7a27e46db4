"""Browsing: /onderwerpen, topic pages, /links for volunteers, deep links, the sharing flow."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from handlers.ask import EXPERT, SHOW, TOPICS
from handlers.context import DeskContext, esc
from handlers.render import referral_line
from handlers.start import role_keyboard, welcome_text
from handoff.users import Role
from knowledge.base import button_key
from knowledge.preference import places_for
from knowledge.topics import Topic

TOPIC = "tp:"
FLOW = "flow:"
DEEP_LINK = "topic_"


def topics_keyboard(context: DeskContext) -> InlineKeyboardMarkup:
    """One button per topic."""
    kb = context.desk.kb
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(kb.topics[t].label[context.locale], callback_data=TOPIC + t)]
        for t in Topic
    ])


async def list_topics(update: Update, context: DeskContext) -> None:
    """/onderwerpen: pick a topic."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        context.tr._("Choose a topic:"), reply_markup=topics_keyboard(context))


async def topics_button(update: Update, context: DeskContext) -> None:
    """The 'another topic' button."""
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    await query.message.reply_text(context.tr._("Choose a topic:"),
                                   reply_markup=topics_keyboard(context))


def topic_page(context: DeskContext, topic: Topic) -> tuple[str, InlineKeyboardMarkup]:
    """A topic's description and its snippets as buttons."""
    kb = context.desk.kb
    lang = context.locale
    role = context.profile.role.value if context.profile and context.profile.role else None
    info = kb.topics[topic]
    text = f"<b>{esc(info.label[lang])}</b>\n{esc(info.description[lang])}"
    rows = [[InlineKeyboardButton(s.text(lang).title, callback_data=SHOW + button_key(s.id))]
            for s in kb.for_topic(topic, role)]
    if topic is Topic.INFORMATION_SHARING:
        rows.insert(0, [InlineKeyboardButton(
            "🧭 " + context.tr._p("button", "Step by step: sharing information"),
            callback_data=FLOW + "0")])
    rows.append([InlineKeyboardButton(context.tr._p("button", "Talk to an expert"),
                                      callback_data=EXPERT)])
    rows.append([InlineKeyboardButton("◀ " + context.tr._p("button", "All topics"),
                                      callback_data=TOPICS)])
    return text, InlineKeyboardMarkup(rows)


async def choose_topic(update: Update, context: DeskContext) -> None:
    """A topic button: show the topic page."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    try:
        topic = Topic(query.data.removeprefix(TOPIC))
    except ValueError:
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    assert update.effective_user is not None
    await context.desk.asked.set_topic(update.effective_user.id, topic.value)
    text, markup = topic_page(context, topic)
    await query.message.reply_text(text, reply_markup=markup)


async def deep_link(update: Update, context: DeskContext) -> None:
    """/start topic_<id> from a poster or a training: the topic first, then (for someone new)
    the welcome with the privacy notice and the role choice."""
    message = update.effective_message
    assert message is not None
    value = (context.args or [""])[0].removeprefix(DEEP_LINK)
    try:
        topic = Topic(value)
    except ValueError:
        await message.reply_text(
            context.tr._("That link points to a topic I don't know. Choose one here:"),
            reply_markup=topics_keyboard(context))
        return
    text, markup = topic_page(context, topic)
    await message.reply_text(text, reply_markup=markup)
    if context.profile is None or context.profile.role is None:
        await message.reply_text(welcome_text(context) + "\n\n" + context.tr._("Who are you?"),
                                 reply_markup=role_keyboard(context))


async def links(update: Update, context: DeskContext) -> None:
    """/links: the few places to go, each once; the volunteers' short path."""
    kb = context.desk.kb
    lang = context.locale
    tr = context.tr
    role = context.profile.role.value if context.profile and context.profile.role else None
    lines = [tr._("Where to go with a question or a worry:")]
    for referral in places_for(kb, role):
        lines.append(f"\n• {referral_line(referral, lang)}\n{esc(referral.offers[lang])}")
    lines.append("\n" + tr._("You can also ask your question here, or talk to an expert: "
                             "/expert."))
    lines.append("⚠️ <b>" + esc(tr._("In acute danger, call 112.")) + "</b>")
    if role == Role.VOLUNTEER:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(
            tr._p("button", "All topics"), callback_data=TOPICS)]])
    else:
        markup = topics_keyboard(context)
    assert update.effective_message is not None
    await update.effective_message.reply_text("\n".join(lines), reply_markup=markup)


def flow_page(context: DeskContext, index: int) -> tuple[str, InlineKeyboardMarkup]:
    """Step `index` of the information-sharing flow (0 = intro)."""
    flow = context.desk.kb.flow
    lang = context.locale
    tr = context.tr
    steps = flow.steps
    nav: list[InlineKeyboardButton] = []
    if index == 0:
        title = tr._("Sharing information: step by step")
        text = (f"<b>{esc(title)}</b>\n\n"
                f"{esc(flow.intro[lang])}\n\n<i>{esc(flow.disclaimer[lang])}</i>")
        nav.append(InlineKeyboardButton(tr._p("button", "Start"), callback_data=FLOW + "1"))
    else:
        step = steps[index - 1]
        questions = "\n".join("• " + esc(q) for q in step.questions[lang])
        text = (tr._("Step {n} of {total}").format(n=index, total=len(steps))
                + f": <b>{esc(step.title[lang])}</b>\n\n{esc(step.text[lang])}\n\n"
                + esc(tr._("Ask yourself:")) + f"\n{questions}")
        nav.append(InlineKeyboardButton("◀ " + tr._p("button", "Back"),
                                        callback_data=f"{FLOW}{index - 1}"))
        if index < len(steps):
            nav.append(InlineKeyboardButton(tr._p("button", "Next") + " ▶",
                                            callback_data=f"{FLOW}{index + 1}"))
        else:
            text += f"\n\n<i>{esc(flow.disclaimer[lang])}</i>"
    rows = [nav, [InlineKeyboardButton(tr._p("button", "Talk to an expert"),
                                       callback_data=EXPERT)]]
    return text, InlineKeyboardMarkup(rows)


async def flow_step(update: Update, context: DeskContext) -> None:
    """Navigate the information-sharing flow, editing the message in place."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    raw = query.data.removeprefix(FLOW)
    # isdigit() alone accepts '²' and '٣', which int() then rejects or misreads.
    if not (raw.isascii() and raw.isdigit()) or int(raw) > len(context.desk.kb.flow.steps):
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    text, markup = flow_page(context, int(raw))
    in_flow = any((b.callback_data or "").startswith(FLOW) and b.callback_data != FLOW + "0"
                  for row in (query.message.reply_markup.inline_keyboard
                              if query.message.reply_markup else ()) for b in row)
    if in_flow:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        # Opened from a topic page: the flow gets its own message, then edits it in place.
        await query.message.reply_text(text, reply_markup=markup)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the browsing handlers; the deep link must come before the plain /start."""
    app.add_handler(CommandHandler("start", deep_link, filters=filters.Regex(
        rf"^/start {DEEP_LINK}")))
    app.add_handler(CommandHandler(["onderwerpen", "topics"], list_topics))
    app.add_handler(CommandHandler("links", links))
    app.add_handler(CallbackQueryHandler(topics_button, pattern=f"^{TOPICS}$"))
    app.add_handler(CallbackQueryHandler(choose_topic, pattern=f"^{TOPIC}"))
    app.add_handler(CallbackQueryHandler(flow_step, pattern=f"^{FLOW}"))
