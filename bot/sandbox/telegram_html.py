"""Telegram's HTML subset, parsed the way Telegram does: plain text plus entities, or a
"can't parse entities" error for anything outside the subset.

The subset is the Bot API's "HTML style" formatting option: the tags and attributes below,
numeric character references and only four named ones (&lt; &gt; &amp; &quot;). Offsets and
lengths of entities are in UTF-16 code units, as in Telegram's answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# tag -> entity type; <span> and <code> depend on their class, <a> on its href.
_ENTITY = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link",
    "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
# The attributes each tag may carry (Telegram ignores others; the sandbox refuses them, as
# they are a mistake in what the desk renders).
_ATTRIBUTES = {
    "a": {"href"}, "span": {"class"}, "code": {"class"}, "tg-emoji": {"emoji-id"},
    "blockquote": {"expandable"}, "tg-time": {"unix", "format"},
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]*);")
# Tags whose content is shown verbatim: no other entity may start inside them.
_VERBATIM = {"code", "pre"}


class EntityParseError(ValueError):
    """HTML that Telegram refuses; the message is Telegram's, after "can't parse entities: "."""


@dataclass
class _Open:
    tag: str
    offset: int  # in UTF-16 code units
    attributes: dict[str, str]
    byte_offset: int


@dataclass
class Parsed:
    """Text as a client shows it, and the entities of its formatting."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _unescape(raw: str, byte_offset: int) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("#"):
            code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
            if not 0 < code <= 0x10FFFF:
                raise EntityParseError(f"Invalid character reference at byte offset "
                                       f"{byte_offset + len(raw[:match.start()].encode())}")
            return chr(code)
        if name not in _NAMED:
            # Telegram shows an unknown named reference as it is written; the desk never
            # means that, so the sandbox refuses it (this is not Telegram's own text).
            raise EntityParseError(f'Unsupported HTML entity "&{name};" at byte offset '
                                   f"{byte_offset + len(raw[:match.start()].encode())}")
        return _NAMED[name]

    return _REFERENCE.sub(one, raw)


def _entity(open_tag: _Open, end: int) -> dict[str, Any] | None:
    kind = _ENTITY[open_tag.tag]
    entity: dict[str, Any] = {"type": kind, "offset": open_tag.offset,
                              "length": end - open_tag.offset}
    attributes = open_tag.attributes
    if open_tag.tag == "a":
        entity["url"] = attributes.get("href", "")
    elif open_tag.tag == "code" and attributes.get("class", "").startswith("language-"):
        entity["language"] = attributes["class"].removeprefix("language-")
    elif open_tag.tag == "tg-emoji":
        entity["custom_emoji_id"] = attributes.get("emoji-id", "")
    elif open_tag.tag == "blockquote" and "expandable" in attributes:
        entity["type"] = "expandable_blockquote"
    return entity if entity["length"] > 0 else None


def _check_start(tag: str, attributes: dict[str, str], stack: list[_Open],
                 byte_offset: int) -> None:
    if tag not in _ENTITY:
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {byte_offset}')
    unknown = set(attributes) - _ATTRIBUTES.get(tag, set())
    if unknown:
        raise EntityParseError(f'Unsupported attribute "{sorted(unknown)[0]}" of tag "{tag}" '
                               f"at byte offset {byte_offset}")
    if tag == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset '
                               f"{byte_offset}")
    if tag == "a" and not attributes.get("href"):
        raise EntityParseError(f'Tag "a" must have attribute "href" at byte offset '
                               f"{byte_offset}")
    if tag == "tg-emoji" and not attributes.get("emoji-id"):
        raise EntityParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                               f"{byte_offset}")
    inside = {o.tag for o in stack}
    if inside & _VERBATIM and not (tag == "code" and [o.tag for o in stack] == ["pre"]):
        raise EntityParseError(f'Entities can\'t be nested in code or pre at byte offset '
                               f"{byte_offset}")
    if tag == "blockquote" and "blockquote" in inside:
        raise EntityParseError(f"Blockquote entities can't be nested at byte offset "
                               f"{byte_offset}")


def parse_html(source: str) -> Parsed:
    """Parse `source` in Telegram's HTML subset; raises EntityParseError where Telegram would."""
    text: list[str] = []
    length = 0  # UTF-16 length of the text so far
    entities: list[dict[str, Any]] = []
    stack: list[_Open] = []
    i = 0
    while i < len(source):
        byte_offset = len(source[:i].encode())
        lt = source.find("<", i)
        chunk = source[i:] if lt < 0 else source[i:lt]
        if chunk:
            plain = _unescape(chunk, byte_offset)
            text.append(plain)
            length += _utf16_len(plain)
        if lt < 0:
            break
        byte_offset = len(source[:lt].encode())
        close = source.find(">", lt)
        if close < 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset}")
        inner = source[lt + 1:close]
        i = close + 1
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset}")
            top = stack.pop()
            if name != top.tag:
                raise EntityParseError(f"Unmatched end tag at byte offset {byte_offset}, "
                                       f'expected "</{top.tag}>", found "</{name}>"')
            entity = _entity(top, length)
            if entity is not None and top.tag == "pre" and entities and \
                    entities[-1]["type"] == "code" and entities[-1]["offset"] == top.offset:
                # <pre><code class="language-x"> is one pre entity with that language.
                language = entities.pop().get("language")
                if language:
                    entity["language"] = language
            if entity is not None:
                entities.append(entity)
            continue
        match = _TAG_NAME.match(inner)
        tag = match.group(0).lower() if match else ""
        attributes: dict[str, str] = {}
        rest = inner[match.end():] if match else inner
        while rest.strip():
            attribute = _ATTRIBUTE.match(rest)
            if attribute is None or not attribute.group(0):
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset '
                                       f"{byte_offset}")
            value = next((v for v in attribute.groups()[1:] if v is not None), "")
            attributes[attribute.group(1).lower()] = _unescape(value, byte_offset)
            rest = rest[attribute.end():]
        _check_start(tag, attributes, stack, byte_offset)
        stack.append(_Open(tag, length, attributes, byte_offset))
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    # Telegram lists entities by offset, an enclosing one before those it contains.
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return Parsed("".join(text), entities)
