"""The expert's side: joining, availability, the queue, claims, relaying, closing, transfer,
and the admin's invites; plus the periodic timeout sweep."""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from handlers.context import DeskContext, esc
from handlers.handoff import (
    ask_rating,
    asker_name,
    expert_locale,
    notify_positions,
    region_label,
    sector_label,
    send_to,
)
from handlers.keyboards import column, keyboard
from handlers.render import snippet_html
from handoff.tickets import ClaimResult, Ticket
from handoff.users import Role
from knowledge.topics import Topic
from locales import N_, translator

log = logging.getLogger(__name__)

CLAIM = "cl:"
PICK = "pk:"
CLOSE = "cx:"
TRANSFER = "tr:"
INVITE_LINK = "inv_"
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("advice", N_("Advice given")), ("referred", N_("Referred to another organisation")),
    ("followup", N_("Follow-up needed")),
)
EXPERT_HELP = N_(
    "Expert commands: /beschikbaar or /pauze (availability), /wachtrij (queue), /volgende "
    "(claim the next question), /sluit (close with a summary), /overdragen <note> (transfer), "
    "/snippet <id> (send guidance). Plain messages go to the conversation you are in."
)


async def _is_expert(update: Update, context: DeskContext) -> bool:
    """Refuse expert actions from anyone else, logging without content."""
    assert update.effective_user is not None
    if await context.desk.experts.is_expert(update.effective_user.id):
        return True
    log.warning("refused expert action from non-expert user=%s", context.log_id(update))
    text = context.tr._("This is only for experts of Platform JEP.")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return False


async def join(update: Update, context: DeskContext) -> None:
    """/start inv_<code>: redeem an invite and become an expert."""
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    code = (context.args or [""])[0].removeprefix(INVITE_LINK)
    expert = await context.desk.experts.redeem_invite(code, user.id)
    if expert is None:
        await update.effective_message.reply_text(context.tr._(
            "This invite is not valid (any more). Ask the coordinator for a new one."))
        log.warning("invalid invite used user=%s", context.log_id(update))
        return
    await context.desk.users.set_role(user.id, Role.EXPERT)
    log.info("expert joined user=%s", context.log_id(update))
    await update.effective_message.reply_text(
        context.tr._("Welcome to the expert pool, {name}. Users see you as {name}; you see "
                     "them only as a pseudonym. You are set to away: send /beschikbaar when "
                     "you can take questions.").format(name=esc(expert.display_name))
        + "\n\n" + esc(context.tr._(EXPERT_HELP)))


async def availability(update: Update, context: DeskContext) -> None:
    """/beschikbaar and /pauze."""
    if not await _is_expert(update, context):
        return
    assert update.effective_user is not None and update.effective_message is not None
    command = (update.effective_message.text or "").split()[0].lstrip("/").split("@")[0]
    available = command in ("beschikbaar", "available")
    await context.desk.experts.set_available(update.effective_user.id, available)
    if available:
        waiting = len(await context.desk.handoff.queue())
        await update.effective_message.reply_text(context.tr._(
            "You are available. Questions waiting: {count}. /volgende claims the next one."
        ).format(count=waiting))
    else:
        await update.effective_message.reply_text(context.tr._(
            "You are away; you will not get new questions. Your open conversations stay "
            "yours."))


def ticket_line(context: DeskContext, ticket: Ticket, locale: str, now: float) -> str:
    """One queued ticket for experts: topic, sector, region, waiting time, urgency; no person."""
    tr = translator(locale)
    topic = context.desk.kb.topics[Topic(ticket.topic)].label[locale]
    minutes = max(0, round((now - ticket.created_at) / 60))
    urgent = "🔴 " + tr._("URGENT") + " · " if ticket.urgent else ""
    return (f"{urgent}<b>{esc(topic)}</b> · {esc(sector_label(locale, ticket.sector))} · "
            f"{esc(region_label(locale, ticket.region))} · "
            + tr._("waiting {minutes} min").format(minutes=minutes))


