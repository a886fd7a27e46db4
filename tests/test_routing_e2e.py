"""End to end through the sandbox: an expert's words reach exactly the asker they were meant
for, or nobody (and the expert is told why). Replies to a conversation the expert no longer
holds, a Claim pressed on an expired callback query, switching on claim, a receipt only for a
delivered relay, and double taps."""

from __future__ import annotations

import re

import pytest

from bot.settings import Settings
from tests.sandbox_client import DeskHarness, Message, Person
from tests.test_handoff_e2e import make_expert, queued_user

PSEUDONYM = re.compile(r"Vraagsteller \d+")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"office_hours": "always", "admin_ids": [4999]})


def asker_name(card: Message) -> str:
    """The pseudonym a card names on its first line."""
    found = PSEUDONYM.search(card["text"].split("\n")[0])
    assert found is not None, card["text"][:80]
    return found.group(0)


async def claim(expert: Person, needle: str = "Nieuwe vraag") -> Message:
    """Claim the question just announced; returns the card's last part (with the routing)."""
    await expert.press_label(await expert.expect(needle), "Oppakken")
    return await expert.expect(lambda m: "Typ om te antwoorden" in m["text"])


async def relayed_to_expert(expert: Person, asker: Person, text: str) -> Message:
    """The asker writes; the expert receives it as a relayed message."""
    await asker.send(text)
    return await expert.expect(text)


async def switch_to(expert: Person, listed: str, card: Message) -> None:
    """/gesprekken (listing `listed`), then the button of the asker `card` names."""
    await expert.send("/gesprekken")
    listing = await expert.expect(listed)
    await expert.press_label(listing, asker_name(card))
    await expert.expect_edit(listing, asker_name(card))


async def nothing_for(*people: Person) -> None:
    for person in people:
        assert not [m for m in await person.quiet(0.4) if m["text"].startswith("💬")], \
            person.user_id


async def test_reply_after_transfer_goes_nowhere_and_says_why(harness: DeskHarness) -> None:
    eva = await make_expert(harness, 4001, "Eva")
    bob = await make_expert(harness, 4002, "Bob")
    a = await queued_user(harness, 4003, "hoe praat ik met een jongen over complotten")
    await bob.expect("Nieuwe vraag")
    card_a = await claim(eva)
    b = await queued_user(harness, 4004, "mag ik zorgen delen met de wijkagent")
    await bob.expect("Nieuwe vraag")
    await claim(eva)
    m1 = await relayed_to_expert(eva, a, "De leerling zit in klas 4a.")
    # Eva transfers A's conversation to Bob ...
    await eva.send("/overdragen", reply_to=m1)
    await eva.expect("Typ een korte notitie")
    await eva.send("graag verder")
    choice = await eva.expect("overdragen aan")
    await eva.press_label(choice, "Bob")
    await bob.expect("📋")
    # ... and then answers A's old message with a Telegram reply.
    await eva.send("Antwoord voor de leerling: bel de wijkagent", reply_to=m1)
    refusal = await eva.expect("Niet verstuurd")
    assert asker_name(card_a) in refusal["text"] and "andere expert" in refusal["text"]
    await nothing_for(a, b)


async def test_reply_after_close_does_not_reach_the_active_asker(harness: DeskHarness) -> None:
    eva = await make_expert(harness, 4101, "Eva")
    a = await queued_user(harness, 4102, "hoe praat ik met een jongen over complotten")
    card_a = await claim(eva)
    b = await queued_user(harness, 4103, "mag ik zorgen delen met de wijkagent")
    await claim(eva)
    c = await queued_user(harness, 4104, "een meisje in mijn groep draagt ineens een nikab")
    card_c = await claim(eva)
    m_a = await relayed_to_expert(eva, a, "Hij is vijftien.")
    # Eva closes A's conversation (a reply names which), then switches to C.
    await switch_to(eva, "3 gesprekken", card_a)
    await eva.send("/sluit")
    outcome = await eva.expect("uitkomst")
    await eva.press_label(outcome, "Advies gegeven")
    await eva.expect_edit(outcome, "samenvatting")
    await eva.send("Advies over complotdenken.")
    closed = await eva.expect("Afgesloten")
    assert "/gesprekken" in closed["text"]  # two left, none active: she must choose
    await a.expect("1 = helemaal niet")
    await switch_to(eva, "2 gesprekken", card_c)
    # A reply to A's old message: not to C, and Eva is told A's conversation is closed.
    await eva.send("Bel de wijkagent", reply_to=m_a)
    refusal = await eva.expect("Niet verstuurd")
    assert asker_name(card_a) in refusal["text"] and "gesloten" in refusal["text"]
    await nothing_for(a, b, c)
    # A reply to a card (not an asker's message) asks which conversation is meant.
    await eva.send("Voor wie is dit?", reply_to=card_c)
    await eva.expect("geen bericht van een vraagsteller")
    await nothing_for(a, b, c)
    # A plain message goes to the announced active one, C.
    await eva.send("Hoe gaat het nu met haar?")
    await c.expect("Hoe gaat het nu met haar?")
    await nothing_for(a, b)


