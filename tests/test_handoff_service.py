"""The handoff service without Telegram: states, preconditions, and an access matrix in which
every attempt by the wrong person, in the wrong state, replayed or forged changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from bot.runtime import handoff_service, knowledge
from bot.settings import Settings
from handoff import handoff_keys as keys
from handoff.notices import Kind, Notice, Refusal, Result
from handoff.service import HandoffService, Triaged, looks_like_question
from handoff.states import COMMENT_WINDOW_SECONDS, Mode
from handoff.tickets import TicketState

ASKER, OTHER_ASKER, ANNA, BRAM, EVE, ADMIN = 101, 102, 201, 202, 301, 999


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_764_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(settings: Settings, redis: Redis, clock: Clock) -> HandoffService:
    always = settings.model_copy(update={"office_hours": "always", "admin_ids": [ADMIN]})
    return handoff_service(always, redis, knowledge()[0], clock)


def kinds(result: Result, to: int | None = None) -> list[Kind]:
    return [n.kind for n in result.notices if to is None or n.to == to]


def only(result: Result, kind: Kind) -> Notice:
    found = [n for n in result.notices if n.kind is kind]
    assert len(found) == 1, (kind, kinds(result))
    return found[0]


async def expert(service: HandoffService, expert_id: int, name: str) -> None:
    code = await service.experts.create_invite(name, ("signals",), ("nl", "en"))
    assert await service.experts.redeem_invite(code, expert_id) is not None
    assert (await service.set_available(expert_id, True)).refused is None


async def queued(service: HandoffService, user_id: int, question: str = "vraag") -> str:
    result = await service.begin_intake(user_id, volunteer=False)
    assert kinds(result) == [Kind.INTAKE_START]
    await service.intake_answer(user_id, "s", "onderwijs", "nl", Triaged("", False, (), ()))
    await service.intake_answer(user_id, "r", "Utrecht", "nl", Triaged("", False, (), ()))
    result = await service.intake_answer(user_id, "c", "1", "nl",
                                         Triaged("signals", False, (), (question,)))
    status = only(result, Kind.STATUS)
    assert status.ticket is not None
    return status.ticket.id


async def in_conversation(service: HandoffService, user_id: int, expert_id: int) -> str:
    ticket_id = await queued(service, user_id, f"vraag van {user_id}")
    result = await service.claim(expert_id, ticket_id)
    assert result.refused is None and Kind.CARD in kinds(result, expert_id)
    return ticket_id


async def snapshot(redis: Redis) -> dict[str, object]:
    """Everything in Redis except the delivery map, to assert that nothing changed."""
    state: dict[str, object] = {}
    for key in sorted(await redis.keys("*")):
        kind = await redis.type(key)
        if kind == "hash":
            state[key] = await redis.hgetall(key)
        elif kind == "set":
            state[key] = sorted(await redis.smembers(key))
        elif kind == "zset":
            state[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            state[key] = await redis.lrange(key, 0, -1)
        elif kind == "string":
            state[key] = await redis.get(key)
        elif kind == "stream":
            state[key] = await redis.xlen(key)
    return state


async def test_two_conversations_never_cross(service: HandoffService) -> None:
    await expert(service, ANNA, "Anna")
    first = await in_conversation(service, ASKER, ANNA)
    second = await in_conversation(service, OTHER_ASKER, ANNA)
    # The latest claim is active: a plain message goes there, with a receipt once delivered.
    result = await service.expert_text(ANNA, "hallo")
    relay = only(result, Kind.FROM_EXPERT)
    assert relay.to == OTHER_ASKER
    assert relay.then is not None and relay.then.kind is Kind.RECEIPT
    assert relay.then.ticket is not None and relay.then.ticket.id == second
    # A reply to a message of the first conversation goes there, whatever is active.
    await service.remember_delivery(ANNA, 77, first)
    result = await service.expert_text(ANNA, "voor de eerste", reply_to=77)
    assert [n.to for n in result.notices if n.kind is Kind.FROM_EXPERT] == [ASKER]
    # Without an active conversation and two open: asked which, nothing sent.
    await service.states.drop_active(ANNA, second)
    result = await service.expert_text(ANNA, "voor wie?")
    assert kinds(result) == [Kind.PICK_CONVERSATION]
    assert len(await service.tickets.transcript(first)) == 2  # question + the reply
    # Switching by pick.
    assert kinds(await service.pick(ANNA, first)) == [Kind.SWITCHED]
    result = await service.expert_text(ANNA, "nu de eerste")
    assert [n.to for n in result.notices if n.kind is Kind.FROM_EXPERT] == [ASKER]


async def test_nothing_typed_while_closing_reaches_the_asker(service: HandoffService) -> None:
    await expert(service, ANNA, "Anna")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    assert kinds(await service.start_close(ANNA)) == [Kind.OUTCOME_PROMPT]
    # Typing before choosing the outcome: nothing relayed.
    result = await service.expert_text(ANNA, "Samenvatting: docent havo 3")
    assert kinds(result) == [Kind.FINISH_STEP_FIRST]
    assert kinds(await service.choose_outcome(ANNA, ticket_id, "advice")) == [
        Kind.SUMMARY_PROMPT]
    result = await service.expert_text(ANNA, "Samenvatting: docent havo 3")
    assert kinds(result, ASKER) == [Kind.RATE_PROMPT]
    assert kinds(result, ANNA) == [Kind.CLOSED]
    assert all(n.kind is not Kind.FROM_EXPERT for n in result.notices)
    ticket = await service.tickets.get(ticket_id)
    assert ticket is not None and ticket.state is TicketState.CLOSED
    # A re-pressed outcome button on the closed conversation changes nothing.
    assert (await service.choose_outcome(ANNA, ticket_id, "advice")).refused is Refusal.GONE


async def test_stale_summary_step_cannot_close_another_experts_conversation(
        service: HandoffService, clock: Clock, redis: Redis) -> None:
    await expert(service, ANNA, "Anna")
    await expert(service, BRAM, "Bram")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await service.start_close(ANNA)
    await service.choose_outcome(ANNA, ticket_id, "advice")
    # Anna goes silent; the sweep requeues; Bram claims.
    clock.now += 21 * 60
    swept = await service.sweep()
    assert Kind.REQUEUED_NO_ANSWER in kinds(swept, ANNA)
    assert (await service.claim(BRAM, ticket_id)).refused is None
    result = await service.expert_text(ANNA, "anything")
    assert kinds(result) in ([Kind.NO_CONVERSATION], [Kind.STEP_STALE])
    ticket = await service.tickets.get(ticket_id)
    assert ticket is not None and ticket.state is TicketState.ACTIVE
    assert ticket.expert_id == BRAM
    assert await redis.xlen(keys.summaries()) == 0


async def test_asker_stop_ends_rates_and_still_gets_a_summary(service: HandoffService,
                                                              redis: Redis) -> None:
    await expert(service, ANNA, "Anna")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    result = await service.asker_stop(ASKER)
    assert kinds(result, ASKER) == [Kind.YOU_ENDED, Kind.RATE_PROMPT]
    assert kinds(result, ANNA) == [Kind.ASKER_ENDED, Kind.OUTCOME_PROMPT]
    # The asker is free to ask anew; a message is not relayed to the ended conversation.
    assert await service.asker_text(ASKER, "nieuwe vraag over iets anders?") is None
    assert (await service.rate(ASKER, ticket_id, "5")).refused is None
    assert (await service.rate(ASKER, ticket_id, "1")).refused is Refusal.ALREADY_RATED
    await service.choose_outcome(ANNA, ticket_id, "referred")
    closed = await service.expert_text(ANNA, "verwezen naar het steunpunt")
    assert kinds(closed, ANNA) == [Kind.CLOSED] and not kinds(closed, ASKER)
    jobs = [f for _, f in await redis.xrange(keys.summaries()) if "kind" not in f]
    assert len(jobs) == 1 and jobs[0]["outcome"] == "referred"


async def test_ended_without_summary_is_closed_by_the_sweep_once(
        service: HandoffService, clock: Clock, redis: Redis) -> None:
    await expert(service, ANNA, "Anna")
    await in_conversation(service, ASKER, ANNA)
    await service.asker_stop(ASKER)
    clock.now += 25 * 3600
    assert Kind.UNSUMMARISED_CLOSED in kinds(await service.sweep(), ANNA)
    assert not (await service.sweep()).notices
    jobs = [f for _, f in await redis.xrange(keys.summaries()) if "kind" not in f]
    assert [j["outcome"] for j in jobs] == ["unsummarised"]


async def closed_and_rated(service: HandoffService) -> str:
    """Anna's conversation with the asker, closed with a summary and rated 4."""
    await expert(service, ANNA, "Anna")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await service.start_close(ANNA)
    await service.choose_outcome(ANNA, ticket_id, "advice")
    await service.expert_text(ANNA, "samenvatting")
    await service.rate(ASKER, ticket_id, "4")
    return ticket_id


