"""The singleton jobs (the sweep, the outbox delivery, the AOF rewrite) run on the one desk
instance that holds the `singletons` lease, and each of their steps is safe if two ever overlap:
a stale sweep does not requeue a conversation claimed meanwhile, a position is told once, an
outbox notice is delivered once."""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis

from bot.leases import SINGLETONS, Lease
from bot.rate_limit import PriorityRateLimiter
from bot.runtime import desk_services, handoff_service, knowledge
from bot.settings import Settings
from handoff.notices import Kind, Notice
from handoff.outbox import Outbox
from handoff.service import HandoffService
from handoff.tickets import Due, TicketState
from tests.sandbox_client import DeskHarness
from tests.test_handoff_service import ANNA, ASKER, BRAM, Clock, expert, in_conversation, queued

OTHER_ASKERS = (111, 112, 113)


def service_on(settings: Settings, redis: Redis, clock: Clock) -> HandoffService:
    """One desk instance's service: two of them on one Redis are two instances."""
    always = settings.model_copy(update={"office_hours": "always"})
    return handoff_service(always, redis, knowledge()[0], clock)


async def what_a_sweep_reads(service: HandoffService, now: float) -> Due:
    """What a sweep reads at `now`, before it acts (where a stalled sweep stops)."""
    t = service.timeouts
    return await service.tickets.due(now, t.unclaimed_alert, t.remind, t.requeue, t.idle)


async def test_two_sweeps_racing_requeue_and_tell_once(settings: Settings, redis: Redis) -> None:
    clock = Clock()
    first, second = service_on(settings, redis, clock), service_on(settings, redis, clock)
    await expert(first, ANNA, "Anna")
    silent = await in_conversation(first, ASKER, ANNA)
    waiting = [await queued(first, user) for user in OTHER_ASKERS]
    clock.now += 21 * 60  # Anna never answered: past the requeue timeout
    results = await asyncio.gather(first.sweep(), second.sweep())
    notices = [n for result in results for n in result.notices]
    told = [(n.kind, n.to) for n in notices]
    assert told.count((Kind.REQUEUED_NO_ANSWER, ANNA)) == 1
    assert told.count((Kind.REQUEUED_SILENT, ASKER)) == 1
    # The requeued asker goes first and every waiting asker moved one place: told once each.
    queue = await first.tickets.queue()
    assert queue[0].id == silent and {t.id for t in queue[1:]} == set(waiting)
    positions = [(n.to, n.params["position"]) for n in notices if n.kind is Kind.POSITION]
    assert sorted(positions) == sorted((t.user_id, place) for place, t in
                                       enumerate(queue, start=1))
    ticket = await first.tickets.get(silent)
    assert ticket is not None and ticket.state is TicketState.QUEUED and ticket.requeues == 1


async def test_a_stale_sweep_does_not_requeue_a_conversation_claimed_meanwhile(
        settings: Settings, redis: Redis) -> None:
    clock = Clock()
    service = service_on(settings, redis, clock)
    await expert(service, ANNA, "Anna")
    await expert(service, BRAM, "Bram")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    clock.now += 21 * 60
    # A sweep reads what is due, then stalls (a slow instance, a pause) before acting ...
    stale = await what_a_sweep_reads(service, clock.now)
    assert [ticket.id for ticket in stale.requeue] == [ticket_id]
    # ... while another sweep requeues the conversation and Bram claims it.
    assert Kind.REQUEUED_NO_ANSWER in [n.kind for n in (await service.sweep()).notices]
    assert (await service.claim(BRAM, ticket_id)).refused is None
    seen = stale.requeue[0]
    assert await service.tickets.requeue(seen.id, None, claimed_at=seen.claimed_at) is None
    ticket = await service.tickets.get(ticket_id)
    assert ticket is not None and ticket.state is TicketState.ACTIVE
    assert ticket.expert_id == BRAM and ticket.requeues == 1


async def test_a_stale_sweep_leaves_a_conversation_transferred_meanwhile(
        settings: Settings, redis: Redis) -> None:
    clock = Clock()
    service = service_on(settings, redis, clock)
    await expert(service, ANNA, "Anna")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    clock.now += 21 * 60
    stale = await what_a_sweep_reads(service, clock.now)
    clock.now += 1
    # Anna hands it to herself again (a transfer restarts the claim time) before the sweep acts.
    assert await service.tickets.transfer(ticket_id, BRAM, 3) == "ok"
    assert await service.tickets.transfer(ticket_id, ANNA, 3) == "ok"
    seen = stale.requeue[0]
    assert await service.tickets.requeue(seen.id, None, claimed_at=seen.claimed_at) is None
    ticket = await service.tickets.get(ticket_id)
    assert ticket is not None and ticket.state is TicketState.ACTIVE and ticket.requeues == 0


