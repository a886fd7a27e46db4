"""The command menu shown in Telegram clients, per language, and per chat for experts and
coordinators (whose commands an asker has no use for)."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from locales import N_, SUPPORTED, translator

log = logging.getLogger(__name__)

# (Dutch command, English alias, description). Descriptions are translated at set time.
USER_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("start", "start", N_("Start or restart the desk")),
    ("onderwerpen", "topics", N_("Browse topics and guidance")),
    ("links", "links", N_("Quick guidance links")),
    ("expert", "expert", N_("Talk to an expert")),
    ("stop", "stop", N_("Cancel a request or end a conversation")),
    ("taal", "language", N_("Nederlands / English")),
    ("privacy", "privacy", N_("What we keep and for how long")),
    ("vergeet", "forget", N_("Delete everything the desk holds about you")),
    ("help", "help", N_("How the desk works")),
)


EXPERT_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("beschikbaar", "available", N_("On duty: new questions are announced to you")),
    ("pauze", "away", N_("Off duty (you keep your conversations)")),
    ("wachtrij", "queue", N_("Questions waiting")),
    ("volgende", "next", N_("Take the next question that fits you")),
    ("gesprekken", "chats", N_("Your conversations, to switch between them")),
    ("sluit", "close", N_("Close the current conversation")),
    ("overdragen", "transfer", N_("Hand the conversation to another expert")),
    ("snippet", "snippet", N_("Share guidance from the knowledge base")),
    ("dashboard", "dashboard", N_("A login link for the dashboard")),
    ("taal", "language", N_("Nederlands / English")),
    ("help", "help", N_("How the desk works")),
)
COORDINATOR_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("uitnodigen", "invite", N_("Invite an expert")),
    ("dashboard", "dashboard", N_("A login link for the dashboard")),
)


def staff_help(locale: str, expert: bool, coordinator: bool) -> list[str]:
    """The /help of an expert or coordinator: their commands, from the menu's own rows (the
    language and help commands left out: everyone has those)."""
    tr = translator(locale)
    index = 0 if locale == "nl" else 1
    lines: list[str] = []
    if expert:
        lines.append(tr._("Your commands as an expert:"))
        lines += [f"• /{names[index]}: {tr._(names[2])}" for names in EXPERT_COMMANDS
                  if names[0] not in ("taal", "help")]
        lines.append(tr._("Plain messages go to your active conversation; reply to a message "
                          "of an asker to answer that asker."))
    if coordinator:
        if lines:
            lines.append("")
        lines.append(tr._("Your commands as a coordinator:"))
        lines += [f"• /{names[index]}: {tr._(names[2])}" for names in COORDINATOR_COMMANDS
                  if not (expert and names in EXPERT_COMMANDS)]
        lines.append(tr._("/{command} NAME [expertise…] makes a single-use invite link; a name "
                          "with a space goes in quotes. The dashboard shows the queue, the "
                          "summaries, the experts and the trends.").format(
                              command=COORDINATOR_COMMANDS[0][index]))
    return lines


def commands_for(locale: str, expert: bool = False, coordinator: bool = False
                 ) -> list[BotCommand]:
    """The menu in one language, with that language's command names: an asker's, or an
    expert's; a coordinator's adds the pool's management."""
    tr = translator(locale)
    index = 0 if locale == "nl" else 1
    rows = list(EXPERT_COMMANDS if expert else USER_COMMANDS)
    if coordinator:
        rows += [row for row in COORDINATOR_COMMANDS if row not in rows]
    return [BotCommand(names[index], tr._(names[2])) for names in rows]


async def set_default_commands(bot: Bot, default_locale: str) -> None:
    """Set the menu per client language and the fallback for all others."""
    for locale in SUPPORTED:
        await bot.set_my_commands(commands_for(locale), language_code=locale)
    await bot.set_my_commands(commands_for(default_locale))


async def set_chat_commands(bot: Bot, chat_id: int, locale: str, expert: bool = False,
                            coordinator: bool = False) -> None:
    """Give one chat the menu of its user's language and place at the desk (a menu that
    cannot be set is logged, never in the way of what the user asked for)."""
    try:
        await bot.set_my_commands(commands_for(locale, expert, coordinator),
                                  scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("could not set a chat's command menu: %s", type(exc).__name__)
