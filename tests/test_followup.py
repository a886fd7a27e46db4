"""Follow-up questions keep their context: a short continuation within minutes is triaged with
the question before it; a self-contained question, or one after the window, starts fresh."""

from __future__ import annotations

import time

import pytest

from bot.settings import Settings
from knowledge.followup import FOLLOW_UP_SECONDS, MAX_CONTEXT, is_follow_up, with_context
from tests.sandbox_client import DeskHarness, Message
from tests.test_handoff_e2e import Clock

NOW = 1_764_000_000.0
CASE = ("Een leerling van 15 gelooft dat de maanlanding nep was en dat vaccins ons chippen. "
        "Hoe ga ik daarmee om?")
# The cards about a young person who believes conspiracy stories (any of them answers CASE)
# name them in their Dutch title.
CONSPIRACY_WORDS = ("complot", "chemtrails")


def on_conspiracy(title: str) -> bool:
    return any(word in title.lower() for word in CONSPIRACY_WORDS)


@pytest.mark.parametrize("text", [
    "en als zijn ouders dat ook geloven?",
    "what if he's only 12?",
    "hoe zeg ik dat dan?",
    "Maar als hij niet wil praten?",
    "hij is pas twaalf",
    "and if she refuses to talk",
])
def test_continuations_within_minutes_are_follow_ups(text: str) -> None:
    assert is_follow_up(text, NOW - 60, NOW)
    assert not is_follow_up(text, NOW - FOLLOW_UP_SECONDS - 1, NOW)  # too late
    assert not is_follow_up(text, None, NOW)  # nothing asked before


@pytest.mark.parametrize("text", [
    "Wat zijn signalen van radicalisering bij een meisje van 16?",
    "Mag ik informatie over een leerling delen met de wijkagent?",
    "Where can I report online hate against Muslims?",
    "Een collega van mij is bedreigd door de broer van een leerling nadat ze een gesprek "
    "voerde over zijn uitspraken over joden, hoe steun ik haar?",  # long: its own case
    "ok",
])
def test_self_contained_questions_start_fresh(text: str) -> None:
    assert not is_follow_up(text, NOW - 30, NOW)


def test_the_carried_case_is_bounded() -> None:
    case = with_context("x" * 5000, "en als hij 12 is?")
    assert len(case) == MAX_CONTEXT and case.endswith("en als hij 12 is?")


def first_title(message: Message) -> str:
    """The answer's card title (the line after the topic)."""
    return message["text"].split("\n")[1]


async def test_a_follow_up_stays_on_the_case_and_a_late_one_does_not(
    settings: Settings, redis: object,
) -> None:
    clock = Clock(time.time())
    # Six questions in a few seconds: flood control off, it is not what this test is about.
    calm = settings.model_copy(update={"flood_messages": 0})
    async with DeskHarness.start(calm, clock) as harness:
        user = harness.person(5001, "Sanne", "nl")
        await user.onboard("professional")
        await user.send(CASE)
        first = await user.expect("Onderwerp:")
        assert on_conspiracy(first_title(first)), first_title(first)
        # Within minutes: read with the case, so still about the conspiracy belief.
        clock.now += 90
        await user.send("en als zijn ouders dat ook geloven?")
        follow = await user.expect("Onderwerp:")
        assert on_conspiracy(first_title(follow)), first_title(follow)
        # A chain of follow-ups keeps the case.
        clock.now += 60
        await user.send("en als zijn ouders dat ook geloven?")
        chained = first_title(await user.expect("Onderwerp:"))
        assert on_conspiracy(chained), chained
        # Long after, the same words are a new question about parents.
        clock.now += FOLLOW_UP_SECONDS + 60
        await user.send("en als zijn ouders dat ook geloven?")
        late = await user.expect("Onderwerp:")
        assert not on_conspiracy(first_title(late)), first_title(late)
        # A new, self-contained question starts fresh even right after.
        clock.now += 30
        await user.send("A student wrote 1488 on his notebook and draws a black sun, what "
                        "does that mean?")
        fresh = await user.expect("Topic:")
        assert "88" in first_title(fresh), first_title(fresh)
        # What an expert would see of this session is the questions as typed, not the case.
        asked = await harness.desk.asked.questions(5001)
        assert asked[1] == "en als zijn ouders dat ook geloven?"
