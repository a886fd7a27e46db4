"""Words of a text with the facts the name and institution detectors need."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.anonymise.words import fold, load

# Words glued to digits or underscores ('4chan', 'jamal_x') are not tokens: they are no names.
TOKEN_RE = re.compile(r"(?<![\w])[^\W\d_]+(?:['’\-][^\W\d_]+)*(?![\w])")


@dataclass(frozen=True, slots=True)
class Token:
    """A word of the text with the facts the name heuristics need."""

    start: int
    end: int
    text: str
    low: str
    is_cap: bool
    sent_start: bool
    ambiguous: bool  # also an ordinary word in the language of this text
    stop: bool  # a function word in the language of this text


def guess_language(words: list[str]) -> str:
    """Guess 'nl', 'en' or 'mixed' from function words; names are judged per language."""
    nl = sum(w in load("nl_markers") for w in words)
    en = sum(w in load("en_markers") for w in words)
    if nl > 1.5 * en:
        return "nl"
    if en > 1.5 * nl:
        return "en"
    return "mixed"


def tokenise(text: str) -> list[Token]:
    """Split text into word tokens, marking capitals, sentence starts and ambiguous words."""
    matches = list(TOKEN_RE.finditer(text))
    lows = [re.sub(r"'s$", "", fold(m.group())) for m in matches]  # 'noah's' -> 'noah'
    language = guess_language(lows)
    ambiguous, stop = load("ambiguous"), load("stop")
    if language == "nl":
        ambiguous = ambiguous - load("names_in_dutch_text")
    elif language == "en":
        ambiguous = ambiguous - load("names_in_english_text")
        stop = stop - load("names_in_english_text")
    tokens: list[Token] = []
    for match, low in zip(matches, lows, strict=True):
        word = match.group()
        window = text[max(0, match.start() - 40) : match.start()]
        before = window.rstrip(" \t\"'“”‘’(*•[")
        sent_start = not before or before[-1] in ".!?:;\n-–—" or window.endswith("\n")
        tokens.append(
            Token(
                match.start(),
                match.end(),
                word,
                low,
                word[0].isupper(),
                sent_start,
                low in ambiguous,
                low in stop,
            )
        )
    return tokens