async def announce(context: DeskContext, ticket: Ticket) -> None:
    """Tell matching available experts about a new (or requeued) ticket, with a Claim button."""
    desk = context.desk
    now = desk.handoff.clock()
    for expert in await desk.experts.available_matching(ticket.topic, ticket.lang):
        locale = await expert_locale(context, expert.expert_id)
        tr = translator(locale)
        title = tr._("New question in the queue") if not ticket.urgent else tr._(
            "Urgent question in the queue")
        await send_to(context, expert.expert_id,
                      f"{title}\n{ticket_line(context, ticket, locale, now)}",
                      keyboard([[(tr._p("button", "Claim"), CLAIM + ticket.id)]]))


async def show_queue(update: Update, context: DeskContext) -> None:
    """/wachtrij: waiting tickets with Claim buttons."""
    if not await _is_expert(update, context):
        return
    desk = context.desk
    tickets = await desk.handoff.queue()
    assert update.effective_message is not None
    if not tickets:
        await update.effective_message.reply_text(context.tr._("The queue is empty."))
        return
    now = desk.handoff.clock()
    lines = [context.tr._("Waiting questions:")]
    lines += [f"{i}. {ticket_line(context, t, context.locale, now)}"
              for i, t in enumerate(tickets[:20], 1)]
    await update.effective_message.reply_text(
        "\n".join(lines),
        reply_markup=column((f"{context.tr._p('button', 'Claim')} #{i}", CLAIM + t.id)
                            for i, t in enumerate(tickets[:8], 1)))


async def handoff_card(context: DeskContext, ticket: Ticket, locale: str) -> str:
    """What the expert needs to start: context, served snippets, the user's messages."""
    desk = context.desk
    tr = translator(locale)
    now = desk.handoff.clock()
    lines = [f"📋 <b>{esc(asker_name(context, ticket, locale))}</b>",
             ticket_line(context, ticket, locale, now)]
    if ticket.note:
        lines.append(tr._("Note from the previous expert: {note}").format(note=esc(ticket.note)))
    titles = [desk.kb.snippets[s].text(locale).title for s in ticket.snippets
              if s in desk.kb.snippets]
    if titles:
        lines.append(tr._("Guidance already shown: {titles}").format(
            titles=esc("; ".join(titles))))
    transcript = await desk.handoff.transcript(ticket.id)
    if transcript:
        lines.append(tr._("Messages so far:"))
        for item in transcript[-15:]:
            who = asker_name(context, ticket, locale) if item["sender"] == "user" else tr._(
                "expert")
            lines.append(f"• <i>{esc(who)}</i>: {esc(item['text'])}")
    lines.append(esc(tr._("Type to answer. /sluit closes, /overdragen transfers, /snippet <id> "
                          "sends guidance.")))
    text = "\n".join(lines)
    return text if len(text) < 3900 else text[:3890] + "…"


async def after_claim(context: DeskContext, ticket_id: str, expert_id: int) -> None:
    """Send the card, point the expert at it, greet the user, update the queue."""
    desk = context.desk
    ticket = await desk.handoff.get(ticket_id)
    expert = await desk.experts.get(expert_id)
    if ticket is None or expert is None:
        return
    await desk.sessions.set_current(expert_id, ticket.id)
    await desk.sessions.drop_position(ticket.id)
    await desk.sessions.record_wait(desk.handoff.clock() - ticket.queued_at)
    locale = await expert_locale(context, expert_id)
    await send_to(context, expert_id, await handoff_card(context, ticket, locale))
    if ticket.requeues == 0 and not ticket.note:
        await send_to(context, ticket.user_id, translator(ticket.lang)._(
            "{name}, an expert of Platform JEP, is now reading your question and will answer "
            "here. /stop ends the conversation.").format(name=esc(expert.display_name)))
    await notify_positions(context)


