"""End to end: onboarding, language, privacy and polite fallbacks through the sandbox."""

from __future__ import annotations

from handoff.users import Role
from tests.sandbox_client import DeskHarness


async def test_start_in_dutch_then_role_choice(harness: DeskHarness) -> None:
    sanne = harness.person(1001, "Sanne", "nl")
    await sanne.send("/start")
    welcome = await sanne.expect("Welkom bij de Vraagbaak")
    assert "112" in welcome["text"] and "geen meldpunt" in welcome["text"]
    assert "/privacy" in welcome["text"]
    # no unconditional secrecy: the one exception (acute danger to life, art. 136 Sr) is named
    assert "artikel 136" in welcome["text"] and "we melden niets" in welcome["text"]
    labels = [b["text"] for row in welcome["buttons"] for b in row]
    assert labels == ["Ik werk met jongeren (professional)", "Ik ben vrijwilliger"]
    await sanne.press_label(welcome, "professional")
    await sanne.expect("Typ je vraag")
    assert (await sanne.current(welcome))["buttons"] == []
    assert (await harness.desk.users.get(1001)).role is Role.PROFESSIONAL


async def test_start_in_english_from_language_code(harness: DeskHarness) -> None:
    tom = harness.person(1002, "Tom", "en-GB")
    await tom.send("/start")
    welcome = await tom.expect("Welcome to Vraagbaak")
    assert "not an emergency line" in welcome["text"]
    await tom.press_label(welcome, "volunteer")
    reply = await tom.expect("/links")
    assert "/topics" in reply["text"]
    assert (await harness.desk.users.get(1002)).role is Role.VOLUNTEER


async def test_unsupported_language_code_falls_back_to_dutch(harness: DeskHarness) -> None:
    person = harness.person(1003, "Ana", "pt-BR")
    await person.send("/help")
    await person.expect("Zo werkt de Vraagbaak")


async def test_language_switch_is_remembered_and_sets_menu(harness: DeskHarness) -> None:
    sanne = harness.person(1004, "Sanne", "nl")
    await sanne.send("/taal")
    choice = await sanne.expect("Kies je taal")
    await sanne.press(choice, "lang:en")
    assert (await sanne.expect_edit(choice, "Language set"))["text"] == "Language set to English."
    await sanne.send("/privacy")
    privacy = await sanne.expect("Privacy at Vraagbaak")
    assert "7 days" in privacy["text"] and "/forget" in privacy["text"]
    assert "article 136" in privacy["text"] and "acute danger" in privacy["text"]
    user = harness.sandbox.users[1004]
    assert user.commands is not None
    assert [c["command"] for c in user.commands][:2] == ["start", "topics"]
    # Back to Dutch with the English alias.
    await sanne.send("/language")
    choice = await sanne.expect("Choose your language")
    await sanne.press(choice, "lang:nl")
    await sanne.expect_edit(choice, "Taal ingesteld op Nederlands")
    await sanne.send("/privacy")
    privacy = await sanne.expect("Privacy bij de Vraagbaak")
    assert "7 dagen" in privacy["text"] and "/vergeet" in privacy["text"]
    assert "artikel 136" in privacy["text"] and "acuut in gevaar" in privacy["text"]


async def test_language_survives_a_restart(harness: DeskHarness) -> None:
    sanne = harness.person(1005, "Sanne", "nl")
    await sanne.send("/taal")
    choice = await sanne.expect("Kies je taal")
    await sanne.press(choice, "lang:en")
    await sanne.expect_edit(choice, "Language set")
    async with DeskHarness.start(harness.settings) as second:
        again = second.person(1005, "Sanne", "nl")
        await again.send("/help")
        await again.expect("How Vraagbaak works")


async def test_command_menus_are_set_per_language(harness: DeskHarness) -> None:
    await harness.person(1006).send("/help")  # make sure post_init has run
    await harness.person(1006).expect("Vraagbaak")
    nl = [c["command"] for c in harness.sandbox.commands["nl"]]
    en = [c["command"] for c in harness.sandbox.commands["en"]]
    assert "onderwerpen" in nl and "vergeet" in nl and "taal" in nl
    assert "topics" in en and "forget" in en and "language" in en
    assert harness.sandbox.commands[""] == harness.sandbox.commands["nl"]
    # A newcomer's /start costs one message: the menus above serve them, none is set per chat.
    newcomer = harness.person(1007)
    await newcomer.send("/start")
    await newcomer.expect("Wie ben je")
    assert harness.sandbox.users[1007].commands is None


async def test_media_unknown_commands_and_edits_get_polite_answers(
    harness: DeskHarness,
) -> None:
    tom = harness.person(1007, "Tom", "en")
    await tom.send("/doesnotexist")
    await tom.expect("I don't know that command")
    for kind in ("sticker", "photo", "voice", "document"):
        await harness.post("/sandbox/api/send_media", {"user_id": 1007, "kind": kind})
        await tom.expect("I can only read text messages")
    await tom.send("hello")
    user_message = harness.sandbox.users[1007].messages[-1]
    await harness.post("/sandbox/api/edit", {"user_id": 1007,
                                            "message_id": user_message.message_id,
                                            "text": "hello again"})
    await tom.expect("I don't read edited messages")


async def test_forged_role_button_is_refused(harness: DeskHarness) -> None:
    sanne = harness.person(1008, "Sanne", "nl")
    await sanne.send("/start")
    welcome = await sanne.expect("Welkom")
    # A tampered client sends callback data the message does not carry: the sandbox refuses,
    # like Telegram; a stale role value on a real button is refused by the bot.
    import pytest

    with pytest.raises(AssertionError, match="400"):
        await sanne.press(welcome, "role:expert")
    assert (await harness.desk.users.get(1008)).role is None


async def test_forget_deletes_profile_after_confirmation(harness: DeskHarness) -> None:
    sanne = harness.person(1009, "Sanne", "nl")
    await sanne.send("/start")
    await sanne.press_label(await sanne.expect("Welkom"), "professional")
    await sanne.expect("Typ je vraag")
    await sanne.send("/vergeet")
    confirm = await sanne.expect("Weet je het zeker?")
    await sanne.press_label(confirm, "Nee")
    await sanne.expect_edit(confirm, "Er is niets gewist")
    assert (await harness.desk.users.get(1009)).role is Role.PROFESSIONAL
    await sanne.send("/vergeet")
    confirm = await sanne.expect("Weet je het zeker?")
    await sanne.press_label(confirm, "Ja")
    await sanne.expect_edit(confirm, "alles wat de Vraagbaak over je bewaarde is gewist")
    assert (await harness.desk.users.get(1009)).role is None
    assert await harness.desk.redis.exists("vb:user:1009") == 0
