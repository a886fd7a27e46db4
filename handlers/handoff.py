"""The professional's side of the handoff: intake, queue, relay, /stop and the rating."""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.ask import EXPERT
from handlers.context import DeskContext, esc
from handlers.keyboards import keyboard
from handlers.render import ADVICE_LINE
from handoff.summaries import queue_rating
from handoff.tickets import Ticket, TicketState
from handoff.users import Role
from locales import N_, translator

log = logging.getLogger(__name__)

INTAKE = "ho:"
RATE = "rt:"
SECTORS: tuple[tuple[str, str], ...] = (
    ("onderwijs", N_("Education")), ("jeugdhulp", N_("Youth care")),
    ("welzijn", N_("Youth and social work")), ("jeugdbescherming", N_("Child protection")),
    ("ggz", N_("Mental health care")), ("politie", N_("Police")),
    ("gemeente", N_("Municipality")), ("vrijwilliger", N_("Volunteer organisation")),
    ("anders", N_("Other")),
)
PROVINCES = ("Groningen", "Fryslân", "Drenthe", "Overijssel", "Flevoland", "Gelderland",
             "Utrecht", "Noord-Holland", "Zuid-Holland", "Zeeland", "Noord-Brabant", "Limburg")
NATIONAL = "landelijk"


def sector_label(locale: str, code: str) -> str:
    """A sector's label in a language."""
    names = dict(SECTORS)
    return translator(locale)._(names[code]) if code in names else code


def region_label(locale: str, code: str) -> str:
    """A province, or 'national / other'."""
    return translator(locale)._("National / other") if code == NATIONAL else code


def asker_name(context: DeskContext, ticket: Ticket, locale: str) -> str:
    """How experts see the user: a pseudonym fresh per ticket."""
    number = context.desk.pseudonyms.asker_number(ticket.id)
    return translator(locale)._("Asker {number}").format(number=number)


async def send_to(context: DeskContext, chat_id: int, text: str,
                  markup: InlineKeyboardMarkup | None = None) -> bool:
    """Send without letting a blocked or vanished chat break the caller's flow."""
    try:
        await context.bot.send_message(chat_id, text, reply_markup=markup)
        return True
    except TelegramError as exc:
        log.warning("could not deliver to user=%s: %s", context.desk.pseudonyms.log_id(chat_id),
                    type(exc).__name__)
        return False


async def start_intake(update: Update, context: DeskContext) -> None:
    """/expert or the 'Talk to an expert' button: status if already queued, else the intake."""
    user = update.effective_user
    assert user is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    message = update.effective_message
    assert message is not None
    if context.profile is not None and context.profile.role is Role.EXPERT:
        await message.reply_text(context.tr._("You are an expert here; /wachtrij shows the "
                                              "queue."))
        return
    ticket = await context.desk.handoff.ticket_of_user(user.id)
    if ticket is not None:
        await message.reply_text(await status_text(context, ticket))
        return
    tr = context.tr
    await message.reply_text(
        tr._("An expert of Platform JEP can think along with you. Three short questions "
             "first.") + "\n\n" + tr._("1/3 · In which sector do you work?"),
        reply_markup=keyboard(
            [(tr._(label), f"{INTAKE}s:{code}") for code, label in SECTORS[i:i + 2]]
            for i in range(0, len(SECTORS), 2)))


