"""The lexical second opinion on the snippet ranking (knowledge.lexical)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from knowledge import ranking
from knowledge.base import KnowledgeBase
from knowledge.features import Tokens
from knowledge.lexical import LEXICAL_WEIGHT, CardIndex
from knowledge.triage import Triage

pytestmark = pytest.mark.timeout(120)


def _bonus(triage: Triage, text: str, lang: str) -> dict[str, float]:
    values = triage.cards.bonus(Tokens(text).stems(lang), lang)
    return {s.id: float(v) for s, v in zip(triage.ranker.snippets, values, strict=True)}


def test_the_card_whose_own_words_the_question_uses_gets_the_largest_bonus(
        triage: Triage) -> None:
    bonus = _bonus(triage, "de reclassering vraagt me hoe het met hem gaat", "nl")
    best = max(bonus, key=bonus.__getitem__)
    assert best == "information_sharing-probation-asks-youth-worker"
    assert bonus[best] == pytest.approx(LEXICAL_WEIGHT)
    assert all(0.0 <= v <= LEXICAL_WEIGHT for v in bonus.values())


def test_no_known_word_gives_no_bonus(triage: Triage) -> None:
    assert not np.any(triage.cards.bonus(Tokens("qwxz vbnm").stems("nl"), "nl"))
    assert not np.any(triage.cards.bonus([], "en"))


def test_a_close_call_goes_to_the_card_the_question_names(
        triage: Triage, monkeypatch: pytest.MonkeyPatch) -> None:
    # Turkish pupils always addressed about Erdogan: the learned ranker alone puts a card on
    # antisemitism first; the card on seeing the individual, not the group, whose own words the
    # question uses, wins with the lexical second opinion. (Earlier examples are now right
    # without it, as the cards and their examples grew: most recently homophobic remarks in a
    # team, after session 15's cards.) The short question's bonus for general cards
    # (knowledge.ranking.GENERAL_BONUS) would decide this one too: it is off here, so the
    # lexical opinion is what is tested.
    monkeypatch.setattr(ranking, "GENERAL_BONUS", 0.0)
    question = ("mijn turkse leerlingen worden steeds aangesproken op erdogan alsof ze allemaal "
                "hetzelfde denken")
    card = "conversation-individual"
    assert triage.triage(question, "nl").snippets[0] == card
    monkeypatch.setattr(triage.cards, "bonus", lambda stems, lang: np.zeros(triage.cards.size))
    assert triage.triage(question, "nl").snippets[0] != card


def test_an_older_snapshot_without_the_index_gets_one_on_loading(triage: Triage,
                                                                  kb: KnowledgeBase) -> None:
    state = triage.__getstate__()
    del state["cards"]
    old = Triage.__new__(Triage)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert isinstance(old.cards, CardIndex) and old.cards.size == len(kb.snippets)
    question = "wat betekent 88 op zijn etui?"
    assert old.triage(question, "nl").snippets == triage.triage(question, "nl").snippets
