"""The expert pool in real Redis: invites, profiles, availability and matching."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from handoff import handoff_keys as keys
from handoff.experts import Expert, ExpertStore

JOINED = 1_750_000_000.0


@pytest.fixture
def experts(redis: Redis) -> ExpertStore:
    """A pool on the clean test database, with a fixed clock."""
    return ExpertStore(redis, clock=lambda: JOINED)


async def enrol(experts: ExpertStore, expert_id: int, expertise: list[str],
                languages: list[str], available: bool = True) -> Expert:
    """Invite and redeem in one go."""
    code = await experts.create_invite(f"Expert {expert_id}", expertise, languages)
    expert = await experts.redeem_invite(code, expert_id)
    assert expert is not None
    await experts.set_available(expert_id, available)
    return expert


async def test_invite_makes_an_expert_once(experts: ExpertStore, redis: Redis) -> None:
    code = await experts.create_invite("Fatima (jeugdwerk)", ["radicalisation", "online"],
                                       ["nl", "en"], max_conversations=2)
    assert len(code) >= 16 and code.replace("-", "").replace("_", "").isalnum()
    assert 0 < await redis.ttl(keys.invite(code)) <= 7 * 24 * 3600
    expert = await experts.redeem_invite(code, 42)
    assert expert == Expert(42, "Fatima (jeugdwerk)", ("radicalisation", "online"), ("nl", "en"),
                            max_conversations=2, available=False, joined_at=JOINED)
    assert await experts.is_expert(42)
    assert await experts.redeem_invite(code, 42) is None
    assert await experts.redeem_invite(code, 43) is None
    assert not await experts.is_expert(43)
    assert await experts.list() == [expert]


async def test_unknown_and_expired_invites(experts: ExpertStore, redis: Redis) -> None:
    assert await experts.redeem_invite("made-up", 42) is None
    code = await experts.create_invite("Bas", ["polarisation"], ["nl"], ttl_seconds=60)
    await redis.pexpire(keys.invite(code), 1)
    await asyncio.sleep(0.05)
    assert await experts.redeem_invite(code, 42) is None
    assert not await experts.is_expert(42)


async def test_racing_redeems_of_one_code(experts: ExpertStore, redis: Redis) -> None:
    code = await experts.create_invite("Bas", ["polarisation"], ["nl"])
    # Open the connections first: creating them one by one would serialise the redeems.
    await asyncio.gather(*(redis.ping() for _ in range(10)))
    results = await asyncio.gather(*(experts.redeem_invite(code, i) for i in range(10, 20)))
    winners = [expert for expert in results if expert is not None]
    assert len(winners) == 1
    assert [e.expert_id for e in await experts.list()] == [winners[0].expert_id]


async def test_second_invite_updates_profile_keeps_availability(experts: ExpertStore) -> None:
    await enrol(experts, 42, ["online"], ["nl"], available=True)
    code = await experts.create_invite("Fatima", ["online", "polarisation"], ["nl", "en"])
    updated = await experts.redeem_invite(code, 42)
    assert updated is not None
    assert updated.expertise == ("online", "polarisation") and updated.languages == ("nl", "en")
    assert updated.available


async def test_availability(experts: ExpertStore, redis: Redis) -> None:
    await enrol(experts, 42, ["online"], ["nl"], available=False)
    assert await experts.set_available(42, True)
    assert (await experts.get(42)).available  # type: ignore[union-attr]
    assert await experts.set_available(42, False)
    assert not (await experts.get(42)).available  # type: ignore[union-attr]
    assert not await experts.set_available(7, True)
    assert not await redis.exists(keys.expert(7))


async def test_remove(experts: ExpertStore, redis: Redis) -> None:
    await enrol(experts, 42, ["online"], ["nl"])
    await enrol(experts, 43, ["online"], ["nl"])
    assert await experts.remove(42)
    assert not await experts.remove(42)
    assert await experts.get(42) is None and not await experts.is_expert(42)
    assert [e.expert_id for e in await experts.list()] == [43]
    # A late "available" toggle must not bring the removed expert back.
    assert not await experts.set_available(42, True)
    assert not await redis.exists(keys.expert(42))


async def test_available_matching_widens_step_by_step(experts: ExpertStore) -> None:
    await enrol(experts, 1, ["radicalisation"], ["nl"])
    await enrol(experts, 2, ["polarisation"], ["nl", "en"])
    await enrol(experts, 3, ["radicalisation"], ["en"])
    await enrol(experts, 4, ["radicalisation"], ["nl"], available=False)

    async def ids(topic: str, lang: str) -> list[int]:
        return [e.expert_id for e in await experts.available_matching(topic, lang)]

    assert await ids("radicalisation", "nl") == [1]
    assert await ids("polarisation", "en") == [2]
    assert await ids("online", "nl") == [1, 2]  # nobody for the topic: same language
    assert await ids("radicalisation", "de") == [1, 2, 3]  # nobody speaks it: anyone on duty
    for expert_id in (1, 2, 3):
        await experts.set_available(expert_id, False)
    assert await ids("radicalisation", "nl") == []
