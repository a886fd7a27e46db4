"""Named schools, colleges, universities, places of worship, clubs and youth centres."""

from __future__ import annotations

import re

from knowledge.anonymise.spans import INSTELLING, Span
from knowledge.anonymise.tokens import TOKEN_RE, Token
from knowledge.anonymise.words import fold, load, words

_INST_TYPES_AFTER = (
    r"Lyceum|College|Gymnasium|Atheneum|Scholengemeenschap|School|Academie|Academy|"
    r"Universiteit|University|Hogeschool|Instituut|Institute|Campus|Mavo|Havo|Vmbo|Vwo|"
    r"Scholengroep|Schoolgroep|Onderwijsgroep|"
    r"Basisschool|High School|Primary School|Secondary School|Middle School|Grammar School|"
    r"Moskee|Mosque|Kerk|Church|Jongerencentrum|Buurthuis|Wijkcentrum|Kindcentrum|"
    r"Montessorischool|Daltonschool|Vrije School|Praktijkschool|Stichting|moskee|mosque"
)
_INST_AFTER_RE = re.compile(rf"\b(?:{_INST_TYPES_AFTER})\b")
# Dutch secondary-school abbreviations before a name ('OSG Hengelo', 'SG Spieringshoek').
_INST_ABBREV_RE = re.compile(
    r"\b(?:OSG|SG|CSG|RSG|PCC|KSG|ISG|CLZ|OBS|CBS|IKC|SV|VV|RKSV)\s+(?:[A-Z][\w'’-]{1,40})"
    r"(?:\s+[A-Z][\w'’-]{1,40}){0,2}"
)
_INST_BEFORE_RE = re.compile(
    r"\b(?P<kw>(?i:(?:openbare\s+|christelijke\s+|katholieke\s+|islamitische\s+|"
    r"protestants-christelijke\s+|montessori\s+|dalton\s+|vrije\s+)?basisschool|obs|cbs|rkbs|"
    r"pcbs|ibs|ikc|kindcentrum|sbo|vso|praktijkschool|middelbare\s+school|school|"
    r"scholengemeenschap|lyceum|college|gymnasium|roc|mbo|hogeschool|universiteit|"
    r"university|academy|moskee|mosque|stichting|jongerencentrum|buurthuis|wijkcentrum|"
    r"voetbalclub|voetbalvereniging|sportclub|sportschool|vereniging|kerk|church|"
    r"youth\s+club|youth\s+centre|youth\s+center|community\s+centre))"
    r"(?:\s+(?:of|van|voor))?\s+[\"'“‘]?(?P<name>(?:(?:De|Het|'t|The|de|het)\s+)?"
    r"[A-Z0-9][\w'’&.-]{0,40}(?:\s+(?:(?:van|voor|de|der|den|het|aan|op|te|of|the)\s+)?"
    r"[A-Z][\w'’&.-]{0,40}){0,3})[\"'”’]?"
)
_INST_BEFORE_LOWER_RE = re.compile(
    r"(?i)\b(?P<kw>basisschool|obs|cbs|rkbs|pcbs|ikc|roc)\s+(?P<name>(?:(?:de|het|'t)\s+)?"
    r"[a-zà-ÿ][\w'’-]{1,40})"
)
# 'his school (de Populier)', 'zijn school, De Regenboog': a school named in apposition.
_INST_APPOSITION_RE = re.compile(
    r"(?i)\b(?:school|basisschool|college|lyceum)\s*[(,]\s*(?P<name>(?:de|het|'t|the)\s+"
    r"[a-zà-ÿ][\w'’-]{2,40}(?:\s+[a-zà-ÿ][\w'’-]{2,40}){0,2})\s*[),]"
)
# Well-known school brands that name an institution without a type word ('expelled from Zadkine').
_INST_BRANDS_RE = re.compile(
    r"(?i:\b(?:Zadkine|Albeda|Deltion|Aventus|Curio|Summa|Scalda|Firda|Noorderpoort|Landstede|"
    r"Inholland|Fontys|Avans|Saxion|Windesheim|Hanzehogeschool|Novacollege|Nova College|"
    r"Graafschap College|Alfa-college|ROC Mondriaan|Mondriaan|Gilde Opleidingen|Vista College|"
    r"Horizon College|Rijn IJssel|Koning Willem I College|Da Vinci College|Friesland College|"
    r"Erasmus Universiteit|Radboud Universiteit)\b)"
    r"|\b(?:HvA|HAN|HU|TU Delft|TU/e|VU|UvA)\b"
)
_INST_COMPOUND_RE = re.compile(
    r"\b[A-Z][\w'’-]{0,40}(?:school|lyceum|college|gymnasium|academie|atheneum|hogeschool|"
    r"universiteit|moskee|kerk)\b"
)
_INST_LOWER_AFTER_RE = re.compile(
    r"\b(?P<name>[a-zà-ÿ][\w'’-]{2,40})\s+(?P<type>lyceum|college|gymnasium|atheneum)\b"
)
# Lowercase 'the british school in the netherlands': an English school named in lowercase.
_INST_LOWER_EN_RE = re.compile(
    r"\bthe\s+(?P<name>(?:[a-z]+\s+){1,2})(?:school|college|academy)(?:\s+(?:in|of)\s+the\s+"
    r"netherlands|\s+of\s+[a-z]+)?\b"
)

# A capitalised article mid-sentence opens a proper name ('werkt bij Het Poortje').
_ARTICLE_NAME_RE = re.compile(
    r"(?<=[a-zà-ÿ,:;]\s)(?:De|Het|'t)\s+[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?"
)

