"""Bad input: ten thousand generated updates of every odd shape go into the real Application.

The updates go into `Application.process_update` with the real desk (embedded Redis, the real
knowledge) and the sandbox's Bot API methods called in-process, so the replies are real Bot API
calls with Telegram's checks (HTML, lengths, chats). No update may end in an unhandled error,
every private text gets an answer, and the desk answers a normal question afterwards.

Failures in the handoff flow (handlers/handoff.py, handlers/expert.py, handoff/) are generated
like everything else but reported as an xfail: the lead is rewriting that flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.application import build_application
from bot.redis_server import EmbeddedRedis
from bot.runtime import desk_services
from bot.sandbox import SandboxTelegram
from bot.sandbox.server import BOT_ID, BOT_USERNAME, BotApiError, ChatMessage
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BATCH = 25
EXAMPLES = 400  # x BATCH = 10,000 updates
LEAD_OWNED = ("handlers/handoff.py", "handlers/expert.py", "handoff/")


class InProcessRequest(BaseRequest):
    """PTB's transport straight into the sandbox's Bot API methods, without HTTP."""

    def __init__(self, sandbox: SandboxTelegram) -> None:
        self.sandbox = sandbox

    @property
    def read_timeout(self) -> float | None:
        """No network, no timeout."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None, pool_timeout: Any = None,
                         ) -> tuple[int, bytes]:
        """Call the sandbox's method; answer as Telegram would."""
        params = request_data.json_parameters if request_data else {}
        try:
            result = await self.sandbox.call(url.rsplit("/", 1)[-1], params)
        except BotApiError as exc:
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            return exc.code, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()


# -- the generated updates ----------------------------------------------------------------

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202e",
              "\u2066", "\u034f"]
EMOJI = ["😀", "🔥", "👍🏽", "🇳🇱", "❤️", "👨‍👩‍👧", "🏳️‍🌈", "🧕", "🕌", "✡️", "☪️"]
ODD_DIGITS = ["٥٠٠٢", "²", "١", "۳", "߃", "१२", "໕", "Ⅻ", "①", "𝟗", "-1", "1e9", "0x10", "00"]
COMMANDS = ["start", "help", "privacy", "taal", "language", "vergeet", "forget", "onderwerpen",
            "topics", "links", "expert", "stop", "skip", "beschikbaar", "available", "pauze",
            "away", "wachtrij", "queue", "volgende", "next", "sluit", "close", "overdragen",
            "transfer", "snippet", "uitnodigen", "invite", "nonsense", "START", "start@" +
            BOT_USERNAME, "start@SomeOtherBot"]
PREFIXES = ["sn:", "fb:", "fb:1:", "fb:0:", "fb:2:", "topics", "expert", "ho:", "ho:s:",
            "ho:r:", "ho:c:", "rt:", "cl:", "pk:", "cx:", "tr:", "role:", "lang:",
            "forget:yes", "forget:no", "tp:", "flow:", ""]
QUESTIONS = ["Een leerling deelt extreme filmpjes, wat moet ik doen?",
             "How do I talk with a pupil who says democracy is fake?",
             "Mijn zoon (15) wil naar Syrië en heeft morgen een ticket"]

garbage = st.one_of(
    st.text(max_size=40),
    st.sampled_from(ODD_DIGITS),
    st.lists(st.sampled_from(ZERO_WIDTH + ODD_DIGITS + ["\x00", " ", ":", "_"]),
             max_size=12).map("".join),
)
long_text = st.builds(lambda chunk, n: (chunk * n)[: max(n, 4097)],
                      st.sampled_from(["a", "é", "😀", "אב ", "wat doe ik ", "\u200b", "x\x00"]),
                      st.integers(4097, 9000))
texts = st.one_of(
    st.text(max_size=200),
    st.just(""),
    long_text,
    st.text(alphabet=st.characters(min_codepoint=0x0590, max_codepoint=0x06FF), min_size=1,
            max_size=80),  # Hebrew and Arabic (RTL)
    st.lists(st.sampled_from(ZERO_WIDTH), min_size=1, max_size=20).map("".join),
    st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=20), st.text(max_size=20)),
    st.lists(st.sampled_from(EMOJI), min_size=1, max_size=30).map("".join),
    st.builds(lambda c, a: f"/{c} {a}".rstrip(), st.sampled_from(COMMANDS), garbage),
    st.builds(lambda a: f"/start {a}", st.sampled_from(["inv_", "topic_", "inv_x" * 20,
                                                         "topic_signals", "topic_٥"])),
    st.sampled_from(QUESTIONS),
    st.builds(lambda q, z: z.join(q), st.sampled_from(QUESTIONS), st.sampled_from(ZERO_WIDTH)),
)
callback_data = st.one_of(
    st.builds(lambda p, g: (p + g)[:64], st.sampled_from(PREFIXES), garbage),
    st.text(min_size=1, max_size=64),
)
language_codes = st.sampled_from([None, "nl", "en", "", "xx", "ar", "nl-BE", "en-GB", "zh-hans",
                                  "de", "\x00", "nl_NL", "EN"])
