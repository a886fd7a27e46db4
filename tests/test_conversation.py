"""End to end: the conversation around the answer (acute next steps, false alarms, small talk,
volunteers, deep links, repeated presses)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from handlers.once import first_press
from tests.sandbox_client import DeskHarness, Message, Person

pytestmark = pytest.mark.timeout(60)


async def _with_role(harness: DeskHarness, user_id: int, lang: str, role: str) -> Person:
    person = harness.person(user_id, "Sanne", lang)
    await person.send("/start")
    welcome = await person.expect(lambda m: bool(m["buttons"]))
    await person.press(welcome, f"role:{role}")
    await person.expect("/")
    return person


def _labels(message: Message) -> list[str]:
    return [b["text"] for row in message["buttons"] for b in row]


async def test_acute_message_is_followed_by_what_to_do_now(harness: DeskHarness) -> None:
    sanne = await _with_role(harness, 5001, "nl", "professional")
    await sanne.send("Een leerling zegt dat hij morgen zijn docent gaat neersteken, hij heeft "
                     "een mes in zijn tas.")
    first = await sanne.expect(lambda m: True)
    assert "Bel direct 112" in first["text"]
    second = await sanne.expect(lambda m: True)
    assert "Acuut gevaar: wat doe je nu?" in second["text"]
    assert "Wat maakt een jongere weerbaar" not in second["text"]
    assert not second["buttons"]  # the buttons go under the card on the situation
    # Then the card on the situation itself (a threat with a weapon), in full.
    third = await sanne.expect(lambda m: True)
    assert "Acuut gevaar" not in third["text"] and "Volgende stap" in third["text"]
    assert "Dit helpt" in _labels(third)
    last = await harness.desk.asked.last(5001)
    assert last is not None and last.urgent and last.snippets[0] == "signals-acute-now"
    situation = harness.desk.kb.snippets[last.snippets[1]]
    assert situation.text("nl").title in third["text"]


async def test_acute_message_in_english_gets_what_to_do_now(harness: DeskHarness) -> None:
    tom = await _with_role(harness, 5002, "en", "volunteer")
    await tom.send("my student says he will shoot his classmates tomorrow, he has his "
                   "father's gun")
    assert "Call 112" in (await tom.expect(lambda m: True))["text"]
    assert "Acute danger: what to do now" in (await tom.expect(lambda m: True))["text"]


@pytest.mark.parametrize("text", [
    "meisje van 17 heeft al haar vriendinnen laten vallen",
    "ze trekt zich terug en praat niet meer met haar vriendinnen",
    "hoe ga ik morgen in de les om met vragen over de aanslag",
])
async def test_withdrawal_and_news_questions_get_no_112_block(harness: DeskHarness,
                                                              text: str) -> None:
    sanne = await _with_role(harness, 5003, "nl", "professional")
    await sanne.send(text)
    first = await sanne.expect(lambda m: True)
    assert "Bel direct 112" not in first["text"]
    # A card, or (a vague message) the honest "no ready-made guidance" answer or a card with a
    # word that it may not fit (its fit score lies on the threshold: "ze trekt zich terug ..."
    # went from -5.91 to -6.03 with session 17's cards, against -6.0): never 112.
    assert first["text"].startswith(("Onderwerp:", "Hier heb ik geen kant-en-klaar handvat",
                                     "Dit handvat past misschien niet precies"))
    # The question is remembered once every reply has gone out (with no card, the consent
    # question comes after the answer): wait for it rather than race it.
    for _ in range(100):
        last = await harness.desk.asked.last(5003)
        if last is not None:
            break
        await asyncio.sleep(0.1)
    assert last is not None and not last.urgent


@pytest.mark.parametrize(("lang", "text", "reply"), [
    ("nl", "hoi", "Hoi! Ik ben de Vraagbaak"),
    ("nl", "hallo", "Hoi! Ik ben de Vraagbaak"),
    ("nl", "goedemorgen", "Hoi! Ik ben de Vraagbaak"),
    ("nl", "dank je", "Graag gedaan"),
    ("nl", "bedankt", "Graag gedaan"),
    ("nl", "😡😡🙈", "Typ je vraag in je eigen woorden"),
    ("nl", "👍", "Typ je vraag in je eigen woorden"),
    ("nl", "ok", "Typ je vraag in je eigen woorden"),
    ("en", "thanks", "You're welcome"),
    ("en", "hi", "Hello! I am Vraagbaak"),
    ("en", "👍", "Type your question in your own words"),
])
async def test_greetings_thanks_and_emoji_get_a_short_prompt(
    harness: DeskHarness, lang: str, text: str, reply: str,
) -> None:
    person = await _with_role(harness, 5004, lang, "professional")
    await person.send(text)
    answer = await person.expect(lambda m: True)
    assert answer["text"].startswith(reply), answer["text"]
    assert "Onderwerp:" not in answer["text"] and "Topic:" not in answer["text"]
    assert len(answer["text"].split()) <= 40 and answer["buttons"] == []
    assert await harness.desk.asked.questions(5004) == []
    assert await person.quiet() == []


async def test_a_question_after_a_greeting_is_still_answered(harness: DeskHarness) -> None:
    sanne = await _with_role(harness, 5005, "nl", "professional")
    await sanne.send("hoi, ik maak me zorgen over een leerling")
    answer = await sanne.expect(lambda m: True)
    assert answer["text"].startswith("Onderwerp:")


async def test_volunteer_links_are_a_short_list_without_repeats(harness: DeskHarness) -> None:
    youssef = await _with_role(harness, 5006, "nl", "volunteer")
    await youssef.send("/links")
    links = await youssef.expect("Hier kun je terecht")
    text = links["text"]
    assert text.count("070-333 45 58") == 1
    assert text.count("Advieslijn Platform JEP") == 1
    assert "112" in text and "/expert" in text
    assert "professional" not in text.lower()
    places = [line for line in text.splitlines() if line.startswith("• ")]
    assert 2 <= len(places) <= 4, places
    assert _labels(links) == ["Alle onderwerpen"]
    await youssef.press_label(links, "Alle onderwerpen")
    await youssef.expect("Kies een onderwerp")


async def test_professional_links_list_each_place_once(harness: DeskHarness) -> None:
    sanne = await _with_role(harness, 5007, "nl", "professional")
    await sanne.send("/links")
    links = await sanne.expect("Hier kun je terecht")
    places = [line for line in links["text"].splitlines() if line.startswith("• ")]
    assert len(places) == len(set(places)) and len(places) <= 6
    assert links["text"].count("070-333 45 58") == 1
    assert len(links["buttons"]) == 10


async def test_volunteer_gets_the_volunteer_card_first(harness: DeskHarness) -> None:
    # The same question, and the role the asker chose decides: the volunteer gets the card
    # for volunteers, the professional does not. (A question that says "als vrijwilliger"
    # names the asker's situation in its own words, so it would not test the role.)
    question = ("ik maak me zorgen over een jongen uit mijn team, hij praat steeds extremer, "
                "wat kan ik doen?")
    youssef = await _with_role(harness, 5008, "nl", "volunteer")
    await youssef.send(question)
    answer = await youssef.expect("Onderwerp:")
    assert "Vrijwilliger en ongerust over een jongere?" in answer["text"]
    sanne = await _with_role(harness, 5009, "nl", "professional")
    await sanne.send(question)
    answer = await sanne.expect("Onderwerp:")
    assert "Vrijwilliger en ongerust" not in answer["text"]


async def test_new_user_by_deep_link_sees_topic_then_privacy_and_role(
    harness: DeskHarness,
) -> None:
    newcomer = harness.person(5010, "Ayla", "nl")
    await newcomer.send("/start topic_family")
    page = await newcomer.expect(lambda m: True)
    assert page["text"].startswith("<b>Ouders en familie</b>") or page["text"].startswith(
        "Ouders en familie")
    assert "◀ Alle onderwerpen" in _labels(page)
    welcome = await newcomer.expect(lambda m: True)
    assert "Welkom bij de Vraagbaak" in welcome["text"] and "/privacy" in welcome["text"]
    assert "Wie ben je?" in welcome["text"]
    assert _labels(welcome) == ["Ik werk met jongeren (professional)", "Ik ben vrijwilliger"]
    await newcomer.press_label(welcome, "vrijwilliger")
    await newcomer.expect("/links")
    # Known users get only the topic.
    await newcomer.send("/start topic_signals")
    await newcomer.expect("Zorgen over een jongere")
    assert await newcomer.quiet() == []


async def test_topic_page_has_a_way_back(harness: DeskHarness) -> None:
    sanne = await _with_role(harness, 5011, "nl", "professional")
    await sanne.send("/onderwerpen")
    menu = await sanne.expect("Kies een onderwerp")
    await sanne.press(menu, "tp:online")
    page = await sanne.expect("Online radicalisering")
    await sanne.press_label(page, "Alle onderwerpen")
    again = await sanne.expect("Kies een onderwerp")
    assert len(again["buttons"]) == 10


async def test_pressing_the_same_snippet_twice_sends_it_once(harness: DeskHarness) -> None:
    sanne = await _with_role(harness, 5012, "nl", "professional")
    await sanne.send("wat zijn signalen van radicalisering bij jongeren")
    answer = await sanne.expect("Onderwerp:")
    more = next(b for row in answer["buttons"] for b in row if b["data"].startswith("sn:"))
    await sanne.press(answer, more["data"])
    await sanne.press(answer, more["data"])
    await sanne.expect(more["text"].removeprefix("➕ "))
    assert await sanne.quiet(0.5) == []
    # Another button on the same message still works.
    other = [b for row in answer["buttons"] for b in row
             if b["data"].startswith("sn:") and b["data"] != more["data"]]
    if other:
        await sanne.press(answer, other[0]["data"])
        await sanne.expect(other[0]["text"].removeprefix("➕ "))


async def test_pressing_talk_to_an_expert_twice_sends_one_intake(harness: DeskHarness) -> None:
    sanne = await _with_role(harness, 5013, "nl", "professional")
    await sanne.send("wat zijn signalen van radicalisering bij jongeren")
    answer = await sanne.expect("Onderwerp:")
    await sanne.press_label(answer, "Spreek een expert")
    await sanne.press_label(answer, "Spreek een expert")
    await sanne.expect("Eerst drie korte vragen")
    assert await sanne.quiet(0.5) == []


async def test_repeated_press_mark_is_per_user_message_and_button(redis: Redis) -> None:
    assert await first_press(redis, 1, 10, "expert")
    assert not await first_press(redis, 1, 10, "expert")
    assert await first_press(redis, 1, 11, "expert")
    assert await first_press(redis, 2, 10, "expert")
    assert await first_press(redis, 1, 10, "sn:signals-phases")
    keys = [k async for k in redis.scan_iter("vb:once:*")]
    assert len(keys) == 4
    for key in keys:
        assert 0 < await redis.ttl(key) <= 120
    assert not any("expert" in k or ":1:" in k for k in keys)

