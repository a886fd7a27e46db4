"""The reused answer keyboard: serialised once, sent as PTB would send any markup."""

from __future__ import annotations

import json

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from handlers.keyboards import ReusedKeyboard

pytestmark = pytest.mark.timeout(10)

ROWS = [[InlineKeyboardButton("➕ Signalen", callback_data="s:signals")],
        [InlineKeyboardButton("Dit helpt", callback_data="f1:x"),
         InlineKeyboardButton("Site", url="https://example.org")]]


def test_it_goes_over_the_wire_exactly_as_a_plain_markup() -> None:
    plain, reused = InlineKeyboardMarkup(ROWS), ReusedKeyboard(ROWS)
    assert reused == plain
    wire = [RequestData([RequestParameter.from_input("reply_markup", markup)]).json_payload
            for markup in (plain, reused)]
    assert wire[0] == wire[1]
    assert json.loads(json.loads(wire[1])["reply_markup"]) == plain.to_dict()


def test_its_dict_cannot_be_changed_through_a_caller() -> None:
    reused = ReusedKeyboard(ROWS)
    first = reused.to_dict()
    first["extra"] = 1
    assert "extra" not in reused.to_dict()
    with pytest.raises(AttributeError):
        reused.inline_keyboard = ()  # type: ignore[misc]
