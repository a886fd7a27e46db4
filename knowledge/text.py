"""Tokenising and stemming Dutch and English text for matching."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")
_STEMMERS = {"nl": snowballstemmer.stemmer("dutch"), "en": snowballstemmer.stemmer("english")}

# Function words carry no topic; IDF would mute most of them, but short questions are noisy.
_NL_STOPWORDS = """
    aan al alles als ben bent bij d daar dan dat de deze die dit doe doen doet door echt een
    eens en er erg even ga gaan gaat geen gewoon haar had heb hebben hebt heeft heel het hier
    hij hoe hun iemand iets ik in is je jij jullie kan kun kunnen kunt m maar mag me meer met
    mij mijn mn moet moeten mogen n naar niet niets nog nu of om ons onze ook op over r t toch
    tot u uit van veel voor waar waarom wanneer waren was wat we wel werd wie wij wil willen
    wilt worden wordt z ze zij zijn zn zo zou zouden
"""
_EN_STOPWORDS = """
    a about all also am an and any anything are as at be been being but by can could did do
    does don't dont for from had has have he her here his how i i'm im in is it it's just may
    me might must my no not nothing now of on or our really shall she should so some someone
    something than that the their then there these they this those to very was we were what
    when where who why will with would yes you
"""
STOPWORDS = {"nl": frozenset(_NL_STOPWORDS.split()), "en": frozenset(_EN_STOPWORDS.split())}


def fold(text: str) -> str:
    """Lowercase and strip accents, so 'Syrië' and 'syrie' match."""
    text = text.lower()
    if text.isascii():  # most messages: nothing to strip, skip the per-character pass
        return text
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded word tokens of a text."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=200_000)
def stem(word: str, lang: str) -> str:
    """The snowball stem of one folded word."""
    return _STEMMERS[lang].stemWord(word)


def stems(text: str, lang: str, keep_stopwords: bool = False) -> list[str]:
    """Stems of the content words of a text."""
    return word_stems(words(text), lang, keep_stopwords)


def word_stems(tokens: list[str], lang: str, keep_stopwords: bool = False) -> list[str]:
    """Stems of the content words among already folded word tokens."""
    stop = STOPWORDS[lang]
    return [stem(w, lang) for w in tokens if keep_stopwords or w not in stop]