async def test_rating_comment_versus_new_question(service: HandoffService,
                                                  clock: Clock) -> None:
    await closed_and_rated(service)
    assert (await service.states.get(ASKER)).mode is Mode.COMMENTING
    # Something that reads as a new question is a new question, not the comment.
    assert await service.asker_text(
        ASKER, "Hoe ga ik om met een leerling die de aanslag goedpraat in de klas?") is None
    assert (await service.states.get(ASKER)).mode is Mode.IDLE
    # A second conversation: a short comment is taken once; after the window it is not.
    second = await in_conversation(service, ASKER, ANNA)
    await service.start_close(ANNA)
    await service.choose_outcome(ANNA, second, "advice")
    await service.expert_text(ANNA, "samenvatting")
    await service.rate(ASKER, second, "5")
    assert kinds(await service.asker_text(ASKER, "Fijn geholpen") or Result()) == [
        Kind.COMMENT_SAVED]
    assert await service.asker_text(ASKER, "nog een opmerking") is None
    third = await in_conversation(service, ASKER, ANNA)
    await service.start_close(ANNA)
    await service.choose_outcome(ANNA, third, "advice")
    await service.expert_text(ANNA, "samenvatting")
    await service.rate(ASKER, third, "3")
    clock.now += COMMENT_WINDOW_SECONDS + 1
    assert await service.asker_text(ASKER, "te laat") is None