media = st.sampled_from([
    {"photo": [{"file_id": "p", "file_unique_id": "up", "width": 1, "height": 1}]},
    {"sticker": {"file_id": "s", "file_unique_id": "us", "width": 512, "height": 512,
                 "is_animated": False, "is_video": False, "type": "regular"}},
    {"voice": {"file_id": "v", "file_unique_id": "uv", "duration": 1}},
    {"document": {"file_id": "d", "file_unique_id": "ud", "file_name": "x.pdf"}},
    {"location": {"latitude": 52.1, "longitude": 5.1}},
    {"contact": {"phone_number": "+31600000000", "first_name": "X"}},
    {"new_chat_members": [{"id": BOT_ID, "is_bot": True, "first_name": "Vraagbaak"}]},
    {"caption": "een foto met een vraag",
     "photo": [{"file_id": "p", "file_unique_id": "up", "width": 1, "height": 1}]},
    {},
])


@dataclass(frozen=True)
class Shape:
    """One generated update, before ids are given out."""

    kind: str  # message, edited_message, channel_post, callback_query
    chat_type: str
    user: int  # 0: no sender
    first_name: str
    language_code: str | None
    text: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    callback_message: str = "message"  # message, inline, inaccessible
    sender_chat: bool = False


shapes = st.builds(
    Shape,
    kind=st.sampled_from(["message"] * 6 + ["edited_message", "channel_post",
                                            "callback_query", "callback_query"]),
    chat_type=st.sampled_from(["private"] * 5 + ["group", "supergroup", "channel"]),
    user=st.one_of(st.integers(1, 40), st.just(0)),
    first_name=st.one_of(st.just("Test"), st.text(min_size=1, max_size=30)),
    language_code=language_codes,
    text=st.one_of(texts, texts, texts, st.none()),
    extra=media,
    data=callback_data,
    callback_message=st.sampled_from(["message", "message", "message", "inline",
                                      "inaccessible"]),
    sender_chat=st.booleans(),
)


@dataclass
class Fed:
    """What happened to one fed update."""

    update: Update
    shape: Shape
    private_text: bool
    answers: int


@dataclass
class Harness:
    """The desk and the sandbox on one event loop, fed update by update."""

    loop: asyncio.AbstractEventLoop
    app: Application  # type: ignore[type-arg]
    sandbox: SandboxTelegram
    errors: list[tuple[Update | None, BaseException, str]] = field(default_factory=list)
    fed: int = 0
    private_texts: int = 0
    unanswered: list[Shape] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    base_user: int = 0

    def payload(self, shape: Shape) -> dict[str, Any]:
        """The update as Telegram's JSON, with its chat and message known to the sandbox."""
        update_id = next(self.ids)
        user_id = self.base_user + shape.user if shape.user else 0
        chat_id = (user_id or self.base_user) if shape.chat_type == "private" \
            else -(self.base_user + 1000 + shape.user)
        chat: dict[str, Any] = {"id": chat_id, "type": shape.chat_type}
        if shape.chat_type == "private":
            chat["first_name"] = shape.first_name
        else:
            chat["title"] = shape.first_name
        sandbox_chat = self.sandbox._user(chat_id, shape.first_name, None)
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": shape.first_name}
        if shape.language_code is not None:
            user["language_code"] = shape.language_code
        if shape.kind == "callback_query":
            # A press always has a sender; without one in the shape, the chat's first person.
            sender = user if user_id else {"id": self.base_user + 1, "is_bot": False,
                                           "first_name": "X"}
            query: dict[str, Any] = {"id": f"q{update_id}", "chat_instance": "ci",
                                     "from": sender}
            if shape.data is not None:
                query["data"] = shape.data
            self.sandbox._user(sender["id"])
            self.sandbox._callbacks[query["id"]] = sender["id"]
            if shape.callback_message == "inline":
                query["inline_message_id"] = f"inline{update_id}"
            else:
                shown = ChatMessage(sandbox_chat.next_message_id, True, "Kies:", 1)
                sandbox_chat.next_message_id += 1
                sandbox_chat.messages.append(shown)
                query["message"] = {"message_id": shown.message_id, "chat": chat,
                                    "date": 0 if shape.callback_message == "inaccessible"
                                    else 1}
                if shape.callback_message == "message":
                    query["message"].update({
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Vraagbaak"},
                        "text": "Kies:", "reply_markup": {"inline_keyboard": [[
                            {"text": "x", "callback_data": shape.data or "x"}]]}})
            return {"update_id": update_id, "callback_query": query}
        message: dict[str, Any] = {"message_id": sandbox_chat.next_message_id, "date": 1,
                                   "chat": chat, **shape.extra}
        sandbox_chat.next_message_id += 1
        if user_id and shape.kind != "channel_post":
            message["from"] = user
        if shape.sender_chat or shape.kind == "channel_post":
            message["sender_chat"] = {"id": chat_id, "type": shape.chat_type,
                                      "title": "Kanaal"}
        if shape.text is not None:
            message["text"] = shape.text
            if shape.text.startswith("/"):
                length = len(shape.text.split(maxsplit=1)[0]) if shape.text.split() else 1
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": length}]
        if shape.kind == "edited_message":
            message["edit_date"] = 2
        return {"update_id": update_id, shape.kind: message}

    async def feed(self, shapes: list[Shape]) -> None:
        """Process each update in turn; note private texts that got no answer."""
        for shape in shapes:
            update = Update.de_json(self.payload(shape), self.app.bot)
            message = update.message or update.edited_message
            private_text = (message is not None and message.chat.type == "private"
                            and message.from_user is not None and message.text is not None)
            chat = self.sandbox.users.get(message.chat.id) if message else None
            before = sum(m.from_bot for m in chat.messages) if chat else 0
            await self.app.process_update(update)
            self.fed += 1
            if private_text:
                assert chat is not None
                self.private_texts += 1
                if sum(m.from_bot for m in chat.messages) <= before:
                    self.unanswered.append(shape)

    async def record_error(self, update: object, context: Any) -> None:
        """The test's error hook: every error that reached PTB's error handlers."""
        error = context.error
        where = "".join(traceback.format_exception(error))
        self.errors.append((update if isinstance(update, Update) else None, error, where))


