"""The editor's forms, to and from the seed files' layout (what a revision stores).

Sources are one per line, as a coordinator reads them: `004 | where in it` for a seed
document, `desk | what the policy is` for the desk's own policy, and
`https://… | YYYY-MM-DD | what the page says` for a public page read on that date."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from knowledge.base import WorkRole
from knowledge.topics import LANGS, Topic

MAX_FIELD = 4000
_ID = re.compile(r"^[a-z0-9_-]{3,80}$")


def _text(form: Mapping[str, Any], name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name, "")
    return str(value).replace("\r\n", "\n").strip()[:limit]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def parse_source(line: str) -> dict[str, str]:
    """One source line into the seed layout (the loader and the style checks judge it)."""
    parts = [p.strip() for p in line.split("|")]
    if parts[0].startswith(("http://", "https://")):
        url, checked, where = [*parts, "", ""][:3]
        return {"url": url, "checked": checked, "where": " | ".join([where, *parts[3:]])
                .strip(" |")}
    return {"seed": parts[0], "where": " | ".join(parts[1:]).strip()}


def source_line(source: Mapping[str, Any]) -> str:
    """A source in the seed layout as one editable line."""
    if source.get("url"):
        return f"{source['url']} | {source.get('checked', '')} | {source.get('where', '')}"
    return f"{source.get('seed', '')} | {source.get('where', '')}"


def card_from_form(form: Mapping[str, Any], item_id: str) -> dict[str, Any]:
    """A card as the seed files hold it, from the editor's fields."""
    primary = _text(form, "topic", 40)
    also = [t for t in form.getall("topics", [])] if hasattr(form, "getall") else []
    topics = [primary, *(t for t in also if t != primary)] if primary else list(also)
    card: dict[str, Any] = {
        "id": item_id,
        "topics": [t for t in topics if t in {x.value for x in Topic}] or topics,
        "audience": _text(form, "audience", 20),
    }
    roles = [r for r in (form.getall("roles", []) if hasattr(form, "getall") else [])
             if r in {x.value for x in WorkRole}]
    if roles:
        card["roles"] = roles
    if form.get("reassures"):
        card["reassures"] = True
    for lang in LANGS:
        card[lang] = {"title": " ".join(_text(form, f"{lang}_title", 200).split()),
                      "answer": " ".join(_text(form, f"{lang}_answer").split())}
    card["links"] = list(form.getall("links", [])) if hasattr(form, "getall") else []
    card["sources"] = [parse_source(line) for line in _lines(_text(form, "sources"))]
    replaces = _lines(_text(form, "replaces", 400).replace(",", "\n"))
    if replaces:
        card["replaces"] = replaces
    card["examples"] = {lang: _lines(_text(form, f"{lang}_examples", 20000)) for lang in LANGS}
    return card


def card_fields(card: Mapping[str, Any]) -> dict[str, Any]:
    """The editor's field values for a card."""
    fields: dict[str, Any] = {
        "topic": (card.get("topics") or [""])[0], "topics": list(card.get("topics") or [])[1:],
        "audience": card.get("audience", "both"), "roles": list(card.get("roles") or []),
        "reassures": card.get("reassures") is True,
        "links": list(card.get("links") or []),
        "sources": "\n".join(source_line(s) for s in card.get("sources") or []),
        "replaces": ", ".join(card.get("replaces") or []),
    }
    examples = card.get("examples") or {}
    for lang in LANGS:
        body = card.get(lang) or {}
        fields[f"{lang}_title"] = body.get("title", "")
        fields[f"{lang}_answer"] = " ".join(str(body.get("answer", "")).split())
        fields[f"{lang}_examples"] = "\n".join(examples.get(lang) or [])
    return fields


def referral_from_form(form: Mapping[str, Any], item_id: str) -> dict[str, Any]:
    """A referral as the seed files hold it, from the editor's fields."""
    referral: dict[str, Any] = {"id": item_id}
    for part in ("name", "offers", "audience"):
        referral[part] = {lang: " ".join(_text(form, f"{part}_{lang}", 400).split())
                          for lang in LANGS}
    for part in ("url", "phone"):
        value = _text(form, part, 300)
        if value:
            referral[part] = value
    contact = _text(form, "contact", 600)
    if contact:
        referral["contact"] = parse_source(contact)
    referral["sources"] = [parse_source(line) for line in _lines(_text(form, "sources"))]
    return referral


def referral_fields(referral: Mapping[str, Any]) -> dict[str, Any]:
    """The editor's field values for a referral."""
    fields: dict[str, Any] = {"url": referral.get("url") or "",
                              "phone": referral.get("phone") or "",
                              "contact": source_line(referral["contact"])
                              if referral.get("contact") else "",
                              "sources": "\n".join(source_line(s)
                                                   for s in referral.get("sources") or [])}
    for part in ("name", "offers", "audience"):
        for lang in LANGS:
            fields[f"{part}_{lang}"] = (referral.get(part) or {}).get(lang, "")
    return fields


def valid_new_id(item_id: str) -> bool:
    """A new card's or referral's id: lowercase letters, digits, - and _."""
    return bool(_ID.match(item_id))