def test_question_heuristic() -> None:
    assert looks_like_question("Hoe praat ik met een jongen over complotten?")
    assert not looks_like_question("Top, dank je!")
    assert not looks_like_question("Waarom?")
    assert looks_like_question("x" * 401)


async def test_transfer_card_names_previous_expert_and_note(service: HandoffService) -> None:
    await expert(service, ANNA, "Anna")
    await expert(service, BRAM, "Bram")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await service.asker_text(ASKER, "het gaat om een jongen van 15")
    assert kinds(await service.start_transfer(ANNA, None)) == [Kind.NOTE_PROMPT]
    # The note is not relayed.
    result = await service.expert_text(ANNA, "graag verder met jeugdhulp")
    assert kinds(result) == [Kind.TRANSFER_TARGETS]
    targets = only(result, Kind.TRANSFER_TARGETS).params["targets"]
    assert [t.expert_id for t in targets] == [BRAM]
    result = await service.choose_transfer(ANNA, ticket_id, str(BRAM))
    card = only(result, Kind.CARD)
    assert card.to == BRAM and card.params["previous_expert"] == "Anna"
    assert card.ticket is not None and card.ticket.note == "graag verder met jeugdhulp"
    texts = [m["text"] for m in card.params["transcript"]]
    assert texts == ["vraag van 101", "het gaat om een jongen van 15"]
    told = only(result, Kind.TAKEN_OVER)
    assert told.to == ASKER and told.params["expert_name"] == "Bram"
    # Replaying the transfer button changes nothing.
    assert (await service.choose_transfer(ANNA, ticket_id, str(BRAM))).refused in (
        Refusal.NOT_YOURS, Refusal.STALE)


async def test_transfer_targets_are_checked(service: HandoffService) -> None:
    await expert(service, ANNA, "Anna")
    await expert(service, BRAM, "Bram")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await service.start_transfer(ANNA, "notitie")
    await service.set_available(BRAM, False)
    for target in (str(BRAM), str(ANNA), "٢٠٢", "²", "", "9" * 30, str(EVE)):
        before = await service.tickets.get(ticket_id)
        result = await service.choose_transfer(ANNA, ticket_id, target)
        assert result.refused in (Refusal.TARGET_UNAVAILABLE, Refusal.INVALID), target
        assert await service.tickets.get(ticket_id) == before


