"""End to end: questions get guidance, acute messages get 112 first, browsing and feedback."""

from __future__ import annotations

import asyncio

from tests.sandbox_client import DeskHarness, Person


async def _professional(harness: DeskHarness, user_id: int, lang: str) -> Person:
    person = harness.person(user_id, "Sanne", lang)
    await person.send("/start")
    welcome = await person.expect(lambda m: bool(m["buttons"]))
    await person.press_label(welcome, "professional")
    await person.expect("/")
    return person


async def test_dutch_question_gets_fitting_guidance_and_buttons(harness: DeskHarness) -> None:
    sanne = await _professional(harness, 2001, "nl")
    await sanne.send("Mag ik mijn zorgen over een leerling delen met de wijkagent, of geldt "
                     "mijn beroepsgeheim?")
    answer = await sanne.expect("Onderwerp:")
    assert "Informatie delen en beroepsgeheim" in answer["text"]
    labels = [b["text"] for row in answer["buttons"] for b in row]
    for label in ("Dit helpt", "Dit helpt niet", "Ander onderwerp", "Spreek een expert"):
        assert label in labels
    assert "112" not in answer["text"].split("\n")[0]
    last = await harness.desk.asked.last(2001)
    assert last is not None and last.topic == "information_sharing" and not last.urgent


async def test_english_question_gets_english_guidance(harness: DeskHarness) -> None:
    tom = await _professional(harness, 2002, "en")
    await tom.send("How do I talk with a boy in my class who keeps defending extremist views?")
    answer = await tom.expect("Topic:")
    assert "Talking with young people about extreme views" in answer["text"]


async def test_english_text_with_dutch_setting_is_answered_in_english(
    harness: DeskHarness,
) -> None:
    person = await _professional(harness, 2003, "nl")
    await person.send("A parent asked me for help because her son watches jihadist videos, "
                      "how can I support the family?")
    answer = await person.expect("Topic:")
    assert "This helps" in str(answer["buttons"])


async def test_acute_message_gets_112_first(harness: DeskHarness) -> None:
    sanne = await _professional(harness, 2004, "nl")
    await sanne.send("Een leerling zegt dat hij morgen zijn docent gaat neersteken, hij heeft "
                     "een mes in zijn tas.")
    first = await sanne.expect(lambda m: True)
    assert "112" in first["text"] and "Bel direct 112" in first["text"]
    await sanne.expect("Onderwerp:")
    # Remembered right after the answer went out (with the update's handled mark).
    for _ in range(100):
        last = await harness.desk.asked.last(2004)
        if last is not None:
            break
        await asyncio.sleep(0.05)
    assert last is not None and last.urgent


async def test_news_mention_is_not_acute(harness: DeskHarness) -> None:
    sanne = await _professional(harness, 2005, "nl")
    await sanne.send("We bespraken de aanslag in Parijs in de klas. Hoe ga ik om met de "
                     "reacties van leerlingen?")
    first = await sanne.expect(lambda m: True)
    assert "Bel direct 112" not in first["text"]
    assert first["text"].startswith("Onderwerp:")


async def test_feedback_is_counted_without_user_and_only_once(harness: DeskHarness) -> None:
    sanne = await _professional(harness, 2006, "nl")
    await sanne.send("wat zijn signalen van radicalisering bij jongeren")
    answer = await sanne.expect("Onderwerp:")
    up = next(b["data"] for row in answer["buttons"] for b in row if b["text"] == "Dit helpt")
    snippet = harness.desk.kb.resolve(up.split(":", 2)[2])  # the button carries a short key
    assert snippet is not None
    snippet_id = snippet.id
    await sanne.press(answer, up)
    for _ in range(200):  # the vote removes the feedback row from the message
        current = await sanne.current(answer)
        if "Dit helpt" not in [b["text"] for row in current["buttons"] for b in row]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the feedback buttons stayed after a vote")
    counts = await harness.desk.feedback.counts()
    assert counts[snippet_id] == (1, 0)
    stored = await harness.desk.redis.hgetall(f"vb:feedback:{snippet_id}")
    assert stored == {"up": "1"}


async def test_not_helpful_offers_topics_and_expert(harness: DeskHarness) -> None:
    tom = await _professional(harness, 2007, "en")
    await tom.send("my students fight about the war in gaza, how do I calm the class down")
    answer = await tom.expect("Topic:")
    await tom.press_label(answer, "This does not help")
    offer = await tom.expect("did not help")
    await tom.press_label(offer, "Another topic")
    menu = await tom.expect("Choose a topic")
    assert len(menu["buttons"]) == 10


async def test_topics_browsing_and_sharing_flow(harness: DeskHarness) -> None:
    sanne = await _professional(harness, 2008, "nl")
    await sanne.send("/onderwerpen")
    menu = await sanne.expect("Kies een onderwerp")
    await sanne.press(menu, "tp:information_sharing")
    page = await sanne.expect("Informatie delen en beroepsgeheim")
    await sanne.press_label(page, "Stappenplan")
    intro = await sanne.expect("stap voor stap")
    assert "geen juridisch oordeel" in intro["text"]
    await sanne.press_label(intro, "Start")
    step = await sanne.expect_edit(intro, "Stap 1 van 5")
    assert "Vraag jezelf af" in step["text"]
    for n in range(2, 6):
        await sanne.press_label(await sanne.current(intro), "Volgende")
        step = await sanne.expect_edit(intro, f"Stap {n} van 5")
    assert "geen juridisch oordeel" in step["text"]
    assert "Volgende" not in str(step["buttons"])
    snippet_button = next(b for row in page["buttons"] for b in row
                          if b["data"].startswith("sn:"))
    await sanne.press(page, snippet_button["data"])
    await sanne.expect(snippet_button["text"])


async def test_volunteer_links_and_deep_link(harness: DeskHarness) -> None:
    youssef = harness.person(2009, "Youssef", "nl")
    assert "/links" in (await youssef.onboard("vrijwilliger"))["text"]
    await youssef.send("/links")
    links = await youssef.expect("Hier kun je terecht")
    assert "070-333 45 58" in links["text"] and "112" in links["text"]
    await youssef.send("/start topic_family")
    page = await youssef.expect("Ouders en familie")
    assert "Spreek een expert" in str(page["buttons"])
    await youssef.send("/start topic_nonsense")
    await youssef.expect("onderwerp dat ik niet ken")


def test_a_referral_named_by_its_number_is_not_repeated() -> None:
    from bot.runtime import knowledge
    from handlers.render import referral_line

    kb = knowledge()[0]
    line = referral_line(kb.referrals["emergency_112"], "nl")
    assert line.count("112") == 1
    assert "070-333 45 58" in referral_line(kb.referrals["advieslijn_jep"], "nl")