# Generic words before an institution type that do not make it a named one.
_GENERIC_BEFORE_NAME = words("school college church kerk moskee mosque vereniging stichting")
_INST_LEAD_STOP_EXTRA = words("""
    op bij naar via vanaf uit over langs nabij mijn zijn haar onze hun een de het the a an his
    her my our their at on to from near in of leerling leerlingen student students docent
    teacher pupils mentor school vorige vorig volgende nieuwe oude andere
""")
_LOWER_EN_NOT_NAME = words("""
    primary secondary high middle grammar summer sunday weekend local same new old other whole
    his her my our their this that public private islamic catholic christian
""")


def find(text: str, tokens: list[Token]) -> list[Span]:
    """Named institutions in the text."""
    keep, stop = load("keep"), load("stop")
    spans: list[Span] = []
    for m in _INST_AFTER_RE.finditer(text):
        start = _institution_lead(text, tokens, m.start())
        if start is None:
            continue
        end = m.end()
        tail = re.match(r"(?:\s+(?:[A-Z][\w'’-]+|van\s+[A-Z][\w'’-]+)){1,2}", text[end:])
        if tail and fold(tail.group().split()[-1]) not in stop:
            end += tail.end()
        spans.append(Span(start, end, INSTELLING))
    for m in _INST_BEFORE_RE.finditer(text):
        words = [fold(w) for w in re.findall(r"[\w'’&.-]+", m.group("name"))]
        content = [w for w in words if w not in {"de", "het", "'t", "the", "van", "voor"}]
        if not content or all(w in stop or _is_role(w) for w in content):
            continue
        if fold(m.group("kw")) in _GENERIC_BEFORE_NAME and content[0] in keep:
            continue
        # A name ends at a sentence end ('the School Eindhoven. A Year 10 student').
        name_end = m.start("name") + _sentence_cut(m.group("name"))
        # 'jongerencentrum De Focus': a lowercase kind of place is a kept word, the name is not.
        start = m.start("name") if m.group("kw").islower() else m.start()
        spans.append(Span(start, name_end, INSTELLING))
    for m in _INST_BEFORE_LOWER_RE.finditer(text):
        last = fold(m.group("name").split()[-1])
        if last not in stop and last not in keep and not _is_role(last):
            start = m.start("name") if m.group("kw") == "basisschool" else m.start()
            spans.append(Span(start, m.end(), INSTELLING))
    for m in _INST_APPOSITION_RE.finditer(text):
        last = fold(m.group("name").split()[-1])
        if last not in stop and last not in keep:
            spans.append(Span(m.start("name"), m.end("name"), INSTELLING))
    spans.extend(Span(m.start(), m.end(), INSTELLING) for m in _INST_BRANDS_RE.finditer(text))
    spans.extend(Span(m.start(), m.end(), INSTELLING) for m in _INST_ABBREV_RE.finditer(text))
    for m in _INST_COMPOUND_RE.finditer(text):
        if fold(m.group()) not in load("generic_school"):
            tail = re.match(r"\s+[A-Z][\w'’-]+", text[m.end() :])
            end = m.end() + (tail.end() if tail else 0)
            spans.append(Span(m.start(), end, INSTELLING))
    for m in _INST_LOWER_AFTER_RE.finditer(text):
        name = fold(m.group("name"))
        if name not in stop and name not in _INST_LEAD_STOP_EXTRA and not _is_role(name):
            spans.append(Span(m.start(), m.end(), INSTELLING))
    for m in _INST_LOWER_EN_RE.finditer(text):
        if not set(m.group("name").split()) & (_LOWER_EN_NOT_NAME | stop):
            spans.append(Span(m.start("name"), m.end(), INSTELLING))
    # Weak: 'meneer De Jong' is a person, and the name label wins over this one.
    spans.extend(
        Span(m.start(), m.end(), INSTELLING, weak=True) for m in _ARTICLE_NAME_RE.finditer(text)
    )
    return _drop_kept(text, spans)


def _sentence_cut(name: str) -> int:
    """Length of a name up to the first full stop followed by a space."""
    cut = re.search(r"\.\s", name)
    return cut.start() if cut else len(name)


def _drop_kept(text: str, spans: list[Span]) -> list[Span]:
    """Drop findings made only of kept words ('Veilig Thuis' is no school name)."""
    keep, stop = load("keep"), load("stop")
    result = []
    for span in spans:
        words = [fold(w) for w in TOKEN_RE.findall(text[span.start : span.end])]
        if any(w not in keep and w not in stop for w in words):
            result.append(span)
    return result


def _institution_lead(text: str, tokens: list[Token], type_start: int) -> int | None:
    """Start of the capitalised name before an institution type, or None if there is none."""
    lead_stop = load("stop") | _INST_LEAD_STOP_EXTRA
    before = [t for t in tokens if t.end <= type_start]
    start: int | None = None
    cursor = type_start
    for token in reversed(before[-5:]):
        gap = text[token.end : cursor]
        if gap.strip():
            break
        if not token.is_cap:
            # Particles inside a name ('Johan de Witt College') continue it.
            if start is not None and token.low in {"de", "van", "der", "den", "ten", "ter"}:
                cursor = token.start
                continue
            break
        if token.low in lead_stop or _is_role(token.low):
            break
        start, cursor = token.start, token.start
    return start


def _is_role(word: str) -> bool:
    """Whether a folded word is a role or kinship word rather than a name."""
    return word in load("role_cues") or word in load("titles")
