"""Numbers that identify: BSN, IBAN, licence plates, ID documents, dossier and case numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban
from stdnum.nl import bsn

from knowledge.anonymise.dates import MONTHS
from knowledge.anonymise.spans import (
    BSN,
    DOCUMENTNUMMER,
    DOSSIERNUMMER,
    IBAN,
    KENTEKEN,
    NUMMER,
    Span,
)

_IBAN_RE = re.compile(r"(?i)\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b")
_BSN_RE = re.compile(
    r"(?<![\w.,/-])(?:\d{9}|\d{3}[. ]\d{3}[. ]\d{3}|\d{4}[. ]\d{2}[. ]\d{3})(?![\w/-]|[.,]\d)"
)
_BSN_CONTEXT_RE = re.compile(
    r"(?i)\b(?:bsn|burgerservicenummer|sofinummer|sofi-nummer|bsn-nummer)\s*(?:nummer|nr\.?)?"
    r"\s*[:=]?\s*(?:is\s+|van\s+\w+\s+is\s+)?(?P<v>\d[\d .]{7,11}\d)"
)

_PLATE_SHAPES = (
    "LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL", "DD-LLL-D",
    "D-LLL-DD", "LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D",
)


def _plate_regex(separator: str) -> str:
    """Build one alternation of all Dutch licence-plate side codes."""
    shapes = []
    for shape in _PLATE_SHAPES:
        if not separator and shape == "DD-DD-LL":
            continue  # written without dashes this is a postcode ('1234AB')
        parts = [
            f"[A-Z]{{{len(g)}}}" if g[0] == "L" else rf"\d{{{len(g)}}}" for g in shape.split("-")
        ]
        shapes.append(separator.join(parts))
    return "(?:" + "|".join(shapes) + ")"


_PLATE_RE = re.compile(r"(?i)(?<![\w-])" + _plate_regex("-") + r"(?![\w-])")
_PLATE_COMPACT_RE = re.compile(r"(?<![\w-])" + _plate_regex("") + r"(?![\w-])")
_PLATE_CONTEXT_RE = re.compile(
    r"(?i)\b(?:kenteken(?:plaat)?|nummerplaat|licen[cs]e\s?plate|number\s?plate|"
    r"registration(?:\s?number)?|plates?)\s*(?:nummer|number|no\.?|nr\.?)?\s*[:=]?\s*"
    r"(?:is\s+)?"
    r"(?P<v>[A-Za-z0-9]{1,4}(?:-?[A-Za-z0-9]{1,4}){1,3}(?-i:\s[A-Z0-9]{2,4})?)(?![\w-])"
)

_PASSPORT_RE = re.compile(r"(?<![\w-])[A-NP-Z]{2}[A-NP-Z0-9]{6}\d(?![\w-])")
_DOCUMENT_CONTEXT_RE = re.compile(
    r"(?i)\b(?:paspoort|passport|id-kaart|id\s?kaart|identiteitskaart|identity\s?card|id\s?card|"
    r"rijbewijs|driving\s?licen[cs]e|driver'?s\s?licen[cs]e|verblijfs(?:vergunning|document|pas)|"
    r"residence\s?permit|document|v-nummer|vreemdelingennummer|student|leerling|personeels|"
    r"employee|pas|kaart|card|id)(?:[-\s]?(?:nummer|number|nr\.?|no\.?|#|id))?\s*[:=#]?\s*"
    r"(?:is\s+|was\s+|met\s+nummer\s+|with\s+number\s+|\(number\s+|\(nummer\s+)?"
    r"(?P<v>(?=[A-Za-z0-9 -]*\d)[A-Za-z0-9][A-Za-z0-9-]*(?:\s\d[\d-]*)*[A-Za-z0-9])"
)
_DOSSIER_CONTEXT_RE = re.compile(
    r"(?i)\b(?:dossier|zaak|case|file|kenmerk|referentie|reference|ref|registratie|melding|"
    r"meldings|incident|ticket|bvh|pv|proces-verbaal|aangifte|cli[eë]nt|klant|casus|casusnr|"
    r"parket|vt|registration|our\s+ref)(?:[-\s]?(?:nummer|nr|number|no|id|code))?\.?\s*[:=#]?\s*"
    r"(?:is\s+|was\s+|under\s+|onder\s+)?"
    r"(?P<v>#?(?=[A-Za-z0-9/._-]*\d)[A-Za-z0-9#][A-Za-z0-9/._-]*[A-Za-z0-9])"
)
# A run of letters, digits and separators that holds four or more digits and mixes letters or
# several digit groups ('RvdK-88412-2025', 'VTGZ/2025/4410', 'REG-4471-B', '13/654321-24').
_CODE_RE = re.compile(
    r"(?<![\w/.#-])#?(?=[\w/.-]*\d[\w/.-]*\d[\w/.-]*\d[\w/.-]*\d)"
    r"[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)+(?![\w/-]|\.\w)"
)
_HASH_NUMBER_RE = re.compile(r"(?<![\w#])#\d{4,}\b")
_LONG_NUMBER_RE = re.compile(r"(?<![\w.,])[A-Za-z]{0,4}\d{6,}[A-Za-z]{0,4}(?![\w]|[.,]\d)")
# Card and account numbers written in groups ('2301 4455 6677 8').
_GROUPED_NUMBER_RE = re.compile(r"(?<![\w.,])\d{3,5}(?:[ ]\d{2,5}){2,5}(?![\w]|[.,]\d)")


def find(text: str) -> Iterator[Span]:
    """All identifying numbers in the text."""
    yield from _iban_spans(text)
    yield from _bsn_spans(text)
    yield from _plate_spans(text)
    for m in _PASSPORT_RE.finditer(text):
        if any(c.isdigit() for c in m.group()[2:8]) or m.group().startswith("SPECI"):
            yield Span(m.start(), m.end(), DOCUMENTNUMMER)
    for m in _DOCUMENT_CONTEXT_RE.finditer(text):
        value = m.group("v")
        if sum(c.isdigit() for c in value) >= 3 and not is_year_or_age(value):
            yield Span(m.start("v"), m.end("v"), DOCUMENTNUMMER)
    for m in _DOSSIER_CONTEXT_RE.finditer(text):
        value = m.group("v")
        if sum(c.isdigit() for c in value) >= 4 and not is_year_or_age(value):
            yield Span(m.start("v"), m.end("v"), DOSSIERNUMMER)
    for m in _CODE_RE.finditer(text):
        # Codes have short letter groups ('RvdK', 'VTGZ'); '1000/Actiecentrum' is a name.
        long_word = re.search(r"[^\W\d_]{7,}", m.group()) is not None
        if not long_word and not _is_date_or_range(m.group()):
            yield Span(m.start(), m.end(), DOSSIERNUMMER, weak=True)
    yield from (Span(m.start(), m.end(), DOSSIERNUMMER) for m in _HASH_NUMBER_RE.finditer(text))
    for regex in (_LONG_NUMBER_RE, _GROUPED_NUMBER_RE):
        yield from (Span(m.start(), m.end(), NUMMER, weak=True) for m in regex.finditer(text))


def _iban_spans(text: str) -> Iterator[Span]:
    """IBANs: the checksum says IBAN; a mistyped one is still removed, as a number."""
    for m in _IBAN_RE.finditer(text):
        compact = m.group().replace(" ", "")
        if not 15 <= len(compact) <= 34 or sum(c.isdigit() for c in compact) < 8:
            continue
        if not (m.group()[:2].isupper() or m.group()[:2].islower()):
            continue
        yield Span(m.start(), m.end(), IBAN if iban.is_valid(compact) else NUMMER)


def _bsn_spans(text: str) -> Iterator[Span]:
    """Nine-digit numbers: the eleven-test says BSN; others are removed as numbers."""
    for m in _BSN_CONTEXT_RE.finditer(text):
        value = m.group("v")
        yield Span(m.start("v"), m.end("v"), BSN if bsn.is_valid(value) else NUMMER)
    for m in _BSN_RE.finditer(text):
        yield Span(m.start(), m.end(), BSN if bsn.is_valid(m.group()) else NUMMER)


def _plate_spans(text: str) -> Iterator[Span]:
    """Dutch licence plates by side code, and any plate after a plate cue."""
    for m in _PLATE_RE.finditer(text):
        groups = m.group().lower().split("-")
        if any(g.isalpha() and re.fullmatch(MONTHS, g) for g in groups):
            continue  # '1-mei-20' is a date
        yield Span(m.start(), m.end(), KENTEKEN)
    yield from (Span(m.start(), m.end(), KENTEKEN) for m in _PLATE_COMPACT_RE.finditer(text))
    for m in _PLATE_CONTEXT_RE.finditer(text):
        value = m.group("v").strip(" -")
        if any(c.isdigit() for c in value) and len(value.replace(" ", "")) >= 4:
            yield Span(m.start("v"), m.start("v") + len(value), KENTEKEN)


def is_year(number: str) -> bool:
    """A four-digit number from 1900 to 2099 is a year, not a house number."""
    return re.fullmatch(r"(?:19|20)\d{2}", number.strip()) is not None


def is_year_or_age(value: str) -> bool:
    """Whether a value after a number cue is only a year, a school year or a small count."""
    return (
        is_year(value.lstrip("#"))
        or re.fullmatch(r"#?\d{1,3}", value) is not None
        or re.fullmatch(r"(?:19|20)\d{2}[-/–](?:19|20)?\d{2}", value) is not None
    )


def _is_date_or_range(value: str) -> bool:
    """Dates ('12-03-2008', '2025-03-18') and school years ('2024-2025') are not codes."""
    return (
        re.fullmatch(r"(?:19|20)\d{2}[-/–](?:19|20)?\d{2}", value) is not None
        or re.fullmatch(r"\d{1,2}([-/.])\d{1,2}\1\d{2,4}", value) is not None
        or re.fullmatch(r"(?:19|20)\d{2}([-/.])\d{1,2}\1\d{1,2}", value) is not None
        or re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+(?:,\d+)?", value) is not None  # 3.000 / 1,500
        or re.fullmatch(r"\d{1,2}(?:[-/–]\d{1,2})+", value) is not None  # ages '15-17'
    )