async def intake_answer(update: Update, context: DeskContext) -> None:
    """Sector, then province, then consent; then queue the ticket."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    tr = context.tr
    step, _, value = query.data.removeprefix(INTAKE).partition(":")
    sessions = context.desk.sessions
    if step == "s" and value in dict(SECTORS):
        await sessions.set_intake(user.id, "sector", value)
        await query.answer()
        rows = [[(p, f"{INTAKE}r:{p}") for p in PROVINCES[i:i + 3]]
                for i in range(0, len(PROVINCES), 3)]
        rows.append([(tr._("National / other"), f"{INTAKE}r:{NATIONAL}")])
        await query.edit_message_text(tr._("2/3 · In which province do you work?"),
                                      reply_markup=keyboard(rows))
    elif step == "r" and (value in PROVINCES or value == NATIONAL):
        await sessions.set_intake(user.id, "region", value)
        await query.answer()
        await query.edit_message_text(
            tr._("3/3 · An expert will read this conversation, including the questions you "
                 "asked today. The expert does not see your name or Telegram account. Do not "
                 "share names or details that identify a young person. Do you agree?"),
            reply_markup=keyboard([[(tr._p("button", "Yes, connect me"), f"{INTAKE}c:1"),
                                    (tr._p("button", "No"), f"{INTAKE}c:0")]]))
    elif step == "c" and value in ("0", "1"):
        await query.answer()
        answers = await sessions.take_intake(user.id)
        if value == "0":
            await query.edit_message_text(tr._(
                "Fine, nothing was sent to an expert. You can also call the advice line: "
                "{phone} (office hours).").format(phone=ADVICE_LINE))
            return
        if "sector" not in answers or "region" not in answers:
            await query.edit_message_text(tr._("This intake has expired; please start again "
                                               "with /expert."))
            return
        await query.edit_message_reply_markup(None)
        await queue_ticket(update, context, answers["sector"], answers["region"])
    else:
        await query.answer(tr._("This button is no longer valid."), show_alert=True)


async def queue_ticket(update: Update, context: DeskContext, sector: str, region: str) -> None:
    """Open the ticket, tell the user where they stand, announce it to experts."""
    user = update.effective_user
    assert user is not None
    desk = context.desk
    last = await desk.asked.last(user.id)
    ticket = await desk.handoff.open(
        user.id, context.locale, last.topic if last else "signals", sector, region,
        bool(last and last.urgent), last.snippets if last else ())
    for question in await desk.asked.questions(user.id):
        await desk.handoff.add_message(ticket.id, "user", question)
    log.info("ticket queued ticket=%s user=%s urgent=%s", ticket.id, context.log_id(update),
             ticket.urgent)
    assert update.effective_chat is not None
    await send_to(context, update.effective_chat.id, await status_text(context, ticket))
    position = await desk.handoff.position(ticket.id)
    if position is not None:
        await desk.sessions.position_changed(ticket.id, position)
    from handlers.expert import announce

    await announce(context, ticket)


async def status_text(context: DeskContext, ticket: Ticket) -> str:
    """Where a user's request stands, with an honest estimate and office hours."""
    tr = context.tr
    desk = context.desk
    if ticket.state is TicketState.ACTIVE and ticket.expert_id is not None:
        expert = await desk.experts.get(ticket.expert_id)
        name = expert.display_name if expert else tr._("an expert")
        return tr._("You are talking with {name}. Type your message; /stop ends the "
                    "conversation.").format(name=esc(name))
    position = await desk.handoff.position(ticket.id) or 1
    lines = [tr._("Your question is in the queue. You are number {position}.").format(
        position=position)]
    now = datetime.fromtimestamp(desk.handoff.clock(), desk.settings.zone)
    if not desk.office_hours.is_open(now):
        back = desk.office_hours.next_open(now)
        lines.append(tr._("Our experts are not available right now; they are back on "
                          "{day} at {time}. Your question stays in the queue until then. In "
                          "the meantime you can call the advice line: {phone} (office hours)."
                          ).format(day=back.strftime("%d-%m"), time=back.strftime("%H:%M"),
                                   phone=ADVICE_LINE))
    else:
        typical = await desk.sessions.typical_wait()
        if typical is None:
            lines.append(tr._("We don't have enough data yet for a waiting-time estimate."))
        else:
            minutes = max(1, round(typical * position / 60))
            lines.append(tr._("Recently, people in your place waited about {minutes} minutes."
                              ).format(minutes=minutes))
    lines.append(tr._("You can keep typing: your messages are added for the expert. /stop "
                      "cancels your request."))
    return "\n\n".join(lines)


async def notify_positions(context: DeskContext) -> None:
    """Tell waiting users their new place when it moved."""
    desk = context.desk
    for index, ticket in enumerate(await desk.handoff.queue(), start=1):
        if await desk.sessions.position_changed(ticket.id, index):
            text = translator(ticket.lang)._(
                "Update: you are now number {position} in the queue.").format(position=index)
            await send_to(context, ticket.user_id, text)


async def stop(update: Update, context: DeskContext) -> None:
    """/stop: cancel a queued request or end a conversation."""
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    desk = context.desk
    ticket = await desk.handoff.ticket_of_user(user.id)
    if ticket is None:
        await update.effective_message.reply_text(context.tr._(
            "You have no open request. Type a question or use /expert."))
        return
    cancelled = await desk.handoff.cancel(ticket.id)
    await desk.sessions.drop_position(ticket.id)
    await update.effective_message.reply_text(context.tr._(
        "Your request has been stopped. You can always start again with /expert."))
    if cancelled is not None and cancelled.expert_id is not None:
        await tell_expert_user_left(context, cancelled)
    await notify_positions(context)


