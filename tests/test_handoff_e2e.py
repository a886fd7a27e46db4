"""End to end through the sandbox: intake, queue, a claim race, relay, transfer, close,
rating; out of hours; timeouts with a test clock; restart; forged and unauthorised attempts."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings
from bot.web import actions
from handlers.context import DeskContext
from handlers.expert import sweep
from tests.sandbox_client import DeskHarness, Message, Person


class Clock:
    """A settable clock for timeouts."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"office_hours": "always", "admin_ids": [3999]})


async def make_expert(harness: DeskHarness, user_id: int, name: str) -> Person:
    code = await harness.desk.experts.create_invite(name, ("signals", "onderwijs"), ("nl", "en"))
    expert = harness.person(user_id, name + "-telegram", "nl")
    await expert.send(f"/start inv_{code}")
    await expert.expect("Welkom in de expertpool")
    await expert.send("/beschikbaar")
    await expert.expect("beschikbaar")
    return expert


async def queued_user(harness: DeskHarness, user_id: int, question: str,
                      answered: Callable[[Message], bool] | str = "Onderwerp:") -> Person:
    """A professional asks `question`, waits for the answer (`answered`), asks for an expert
    and goes through the intake."""
    user = harness.person(user_id, "Sanne Jansen", "nl")
    await user.onboard("professional")
    await user.send(question)
    answer = await user.expect(answered)
    await user.press_label(answer, "Spreek een expert")
    sector = await user.expect("1/3")
    await user.press_label(sector, "Onderwijs")
    await user.expect_edit(sector, "2/3")
    await user.press_label(await user.current(sector), "Utrecht")
    await user.expect_edit(sector, "3/3")
    await user.press_label(await user.current(sector), "Ja")
    return user


async def test_full_handoff_conversation(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 3001, "Anna")
    bram = await make_expert(harness, 3002, "Bram")
    user = await queued_user(harness, 3003, "Een leerling deelt steeds IS-filmpjes, hoe duid ik "
                                            "die signalen?")
    status = await user.expect("wachtrij")
    assert "nummer 1" in status["text"]
    cards = [await anna.expect("Nieuwe vraag"), await bram.expect("Nieuwe vraag")]
    assert "Utrecht" in cards[0]["text"] and "Sanne" not in cards[0]["text"]
    # Both press Claim at the same moment: exactly one wins.
    await asyncio.gather(anna.press_label(cards[0], "Oppakken"),
                         bram.press_label(cards[1], "Oppakken"))
    winner_card = None
    for _ in range(100):
        for person in (anna, bram):
            for message in await person.inbox(person.seen):
                if "📋" in message["text"]:
                    winner_card = (person, message)
        if winner_card:
            break
        await asyncio.sleep(0.05)
    assert winner_card is not None
    winner, card = winner_card
    loser = bram if winner is anna else anna
    await asyncio.sleep(0.3)
    assert "al opgepakt" in (harness.sandbox.users[loser.user_id].last_callback_answer or "")
    assert "Vraagsteller" in card["text"] and "IS-filmpjes" in card["text"]
    assert "Sanne" not in card["text"] and "3003" not in card["text"]
    winner.seen = card["message_id"]
    greeting = await user.expect("leest nu je vraag")
    assert ("Anna" if winner is anna else "Bram") in greeting["text"]

    await winner.send("Hallo, vertel eens wat meer?")
    relayed = await user.expect("Hallo, vertel eens")
    assert relayed["text"].startswith("💬 " + ("Anna" if winner is anna else "Bram"))
    await user.send("Het gaat om een jongen van 15 in de brugklas.")
    to_expert = await winner.expect("jongen van 15")
    assert to_expert["text"].startswith("💬 Vraagsteller")
    assert "Sanne" not in to_expert["text"]

    # Transfer to the other expert with a note; the user is not greeted again.
    await winner.send("/overdragen graag verder met jeugdhulp")
    choice = await winner.expect("overdragen aan")
    await winner.press_label(choice, loser.first_name.split("-")[0])
    new_card = await loser.expect("📋")
    assert "graag verder met jeugdhulp" in new_card["text"]
    await user.expect("neemt je gesprek over")

    await loser.send("/sluit")
    outcome = await loser.expect("uitkomst")
    await loser.press_label(outcome, "Advies gegeven")
    await loser.expect_edit(outcome, "samenvatting")
    await loser.send("Docent geadviseerd over signalen en gesprek met ouders.")
    await loser.expect("Afgesloten")
    rating = await user.expect("1 = helemaal niet")
    await user.press(rating, next(b["data"] for b in rating["buttons"][0] if b["text"] == "4"))
    await user.expect_edit(rating, "4 van de 5")
    await user.send("Fijn en snel geholpen")
    await user.expect("opmerking is opgeslagen")

    entries = [fields for _, fields in await harness.desk.redis.xrange("vb:summaries")]
    jobs = [f for f in entries if "kind" not in f]
    ratings = [f for f in entries if f.get("kind") == "rating"]
    assert len(jobs) == 1
    assert {"rating": "4"}.items() <= ratings[0].items()
    assert ratings[1]["comment"] == "Fijn en snel geholpen"
    job = jobs[0]
    assert job["outcome"] == "advice" and job["sector"] == "onderwijs"
    # The asker's Telegram id appears nowhere (as a number of its own: a timestamp such as
    # 1796605442.3003335 may contain the digits by chance).
    assert not re.search(r"(?<![\d.])3003(?![\d.])", str(job)) and "user_id" not in job
    assert await harness.desk.handoff.ticket_of_user(3003) is None


