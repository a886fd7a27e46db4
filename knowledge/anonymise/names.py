"""Person names: first names and surnames from the lists, initials, nicknames, cued names."""

from __future__ import annotations

import re

from knowledge.anonymise.spans import HANDLE, NAAM, Span
from knowledge.anonymise.tokens import Token
from knowledge.anonymise.words import fold, keep_phrase_re, load, words

# Arabic kunya and patronymic names ('Abu Hafs', 'Umm Sumayyah', 'Abu Bakr al-Iraqi').
_KUNYA_RE = re.compile(
    r"\b(?:Abu|Abou|Abū|Umm|Oum|Ibn|Bint)[\s-][A-Z][\w'’-]{1,40}"
    r"(?:\s(?:al-|el-|Al-|El-)?[A-Z][\w'’-]{1,40})?"
)
# A first name glued to two or more digits is a user name ('Ruben88', 'sanne.2009').
_NAME_NUMBER_RE = re.compile(r"(?<![\w@/.#-])(?P<name>[A-Za-z]{2,})[._-]?\d{2,4}(?![\w])")
_AGE_AFTER_RE = re.compile(
    r"\s*(?:\(\s*\d{1,2}\s*(?:jaar|jr\.?|j|yo|y/o|years?(?: old)?)?\s*\)|,\s*\d{1,2}\s*(?:jaar|jr|"
    r"years? old)?\s*,)"
)
# Initials before a surname ('J. de Boer-Kramer', 'A.M. Koopmans', 'P.J. van Leeuwen').
_INITIALS_RE = re.compile(
    r"(?<![\w.-])(?:[A-Z]\.\s?){1,4}(?:(?i:van|de|der|den|ter|ten|te|el|al|von|van der|"
    r"van den|van de)\s+)?[A-Z][\w'’]+(?:-[A-Z][\w'’]+)?"
    # Reference style: 'Konijn, E.', 'Ruigrok, N. A.'
    r"|(?<![\w.-])[A-Z][\w'’]+(?:-[A-Z][\w'’]+)?,\s[A-Z]\.(?:\s?[A-Z]\.){0,2}(?=[\s,;)(]|$)"
)
# A name followed by the initial of its surname ('Mohammed B.', 'Kerem Ş.').
_NAME_INITIAL_RE = re.compile(r"(?P<name>\b[^\W\d_][\w'’-]+)\s(?P<init>[^\W\d_a-z]\.)(?!\w)")
# Words that take a letter without being a name ('Plan B.', 'vitamine D.').
_TAKES_A_LETTER = words("""
    plan vitamine vitamin groep klas type bijlage appendix annex figuur figure tabel table optie
    option scenario fase phase niveau level blok block vak zaal room gebouw building hal terminal
    gate deel part hoofdstuk chapter
""")
# A name and a cue that the name before the bracket is a nickname ('Mo (eigenlijk Mohamed)').
_REAL_NAME_CUE_RE = re.compile(
    r"\s*\((?:eigenlijk|echte naam|echt|real name|actually|officieel|officially)\b", re.I
)
# Quoted names next to a naming word: 'die zich 'Blitz' noemt', 'goes by "Lone Wolf"'.
_QUOTED_RE = re.compile(r"[\"'“‘](?P<q>[^\W\d_][\w'’ -]{0,30}?[\w])[\"'”’](?!\w)")
_NAMING_BEFORE_RE = re.compile(
    r"(?i)\b(?:noemt|noemde|noemen|heet|heette|genaamd|bijnaam|roepnaam|alias|nickname|called|"
    r"calls\s+himself|calls\s+herself|goes\s+by|known\s+as|ook\s+wel|zich)\s+(?:\w+\s+){0,2}$"
)
_NAMING_AFTER_RE = re.compile(
    r"(?i)^\s+(?:(?:\w+\s+){0,1})(?:noemt|noemde|noemen|genoemd|heet|heette|noemde)\b|^\s*\("
)
_GREETING_RE = re.compile(
    r"(?i)\b(?:(?:hartelijke|vriendelijke|met\s+vriendelijke|warme|lieve|kind|best|warm)\s+)?"
    r"(?:(?:groet(?:en|jes)?|greetings|regards|wishes|liefs|mvg|gr\.)"
    r"(?:\s+(?:van|from))?\s*[,:!\n]?"
    # 'Best, Tim' and 'Cheers from Bambi', but not 'Best Practices' or 'Thanks Google Maps'.
    r"|(?:best|cheers|thanks|bedankt)(?:\s+(?:from|van)|\s*[,!\n]))\s*$"
)
_FAMILY_CUES = words("familie fam gezin family")
_LOCATIVES = words("uit in te naar bij at near to")
# 'the mum of bo', 'de moeder van Luuk': kinship words with 'of' or 'van' before a name.
_OF = words("of van")



