"""Where someone lives: postcodes, street addresses and PO boxes (towns themselves stay)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum.nl import postcode

from knowledge.anonymise.dates import MONTHS
from knowledge.anonymise.numbers import is_year
from knowledge.anonymise.spans import ADRES, NUMMER, POSTCODE, Span
from knowledge.anonymise.words import fold, load, words

_POSTCODE_RE = re.compile(r"(?<![\w-])(?P<d>[1-9]\d{3})(?P<sp>\s?)(?P<l>[A-Za-z]{2})(?![\w-])")
_UK_POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b")
# Letters after a four-digit number that make a year or a count, not a postcode ('2023 en').
_POSTCODE_NOT_LETTERS = words("""
    en in op of is om de te al na nu zo ze we je me at on to an as by he if it my no or so up us
    do go am be km mg ml cm mm kg gb mb kb ms px cc hz kw pk th nd rd st uu pm ad bc ca jr
""")
_UNIT_LETTERS = words("km mg ml cm mm kg gb mb kb ms px cc hz kw pk th nd rd st jr am pm uu")

# Words after a number that show it is a count or a time span, not a house number.
_NOT_HOUSE_NUMBER = (
    r"(?!\s*(?:%|uur|keer|x\b|km|kilometer|meter|minuten|min\b|jaar|jarige|jr\b|weken|dagen|"
    r"maanden|jongeren|leerlingen|kinderen|mensen|euro|€|procent|years?\b|days?\b|weeks?\b|"
    r"months?\b|hours?\b|times\b|students\b|kids\b|people\b|minutes\b|followers\b|volgers\b|"
    + MONTHS + r")\b)"
)
_STREET_STRICT = (
    "straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|steeg|plantsoen|boulevard|allee|"
    "straatweg|dwarsstraat|laantje|straatje|pad"
)
_STREET_BROAD = (
    _STREET_STRICT + "|hof|markt|park|baan|wal|haven|veld|erf|poort|vaart|burgwal|dam|ring|"
    "werf|zijde|oord|hout|berg|akker|hoek|weide|kamp|donk|dries|stede|brink|horst|rade|straat"
)
_HOUSE_NUMBER = (
    r"\d{1,4}(?:[-/]?(?:[IVX]{1,3}|hs|bis|bg|huis|boven)(?![\w'])|\s?[-/]?\s?[a-zA-Z](?![\w'])|"
    r"[-/]\d{1,4}|\s(?:bis|hs|huis|bg|boven|rood|zwart|[IVX]{1,3})\b)?"
)
_STREET_RE = re.compile(
    rf"(?P<street>\b(?:[A-Z][\w'’-]{{1,40}}(?:{_STREET_BROAD})|"
    rf"(?i:[\w'’-]{{0,40}}[a-zà-ÿ](?:{_STREET_STRICT}))))"
    rf"\s+(?P<num>{_HOUSE_NUMBER}){_NOT_HOUSE_NUMBER}(?![.,:]\d)"
)
_STREET_WORD_RE = re.compile(
    r"\b(?P<street>(?:[A-Z][\w'’-]{1,40}\s+){1,3}(?:Gracht|Kade|Laan|Weg|Plein|Straat|Singel|Dijk|"
    r"Markt|Haven|Wal|Voorhout|Hof|Park|Dreef|Steeg)|(?:Laan|Plein|Kade|Weg|Straat|Singel)"
    r"(?:\s+(?:van|der|de|den|het|ter|ten|'t|op|voor|naar|in|aan)){1,2}\s+[A-Z][\w'’-]{1,40}"
    r"(?:\s+[A-Z][\w'’-]{1,40})?)"
    rf"\s+(?P<num>{_HOUSE_NUMBER}){_NOT_HOUSE_NUMBER}(?![.,:]\d)"
)
# A capitalised word (or a few) and a house number: looked up in the street list ('Damrak 12').
_LISTED_STREET_RE = re.compile(
    rf"(?P<street>[A-Z][\w'’-]{{1,40}}(?:\s+(?:[A-Z][\w'’-]{{0,40}}|van|de|der|den|het|ter|ten|"
    rf"'t|op|aan|in)){{0,4}})\s+(?P<num>{_HOUSE_NUMBER}){_NOT_HOUSE_NUMBER}(?![.,:]\d)"
)
_EN_STREET_TYPES = (
    r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Way|Court|Ct\.?|Place|"
    r"Square|Sq\.?|Boulevard|Blvd\.?|Close|Crescent|Terrace|Gardens|Grove|Row|Mews|Parade|Walk|"
    r"Hill|Park"
)
_EN_STREET_RE = re.compile(
    rf"(?<![\w.,-])\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]{{0,40}}\s+){{1,3}}"
    rf"(?:{_EN_STREET_TYPES})(?!\w)"
)
_EN_STREET_LOWER_RE = re.compile(
    r"(?i)(?<![\w.,-])\d{1,5}[a-z]?\s+(?:(?!(?:the|a|an|on|in|of|at|to|and|or|for|with|from|by|"
    r"his|her|their|my|our|your|its|this|that|some|many|more|few|new|old|young|year|years|days|"
    r"hours|minutes|weeks|months|times|jaar|dagen|uur)\b)[a-z][\w'’-]{0,40}\s+){1,2}"
    r"(?:street|road|avenue|lane|boulevard|crescent|terrace)\b"
)
# English order for a listed Dutch street ('27 Prinsengracht', '12 Damrak').
_EN_LISTED_STREET_RE = re.compile(
    r"(?<![\w.,-])(?P<num>\d{1,4}[a-z]?)\s+(?P<street>[A-Z][\w'’-]{2,40}(?:\s+[A-Z][\w'’-]{1,40})?)"
)
# English order for a Dutch street word ('27 Prinsengracht', '8 Kerkstraat').
_EN_DUTCH_STREET_RE = re.compile(
    rf"(?<![\w.,-])\d{{1,4}}[a-z]?\s+(?:[A-Z][\w'’-]{{1,40}}\s+)?[A-Z][\w'’-]{{0,40}}"
    rf"(?:{_STREET_STRICT})\b"
)
# Words before a street from the list that show an address follows ('woont op Damrak 12').
_ADDRESS_CUES = words("""
    woont wonen woonde woonachtig adres address op aan at lives live living on in bij naar to
    from van uit
