"""Tokenising and stemming Dutch and English text for matching."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")
_STEMMERS = {"nl": snowballstemmer.stemmer("dutch"), "en": snowballstemmer.stemmer("english")}

# Function words carry no topic; IDF would mute most of them, but short questions are noisy.
STOPWORDS = {
    "nl": frozenset(["de", "het", "een", "en", "of", "maar", "dat", "die", "dit", "deze", "wat", "wie", "waar", "hoe", "wanneer", "waarom", "ik", "je", "jij", "u", "hij", "zij", "ze", "we", "wij", "jullie", "mijn", "mij", "me", "zijn", "haar", "hun", "ons", "onze", "is", "ben", "bent", "was", "waren", "wordt", "worden", "werd", "heb", "hebt", "heeft", "hebben", "had", "kan", "kun", "kunt", "kunnen", "zou", "zouden", "moet", "moeten", "mag", "mogen", "wil", "wilt", "willen", "ga", "gaat", "gaan", "doe", "doet", "doen", "in", "op", "aan", "van", "voor", "met", "bij", "naar", "om", "over", "uit", "tot", "door", "als", "dan", "ook", "nog", "al", "niet", "geen", "wel", "er", "hier", "daar", "nu", "zo", "heel", "erg", "veel", "meer", "echt", "even", "toch", "gewoon", "maar", "eens", "iets", "iemand", "alles", "niets", "n", "t", "m", "z", "zn", "mn", "d", "r"]),
    "en": frozenset(["the", "a", "an", "and", "or", "but", "that", "this", "these", "those", "what", "who", "where", "how", "when", "why", "i", "you", "he", "she", "they", "we", "it", "my", "me", "his", "her", "their", "our", "is", "am", "are", "was", "were", "be", "been", "being", "have", "has", "had", "do", "does", "did", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "in", "on", "at", "of", "for", "with", "by", "to", "from", "about", "as", "than", "then", "also", "not", "no", "yes", "there", "here", "now", "so", "very", "really", "just", "some", "any", "anything", "someone", "something", "all", "nothing", "it's", "i'm", "im", "dont", "don't"]),
}


def fold(text: str) -> str:
    """Lowercase and strip accents, so 'Syrië' and 'syrie' match."""
    text = unicodedata.normalize("NFKD", text.lower())
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
    stop = STOPWORDS[lang]
    return [stem(w, lang) for w in words(text) if keep_stopwords or w not in stop]