def owner(where: str) -> str:
    """'lead' when the innermost project frame is in the handoff flow, else 'desk'."""
    frames = [line for line in where.splitlines() if line.strip().startswith('File "')
              and str(ROOT) in line and "/.venv/" not in line]
    if not frames:
        return "desk"
    innermost = frames[-1].split('"')[1].removeprefix(str(ROOT) + "/")
    return "lead" if innermost.startswith(LEAD_OWNED) else "desk"


@pytest.fixture(scope="module")
def harness(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Harness]:
    """The desk (real Redis, real knowledge) and an in-process sandbox, on their own loop."""
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    settings_ = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("bad-input"),
        redis_url=redis_server.url,
        secret_key="test-secret",  # type: ignore[arg-type]
        rate_limit_per_second=100_000,
    )

    async def start() -> Harness:
        sandbox = SandboxTelegram(f"{BOT_ID}:bad-input")
        desk = await stack.enter_async_context(desk_services(settings_))
        await desk.redis.flushdb()
        app = build_application(settings_, desk, sandbox.token, InProcessRequest(sandbox))
        await stack.enter_async_context(app)
        made = Harness(loop, app, sandbox)
        app.add_error_handler(made.record_error)
        return made

    try:
        yield loop.run_until_complete(start())
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


@pytest.mark.timeout(240)
def test_ten_thousand_odd_updates_are_handled(harness: Harness) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(shapes, min_size=BATCH, max_size=BATCH))
    def feed(batch: list[Shape]) -> None:
        harness.base_user += 100_000  # fresh people per batch; their chats within it
        harness.loop.run_until_complete(harness.feed(batch))

    feed()
    assert harness.fed >= 10_000
    assert harness.private_texts >= 1_000  # the shapes really reach the question path

    # The desk keeps serving: a plain question still gets its answer.
    asker = harness.base_user + 99_999
    harness.loop.run_until_complete(harness.feed([Shape(
        "message", "private", 99_999, "Test", "nl", QUESTIONS[0])]))
    answer = [m for m in harness.sandbox.users[asker].messages if m.from_bot]
    assert answer and any(b.get("data", "").startswith("fb:1:")
                          for row in answer[-1].buttons for b in row)

    ours = [(u, e, w) for u, e, w in harness.errors if owner(w) == "desk"]
    lead = [(u, e, w) for u, e, w in harness.errors if owner(w) == "lead"]
    assert not ours, describe(ours)
    assert not harness.unanswered, harness.unanswered[:5]
    if lead:
        pytest.xfail("the handoff flow crashes on odd input; the lead's handoff rewrite "
                     "(handlers/handoff.py, handlers/expert.py) covers it:\n" + describe(lead))


def describe(errors: list[tuple[Update | None, BaseException, str]]) -> str:
    """Each distinct failure once: its last traceback lines and one update that caused it."""
    seen: dict[str, str] = {}
    for update, _error, where in errors:
        tail = "\n".join(where.strip().splitlines()[-3:])
        if tail not in seen:
            seen[tail] = json.dumps(update.to_dict() if update else None,
                                    ensure_ascii=False)[:400]
    return "\n\n".join(f"{tail}\n  e.g. {shown}" for tail, shown in seen.items())
