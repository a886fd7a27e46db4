"""The handoff queue in real Redis: order, atomic claims, transfers, closing and timeouts."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from bot.redis_server import make_client
from bot.settings import Settings
from handoff import handoff_keys as keys
from handoff.tickets import ClaimResult, HandoffStore, Ticket, TicketState

MAX = 3
MINUTE = 60.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """Time starts at a fixed moment and moves only when a test says so."""
    return FakeClock()


@pytest.fixture
def store(redis: Redis, clock: FakeClock) -> HandoffStore:
    """A store on the clean test database."""
    return HandoffStore(redis, clock=clock, transcript_ttl=3600)


async def ask(store: HandoffStore, clock: FakeClock, user_id: int, *, urgent: bool = False,
              lang: str = "nl", topic: str = "radicalisation") -> Ticket:
    """Open a ticket one second after the previous one, so ages differ."""
    clock.advance(1)
    return await store.open(user_id, lang, topic, "onderwijs", "Utrecht", urgent, ["s1", "s2"])


async def queue_ids(store: HandoffStore) -> list[str]:
    """The queue as ticket ids."""
    return [ticket.id for ticket in await store.queue()]


async def test_open_queues_once_per_user(store: HandoffStore, clock: FakeClock) -> None:
    first = await ask(store, clock, 1)
    again = await ask(store, clock, 1, urgent=True, topic="other")
    assert again == first
    assert first.state is TicketState.QUEUED and first.snippets == ("s1", "s2")
    assert await queue_ids(store) == [first.id]
    assert await store.position(first.id) == 1
    assert await store.ticket_of_user(1) == first
    assert await store.ticket_of_user(2) is None


async def test_racing_opens_by_one_user_make_one_ticket(store: HandoffStore,
                                                        redis: Redis) -> None:
    # Open the connections first: creating them one by one would serialise the calls.
    await asyncio.gather(*(redis.ping() for _ in range(10)))
    opened = await asyncio.gather(*(store.open(1, "nl", "online", "zorg", "Gelderland", False)
                                    for _ in range(10)))
    assert len({ticket.id for ticket in opened}) == 1
    assert len(await store.queue()) == 1


async def test_stale_user_pointer_is_replaced(store: HandoffStore, redis: Redis,
                                              clock: FakeClock) -> None:
    await redis.set(keys.user_ticket(1), "vanished")
    ticket = await ask(store, clock, 1)
    assert ticket.id != "vanished"
    assert await store.ticket_of_user(1) == ticket
    assert "user_id" not in repr(ticket)


async def test_urgent_first_then_oldest(store: HandoffStore, clock: FakeClock) -> None:
    old = await ask(store, clock, 1)
    young = await ask(store, clock, 2)
    urgent_old = await ask(store, clock, 3, urgent=True)
    urgent_young = await ask(store, clock, 4, urgent=True)
    assert await queue_ids(store) == [urgent_old.id, urgent_young.id, old.id, young.id]
    assert [await store.position(t.id) for t in (old, young, urgent_old, urgent_young)] == [
        3, 4, 1, 2]


async def test_requeue_goes_to_head_of_its_tier(store: HandoffStore, clock: FakeClock) -> None:
    first = await ask(store, clock, 1)
    second = await ask(store, clock, 2)
    third = await ask(store, clock, 3)
    urgent = await ask(store, clock, 4, urgent=True)
    assert await store.claim(third.id, 100, MAX) is ClaimResult.OK
    await store.add_message(third.id, "user", "hallo")
    requeued = await store.requeue(third.id, note="needs a lawyer")
    assert requeued is not None
    assert requeued.state is TicketState.QUEUED and requeued.expert_id is None
    assert requeued.requeues == 1 and requeued.note == "needs a lawyer"
    # Ahead of older normal tickets, still behind the urgent one.
    assert await queue_ids(store) == [urgent.id, third.id, first.id, second.id]
    assert await store.active_for_expert(100) == []
    assert [m["text"] for m in await store.transcript(third.id)] == ["hallo"]
    assert await store.requeue(third.id) is None  # not active any more


async def test_position_moves_up(store: HandoffStore, clock: FakeClock) -> None:
    first = await ask(store, clock, 1)
    second = await ask(store, clock, 2)
    third = await ask(store, clock, 3)
    assert await store.position(third.id) == 3
    await store.claim(first.id, 100, MAX)
    assert await store.position(third.id) == 2
    assert await store.position(first.id) is None
    await store.cancel(second.id)
    assert await store.position(third.id) == 1


async def test_twenty_concurrent_claims_one_winner(store: HandoffStore, redis: Redis,
                                                   clock: FakeClock) -> None:
    ticket = await ask(store, clock, 1)
    await asyncio.gather(*(redis.ping() for _ in range(20)))  # real concurrency, as above
    experts = list(range(100, 120))
    results = await asyncio.gather(*(store.claim(ticket.id, e, MAX) for e in experts))
    assert sorted(results) == sorted([ClaimResult.OK] + [ClaimResult.TAKEN] * 19)
    winner = experts[results.index(ClaimResult.OK)]
    claimed = await store.get(ticket.id)
    assert claimed is not None
    assert claimed.state is TicketState.ACTIVE and claimed.expert_id == winner
    assert claimed.claimed_at == clock.now
    assert await store.active_for_expert(winner) == [claimed]
    assert await store.queue() == []
    for loser in experts:
        if loser != winner:
            assert await store.active_for_expert(loser) == []


async def test_claim_gone_and_own_reclaim(store: HandoffStore, clock: FakeClock) -> None:
    ticket = await ask(store, clock, 1)
    assert await store.claim("no-such-ticket", 100, MAX) is ClaimResult.GONE
    assert await store.claim(ticket.id, 100, MAX) is ClaimResult.OK
    assert await store.claim(ticket.id, 100, MAX) is ClaimResult.OK
    assert await store.active_for_expert(100) == [await store.get(ticket.id)]
    await store.close(ticket.id, "summary", "advice")
    assert await store.claim(ticket.id, 101, MAX) is ClaimResult.GONE


async def test_expert_cannot_exceed_max(store: HandoffStore, clock: FakeClock) -> None:
    tickets = [await ask(store, clock, user) for user in (1, 2, 3)]
    assert await store.claim(tickets[0].id, 100, 2) is ClaimResult.OK
    assert await store.claim(tickets[1].id, 100, 2) is ClaimResult.OK
    assert await store.claim(tickets[2].id, 100, 2) is ClaimResult.FULL
    assert await store.position(tickets[2].id) == 1
    assert await store.claim_next(100, [], ["nl"], 2) is None
    await store.close(tickets[0].id, "done", "advice")
    assert await store.claim(tickets[2].id, 100, 2) is ClaimResult.OK


async def test_claim_next_prefers_language_urgency_then_topic(store: HandoffStore,
                                                             clock: FakeClock) -> None:
    english = await ask(store, clock, 1, lang="en", urgent=True, topic="online")
    dutch = await ask(store, clock, 2, topic="online")
    urgent_off_topic = await ask(store, clock, 3, urgent=True, topic="radicalisation")
    urgent_on_topic = await ask(store, clock, 4, urgent=True, topic="online")
    taken = [await store.claim_next(100, ["online"], ["nl"], 10) for _ in range(5)]
    assert [t.id if t else None for t in taken] == [
        urgent_on_topic.id, urgent_off_topic.id, dutch.id, english.id, None]


async def test_claim_next_skips_a_ticket_lost_in_a_race(store: HandoffStore, redis: Redis,
                                                        clock: FakeClock) -> None:
    first = await ask(store, clock, 1)
    second = await ask(store, clock, 2)
    await asyncio.gather(*(redis.ping() for _ in range(4)))  # real concurrency, as above
    results = await asyncio.gather(store.claim_next(100, [], ["nl"], MAX),
                                   store.claim_next(101, [], ["nl"], MAX))
    assert {t.id for t in results if t is not None} == {first.id, second.id}


async def test_transfer(store: HandoffStore, clock: FakeClock) -> None:
    ticket = await ask(store, clock, 1)
    busy = await ask(store, clock, 2)
    await store.claim(ticket.id, 100, MAX)
    await store.claim(busy.id, 200, MAX)
    assert await store.transfer(ticket.id, 200, 1, "over to you") is ClaimResult.FULL
    assert (await store.get(ticket.id)).expert_id == 100  # type: ignore[union-attr]
    clock.advance(MINUTE)
    assert await store.transfer(ticket.id, 300, MAX, "over to you") is ClaimResult.OK
    moved = await store.get(ticket.id)
    assert moved is not None
    assert moved.expert_id == 300 and moved.note == "over to you"
    assert moved.claimed_at == clock.now
    assert await store.active_for_expert(100) == []
    assert await store.active_for_expert(300) == [moved]
    queued = await ask(store, clock, 3)
    assert await store.transfer(queued.id, 300, MAX, None) is ClaimResult.GONE


async def test_close_writes_one_job_without_user_id(store: HandoffStore, redis: Redis,
                                                    clock: FakeClock) -> None:
    user_id = 987654321
    ticket = await ask(store, clock, user_id, urgent=True)
    await store.claim(ticket.id, 100, MAX)
    await store.add_message(ticket.id, "user", "Mijn leerling zegt rare dingen")
    await store.add_message(ticket.id, "expert", "Vertel eens meer")
    clock.advance(MINUTE)
    closed = await store.close(ticket.id, "Leerling met extreme uitspraken", "advice")
    assert closed is not None and closed.state is TicketState.CLOSED
    assert closed.closed_at == clock.now
    assert await store.close(ticket.id, "again", "advice") is None
    assert await store.cancel(ticket.id) is None
    jobs = await redis.xrange(keys.summaries())
    assert len(jobs) == 1
    job = jobs[0][1]
    assert set(job) == {"ticket_id", "topic", "sector", "region", "urgent", "lang", "created_at",
                        "claimed_at", "closed_at", "expert_id", "snippets", "summary", "outcome",
                        "job_key"}
    assert str(user_id) not in " ".join(job.values())
    # The job key is random, remembered only beside the ticket (for the rating that follows).
    assert len(job["job_key"]) == 32 and ticket.id not in job["job_key"]
    assert await redis.hget(keys.ticket(ticket.id), "job_key") == job["job_key"]
    assert job["ticket_id"] == ticket.id and job["snippets"] == "s1,s2"
    assert job["expert_id"] == "100" and job["urgent"] == "1"
    assert job["summary"] == "Leerling met extreme uitspraken" and job["outcome"] == "advice"
    assert float(job["closed_at"]) == clock.now
    # The transcript waits for the summariser; the indexes are clean.
    assert len(await store.transcript(ticket.id)) == 2
    assert await store.active_for_expert(100) == []
    assert await store.ticket_of_user(user_id) is None
    assert await store.add_message(ticket.id, "user", "nog iets") is None
    assert (await ask(store, clock, user_id)).id != ticket.id


async def test_close_of_queued_ticket_does_nothing(store: HandoffStore, redis: Redis,
                                                   clock: FakeClock) -> None:
    ticket = await ask(store, clock, 1)
    assert await store.close(ticket.id, "x", "y") is None
    assert await store.position(ticket.id) == 1
    assert await redis.xlen(keys.summaries()) == 0


async def test_cancel_queued_and_active(store: HandoffStore, clock: FakeClock) -> None:
    waiting = await ask(store, clock, 1)
    talking = await ask(store, clock, 2)
    await store.claim(talking.id, 100, MAX)
    await store.add_message(talking.id, "user", "hoi")
    cancelled = await store.cancel(waiting.id)
    assert cancelled is not None and cancelled.state is TicketState.CANCELLED
    assert cancelled.expert_id is None
    left = await store.cancel(talking.id)
    assert left is not None and left.expert_id == 100
    assert await store.cancel(talking.id) is None
    assert await store.queue() == []
    assert await store.active_for_expert(100) == []
    assert await store.transcript(talking.id) == []
    assert await store.ticket_of_user(1) is None and await store.ticket_of_user(2) is None
    assert await store.claim(waiting.id, 100, MAX) is ClaimResult.GONE


async def test_messages_and_transcript(store: HandoffStore, redis: Redis,
                                       clock: FakeClock) -> None:
    ticket = await ask(store, clock, 1)
    assert await store.add_message(ticket.id, "user", "Extra info terwijl ik wacht")
    await store.claim(ticket.id, 100, MAX)
    clock.advance(5)
    assert await store.add_message(ticket.id, "expert", "Goedemiddag — ik kijk mee")
    stored = await store.get(ticket.id)
    assert stored is not None
    assert stored.last_user_at == clock.now - 5 and stored.last_expert_at == clock.now
    assert await store.transcript(ticket.id) == [
        {"sender": "user", "text": "Extra info terwijl ik wacht", "at": clock.now - 5},
        {"sender": "expert", "text": "Goedemiddag — ik kijk mee", "at": clock.now},
    ]
    assert 0 < await redis.ttl(keys.transcript(ticket.id)) <= 3600
    assert await store.add_message("no-such-ticket", "user", "x") is None
    assert not await redis.exists(keys.ticket("no-such-ticket"), keys.transcript("no-such-ticket"))


async def test_due_timeouts(store: HandoffStore, clock: FakeClock) -> None:
    limits = {"unclaimed_after": 15 * MINUTE, "remind_after": 10 * MINUTE,
              "requeue_after": 20 * MINUTE, "idle_after": 24 * 60 * MINUTE}
    ticket = await ask(store, clock, 1)
    start = clock.now
    assert (await store.due(start + 14 * MINUTE, **limits)).unclaimed == []
    assert [t.id for t in (await store.due(start + 16 * MINUTE, **limits)).unclaimed] == [
        ticket.id]
    assert (await store.due(start + 17 * MINUTE, **limits)).unclaimed == []  # alerted once

    clock.now = start + 20 * MINUTE
    await store.claim(ticket.id, 100, MAX)
    claimed = clock.now
    due = await store.due(claimed + 9 * MINUTE, **limits)
    assert due.remind == due.requeue == due.idle == []
    assert [t.id for t in (await store.due(claimed + 11 * MINUTE, **limits)).remind] == [
        ticket.id]
    assert (await store.due(claimed + 12 * MINUTE, **limits)).remind == []  # reminded once
    due = await store.due(claimed + 21 * MINUTE, **limits)
    assert [t.id for t in due.requeue] == [ticket.id] and due.remind == due.idle == []

    # Requeued and claimed again: the alert and the reminder apply afresh.
    clock.now = claimed + 21 * MINUTE
    await store.requeue(ticket.id)
    requeued = clock.now
    assert [t.id for t in (await store.due(requeued + 16 * MINUTE, **limits)).unclaimed] == [
        ticket.id]
    clock.now = requeued + 17 * MINUTE
    await store.claim(ticket.id, 200, MAX)
    reclaimed = clock.now
    assert [t.id for t in (await store.due(reclaimed + 11 * MINUTE, **limits)).remind] == [
        ticket.id]

    # Once the expert has written, only idleness counts.
    clock.now = reclaimed + 12 * MINUTE
    await store.add_message(ticket.id, "expert", "Hallo")
    clock.now = reclaimed + 60 * MINUTE
    await store.add_message(ticket.id, "user", "Dank je")
    due = await store.due(clock.now + 23 * 60 * MINUTE, **limits)
    assert due.remind == due.requeue == due.idle == []
    due = await store.due(clock.now + 24 * 60 * MINUTE, **limits)
    assert [t.id for t in due.idle] == [ticket.id] and due.requeue == due.remind == []


async def test_forget_user(store: HandoffStore, redis: Redis, clock: FakeClock) -> None:
    earlier = await ask(store, clock, 1)
    await store.claim(earlier.id, 100, MAX)
    await store.add_message(earlier.id, "user", "eerste gesprek")
    await store.close(earlier.id, "samenvatting", "advice")
    current = await ask(store, clock, 1)
    await store.claim(current.id, 200, MAX)
    await store.add_message(current.id, "user", "tweede gesprek")
    other = await ask(store, clock, 2)

    held = await store.forget_user(1)

    assert [(t.id, t.expert_id) for t in held] == [(current.id, 200)]
    for ticket in (earlier, current):
        assert await store.get(ticket.id) is None
        assert await store.transcript(ticket.id) == []
    assert await store.ticket_of_user(1) is None
    assert await store.active_for_expert(200) == []
    assert not await redis.exists(keys.user_ticket(1), keys.user_history(1))
    assert await queue_ids(store) == [other.id]
    # The anonymous summary stays: nothing in it points to the user.
    assert await redis.xlen(keys.summaries()) == 1
    assert await store.forget_user(1) == []


async def test_forget_user_with_waiting_ticket(store: HandoffStore, clock: FakeClock) -> None:
    ticket = await ask(store, clock, 1)
    assert await store.forget_user(1) == []
    assert await store.queue() == [] and await store.get(ticket.id) is None


async def test_new_store_after_restart_continues(store: HandoffStore, settings: Settings,
                                                 clock: FakeClock) -> None:
    waiting = await ask(store, clock, 1)
    urgent = await ask(store, clock, 2, urgent=True)
    talking = await ask(store, clock, 3)
    await store.claim(talking.id, 100, MAX)
    await store.add_message(talking.id, "expert", "Ik ben er")

    # A restarted process: a new client and store, and a Redis that forgot its scripts.
    assert settings.redis_url is not None
    client = make_client(settings.redis_url)
    try:
        await client.script_flush()
        restarted = HandoffStore(client, clock=clock, transcript_ttl=3600)
        assert await queue_ids(restarted) == [urgent.id, waiting.id]
        assert await restarted.position(waiting.id) == 2
        assert [t.id for t in await restarted.active_for_expert(100)] == [talking.id]
        assert (await restarted.ticket_of_user(3)).state is TicketState.ACTIVE  # type: ignore[union-attr]
        assert await restarted.claim(talking.id, 101, MAX) is ClaimResult.TAKEN
        assert await restarted.claim(urgent.id, 101, MAX) is ClaimResult.OK
        assert (await restarted.open(1, "nl", "x", "y", "z", False, [])).id == waiting.id
        assert [m["text"] for m in await restarted.transcript(talking.id)] == ["Ik ben er"]
    finally:
        await client.aclose(close_connection_pool=True)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_claim_next_pages_agree_with_ranking_the_whole_queue(
        store: HandoffStore, clock: FakeClock, seed: int) -> None:
    """claim_next reads the queue a page at a time and stops early; it must pick exactly what
    ranking every waiting ticket would pick (more tickets than one page, mixed shapes)."""
    import random

    rng = random.Random(seed)
    for user_id in range(450):
        clock.advance(1)
        await store.open(user_id, rng.choice(["nl", "nl", "nl", "en"]),
                         rng.choice(["online", "family", "signals"]), "onderwijs", "Utrecht",
                         rng.random() < 0.03 * seed, [])
    for topics, languages in ((["online"], ["nl"]), (["family"], ["en"]), ([], ["de"])):
        waiting = await store.queue()
        expected = sorted(waiting, key=lambda t: (t.lang not in languages, not t.urgent,
                                                  t.topic not in topics))[0]
        taken = await store.claim_next(10_000 + len(languages), topics, languages, 1000)
        assert taken is not None and taken.id == expected.id



async def slices(redis: Redis) -> dict[str, float]:
    """Every ticket in a queue slice with its score (a ticket in two slices fails the test)."""
    found: dict[str, float] = {}
    for member in await redis.smembers(keys.queue_slices()):
        lang, topic = json.loads(member)
        for ticket_id, score in await redis.zrange(keys.queue_slice(lang, topic), 0, -1,
                                                   withscores=True):
            assert ticket_id not in found
            assert (await redis.hmget(keys.ticket(ticket_id), "lang", "topic")) == [lang, topic]
            found[ticket_id] = score
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_slices_follow_the_queue_through_every_change(
        store: HandoffStore, redis: Redis, clock: FakeClock, seed: int) -> None:
    """Opens, claims, requeues, cancels, closes and forgets in random order: the slices hold
    exactly the queue, with its scores, and claim_next agrees with ranking the whole queue."""
    import random

    rng = random.Random(seed)
    users = iter(range(1, 10_000))
    for _ in range(300):
        step = rng.random()
        waiting = await store.queue()
        if step < 0.45 or not waiting:
            clock.advance(1)
            await store.open(next(users), rng.choice(["nl", "en", "de"]),
                             rng.choice(["online", "family", "signals"]), "onderwijs",
                             "Utrecht", rng.random() < 0.2, [])
        elif step < 0.7:
            topics = rng.sample(["online", "family", "signals"], rng.randint(0, 2))
            languages = rng.sample(["nl", "en", "de"], rng.randint(1, 2))
            expected = sorted(waiting, key=lambda t: (t.lang not in languages, not t.urgent,
                                                      t.topic not in topics))[0]
            taken = await store.claim_next(rng.randint(100, 105), topics, languages, 1000)
            assert taken is not None and taken.id == expected.id
        elif step < 0.8:
            held = [t for t in await store._get_many(await redis.smembers(keys.active()))
                    if t.state is TicketState.ACTIVE]
            if held:
                await store.requeue(rng.choice(held).id, "back")
        elif step < 0.9:
            await store.cancel(rng.choice(waiting).id)
        elif step < 0.95:
            await store.forget_user(rng.choice(waiting).user_id)
        else:
            held = await store._get_many(await redis.smembers(keys.active()))
            if held:
                ticket = rng.choice(held)
                await store.close(ticket.id, "summary", "advice")
        queued = dict(await redis.zrange(keys.queue(), 0, -1, withscores=True))
        assert await slices(redis) == queued


async def test_tickets_queued_before_slices_are_sorted_in_once(
        store: HandoffStore, redis: Redis, clock: FakeClock) -> None:
    """A queue written by a version without slices: the first claim_next sorts it in."""
    online = await ask(store, clock, 1, topic="online")
    english = await ask(store, clock, 2, lang="en", urgent=True)
    urgent = await ask(store, clock, 3, urgent=True)
    await redis.delete(keys.queue_slices(), keys.queue_sliced(),
                       *(keys.queue_slice(lang, topic) for lang, topic in
                         (("nl", "online"), ("en", "radicalisation"),
                          ("nl", "radicalisation"))))
    upgraded = HandoffStore(redis, clock=clock, transcript_ttl=3600)
    first = await upgraded.claim_next(100, ["online"], ["nl"], MAX)
    assert first is not None and first.id == urgent.id
    assert await slices(redis) == dict(await redis.zrange(keys.queue(), 0, -1, withscores=True))
    assert await redis.exists(keys.queue_sliced())
    taken = [await upgraded.claim_next(100, ["online"], ["nl"], MAX) for _ in range(2)]
    assert [t.id for t in taken if t is not None] == [online.id, english.id]


async def test_claim_next_reads_no_ticket_it_passes_over(
        store: HandoffStore, redis: Redis, clock: FakeClock) -> None:
    """600 urgent tickets in a language the expert does not speak, then theirs: the claim
    compares the heads of three slices and reads no ticket hash but the one it claims, so its
    cost does not grow with the queue (bench/claim.py measures it)."""
    for user_id in range(600):
        await ask(store, clock, user_id, lang="en", urgent=True,
                  topic=("online", "family")[user_id % 2])
    dutch = await ask(store, clock, 600, lang="nl")
    await redis.config_resetstat()
    taken = await store.claim_next(100, ["online"], ["nl"], MAX)
    assert taken is not None and taken.id == dutch.id
    stats = await redis.info("commandstats")
    assert stats["cmdstat_hmget"]["calls"] == 1  # the claim script's check of the ticket
    assert stats["cmdstat_zrange"]["calls"] == 3  # one head per slice
    assert "cmdstat_hgetall" not in stats or stats["cmdstat_hgetall"]["calls"] == 1


async def test_emptied_slices_are_forgotten(store: HandoffStore, redis: Redis,
                                            clock: FakeClock) -> None:
    first = await ask(store, clock, 1, lang="en")
    await ask(store, clock, 2)
    assert len(await redis.smembers(keys.queue_slices())) == 2
    await store.cancel(first.id)
    assert (await store.claim_next(100, [], ["nl"], MAX)) is not None
    assert await redis.smembers(keys.queue_slices()) == {'["nl", "radicalisation"]'}
    assert await store.claim_next(100, [], ["nl"], MAX) is None
    assert await redis.smembers(keys.queue_slices()) == set()
    again = await ask(store, clock, 3, lang="en")
    assert (await store.claim_next(101, [], ["en"], MAX)).id == again.id  # type: ignore[union-attr]