async def tell_expert_user_left(context: DeskContext, ticket: Ticket) -> None:
    """The user ended or erased a conversation an expert held."""
    assert ticket.expert_id is not None
    locale = await expert_locale(context, ticket.expert_id)
    await context.desk.sessions.clear_current(ticket.expert_id, ticket.id)
    await send_to(context, ticket.expert_id, translator(locale)._(
        "{asker} has ended the conversation.").format(
            asker=asker_name(context, ticket, locale)))


async def expert_locale(context: DeskContext, expert_id: int) -> str:
    """An expert's language."""
    profile = await context.desk.users.get(expert_id)
    return profile.lang or context.desk.settings.default_locale


async def relay_from_user(update: Update, context: DeskContext, ticket: Ticket) -> None:
    """A user's text while queued (kept for the expert) or active (relayed to the expert)."""
    message = update.effective_message
    assert message is not None and message.text is not None
    desk = context.desk
    await desk.handoff.add_message(ticket.id, "user", message.text)
    if ticket.state is TicketState.QUEUED or ticket.expert_id is None:
        await message.reply_text(context.tr._("Added to your question; the expert will read "
                                              "it."))
        return
    locale = await expert_locale(context, ticket.expert_id)
    await send_to(context, ticket.expert_id,
                  f"💬 <b>{esc(asker_name(context, ticket, locale))}</b>: {esc(message.text)}")


async def ask_rating(context: DeskContext, ticket: Ticket) -> None:
    """After closing: ask the user for a 1-5 rating."""
    tr = translator(ticket.lang)
    await send_to(context, ticket.user_id,
                  tr._("The expert has closed the conversation. Thank you for your question. "
                       "How useful was this conversation? (1 = not at all, 5 = very)"),
                  keyboard([[(str(n), f"{RATE}{ticket.id}:{n}") for n in range(1, 6)]]))


async def rate(update: Update, context: DeskContext) -> None:
    """Store a rating, then offer an optional comment."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    ticket_id, _, value = query.data.removeprefix(RATE).rpartition(":")
    ticket = await context.desk.handoff.get(ticket_id)
    if ticket is None or ticket.user_id != user.id or value not in "12345" or len(value) != 1:
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    await queue_rating(context.desk.redis, ticket_id, rating=int(value))
    await context.desk.sessions.expect(user.id, f"comment:{ticket_id}")
    await query.answer(context.tr._("Thank you for your feedback."))
    await query.edit_message_text(
        context.tr._("Thank you: you gave {rating} out of 5. Would you like to add a short "
                     "comment? Just type it now, or send /skip.").format(rating=value))


async def skip(update: Update, context: DeskContext) -> None:
    """/skip: no comment."""
    assert update.effective_user is not None and update.effective_message is not None
    await context.desk.sessions.done(update.effective_user.id)
    await update.effective_message.reply_text(context.tr._("Okay. Thank you!"))


async def save_comment(update: Update, context: DeskContext, ticket_id: str) -> None:
    """The user's optional comment after a rating."""
    assert update.effective_message is not None and update.effective_user is not None
    await queue_rating(context.desk.redis, ticket_id,
                       comment=(update.effective_message.text or "")[:1000])
    await context.desk.sessions.done(update.effective_user.id)
    await update.effective_message.reply_text(context.tr._(
        "Thank you, your comment has been saved without your name."))


async def forget_user(user_id: int, context: DeskContext) -> None:
    """/vergeet: erase handoff state and questions; end a conversation politely."""
    desk = context.desk
    held = await desk.handoff.forget_user(user_id)
    await desk.sessions.forget(user_id)
    await desk.asked.forget(user_id)
    for ticket in held:
        await tell_expert_user_left(context, ticket)
    await notify_positions(context)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the user-side handoff handlers."""
    app.add_handler(CommandHandler("expert", start_intake))
    app.add_handler(CallbackQueryHandler(start_intake, pattern=f"^{EXPERT}$"))
    app.add_handler(CallbackQueryHandler(intake_answer, pattern=f"^{INTAKE}"))
    app.add_handler(CallbackQueryHandler(rate, pattern=f"^{RATE}"))
    app.add_handler(CommandHandler("stop", stop))
    app.add_handler(CommandHandler("skip", skip))
