"""The command menu shown in Telegram clients, per language."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeChat

from locales import N_, SUPPORTED, translator

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


def commands_for(locale: str) -> list[BotCommand]:
    """The user menu in one language, with that language's command names."""
    tr = translator(locale)
    index = 0 if locale == "nl" else 1
    return [BotCommand(names[index], tr._(names[2])) for names in USER_COMMANDS]


async def set_default_commands(bot: Bot, default_locale: str) -> None:
    """Set the menu per client language and the fallback for all others."""
    for locale in SUPPORTED:
        await bot.set_my_commands(commands_for(locale), language_code=locale)
    await bot.set_my_commands(commands_for(default_locale))


async def set_chat_commands(bot: Bot, chat_id: int, locale: str) -> None:
    """Give one chat the menu of the language its user chose."""
    await bot.set_my_commands(commands_for(locale), scope=BotCommandScopeChat(chat_id))
