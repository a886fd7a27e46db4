"""End to end through the sandbox: what experts and coordinators read is exact (issue 23):
the handoff card's guidance, the conversation list, names, help and the summary's topic."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings
from tests.sandbox_client import DeskHarness, Message, Person
from tests.test_dashboard import add_summaries
from tests.test_handoff_e2e import Clock, make_expert, queued_user
from tests.web_harness import ADMIN, Web

COORDINATOR = 3999


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"office_hours": "always",
                                       "admin_ids": [COORDINATOR]})


def _buttons(message: Message) -> list[dict[str, str]]:
    return [b for row in message["buttons"] for b in row]


async def _intake(user: Person, message: Message) -> None:
    """From a message with 'Talk to an expert' through the intake to the queue."""
    await user.press_label(message, "Spreek een expert")
    sector = await user.expect("1/3")
    await user.press_label(sector, "Onderwijs")
    await user.expect_edit(sector, "2/3")
    await user.press_label(await user.current(sector), "Utrecht")
    await user.expect_edit(sector, "3/3")
    await user.press_label(await user.current(sector), "Ja")
    await user.expect("wachtrij")


async def test_card_lists_the_guidance_received_in_order_with_votes(
    harness: DeskHarness,
) -> None:
    kb = harness.desk.kb
    anna = await make_expert(harness, 3001, "Anna")
    user = harness.person(3002, "Sanne", "nl")
    await user.onboard("professional")
    await user.send("Een leerling gelooft in complotverhalen over vaccins en de overheid, hoe "
                    "ga ik daarover in gesprek?")
    answer = await user.expect("Onderwerp:")
    first = next(b["data"] for b in _buttons(answer) if b["text"] == "Dit helpt")
    first_card = kb.resolve(first.removeprefix("fb:1:"))  # the button carries a key
    assert first_card is not None
    plus = [b for b in _buttons(answer) if b["text"].startswith("➕")]
    assert len(plus) == 2
    # The answer 'helps'; the asker opens the first extra card only and marks it 'does not
    # help'. The second extra card stays unpressed. (A chat's updates are handled in order.)
    await user.press(answer, first)
    await user.press(answer, plus[0]["data"])
    extra = await user.expect("Onderwerp:")
    await user.press_label(extra, "Dit helpt niet")
    await user.expect("niet hielp")
    await _intake(user, answer)

    await anna.send("/volgende")
    card = await anna.expect("📋")
    title = first_card.text("nl").title
    extra_title = kb.resolve(plus[0]["data"].removeprefix("sn:")).text("nl").title
    unpressed = kb.resolve(plus[1]["data"].removeprefix("sn:")).text("nl").title
    # A second card sent in full with the first (the ranking was close) counts as received,
    # without a vote.
    lead = "Misschien past dit ook bij jouw situatie:"
    after = answer["text"].split(lead, 1)[1] if lead in answer["text"] else ""
    heading = [line for line in after.splitlines() if line.strip()][:2]  # topic, title
    second = [f"2. {s.text('nl').title}\n" for s in kb.snippets.values()
              if s.text("nl").title in heading]
    assert len(second) == (1 if after else 0)
    assert ("Al getoonde handvatten, op volgorde:\n"
            f"1. {title} (door de vraagsteller gemarkeerd: helpt)\n" + "".join(second)
            + f"{2 + len(second)}. {extra_title} (door de vraagsteller gemarkeerd: helpt niet)\n"
            ) in card["text"]
    assert unpressed not in card["text"]


async def test_card_says_when_no_guidance_was_received(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 3011, "Anna")
    user = harness.person(3012, "Sanne", "nl")
    await user.onboard("professional")
    await user.send("/expert")
    start = await user.expect("1/3")
    await user.press_label(start, "Onderwijs")
    await user.expect_edit(start, "2/3")
    await user.press_label(await user.current(start), "Utrecht")
    await user.expect_edit(start, "3/3")
    await user.press_label(await user.current(start), "Ja")
    await user.expect("wachtrij")
    await anna.send("/volgende")
    card = await anna.expect("📋")
    assert "De vraagsteller heeft nog geen handvat ontvangen." in card["text"]


async def test_conversation_keeps_the_topic_of_the_question_handed_off(
    harness: DeskHarness,
) -> None:
    labels = {t.value: info.label["nl"] for t, info in harness.desk.kb.topics.items()}
    anna = await make_expert(harness, 3021, "Anna")
    user = harness.person(3022, "Sanne", "nl")
    await user.onboard("professional")
    await user.send("Een leerling deelt steeds IS-filmpjes in de klasgroep, hoe duid ik die "
                    "signalen?")
    answer = await user.expect("Onderwerp:")
    first = await harness.desk.asked.last(3022)
    await user.press_label(answer, "Spreek een expert")
    sector = await user.expect("1/3")
    # During the intake the asker asks something else (answered as a question).
    await user.send("Hoe betrek ik de ouders van deze leerling als bondgenoot?")
    await user.expect("Onderwerp:")
    second = await harness.desk.asked.last(3022)
    assert first is not None and second is not None and first.topic != second.topic
    await user.press_label(sector, "Onderwijs")
    await user.expect_edit(sector, "2/3")
    await user.press_label(await user.current(sector), "Utrecht")
    await user.expect_edit(sector, "3/3")
    await user.press_label(await user.current(sector), "Ja")
    await user.expect("wachtrij")

    await anna.send("/volgende")
    card = await anna.expect("📋")
    assert card["text"].split("\n")[1].startswith(f"{labels[first.topic]} · Onderwijs · Utrecht")
    await anna.send("/sluit")
    outcome = await anna.expect("uitkomst")
    await anna.press_label(outcome, "Advies gegeven")
    prompt = await anna.expect_edit(outcome, "samenvatting")
    # The topic handed off is offered to confirm (typing the summary does) or to change.
    assert prompt["text"].startswith(
        f"Onderwerp: {labels[first.topic]}. Klopt dat? Zo niet, kies hieronder het onderwerp "
        "waar dit gesprek over ging.\n\nTyp nu een korte samenvatting")
    assert f"✓ {labels[first.topic]}" in [b["text"] for b in _buttons(prompt)]
    await anna.send("Docent geadviseerd over de signalen.")
    await anna.expect("Afgesloten")
    jobs = [f for _, f in await harness.desk.redis.xrange("vb:summaries") if "kind" not in f]
    assert [job["topic"] for job in jobs] == [first.topic]


async def test_expert_changes_the_topic_when_closing(harness: DeskHarness) -> None:
    labels = {t.value: info.label["nl"] for t, info in harness.desk.kb.topics.items()}
    anna = await make_expert(harness, 3061, "Anna")
    user = await queued_user(harness, 3062, "Een leerling deelt steeds IS-filmpjes, hoe duid "
                                            "ik die signalen?")
    await user.expect("wachtrij")
    topic = (await harness.desk.handoff.ticket_of_user(3062)).topic  # type: ignore[union-attr]
    await anna.send("/volgende")
    await anna.expect("📋")
    await anna.send("/sluit")
    outcome = await anna.expect("uitkomst")
    await anna.press_label(outcome, "Vervolg nodig")
    prompt = await anna.expect_edit(outcome, "samenvatting")
    other = next(code for code in labels if code != topic)
    await anna.press_label(prompt, labels[other])
    changed = await anna.expect_edit(outcome, f"Onderwerp: {labels[other]}.")
    assert f"✓ {labels[other]}" in [b["text"] for b in _buttons(changed)]
    assert labels[topic] in [b["text"] for b in _buttons(changed)]
    await anna.send("Vervolggesprek met de mentor afgesproken.")
    await anna.expect("Afgesloten")
    jobs = [f for _, f in await harness.desk.redis.xrange("vb:summaries") if "kind" not in f]
    assert [(job["topic"], job["outcome"]) for job in jobs] == [(other, "followup")]
    # Once closed, the topic buttons change nothing.
    await anna.press_label(changed, labels[topic])
    await anna.quiet()
    assert harness.sandbox.users[3061].last_callback_answer == "Dit gesprek is afgelopen."
    assert (await harness.desk.handoff.get(jobs[0]["ticket_id"])).topic == other  # type: ignore[union-attr]


async def test_conversation_list_shows_the_state_of_each_held_conversation(
    settings: Settings, redis: object,
) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp())
    async with DeskHarness.start(settings, clock) as harness:
        labels = {t.value: info.label["nl"] for t, info in harness.desk.kb.topics.items()}
        anna = await make_expert(harness, 3031, "Anna")
        first = await queued_user(harness, 3032, "Een leerling deelt steeds IS-filmpjes, hoe "
                                                 "duid ik die signalen?")
        second = await queued_user(harness, 3033, "hoe praat ik met een jongen over complotten")
        await anna.send("/volgende")
        await anna.expect("📋")
        clock.now += 3 * 60
        await anna.send("/volgende")
        await anna.expect("📋")
        await first.send("Hij is vijftien.")
        await anna.expect("Hij is vijftien")
        clock.now += 7 * 60
        await second.send("/stop")
        await anna.expect("uitkomst")
        clock.now += 2 * 60
        await anna.send("/gesprekken")
        listing = await anna.expect("gesprek")
        held = await harness.desk.handoff.ticket_of_user(3032)
        ended = await harness.desk.handoff.get(
            (await harness.desk.handoff.ended_for_expert(3031))[0].id)
        assert held is not None and ended is not None
        asker = {t.id: f"Vraagsteller {harness.desk.pseudonyms.asker_number(t.id)}"
                 for t in (held, ended)}
        assert listing["text"] == (
            "Je hebt 1 gesprek.\n"
            f"▶️ {asker[held.id]} · {labels[held.topic]} · Onderwijs · Utrecht · "
            "van jou sinds 10:00 · laatste bericht van de vraagsteller 9 minuten geleden\n"
            "Beëindigd, wacht op je samenvatting (de uitkomstknoppen van het afsluitbericht):\n"
            f"• {asker[ended.id]} · {labels[ended.topic]} · Onderwijs · Utrecht · "
            "door de vraagsteller beëindigd om 10:10; wacht op je samenvatting")
        assert "wacht 1" not in listing["text"] and "wacht 0" not in listing["text"]


async def test_display_names_are_unique_in_the_pool(harness: DeskHarness) -> None:
    coordinator = harness.person(COORDINATOR, "Coordinator", "nl")
    await coordinator.send("/uitnodigen Marieke onderwijs")
    invite = await coordinator.expect("Eenmalige uitnodiging voor Marieke")
    code = invite["text"].rsplit("inv_", 1)[1]
    marieke = harness.person(3041, "Marieke", "nl")
    await marieke.send(f"/start inv_{code}")
    await marieke.expect("Welkom in de expertpool, Marieke.")
    # Another Marieke (any case, any spacing) is refused with a way out.
    await coordinator.send("/uitnodigen  marieke  jeugdhulp")
    refused = await coordinator.expect("marieke")
    assert refused["text"] == (
        "Er zit al een expert met de naam marieke in de pool. Vraagstellers moeten experts uit "
        "elkaar kunnen houden: kies een andere naam, bijvoorbeeld met een initiaal: "
        '/uitnodigen "marieke B."')
    await coordinator.send("/uitnodigen “Marieke B.” jeugdhulp")
    await coordinator.expect("Eenmalige uitnodiging voor Marieke B., 7 dagen geldig")
    # Two invites for one new name, both redeemed: the second joins under a free name.
    codes = []
    for _ in range(2):
        await coordinator.send("/uitnodigen Sam")
        codes.append((await coordinator.expect("uitnodiging voor Sam"))["text"]
                     .rsplit("inv_", 1)[1])
    for user_id, code in zip((3042, 3043), codes, strict=True):
        await harness.person(user_id, "Sam", "nl").send(f"/start inv_{code}")
    await harness.person(3043).expect("Welkom in de expertpool, Sam 2.")
    names = sorted(e.display_name for e in await harness.desk.experts.list())
    assert names == ["Marieke", "Sam", "Sam 2"]


EXPERT_HELP = """Jouw commando's als expert:
• /beschikbaar: {beschikbaar}
• /pauze: {pauze}
• /wachtrij: {wachtrij}
• /volgende: {volgende}
• /gesprekken: {gesprekken}
• /sluit: {sluit}
• /overdragen: {overdragen}
• /snippet: {snippet}
• /dashboard: {dashboard}
Gewone berichten gaan naar je actieve gesprek; beantwoord een bericht van een vraagsteller om \
die vraagsteller te antwoorden."""


async def test_experts_and_coordinators_get_their_own_help(harness: DeskHarness) -> None:
    from handlers.menu import EXPERT_COMMANDS
    from locales import translator

    tr = translator("nl")
    descriptions = {names[0]: tr._(names[2]) for names in EXPERT_COMMANDS}
    anna = await make_expert(harness, 3051, "Anna")
    await anna.send("/help")
    help_text = await anna.expect("commando's")
    assert help_text["text"] == EXPERT_HELP.format(**descriptions)
    assert "/onderwerpen" not in help_text["text"]

    coordinator = harness.person(COORDINATOR, "Coordinator", "nl")
    await coordinator.send("/help")
    coordinator_help = (await coordinator.expect("coördinator"))["text"]
    assert coordinator_help.startswith(
        "Jouw commando's als coördinator:\n"
        "• /uitnodigen: Een expert uitnodigen\n"
        "• /dashboard: Een inloglink voor het dashboard\n"
        "/uitnodigen NAAM [expertise…] maakt een eenmalige uitnodigingslink; een naam met een "
        "spatie zet je tussen aanhalingstekens. Het dashboard toont de wachtrij, de "
        "samenvattingen, de experts en de trends.\n\n")
    assert "/expert" in coordinator_help  # outside the pool they can ask as anyone can
    await coordinator.send("/start")
    await coordinator.expect("Wie ben je?")
    start = await coordinator.expect("coördinator")
    assert start["text"].startswith("Je bent coördinator van de Vraagbaak: je nodigt experts "
                                    "uit voor de pool en volgt de Vraagbaak op het dashboard.")
    assert "• /uitnodigen: Een expert uitnodigen" in start["text"]


async def test_dashboard_shows_codes_in_words(web: Web) -> None:
    await add_summaries(web, [{"sector": "ggz", "outcome": "followup", "province": "landelijk"}])
    await web.login(ADMIN)
    page = await (await web.client.get("/dashboard/summaries")).text()
    assert "· GGZ · Landelijk / anders · Vervolg nodig" in page
    assert "<p>1 samenvatting</p>" in page
    assert '<option value="followup">Vervolg nodig</option>' in page
    assert '<option value="ggz">GGZ</option>' in page
    assert ">ggz<" not in page and ">followup<" not in page and "· followup" not in page
    experts = await (await web.client.get("/dashboard/experts")).text()
    row = experts[experts.index("Marieke"):experts.index("</tr>", experts.index("Marieke"))]
    assert '<td data-label="Expertise">Onderwijs<br><small>Nederlands</small></td>' in row
    trends = await (await web.client.get("/dashboard/trends")).text()
    assert '<option value="volunteer">Vrijwilliger</option>' in trends
    assert '<option value="en">English</option>' in trends
