"""Placeholders, the spans detectors return, and merging them into the output text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

NAAM = "[NAAM]"
TELEFOON = "[TELEFOON]"
EMAIL = "[EMAIL]"
BSN = "[BSN]"
IBAN = "[IBAN]"
POSTCODE = "[POSTCODE]"
ADRES = "[ADRES]"
DATUM = "[DATUM]"
KENTEKEN = "[KENTEKEN]"
DOCUMENTNUMMER = "[DOCUMENTNUMMER]"
DOSSIERNUMMER = "[DOSSIERNUMMER]"
NUMMER = "[NUMMER]"
IP = "[IP]"
URL = "[URL]"
HANDLE = "[HANDLE]"
INSTELLING = "[INSTELLING]"

# When two detections overlap they are merged; the label of the most specific one wins.
# NUMMER is a number of a known shape whose checksum or numbering plan fails: still removed.
_PRIORITY: dict[str, int] = {
    URL: 100,
    EMAIL: 100,
    IBAN: 95,
    IP: 95,
    HANDLE: 90,
    DOSSIERNUMMER: 88,
    DOCUMENTNUMMER: 86,
    TELEFOON: 85,
    KENTEKEN: 80,
    DATUM: 78,
    BSN: 75,
    POSTCODE: 72,
    ADRES: 70,
    NUMMER: 65,
    INSTELLING: 60,
    NAAM: 50,
}
PLACEHOLDERS: tuple[str, ...] = tuple(_PRIORITY)


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of text to replace by a placeholder."""

    start: int
    end: int
    label: str
    weak: bool = False  # a catch-all finding that yields its label to any specific one

    @property
    def priority(self) -> int:
        """Priority of this span's label when overlapping spans merge."""
        return _PRIORITY[self.label] - (100 if self.weak else 0)


def trim_punctuation(text: str, span: Span) -> Span:
    """Give a sentence's closing dot or comma back to the text around a name or address."""
    if span.label not in (NAAM, INSTELLING, ADRES):
        return span
    end = span.end
    while end > span.start + 1 and text[end - 1] in ".,;:!?\"'”’)":
        # 'Mohammed B.' keeps the dot of its initial.
        if text[end - 1] == "." and end - 2 > span.start and text[end - 2].isupper() and (
            end - 3 < span.start or not text[end - 3].isalpha()
        ):
            break
        end -= 1
    return Span(span.start, end, span.label, span.weak)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Union overlapping spans; the merged span takes the most specific label."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.end <= span.start:
            continue
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            label = last.label if last.priority >= span.priority else span.label
            weak = last.weak if last.priority >= span.priority else span.weak
            merged[-1] = Span(last.start, max(last.end, span.end), label, weak)
        else:
            merged.append(span)
    return merged


def render(text: str, spans: list[Span]) -> str:
    """Substitute the placeholders and fold repeats like '[NAAM] [NAAM]' into one."""
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(span.label)
        cursor = span.end
    parts.append(text[cursor:])
    return re.sub(r"(\[[A-Z]+\])(?:[ \t]+\1)+", r"\1", "".join(parts))
