"""Follow-up questions: a short message that continues the previous question ("en als zijn
ouders dat ook geloven?", "what if he's only 12?", "hoe zeg ik dat dan?") is triaged together
with it, so the answer stays on the case; a new, self-contained question starts fresh."""

from __future__ import annotations

import re

from knowledge.text import fold, words

# A follow-up comes within this many seconds of the question it continues.
FOLLOW_UP_SECONDS = 5 * 60
# Longer messages describe a situation of their own.
MAX_WORDS = 14
# How a message that leans on the previous one starts.
_CUES = re.compile(
    r"^(?:en|maar|of|dus|ook|stel|wat als|en als|maar als|ook als|wat nou als|hoe zeg ik|"
    r"hoe doe ik dat|hoe pak ik dat|wat moet ik dan|wat dan|en dan|and|but|or|so|also|"
    r"what if|and if|but if|even if|what about|how do i say|how do i do that|what then|"
    r"and then)\b")
# Words that point back at someone or something already named.
# (Only words that rarely open a question of its own: not "het", "dat", "zijn", "it".)
_BACK = frozenset({
    "hij", "zij", "ze", "hem", "haar", "daar", "daarover", "erover", "diegene", "he", "she",
    "him", "her", "his", "they", "them", "their"})
# The case a chain of follow-ups carries along, at most this long (the newest part kept).
MAX_CONTEXT = 1500


def is_follow_up(text: str, previous_at: float | None, now: float) -> bool:
    """Whether `text` continues the question asked at `previous_at` rather than starting
    a new one."""
    if previous_at is None or not 0 <= now - previous_at <= FOLLOW_UP_SECONDS:
        return False
    found = words(text)
    if not found or len(found) > MAX_WORDS:
        return False
    if _CUES.match(fold(text).lstrip(" .,-…")):
        return True
    # A short message that only makes sense with the earlier one: it points back.
    return len(found) <= 8 and any(w in _BACK for w in found)


def with_context(previous: str, text: str) -> str:
    """The text triage reads for a follow-up: the case, then the new question."""
    return f"{previous}\n{text}"[-MAX_CONTEXT:]
