"""Learning from what the desk could not answer: consent asked once, only a yes keeps the
question (anonymised, nothing linking back), and an assigned question teaches the ranker."""

from __future__ import annotations

import pytest

from handoff.database import migrate
from handoff.models import KnowledgeRevision
from knowledge.gaps import ASSIGNED, GapStore, GapWriter
from tests.sandbox_client import DeskHarness
from tests.test_knowledge_editor import until_live
from tests.web_harness import ADMIN

pytestmark = pytest.mark.timeout(600)  # a publication retrains the triage (test_knowledge_editor)
OUTSIDE = ("Ik ben Jan de Vries, penningmeester van VV Oranje Boys, bereikbaar op "
           "06-12345678. Hoe vraag ik bij de gemeente subsidie aan voor een nieuwe kantine?")
QUESTION = ("Mag ik mijn zorgen over een leerling delen met de wijkagent, of geldt mijn "
            "beroepsgeheim?")


async def gaps_written(h: DeskHarness, anonymiser) -> GapStore:
    writer = GapWriter(h.desk.redis, h.desk.editorial.store.engine, anonymiser, "test")
    await writer.run_once()
    return GapStore(h.desk.editorial.store.engine)


async def test_a_yes_keeps_the_question_anonymised_and_a_no_keeps_nothing(
        settings, redis, anonymiser) -> None:
    async with DeskHarness.start(settings) as h:
        await migrate(h.desk.editorial.store.engine)
        jan = h.person(3201, "Jan")
        await jan.onboard("professional")
        await jan.send(OUTSIDE)
        await jan.expect("kant-en-klaar")
        ask = await jan.expect("Mag Platform JEP deze vraag")
        assert "180 dagen" in ask["text"] and "/vergeet" in ask["text"]
        await jan.press_label(ask, "Ja")
        done = await jan.expect_edit(ask, "anoniem bewaard")
        assert not done["buttons"]
        # The same press again (a double tap, a forged retry) keeps nothing twice.
        await h.forge_callback(3201, ask["message_id"], ask["buttons"][0][0]["data"])
        store = await gaps_written(h, anonymiser)
        rows = await store.listing()
        assert len(rows) == 1
        row = rows[0]
        assert "Jan de Vries" not in row.text and "06-12345678" not in row.text
        assert "subsidie" in row.text and row.reason == "no_card" and row.role == "professional"
        assert row.week.weekday() == 0  # the week, not the day
        assert await h.desk.redis.xlen("vb:gaps") == 0

        piet = h.person(3202, "Piet")
        await piet.onboard("professional")
        await piet.send(QUESTION)
        answer = await piet.expect("Onderwerp:")
        await piet.press_label(answer, "Dit helpt niet")
        ask = await piet.expect("Mag Platform JEP deze vraag")
        await piet.press_label(ask, "Nee")
        await piet.expect_edit(ask, "niets van deze vraag bewaard")
        assert len(await (await gaps_written(h, anonymiser)).listing()) == 1
        # Asked once: the same question answered again does not ask again.
        await piet.send(QUESTION)
        again = await piet.expect("Onderwerp:")
        await piet.press_label(again, "Dit helpt niet")
        await piet.expect("Jammer dat dit niet hielp")
        assert not [m for m in await piet.quiet(1.0) if "Mag Platform JEP" in m["text"]]


async def test_an_assigned_question_becomes_an_example_and_changes_the_ranking(
        settings, redis, anonymiser) -> None:
    async with DeskHarness.start(settings.model_copy(update={"admin_ids": [ADMIN]})) as h:
        desk = h.desk
        await migrate(desk.editorial.store.engine)
        piet = h.person(3203, "Piet")
        await piet.onboard("professional")
        await piet.send(QUESTION)
        answer = await piet.expect("Onderwerp:")
        first = (await desk.asked.last(3203)).snippets[0]
        await piet.press_label(answer, "Dit helpt niet")
        ask = await piet.expect("Mag Platform JEP deze vraag")
        await piet.press_label(ask, "Ja")
        await piet.expect_edit(ask, "anoniem bewaard")
        store = await gaps_written(h, anonymiser)
        gap = (await store.listing())[0]
        assert gap.shown == first
        # The coordinator says another card would have been right.
        right = next(s.id for s in desk.kb.by_topic[desk.kb.snippets[first].topic]
                     if s.id != first)
        assert await store.settle(gap.id, ASSIGNED, right)
        outcome = await desk.editorial.add_example(ADMIN, right, gap.lang, gap.text, desk.kb)
        assert isinstance(outcome, KnowledgeRevision) and outcome.state == "published"
        await until_live(desk, 1)
        assert desk.kb.snippet_examples[right]["nl"][-1] == gap.text
        await piet.send(QUESTION.replace(", of", " of"))
        await piet.expect("Onderwerp:")
        assert (await desk.asked.last(3203)).snippets[0] == right
        quality = await store.quality()
        assert quality[0].assigned == 1 and quality[0].first_right == 0


async def test_votes_count_once_per_card_received(harness: DeskHarness) -> None:
    sanne = harness.person(3204, "Sanne")
    await sanne.onboard("professional")
    await sanne.send(QUESTION)
    answer = await sanne.expect("Onderwerp:")
    shown = (await harness.desk.asked.last(3204)).snippets[0]
    never = next(s for s in harness.desk.kb.snippets if s != shown)
    await sanne.press_label(answer, "Dit helpt")
    await sanne.expect_edit(answer, "Onderwerp:")
    for _ in range(40):  # a tampered client repeats the press, and votes for other cards
        await harness.forge_callback(3204, answer["message_id"], f"fb:1:{shown}")
        await harness.forge_callback(3204, answer["message_id"], f"fb:0:{never}")
    await sanne.quiet(1.0)
    counts = await harness.desk.feedback.counts()
    assert counts.get(shown) == (1, 0)
    assert never not in counts