""")
_POSTBUS_RE = re.compile(r"(?i)\b(?:postbus|p\.?o\.?\s?box)\s+\d{1,6}\b")
_ADDRESS_LEAD_STOP = words("""
    op in aan naar bij via vanaf uit over langs nabij woont woonde adres address at on to from
    near lives lived het the zijn haar de
""")


def find(text: str) -> Iterator[Span]:
    """All postcodes and street addresses in the text."""
    yield from _postcode_spans(text)
    yield from _address_spans(text)


def _postcode_spans(text: str) -> Iterator[Span]:
    """Dutch postcodes in any case, checked by python-stdnum, and UK postcodes."""
    for m in _POSTCODE_RE.finditer(text):
        letters = m.group("l")
        low = letters.lower()
        if not m.group("sp"):
            if low in _UNIT_LETTERS:
                continue  # '1500km', '2000mg'
        elif not letters.isupper() and low in _POSTCODE_NOT_LETTERS:
            continue  # '2023 en', '1500 in'
        elif (
            letters.isupper()
            and low in {"ad", "bc", "am", "pm", "km", "kg", "mb", "gb"}
            and not re.match(r"\s+[A-Z][a-z]", text[m.end() :])
        ):
            continue  # '1500 KM', but '3526 KM Utrecht' is a postcode before its town
        # SA, SD and SS are never issued: such a code is a typo, still removed.
        yield Span(m.start(), m.end(), POSTCODE if postcode.is_valid(m.group()) else NUMMER)
    yield from (Span(m.start(), m.end(), POSTCODE) for m in _UK_POSTCODE_RE.finditer(text))


def _address_spans(text: str) -> Iterator[Span]:
    """Street plus house number, Dutch and English style, and PO boxes."""
    places, keep = load("places"), load("keep")
    for m in _STREET_RE.finditer(text):
        street = fold(m.group("street"))
        # 'Zandvoort 3' is a town and a number; 'Hoogstraat 4' a street though a hamlet too.
        town = street in places and not re.search(f"(?:{_STREET_STRICT})$", street)
        if town or street in keep or is_year(m.group("num")):
            continue
        yield Span(_address_start(text, m.start()), m.end(), ADRES)
    for m in _STREET_WORD_RE.finditer(text):
        if not is_year(m.group("num")):
            yield Span(_address_start(text, m.start()), m.end(), ADRES)
    yield from _listed_street_spans(text)
    for regex in (_EN_STREET_RE, _EN_STREET_LOWER_RE, _EN_DUTCH_STREET_RE, _POSTBUS_RE):
        yield from (Span(m.start(), m.end(), ADRES) for m in regex.finditer(text))


def _listed_street_spans(text: str) -> Iterator[Span]:
    """Streets without a street word ('Damrak 12', 'Ringbaan-West 212') from the street list."""
    streets = load("streets")
    for m in _LISTED_STREET_RE.finditer(text):
        if is_year(m.group("num")) or not _address_around(text, m.start(), m.end()):
            continue
        if m.group("street").split()[0].isupper():
            continue  # 'LIJN 1', 'DEEL 2': a heading, not a street
        parts = m.group("street").split()
        # The street is the longest run of the last words that the list knows.
        for i in range(len(parts)):
            if fold(" ".join(parts[i:])) in streets:
                start = m.start("street") + m.group("street").index(" ".join(parts[i:]))
                yield Span(start, m.end(), ADRES)
                break
    for m in _EN_LISTED_STREET_RE.finditer(text):
        if not _address_around(text, m.start(), m.end()):
            continue
        parts = m.group("street").split()
        for j in range(len(parts), 0, -1):
            if fold(" ".join(parts[:j])) in streets:
                yield Span(m.start(), m.start("street") + len(" ".join(parts[:j])), ADRES)
                break


def _address_around(text: str, start: int, end: int) -> bool:
    """A listed street name counts only beside an address cue, a postcode or a town."""
    before = re.findall(r"[\w']+", text[max(0, start - 30) : start])[-2:]
    if any(fold(w) in _ADDRESS_CUES for w in before):
        return True
    # 'Damrak 12, Amsterdam', 'Damrak 12 1012 LG'; not 'A Grade 9 student'.
    town_or_postcode = r",?\s+[1-9]\d{3}\s?[A-Z]{2}\b|,\s*[A-Z][a-z]"
    return re.match(town_or_postcode, text[end : end + 12]) is not None


def _address_start(text: str, start: int) -> int:
    """Extend a street name leftwards over words like 'Burgemeester' or 'Van'."""
    for _ in range(3):
        window_start = max(0, start - 60)
        m = re.search(
            r"(?:^|(?<=\s))([A-Z][\w'’.-]{0,40}|van|de|der|den|ter|ten|'t)\s+$",
            text[window_start:start],
        )
        if not m or fold(m.group(1)) in _ADDRESS_LEAD_STOP:
            break
        word_start = window_start + m.start(1)
        if word_start == window_start and window_start > 0:
            break  # the word runs past the window: no street prefix is that long
        before = text[max(0, word_start - 10) : word_start].rstrip()
        if m.group(1)[0].isupper() and (not before or before[-1] in ".!?:;\n"):
            break  # a capitalised word at sentence start is more likely 'Op' or 'Gisteren'
        start = word_start
    return start
