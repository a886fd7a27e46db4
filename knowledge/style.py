"""The house style of a guidance card, as problems a coordinator can act on.

The loader (knowledge.base) refuses what would break the desk; these checks are the editorial
rules on top (short answers that end in a concrete next step, sources for every fact, one
way to name the Advieslijn). The seed files meet them (tests/test_knowledge.py), and the
dashboard's editor refuses to publish a card that does not."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from knowledge.base import DATE_RE, MAX_ANSWER, MAX_TITLE, SEEDS, URL_RE
from knowledge.topics import LANGS

MIN_WORDS, MAX_WORDS = 55, 100
NEXT_STEP = {"nl": "Volgende stap", "en": "Next step"}
NEXT_STEP_WITHIN = 300  # characters from the end of the answer
MAX_LINKS = 3
MAX_EXAMPLES = 40


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a field cannot be published: `code` names the rule, `values` fill its message."""

    field: str
    code: str
    values: dict[str, Any] = field(default_factory=dict)


def answer_problems(lang: str, answer: str) -> list[Problem]:
    """The answer's length in words and its closing next step."""
    where = f"{lang}.answer"
    words = len(answer.split())
    problems = []
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(Problem(where, "words", {"words": words, "low": MIN_WORDS,
                                                "high": MAX_WORDS}))
    if NEXT_STEP[lang] not in answer[-NEXT_STEP_WITHIN:]:
        problems.append(Problem(where, "next_step", {"marker": NEXT_STEP[lang]}))
    if "advieslijn" in answer or re.sub(r"Advieslijn \(advice line[,)]", "", answer).count(
            "advice line"):
        problems.append(Problem(where, "advieslijn"))
    return problems


def _text_problems(raw: Mapping[str, Any], lang: str) -> list[Problem]:
    body = raw.get(lang)
    body = body if isinstance(body, Mapping) else {}
    title = " ".join(str(body.get("title") or "").split())
    answer = " ".join(str(body.get("answer") or "").split())
    problems = []
    if not title:
        problems.append(Problem(f"{lang}.title", "required"))
    elif len(title) > MAX_TITLE:
        problems.append(Problem(f"{lang}.title", "too_long", {"limit": MAX_TITLE,
                                                               "length": len(title)}))
    if not answer:
        problems.append(Problem(f"{lang}.answer", "required"))
        return problems
    if len(answer) > MAX_ANSWER:
        problems.append(Problem(f"{lang}.answer", "too_long", {"limit": MAX_ANSWER,
                                                                "length": len(answer)}))
    return problems + answer_problems(lang, answer)


def source_problems(sources: Any, where: str = "sources") -> list[Problem]:
    """Every fact names where it comes from: a seed, the desk's policy, or a dated page."""
    if not isinstance(sources, list) or not sources:
        return [Problem(where, "no_sources")]
    problems = []
    for i, item in enumerate(sources, start=1):
        item = item if isinstance(item, Mapping) else {}
        if not str(item.get("where") or "").strip():
            problems.append(Problem(where, "source_where", {"n": i}))
        url = item.get("url")
        if url:
            if not URL_RE.match(str(url)):
                problems.append(Problem(where, "source_url", {"n": i}))
            if not DATE_RE.match(str(item.get("checked") or "")):
                problems.append(Problem(where, "source_checked", {"n": i}))
        elif str(item.get("seed") or "") not in {*SEEDS, "desk"}:
            problems.append(Problem(where, "source_kind", {"n": i}))
    return problems


def card_problems(raw: Mapping[str, Any], referrals: set[str]) -> list[Problem]:
    """Everything that keeps a card from being published, field by field."""
    problems = []
    for lang in LANGS:
        problems += _text_problems(raw, lang)
    if not raw.get("topics"):
        problems.append(Problem("topics", "required"))
    links = raw.get("links") or []
    if len(links) > MAX_LINKS:
        problems.append(Problem("links", "too_many", {"limit": MAX_LINKS}))
    problems += [Problem("links", "unknown_referral", {"id": link}) for link in links
                 if link not in referrals]
    examples = raw.get("examples") or {}
    if sum(len(examples.get(lang) or ()) for lang in LANGS) > MAX_EXAMPLES:
        problems.append(Problem("examples", "too_many", {"limit": MAX_EXAMPLES}))
    return problems + source_problems(raw.get("sources"))


def referral_problems(raw: Mapping[str, Any]) -> list[Problem]:
    """A directory entry: names and purpose in both languages, and where contact details
    were copied from."""
    problems = []
    for part in ("name", "offers", "audience"):
        values = raw.get(part) if isinstance(raw.get(part), Mapping) else {}
        problems += [Problem(f"{part}.{lang}", "required") for lang in LANGS
                     if not str(values.get(lang) or "").strip()]
    if (raw.get("url") or raw.get("phone")) and not raw.get("contact"):
        problems.append(Problem("contact", "contact_source"))
    if raw.get("contact"):
        problems += source_problems([raw["contact"]], "contact")
    return problems + source_problems(raw.get("sources"))