async def claim(update: Update, context: DeskContext) -> None:
    """The Claim button: exactly one expert wins."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    if not await _is_expert(update, context):
        return
    desk = context.desk
    expert_id = update.effective_user.id
    expert = await desk.experts.get(expert_id)
    assert expert is not None
    ticket_id = query.data.removeprefix(CLAIM)
    before = await desk.handoff.get(ticket_id)
    if before is not None and before.expert_id == expert_id:
        await query.answer(context.tr._("This conversation is already yours."))
        return
    result = await desk.handoff.claim(ticket_id, expert_id, expert.max_conversations)
    tr = context.tr
    if result is ClaimResult.OK:
        await query.answer(tr._("It's yours."))
        log.info("ticket claimed ticket=%s expert=%s", ticket_id, context.log_id(update))
        await after_claim(context, ticket_id, expert_id)
    elif result is ClaimResult.TAKEN:
        await query.answer(tr._("Another expert has already taken this question."),
                           show_alert=True)
    elif result is ClaimResult.FULL:
        await query.answer(tr._("You already have your maximum number of conversations."),
                           show_alert=True)
    else:
        await query.answer(tr._("This question is no longer waiting."), show_alert=True)


async def next_ticket(update: Update, context: DeskContext) -> None:
    """/volgende: claim the best waiting ticket for this expert."""
    if not await _is_expert(update, context):
        return
    assert update.effective_user is not None and update.effective_message is not None
    desk = context.desk
    expert = await desk.experts.get(update.effective_user.id)
    assert expert is not None
    ticket = await desk.handoff.claim_next(expert.expert_id, expert.expertise, expert.languages,
                                           expert.max_conversations)
    if ticket is None:
        full = len(await desk.handoff.active_for_expert(expert.expert_id)) >= \
            expert.max_conversations
        await update.effective_message.reply_text(
            context.tr._("You already have your maximum number of conversations.") if full
            else context.tr._("The queue is empty."))
        return
    await after_claim(context, ticket.id, expert.expert_id)


async def _current_ticket(update: Update, context: DeskContext) -> Ticket | None:
    """The conversation an expert's command or message is about; asks to pick if unclear."""
    assert update.effective_user is not None and update.effective_message is not None
    desk = context.desk
    expert_id = update.effective_user.id
    active = await desk.handoff.active_for_expert(expert_id)
    if not active:
        await update.effective_message.reply_text(context.tr._(
            "You have no open conversation. /wachtrij shows the queue."))
        return None
    current = await desk.sessions.current(expert_id)
    for ticket in active:
        if ticket.id == current or len(active) == 1:
            return ticket
    await update.effective_message.reply_text(
        context.tr._("You have several conversations. Which one do you want to answer?"),
        reply_markup=column((asker_name(context, t, context.locale), PICK + t.id)
                            for t in active))
    return None


async def pick(update: Update, context: DeskContext) -> None:
    """Choose which conversation plain messages go to."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    ticket = await context.desk.handoff.get(query.data.removeprefix(PICK))
    if ticket is None or ticket.expert_id != update.effective_user.id:
        log.warning("refused pick of a foreign ticket user=%s", context.log_id(update))
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    await context.desk.sessions.set_current(update.effective_user.id, ticket.id)
    await query.answer()
    await query.edit_message_text(context.tr._(
        "Your messages now go to {asker}. Send your message again.").format(
            asker=esc(asker_name(context, ticket, context.locale))))


async def relay_from_expert(update: Update, context: DeskContext) -> None:
    """An expert's plain text goes to the user of their current conversation."""
    message = update.effective_message
    assert message is not None and message.text is not None
    ticket = await _current_ticket(update, context)
    if ticket is None:
        return
    desk = context.desk
    expert = await desk.experts.get(ticket.expert_id or 0)
    await desk.handoff.add_message(ticket.id, "expert", message.text)
    name = expert.display_name if expert else "Expert"
    delivered = await send_to(context, ticket.user_id,
                              f"💬 <b>{esc(name)}</b>: {esc(message.text)}")
    if not delivered:
        await message.reply_text(context.tr._("Your message could not be delivered."))


