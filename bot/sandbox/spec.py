"""Every Bot API request checked against the official specification, kept as data.

`tests/data/telegram_bot_api.json` is the machine-readable Bot API specification (see the
README beside it for its version). A request the specification rejects (an unknown method or
parameter, a missing required one, a value of the wrong type) and one over Telegram's limits is
refused with a 400 in Telegram's words; the sandbox also keeps it as a violation, so that a
test fails on any the desk causes."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[2] / "tests" / "data" / "telegram_bot_api.json"

# Parameters python-telegram-bot adds that are not in the method's specification. Telegram
# ignores unknown parameters, so these are harmless; anything else unknown is a mistake.
PTB_EXTRAS: frozenset[tuple[str, str]] = frozenset({
    # `Defaults(parse_mode=HTML)` is inserted into every method with a `parse_mode`-like
    # default, including this one, which has no text to parse.
    ("editmessagereplymarkup", "parse_mode"),
})

MAX_CALLBACK_ANSWER = 200
MAX_CALLBACK_DATA = 64
MAX_COMMANDS = 100
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_CONSTANT = re.compile(r"must be (?:always )?[\"“]?([a-z_]+)[\"”]?$")
# The fields of a button other than these choose its action: exactly one must be set.
_BUTTON_DECORATION = {"text", "icon_custom_emoji_id", "style"}


class SpecViolation(Exception):
    """A request the Bot API refuses: 400 with Telegram's description."""

    def __init__(self, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class BotApiSpec:
    """The Bot API's methods and types, and the check of one request against them."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data["version"]
        self.release_date: str = data["release_date"]
        self.methods = {name.lower(): method for name, method in data["methods"].items()}
        self.types: dict[str, dict[str, Any]] = data["types"]

    @classmethod
    @functools.cache
    def load(cls, path: Path = SPEC_PATH) -> BotApiSpec:
        """The specification in `path`, read once per process."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def check(self, method_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters decoded from their JSON strings; raises SpecViolation (or 404 for
        an unknown method) where Telegram would refuse the request."""
        key = method_name.lower()
        method = self.methods.get(key)
        if method is None:
            raise SpecViolation("Not Found: method not found", 404)
        fields = {f["name"]: f for f in method.get("fields", [])}
        decoded: dict[str, Any] = {}
        for name, value in params.items():
            spec = fields.get(name)
            if spec is None:
                if (key, name) in PTB_EXTRAS:
                    continue
                # Telegram ignores an unknown parameter; for the desk it is a mistake.
                raise SpecViolation(f'Bad Request: unknown parameter "{name}" of method '
                                    f"{method['name']}")
            decoded[name] = _decode(value, spec["types"])
            problem = _problem_any(decoded[name], spec["types"], self.types, name)
            if problem:
                raise SpecViolation(f"Bad Request: {problem}")
        for name, spec in fields.items():
            if spec["required"] and decoded.get(name) in (None, ""):
                raise SpecViolation(f"Bad Request: {name} is empty")
        self._limits(key, decoded)
        return decoded

    def result_problem(self, method_name: str, result: Any) -> str | None:
        """None if `result` is of the type the method returns, else what is wrong with it (a
        mistake in the sandbox, which must answer as Telegram does)."""
        method = self.methods[method_name.lower()]
        return _problem_any(result, method.get("returns", []), self.types, "result")

    def _limits(self, method: str, params: dict[str, Any]) -> None:
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for button in row:
                    _check_button(button)
        if method == "answercallbackquery" and len(params.get("text") or "") > \
                MAX_CALLBACK_ANSWER:
            raise SpecViolation("Bad Request: MESSAGE_TOO_LONG")
        if method == "setmycommands":
            commands = params.get("commands") or []
            if len(commands) > MAX_COMMANDS:
                raise SpecViolation("Bad Request: BOT_COMMANDS_TOO_MUCH")
            for command in commands:
                if not _COMMAND.fullmatch(command["command"]):
                    raise SpecViolation("Bad Request: BOT_COMMAND_INVALID")
                if not 1 <= len(command["description"].strip()) <= 256:
                    raise SpecViolation("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")


def _check_button(button: dict[str, Any]) -> None:
    actions = set(button) - _BUTTON_DECORATION
    if len(actions) != 1:
        raise SpecViolation("Bad Request: can't parse inline keyboard button: exactly one of "
                            "the optional fields must be used, found "
                            f"{len(actions)}")
    if "callback_data" in actions and \
            not 1 <= len(button["callback_data"].encode()) <= MAX_CALLBACK_DATA:
        raise SpecViolation("Bad Request: BUTTON_DATA_INVALID")
    if not button.get("text"):
        raise SpecViolation("Bad Request: can't parse inline keyboard button: Text buttons "
                            "must have non-empty text")


def _decode(value: Any, types: list[str]) -> Any:
    """A parameter as sent (form fields and python-telegram-bot's JSON body carry every
    non-string value JSON-encoded) as the value it stands for."""
    if not isinstance(value, str) or "String" in types:
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # the type check says what is wrong with it


def _problem_any(value: Any, types: list[str], catalog: dict[str, dict[str, Any]],
                 name: str) -> str | None:
    """None if `value` is of one of `types`, else Telegram-like words for why not."""
    problems = [_problem(value, t, catalog, name) for t in types]
    if any(p is None for p in problems):
        return None
    # The most telling problem: one from inside an object of the right shape.
    return next((p for p in problems if p and "must be of type" not in p), problems[0])


def _problem(value: Any, type_name: str, catalog: dict[str, dict[str, Any]],
             name: str) -> str | None:
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return f'field "{name}" must be of type Array'
        inner = type_name.removeprefix("Array of ")
        for item in value:
            problem = _problem(item, inner, catalog, name)
            if problem:
                return problem
        return None
    simple = {
        "String": lambda v: isinstance(v, str),
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "Boolean": lambda v: isinstance(v, bool),
        "True": lambda v: v is True,
        "InputFile": lambda v: True,  # a file_id, a URL or an upload
    }
    if type_name in simple:
        return None if simple[type_name](value) else \
            f'field "{name}" must be of type {type_name}'
    spec = catalog.get(type_name)
    if spec is None:
        return None
    if spec.get("subtypes"):
        problems = [_problem(value, t, catalog, name) for t in spec["subtypes"]]
        if any(p is None for p in problems):
            return None
        return f'can\'t parse {type_name}: no matching type for field "{name}"'
    if not isinstance(value, dict):
        return f'field "{name}" must be of type {type_name}'
    fields = {f["name"]: f for f in spec.get("fields", [])}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            return f'can\'t parse {type_name}: unknown field "{key}"'
        problem = _problem_any(item, field["types"], catalog, key)
        if problem:
            return problem
        constant = _CONSTANT.search(field["description"])
        if key in ("type", "source", "status") and constant and item != constant.group(1):
            return f'field "{key}" of {type_name} must be "{constant.group(1)}"'
    for key, field in fields.items():
        if field["required"] and key not in value:
            return f'can\'t parse {type_name}: field "{key}" is required'
    return None
