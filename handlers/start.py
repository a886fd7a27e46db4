"""Onboarding: /start, role choice, /help, /privacy, /taal and /vergeet."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.context import LOW_PRIORITY, DeskContext, esc
from handlers.keyboards import column, keyboard
from handlers.menu import set_chat_commands, staff_help
from handlers.notify import deliver
from handoff.users import Role

log = logging.getLogger(__name__)

ROLE_PREFIX = "role:"
LANG_PREFIX = "lang:"
FORGET_CONFIRM = "forget:yes"
FORGET_CANCEL = "forget:no"


def welcome_text(context: DeskContext) -> str:
    """What the desk is, what it is not, and the privacy notice."""
    tr = context.tr
    return "\n\n".join([
        tr._("Welcome to Vraagbaak, the advice desk of Platform JEP."),
        tr._("For professionals and volunteers who work with young people and have a question "
             "about polarisation, radicalisation or extremism. Ask it in your own words: you get "
             "guidance straight away and, if you like, an expert from our pool thinks along "
             "with you."),
        tr._("This is not an emergency line: in acute danger, call 112. Vraagbaak is not a "
             "reporting point either: we do not report to the police or other bodies. The one "
             "exception: if someone's life is in acute danger, an expert may have to act, "
             "because the law (article 136 of the Criminal Code) obliges anyone who knows of a "
             "planned terrorist offence or killing to warn in time."),
        tr._("Privacy: please do not type names or other details that identify a young person "
             "or a family. /privacy tells you what we keep and for how long."),
    ])


def role_keyboard(context: DeskContext):
    """Buttons to choose professional or volunteer."""
    tr = context.tr
    return column([
        (tr._p("button", "I work with young people (professional)"),
         ROLE_PREFIX + Role.PROFESSIONAL),
        (tr._p("button", "I am a volunteer"), ROLE_PREFIX + Role.VOLUNTEER),
    ])


async def start(update: Update, context: DeskContext) -> None:
    """Greet, explain, and ask for the user's role."""
    assert update.effective_message is not None
    # When newcomers rush in, their welcomes wait behind everyone's answers (LOW_PRIORITY);
    # sent in the background, a waiting welcome holds none of the places the processor gives
    # handlers at once (bot.processor), so others' questions are handled meanwhile.
    welcome = context.bot.send_message(
        update.effective_message.chat_id,
        welcome_text(context) + "\n\n" + context.tr._("Who are you?"),
        reply_markup=role_keyboard(context), rate_limit_args=LOW_PRIORITY)
    if context.application.running:
        context.application.create_task(welcome, update=update, name="vraagbaak-welcome")
    else:  # an update handed over outside the running application: nothing to wait behind
        await welcome
    user = update.effective_user
    if user is not None and user.id in context.desk.settings.admin_ids:
        # A coordinator's menu adds /uitnodigen and /dashboard; and they are told so.
        expert = await context.desk.service.is_expert(user.id)
        await set_chat_commands(context.bot, user.id, context.locale, expert, True)
        await update.effective_message.reply_text(esc("\n".join([
            context.tr._("You are a coordinator of Vraagbaak: you invite experts to the pool "
                         "and follow the desk on the dashboard. You can also try the desk "
                         "as an asker (choose a role above)."), "",
            *staff_help(context.locale, expert, True)])))


async def choose_role(update: Update, context: DeskContext) -> None:
    """Store the chosen role and say what to do next."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    value = query.data.removeprefix(ROLE_PREFIX)
    if value not in (Role.PROFESSIONAL, Role.VOLUNTEER):
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    role = Role(value)
    if await context.desk.service.is_expert(update.effective_user.id):
        await query.answer(context.tr._("You are registered as an expert."), show_alert=True)
        return
    await context.desk.users.set_role(update.effective_user.id, role)
    await query.answer()
    tr = context.tr
    if role is Role.PROFESSIONAL:
        text = tr._("Thank you. Type your question in your own words, for example: "
                    "\"A pupil of mine has been sharing extreme videos, how do I start a "
                    "conversation?\" You can also browse /topics.")
    else:
        text = tr._("Thank you. Type your question in your own words, or use /links for quick "
                    "guidance per topic. /topics shows all topics.")
    await query.edit_message_reply_markup(reply_markup=None)
    assert query.message is not None
    await query.message.reply_text(text)
    log.info("role chosen user=%s role=%s", context.log_id(update), role)


async def help_command(update: Update, context: DeskContext) -> None:
    """Explain how the desk works and list the commands: an expert's or coordinator's own,
    an asker's otherwise (a coordinator outside the pool gets both)."""
    assert update.effective_message is not None and update.effective_user is not None
    user_id = update.effective_user.id
    expert = await context.desk.service.is_expert(user_id)
    coordinator = context.desk.service.may_manage_pool(user_id)
    staff = "\n".join(staff_help(context.locale, expert, coordinator))
    if expert:
        await update.effective_message.reply_text(esc(staff))
        return
    text = asker_help(context)
    await update.effective_message.reply_text(
        esc(staff) + "\n\n" + text if coordinator else text)


