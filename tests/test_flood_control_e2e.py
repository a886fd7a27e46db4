"""Telegram's flood control (429 with retry_after), a conflict and a lost connection, made to
happen by the sandbox: what the desk sends waits it out and arrives once; polling goes on."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from handoff.notices import Kind, Notice
from tests.sandbox_client import DeskHarness
from tests.test_blocked_e2e import claimed


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"office_hours": "always", "admin_ids": [3999]})


async def test_a_relay_waits_out_a_429_and_arrives_once(harness: DeskHarness) -> None:
    anna, user = await claimed(harness)
    await harness.post("/sandbox/api/throttle", {"calls": 2, "retry_after": 1})
    await anna.send("Hallo, vertel eens wat meer?")
    await user.expect("Hallo, vertel eens")
    assert harness.sandbox.throttled == ["sendMessage", "sendMessage"]
    await user.quiet(0.5)
    relayed = [m for m in await user.inbox() if "Hallo, vertel eens" in m["text"]]
    assert len(relayed) == 1
    assert not [m for m in await anna.quiet(0.1) if "afgeleverd" in m["text"]]


async def test_the_outbox_waits_out_a_429_and_sends_once(harness: DeskHarness) -> None:
    user = harness.person(3010, "Eva", "nl")
    await user.onboard("professional")
    await harness.post("/sandbox/api/throttle", {"calls": 2, "retry_after": 1})
    await harness.desk.outbox.put([Notice(user.user_id, Kind.NO_REQUEST)])
    await user.expect("Je hebt geen open verzoek")
    assert harness.sandbox.throttled == ["sendMessage", "sendMessage"]
    await user.quiet(0.5)
    assert len([m for m in await user.inbox() if "geen open verzoek" in m["text"]]) == 1


async def test_polling_goes_on_after_a_conflict_and_a_lost_connection(
        harness: DeskHarness) -> None:
    await harness.post("/sandbox/api/fail", {"kind": "conflict", "calls": 2})
    await harness.post("/sandbox/api/fail", {"kind": "network", "calls": 1,
                                             "method": "getUpdates"})
    user = harness.person(3011, "Eva", "nl")
    await user.send("/start")
    await user.expect("Wie ben je", timeout=30)
    assert harness.sandbox.conflicts == harness.sandbox.disconnects == 0
