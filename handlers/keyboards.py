"""Small builders for inline keyboards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup


def keyboard(rows: Iterable[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback_data) pairs as an inline keyboard."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def column(buttons: Iterable[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per row."""
    return keyboard([button] for button in buttons)
