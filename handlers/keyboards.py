"""Small builders for inline keyboards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup


def keyboard(rows: Iterable[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback_data) pairs as an inline keyboard."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def column(buttons: Iterable[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per row."""
    return keyboard([button] for button in buttons)


class ReusedKeyboard(InlineKeyboardMarkup):
    """An inline keyboard built once and sent with many messages (cache it per shape).

    PTB turns a markup into a dict on every send by walking each button's attributes: in a
    burst about 5 % of the desk's CPU per question went there. This markup makes its dict
    once; Telegram objects are frozen after construction, so it never goes stale."""

    __slots__ = ("_as_dict",)

    def __init__(self, inline_keyboard: Sequence[Sequence[InlineKeyboardButton]],
                 *, api_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(inline_keyboard, api_kwargs=api_kwargs)
        object.__setattr__(self, "_as_dict", super().to_dict())  # past the freeze, once

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        """The dict made at construction (a shallow copy, so a caller may add keys)."""
        if not recursive:
            return super().to_dict(recursive=False)
        as_dict: dict[str, Any] = self._as_dict
        return dict(as_dict)
