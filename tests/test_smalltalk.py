"""Small talk is recognised without swallowing questions; the desk's snippet preferences."""

from __future__ import annotations

import dataclasses

import pytest

from knowledge.base import KnowledgeBase
from knowledge.preference import ACUTE_NOW, places_for, put_first
from knowledge.smalltalk import SmallTalk, classify
from knowledge.topics import Topic


@pytest.mark.parametrize(("text", "kind"), [
    ("hoi", SmallTalk.GREETING), ("Hallo!", SmallTalk.GREETING),
    ("goedemorgen", SmallTalk.GREETING), ("Goede morgen allemaal", SmallTalk.GREETING),
    ("hi", SmallTalk.GREETING), ("hi there 👋", SmallTalk.GREETING),
    ("dank je", SmallTalk.THANKS), ("Dank je wel!", SmallTalk.THANKS),
    ("bedankt", SmallTalk.THANKS), ("thanks", SmallTalk.THANKS),
    ("thank you so much 🙏", SmallTalk.THANKS), ("hoi, dank je", SmallTalk.THANKS),
    ("😡😡🙈", SmallTalk.ACKNOWLEDGEMENT), ("👍", SmallTalk.ACKNOWLEDGEMENT),
    ("👍🏽", SmallTalk.ACKNOWLEDGEMENT), ("❤️", SmallTalk.ACKNOWLEDGEMENT),
    ("ok", SmallTalk.ACKNOWLEDGEMENT), ("Oké", SmallTalk.ACKNOWLEDGEMENT),
    ("?", SmallTalk.ACKNOWLEDGEMENT), ("   ", SmallTalk.ACKNOWLEDGEMENT),
])
def test_small_talk_is_recognised(text: str, kind: SmallTalk) -> None:
    assert classify(text) is kind


@pytest.mark.parametrize("text", [
    "hoi, ik maak me zorgen over een leerling",
    "hallo, wat is polarisatie?",
    "thanks, but what do I do if he refuses to talk?",
    "ok maar wat nu?",
    "dank je, en wat als de ouders boos worden?",
    "hoe gaat het",
    "112",
    "1488",
    "🙈 mijn leerling deelt IS-filmpjes",
    "hi hi hi hi hi hi hi",
])
def test_questions_are_not_small_talk(text: str) -> None:
    assert classify(text) is None



def test_acute_card_comes_first_when_urgent(kb: KnowledgeBase) -> None:
    ranked = kb.by_topic[Topic.SIGNALS][2:5]
    assert put_first(kb, ranked, Topic.SIGNALS, "professional", True)[0].id == ACUTE_NOW
    # A possible alarm answers the question first, "what to do now" right after it.
    possible = put_first(kb, ranked, Topic.SIGNALS, "professional", True, sure=False)
    assert [s.id for s in possible[:2]] == [ranked[0].id, ACUTE_NOW]
    assert len({s.id for s in possible}) == len(possible)
    assert [s.id for s in put_first(kb, ranked, Topic.SIGNALS, "professional", False)] == [
        s.id for s in ranked]


def test_without_an_alarm_the_acute_card_never_comes_first(kb: KnowledgeBase) -> None:
    # The ranking may put "what to do now" first for a question that only sounds like danger
    # (a child bullied for his weight); without the 112 block it must not be the answer.
    others = kb.by_topic[Topic.SIGNALS][2:4]
    ranked = [kb.snippets[ACUTE_NOW], *others]
    assert [s.id for s in put_first(kb, ranked, Topic.SIGNALS, "professional", False)] == [
        *(s.id for s in others), ACUTE_NOW]
    assert put_first(kb, ranked, Topic.SIGNALS, "volunteer", False)[0].id != ACUTE_NOW


def test_a_reassuring_card_is_never_shown_on_an_alarm(kb: KnowledgeBase) -> None:
    # "Using Telegram is not a red flag" after the 112 block would contradict it.
    first, *others = kb.by_topic[Topic.SIGNALS][2:5]
    calming = dataclasses.replace(first, reassures=True)
    ranked = [calming, *others]
    for sure in (True, False):
        shown = put_first(kb, ranked, Topic.SIGNALS, "professional", True, sure=sure)
        assert calming not in shown and shown[0].id == (ACUTE_NOW if sure else others[0].id)
    assert put_first(kb, ranked, Topic.SIGNALS, "volunteer", True)[0].id == ACUTE_NOW
    # Without an alarm it answers as ranked.
    assert put_first(kb, ranked, Topic.SIGNALS, "professional", False) == ranked


def test_without_the_acute_card_the_ranking_stands(kb: KnowledgeBase) -> None:
    snippets = {sid: s for sid, s in kb.snippets.items() if sid != ACUTE_NOW}
    bare = dataclasses.replace(kb, snippets=snippets)
    ranked = bare.by_topic[Topic.SIGNALS][:3]
    assert put_first(bare, ranked, Topic.SIGNALS, None, True) == ranked


def test_volunteer_card_of_the_topic_comes_first(kb: KnowledgeBase) -> None:
    professional = [s for s in kb.snippets.values() if s.audience.value == "professional"]
    both = [s for s in kb.by_topic[Topic.FAMILY] if s.audience.value == "both"]
    only_professional = [s for s in professional if s.topic is Topic.FAMILY][:3]
    first = put_first(kb, only_professional, Topic.FAMILY, "volunteer", False)
    assert first[0].audience.value == "volunteer" and first[1:] == only_professional
    # A card for everyone among the first three answers the question: it goes first.
    ranked = only_professional[:1] + both[:2]
    assert put_first(kb, ranked, Topic.FAMILY, "volunteer", False) == [
        both[0], only_professional[0], both[1]]
    assert put_first(kb, ranked, Topic.FAMILY, "professional", False) == ranked
    # A best card written for everyone answers the question: it stays first.
    assert put_first(kb, both[:2] + ranked[:1], Topic.FAMILY, "volunteer", False)[0] == both[0]
    # Even with a volunteer card on the same subject right behind it.
    volunteer = [s for s in kb.by_topic[Topic.FAMILY] if s.audience.value == "volunteer"]
    assert [s.id for s in put_first(kb, [both[0], volunteer[0]], Topic.FAMILY, "volunteer",
                                    False)] == [both[0].id, volunteer[0].id]


def test_volunteer_places_are_few_distinct_and_meant_for_them(kb: KnowledgeBase) -> None:
    places = places_for(kb, "volunteer")
    ids = [r.id for r in places]
    assert 1 <= len(ids) <= 4 and len(set(ids)) == len(ids)
    assert ids[0] == "advieslijn_jep" and "emergency_112" not in ids
    for referral in places:
        audience = (referral.audience["nl"] + referral.audience["en"]).lower()
        assert any(w in audience for w in ("vrijwillig", "ouders", "iedereen", "parents"))
    professional = [r.id for r in places_for(kb, "professional")]
    assert len(professional) == len(set(professional)) <= 6