async def test_removed_expert_loses_conversations_everywhere(service: HandoffService) -> None:
    await expert(service, ANNA, "Anna")
    await expert(service, BRAM, "Bram")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await service.start_close(ANNA)
    await service.choose_outcome(ANNA, ticket_id, "advice")
    result = await service.remove_expert(ANNA)
    assert Kind.REQUEUED_EXPERT_LEFT in kinds(result, ASKER)
    assert Kind.ANNOUNCE in kinds(result, BRAM) and Kind.REMOVED_FROM_POOL in kinds(result, ANNA)
    ticket = await service.tickets.get(ticket_id)
    assert ticket is not None and ticket.state is TicketState.QUEUED
    assert (await service.tickets.position(ticket_id)) == 1
    assert not await service.is_expert(ANNA)
    # Their text no longer reaches anyone and their buttons do nothing.
    assert (await service.expert_text(ANNA, "samenvatting")).refused is Refusal.NOT_EXPERT
    assert (await service.choose_outcome(ANNA, ticket_id, "advice")).refused is \
        Refusal.NOT_EXPERT
    # The asker's messages wait in the queue instead of reaching the removed expert.
    result = await service.asker_text(ASKER, "ben je er nog?")
    assert result is not None and kinds(result) == [Kind.ADDED]


Attempt = Callable[[HandoffService, str], Awaitable[Result]]

ATTEMPTS: dict[str, Attempt] = {
    "claim": lambda s, t: s.claim(EVE, t),
    "pick": lambda s, t: s.pick(EVE, t),
    "outcome": lambda s, t: s.choose_outcome(EVE, t, "advice"),
    "transfer_queue": lambda s, t: s.choose_transfer(EVE, t, "q"),
    "transfer_to_self": lambda s, t: s.choose_transfer(EVE, t, str(EVE)),
    "snippet": lambda s, t: s.send_snippet(EVE, "signals-phases", t),
    "close": lambda s, t: s.start_close(EVE),
    "start_transfer": lambda s, t: s.start_transfer(EVE, "note"),
    "text": lambda s, t: s.expert_text(EVE, "hallo"),
    "queue": lambda s, t: s.queue_list(EVE),
    "next": lambda s, t: s.claim_next(EVE),
    "conversations": lambda s, t: s.conversations(EVE),
    "rate": lambda s, t: s.rate(EVE, t, "5"),
    "rate_digit": lambda s, t: s.rate(ASKER, t, "٥"),
    "rate_superscript": lambda s, t: s.rate(ASKER, t, "²"),
    "rate_twice_digits": lambda s, t: s.rate(ASKER, t, "55"),
    "intake_forged": lambda s, t: s.intake_answer(EVE, "c", "1", "nl",
                                                   Triaged("", False, (), ())),
    # Managing the pool is for coordinators, whatever front door offered it.
    "pause_anna": lambda s, t: s.pause_expert(EVE, ANNA),
    "remove_anna": lambda s, t: s.remove_expert(ANNA, EVE),
}


@pytest.mark.parametrize("actor_kind", ["plain_user", "other_expert", "removed_expert"])
@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
async def test_access_matrix(service: HandoffService, redis: Redis, attempt: str,
                             actor_kind: str) -> None:
    """Every attempt on Anna's conversation by someone else is refused and changes nothing."""
    await expert(service, ANNA, "Anna")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await queued(service, OTHER_ASKER)  # something a claim could take
    if actor_kind in ("other_expert", "removed_expert"):
        await expert(service, EVE, "Eve")
    if actor_kind == "removed_expert":
        await service.remove_expert(EVE)
    before = await snapshot(redis)
    result = await ATTEMPTS[attempt](service, ticket_id)
    if actor_kind == "other_expert" and attempt in ("next", "queue", "conversations", "text",
                                                     "close", "start_transfer"):
        # Allowed operations on the expert's own (empty) share: they touch nothing of Anna's.
        ticket = await service.tickets.get(ticket_id)
        assert ticket is not None and ticket.expert_id == ANNA
        assert all(n.to != ASKER for n in result.notices)
        return
    assert result.refused is not None or all(
        n.kind in (Kind.NO_CONVERSATION, Kind.QUEUE_EMPTY) for n in result.notices), \
        (attempt, actor_kind, result)
    assert all(n.to not in (ASKER, ANNA) for n in result.notices)
    assert await snapshot(redis) == before


@pytest.mark.parametrize("data", ["", "x", "⁵", "٥٠٠٢", "a" * 200, "abc:def:ghi", "\x00",
                                  "../../etc", "cl:", "🙂" * 10])
async def test_garbage_ids_are_refused(service: HandoffService, data: str) -> None:
    await expert(service, ANNA, "Anna")
    calls = (lambda: service.claim(ANNA, data), lambda: service.pick(ANNA, data),
             lambda: service.choose_outcome(ANNA, data, data),
             lambda: service.choose_transfer(ANNA, data, data),
             lambda: service.rate(ANNA, data, data),
             lambda: service.send_snippet(ANNA, "x", data))
    for call in calls:
        result = await call()
        assert result.refused is not None or kinds(result) == [Kind.UNKNOWN_SNIPPET]


