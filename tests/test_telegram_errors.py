"""Telegram's refusals that are not failures: an edit of a message the user deleted (or one too
old to edit) still says what it had to say, as a new message; its keyboard needs no edit."""

from __future__ import annotations

from tests.sandbox_client import DeskHarness


async def test_an_edit_of_a_deleted_message_arrives_as_a_new_message(
        harness: DeskHarness) -> None:
    sanne = harness.person(3301, "Sanne")
    await sanne.onboard("professional")
    await sanne.send("Hoe praat ik met een leerling die complotverhalen gelooft?")
    answer = await sanne.expect("Onderwerp:")
    await sanne.delete(answer)
    bot = harness.app.bot
    sent = await bot.edit_message_text("Bijgewerkt: <b>nieuwe tekst</b>", chat_id=3301,
                                       message_id=answer["message_id"], parse_mode="HTML")
    assert sent is not True and sent.message_id > answer["message_id"]
    again = await sanne.expect("Bijgewerkt")
    assert again["text"] == "Bijgewerkt: nieuwe tekst"
    assert await bot.edit_message_reply_markup(chat_id=3301,
                                               message_id=answer["message_id"]) is True


async def test_a_vote_on_an_answer_deleted_meanwhile_still_counts_once(
        harness: DeskHarness) -> None:
    piet = harness.person(3302, "Piet")
    await piet.onboard("professional")
    await piet.send("Hoe praat ik met een leerling die complotverhalen gelooft?")
    answer = await piet.expect("Onderwerp:")
    shown = (await harness.desk.asked.last(3302)).snippets[0]
    # The press arrives after the user deleted the message (another device, a slow network):
    # the vote counts, and removing the buttons from a message that is gone is no error.
    await harness.forge_callback(3302, answer["message_id"], f"fb:1:{shown}")
    await piet.delete(answer)
    await piet.quiet(1.0)
    assert (await harness.desk.feedback.counts()).get(shown) == (1, 0)
    assert not [m for m in await piet.quiet(0.5) if "Sorry" in m["text"]
                or "ging bij ons iets mis" in m["text"]]