async def _expert_ticket(update: Update, context: DeskContext) -> Ticket | None:
    """For expert commands: the current conversation, after refusing non-experts."""
    if not await _is_expert(update, context):
        return None
    return await _current_ticket(update, context)


async def close_command(update: Update, context: DeskContext) -> None:
    """/sluit: choose an outcome, then type a summary."""
    ticket = await _expert_ticket(update, context)
    if ticket is None:
        return
    tr = context.tr
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        tr._("Closing the conversation with {asker}. What was the outcome?").format(
            asker=esc(asker_name(context, ticket, context.locale))),
        reply_markup=column((tr._(label), f"{CLOSE}{ticket.id}:{code}")
                            for code, label in OUTCOMES))


async def close_outcome(update: Update, context: DeskContext) -> None:
    """Outcome chosen: ask for the short summary."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    ticket_id, _, outcome = query.data.removeprefix(CLOSE).rpartition(":")
    ticket = await context.desk.handoff.get(ticket_id)
    if (ticket is None or ticket.expert_id != update.effective_user.id
            or outcome not in dict(OUTCOMES)):
        log.warning("refused close of a foreign ticket user=%s", context.log_id(update))
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    await context.desk.sessions.expect(update.effective_user.id, f"summary:{ticket_id}:{outcome}")
    await query.answer()
    await query.edit_message_text(context.tr._(
        "Now type a short summary for Platform JEP's trend reports (no names or details that "
        "identify anyone; they are removed anyway)."))


async def save_summary(update: Update, context: DeskContext, ticket_id: str,
                       outcome: str) -> None:
    """The summary text: close the ticket, thank the expert, ask the user for a rating."""
    assert update.effective_user is not None and update.effective_message is not None
    desk = context.desk
    await desk.sessions.done(update.effective_user.id)
    ticket = await desk.handoff.close(ticket_id, update.effective_message.text or "", outcome)
    if ticket is None:
        await update.effective_message.reply_text(context.tr._(
            "This conversation was already closed."))
        return
    await desk.sessions.clear_current(update.effective_user.id, ticket_id)
    log.info("ticket closed ticket=%s outcome=%s", ticket_id, outcome)
    await update.effective_message.reply_text(context.tr._(
        "Closed. Thank you! The anonymised summary goes to Platform JEP."))
    await ask_rating(context, ticket)


async def transfer_command(update: Update, context: DeskContext) -> None:
    """/overdragen [note]: back to the queue or to another available expert."""
    ticket = await _expert_ticket(update, context)
    if ticket is None:
        return
    desk = context.desk
    note = " ".join(context.args or [])[:300]
    await desk.sessions.expect(update.effective_user.id, f"note:{ticket.id}:{note}")  # type: ignore[union-attr]
    others = [e for e in await desk.experts.list()
              if e.available and e.expert_id != ticket.expert_id]
    tr = context.tr
    rows = [(tr._p("button", "Back to the queue"), f"{TRANSFER}{ticket.id}:q")]
    rows += [(e.display_name, f"{TRANSFER}{ticket.id}:{e.expert_id}") for e in others[:8]]
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        tr._("Transfer {asker} to:").format(asker=esc(asker_name(context, ticket,
                                                                  context.locale))),
        reply_markup=column(rows))


async def transfer_choice(update: Update, context: DeskContext) -> None:
    """Carry out a transfer without re-greeting the user."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    desk = context.desk
    expert_id = update.effective_user.id
    ticket_id, _, target = query.data.removeprefix(TRANSFER).rpartition(":")
    ticket = await desk.handoff.get(ticket_id)
    if ticket is None or ticket.expert_id != expert_id:
        log.warning("refused transfer of a foreign ticket user=%s", context.log_id(update))
        await query.answer(context.tr._("This button is no longer valid."), show_alert=True)
        return
    pending = await desk.sessions.expected(expert_id) or ""
    note = pending.split(":", 2)[2] if pending.startswith(f"note:{ticket_id}:") else ""
    await desk.sessions.done(expert_id)
    tr = context.tr
    if target == "q":
        moved = await desk.handoff.requeue(ticket_id, note or None)
        if moved is None:
            await query.answer(tr._("This question is no longer waiting."), show_alert=True)
            return
        await query.answer()
        await desk.sessions.clear_current(expert_id, ticket_id)
        await query.edit_message_text(tr._("Returned to the queue."))
        await send_to(context, ticket.user_id, translator(ticket.lang)._(
            "Your question is being passed to another expert. Your messages so far stay with "
            "it; you don't need to repeat anything."))
        await announce(context, moved)
        return
    if not target.isdigit():
        await query.answer(tr._("This button is no longer valid."), show_alert=True)
        return
    other = await desk.experts.get(int(target))
    if other is None:
        await query.answer(tr._("This button is no longer valid."), show_alert=True)
        return
    result = await desk.handoff.transfer(ticket_id, other.expert_id, other.max_conversations,
                                         note or None)
    if result is not ClaimResult.OK:
        await query.answer(tr._("That expert cannot take it right now."), show_alert=True)
        return
    await query.answer()
    await desk.sessions.clear_current(expert_id, ticket_id)
    await query.edit_message_text(tr._("Transferred to {name}.").format(
        name=esc(other.display_name)))
    moved = await desk.handoff.get(ticket_id)
    if moved is not None:
        await desk.sessions.set_current(other.expert_id, ticket_id)
        locale = await expert_locale(context, other.expert_id)
        await send_to(context, other.expert_id, await handoff_card(context, moved, locale))
        await send_to(context, ticket.user_id, translator(ticket.lang)._(
            "{name} takes over your conversation and has read everything so far.").format(
                name=esc(other.display_name)))


