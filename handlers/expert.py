"""The expert's side: joining, availability, the queue, claims, switching, closing, transfer,
guidance, and the admin's invites; plus the periodic sweep.

Every rule lives in handoff.service; these handlers read the update, call the service and let
handlers.notify render and send what it returns."""

from __future__ import annotations

import logging
import shlex

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from handlers.context import DeskContext, esc
from handlers.menu import set_chat_commands, staff_help
from handlers.notify import (
    CLAIM,
    CLOSE,
    CLOSE_TOPIC,
    PICK,
    SNIPPET,
    TRANSFER,
    answer,
    deliver,
    refusal_text,
)
from handoff.notices import Refusal, Result

log = logging.getLogger(__name__)

INVITE_LINK = "inv_"


async def join(update: Update, context: DeskContext) -> None:
    """/start inv_<code>: redeem an invite and become an expert."""
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None:
        return
    code = (context.args or [""])[0].removeprefix(INVITE_LINK)
    expert = await context.desk.experts.redeem_invite(code, user.id)
    if expert is None:
        await message.reply_text(context.tr._(
            "This invite is not valid (any more). Ask the coordinator for a new one."))
        log.warning("invalid invite used user=%s", context.log_id(update))
        return
    log.info("expert joined user=%s", context.log_id(update))
    await message.reply_text(
        context.tr._("Welcome to the expert pool, {name}. Users see you as {name}; you see "
                     "them only as a pseudonym. You are set to away: send /beschikbaar when "
                     "you can take questions.").format(name=esc(expert.display_name))
        + "\n\n" + esc("\n".join(staff_help(context.locale, True,
                                              context.desk.service.may_manage_pool(user.id)))))
    await set_chat_commands(context.bot, user.id, context.locale, True,
                            context.desk.service.may_manage_pool(user.id))