async def test_claim_on_an_expired_callback_query_is_carried_out_whole(
    harness: DeskHarness,
) -> None:
    eva = await make_expert(harness, 4201, "Eva")
    asker = await queued_user(harness, 4202, "hoe praat ik met een jongen over complotten")
    announce = await eva.expect("Nieuwe vraag")
    await eva.press_label(announce, "Oppakken", expired=True)
    card = await eva.expect("📋")
    assert "Sorry" not in card["text"]
    await asker.expect("leest nu je vraag")
    await eva.send("Vertel eens meer.")
    await asker.expect("Vertel eens meer.")
    assert not [m for m in eva.messages if "er ging bij ons iets mis" in m["text"]]


async def test_topic_button_on_an_expired_query_still_opens_the_topic(
    harness: DeskHarness,
) -> None:
    user = harness.person(4301, "Sanne", "nl")
    await user.onboard("professional")
    await user.send("/onderwerpen")
    topics = await user.expect(lambda m: bool(m["buttons"]))
    await user.press(topics, topics["buttons"][0][0]["data"], expired=True)
    page = await user.expect(lambda m: any("Alle onderwerpen" in b["text"]
                                           for row in m["buttons"] for b in row))
    assert "Sorry" not in page["text"]
    assert not [m for m in await user.quiet(0.4) if "iets mis" in m["text"]]


async def test_claiming_a_second_conversation_says_where_messages_go(
    harness: DeskHarness,
) -> None:
    eva = await make_expert(harness, 4401, "Eva")
    # An acute question: the 112 block, then the card with "Spreek een expert".
    urgent = await queued_user(
        harness, 4402, "Een leerling zegt dat hij morgen met een mes naar school komt om een "
        "docent neer te steken.", lambda m: any("Spreek een expert" in b["text"]
                                                for row in m["buttons"] for b in row))
    first = await claim(eva, "Urgente vraag")
    assert "Vanaf nu" not in first["text"]  # the only conversation: nothing to switch
    other = await queued_user(harness, 4403, "hoe praat ik met een jongen over complotten")
    second = await claim(eva)
    new_name, urgent_name = asker_name(second), asker_name(first)
    # The card itself says where the next plain message goes, and that the urgent one waits.
    assert f"Vanaf nu gaan je berichten naar {new_name}" in second["text"]
    assert f"Let op: {urgent_name} (urgent) wacht ook op je" in second["text"]
    assert "/gesprekken" in second["text"]
    await eva.send("Is iedereen nu veilig?")
    await other.expect("Is iedereen nu veilig?")
    assert not [m for m in await urgent.quiet(0.4) if "veilig" in m["text"]]


async def test_receipt_only_for_a_delivered_relay(harness: DeskHarness) -> None:
    eva = await make_expert(harness, 4501, "Eva")
    first = await queued_user(harness, 4502, "hoe praat ik met een jongen over complotten")
    await claim(eva)
    second = await queued_user(harness, 4503, "mag ik zorgen delen met de wijkagent")
    card = await claim(eva)
    await eva.send("Eerste bericht")
    await second.expect("Eerste bericht")
    assert (await eva.expect("→"))["text"] == f"→ {asker_name(card)}"
    # Blocked without the my_chat_member update reaching the desk: only the 403 tells.
    harness.sandbox.users[second.user_id].blocked = True
    await eva.send("Tweede bericht")
    await eva.expect("kon niet worden afgeleverd")
    assert not [m for m in await eva.quiet(0.5) if m["text"].startswith("→")]
    assert not [m for m in await first.quiet(0.1) if "Tweede" in m["text"]]


async def test_double_tap_on_role_and_language_buttons_is_quiet(harness: DeskHarness) -> None:
    user = harness.person(4601, "Sanne", "nl")
    await user.send("/start")
    roles = await user.expect("Wie ben je")
    label = next(b for row in roles["buttons"] for b in row if "professional" in b["text"])
    # Two taps before the first is handled: the second edit would change nothing.
    await user.press(roles, label["data"])
    await user.press(roles, label["data"])
    await user.expect("Typ je vraag")
    await user.send("/taal")
    langs = await user.expect(lambda m: bool(m["buttons"]))
    english = next(b for row in langs["buttons"] for b in row if "English" in b["text"])
    await user.press(langs, english["data"])
    await user.press(langs, english["data"])
    await user.expect_edit(langs, "English")
    assert not [m for m in await user.quiet(0.6) if "iets mis" in m["text"]
                or "went wrong" in m["text"]]
