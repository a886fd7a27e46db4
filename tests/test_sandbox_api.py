"""The sandbox Telegram server on its own, over HTTP: answers shaped the way Telegram's are."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.runtime import running_sandbox
from bot.sandbox import SandboxTelegram
from bot.sandbox.server import BOT_ID, BOT_USERNAME

USER = 501


@dataclass
class Sandbox:
    """The running sandbox and an HTTP session to it."""

    telegram: SandboxTelegram
    url: str
    session: aiohttp.ClientSession

    async def bot(self, method: str, token: str | None = None,
                  **params: Any) -> tuple[int, dict[str, Any]]:
        """A Bot API call, form-encoded like python-telegram-bot sends it."""
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        async with self.session.post(f"{self.url}/bot{token or self.telegram.token}/{method}",
                                     data=form) as resp:
            return resp.status, await resp.json()

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self.bot(method, **params)
        assert status == 200 and body["ok"] is True, body
        return body["result"]

    async def error(self, method: str, code: int, **params: Any) -> str:
        status, body = await self.bot(method, **params)
        assert status == code, body
        assert body["ok"] is False and body["error_code"] == code, body
        return body["description"]

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.url + path, json=body) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def send(self, text: str, user_id: int = USER) -> int:
        status, body = await self.post("/sandbox/api/send",
                                       {"user_id": user_id, "text": text, "first_name": "Eva",
                                        "language_code": "nl"})
        assert status == 200, body
        return body["update_id"]

    async def inbox(self, user_id: int = USER, after: int | None = None) -> list[dict[str, Any]]:
        params = {"user_id": str(user_id)}
        if after is not None:
            params["after"] = str(after)
        async with self.session.get(self.url + "/sandbox/api/inbox", params=params) as resp:
            assert resp.status == 200
            return (await resp.json())["messages"]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running_sandbox("127.0.0.1", 0) as (telegram, url), \
            aiohttp.ClientSession() as session:
        yield Sandbox(telegram, url, session)


async def test_get_me(sandbox: Sandbox) -> None:
    me = await sandbox.ok("getMe")
    assert me["id"] == BOT_ID and me["is_bot"] is True and me["username"] == BOT_USERNAME


async def test_wrong_token_is_unauthorized(sandbox: Sandbox) -> None:
    status, body = await sandbox.bot("getMe", token=f"{BOT_ID}:wrong")
    assert status == 401
    assert body["ok"] is False and body["error_code"] == 401
    assert body["description"] == "Unauthorized"


async def test_unknown_method_is_not_found(sandbox: Sandbox) -> None:
    assert "not found" in (await sandbox.error("sendTelepathy", 404)).lower()


async def test_send_to_unknown_chat(sandbox: Sandbox) -> None:
    assert await sandbox.error("sendMessage", 403, chat_id=999, text="hoi") == \
        "Forbidden: bot can't initiate conversation with a user"
    assert await sandbox.error("sendMessage", 400, chat_id=-999, text="hoi") == \
        "Bad Request: chat not found"


async def test_user_message_arrives_with_command_entity(sandbox: Sandbox) -> None:
    update_id = await sandbox.send("/start x")
    updates = await sandbox.ok("getUpdates", offset="0", timeout="0")
    assert [u["update_id"] for u in updates] == [update_id]
    message = updates[0]["message"]
    assert message["text"] == "/start x"
    assert message["chat"] == {"id": USER, "type": "private", "first_name": "Eva"}
    assert message["from"]["language_code"] == "nl" and message["from"]["is_bot"] is False
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


async def test_plain_text_has_no_entities(sandbox: Sandbox) -> None:
    await sandbox.send("hallo /start")
    (update,) = await sandbox.ok("getUpdates")
    assert "entities" not in update["message"]


async def test_confirming_an_offset_forgets_older_updates(sandbox: Sandbox) -> None:
    first = await sandbox.send("een")
    second = await sandbox.send("twee")
    third = await sandbox.send("drie")
    assert [u["update_id"] for u in await sandbox.ok("getUpdates")] == [first, second, third]
    assert [u["update_id"] for u in await sandbox.ok("getUpdates", offset=str(third))] == [third]
    # Forgotten for good: asking again without an offset does not bring them back.
    assert [u["update_id"] for u in await sandbox.ok("getUpdates")] == [third]
    assert await sandbox.ok("getUpdates", offset=str(third + 1)) == []


async def test_long_poll_times_out_empty(sandbox: Sandbox) -> None:
    started = time.monotonic()
    assert await sandbox.ok("getUpdates", timeout="1") == []
    assert 0.9 <= time.monotonic() - started < 2.0


async def test_long_poll_returns_as_soon_as_a_message_arrives(sandbox: Sandbox) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(sandbox.ok("getUpdates", timeout="5"))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await sandbox.send("ben je er?")
    updates = await asyncio.wait_for(poll, timeout=3)
    assert [u["message"]["text"] for u in updates] == ["ben je er?"]
    assert time.monotonic() - started < 1.5


async def test_html_is_shown_as_plain_text(sandbox: Sandbox) -> None:
    await sandbox.send("hoi")
    sent = await sandbox.ok("sendMessage", chat_id=str(USER), parse_mode="HTML",
                            text="<b>Welkom</b> bij de <i>Vraagbaak</i> &amp; meer")
    (shown,) = await sandbox.inbox()
    assert shown["text"] == "Welkom bij de Vraagbaak & meer"
    assert shown["message_id"] == sent["message_id"]
    assert shown["buttons"] == []


async def test_message_limits(sandbox: Sandbox) -> None:
    await sandbox.send("hoi")
    chat = str(USER)
    assert "can't parse entities" in await sandbox.error(
        "sendMessage", 400, chat_id=chat, parse_mode="HTML", text="<div>blok</div>")
    assert "can't parse entities" in await sandbox.error(
        "sendMessage", 400, chat_id=chat, parse_mode="HTML", text="<b>open")
    assert await sandbox.error("sendMessage", 400, chat_id=chat, text="x" * 4097) == \
        "Bad Request: message is too long"
    await sandbox.ok("sendMessage", chat_id=chat, text="x" * 4096)
    # The limit counts what is shown, not the markup.
    await sandbox.ok("sendMessage", chat_id=chat, parse_mode="HTML",
                     text="<b>" + "x" * 4096 + "</b>")
    markup = {"inline_keyboard": [[{"text": "Te lang", "callback_data": "d" * 65}]]}
    assert await sandbox.error("sendMessage", 400, chat_id=chat, text="kies",
                               reply_markup=markup) == "Bad Request: BUTTON_DATA_INVALID"
    # Telegram counts bytes: 33 characters of two bytes each are too many.
    markup = {"inline_keyboard": [[{"text": "Te lang", "callback_data": "é" * 33}]]}
    assert await sandbox.error("sendMessage", 400, chat_id=chat, text="kies",
                               reply_markup=markup) == "Bad Request: BUTTON_DATA_INVALID"
    markup = {"inline_keyboard": [[{"text": "Net goed", "callback_data": "d" * 64}]]}
    await sandbox.ok("sendMessage", chat_id=chat, text="kies", reply_markup=markup)
    assert len(await sandbox.inbox()) == 3


async def send_buttons(sandbox: Sandbox) -> dict[str, Any]:
    await sandbox.send("/start")
    markup = {"inline_keyboard": [
        [{"text": "Professional", "callback_data": "role:pro"},
         {"text": "Vrijwilliger", "callback_data": "role:vol"}],
        [{"text": "Website", "url": "https://example.org"}],
    ]}
    return await sandbox.ok("sendMessage", chat_id=str(USER), text="Wie ben je?",
                            reply_markup=markup)


async def test_inline_buttons_appear_in_inbox(sandbox: Sandbox) -> None:
    sent = await send_buttons(sandbox)
    assert sent["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Professional", "callback_data": "role:pro"}
    (shown,) = await sandbox.inbox()
    assert shown["buttons"] == [
        [{"text": "Professional", "data": "role:pro"},
         {"text": "Vrijwilliger", "data": "role:vol"}],
        [{"text": "Website", "url": "https://example.org"}],
    ]


async def test_press_needs_a_button_the_message_carries(sandbox: Sandbox) -> None:
    sent = await send_buttons(sandbox)
    (start,) = await sandbox.ok("getUpdates")
    assert await sandbox.ok("getUpdates", offset=str(start["update_id"] + 1)) == []
    status, _ = await sandbox.post("/sandbox/api/press", {
        "user_id": USER, "message_id": sent["message_id"], "data": "role:expert"})
    assert status == 400
    status, _ = await sandbox.post("/sandbox/api/press", {
        "user_id": USER, "message_id": sent["message_id"] + 10, "data": "role:pro"})
    assert status == 400
    assert await sandbox.ok("getUpdates") == []
    status, body = await sandbox.post("/sandbox/api/press", {
        "user_id": USER, "message_id": sent["message_id"], "data": "role:pro"})
    assert status == 200, body
    (update,) = await sandbox.ok("getUpdates")
    assert update["update_id"] == body["update_id"]
    query = update["callback_query"]
    assert query["data"] == "role:pro"
    assert query["from"]["id"] == USER
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["message"]["text"] == "Wie ben je?"
    assert query["message"]["from"]["id"] == BOT_ID
    assert query["message"]["reply_markup"] == sent["reply_markup"]
    assert await sandbox.ok("answerCallbackQuery", callback_query_id=query["id"],
                            text="Opgeslagen") is True
    assert sandbox.telegram.users[USER].last_callback_answer == "Opgeslagen"
    # A query is answered once.
    assert "query ID is invalid" in await sandbox.error(
        "answerCallbackQuery", 400, callback_query_id=query["id"])


async def test_answer_callback_query_with_bogus_id(sandbox: Sandbox) -> None:
    assert "query ID is invalid" in await sandbox.error(
        "answerCallbackQuery", 400, callback_query_id="bogus")


async def test_edit_message_text(sandbox: Sandbox) -> None:
    sent = await send_buttons(sandbox)
    await sandbox.ok("editMessageText", chat_id=str(USER), message_id=str(sent["message_id"]),
                     text="Je bent <b>professional</b>", parse_mode="HTML")
    (shown,) = await sandbox.inbox()
    assert shown["message_id"] == sent["message_id"]
    assert shown["text"] == "Je bent professional"
    assert shown["buttons"] == []  # an edit without reply_markup removes the keyboard
    assert "message is not modified" in await sandbox.error(
        "editMessageText", 400, chat_id=str(USER), message_id=str(sent["message_id"]),
        text="Je bent <b>professional</b>", parse_mode="HTML")
    # The user's own message cannot be edited by the bot.
    assert "can't be edited" in await sandbox.error(
        "editMessageText", 400, chat_id=str(USER), message_id="1", text="gewijzigd")


async def test_inbox_after_returns_only_newer_bot_messages(sandbox: Sandbox) -> None:
    await sandbox.send("hoi")  # message_id 1, the user's
    ids = [(await sandbox.ok("sendMessage", chat_id=str(USER), text=t))["message_id"]
           for t in ("een", "twee", "drie")]
    assert [m["text"] for m in await sandbox.inbox()] == ["een", "twee", "drie"]
    assert [m["text"] for m in await sandbox.inbox(after=ids[0])] == ["twee", "drie"]
    assert await sandbox.inbox(after=ids[-1]) == []
    assert await sandbox.inbox(user_id=USER + 1) == []


async def test_chat_page(sandbox: Sandbox) -> None:
    async with sandbox.session.get(sandbox.url + "/") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
    assert "Vraagbaak" in page
    assert "{{BOT_USERNAME}}" not in page


async def test_requests_are_checked_against_the_bot_api_specification(sandbox: Sandbox) -> None:
    assert sandbox.telegram.spec.version == "Bot API 10.1"
    await sandbox.send("hoi")
    chat = str(USER)
    assert await sandbox.error("sendMessage", 400, chat_id=chat, text="hoi", colour="red") == \
        'Bad Request: unknown parameter "colour" of method sendMessage'
    assert await sandbox.error("sendMessage", 400, chat_id=chat) == \
        "Bad Request: text is empty"
    assert await sandbox.error("sendMessage", 400, chat_id=chat, text="hoi",
                               disable_notification="ja") == \
        'Bad Request: field "disable_notification" must be of type Boolean'
    assert await sandbox.error("sendMessage", 400, chat_id=chat, text="hoi",
                               reply_markup={"inline_keyboard": [[{"text": "x"}]]}) == \
        ("Bad Request: can't parse inline keyboard button: exactly one of the optional "
         "fields must be used, found 0")
    both = {"text": "x", "callback_data": "a", "url": "https://example.org"}
    assert "found 2" in await sandbox.error("sendMessage", 400, chat_id=chat, text="hoi",
                                            reply_markup={"inline_keyboard": [[both]]})
    assert await sandbox.error("answerCallbackQuery", 400, callback_query_id="1",
                               text="x" * 201) == "Bad Request: MESSAGE_TOO_LONG"
    assert await sandbox.error("setMyCommands", 400, commands=[
        {"command": "Start", "description": "begin"}]) == "Bad Request: BOT_COMMAND_INVALID"
    assert await sandbox.error("setMyCommands", 400, commands=[
        {"command": "start", "description": ""}]) == \
        "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
    assert await sandbox.error("setMyCommands", 400, commands=[{"command": "start"}]) == \
        'Bad Request: can\'t parse BotCommand: field "description" is required'
    assert await sandbox.error("setMyCommands", 400, commands=[
        {"command": "start", "description": "begin"}], scope={"type": "galaxy"}) == \
        'Bad Request: can\'t parse BotCommandScope: no matching type for field "scope"'
    await sandbox.ok("setMyCommands", commands=[{"command": "start", "description": "begin"}],
                     scope={"type": "chat", "chat_id": USER})
    assert len(sandbox.telegram.violations) == 10
    # python-telegram-bot's harmless extra (see spec.PTB_EXTRAS) is accepted.
    sent = await sandbox.ok("sendMessage", chat_id=chat, text="kies", reply_markup={
        "inline_keyboard": [[{"text": "a", "callback_data": "a"}]]})
    await sandbox.ok("editMessageReplyMarkup", chat_id=chat, message_id=sent["message_id"],
                     parse_mode="HTML", reply_markup={"inline_keyboard": []})
    assert len(sandbox.telegram.violations) == 10


@pytest.mark.parametrize(("html", "error"), [
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
    ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
    ("<b>x<i>y</b></i>", 'Unmatched end tag at byte offset 8, expected "</i>", found "</b>"'),
    ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ('<a href="https://x.nl" target="_blank">x</a>',
     'Unsupported attribute "target" of tag "a" at byte offset 0'),
    ("<code><b>x</b></code>", "Entities can't be nested in code or pre at byte offset 6"),
    ("<b x", "Unclosed start tag at byte offset 0"),
])
async def test_html_outside_telegrams_subset_is_refused(sandbox: Sandbox, html: str,
                                                        error: str) -> None:
    await sandbox.send("hoi")
    assert await sandbox.error("sendMessage", 400, chat_id=str(USER), parse_mode="HTML",
                               text=html) == "Bad Request: can't parse entities: " + error


async def test_formatted_text_comes_back_with_entities(sandbox: Sandbox) -> None:
    await sandbox.send("hoi")
    sent = await sandbox.ok(
        "sendMessage", chat_id=str(USER), parse_mode="HTML",
        text='😀 <b>Let <i>op</i></b> &lt;3 &quot;<a href="https://jep.nl?a=1&amp;b=2">JEP</a>'
             '&quot; <span class="tg-spoiler">s</span> <pre><code class="language-py">x</code>'
             "</pre> &#8364;")
    assert sent["text"] == '😀 Let op <3 "JEP" s x €'
    assert sent["entities"] == [
        {"type": "bold", "offset": 3, "length": 6},  # the emoji is two UTF-16 units
        {"type": "italic", "offset": 7, "length": 2},
        {"type": "text_link", "offset": 14, "length": 3, "url": "https://jep.nl?a=1&b=2"},
        {"type": "spoiler", "offset": 19, "length": 1},
        {"type": "pre", "offset": 21, "length": 1, "language": "py"},
    ]


async def test_block_and_unblock_send_my_chat_member(sandbox: Sandbox) -> None:
    await sandbox.send("hoi")
    status, body = await sandbox.post("/sandbox/api/block", {"user_id": USER})
    assert status == 200 and body["blocked"] is True
    assert await sandbox.error("sendMessage", 403, chat_id=str(USER), text="hoi") == \
        "Forbidden: bot was blocked by the user"
    status, body = await sandbox.post("/sandbox/api/unblock", {"user_id": USER})
    assert status == 200
    await sandbox.ok("sendMessage", chat_id=str(USER), text="hoi")
    changes = [u["my_chat_member"] for u in await sandbox.ok("getUpdates")
               if "my_chat_member" in u]
    assert [(c["old_chat_member"]["status"], c["new_chat_member"]["status"])
            for c in changes] == [("member", "kicked"), ("kicked", "member")]
    assert changes[0]["chat"] == {"id": USER, "type": "private", "first_name": "Eva"}
    assert changes[0]["new_chat_member"]["user"]["id"] == BOT_ID


async def test_the_sandboxs_answers_are_of_the_specifications_types(sandbox: Sandbox) -> None:
    spec = sandbox.telegram.spec
    assert spec.result_problem("getMe", {"id": "7", "is_bot": True, "first_name": "V"}) == \
        'field "id" must be of type Integer'
    await sandbox.send("/start")
    sent = await sandbox.ok("sendMessage", chat_id=str(USER), parse_mode="HTML",
                            text="<b>Kies</b>", reply_markup={"inline_keyboard": [
                                [{"text": "a", "callback_data": "a"}]]})
    await sandbox.post("/sandbox/api/press", {"user_id": USER, "message_id": sent["message_id"],
                                              "data": "a"})
    await sandbox.post("/sandbox/api/block", {"user_id": USER})
    for method in ("getMe", "getUpdates", "getWebhookInfo", "getMyCommands"):
        await sandbox.ok(method)
    assert sandbox.telegram.violations == []