async def send_snippet(update: Update, context: DeskContext) -> None:
    """/snippet <id>: send a knowledge snippet to the user of the current conversation."""
    if not await _is_expert(update, context):
        return
    assert update.effective_message is not None
    sid = (context.args or [""])[0]
    snippet = context.desk.kb.snippets.get(sid)
    if snippet is None:
        await update.effective_message.reply_text(esc(context.tr._(
            "Unknown snippet id. Snippet ids look like signals-phases; the handoff card and "
            "/onderwerpen show them.")))
        return
    ticket = await _current_ticket(update, context)
    if ticket is None:
        return
    await context.desk.handoff.add_message(ticket.id, "expert", f"[snippet {sid}]")
    await send_to(context, ticket.user_id, snippet_html(context, snippet, ticket.lang))
    await update.effective_message.reply_text(context.tr._("Sent."))


async def invite(update: Update, context: DeskContext) -> None:
    """/uitnodigen NAME [tags…]: admins create a single-use invite link."""
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    if user.id not in context.desk.settings.admin_ids:
        log.warning("refused invite from non-admin user=%s", context.log_id(update))
        await update.effective_message.reply_text(context.tr._(
            "Only coordinators can invite experts."))
        return
    args = context.args or []
    if not args:
        await update.effective_message.reply_text(esc(context.tr._(
            "Usage: /uitnodigen NAME [expertise tags…], e.g. /uitnodigen Marieke jeugdhulp "
            "family")))
        return
    code = await context.desk.experts.create_invite(args[0], tuple(args[1:]), ("nl", "en"))
    link = f"https://t.me/{context.bot.username}?start={INVITE_LINK}{code}"
    await update.effective_message.reply_text(context.tr._(
        "Single-use invite for {name}, valid for 7 days:\n{link}").format(
            name=esc(args[0]), link=esc(link)))


