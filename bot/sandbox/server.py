"""The sandbox Telegram server: state, Bot API methods, the test API and the chat page."""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, web

from bot.sandbox.spec import BotApiSpec, SpecViolation
from bot.sandbox.telegram_html import EntityParseError, Parsed, parse_html
from locales import from_accept_language, translator
from locales.vocabulary import Vocabulary

BOT_ID = 7000000001
BOT_USERNAME = "VraagbaakSandboxBot"
MAX_TEXT = 4096
_PAGE = Path(__file__).with_name("page.html")
# Telegram's own words for a callback query answered too late or never issued.
_EXPIRED_QUERY = ("Bad Request: query is too old and response timeout expired or query ID is "
                  "invalid")


class BotApiError(Exception):
    """An error answered the way Telegram does: ok=false, error_code, description."""

    def __init__(self, code: int, description: str,
                 parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def render_text(text: str, parse_mode: str | None) -> Parsed:
    """What a Telegram client shows for `text` sent with `parse_mode`, with its entities."""
    if parse_mode and parse_mode.upper() == "HTML":
        try:
            return parse_html(text)
        except EntityParseError as exc:
            raise SpecViolation(f"Bad Request: can't parse entities: {exc}") from None
    if parse_mode:
        raise SpecViolation(f"Bad Request: unsupported parse_mode {parse_mode!r}")
    return Parsed(text)


@dataclass
class ChatMessage:
    """One message in a private chat, as the sandbox stores it."""

    message_id: int
    from_bot: bool
    text: str
    date: int
    buttons: list[list[dict[str, str]]] = field(default_factory=list)
    kind: str = "text"
    entities: list[dict[str, Any]] = field(default_factory=list)

    def as_inbox(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "text": self.text, "buttons": self.buttons,
                "date": self.date}


GROUP_TYPES = ("group", "supergroup", "channel")


@dataclass
class SandboxUser:
    """A person chatting with the bot in the sandbox, or a group or channel the bot is in."""

    user_id: int
    first_name: str
    language_code: str | None
    messages: list[ChatMessage] = field(default_factory=list)
    next_message_id: int = 1
    commands: list[dict[str, str]] | None = None
    last_callback_answer: str | None = None
    chat_type: str = "private"
    left: bool = False  # the bot left this group (leaveChat)
    blocked: bool = False  # the user blocked the bot: every send answers 403

    def as_user(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def as_chat(self) -> dict[str, Any]:
        if self.chat_type != "private":
            return {"id": self.user_id, "type": self.chat_type, "title": self.first_name}
        return {"id": self.user_id, "type": "private", "first_name": self.first_name}


class SandboxTelegram:
    """In-memory Telegram: users, their chats with the bot, and the update queue."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.users: dict[int, SandboxUser] = {}
        self.updates: list[dict[str, Any]] = []
        # Like Telegram, ids continue from an arbitrary number: a restarted sandbox must not
        # reuse ids that a desk already recorded as handled.
        self._update_ids = itertools.count(secrets.randbelow(10**9) + 1)
        self._callback_ids = itertools.count(1)
        self._new_update = asyncio.Condition()
        self._new_message = asyncio.Condition()
        self.commands: dict[str, list[dict[str, str]]] = {}
        self._callbacks: dict[str, int] = {}
        self.closing = False
        self.spec = BotApiSpec.load()
        # Requests the specification or Telegram's limits refuse: (method, description).
        self.violations: list[tuple[str, str]] = []
        # Flood control on demand: the next `calls` Bot API calls (getUpdates aside) answer
        # 429 with this retry_after, and nothing of them happens.
        self.throttle_calls = 0
        self.throttle_retry_after = 1
        self.throttled: list[str] = []  # the methods refused so
        # Other failures on demand: the next getUpdates calls answer 409 (another instance
        # polls), the next calls of any method lose their connection (a network error).
        self.conflicts = 0
        self.disconnects = 0
        self.disconnect_method = ""  # only calls of this method lose it ("": any)
        # Webhook mode, as Telegram does it: POST each update, keep it until answered 2xx.
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_statuses: list[int] = []
        self._delivery: asyncio.Task[None] | None = None

    # -- the user side -------------------------------------------------------------------

    def _user(self, user_id: int, first_name: str | None = None,
              language_code: str | None = None) -> SandboxUser:
        user = self.users.get(user_id)
        if user is None:
            user = SandboxUser(user_id, first_name or f"User {user_id}", language_code)
            self.users[user_id] = user
        else:
            if first_name:
                user.first_name = first_name
            if language_code:
                user.language_code = language_code
        return user

    async def _push(self, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self.updates.append({"update_id": update_id, **payload})
        async with self._new_update:
            self._new_update.notify_all()
        return update_id

    def _group(self, chat_id: int, chat_type: str) -> SandboxUser:
        if chat_type not in GROUP_TYPES or chat_id >= 0:
            raise BotApiError(400, "a group or channel needs a negative chat_id and a type "
                                   f"of {', '.join(GROUP_TYPES)}")
        chat = self.users.get(chat_id)
        if chat is None:
            chat = SandboxUser(chat_id, f"Group {-chat_id}", None, chat_type=chat_type)
            self.users[chat_id] = chat
        if chat.left:
            raise BotApiError(403, "Forbidden: the bot is not a member of this chat")
        return chat

    async def user_sends(self, user_id: int, text: str, first_name: str | None = None,
                         language_code: str | None = None,
                         reply_to_message_id: int | None = None, chat_type: str = "private",
                         chat_id: int | None = None) -> int:
        """A user sends a text message, optionally as a reply, in their private chat or a
        group; returns the update id."""
        user = self._user(user_id, first_name, language_code)
        chat = user if chat_type == "private" else self._group(
            chat_id if chat_id is not None else -1000 - user_id, chat_type)
        replied = None
        if reply_to_message_id is not None:
            replied = next((m for m in chat.messages if m.message_id == reply_to_message_id),
                           None)
            if replied is None:
                raise BotApiError(400, "no such message to reply to in this chat")
        msg = ChatMessage(chat.next_message_id, False, text, int(time.time()))
        chat.next_message_id += 1
        chat.messages.append(msg)
        message: dict[str, Any] = {
            "message_id": msg.message_id, "chat": chat.as_chat(), "date": msg.date, "text": text,
        }
        if chat_type != "channel":  # channel posts carry no sender
            message["from"] = user.as_user()
        if replied is not None:
            message["reply_to_message"] = self._bot_message_json(chat, replied) \
                if replied.from_bot else {
                    "message_id": replied.message_id, "from": user.as_user(),
                    "chat": chat.as_chat(), "date": replied.date, "text": replied.text}
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return await self._push({"channel_post" if chat_type == "channel" else "message": message})

    async def user_sends_media(self, user_id: int, kind: str) -> int:
        """A user sends a sticker, photo, voice note or document (no real file behind it)."""
        user = self._user(user_id)
        msg = ChatMessage(user.next_message_id, False, f"[{kind}]", int(time.time()), kind=kind)
        user.next_message_id += 1
        user.messages.append(msg)
        file_base = {"file_id": f"sandbox-{kind}-{msg.message_id}",
                     "file_unique_id": f"u{msg.message_id}"}
        media: dict[str, Any]
        if kind == "photo":
            media = {"photo": [{**file_base, "width": 100, "height": 100}]}
        elif kind == "sticker":
            media = {"sticker": {**file_base, "width": 512, "height": 512, "is_animated": False,
                                 "is_video": False, "type": "regular"}}
        elif kind == "voice":
            media = {"voice": {**file_base, "duration": 3}}
        elif kind == "document":
            media = {"document": {**file_base, "file_name": "file.pdf"}}
        else:
            raise BotApiError(400, f"unknown media kind {kind!r}")
        message = {"message_id": msg.message_id, "from": user.as_user(), "chat": user.as_chat(),
                   "date": msg.date, **media}
        return await self._push({"message": message})

    async def user_edits(self, user_id: int, message_id: int, text: str) -> int:
        """A user edits one of their earlier messages."""
        user = self._user(user_id)
        for msg in user.messages:
            if msg.message_id == message_id and not msg.from_bot:
                msg.text = text
                message = {"message_id": message_id, "from": user.as_user(),
                           "chat": user.as_chat(), "date": msg.date,
                           "edit_date": int(time.time()), "text": text}
                return await self._push({"edited_message": message})
        raise BotApiError(400, "no such user message")

    async def user_presses(self, user_id: int, message_id: int, data: str,
                           expired: bool = False) -> int:
        """A user presses an inline button; 400 unless that message carries that button.
        `expired`: the query reaches the bot too late to be answered, as after a restart
        or a slow network (answerCallbackQuery then fails the way Telegram's does)."""
        user = self.users.get(user_id)
        msg = None if user is None else next(
            (m for m in user.messages if m.message_id == message_id and m.from_bot), None)
        if user is None or msg is None:
            raise BotApiError(400, "no such bot message in this chat")
        if not any(b.get("data") == data for row in msg.buttons for b in row):
            raise BotApiError(400, "that message has no button with this callback_data")
        query_id = str(next(self._callback_ids))
        if not expired:
            self._callbacks[query_id] = user_id
        query = {
            "id": query_id, "from": user.as_user(),
            "chat_instance": f"ci{user_id}", "data": data,
            "message": self._bot_message_json(user, msg),
        }
        return await self._push({"callback_query": query})

    async def user_blocks(self, user_id: int, blocked: bool = True) -> int | None:
        """A user blocks (or unblocks) the bot: from then on every send to them answers 403,
        and the bot gets the `my_chat_member` update Telegram sends; None if nothing changed."""
        user = self._user(user_id)
        if user.blocked == blocked:
            return None
        user.blocked = blocked
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "Vraagbaak",
               "username": BOT_USERNAME}
        member = {"status": "member", "user": bot}
        kicked = {"status": "kicked", "user": bot, "until_date": 0}
        return await self._push({"my_chat_member": {
            "chat": user.as_chat(), "from": user.as_user(), "date": int(time.time()),
            "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member}})

    def inbox(self, user_id: int, after: int = 0) -> list[dict[str, Any]]:
        """Bot messages to a user with message_id > after, edits applied."""
        user = self.users.get(user_id)
        if user is None:
            return []
        return [m.as_inbox() for m in user.messages if m.from_bot and m.message_id > after]

    def history(self, user_id: int) -> list[dict[str, Any]]:
        """Both sides of a user's chat, for the chat page."""
        user = self.users.get(user_id)
        if user is None:
            return []
        return [{**m.as_inbox(), "from_bot": m.from_bot, "kind": m.kind} for m in user.messages]

    async def wait_for_bot_message(self, timeout: float) -> None:
        """Wait until the bot sends or edits something, or the timeout passes."""
        async with self._new_message:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_message.wait(), timeout)

    async def close(self) -> None:
        """Answer every waiting long poll now, so shutdown does not wait for their timeouts."""
        self.closing = True
        async with self._new_update:
            self._new_update.notify_all()
        await self._stop_delivery()

    async def _stop_delivery(self) -> None:
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None

    async def _deliver(self) -> None:
        """Post pending updates to the webhook in order; retry one until it is accepted."""
        async with ClientSession() as session:
            while True:
                if not self.updates:
                    # A short poll, not the condition: cancelling a condition wait at shutdown
                    # can wait for its lock.
                    await asyncio.sleep(0.02)
                    continue
                update = self.updates[0]
                if await self._post_update(session, update):
                    if self.updates and self.updates[0] is update:
                        self.updates.pop(0)
                else:
                    await asyncio.sleep(0.2)  # Telegram waits longer; a test should not

    async def _post_update(self, session: ClientSession, update: dict[str, Any]) -> bool:
        """Post one update to the webhook with its secret; True when it was accepted (2xx).
        Each answer's status is recorded in `webhook_statuses`."""
        headers = ({"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret}
                   if self.webhook_secret else {})
        try:
            async with session.post(self.webhook_url, json=update, headers=headers) as resp:
                status = resp.status
        except ClientError:
            status = 0
        self.webhook_statuses.append(status)
        return 200 <= status < 300

    # -- the bot side (Bot API) ---------------------------------------------------------

    def _bot_message_json(self, user: SandboxUser, msg: ChatMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Vraagbaak",
                     "username": BOT_USERNAME},
            "chat": user.as_chat(), "date": msg.date, "text": msg.text,
        }
        if msg.entities:
            data["entities"] = msg.entities
        if msg.buttons:
            data["reply_markup"] = {"inline_keyboard": [
                [{"text": b["text"], "callback_data": b["data"]} if "data" in b
                 else {"text": b["text"], "url": b["url"]} for b in row]
                for row in msg.buttons]}
        return data

    def _chat(self, params: dict[str, Any]) -> SandboxUser:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError, TypeError):
            raise BotApiError(400, "Bad Request: chat_id is empty") from None
        user = self.users.get(chat_id)
        if user is None and chat_id > 0:
            # A person who never started the bot: Telegram refuses, as for a blocked bot.
            raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if user is None:
            raise BotApiError(400, "Bad Request: chat not found")
        if user.left:
            raise BotApiError(403, "Forbidden: bot is not a member of the group chat")
        if user.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return user

    @staticmethod
    def _buttons(params: dict[str, Any]) -> list[list[dict[str, str]]]:
        markup = params.get("reply_markup")
        if not markup:
            return []
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except json.JSONDecodeError:
                raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON "
                                       "object") from None
        rows = []
        # The specification check has made sure each button has exactly one action.
        for row in markup.get("inline_keyboard", []):
            out = []
            for button in row:
                if "callback_data" in button:
                    out.append({"text": button["text"], "data": button["callback_data"]})
                elif "url" in button:
                    out.append({"text": button["text"], "url": button["url"]})
                else:
                    raise BotApiError(400, "Bad Request: the sandbox shows only callback and "
                                           "URL buttons")
            rows.append(out)
        return rows

    def _text(self, params: dict[str, Any]) -> Parsed:
        text = params.get("text")
        if not text:
            raise SpecViolation("Bad Request: message text is empty")
        shown = render_text(text, params.get("parse_mode"))
        if len(shown.text) > MAX_TEXT:
            raise SpecViolation("Bad Request: message is too long")
        if not shown.text.strip():
            raise SpecViolation("Bad Request: message text is empty")
        return shown

    async def _notify_message(self) -> None:
        async with self._new_message:
            self._new_message.notify_all()

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Dispatch one Bot API method; raises BotApiError the way Telegram answers."""
        if self.conflicts > 0 and method.lower() == "getupdates":
            self.conflicts -= 1
            raise BotApiError(409, "Conflict: terminated by other getUpdates request; make "
                                   "sure that only one bot instance is running")
        if self.throttle_calls > 0 and method.lower() != "getupdates":
            self.throttle_calls -= 1
            self.throttled.append(method)
            raise BotApiError(429, f"Too Many Requests: retry after "
                                   f"{self.throttle_retry_after}",
                              {"retry_after": self.throttle_retry_after})
        try:
            params = self.spec.check(method, params)
            handler = getattr(self, f"api_{method.lower()}", None)
            if handler is None:
                raise BotApiError(501, f"Not Implemented: the sandbox has no {method}")
            result = await handler(params)
        except SpecViolation as exc:
            if exc.code == 400:
                self.violations.append((method, exc.description))
            raise BotApiError(exc.code, exc.description) from None
        problem = self.spec.result_problem(method, result)
        if problem is not None:
            self.violations.append((f"{method} (the sandbox's answer)", problem))
        return result

    async def api_getme(self, params: dict[str, Any]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Vraagbaak",
                "username": BOT_USERNAME, "can_join_groups": False,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def api_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook_url:
            raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                   "active; use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        if offset:
            # Like Telegram: confirming an offset forgets every earlier update.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self.updates and not self.closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            async with self._new_update:
                try:
                    await asyncio.wait_for(self._new_update.wait(), remaining)
                except TimeoutError:
                    break
        return self.updates[:limit]

    async def api_sendmessage(self, params: dict[str, Any]) -> Any:
        user = self._chat(params)
        shown = self._text(params)
        msg = ChatMessage(user.next_message_id, True, shown.text, int(time.time()),
                          self._buttons(params), entities=shown.entities)
        user.next_message_id += 1
        user.messages.append(msg)
        await self._notify_message()
        return self._bot_message_json(user, msg)

    def _bot_msg(self, user: SandboxUser, params: dict[str, Any]) -> ChatMessage:
        try:
            message_id = int(params["message_id"])
        except (KeyError, ValueError, TypeError):
            raise BotApiError(400, "Bad Request: message identifier is not specified") from None
        for msg in user.messages:
            if msg.message_id == message_id:
                if not msg.from_bot:
                    raise BotApiError(400, "Bad Request: message can't be edited")
                return msg
        raise BotApiError(400, "Bad Request: message to edit not found")

    async def api_editmessagetext(self, params: dict[str, Any]) -> Any:
        user = self._chat(params)
        msg = self._bot_msg(user, params)
        shown = self._text(params)
        buttons = self._buttons(params)
        if (shown.text, shown.entities, buttons) == (msg.text, msg.entities, msg.buttons):
            raise BotApiError(400, "Bad Request: message is not modified: specified new message "
                                   "content and reply markup are exactly the same as a current "
                                   "content and reply markup of the message")
        msg.text, msg.entities, msg.buttons = shown.text, shown.entities, buttons
        await self._notify_message()
        return self._bot_message_json(user, msg)

    async def api_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        user = self._chat(params)
        msg = self._bot_msg(user, params)
        buttons = self._buttons(params)
        if buttons == msg.buttons:
            raise BotApiError(400, "Bad Request: message is not modified")
        msg.buttons = buttons
        await self._notify_message()
        return self._bot_message_json(user, msg)

    async def api_deletemessage(self, params: dict[str, Any]) -> Any:
        user = self._chat(params)
        msg = self._bot_msg(user, params)
        user.messages.remove(msg)
        await self._notify_message()
        return True

    async def api_answercallbackquery(self, params: dict[str, Any]) -> Any:
        user_id = self._callbacks.pop(str(params.get("callback_query_id") or ""), None)
        if user_id is None:
            raise BotApiError(400, _EXPIRED_QUERY)
        self.users[user_id].last_callback_answer = params.get("text") or None
        return True

    async def api_setmycommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        scope = params.get("scope")
        if isinstance(scope, str):
            scope = json.loads(scope)
        lang = params.get("language_code") or ""
        if scope and scope.get("type") == "chat":
            self._user(int(scope["chat_id"])).commands = commands
        else:
            self.commands[lang] = commands or []
        return True

    async def api_getmycommands(self, params: dict[str, Any]) -> Any:
        return self.commands.get(params.get("language_code") or "", [])

    async def api_deletemycommands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(params.get("language_code") or "", None)
        return True

    async def api_setwebhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise BotApiError(400, "Bad Request: bad webhook: an HTTP URL must be provided")
        await self._stop_delivery()
        self.webhook_url = url
        self.webhook_secret = str(params.get("secret_token") or "")
        self._delivery = asyncio.create_task(self._deliver(), name="sandbox-webhook")
        return True

    async def api_deletewebhook(self, params: dict[str, Any]) -> Any:
        await self._stop_delivery()
        self.webhook_url = self.webhook_secret = ""
        return True

    async def api_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        return {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self.updates)}

    async def api_sendchataction(self, params: dict[str, Any]) -> Any:
        self._chat(params)
        return True

    async def api_leavechat(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        if chat.chat_type == "private":
            raise BotApiError(400, "Bad Request: chat member status can't be changed in "
                                   "private chats")
        chat.left = True
        return True

    async def api_close(self, params: dict[str, Any]) -> Any:
        return True

    async def api_logout(self, params: dict[str, Any]) -> Any:
        return True


SANDBOX_KEY = web.AppKey("sandbox", SandboxTelegram)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return body if isinstance(body, dict) else {}
    if request.method == "GET":
        return dict(request.query)
    form = await request.post()
    # An uploaded file stands in as its name: the sandbox keeps no files, but the parameter
    # was given (the specification check counts it).
    return {k: v if isinstance(v, str) else f"upload:{v.filename}" for k, v in form.items()}


async def bot_api(request: web.Request) -> web.Response:
    """`/bot<token>/<method>`: the Bot API as Telegram answers it."""
    sandbox = request.app[SANDBOX_KEY]
    if request.match_info["token"] != sandbox.token:
        return web.json_response(
            {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
    if sandbox.disconnects > 0 and sandbox.disconnect_method.lower() in (
            "", request.match_info["method"].lower()):
        sandbox.disconnects -= 1
        if request.transport is not None:
            request.transport.close()  # nothing is done and nothing is answered
        raise web.HTTPServiceUnavailable()
    try:
        params = await _params(request)
        result = await sandbox.call(request.match_info["method"], params)
    except BotApiError as exc:
        body: dict[str, Any] = {"ok": False, "error_code": exc.code,
                                "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return web.json_response(body, status=exc.code)
    return web.json_response({"ok": True, "result": result})


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            return int(str(value))
        except ValueError:
            raise web.HTTPBadRequest(text=f"{name} must be an integer") from None
    return value


async def api_send(request: web.Request) -> web.Response:
    """POST /sandbox/api/send: a user sends a text."""
    body = await _json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise web.HTTPBadRequest(text="text must be a non-empty string")
    reply_to = _int(body, "reply_to_message_id") if body.get("reply_to_message_id") else None
    chat_type = body.get("chat_type") or "private"
    if chat_type not in ("private", *GROUP_TYPES):
        raise web.HTTPBadRequest(text="chat_type must be private, group, supergroup or channel")
    try:
        update_id = await request.app[SANDBOX_KEY].user_sends(
            _int(body, "user_id"), text, body.get("first_name"), body.get("language_code"),
            reply_to, chat_type, _int(body, "chat_id") if "chat_id" in body else None)
    except BotApiError as exc:
        raise web.HTTPBadRequest(text=exc.description) from None
    return web.json_response({"update_id": update_id})


async def api_send_media(request: web.Request) -> web.Response:
    """POST /sandbox/api/send_media: a user sends a photo, sticker, voice note or document."""
    body = await _json_body(request)
    try:
        update_id = await request.app[SANDBOX_KEY].user_sends_media(
            _int(body, "user_id"), str(body.get("kind")))
    except BotApiError as exc:
        raise web.HTTPBadRequest(text=exc.description) from None
    return web.json_response({"update_id": update_id})


async def api_edit(request: web.Request) -> web.Response:
    """POST /sandbox/api/edit: a user edits an earlier message."""
    body = await _json_body(request)
    try:
        update_id = await request.app[SANDBOX_KEY].user_edits(
            _int(body, "user_id"), _int(body, "message_id"), str(body.get("text", "")))
    except BotApiError as exc:
        raise web.HTTPBadRequest(text=exc.description) from None
    return web.json_response({"update_id": update_id})


async def api_delete(request: web.Request) -> web.Response:
    """POST /sandbox/api/delete {user_id, message_id}: a user deletes one of the bot's
    messages for both sides (the bot's later edits of it fail as on Telegram)."""
    body = await _json_body(request)
    sandbox = request.app[SANDBOX_KEY]
    try:
        user = sandbox.users[_int(body, "user_id")]
        msg = sandbox._bot_msg(user, {"message_id": _int(body, "message_id")})
    except (KeyError, BotApiError):
        raise web.HTTPBadRequest(text="no such message of the bot") from None
    user.messages.remove(msg)
    await sandbox._notify_message()
    return web.json_response({"ok": True})


async def api_press(request: web.Request) -> web.Response:
    """POST /sandbox/api/press: a user presses an inline button."""
    body = await _json_body(request)
    data = body.get("data")
    if not isinstance(data, str):
        raise web.HTTPBadRequest(text="data must be a string")
    try:
        update_id = await request.app[SANDBOX_KEY].user_presses(
            _int(body, "user_id"), _int(body, "message_id"), data, bool(body.get("expired")))
    except BotApiError as exc:
        raise web.HTTPBadRequest(text=exc.description) from None
    return web.json_response({"update_id": update_id})


async def api_block(request: web.Request) -> web.Response:
    """POST /sandbox/api/block {user_id, blocked}: a user blocks (or, blocked false, unblocks)
    the bot."""
    body = await _json_body(request)
    blocked = bool(body.get("blocked", True))
    update_id = await request.app[SANDBOX_KEY].user_blocks(_int(body, "user_id"), blocked)
    return web.json_response({"blocked": blocked, "update_id": update_id})


async def api_unblock(request: web.Request) -> web.Response:
    """POST /sandbox/api/unblock {user_id}: a user unblocks the bot."""
    body = await _json_body(request)
    update_id = await request.app[SANDBOX_KEY].user_blocks(_int(body, "user_id"), False)
    return web.json_response({"blocked": False, "update_id": update_id})


async def api_throttle(request: web.Request) -> web.Response:
    """POST /sandbox/api/throttle {calls, retry_after}: Telegram's flood control, on demand:
    the next `calls` Bot API calls answer 429 "retry after `retry_after`"."""
    body = await _json_body(request)
    sandbox = request.app[SANDBOX_KEY]
    sandbox.throttle_calls = _int(body, "calls")
    sandbox.throttle_retry_after = _int(body, "retry_after") if "retry_after" in body else 1
    return web.json_response({"calls": sandbox.throttle_calls,
                              "retry_after": sandbox.throttle_retry_after})


async def api_fail(request: web.Request) -> web.Response:
    """POST /sandbox/api/fail {kind: "conflict"|"network", calls, method?}: the next `calls`
    getUpdates answer 409 as when another instance polls, or the next `calls` Bot API calls (of
    `method`, else of any) lose their connection."""
    body = await _json_body(request)
    sandbox = request.app[SANDBOX_KEY]
    calls = _int(body, "calls")
    if body.get("kind") == "conflict":
        sandbox.conflicts = calls
    elif body.get("kind") == "network":
        sandbox.disconnects = calls
        sandbox.disconnect_method = str(body.get("method") or "")
    else:
        raise web.HTTPBadRequest(text="kind must be conflict or network")
    return web.json_response({"kind": body["kind"], "calls": calls})


async def api_inbox(request: web.Request) -> web.Response:
    """GET /sandbox/api/inbox?user_id=N&after=M: what the bot sent that user."""
    query = dict(request.query)
    user_id = _int(query, "user_id")
    after = _int(query, "after") if "after" in query else 0
    return web.json_response({"messages": request.app[SANDBOX_KEY].inbox(user_id, after)})


async def api_history(request: web.Request) -> web.Response:
    """GET /sandbox/api/history?user_id=N: both sides of the chat, for the page."""
    user_id = _int(dict(request.query), "user_id")
    sandbox = request.app[SANDBOX_KEY]
    user = sandbox.users.get(user_id)
    return web.json_response({
        "messages": sandbox.history(user_id),
        "commands": (user.commands if user and user.commands is not None else None),
        "toast": user.last_callback_answer if user else None,
        "blocked": bool(user and user.blocked),
    })


async def api_commands(request: web.Request) -> web.Response:
    """GET /sandbox/api/commands?language_code=xx: the command menu set for a language."""
    lang = request.query.get("language_code", "")
    return web.json_response({"commands": request.app[SANDBOX_KEY].commands.get(lang, [])})


def page_words(lang: str) -> dict[str, str]:
    """The chat page's words in one language (for the HTML and for its script)."""
    tr = translator(lang)
    _, words = tr._, Vocabulary(lang)
    return {
        "lang": lang,
        "title": _("Vraagbaak — sandbox chat"),
        "heading": _("Vraagbaak sandbox"),
        "intro": _("Local stand-in for Telegram (@{bot}). Chat as several people side by side "
                   "(on a phone: one at a time, with the tabs); nothing leaves this machine."
                   ).format(bot=BOT_USERNAME),
        "people": _("People in this chat"),
        "label_id": tr._p("label", "id"),
        "label_name": tr._p("label", "name"),
        "label_lang": tr._p("label", "language"),
        "label_blocked": tr._p("label", "bot blocked"),
        "messages": _("Messages"),
        "cancel_reply": tr._p("button", "Cancel reply"),
        "placeholder": _("Type a message or /start"),
        "message": tr._p("label", "Message"),
        "send": tr._p("button", "Send"),
        "reply": tr._p("button", "Reply"),
        "professional": words.role("professional"),
        "volunteer": words.role("volunteer"),
        "expert": tr._p("label", "Expert"),
        "photo": tr._p("button", "photo"),
        "sticker": tr._p("button", "sticker"),
        "voice": tr._p("button", "voice message"),
    }


async def chat_page(request: web.Request) -> web.Response:
    """The browser chat page, in the language the browser prefers (Dutch if neither)."""
    words = page_words(from_accept_language(request.headers.get("Accept-Language", "")))
    # JSON inside a script: "<" escaped, so no word can close the script element.
    page = _PAGE.read_text(encoding="utf-8").replace(
        "{{words_json}}", json.dumps(words, ensure_ascii=False).replace("<", "\\u003c"))
    for name, text in words.items():
        page = page.replace("{{" + name + "}}", html.escape(text))
    return web.Response(text=page, content_type="text/html", headers={
        "Content-Language": words["lang"], "Vary": "Accept-Language"})


def make_sandbox_app(sandbox: SandboxTelegram) -> web.Application:
    """The aiohttp application of the sandbox."""
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[SANDBOX_KEY] = sandbox
    app.router.add_route("*", "/bot{token}/{method}", bot_api)
    app.router.add_post("/sandbox/api/send", api_send)
    app.router.add_post("/sandbox/api/send_media", api_send_media)
    app.router.add_post("/sandbox/api/edit", api_edit)
    app.router.add_post("/sandbox/api/press", api_press)
    app.router.add_post("/sandbox/api/delete", api_delete)
    app.router.add_post("/sandbox/api/block", api_block)
    app.router.add_post("/sandbox/api/unblock", api_unblock)
    app.router.add_post("/sandbox/api/throttle", api_throttle)
    app.router.add_post("/sandbox/api/fail", api_fail)
    app.router.add_get("/sandbox/api/inbox", api_inbox)
    app.router.add_get("/sandbox/api/history", api_history)
    app.router.add_get("/sandbox/api/commands", api_commands)
    app.router.add_get("/", chat_page)

    async def wake_pollers(app: web.Application) -> None:
        await app[SANDBOX_KEY].close()

    app.on_shutdown.append(wake_pollers)
    return app