class NameFinder:
    """Finds person names with the name lists and the cues around them."""

    def __init__(self) -> None:
        """Read the name lists (a few MB) once."""
        self._first = load("first_names") | load("first_names_extra")
        self._keep_phrase_re = keep_phrase_re()

    def find(self, text: str, tokens: list[Token]) -> list[Span]:
        """All person names and name-based user names in the text."""
        spans = self._name_spans(text, tokens)
        spans += [Span(m.start(), m.end(), NAAM) for m in _KUNYA_RE.finditer(text)]
        spans += self._name_number_spans(text)
        spans += self._initial_spans(text)
        spans += self._nickname_spans(text, tokens, spans)
        return spans

    def _initial_spans(self, text: str) -> list[Span]:
        """'J. de Boer', 'A.M. Koopmans', and a name with a surname initial ('Mohammed B.')."""
        spans = []
        keep, stop = load("keep"), load("stop")
        for m in _INITIALS_RE.finditer(text):
            bare = re.sub(r"(?:[A-Z]\.\s?)+", " ", m.group()).replace(",", " ")
            surname = fold(bare.split()[-1])
            if surname not in keep and surname not in stop and not _is_role(surname):
                spans.append(Span(m.start(), m.end(), NAAM))
        for m in _NAME_INITIAL_RE.finditer(text):
            word = m.group("name")
            low = fold(word)
            if low in keep or low in stop or low in _TAKES_A_LETTER or _is_role(low):
                continue
            if low in self._first or low in load("cap_not_name") or word[0].isupper():
                spans.append(Span(m.start(), m.end(), NAAM))
        return spans

    def _nickname_spans(self, text: str, tokens: list[Token], found: list[Span]) -> list[Span]:
        """Nicknames: a quoted name next to a naming word, or a name before '(eigenlijk ...)'."""
        spans = []
        keep = load("keep")
        for m in _QUOTED_RE.finditer(text):
            words = [fold(w) for w in re.findall(r"[\w'’-]+", m.group("q"))]
            if not m.group("q")[0].isupper() or len(words) > 3 or all(w in keep for w in words):
                continue
            before = text[max(0, m.start() - 40) : m.start()]
            after = text[m.end() : m.end() + 30]
            context = {fold(w) for w in re.findall(r"\w+", before)[-4:]}
            if context & load("non_person_nouns"):
                continue  # 'a server called 'Totenkopf Brigade'' is a group, not a person
            if _NAMING_BEFORE_RE.search(before) or _NAMING_AFTER_RE.match(after):
                spans.append(Span(m.start("q"), m.end("q"), NAAM))
        for i, token in enumerate(tokens):
            if (
                _REAL_NAME_CUE_RE.match(text, token.end)
                and token.low not in load("stop")
                and token.low not in keep
                and not _is_role(token.low)
            ):
                # 'momo (eigenlijk Mohamed)': the word before is a nickname, listed or not.
                start = tokens[i - 1].start if i and any(
                    s.start <= tokens[i - 1].start < s.end for s in found) else token.start
                spans.append(Span(start, token.end, NAAM))
        return spans

    @staticmethod
    def _before_listed_surname(tokens: list[Token], i: int, text: str) -> bool:
        """Whether token i is capitalised and followed directly by a capitalised listed surname."""
        token, nxt = tokens[i], tokens[i + 1]
        if not (token.is_cap and nxt.is_cap) or text[token.end : nxt.start] != " ":
            return False
        if token.text.isupper() or nxt.text.isupper() or nxt.sent_start:
            return False
        plain = load("keep") | load("stop") | load("places") | load("sentence_openers")
        if token.low in plain or _is_role(token.low) or token.low in load("common_nouns"):
            return False
        return nxt.low in load("surnames") and nxt.low not in plain and not nxt.ambiguous

    def _cue_before(self, tokens: list[Token], i: int, text: str) -> bool:
        """A greeting ('groet van', 'Regards,') or family word ('familie', 'fam.') before i."""
        token = tokens[i]
        if not token.is_cap or token.low in load("keep") or token.low in load("stop"):
            return False
        if _is_role(token.low) or token.low in load("titles"):
            return False
        if i > 0 and tokens[i - 1].low in _LOCATIVES:
            return False
        if token.low in load("places") and token.low not in self._first:
            return False  # 'groeten uit Zeist', 'greetings from Amsterdam'
        if i > 0 and tokens[i - 1].low in _FAMILY_CUES and text[
            tokens[i - 1].end : token.start
        ].strip() in ("", "."):
            return True
        return _GREETING_RE.search(text[max(0, token.start - 40) : token.start]) is not None

    def _name_number_spans(self, text: str) -> list[Span]:
        """User names made of a first name and digits ('Ruben88', 'jamal_2008')."""
        spans = []
        for m in _NAME_NUMBER_RE.finditer(text):
            low = fold(m.group("name"))
            if low in self._first and low not in load("ambiguous") and low not in load("stop"):
                spans.append(Span(m.start(), m.end(), HANDLE))
        return spans

    def _name_spans(self, text: str, tokens: list[Token]) -> list[Span]:
        """Names from the first-name lists, capitalised or not, and from context cues."""
        n = len(tokens)
        is_name = [False] * n
        for i in range(n):
            is_name[i] = self._is_name_token(tokens, i, text)
        for i in range(n):
            if not is_name[i] and (
                self._cued_name(tokens, i, text) or self._cue_before(tokens, i, text)
            ):
                is_name[i] = True
        # 'Annebregt Dijkman': an unlisted capitalised word before a listed surname.
        for i in range(n - 1):
            if not is_name[i] and self._before_listed_surname(tokens, i, text):
                is_name[i] = is_name[i + 1] = True
        # 'familie Van der Linden': a family word opens a surname with capitalised particles.
        for i in range(n - 1):
            if tokens[i].low in _FAMILY_CUES and tokens[i + 1].low in load("interfix"):
                for j in self._surname_extension(tokens, i, text, after_title=True):
                    is_name[j] = True
        # 'meneer van den Berg', 'Mrs. de Wit': a title opens a surname with particles.
        for i in range(n - 1):
            gap = text[tokens[i].end : tokens[i + 1].start].strip()
            if tokens[i].low in load("titles") and gap in (
                "",
                ".",
            ):
                for j in self._surname_extension(tokens, i, text, after_title=True):
                    is_name[j] = True
        # 'Rose en Lily', 'Max, Sanne en Daan': a listed name next to a found one is a name too.
        for _ in range(2):
            for i in range(n):
                if not is_name[i] and self._coordinated_with_name(tokens, i, text, is_name):
                    is_name[i] = True
        # Surnames and particles that follow a detected name belong to it ('Sanne de Vries').
        for i in range(n):
            if is_name[i]:
                for j in self._surname_extension(tokens, i, text):
                    is_name[j] = True
        spans: list[Span] = []
        i = 0
        while i < n:
            if not is_name[i]:
                i += 1
                continue
            j = i
            while (
                j + 1 < n
                and is_name[j + 1]
                and not text[tokens[j].end : tokens[j + 1].start].strip()
                and "\n" not in text[tokens[j].end : tokens[j + 1].start]
            ):
                j += 1
            end = tokens[j].end
            if tokens[j].text[-2:] in ("'s", "’s"):
                end -= 2  # keep the possessive: "[NAAM]'s mother" still reads as a sentence
            spans.append(Span(tokens[i].start, end, NAAM))
            i = j + 1
        return spans

    def _coordinated_with_name(
        self, tokens: list[Token], i: int, text: str, is_name: list[bool]
    ) -> bool:
        """Whether a listed first name is joined by 'en', 'and' or a comma to a found name."""
        token = tokens[i]
        if token.low not in self._first or token.stop or token.low in load("keep"):
            return False
        if _is_role(token.low) or (token.ambiguous and not token.is_cap):
            return False  # 'my neighbour's boy, Levi': the role word is no second name
        if token.text.isupper() and len(token.text) > 1:
            return False
        for step in (-1, 1):
            j = i + step
            if not 0 <= j < len(tokens):
                continue
            a, b = (tokens[j], token) if step < 0 else (token, tokens[j])
            gap = text[a.end : b.start].strip()
            if gap == "," and is_name[j]:
                return True
            k = j + step
            if gap == "" and tokens[j].low in {"en", "and", "of", "or"} and 0 <= k < len(tokens):
                a2, b2 = (tokens[k], tokens[j]) if step < 0 else (tokens[j], tokens[k])
                if not text[a2.end : b2.start].strip() and is_name[k]:
                    return True
        return False

    @staticmethod
    def _after_determiner(tokens: list[Token], i: int, text: str) -> bool:
        """Whether token i directly follows 'de', 'het', 'the' or 'a' (then it is no name)."""
        if i == 0 or tokens[i].sent_start:
            return False
        prev = tokens[i - 1]
        return (
            not prev.is_cap
            and prev.low in {"de", "het", "een", "the", "a", "an", "this", "deze", "dit"}
            and not text[prev.end : tokens[i].start].strip()
        )

    def _is_name_token(self, tokens: list[Token], i: int, text: str) -> bool:
        """Decide from the name lists and the capitalisation whether one token is a name."""
        token = tokens[i]
        low = token.low
        if low in load("keep") or _is_role(low) or len(low) < 2:
            return False
        if "-" in low and token.is_cap and low not in self._first:
            # 'Emma-Louise', 'Jan-Willem': a double first name of capitalised listed parts.
            parts = low.split("-")
            return (
                parts[0] in self._first
                and parts[0] not in load("ambiguous")
                and all(p and p not in load("keep") for p in parts)
                and all(w[:1].isupper() for w in token.text.split("-"))
            )
        if low not in self._first and not (token.is_cap and low in load("cap_only_first")):
            # Afghan and Pakistani names such as 'Habibullah' share this ending.
            return low.endswith("ullah") and len(low) > 6
        if _word_before_number(token, text):
            return False
        if token.is_cap:
            if low in load("cap_not_name"):
                return False
            if low in load("places"):
                # 'Wessel, 17 jaar' is a boy; 'uit Wessel' the village of that name.
                return self._name_follows(tokens, i, text) or self._role_before(tokens, i, text)
            opener_risk = token.ambiguous or token.stop or low in load("cap_only_first")
            if token.sent_start and opener_risk:
                return self._name_follows(tokens, i, text)
            if token.text.isupper() and len(token.text) > 1:
                return False  # acronyms such as 'IS' or 'JEP'
            if self._after_determiner(tokens, i, text):
                return self._name_follows(tokens, i, text)  # 'op de Dam', 'the Hope campaign'
            return not (low in load("stop") and not token.sent_start and low in load("interfix"))
        if token.stop or low in load("cap_only_first"):
            return False
        if token.ambiguous:
            return self._name_follows(tokens, i, text) or self._role_before(tokens, i, text)
        return True

    def _name_follows(self, tokens: list[Token], i: int, text: str) -> bool:
        """An ambiguous word is a name when a speech verb, an age or a surname follows."""
        if _AGE_AFTER_RE.match(text, tokens[i].end):
            return True
        if i + 1 >= len(tokens) or text[tokens[i].end : tokens[i + 1].start].strip():
            return False
        nxt = tokens[i + 1]
        if i > 0 and tokens[i - 1].low in load("determiners") and not tokens[i].sent_start:
            return False
        if nxt.low in load("speech_verbs") and nxt.low not in {"is", "was", "has", "had"}:
            return True
        if (
            tokens[i].is_cap
            and not nxt.is_cap
            and nxt.low in load("interfix")
            and i + 2 < len(tokens)
            and tokens[i + 2].is_cap
            and not text[nxt.end : tokens[i + 2].start].strip()
        ):
            third = tokens[i + 2].low
            return third not in load("keep") and third not in load("places")  # 'Mark de Groot'
        return (
            tokens[i].is_cap
            and nxt.is_cap
            and nxt.low in load("surnames")
            and nxt.low not in load("keep")
            and not nxt.sent_start
        )

    @staticmethod
    def _role_before(tokens: list[Token], i: int, text: str) -> bool:
        """Whether a role, kinship word or title stands right before token i."""
        if i == 0:
            return False
        prev = tokens[i - 1]
        gap = text[prev.end : tokens[i].start]
        if gap.strip(" .,"):
            return False
        return _is_role(prev.low) or prev.low in load("naming_cues")

    def _cued_name(self, tokens: list[Token], i: int, text: str) -> bool:
        """Names not in any list, recognised from what stands around them."""
        token = tokens[i]
        low = token.low
        if token.stop or low in load("keep") or _is_role(low) or len(low) < 2:
            return False
        if low in load("cap_not_name"):
            return False
        if token.text.isupper() and len(token.text) > 1:
            return False
        if "-" in token.text and not all(p[:1].isupper() for p in token.text.split("-")):
            return False  # 'Wolven-groeten' is a compound word, not a double name
        if (
            token.sent_start
            and token.is_cap
            and i + 1 < len(tokens)
            and tokens[i + 1].low in load("reporting_verbs")
            and not text[token.end : tokens[i + 1].start].strip()
            and low not in load("sentence_openers")
            and low not in load("places")
            and not low.endswith(("s", "en"))  # plural subjects: 'Teachers said', 'Ouders zeggen'
        ):
            return True  # 'Peterson said', 'Bakkali vertelde'
        if i == 0:
            return False
        prev = tokens[i - 1]
        gap = text[prev.end : token.start].strip()
        listed = token.is_cap or low in self._first or low in load("surnames")
        context = {t.low for t in tokens[max(0, i - 4) : i - 1]}
        named = prev.low in load("naming_cues") and gap in ("", ":")
        if named and not context & load("non_person_nouns"):
            return listed
        if prev.low in load("titles") and gap in ("", "."):
            return listed
        if (
            gap == ""
            and prev.low in {"is", "was"}
            and i >= 2
            and tokens[i - 2].low
            in {
                "naam",
                "name",
                "voornaam",
                "firstname",
            }
        ):
            return listed
        nxt_gap = text[token.end : tokens[i + 1].start].strip() if i + 1 < len(tokens) else "x"
        if (
            token.is_cap
            and not token.sent_start
            and nxt_gap == ""
            and tokens[i + 1].low in load("speech_verbs")
            and tokens[i + 1].low
            not in {"is", "was", "has", "had", "heeft", "gaat", "zit", "komt"}
            and low not in load("places")
            and prev.low not in load("determiners")
        ):
            return True  # 'dat Rigillio zei', 'when Brayden told'
        if prev.low in load("role_cues") and gap == "":
            # 'leerling Jamal' or 'my student tyler'; a lowercase word needs the name list.
            if token.is_cap and not token.sent_start:
                return low not in load("places") or low in self._first
            return low in self._first and low not in load("cap_only_first")
        if (
            prev.low in _OF
            and gap == ""
            and i >= 2
            and tokens[i - 2].low in load("role_cues")
            and not text[tokens[i - 2].end : prev.start].strip()
        ):
            # 'the mum of bo', 'de moeder van Luuk'
            return (token.is_cap and low not in load("places")) or (
                low in self._first and not token.ambiguous
            )
        # 'dat het Jonas Brink is': a listed first name and a surname after a determiner.
        return (
            prev.low in load("determiners")
            and token.is_cap
            and low in self._first
            and not token.ambiguous
            and i + 1 < len(tokens)
            and tokens[i + 1].is_cap
            and not text[token.end : tokens[i + 1].start].strip()
            and tokens[i + 1].low not in load("keep")
            and tokens[i + 1].low not in load("places")
        )

    def _surname_extension(
        self, tokens: list[Token], i: int, text: str, after_title: bool = False
    ) -> list[int]:
        """Indices of surname tokens and particles that continue the name at token i."""
        found: list[int] = []
        j = i + 1
        first_is_cap = tokens[i].is_cap
        # After a title the dot of an abbreviation ('dhr. Jansen') may stand in between.
        allowed_gap = ("", ".") if after_title else ("",)
        while (
            j < len(tokens)
            and "\n" not in text[tokens[j - 1].end : tokens[j].start]
            and text[tokens[j - 1].end : tokens[j].start].strip()
            in (allowed_gap if j == i + 1 else ("",))
        ):
            token = tokens[j]
            if (
                token.low in load("keep")
                or _is_role(token.low)
                or self._keep_phrase_re.match(text, token.start)
            ):
                break
            if token.low in load("interfix"):
                k = j
                while k < len(tokens) and tokens[k].low in load("interfix") and k - j < 3:
                    if k > j and text[tokens[k - 1].end : tokens[k].start].strip():
                        break
                    k += 1
                if k < len(tokens) and not text[tokens[k - 1].end : tokens[k].start].strip():
                    last = tokens[k]
                    if (last.is_cap and last.low not in load("keep")) or (
                        last.low in load("surnames") and not last.ambiguous
                    ):
                        found.extend(range(j, k + 1))
                        j = k + 1
                        continue
                break
            plain = token.low not in load("stop") and token.low not in load("cap_not_name")
            if token.is_cap and plain:
                if token.text.isupper() and len(token.text) > 1:
                    break
                found.append(j)
                j += 1
                continue
            if (
                not token.is_cap
                and not first_is_cap
                and token.low in load("surnames")
                and not token.ambiguous
                and token.low not in load("speech_verbs")
            ):
                found.append(j)
                j += 1
                continue
            break
        return found

    # -- allow-list ----------------------------------------------------------------------------

def _word_before_number(token: Token, text: str) -> bool:
    """'max 3 personen', 'Max. 5': an ambiguous word before a number is no name."""
    return (
        token.low in load("ambiguous")
        and re.match(r"\.?\s*\d", text[token.end : token.end + 4]) is not None
    )


def _is_role(word: str) -> bool:
    """Whether a folded word is a role or kinship word rather than a name."""
    return word in load("role_cues") or word in load("titles")

