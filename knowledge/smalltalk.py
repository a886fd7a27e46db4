"""Recognises messages that are not a question: greetings, thanks, 'ok' and emoji-only text.

Short word lists in Dutch and English, and Unicode categories for emoji; a message counts as
small talk only when *every* word is small talk, so "hoi, ik maak me zorgen over een leerling"
stays a question."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from knowledge.text import fold

MAX_WORDS = 6  # longer messages are treated as questions whatever words they use


class SmallTalk(StrEnum):
    """What kind of non-question a message is."""

    GREETING = "greeting"
    THANKS = "thanks"
    ACKNOWLEDGEMENT = "acknowledgement"  # "ok", "👍", "😡😡🙈", "?": nothing to answer yet


_GREETINGS = """
    hoi hoihoi hallo hallootjes hai hey hee heey hi hello hiya howdy yo dag daag goedemorgen
    goedemiddag goedenavond goedendag morgen middag avond goede good morning afternoon evening
    salaam salam selam moi moin
"""
_THANKS = """
    dank danku dankje dankjewel dankuwel bedankt thanks thank thx tnx thnx ty merci cheers
    ta
"""
_ACKNOWLEDGEMENTS = """
    ok oke okay okee okido k kk prima goed helder duidelijk top super fijn mooi ja jep jup nee
    yes yep yeah no nope cool great nice alright fine sure gotcha
"""
# Words that only ever accompany the ones above ("dank je wel", "hi there", "thank you so much").
_FILLERS = """
    je jij u wel heel erg hartelijk hartstikke veel voor de het allemaal iedereen daar nogmaals
    alvast zeker there all everyone you very much so lot a again well oh ah hmm got it
"""
GREETINGS, THANKS, ACKNOWLEDGEMENTS, FILLERS = (
    frozenset(words.split()) for words in (_GREETINGS, _THANKS, _ACKNOWLEDGEMENTS, _FILLERS))
_WORD = re.compile(r"[a-z]+")


def _no_words(text: str) -> bool:
    """True when the text has no letters or digits at all (emoji, symbols, punctuation)."""
    return not any(unicodedata.category(ch)[0] in "LN" for ch in text)


def classify(text: str) -> SmallTalk | None:
    """The kind of small talk this message is, or None when it may be a real question."""
    stripped = text.strip()
    if not stripped:
        return SmallTalk.ACKNOWLEDGEMENT
    if _no_words(stripped):
        return SmallTalk.ACKNOWLEDGEMENT
    folded = fold(stripped)
    # Everything that is not a word must be punctuation, space or emoji, not e.g. digits.
    rest = _WORD.sub("", folded)
    if not _no_words(rest):
        return None
    tokens = _WORD.findall(folded)
    if not tokens or len(tokens) > MAX_WORDS:
        return None
    known = GREETINGS | THANKS | ACKNOWLEDGEMENTS
    if not all(t in known or t in FILLERS for t in tokens):
        return None
    if any(t in THANKS for t in tokens):
        return SmallTalk.THANKS
    if any(t in GREETINGS for t in tokens):
        return SmallTalk.GREETING
    if any(t in ACKNOWLEDGEMENTS for t in tokens):
        return SmallTalk.ACKNOWLEDGEMENT
    return None
