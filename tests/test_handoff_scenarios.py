"""The handoff scenario matrix, end to end through the sandbox: who received what, and that
nothing reached anyone else."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings
from handlers.context import DeskContext
from handlers.expert import sweep
from tests.sandbox_client import DeskHarness, Message, Person
from tests.test_handoff_e2e import Clock, make_expert, queued_user

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"office_hours": "always", "admin_ids": [4999]})


def texts(messages: list[Message]) -> list[str]:
    return [m["text"] for m in messages]


async def claimed(expert: Person, user: Person) -> str:
    """The expert claims the user's announced question; returns the asker's pseudonym."""
    await expert.press_label(await expert.expect("Nieuwe vraag"), "Oppakken")
    card = await expert.expect("📋")
    await user.expect("leest nu je vraag")
    return card["text"].split("\n")[0].removeprefix("📋 ")


async def test_one_expert_three_conversations(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 4001, "Anna")
    users, announcements = [], []
    for i in range(3):
        users.append(await queued_user(harness, 4010 + i, f"vraag nummer {i} over signalen"))
        announcements.append(await anna.expect("Nieuwe vraag"))
    names = []
    for user, announcement in zip(users, announcements, strict=True):
        await anna.press_label(announcement, "Oppakken")
        names.append((await anna.expect("📋"))["text"].split("\n")[0].removeprefix("📋 "))
        await user.expect("leest nu je vraag")
    assert len(set(names)) == 3
    # 1. Via the active conversation (the latest claim): only user 2 gets it, with a receipt.
    await anna.send("Antwoord voor de derde")
    await users[2].expect("Antwoord voor de derde")
    assert (await anna.expect("→"))["text"] == f"→ {names[2]}"
    # 2. Via a switch with /gesprekken.
    await anna.send("/chats")
    listing = await anna.expect("3 gesprekken")
    await anna.press_label(listing, names[0])
    await anna.expect_edit(listing, names[0])
    await anna.send("Antwoord voor de eerste")
    await users[0].expect("Antwoord voor de eerste")
    # 3. Via reply-to: answering user 1's relayed message goes to user 1, whatever is active.
    await users[1].send("Een detail van de tweede")
    relayed = await anna.expect("Een detail van de tweede")
    assert relayed["text"].startswith(f"💬 {names[1]}")
    await anna.send("Reactie op de tweede", reply_to=relayed)
    await users[1].expect("Reactie op de tweede")
    assert (await anna.expect("→"))["text"] == f"→ {names[1]}"
    # Nothing reached the wrong person.
    everything = {u.user_id: texts(u.messages + await u.quiet(0.3)) for u in users}
    assert not any("Antwoord voor de derde" in t for t in everything[4010] + everything[4011])
    assert not any("Antwoord voor de eerste" in t for t in everything[4011] + everything[4012])
    assert not any("Reactie op de tweede" in t for t in everything[4010] + everything[4012])


async def test_close_by_expert_summary_is_never_relayed(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 4101, "Anna")
    user = await queued_user(harness, 4102, "hoe bespreek ik complotdenken in de klas")
    await claimed(anna, user)
    await anna.send("/sluit")
    outcome = await anna.expect("uitkomst")
    await anna.send("Samenvatting: docent havo 3")  # typed too early
    await anna.expect("Kies eerst de uitkomst")
    await anna.press_label(outcome, "Advies gegeven")
    await anna.expect_edit(outcome, "samenvatting")
    await anna.send("Samenvatting: docent havo 3, complotdenken besproken")
    await anna.expect("Afgesloten")
    rating = await user.expect("1 = helemaal niet")
    assert not [t for t in texts(user.messages) if "Samenvatting" in t]
    # The old outcome button replayed after closing: the real state, nothing changes.
    await harness.forge_callback(4101, outcome["message_id"], outcome["buttons"][0][0]["data"])
    await asyncio.sleep(0.3)
    assert "afgelopen" in (harness.sandbox.users[4101].last_callback_answer or "")
    await user.press(rating, next(b["data"] for b in rating["buttons"][0] if b["text"] == "5"))
    await user.expect_edit(rating, "5 van de 5")
    await harness.forge_callback(
        4102, rating["message_id"], next(b["data"] for b in rating["buttons"][0]
                                         if b["text"] == "1"))
    await asyncio.sleep(0.3)
    assert "al beoordeeld" in (harness.sandbox.users[4102].last_callback_answer or "")
    # A new question after the rating is answered as a question, not stored as a comment.
    await user.send("Hoe ga ik om met een leerling die aanslagen goedpraat in de klas?")
    await user.expect("Onderwerp:")
    ratings = [f for _, f in await harness.desk.redis.xrange("vb:summaries")
               if f.get("kind") == "rating"]
    assert [r.get("rating") for r in ratings] == ["5"] and not any("comment" in r
                                                                  for r in ratings)


async def test_close_by_asker(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 4201, "Anna")
    user = await queued_user(harness, 4202, "zorgen over een jongen die zich terugtrekt")
    name = await claimed(anna, user)
    await user.send("/stop")
    await user.expect("beëindigd")
    rating = await user.expect("1 = helemaal niet")
    await anna.expect(f"{name} heeft het gesprek beëindigd")
    outcome = await anna.expect("uitkomst")
    await user.press(rating, next(b["data"] for b in rating["buttons"][0] if b["text"] == "3"))
    await user.expect_edit(rating, "3 van de 5")
    await user.send("kort en duidelijk")
    await user.expect("opmerking is opgeslagen")
    await anna.press_label(outcome, "Doorverwezen")
    await anna.send("Verwezen naar het steunpunt")
    await anna.expect("Afgesloten")
    jobs = [f for _, f in await harness.desk.redis.xrange("vb:summaries")
            if "kind" not in f]
    assert len(jobs) == 1 and jobs[0]["outcome"] == "referred"
    assert not [t for t in texts(user.messages + await user.quiet(0.3)) if "steunpunt" in t]


async def test_close_by_timeout_and_stale_buttons(settings: Settings, redis: object) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp())
    async with DeskHarness.start(settings, clock) as harness:
        anna = await make_expert(harness, 4301, "Anna")
        bram = await make_expert(harness, 4303, "Bram")
        user = await queued_user(harness, 4302,
                                 "signalen van radicalisering bij een meisje van 16")
        announce_bram = await bram.expect("Nieuwe vraag")
        await claimed(anna, user)
        # Anna picks an outcome and goes silent; the sweep requeues; Bram claims.
        await anna.send("/sluit")
        outcome = await anna.expect("uitkomst")
        await anna.press_label(outcome, "Advies gegeven")
        await anna.expect_edit(outcome, "samenvatting")
        clock.now += 21 * 60
        await sweep(DeskContext(harness.app))
        await anna.expect("terug in de wachtrij")
        await bram.press_label(await bram.expect("Nieuwe vraag"), "Oppakken")
        await bram.expect("📋")
        # Anna types her summary now: Bram's conversation is untouched, nothing is relayed.
        await anna.send("mijn late samenvatting")
        await anna.expect("geen open gesprek")
        await bram.send("Ik neem het over")
        await user.expect("Ik neem het over")
        assert not [t for t in texts(user.messages) if "late samenvatting" in t]
        # Bram's old Claim button for the same question: already his.
        await bram.press_label(announce_bram, "Oppakken")
        await asyncio.sleep(0.3)
        assert "al van jou" in (harness.sandbox.users[4303].last_callback_answer or "")
        # Silence: the desk closes and a summary marked as such is queued.
        clock.now += 25 * 3600
        await sweep(DeskContext(harness.app))
        await user.expect("lang stil")
        await bram.expect("lange stilte")
        jobs = [f for _, f in await harness.desk.redis.xrange("vb:summaries")
                if "kind" not in f]
        assert [j["outcome"] for j in jobs] == ["idle"]


async def test_transfer_with_note(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 4401, "Anna")
    bram = await make_expert(harness, 4403, "Bram")
    user = await queued_user(harness, 4402, "hoe deel ik zorgen met de wijkagent")
    await bram.expect("Nieuwe vraag")
    await claimed(anna, user)
    await user.send("Het gaat om een jongen van 15")
    await anna.expect("jongen van 15")
    await anna.send("/overdragen")
    await anna.expect("korte notitie")
    await anna.send("Graag verder met iemand van jeugdhulp")  # the note, not relayed
    choice = await anna.expect("overdragen aan")
    await anna.press_label(choice, "Bram")
    card = await bram.expect("📋")
    assert "Overgedragen door Anna" in card["text"]
    assert "Graag verder met iemand van jeugdhulp" in card["text"]
    assert "jongen van 15" in card["text"] and "zorgen met de wijkagent" in card["text"]
    told = await user.expect("neemt je gesprek over")
    assert "Bram" in told["text"] and "alles" not in told["text"]
    assert not [t for t in texts(user.messages) if "jeugdhulp" in t]
    await bram.send("Hallo, ik ben Bram")
    await user.expect("Hallo, ik ben Bram")
    # Anna's old transfer button again: the conversation is no longer hers.
    data = next(b["data"] for row in choice["buttons"] for b in row if "Bram" in b["text"])
    await harness.forge_callback(4401, choice["message_id"], data)
    await asyncio.sleep(0.3)
    assert "niet van jou" in (harness.sandbox.users[4401].last_callback_answer or "")


async def test_no_expert_available_is_said_before_the_intake(harness: DeskHarness) -> None:
    user = harness.person(4501, "Sanne", "nl")
    await user.onboard("professional")
    await user.send("/expert")
    first = await user.expect("1/3")
    assert "geen expert aan het werk" in first["text"]
    assert "070-333 45 58" in first["text"]


async def test_volunteer_intake_asks_for_the_kind_of_organisation(harness: DeskHarness) -> None:
    user = harness.person(4601, "Sanne", "nl")
    await user.onboard("vrijwilliger")
    await user.send("/expert")
    first = await user.expect("1/3")
    labels = [b["text"] for row in first["buttons"] for b in row]
    assert "Sportclub" in labels and "Onderwijs" not in labels


async def test_long_messages_arrive_whole_in_parts(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 4701, "Anna")
    long_question = "Lange beschrijving <b>met</b> & tekens. " * 120  # ~4,700 characters
    user = await queued_user(harness, 4702, long_question[:3000])
    await claimed(anna, user)
    await user.send(long_question[:4096])
    parts = [await anna.expect("💬"), await anna.expect("💬")]
    joined = "".join(p["text"].split(": ", 1)[1] for p in parts)
    assert joined.replace(" ", "") == long_question[:4096].replace(" ", "")