async def test_queue_positions_and_stop(harness: DeskHarness) -> None:
    first = await queued_user(harness, 3101, "hoe praat ik met een jongen over complotten")
    await first.expect("nummer 1")
    second = await queued_user(harness, 3102, "mag ik informatie delen met school")
    await second.expect("nummer 2")
    await first.send("/stop")
    await first.expect("ingetrokken")
    await second.expect("nu nummer 1")
    await second.send("nog een detail voor de expert")
    await second.expect("Toegevoegd aan je vraag")
    ticket = await harness.desk.handoff.ticket_of_user(3102)
    assert ticket is not None
    texts = [m["text"] for m in await harness.desk.handoff.transcript(ticket.id)]
    assert "nog een detail voor de expert" in texts


async def test_out_of_hours_keeps_question_and_names_return(settings: Settings,
                                                            redis: object) -> None:
    saturday = datetime(2026, 11, 21, 14, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()
    closed = settings.model_copy(update={"office_hours": "mon-fri 09:00-17:00"})
    async with DeskHarness.start(closed, Clock(saturday)) as harness:
        user = await queued_user(harness, 3201, "hoe ga ik het gesprek aan over extreemrechts")
        # Told before the intake, in words, with the advice line ...
        intake = next(m for m in user.messages if "1/3" in m["text"])
        assert "niet bereikbaar" in intake["text"] and "maandag om 9:00" in intake["text"]
        assert "070-333 45 58" in intake["text"]
        # ... and again with the queue position.
        status = await user.expect("wachtrij")
        assert "maandag om 9:00" in status["text"] and "nummer 1" in status["text"]
        assert await harness.desk.handoff.ticket_of_user(3201) is not None


async def test_timeouts_with_a_test_clock(settings: Settings, redis: object) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0,
                           tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp())
    async with DeskHarness.start(settings, clock) as harness:
        admin = harness.person(3999, "Coordinator", "nl")
        await admin.send("/help")
        await admin.expect("Vraagbaak")
        user = await queued_user(harness, 3301, "Een leerling trekt zich terug en praat over "
                                                "radicale ideeën, welke signalen?")
        await user.expect("wachtrij")
        ctx = DeskContext(harness.app)
        clock.now += 16 * 60
        await sweep(ctx)
        await admin.expect("meer dan 15 minuten")
        anna = await make_expert(harness, 3302, "Anna")
        await anna.send("/volgende")
        await anna.expect("📋")
        clock.now += 11 * 60
        await sweep(ctx)
        await anna.expect("Herinnering")
        clock.now += 10 * 60
        await sweep(ctx)
        await anna.expect("terug in de wachtrij")
        await user.expect("vooraan in de wachtrij")
        ticket = await harness.desk.handoff.ticket_of_user(3301)
        assert ticket is not None and ticket.state == "queued"
        await anna.send("/volgende")
        await anna.expect("📋")
        await anna.send("Ik ben er")
        await user.expect("Ik ben er")
        clock.now += 25 * 3600
        await sweep(ctx)
        await user.expect("lang stil")
        await anna.expect("lange stilte")
        assert await harness.desk.handoff.ticket_of_user(3301) is None


