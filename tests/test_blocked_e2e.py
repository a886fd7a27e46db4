"""Someone blocks the bot, as on real Telegram: the sandbox sends `my_chat_member` and answers
every later send with 403; the desk ends what waits on that person."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from tests.sandbox_client import DeskHarness
from tests.test_handoff_e2e import make_expert, queued_user

ADMIN = 3999
QUESTION = "Een leerling deelt steeds IS-filmpjes, hoe duid ik die signalen?"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"office_hours": "always", "admin_ids": [ADMIN]})


async def test_waiting_asker_who_blocks_is_withdrawn_and_the_queue_moves_up(
        harness: DeskHarness) -> None:
    anna = await make_expert(harness, 3001, "Anna")
    first = await queued_user(harness, 3003, QUESTION)
    await first.expect("nummer 1")
    second = await queued_user(harness, 3004, QUESTION)
    await second.expect("nummer 2")
    await first.block()
    await second.expect("je bent nu nummer 1 in de wachtrij")
    await anna.send("/wachtrij")
    listing = await anna.expect("Wachtende vragen")
    assert "\n1. " in listing["text"] and "\n2. " not in listing["text"]
    assert await harness.desk.service.tickets.ticket_of_user(3003) is None


async def claimed(harness: DeskHarness) -> tuple:
    anna = await make_expert(harness, 3001, "Anna")
    user = await queued_user(harness, 3003, QUESTION)
    card = await anna.expect("Nieuwe vraag")
    await anna.press_label(card, "Oppakken")
    await anna.expect("📋")
    await user.expect("leest nu je vraag")
    return anna, user


async def test_asker_who_blocks_in_a_conversation_ends_it_as_by_stop(
        harness: DeskHarness) -> None:
    anna, user = await claimed(harness)
    await user.block()
    left = await anna.expect("heeft de chat verlaten")
    assert left["text"].startswith("Vraagsteller ")
    outcome = await anna.expect("uitkomst")
    await anna.press_label(outcome, "Advies gegeven")
    await anna.expect_edit(outcome, "samenvatting")
    await anna.send("Docent geadviseerd over signalen.")
    await anna.expect("Afgesloten")
    assert [m for m in await anna.quiet() if "uitkomst" in m["text"]] == []
    # Nothing was sent to the asker after the block (no rating prompt, no goodbye).
    assert harness.sandbox.violations == []
    assert [m["text"] for m in await user.inbox(user.seen)] == []


async def test_a_relay_refused_with_403_ends_the_conversation_too(
        harness: DeskHarness) -> None:
    anna, user = await claimed(harness)
    # Blocked without the desk hearing of it (a lost update): only the 403 tells.
    harness.sandbox.users[user.user_id].blocked = True
    await anna.send("Hallo, vertel eens wat meer?")
    await anna.expect("heeft de chat verlaten")
    await anna.expect("uitkomst")
    texts = [m["text"] for m in anna.messages]
    assert not any(t.startswith("→") for t in texts)  # no receipt claims delivery
    ticket = await harness.desk.service.tickets.ticket_of_user(user.user_id)
    assert ticket is None or ticket.state != "active"


async def test_expert_who_blocks_is_paused_and_the_conversation_requeued(
        harness: DeskHarness) -> None:
    admin = harness.person(ADMIN, "Coördinator", "nl")
    await admin.send("/start")
    await admin.expect("Wie ben je")
    anna, user = await claimed(harness)
    bram = await make_expert(harness, 3002, "Bram")
    await anna.block()
    await user.expect("Je expert is niet meer beschikbaar")
    told = await admin.expect("heeft Vraagbaak geblokkeerd")
    assert "Anna" in told["text"] and "1" in told["text"]
    await bram.expect("Nieuwe vraag")
    expert = await harness.desk.experts.get(anna.user_id)
    assert expert is not None and expert.available is False


async def test_unblocking_lets_the_asker_start_again(harness: DeskHarness) -> None:
    user = harness.person(3005, "Eva", "nl")
    await user.onboard("professional")
    await user.block()
    await user.block(False)
    await user.send("/start")
    await user.expect("Wie ben je")