def _actor(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user is not None else None


async def availability(update: Update, context: DeskContext) -> None:
    """/beschikbaar and /pauze."""
    actor = _actor(update)
    if actor is None or update.effective_message is None:
        return
    command = (update.effective_message.text or "/").split()[0].lstrip("/").split("@")[0]
    available = command.lower() in ("beschikbaar", "available")
    await answer(context, update, await context.desk.service.set_available(actor, available))


async def show_queue(update: Update, context: DeskContext) -> None:
    """/wachtrij: waiting tickets with Claim buttons."""
    if (actor := _actor(update)) is not None:
        await answer(context, update, await context.desk.service.queue_list(actor))


async def next_ticket(update: Update, context: DeskContext) -> None:
    """/volgende: claim the best waiting ticket for this expert."""
    if (actor := _actor(update)) is not None:
        await answer(context, update, await context.desk.service.claim_next(actor))


async def conversations(update: Update, context: DeskContext) -> None:
    """/gesprekken (/chats): the expert's conversations, with buttons to switch."""
    if (actor := _actor(update)) is not None:
        await answer(context, update, await context.desk.service.conversations(actor))


def _replied(update: Update) -> int | None:
    """The message a command was sent in reply to: it names the conversation meant."""
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    return replied.message_id if replied is not None else None


async def close_command(update: Update, context: DeskContext) -> None:
    """/sluit: outcome, then summary."""
    if (actor := _actor(update)) is not None:
        await answer(context, update,
                     await context.desk.service.start_close(actor, _replied(update)))


async def transfer_command(update: Update, context: DeskContext) -> None:
    """/overdragen [note]: a note, then back to the queue or to another expert."""
    if (actor := _actor(update)) is not None:
        note = " ".join(context.args or []).strip() or None
        await answer(context, update, await context.desk.service.start_transfer(
            actor, note, _replied(update)))


async def snippet_command(update: Update, context: DeskContext) -> None:
    """/snippet [id]: send guidance to the asker, or choose it from the topic's snippets."""
    if (actor := _actor(update)) is None:
        return
    service = context.desk.service
    args = context.args or []
    replied = _replied(update)
    result = await service.send_snippet(actor, args[0], reply_to=replied) if args else \
        await service.snippet_choices(actor, replied)
    await answer(context, update, result)


def _callback(update: Update, prefix: str) -> tuple[int, str] | None:
    """(actor, data after the prefix) of a callback query, None for odd shapes."""
    query = update.callback_query
    if query is None or update.effective_user is None:
        return None
    return update.effective_user.id, (query.data or "").removeprefix(prefix)


async def claim(update: Update, context: DeskContext) -> None:
    """The Claim button: exactly one expert wins."""
    if (parsed := _callback(update, CLAIM)) is not None:
        await answer(context, update, await context.desk.service.claim(*parsed))


async def pick(update: Update, context: DeskContext) -> None:
    """Switch the conversation plain messages go to."""
    if (parsed := _callback(update, PICK)) is not None:
        await answer(context, update, await context.desk.service.pick(*parsed))


async def close_outcome(update: Update, context: DeskContext) -> None:
    """An outcome button (cx:<ticket>:<outcome>)."""
    if (parsed := _callback(update, CLOSE)) is not None:
        actor, data = parsed
        ticket_id, _, outcome = data.rpartition(":")
        await answer(context, update,
                     await context.desk.service.choose_outcome(actor, ticket_id, outcome))


async def close_topic(update: Update, context: DeskContext) -> None:
    """A topic button of the summary step (ct:<ticket>:<topic>)."""
    if (parsed := _callback(update, CLOSE_TOPIC)) is not None:
        actor, data = parsed
        ticket_id, _, topic = data.rpartition(":")
        await answer(context, update,
                     await context.desk.service.choose_topic(actor, ticket_id, topic))


async def transfer_choice(update: Update, context: DeskContext) -> None:
    """A transfer button (tr:<ticket>:q or tr:<ticket>:<expert id>)."""
    if (parsed := _callback(update, TRANSFER)) is not None:
        actor, data = parsed
        ticket_id, _, target = data.rpartition(":")
        await answer(context, update,
                     await context.desk.service.choose_transfer(actor, ticket_id, target))


async def snippet_choice(update: Update, context: DeskContext) -> None:
    """A guidance button (xs:<ticket>:<snippet id>)."""
    if (parsed := _callback(update, SNIPPET)) is not None:
        actor, data = parsed
        ticket_id, _, snippet_id = data.partition(":")
        await answer(context, update,
                     await context.desk.service.send_snippet(actor, snippet_id, ticket_id))


async def invite(update: Update, context: DeskContext) -> None:
    """/uitnodigen NAME [tags…]: admins create a single-use invite link."""
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None:
        return
    args = invite_args(message.text or "")
    if not context.desk.service.may_manage_pool(user.id):
        await message.reply_text(esc(refusal_text(context.tr, Refusal.NOT_ADMIN)))
        return
    if not args:
        await message.reply_text(esc(context.tr._(
            "Usage: /uitnodigen NAME [expertise tags…], e.g. /uitnodigen Marieke jeugdhulp "
            "family. A name with a space goes in quotes: /uitnodigen \"Marieke B.\" family")))
        return
    name = args[0]
    code = await context.desk.service.create_invite(user.id, name, args[1:])
    if code is Refusal.NAME_TAKEN:
        await message.reply_text(esc(context.tr._(
            "An expert named {name} is already in the pool. Askers must be able to tell experts "
            "apart: choose another name, for instance with an initial: /uitnodigen \"{name} "
            "B.\"").format(name=name)))
        return
    if isinstance(code, Refusal):
        await message.reply_text(esc(refusal_text(context.tr, code)))
        return
    link = f"https://t.me/{context.bot.username}?start={INVITE_LINK}{code}"
    await message.reply_text(context.tr._(
        "Single-use invite for {name}, valid for 7 days:\n{link}").format(
            name=esc(name), link=esc(link)))


def invite_args(text: str) -> list[str]:
    """The words after /uitnodigen; a name with a space may be quoted ("Marieke B.", also
    with the curly quotes phones type)."""
    rest = text.partition(" ")[2].replace("“", '"').replace("”", '"')
    try:
        return shlex.split(rest)
    except ValueError:  # an unclosed quote: plain words
        return rest.split()


async def sweep(context: DeskContext) -> None:
    """Every few seconds: the service acts on timeouts; we deliver what it says. Only on
    the instance holding the singletons lease (each step is safe if two ever overlap)."""
    if not await context.desk.singletons.still_current():
        return
    result: Result = await context.desk.service.sweep()
    await deliver(context, result)


async def deliver_outbox(context: DeskContext) -> None:
    """Deliver notices that other front doors (the CLI) left for the bot, on the instance
    holding the singletons lease (a notice is claimed by its delete all the same)."""
    if not await context.desk.singletons.still_current():
        return
    notices = await context.desk.outbox.take()
    if notices:
        await deliver(context, Result(notices))


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the expert handlers; the invite deep link must come before the plain /start."""
    app.add_handler(CommandHandler("start", join, filters=filters.Regex(
        rf"^/start {INVITE_LINK}")))
    app.add_handler(CommandHandler(["beschikbaar", "available", "pauze", "away"], availability))
    app.add_handler(CommandHandler(["wachtrij", "queue"], show_queue))
    app.add_handler(CommandHandler(["volgende", "next"], next_ticket))
    app.add_handler(CommandHandler(["gesprekken", "chats"], conversations))
    app.add_handler(CommandHandler(["sluit", "close"], close_command))
    app.add_handler(CommandHandler(["overdragen", "transfer"], transfer_command))
    app.add_handler(CommandHandler("snippet", snippet_command))
    app.add_handler(CommandHandler(["uitnodigen", "invite"], invite))
    app.add_handler(CallbackQueryHandler(claim, pattern=f"^{CLAIM}"))
    app.add_handler(CallbackQueryHandler(pick, pattern=f"^{PICK}"))
    app.add_handler(CallbackQueryHandler(close_outcome, pattern=f"^{CLOSE}"))
    app.add_handler(CallbackQueryHandler(close_topic, pattern=f"^{CLOSE_TOPIC}"))
    app.add_handler(CallbackQueryHandler(transfer_choice, pattern=f"^{TRANSFER}"))
    app.add_handler(CallbackQueryHandler(snippet_choice, pattern=f"^{SNIPPET}"))