async def test_restart_mid_conversation_loses_nothing(settings: Settings, redis: object) -> None:
    async with DeskHarness.start(settings) as harness:
        anna = await make_expert(harness, 3401, "Anna")
        user = await queued_user(harness, 3402, "hoe praat ik met ouders over radicalisering")
        await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
        await anna.expect("📋")
        await user.expect("leest nu je vraag")
    async with DeskHarness.start(settings) as again:
        user2 = again.person(3402, "Sanne", "nl")
        anna2 = again.person(3401, "Anna", "nl")
        await anna2.send("/beschikbaar")
        await anna2.expect("beschikbaar")
        await user2.send("Ben je er nog?")
        await anna2.expect("Ben je er nog?")
        await anna2.send("Ja, ik ben er nog.")
        await user2.expect("Ja, ik ben er nog.")


async def test_forged_and_unauthorised_attempts_are_refused(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 3501, "Anna")
    user = await queued_user(harness, 3502, "signalen van radicalisering bij een meisje")
    await user.expect("wachtrij")
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    await anna.expect("📋")
    ticket = await harness.desk.handoff.ticket_of_user(3502)
    assert ticket is not None
    # A non-expert tries expert commands and a forged Claim on their own message.
    intruder = harness.person(3503, "Eve", "nl")
    await intruder.send("/wachtrij")
    await intruder.expect("alleen voor experts")
    await intruder.send("/start")
    welcome = await intruder.expect("Welkom")
    await harness.forge_callback(3503, welcome["message_id"], f"cl:{ticket.id}")
    await asyncio.sleep(0.3)
    assert "alleen voor experts" in (harness.sandbox.users[3503].last_callback_answer or "")
    await harness.forge_callback(3503, welcome["message_id"], f"cx:{ticket.id}:advice")
    await asyncio.sleep(0.3)
    assert "alleen voor experts" in (harness.sandbox.users[3503].last_callback_answer or "")
    # A second expert forges close/transfer/pick buttons for Anna's ticket.
    bram = await make_expert(harness, 3504, "Bram")
    await bram.send("/wachtrij")
    msg = await bram.expect("wachtrij is leeg")
    for data in (f"cx:{ticket.id}:advice", f"tr:{ticket.id}:q", f"pk:{ticket.id}",
                 f"cl:{ticket.id}"):
        await harness.forge_callback(3504, msg["message_id"], data)
        await asyncio.sleep(0.2)
        answer = harness.sandbox.users[3504].last_callback_answer or ""
        assert "niet van jou" in answer or "al opgepakt" in answer
    await bram.send("mag ik meelezen?")
    await bram.expect("geen open gesprek")
    still = await harness.desk.handoff.get(ticket.id)
    assert still is not None and still.expert_id == 3501 and still.state == "active"
    await anna.send("Hoi")
    await user.expect("Hoi")


async def test_expert_with_two_conversations_picks_and_sends_a_snippet(
    harness: DeskHarness,
) -> None:
    anna = await make_expert(harness, 3601, "Anna")
    first = await queued_user(harness, 3602, "hoe praat ik met een jongen over complotten")
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    card_one = await anna.expect("📋")
    second = await queued_user(harness, 3603, "mag ik zorgen delen met de wijkagent")
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    card_two = await anna.expect("📋")
    name_one = card_one["text"].split("\n")[0].removeprefix("📋 ")
    name_two = card_two["text"].split("\n")[0].removeprefix("📋 ")
    assert name_one != name_two
    # The latest claim is active; messages go there, labelled replies come back.
    await anna.send("Vertel eens over de situatie.")
    await second.expect("Vertel eens over de situatie.")
    receipt = await anna.expect("→")
    assert receipt["text"] == f"→ {name_two}"
    await first.send("Hij gelooft dat alles gestuurd wordt.")
    incoming = await anna.expect("alles gestuurd")
    assert incoming["text"].startswith(f"💬 {name_one}")
    # /gesprekken lists both and switches.
    await anna.send("/gesprekken")
    listing = await anna.expect("2 gesprekken")
    await anna.press_label(listing, name_one)
    await anna.expect_edit(listing, name_one)
    await anna.send("/snippet")
    choices = await anna.expect("Welke handvatten")
    assert choices["buttons"]
    await anna.press(choices, choices["buttons"][0][0]["data"])
    await anna.expect("Verstuurd naar " + name_one)
    snippet = await first.expect("deelt deze handvatten")
    assert snippet["text"].startswith("💬 Anna")
    assert not [m for m in await second.quiet(0.3) if "handvatten" in m["text"]]
    await anna.send("/snippet bestaat-niet")
    await anna.expect("Onbekende snippet-id")


