"""Someone blocks or unblocks the bot: Telegram says so with a `my_chat_member` update in their
private chat. From then on every send to them fails with 403, so the handoff ends what waits
on them (handoff.service.HandoffService.blocked); a 403 on a send does the same (notify)."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import Application, ChatMemberHandler

from handlers.context import DeskContext
from handlers.notify import deliver

log = logging.getLogger(__name__)


async def member_changed(update: Update, context: DeskContext) -> None:
    """The bot's membership of a private chat changed: blocked (kicked) or unblocked."""
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    status = change.new_chat_member.status
    if status in (ChatMember.BANNED, ChatMember.LEFT):
        log.info("the bot was blocked user=%s", context.log_id(update))
        await deliver(context, await context.desk.service.blocked(change.chat.id))
    else:
        # Unblocked: nothing to restore; the person starts again when they write.
        log.info("the bot was unblocked user=%s", context.log_id(update))


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the handler of the bot's own membership changes."""
    app.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.MY_CHAT_MEMBER))