async def test_replays_after_completion_change_nothing(service: HandoffService,
                                                       redis: Redis) -> None:
    ticket_id = await closed_and_rated(service)
    before = await snapshot(redis)
    assert (await service.claim(ANNA, ticket_id)).refused is Refusal.GONE
    assert (await service.pick(ANNA, ticket_id)).refused is Refusal.GONE
    assert (await service.choose_outcome(ANNA, ticket_id, "advice")).refused is Refusal.GONE
    assert (await service.choose_transfer(ANNA, ticket_id, "q")).refused is Refusal.GONE
    assert (await service.rate(ASKER, ticket_id, "1")).refused is Refusal.ALREADY_RATED
    # Intake buttons after the request was queued answer with the real state.
    result = await service.intake_answer(ASKER, "c", "1", "nl", Triaged("", False, (), ()))
    assert result.refused is Refusal.STALE
    after = await snapshot(redis)
    after.pop(keys.person_state(ASKER), None)
    before.pop(keys.person_state(ASKER), None)
    assert after == before


async def test_claim_replay_says_the_real_state(service: HandoffService) -> None:
    await expert(service, ANNA, "Anna")
    await expert(service, BRAM, "Bram")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    assert (await service.claim(ANNA, ticket_id)).refused is Refusal.NOT_WAITING
    assert (await service.claim(BRAM, ticket_id)).refused is Refusal.TAKEN
    await service.start_close(ANNA)
    await service.choose_outcome(ANNA, ticket_id, "advice")
    await service.expert_text(ANNA, "klaar")
    assert (await service.claim(ANNA, ticket_id)).refused is Refusal.GONE


async def test_before_intake_without_experts_on_duty(service: HandoffService) -> None:
    result = await service.begin_intake(ASKER, volunteer=True)
    notice = only(result, Kind.INTAKE_START)
    assert notice.params["availability"].experts_available == 0
    assert notice.params["volunteer"] is True
    assert "sportclub" in notice.params["sectors"]
    await expert(service, ANNA, "Anna")
    assert (await service.begin_intake(ANNA, volunteer=False)).refused is Refusal.IS_EXPERT


async def test_forget_tells_the_expert_and_clears_their_step(service: HandoffService,
                                                             redis: Redis) -> None:
    await expert(service, ANNA, "Anna")
    ticket_id = await in_conversation(service, ASKER, ANNA)
    await service.start_close(ANNA)
    result = await service.forget(ASKER)
    assert kinds(result, ANNA) == [Kind.ASKER_LEFT]
    assert (await service.states.get(ANNA)).mode is Mode.IDLE
    assert not await redis.exists(keys.ticket(ticket_id), keys.transcript(ticket_id),
                                  keys.person_state(ASKER))
    assert ticket_id not in await redis.hkeys(keys.positions())


async def test_only_coordinators_manage_the_pool_and_the_dashboard_follows_the_pool(
        service: HandoffService) -> None:
    await expert(service, ANNA, "Anna")
    assert await service.create_invite(ANNA, "Nieuw", ()) is Refusal.NOT_ADMIN
    assert isinstance(await service.create_invite(ADMIN, "Nieuw", (), ("en",)), str)
    assert isinstance(await service.create_invite(None, "Nieuw", ()), str)  # the CLI
    assert await service.may_see_dashboard(ANNA) and await service.may_see_dashboard(ADMIN)
    assert not await service.may_see_dashboard(ASKER)
    assert (await service.pause_expert(ADMIN, ANNA)).refused is None
    assert (await service.remove_expert(ANNA, ADMIN)).refused is None
    assert not await service.may_see_dashboard(ANNA)  # removed: the dashboard goes too


async def test_who_may_write_fast_past_flood_control(service: HandoffService) -> None:
    await expert(service, 900, "Anna")
    await queued(service, 1)  # waiting: still limited (each message gets a notice)
    await in_conversation(service, 2, 900)
    assert await service.may_write_fast(900)  # experts
    assert await service.may_write_fast(2)  # an asker talking to an expert
    assert not await service.may_write_fast(1)
    assert not await service.may_write_fast(3)  # anyone else
    ticket = await service.tickets.ticket_of_user(2)
    assert ticket is not None
    await service.asker_stop(2)
    assert not await service.may_write_fast(2)  # the conversation is over