async def test_media_in_a_conversation_is_not_forwarded(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 3701, "Anna")
    user = await queued_user(harness, 3702, "signalen bij een jongen die zich terugtrekt")
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    await anna.expect("📋")
    await harness.post("/sandbox/api/send_media", {"user_id": 3702, "kind": "photo"})
    await user.expect("geven we in een gesprek niet door")
    assert all("[photo]" not in m["text"] for m in await anna.quiet(0.5))


async def test_odd_update_shapes_raise_nothing(harness: DeskHarness,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A button without its message (inline mode), a message without a sender, and tampered
    ids with non-ASCII digits: answered or dropped, never an unhandled error."""
    anna = await make_expert(harness, 3801, "Anna")
    user = await queued_user(harness, 3802, "signalen bij een jongen die zich terugtrekt")
    await anna.press_label(await anna.expect("Nieuwe vraag"), "Oppakken")
    card = await anna.expect("📋")
    ticket = await harness.desk.handoff.ticket_of_user(3802)
    assert ticket is not None
    sandbox = harness.sandbox
    sandbox._callbacks["inline-1"] = 3801
    await sandbox._push({"callback_query": {
        "id": "inline-1", "from": sandbox.users[3801].as_user(), "chat_instance": "x",
        "inline_message_id": "abc", "data": f"cx:{ticket.id}:advice"}})
    await sandbox._push({"message": {"message_id": 99, "date": 0, "text": "hallo",
                                     "chat": {"id": -100123, "type": "supergroup"}}})
    for data in (f"tr:{ticket.id}:²", f"tr:{ticket.id}:٣٨٠٣", "flow:²", "flow:٣",
                 f"rt:{ticket.id}:٥", "cx:" + "x" * 64 + ":advice"):
        await harness.forge_callback(3801, card["message_id"], data)
    await anna.send("nog steeds hier")
    await user.expect("nog steeds hier")
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    still = await harness.desk.handoff.get(ticket.id)
    assert still is not None and still.state == "active" and still.expert_id == 3801


async def test_menus_follow_the_place_at_the_desk(harness: DeskHarness) -> None:
    """Experts get the expert commands in their menu, in their language; leaving the pool
    gives the asker's menu back; a coordinator's adds inviting and the dashboard."""
    def menu(user_id: int) -> list[str]:
        return [c["command"] for c in harness.sandbox.users[user_id].commands or []]

    anna = await make_expert(harness, 3001, "Anna")
    assert {"volgende", "gesprekken", "dashboard"} <= set(menu(3001))
    assert "onderwerpen" not in menu(3001) and "uitnodigen" not in menu(3001)
    await anna.send("/taal")
    choice = await anna.expect("Kies je taal")
    await anna.press(choice, "lang:en")
    await anna.expect_edit(choice, "Language set")
    assert {"next", "chats", "dashboard"} <= set(menu(3001))
    # Removed from the dashboard (through the outbox, which the bot delivers).
    assert await actions.remove_expert(harness.desk, 3999, 3001) == 0
    for _ in range(250):
        if "topics" in menu(3001):
            break
        await asyncio.sleep(0.04)
    assert "topics" in menu(3001) and "next" not in menu(3001)
    coordinator = harness.person(3999, "Coördinator", "nl")
    await coordinator.send("/start")
    await coordinator.expect("Welkom")
    assert {"uitnodigen", "dashboard", "onderwerpen"} <= set(menu(3999))