async def sweep(context: DeskContext) -> None:
    """Every few seconds: act on unclaimed, silent and idle conversations."""
    desk = context.desk
    settings = desk.settings
    now = desk.handoff.clock()
    due = await desk.handoff.due(
        now, settings.unclaimed_alert_minutes * 60, settings.expert_reminder_minutes * 60,
        settings.expert_requeue_minutes * 60, settings.conversation_idle_hours * 3600)
    open_now = desk.office_hours.is_open(datetime.fromtimestamp(now, settings.zone))
    for ticket in due.unclaimed if open_now else ():
        for admin in settings.admin_ids:
            locale = await expert_locale(context, admin)
            await send_to(context, admin, translator(locale)._(
                "A question has been waiting for more than {minutes} minutes:").format(
                    minutes=settings.unclaimed_alert_minutes)
                + "\n" + ticket_line(context, ticket, locale, now))
    for ticket in due.remind:
        assert ticket.expert_id is not None
        locale = await expert_locale(context, ticket.expert_id)
        await send_to(context, ticket.expert_id, translator(locale)._(
            "Reminder: {asker} is waiting for your answer. Without one, the question goes "
            "back to the queue in {minutes} minutes.").format(
                asker=asker_name(context, ticket, locale),
                minutes=settings.expert_requeue_minutes - settings.expert_reminder_minutes))
    for ticket in due.requeue:
        moved = await desk.handoff.requeue(ticket.id, None)
        if moved is None:
            continue
        assert ticket.expert_id is not None
        await desk.sessions.clear_current(ticket.expert_id, ticket.id)
        locale = await expert_locale(context, ticket.expert_id)
        await send_to(context, ticket.expert_id, translator(locale)._(
            "{asker} went back to the queue because there was no answer.").format(
                asker=asker_name(context, ticket, locale)))
        await send_to(context, ticket.user_id, translator(ticket.lang)._(
            "Sorry for the wait: your question is back at the front of the queue for the next "
            "available expert."))
        await announce(context, moved)
    for ticket in due.idle:
        closed = await desk.handoff.close(ticket.id, "", "idle")
        if closed is None:
            continue
        if ticket.expert_id is not None:
            await desk.sessions.clear_current(ticket.expert_id, ticket.id)
            locale = await expert_locale(context, ticket.expert_id)
            await send_to(context, ticket.expert_id, translator(locale)._(
                "The conversation with {asker} was closed after a long silence.").format(
                    asker=asker_name(context, ticket, locale)))
        await send_to(context, ticket.user_id, translator(ticket.lang)._(
            "This conversation was closed because it was quiet for a long time. You can "
            "always ask a new question."))
    if due.requeue:
        await notify_positions(context)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the expert handlers; the invite deep link must come before the plain /start."""
    app.add_handler(CommandHandler("start", join, filters=filters.Regex(
        rf"^/start {INVITE_LINK}")))
    app.add_handler(CommandHandler(["beschikbaar", "available", "pauze", "away"], availability))
    app.add_handler(CommandHandler(["wachtrij", "queue"], show_queue))
    app.add_handler(CommandHandler(["volgende", "next"], next_ticket))
    app.add_handler(CommandHandler(["sluit", "close"], close_command))
    app.add_handler(CommandHandler(["overdragen", "transfer"], transfer_command))
    app.add_handler(CommandHandler("snippet", send_snippet))
    app.add_handler(CommandHandler(["uitnodigen", "invite"], invite))
    app.add_handler(CallbackQueryHandler(claim, pattern=f"^{CLAIM}"))
    app.add_handler(CallbackQueryHandler(pick, pattern=f"^{PICK}"))
    app.add_handler(CallbackQueryHandler(close_outcome, pattern=f"^{CLOSE}"))
    app.add_handler(CallbackQueryHandler(transfer_choice, pattern=f"^{TRANSFER}"))
