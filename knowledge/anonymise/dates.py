"""Exact dates: numeric, ISO, with a Dutch or English month name, or after a date cue."""

from __future__ import annotations

import re
from collections.abc import Iterator

from knowledge.anonymise.spans import DATUM, Span

MONTHS = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "january|february|march|may|june|july|august|october|"
    "jan|feb|mrt|mar|apr|jun|jul|aug|sept|sep|okt|oct|nov|dec"
)
_EN_MONTHS_CAP = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|january|february|april|june|july|"
    "august|september|october|november|december"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUM = r"(?:0?[1-9]|1[0-2])"

_DATE_NUM_RE = re.compile(
    rf"(?<![\w./-]){_DAY}(?P<s>[-/.]){_DAY}(?P=s)(?:(?:19|20)\d{{2}}|\d{{2}})(?![\w-]|[./]\d)"
)
_DATE_ISO_RE = re.compile(
    rf"(?<![\w./-])(?:19|20)\d{{2}}(?P<s>[-/.]){_MONTH_NUM}(?P=s){_DAY}(?![\w-]|[./]\d)"
)
_DATE_DAY_MONTH_RE = re.compile(
    rf"(?i)(?<![\w.,-])(?:the\s+)?{_DAY}(?:st|nd|rd|th|ste|de|e)?\.?(?:\s+of)?[\s-]+"
    rf"(?:{MONTHS})\b\.?(?:,?[\s-]+(?:(?:19|20)\d{{2}}|'\d{{2}})(?!\d))?"
)
_DATE_MONTH_DAY_RE = re.compile(
    rf"\b(?:{_EN_MONTHS_CAP})\.?\s+(?:the\s+)?{_DAY}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d{{2}})?"
    r"(?![\w:]|[.,]\d)"
)
_DATE_CONTEXT_RE = re.compile(
    rf"(?i)\b(?:op|on|sinds|since|vanaf|per|d\.d\.|dd|geboren|born|datum|date|dob)\s*:?\s+"
    rf"(?P<v>{_DAY}[-/.]{_MONTH_NUM})(?![-/.]?\d)"
)


def find(text: str) -> Iterator[Span]:
    """All exact dates in the text; months, weekdays and years alone stay."""
    for regex in (_DATE_NUM_RE, _DATE_ISO_RE, _DATE_DAY_MONTH_RE, _DATE_MONTH_DAY_RE):
        yield from (Span(m.start(), m.end(), DATUM) for m in regex.finditer(text))
    for m in _DATE_CONTEXT_RE.finditer(text):
        yield Span(m.start("v"), m.end("v"), DATUM)