def asker_help(context: DeskContext) -> str:
    """How the desk works for someone with a question, and their commands."""
    tr = context.tr
    return "\n".join([
        tr._("How Vraagbaak works:"),
        tr._("• Type your question in your own words; you get guidance and referral links."),
        tr._("• /topics: browse topics. /links: quick guidance links."),
        tr._("• /expert: talk to an expert of Platform JEP (anonymously)."),
        tr._("• /stop: cancel your request or end a conversation."),
        tr._("• /language: Nederlands or English. /privacy: what we keep. /forget: delete your "
             "data."),
        "",
        tr._("In acute danger, call 112. You can also call the advice line of Platform JEP: "
             "070-333 45 58 (office hours)."),
    ])


def privacy_text(context: DeskContext) -> str:
    """The privacy statement; it must match what the code does."""
    tr = context.tr
    days = context.desk.settings.transcript_ttl_days
    return "\n\n".join([
        tr._("Privacy at Vraagbaak"),
        tr._("What we keep:\n"
             "• your role and language, so the desk remembers them (deleted after 180 days "
             "without use);\n"
             "• your questions to the desk, and which guidance cards you received and marked "
             "as helpful or not, for 24 hours, so that an expert can read them if you ask for "
             "one;\n"
             "• when you talk to an expert: the messages of that conversation, only in the "
             "desk's working memory, deleted as soon as the conversation is closed and "
             "summarised, and at the latest after {days} days;\n"
             "• an anonymised summary of expert conversations (topic, sector, province, "
             "outcome), without names or anything that identifies you or a young person, so "
             "Platform JEP can see which questions live in the field;\n"
             "• only if you say yes when the desk asks: a question it could not answer well, "
             "anonymised, for 180 days, to improve the guidance. Nothing links it to you, so "
             "/forget cannot find it.").format(days=days),
        tr._("Experts never see your Telegram name, username or number; they see a pseudonym. "
             "Do not type names, addresses, schools or other details that identify a young "
             "person or a family."),
        tr._("With /forget you delete everything the desk holds about you, at any time."),
        tr._("Vraagbaak is not an emergency line (in acute danger, call 112) and not a reporting "
             "point: we do not report to the police or other bodies. The one exception: if "
             "someone's life is in acute danger, an expert may have to act, because the law "
             "(article 136 of the Criminal Code) obliges anyone who knows of a planned terrorist "
             "offence or killing to warn in time."),
    ])


async def privacy(update: Update, context: DeskContext) -> None:
    """Show the privacy statement."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(privacy_text(context))


async def language(update: Update, context: DeskContext) -> None:
    """Offer Nederlands and English."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        context.tr._("Choose your language:"),
        reply_markup=keyboard([[("Nederlands", LANG_PREFIX + "nl"),
                                ("English", LANG_PREFIX + "en")]]),
    )


async def choose_language(update: Update, context: DeskContext) -> None:
    """Switch language, the command menu with it, and confirm in the new language."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    lang = query.data.removeprefix(LANG_PREFIX)
    if lang not in ("nl", "en"):
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    await context.desk.users.set_lang(update.effective_user.id, lang)
    context.locale = lang
    await query.answer()
    await query.edit_message_text(context.tr._("Language set to English."))
    assert update.effective_chat is not None
    user_id = update.effective_user.id
    await set_chat_commands(context.bot, update.effective_chat.id, lang,
                            await context.desk.service.is_expert(user_id),
                            context.desk.service.may_manage_pool(user_id))


async def forget(update: Update, context: DeskContext) -> None:
    """Ask for confirmation before deleting everything about the user."""
    tr = context.tr
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        tr._("This deletes everything Vraagbaak holds about you: your settings, a waiting "
             "request, an ongoing expert conversation and its messages. Anonymised summaries "
             "stay, as nothing links them to you. Are you sure?"),
        reply_markup=keyboard([[(tr._p("button", "Yes, delete everything"), FORGET_CONFIRM),
                                (tr._p("button", "No, keep it"), FORGET_CANCEL)]]),
    )


async def forget_answer(update: Update, context: DeskContext) -> None:
    """Carry out or cancel /vergeet."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    await query.answer()
    if query.data != FORGET_CONFIRM:
        await query.edit_message_text(context.tr._("Nothing was deleted."))
        return
    result = await context.desk.service.forget(update.effective_user.id)
    await context.desk.asked.forget(update.effective_user.id)
    await context.desk.users.forget(update.effective_user.id)
    await deliver(context, result, update)
    await query.edit_message_text(
        context.tr._("Done: everything the desk held about you has been deleted. "
                     "Send /start if you want to use Vraagbaak again."))
    log.info("user erased user=%s", context.log_id(update))


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the onboarding handlers."""
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(choose_role, pattern=f"^{ROLE_PREFIX}"))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("privacy", privacy))
    app.add_handler(CommandHandler(["taal", "language"], language))
    app.add_handler(CallbackQueryHandler(choose_language, pattern=f"^{LANG_PREFIX}"))
    app.add_handler(CommandHandler(["vergeet", "forget"], forget))
    app.add_handler(CallbackQueryHandler(forget_answer, pattern="^forget:"))
