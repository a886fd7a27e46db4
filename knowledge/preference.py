"""Which snippet comes first for this user: the acute-danger card when a message is urgent,
and the topic's volunteer card for volunteers. Kept apart from the ranking in knowledge.triage,
which decides relevance; this only applies the desk's preferences on top of it."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from knowledge.base import Audience, KnowledgeBase, Referral, Snippet
from knowledge.text import fold
from knowledge.topics import Topic

if TYPE_CHECKING:
    from knowledge.triage import TriageResult

ACUTE_NOW = "signals-acute-now"  # what to do now, shown right after the 112 block


def put_first(kb: KnowledgeBase, ranked: list[Snippet], top: Topic, role: str | None,
              urgent: bool, sure: bool = True) -> list[Snippet]:
    """`ranked` reordered for the user; snippets missing from the knowledge are skipped.
    Acute (`urgent`): "what to do now" first, or second after the best answer to the
    question itself when the alarm is only possible (not `sure`). Without an alarm the
    "what to do now" card never comes first: it tells people to call 112, which only an alarm
    may do (the ranking can still pick it for a question that merely sounds like danger).
    A card that reassures ("this is not a red flag") is left out on an alarm of either kind:
    after the 112 block it would contradict it."""
    if urgent:
        ranked = [s for s in ranked if not s.reassures]
    if not urgent and any(s.id == ACUTE_NOW for s in ranked):
        rest = put_first(kb, [s for s in ranked if s.id != ACUTE_NOW], top, role, False)
        return [*rest, kb.snippets[ACUTE_NOW]] if ACUTE_NOW in kb.snippets else rest
    front: list[Snippet] = []
    if urgent and not sure and ACUTE_NOW in kb.snippets:
        rest = [s for s in put_first(kb, ranked, top, role, False) if s.id != ACUTE_NOW]
        return [*rest[:1], kb.snippets[ACUTE_NOW], *rest[1:]]
    if urgent and ACUTE_NOW in kb.snippets:
        front.append(kb.snippets[ACUTE_NOW])
    if role == Audience.VOLUNTEER and ranked and ranked[0].audience is Audience.PROFESSIONAL:
        # The best card is written for professionals. First comes, in this order: a card
        # for volunteers the ranking put in its first two places on the best card's own
        # subject (its primary topic); else the best of the first three that is not for
        # professionals only (it answers the question, for everyone); else the question's
        # topic's own volunteer card, even when relevance ranked it low. A best card for
        # everyone stays first: it answers the question itself (with many specific cards,
        # often more closely than a general volunteer card), and the ranking already moved
        # volunteer cards up.
        best = ranked[0]
        for_volunteers = [s for s in ranked[:2] if s.audience is Audience.VOLUNTEER
                          and s.topic is best.topic]
        for_everyone = [s for s in ranked[:3] if s.audience is not Audience.PROFESSIONAL]
        # The topic's own volunteer card is its first (the general one; the cards for
        # particular volunteer situations come after it in the knowledge).
        general = [s for s in kb.by_topic[top] if s.audience is Audience.VOLUNTEER]
        front.extend((for_volunteers or for_everyone or general)[:1])
    ids = {s.id for s in front}
    return front + [s for s in ranked if s.id not in ids]


# When the ranker's best card leads the next by less than this (its log-scale score), the
# desk could hardly choose between them: both are sent in full, the second as "this may also
# fit". About half of the practice questions. Chosen on the twenty-third to twenty-fifth
# practice sets with their questions kept out of the ranker's cases (271 covered, calm
# questions; every answer graded blind with and without the second card): at 4 it was
# shown on 138, good 15 more (24 more points, 3 answers worse); always (271) good 16 more,
# at 2 (79) 9 more. On the held-out twenty-sixth set, both versions in one blind round:
# professionals 27 -> 34 good of 44, volunteers 9 -> 12 of 17, none worse
# (tests/data/practice_two_cards_s19.yaml).
CLOSE_SECOND = 4.0


def close_second(result: TriageResult, ordered: list[Snippet],
                 covered: bool) -> Snippet | None:
    """The card to send in full after the first of `ordered` (the desk's order for this
    asker), or None: only for a calm question the knowledge covers, and only when the
    ranking scored the two within CLOSE_SECOND of each other (a card the order put first
    for a volunteer, unscored among the best, is never a close call)."""
    if result.urgent or not covered or len(ordered) < 2:
        return None
    score = dict(zip(result.snippets, result.scores, strict=True))
    first, second = ordered[0].id, ordered[1].id
    if first not in score or second not in score:
        return None
    return ordered[1] if score[first] - score[second] < CLOSE_SECOND else None


EMERGENCY = "emergency_112"  # always shown on its own line, never counted as a place
PLACES_VOLUNTEER = 4  # volunteers need a few places; professionals get a longer list
PLACES_OTHERS = 6
# A referral is for volunteers when its own audience names them, parents or anyone.
_VOLUNTEER_AUDIENCE = re.compile(
    r"\b(?:vrijwilligers?|iedereen|ouders|familie\w*|volunteers?|anyone|parents|families)\b")


def places_for(kb: KnowledgeBase, role: str | None) -> list[Referral]:
    """The few organisations a user of this role needs, each once, most linked first.

    Links count from snippets that suit the role, double from snippets written for it; for
    volunteers a referral must also name volunteers, parents or anyone as its audience."""
    weight: Counter[str] = Counter()
    for snippet in kb.snippets.values():
        if not snippet.audience.suits(role):
            continue
        for ref in snippet.links:
            weight[ref] += 2 if role is not None and snippet.audience == role else 1
    order = list(kb.referrals)
    candidates = [kb.referrals[r] for r in weight if r in kb.referrals and r != EMERGENCY]
    if role == Audience.VOLUNTEER:
        candidates = [r for r in candidates if _VOLUNTEER_AUDIENCE.search(
            fold(r.audience["nl"] + " " + r.audience["en"]))]
    candidates.sort(key=lambda r: (-weight[r.id], order.index(r.id)))
    return candidates[:PLACES_VOLUNTEER if role == Audience.VOLUNTEER else PLACES_OTHERS]
