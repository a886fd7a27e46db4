"""The desk is for private chats: in a group or channel it says so once, politely, and leaves;
nothing from a group is triaged, queued or relayed."""

from __future__ import annotations

import pytest

from handoff import handoff_keys as keys
from tests.sandbox_client import DeskHarness
from tests.test_handoff_e2e import make_expert

pytestmark = pytest.mark.timeout(60)


async def group_send(harness: DeskHarness, user_id: int, chat_id: int, text: str,
                     chat_type: str = "group", language_code: str = "nl") -> None:
    await harness.post("/sandbox/api/send", {
        "user_id": user_id, "text": text, "chat_type": chat_type, "chat_id": chat_id,
        "language_code": language_code})


async def wait_left(harness: DeskHarness, chat_id: int) -> None:
    import asyncio

    for _ in range(500):
        if harness.sandbox.users[chat_id].left:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot did not leave the group")


@pytest.mark.parametrize(("chat_type", "lang", "needle"), [
    ("group", "nl", "werkt alleen in een privégesprek"),
    ("supergroup", "en", "only works in a private chat"),
    ("channel", "nl", "werkt alleen in een privégesprek"),
])
async def test_a_group_gets_one_polite_notice_and_the_bot_leaves(
    harness: DeskHarness, chat_type: str, lang: str, needle: str,
) -> None:
    chat_id = -100_700_001
    await group_send(harness, 4101, chat_id, "/start", chat_type, lang)
    await wait_left(harness, chat_id)
    group = harness.person(chat_id)
    notice = await group.expect(needle)
    assert "@VraagbaakSandboxBot" in notice["text"]
    assert await group.quiet() == []
    # After leaving, the group can no longer reach the bot (Telegram stops delivering).
    with pytest.raises(AssertionError, match="not a member"):
        await group_send(harness, 4101, chat_id, "nog een vraag", chat_type, lang)
    assert [m["text"] for m in await group.inbox()] == [notice["text"]]


async def test_nothing_from_a_group_is_triaged_queued_or_relayed(harness: DeskHarness) -> None:
    anna = await make_expert(harness, 4110, "Anna")
    before = await anna.quiet()
    chat_id = -100_700_002
    # Several messages arrive before the bot has left: one notice, no answers, no ticket.
    for text in ("Mijn leerling kijkt IS-filmpjes, wat moet ik doen?", "/expert",
                 "/vergeet"):
        await group_send(harness, 4111, chat_id, text)
    await wait_left(harness, chat_id)
    group = harness.person(chat_id)
    await group.expect("privégesprek")
    assert await group.quiet(0.5) == []
    redis = harness.desk.redis
    assert await redis.zcard(keys.queue()) == 0
    assert await redis.exists("vb:asked:4111", "vb:last:4111", keys.user_ticket(4111),
                              "vb:user:4111", keys.intake(4111)) == 0
    assert await harness.desk.handoff.ticket_of_user(4111) is None
    assert await anna.quiet() == [] and before == []
    # The same person in their private chat is served as always.
    me = harness.person(4111)
    await me.send("/start")
    await me.expect("Welkom")
