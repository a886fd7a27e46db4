"""Builders of real telegram.Update objects for tests that need no network (PTB style)."""

from __future__ import annotations

import datetime as dt

from telegram import CallbackQuery, Chat, Message, MessageEntity, Update, User

BOT = User(7000000001, "Vraagbaak", is_bot=True, username="VraagbaakSandboxBot")


def make_user(user_id: int, first_name: str = "Test", language_code: str | None = "nl") -> User:
    """A person (not a bot)."""
    return User(user_id, first_name, is_bot=False, language_code=language_code)


def make_chat(chat_id: int, first_name: str = "Test") -> Chat:
    """A private chat with the bot."""
    return Chat(chat_id, Chat.PRIVATE, first_name=first_name)


def make_message(chat_id: int, user_id: int, text: str, message_id: int = 1) -> Message:
    """A text message from a user; a leading /command gets its bot_command entity."""
    entities = []
    if text.startswith("/"):
        length = len(text.split(maxsplit=1)[0])
        entities.append(MessageEntity(MessageEntity.BOT_COMMAND, 0, length))
    return Message(
        message_id,
        dt.datetime.now(dt.UTC),
        make_chat(chat_id),
        from_user=make_user(user_id),
        text=text,
        entities=entities,
    )


def make_message_update(chat_id: int, user_id: int, text: str, update_id: int = 1) -> Update:
    """An update carrying a user's text message."""
    return Update(update_id, message=make_message(chat_id, user_id, text, message_id=update_id))


def make_callback_update(chat_id: int, user_id: int, data: str, update_id: int = 1,
                         message_text: str = "Kies:") -> Update:
    """An update carrying a press on an inline button of a bot message."""
    message = Message(update_id, dt.datetime.now(dt.UTC), make_chat(chat_id), from_user=BOT,
                      text=message_text)
    query = CallbackQuery(str(update_id), make_user(user_id), chat_instance=f"ci{chat_id}",
                          data=data, message=message)
    return Update(update_id, callback_query=query)