async def test_a_stale_sweep_does_not_close_a_conversation_written_in_meanwhile(
        settings: Settings, redis: Redis) -> None:
    clock = Clock()
    service = service_on(settings, redis, clock)
    await expert(service, ANNA, "Anna")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await service.tickets.add_message(ticket_id, "expert", "Vertel eens meer.")
    clock.now += 25 * 3600  # a day without a word: idle
    stale = await what_a_sweep_reads(service, clock.now)
    assert [ticket.id for ticket in stale.idle] == [ticket_id]
    await service.tickets.add_message(ticket_id, "user", "Ik ben er nog!")  # just in time
    seen = stale.idle[0]
    assert await service.tickets.close(seen.id, "", "idle", "timeout",
                                       unchanged_since=seen) is None
    ticket = await service.tickets.get(ticket_id)
    assert ticket is not None and ticket.state is TicketState.ACTIVE
    # A sweep that looks now sees the new word and leaves the conversation open.
    assert not (await service.sweep()).notices


async def test_a_new_position_is_told_once_however_many_ask(settings: Settings,
                                                            redis: Redis) -> None:
    sessions = service_on(settings, redis, Clock()).sessions
    told = await asyncio.gather(*(sessions.position_changed("t1", 3) for _ in range(20)))
    assert told.count(True) == 1
    assert not await sessions.position_changed("t1", 3)
    assert await sessions.position_changed("t1", 2)


async def test_each_outbox_notice_is_delivered_by_one_instance(settings: Settings,
                                                               redis: Redis) -> None:
    clock = Clock()
    first, second = service_on(settings, redis, clock), service_on(settings, redis, clock)
    ticket_id = await queued(first, ASKER)
    ticket = await first.tickets.get(ticket_id)
    outboxes = [Outbox(redis, first.tickets), Outbox(redis, second.tickets)]
    await outboxes[0].put(Notice(ASKER, Kind.REQUEUED_SILENT, ticket, {"n": i})
                          for i in range(50))
    delivered: list[int] = []
    while True:  # each round, eight takers race for the same oldest entries
        taken = await asyncio.gather(*(box.take(limit=20) for box in outboxes * 4))
        if not any(taken):
            break
        delivered += [n.params["n"] for batch in taken for n in batch]
    delivered.sort()
    assert delivered == list(range(50))


async def test_one_instance_holds_the_singletons_and_the_other_takes_over(
        settings: Settings, redis: Redis) -> None:
    one = settings.model_copy(update={"instance_id": "desk-one"})
    two = settings.model_copy(update={"instance_id": "desk-two"})
    async with contextlib.AsyncExitStack() as first:
        a = await first.enter_async_context(desk_services(one))
        async with desk_services(two) as b:
            holder = await Lease(redis, SINGLETONS, "probe").holder()
            for _ in range(100):
                if holder is not None:
                    break
                await asyncio.sleep(0.05)
                holder = await Lease(redis, SINGLETONS, "probe").holder()
            assert holder == "desk-one"  # the first to start took it; the second waits
            assert await a.singletons.still_current()
            assert not await b.singletons.still_current()
            await first.aclose()  # instance one stops (a redeploy): it releases the lease
            for _ in range(200):
                if await b.singletons.still_current():
                    break
                await asyncio.sleep(0.05)
            assert await b.singletons.still_current()
            assert await Lease(redis, SINGLETONS, "probe").holder() == "desk-two"


async def test_a_desk_of_several_instances_sends_within_the_shared_limit(
        settings: Settings, redis: Redis) -> None:
    multi = settings.model_copy(update={"instances": "multi", "instance_id": "desk-m"})
    async with DeskHarness.start(multi) as harness:
        limiter = harness.app.bot.rate_limiter
        assert isinstance(limiter, PriorityRateLimiter) and limiter.bucket.shared is not None
        shared = limiter.bucket.shared
        taken: list[float] = []
        take = shared.take

        async def counted() -> float:
            taken.append(await take())
            return taken[-1]

        shared.take = counted  # type: ignore[method-assign]
        sanne = harness.person(1001, "Sanne", "nl")
        await sanne.send("/start")
        await sanne.expect("Welkom bij de Vraagbaak")
        assert 0.0 in taken  # the welcome was granted by the window every instance shares
        assert await harness.desk.instances.live() == ["desk-m"]
        assert await Lease(redis, SINGLETONS, "probe").holder() == "desk-m"
