"""The handoff service: every rule of the expert handoff, for any front end.

Each operation checks its own preconditions (is the actor still an expert, do they hold the
conversation, is it in the state this step expects) and returns what must be told to whom as
typed notices; it never sends anything. The Telegram handlers and the web dashboard both call
it, so a rule lives here once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from handoff import handoff_keys as keys
from handoff.batch import Batch
from handoff.experts import Expert, ExpertStore, NameTaken
from handoff.notices import Kind, Notice, Refusal, Result
from handoff.office_hours import OfficeHours
from handoff.sessions import SessionStore
from handoff.states import COMMENT_WINDOW_SECONDS, EXPERT_STEPS, Mode, StateStore
from handoff.summaries import queue_rating
from handoff.tickets import ClaimResult, HandoffStore, Ticket, TicketState
from handoff.vocab import (
    EXPERT_OUTCOMES,
    PROFESSIONAL_SECTORS,
    VOLUNTEER_SECTORS,
    Outcome,
    Province,
    Sector,
    parse_ticket_id,
    parse_user_id,
)
from knowledge.topics import Topic

log = logging.getLogger(__name__)

MAX_COMMENT = 1000
MAX_NOTE = 300
# Questions count as one session when no more than this lies between them.
SESSION_GAP_SECONDS = 45 * 60
DEFAULT_TOPIC = "signals"
_ACTIVE = frozenset({TicketState.ACTIVE})
_HELD = frozenset({TicketState.ACTIVE, TicketState.ENDED})  # ended: awaiting the summary


@dataclass(frozen=True, slots=True)
class Route:
    """What one read tells about a person before their plain message is routed."""

    expert: bool
    mode: str | None
    has_ticket: bool

    @property
    def new_question(self) -> bool:
        """Not an expert, no step under way, no open request: a new question."""
        return not self.expert and not self.has_ticket and self.mode in (
            None, "", Mode.IDLE.value)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """When the sweep acts, in seconds."""

    unclaimed_alert: float
    remind: float
    requeue: float
    idle: float
    summary: float  # an ended conversation without the expert's summary closes after this


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether an expert can be expected soon."""

    open_now: bool
    back_at: datetime | None  # next opening when closed
    experts_available: int


@dataclass(frozen=True, slots=True)
class Triaged:
    """What the knowledge side found for the asker's latest questions (for the ticket)."""

    topic: str
    urgent: bool
    snippets: tuple[str, ...]  # the guidance cards the asker received, in order
    questions: tuple[str, ...]  # this session's questions, oldest first
    votes: Mapping[str, bool] = field(default_factory=dict)  # card -> marked 'helps'


@dataclass(frozen=True, slots=True)
class Routing:
    """Where an expert's plain messages go from now on, told with every change to it.

    `active`: the conversation they go to (None: nothing is sent until the expert chooses);
    `held`: every conversation the expert holds; `switched`: `active` changed just now."""

    active: Ticket | None
    held: tuple[Ticket, ...]
    switched: bool


def looks_like_question(text: str) -> bool:
    """A text after the rating prompt that reads as a new question rather than a comment."""
    stripped = text.strip()
    return ("?" in stripped and len(stripped) > 25) or len(stripped) > 400


class HandoffService:
    """Queue, intake, claim, relay, transfer, close, rating, forgetting and the sweep."""

    def __init__(self, redis: Redis, tickets: HandoffStore, experts: ExpertStore,
                 states: StateStore, sessions: SessionStore, office_hours: OfficeHours,
                 zone: ZoneInfo, timeouts: Timeouts, admin_ids: Iterable[int],
                 topic_snippets: Callable[[str], list[str]],
                 resolve_snippet: Callable[[str], str | None]) -> None:
        self.redis = redis
        self.tickets = tickets
        self.experts = experts
        self.states = states
        self.sessions = sessions
        self.office_hours = office_hours
        self.zone = zone
        self.timeouts = timeouts
        self.admin_ids = tuple(admin_ids)
        self.topic_snippets = topic_snippets
        self.resolve_snippet = resolve_snippet

    @property
    def clock(self) -> Callable[[], float]:
        """The service's clock (the ticket store's)."""
        return self.tickets.clock

    # -- who is who ----------------------------------------------------------------------

    async def is_expert(self, user_id: int) -> bool:
        """The one answer to 'is this person an expert': membership of the pool."""
        return await self.experts.is_expert(user_id)

    async def in_conversation(self, user_id: int) -> bool:
        """Whether someone is in (or waiting for) a conversation: an open request as an asker,
        or a conversation held as an expert."""
        return (await self.tickets.ticket_of_user(user_id) is not None
                or bool(await self.tickets.active_for_expert(user_id)))

    def may_manage_pool(self, actor: int | None) -> bool:
        """Coordinators (admins) manage the expert pool; None is the server's operator (the
        command line), who manages it too."""
        return actor is None or actor in self.admin_ids

    async def may_see_dashboard(self, user_id: int) -> bool:
        """The dashboard is for coordinators and the pool's experts (checked at every
        request: someone removed from the pool loses it at once)."""
        return user_id in self.admin_ids or await self.is_expert(user_id)

    async def may_write_fast(self, user_id: int) -> bool:
        """Whether flood control lets this person write fast: an expert, or an asker in a
        conversation with one. Their messages go to a person, not to triage, and dropping
        them would lose part of the conversation; anyone else above the rate gets a notice
        and their surplus is dropped."""
        if await self.is_expert(user_id):
            return True
        ticket = await self.tickets.ticket_of_user(user_id)
        return ticket is not None and ticket.state is TicketState.ACTIVE

    async def create_invite(self, actor: int | None, display_name: str,
                            expertise: Iterable[str],
                            languages: Iterable[str] = ("nl", "en")) -> str | Refusal:
        """A single-use expert invite; only coordinators (admins) may create one."""
        if not self.may_manage_pool(actor):
            log.warning("refused invite from a non-admin")
            return Refusal.NOT_ADMIN
        try:
            return await self.experts.create_invite(display_name, tuple(expertise),
                                                    tuple(languages))
        except NameTaken:
            return Refusal.NAME_TAKEN

    async def pause_expert(self, actor: int | None, expert_id: int) -> Result:
        """A coordinator takes an expert off duty (they keep what they hold)."""
        if not self.may_manage_pool(actor):
            return Result.refuse(Refusal.NOT_ADMIN)
        return await self.set_available(expert_id, False)

    async def availability(self) -> Availability:
        """Office hours now and how many experts are on duty."""
        now = datetime.fromtimestamp(self.clock(), self.zone)
        open_now = self.office_hours.is_open(now)
        on_duty = sum(1 for e in await self.experts.list() if e.available)
        return Availability(open_now, None if open_now else self.office_hours.next_open(now),
                            on_duty)

    # -- intake and queue ----------------------------------------------------------------

    async def begin_intake(self, user_id: int, volunteer: bool, topic: str = "") -> Result:
        """/expert: say what will happen now, then ask the first intake question. `topic`:
        that of the question being handed off (the latest one now); the conversation keeps
        it, whatever the asker asks during the intake."""
        if await self.is_expert(user_id):
            return Result.refuse(Refusal.IS_EXPERT)
        ticket = await self.tickets.ticket_of_user(user_id)
        if ticket is not None:
            return Result().add(await self.status_notice(ticket))
        await self.sessions.take_intake(user_id)  # a fresh start
        if topic:
            await self.sessions.set_intake(user_id, "topic", topic)
        await self.states.set_step(user_id, Mode.INTAKE)
        return Result().add(Notice(user_id, Kind.INTAKE_START, params={
            "availability": await self.availability(),
            "sectors": VOLUNTEER_SECTORS if volunteer else PROFESSIONAL_SECTORS,
            "volunteer": volunteer}))

    async def intake_answer(self, user_id: int, step: str, value: str, lang: str,
                            triaged: Callable[[], Triaged] | Triaged) -> Result:
        """Sector, then province, then consent; consent queues the ticket."""
        state = await self.states.get(user_id)
        if state.mode is not Mode.INTAKE:
            open_ticket = await self.tickets.ticket_of_user(user_id)
            if open_ticket is not None:
                return Result(refused=Refusal.STALE).add(await self.status_notice(open_ticket))
            return Result.refuse(Refusal.STALE)
        answers = await self.sessions.intake(user_id)
        if step == "s" and value in Sector.__members__.values():
            await self.sessions.set_intake(user_id, "sector", value)
            return Result().add(Notice(user_id, Kind.INTAKE_REGION, replace=True,
                                       params={"provinces": tuple(Province)}))
        if step == "r" and value in Province.__members__.values() and "sector" in answers:
            await self.sessions.set_intake(user_id, "region", value)
            return Result().add(Notice(user_id, Kind.INTAKE_CONSENT, replace=True))
        if step == "c" and value in ("0", "1"):
            answers = await self.sessions.take_intake(user_id)
            await self.states.clear_step(user_id)
            if value == "0":
                return Result().add(Notice(user_id, Kind.INTAKE_DECLINED, replace=True))
            if "sector" not in answers or "region" not in answers:
                return Result().add(Notice(user_id, Kind.INTAKE_EXPIRED, replace=True))
            found = triaged if isinstance(triaged, Triaged) else triaged()
            if answers.get("topic"):
                found = replace(found, topic=answers["topic"])
            return await self._queue(user_id, lang, Sector(answers["sector"]),
                                     Province(answers["region"]), found)
        return Result.refuse(Refusal.INVALID)

    async def _queue(self, user_id: int, lang: str, sector: Sector, region: Province,
                     found: Triaged) -> Result:
        ticket = await self.tickets.open(user_id, lang, found.topic or DEFAULT_TOPIC,
                                         sector.value, region.value, found.urgent,
                                         found.snippets, found.votes)
        if not await self.tickets.transcript(ticket.id):
            for question in found.questions:
                await self.tickets.add_message(ticket.id, "user", question)
        log.info("ticket queued ticket=%s urgent=%s", ticket.id, ticket.urgent)
        result = Result().add(await self.status_notice(ticket))
        position = await self.tickets.position(ticket.id)
        if position is not None:
            await self.sessions.position_changed(ticket.id, position)
        return result.add(*await self._announce(ticket))

    async def status_notice(self, ticket: Ticket) -> Notice:
        """Where an asker's request stands, with an honest estimate."""
        if ticket.state is TicketState.ACTIVE and ticket.expert_id is not None:
            expert = await self.experts.get(ticket.expert_id)
            return Notice(ticket.user_id, Kind.STATUS, ticket, {
                "expert_name": expert.display_name if expert else None})
        position = await self.tickets.position(ticket.id) or 1
        typical = await self.sessions.typical_wait()
        return Notice(ticket.user_id, Kind.STATUS, ticket, {
            "position": position, "availability": await self.availability(),
            "wait_seconds": None if typical is None else typical * position})

    async def _announce(self, ticket: Ticket) -> list[Notice]:
        return [Notice(expert.expert_id, Kind.ANNOUNCE, ticket)
                for expert in await self.experts.available_matching(ticket.topic, ticket.lang)]

    async def position_notices(self) -> list[Notice]:
        """Tell waiting askers their new place when it moved."""
        notices = []
        for index, ticket in enumerate(await self.tickets.queue(), start=1):
            if await self.sessions.position_changed(ticket.id, index):
                notices.append(Notice(ticket.user_id, Kind.POSITION, ticket,
                                      {"position": index}))
        return notices

    # -- the expert pool -----------------------------------------------------------------

    async def _expert(self, actor: int) -> Expert | None:
        return await self.experts.get(actor)

    async def set_available(self, actor: int, available: bool) -> Result:
        """/beschikbaar and /pauze."""
        if not await self.experts.set_available(actor, available):
            return Result.refuse(Refusal.NOT_EXPERT)
        if not available:
            return Result().add(Notice(actor, Kind.AWAY))
        return Result().add(Notice(actor, Kind.AVAILABLE, params={
            "waiting": len(await self.tickets.queue())}))

    async def queue_list(self, actor: int) -> Result:
        """/wachtrij: the waiting tickets, for experts only."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        waiting = await self.tickets.queue()
        if not waiting:
            return Result().add(Notice(actor, Kind.QUEUE_EMPTY))
        return Result().add(Notice(actor, Kind.QUEUE_LIST, params={"tickets": waiting}))

    async def remove_expert(self, expert_id: int, actor: int | None = None) -> Result:
        """Take someone out of the pool everywhere: their conversations go back to the front
        of the queue (askers are told), ended ones are closed, then the profile goes. Only
        a coordinator (or the operator, `actor` None) may."""
        if not self.may_manage_pool(actor):
            return Result.refuse(Refusal.NOT_ADMIN)
        result = await self._requeue_held(expert_id)
        for ticket in await self.tickets.ended_for_expert(expert_id):
            await self.tickets.close(ticket.id, "", Outcome.UNSUMMARISED.value, "expert_removed")
        removed = await self.experts.remove(expert_id)
        await self.states.forget(expert_id)
        if not removed:
            return Result.refuse(Refusal.NOT_EXPERT) if not result.notices else result
        log.info("expert removed; %d conversations requeued", len(result.notices))
        result.add(Notice(expert_id, Kind.REMOVED_FROM_POOL))
        return result.add(*await self.position_notices())

    async def _requeue_held(self, expert_id: int) -> Result:
        """An expert's conversations back to the front of the queue, their askers told and the
        other experts shown them."""
        result = Result()
        for ticket in await self.tickets.active_for_expert(expert_id):
            moved = await self.tickets.requeue(ticket.id, None)
            if moved is not None:
                result.add(Notice(moved.user_id, Kind.REQUEUED_EXPERT_LEFT, moved))
                result.add(*await self._announce_without(moved, expert_id))
        return result

    async def _announce_without(self, ticket: Ticket, expert_id: int) -> list[Notice]:
        return [n for n in await self._announce(ticket) if n.to != expert_id]

    # -- claiming ------------------------------------------------------------------------

    async def claim(self, actor: int, ticket_id: str) -> Result:
        """The Claim button: exactly one expert wins; a replay tells the real state."""
        expert = await self._expert(actor)
        if expert is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        tid = parse_ticket_id(ticket_id)
        before = await self.tickets.get(tid) if tid else None
        if before is None or before.state not in (TicketState.QUEUED, TicketState.ACTIVE):
            return Result.refuse(Refusal.GONE)
        if before.state is TicketState.ACTIVE:
            return Result.refuse(Refusal.NOT_WAITING if before.expert_id == actor
                                 else Refusal.TAKEN)
        outcome = await self.tickets.claim(before.id, actor, expert.max_conversations)
        if outcome is ClaimResult.OK:
            log.info("ticket claimed ticket=%s", before.id)
            return await self._after_claim(before.id, expert)
        return Result.refuse({ClaimResult.TAKEN: Refusal.TAKEN, ClaimResult.FULL: Refusal.FULL
                              }.get(outcome, Refusal.GONE))

    async def claim_next(self, actor: int) -> Result:
        """/volgende: the best waiting ticket for this expert."""
        expert = await self._expert(actor)
        if expert is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket = await self.tickets.claim_next(actor, expert.expertise, expert.languages,
                                               expert.max_conversations)
        if ticket is None:
            full = len(await self.tickets.active_for_expert(actor)) >= expert.max_conversations
            return Result().add(Notice(actor, Kind.FULL if full else Kind.QUEUE_EMPTY))
        return await self._after_claim(ticket.id, expert)

    async def _after_claim(self, ticket_id: str, expert: Expert) -> Result:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return Result.refuse(Refusal.GONE)
        # Claiming is the expert's own choice to answer this asker now: plain messages go
        # here from now on, and the card says so (and how to switch back).
        routing = await self._switch_to(expert.expert_id, ticket)
        await self.sessions.drop_position(ticket.id)
        await self.sessions.record_wait(self.clock() - ticket.queued_at)
        result = Result().add(await self._card(expert.expert_id, ticket, routing))
        unreachable = Notice(expert.expert_id, Kind.ASKER_UNREACHABLE, ticket)
        if ticket.requeues == 0:
            result.add(Notice(ticket.user_id, Kind.CLAIMED, ticket,
                              {"expert_name": expert.display_name}, failed=unreachable))
        else:
            result.add(Notice(ticket.user_id, Kind.TAKEN_OVER, ticket,
                              {"expert_name": expert.display_name}, failed=unreachable))
        return result.add(*await self.position_notices())

    async def _card(self, expert_id: int, ticket: Ticket, routing: Routing) -> Notice:
        previous = None
        if ticket.previous_expert_id is not None:
            before = await self.experts.get(ticket.previous_expert_id)
            previous = before.display_name if before else None
        return Notice(expert_id, Kind.CARD, ticket, {
            "transcript": await self.tickets.transcript(ticket.id),
            "previous_expert": previous, "now": self.clock(), "routing": routing})

    # -- where plain messages go ---------------------------------------------------------

    async def _held_now(self, actor: int) -> list[Ticket]:
        """The conversations the expert holds and may write in (active, theirs)."""
        return [t for t in await self.tickets.active_for_expert(actor)
                if t.state is TicketState.ACTIVE and t.expert_id == actor]

    async def _switch_to(self, actor: int, ticket: Ticket) -> Routing:
        """Make `ticket` the one plain messages go to."""
        before = (await self.states.get(actor)).active
        await self.states.set_active(actor, ticket.id)
        return Routing(ticket, tuple(await self._held_now(actor)), before != ticket.id)

    async def _receive(self, actor: int, ticket: Ticket) -> Routing:
        """A conversation arrives that the expert did not choose (a transfer): it becomes
        the active one only if nothing else is; the card says where messages go."""
        held = await self._held_now(actor)
        active = (await self.states.get(actor)).active
        current = next((t for t in held if t.id == active and t.id != ticket.id), None)
        if current is not None:
            return Routing(current, tuple(held), False)
        return await self._switch_to(actor, ticket)

    async def _left(self, actor: int, ticket_id: str) -> Routing | None:
        """A conversation is no longer the expert's to write in. If it was the active one,
        the one left (if exactly one) becomes active, or the expert must choose; the
        notice about it carries the new routing. None: where messages go did not change."""
        state = await self.states.get(actor)
        if state.active != ticket_id:
            return None
        await self.states.drop_active(actor, ticket_id)
        held = await self._held_now(actor)
        if len(held) == 1:
            await self.states.set_active(actor, held[0].id)
            return Routing(held[0], tuple(held), True)
        return Routing(None, tuple(held), True)

    @staticmethod
    def _routed(routing: Routing | None) -> dict[str, object]:
        return {} if routing is None else {"routing": routing}

    # -- choosing the conversation -------------------------------------------------------

    async def conversations(self, actor: int) -> Result:
        """/gesprekken: the expert's conversations, with the active one marked, and those the
        asker ended that wait for the expert's summary."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        held = await self.tickets.active_for_expert(actor)
        ended = await self.tickets.ended_for_expert(actor)
        if not held and not ended:
            return Result().add(Notice(actor, Kind.NO_CONVERSATION))
        state = await self.states.get(actor)
        return Result().add(Notice(actor, Kind.CONVERSATIONS, params={
            "tickets": held, "ended": ended, "active": state.active}))

    async def _held(self, actor: int, ticket_id: str, states: frozenset[TicketState],
                    what: str) -> Ticket | Refusal:
        """The ticket named by a button, if the actor holds it in one of `states`."""
        tid = parse_ticket_id(ticket_id)
        ticket = await self.tickets.get(tid) if tid else None
        if ticket is None or ticket.state not in states:
            return Refusal.GONE
        if ticket.expert_id != actor:
            log.warning("refused %s of a foreign ticket", what)
            return Refusal.NOT_YOURS
        return ticket

    async def pick(self, actor: int, ticket_id: str) -> Result:
        """Switch the conversation plain messages go to."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket = await self._held(actor, ticket_id, _ACTIVE, "pick")
        if isinstance(ticket, Refusal):
            return Result.refuse(ticket)
        routing = await self._switch_to(actor, ticket)
        return Result().add(Notice(actor, Kind.SWITCHED, ticket, {"routing": routing},
                                   replace=True))

    async def _target(self, actor: int, reply_to: int | None = None,
                      held: list[Ticket] | None = None) -> tuple[Ticket | None, Result | None]:
        """The conversation an expert's message or command is about, or what to say instead
        (`held`: the expert's conversations, if the caller already read them).

        A reply goes to the conversation of the replied-to asker message or nowhere; a plain
        message to the active conversation the desk announced or nowhere. Never a guess."""
        if held is None:
            held = await self._held_now(actor)
        if reply_to is not None:
            replied = await self.redis.get(keys.delivery(actor, reply_to))
            if not replied:
                # A card, a notice, or the expert's own message: which asker is meant?
                return None, Result().add(
                    Notice(actor, Kind.PICK_CONVERSATION,
                           params={"tickets": held, "reason": "not_relayed"})
                    if held else Notice(actor, Kind.NO_CONVERSATION))
            for ticket in held:
                if ticket.id == replied:
                    return ticket, None
            return None, Result().add(await self._not_held(actor, replied))
        if not held:
            return None, Result().add(Notice(actor, Kind.NO_CONVERSATION))
        state = await self.states.get(actor)
        for ticket in held:
            if ticket.id == state.active:
                return ticket, None
        return None, Result().add(Notice(actor, Kind.PICK_CONVERSATION,
                                         params={"tickets": held}))

    async def _not_held(self, actor: int, ticket_id: str) -> Notice:
        """Why a reply to that conversation's asker was not sent: its real state."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            where = "gone"
        elif ticket.state is TicketState.ACTIVE:
            where = "other_expert"
        else:
            where = {TicketState.QUEUED: "queued", TicketState.ENDED: "ended",
                     TicketState.CLOSED: "closed", TicketState.CANCELLED: "cancelled"
                     }[ticket.state]
        log.info("reply to a conversation the expert no longer holds (%s)", where)
        return Notice(actor, Kind.REPLY_NOT_HELD, params={"ticket_id": ticket_id,
                                                          "state": where})

    async def remember_delivery(self, expert_id: int, message_id: int, ticket_id: str) -> None:
        """A message shown to an expert belongs to this conversation (for reply-to)."""
        await self.redis.set(keys.delivery(expert_id, message_id), ticket_id,
                             ex=self.tickets.transcript_ttl)

    # -- relaying ------------------------------------------------------------------------

    async def text(self, user_id: int, text: str, reply_to: int | None = None,
                   route: Route | None = None) -> Result | None:
        """Any plain message: an expert's step or reply, an asker's comment or message in a
        conversation; None: it is a new question.

        One read tells most messages apart: a non-expert with no step under way and no open
        request is asking a new question. `route` is that read when the caller already made
        it in the same update (batched with the profile). Anyone else goes through the
        operation that fits, which checks its own preconditions as always."""
        if route is None:
            batch = Batch()
            self.queue_route(batch, user_id)
            route = self.route(await batch.run(self.redis))
        if route.expert:
            return await self.expert_text(user_id, text, reply_to)
        if route.new_question:
            return None
        return await self.asker_text(user_id, text)

    @staticmethod
    def queue_route(batch: Batch, user_id: int) -> None:
        """The read `text` routes by, for a caller that batches it with its own reads
        (three replies, which `route` reads)."""
        batch.sismember(keys.experts(), user_id)
        batch.hget(keys.person_state(user_id), "mode")
        batch.exists(keys.user_ticket(user_id))

    @staticmethod
    def route(replies: list[object]) -> Route:
        """The `Route` from the three replies of `queue_route`."""
        expert, mode, has_ticket = replies
        return Route(bool(expert), mode if isinstance(mode, str) else None, bool(has_ticket))

    async def asker_text(self, user_id: int, text: str) -> Result | None:
        """A plain message from someone who is not an expert; None: it is a new question."""
        state = await self.states.get(user_id)
        if state.mode is Mode.COMMENTING and state.ticket:
            fresh = self.clock() - state.since <= COMMENT_WINDOW_SECONDS
            await self.states.clear_step(user_id)
            if fresh and not looks_like_question(text):
                await queue_rating(self.redis, state.ticket, comment=text[:MAX_COMMENT])
                return Result().add(Notice(user_id, Kind.COMMENT_SAVED))
        elif state.mode is Mode.RATING:
            await self.states.clear_step(user_id)  # the rating buttons stay valid
        ticket = await self.tickets.ticket_of_user(user_id)
        if ticket is None:
            return None
        appended = await self.tickets.add_message(ticket.id, "user", text)
        if appended is None:
            return None
        # The expert who holds it at the moment of the append gets it (not the one read
        # before: a transfer may have happened in between).
        if appended.expert_id is None:
            return Result().add(Notice(user_id, Kind.ADDED, ticket))
        return Result().add(Notice(appended.expert_id, Kind.FROM_ASKER, ticket, {"text": text},
                                   failed=Notice(user_id, Kind.NOT_DELIVERED, ticket)))

    async def expert_text(self, actor: int, text: str, reply_to: int | None = None) -> Result:
        """A plain message from an expert: a step's answer, or a reply to an asker."""
        expert = await self._expert(actor)
        if expert is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        state = await self.states.get(actor)
        if state.mode is Mode.SUMMARY and state.ticket:
            return await self._close_with_summary(actor, state.ticket, state.outcome or "", text)
        if state.mode is Mode.NOTE and state.ticket:
            return await self._note_written(actor, state.ticket, text)
        if state.mode in EXPERT_STEPS:
            return Result().add(Notice(actor, Kind.FINISH_STEP_FIRST, params={
                "mode": state.mode}))
        held = await self._held_now(actor)
        ticket, instead = await self._target(actor, reply_to, held)
        if ticket is None:
            return instead or Result()
        # The append checks, in the same step, that the expert still holds the conversation:
        # a transfer or close in between means nothing is sent.
        if not await self.tickets.add_message(ticket.id, "expert", text, held_by=actor):
            return Result().add(await self._not_held(actor, ticket.id))
        several = len(held) > 1
        return Result().add(Notice(
            ticket.user_id, Kind.FROM_EXPERT, ticket,
            {"expert_name": expert.display_name, "text": text},
            failed=Notice(actor, Kind.NOT_DELIVERED, ticket),
            then=Notice(actor, Kind.RECEIPT, ticket) if several else None))

    # -- closing -------------------------------------------------------------------------

    async def start_close(self, actor: int, reply_to: int | None = None) -> Result:
        """/sluit: ask the outcome of the current conversation (or, sent as a reply to an
        asker's message, of that asker's)."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket, instead = await self._target(actor, reply_to)
        if ticket is None:
            return instead or Result()
        await self.states.set_step(actor, Mode.CLOSING, ticket.id)
        return Result().add(Notice(actor, Kind.OUTCOME_PROMPT, ticket,
                                   {"outcomes": EXPERT_OUTCOMES}))

    async def choose_outcome(self, actor: int, ticket_id: str, outcome: str) -> Result:
        """An outcome button: only for the closing step of a conversation the actor holds."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket = await self._held(actor, ticket_id, _HELD, "outcome")
        if isinstance(ticket, Refusal):
            return Result.refuse(ticket)
        if outcome not in {o.value for o in EXPERT_OUTCOMES}:
            return Result.refuse(Refusal.INVALID)
        state = await self.states.get(actor)
        # An active conversation is closed only from /sluit's step; an ended one is waiting
        # for exactly this, so its prompt's buttons stay valid until the summary is in.
        if ticket.state is TicketState.ACTIVE and not (
                state.mode is Mode.CLOSING and state.ticket == ticket.id):
            return Result.refuse(Refusal.STALE)
        await self.states.set_step(actor, Mode.SUMMARY, ticket.id, outcome=outcome)
        return Result().add(Notice(actor, Kind.SUMMARY_PROMPT, ticket, replace=True))

    async def choose_topic(self, actor: int, ticket_id: str, topic: str) -> Result:
        """A topic button of the summary step: the conversation is filed under this topic
        (the one handed off is offered first, to confirm or change)."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket = await self._held(actor, ticket_id, _HELD, "topic")
        if isinstance(ticket, Refusal):
            return Result.refuse(ticket)
        if topic not in Topic.__members__.values():
            return Result.refuse(Refusal.INVALID)
        state = await self.states.get(actor)
        if not (state.mode is Mode.SUMMARY and state.ticket == ticket.id):
            return Result.refuse(Refusal.STALE)
        changed = await self.tickets.set_topic(ticket.id, actor, topic)
        if changed is None:
            return Result.refuse(Refusal.STALE)
        log.info("conversation topic set ticket=%s topic=%s", ticket.id, topic)
        return Result().add(Notice(actor, Kind.SUMMARY_PROMPT, changed, replace=True))

    async def _close_with_summary(self, actor: int, ticket_id: str, outcome: str,
                                  summary: str) -> Result:
        await self.states.clear_step(actor)
        ticket = await self.tickets.get(ticket_id)
        if (ticket is None or ticket.expert_id != actor
                or ticket.state not in (TicketState.ACTIVE, TicketState.ENDED)):
            # The conversation moved on meanwhile (requeued, taken, closed): nothing is sent.
            return Result().add(Notice(actor, Kind.STEP_STALE))
        was_active = ticket.state is TicketState.ACTIVE
        closed = await self.tickets.close(ticket.id, summary, outcome, "expert")
        if closed is None:
            return Result().add(Notice(actor, Kind.STEP_STALE))
        routing = await self._left(actor, ticket.id)
        await self.sessions.drop_position(ticket.id)
        log.info("ticket closed ticket=%s outcome=%s", ticket.id, outcome)
        result = Result().add(Notice(actor, Kind.CLOSED, closed, self._routed(routing)))
        if was_active:
            result.add(*await self._ask_rating(closed, by_expert=True))
        return result

    async def _ask_rating(self, ticket: Ticket, by_expert: bool) -> list[Notice]:
        if (await self.states.get(ticket.user_id)).mode is Mode.IDLE:
            await self.states.set_step(ticket.user_id, Mode.RATING, ticket.id)
        return [Notice(ticket.user_id, Kind.RATE_PROMPT, ticket, {"by_expert": by_expert})]

    async def asker_stop(self, user_id: int) -> Result:
        """/stop: cancel a queued request, or end a conversation (rating and summary follow)."""
        ticket = await self.tickets.ticket_of_user(user_id)
        if ticket is None:
            return Result().add(Notice(user_id, Kind.NO_REQUEST))
        if ticket.state is TicketState.QUEUED:
            cancelled = await self.tickets.cancel(ticket.id)
            await self.sessions.drop_position(ticket.id)
            if cancelled is None:
                return Result().add(Notice(user_id, Kind.NO_REQUEST))
            return Result().add(Notice(user_id, Kind.CANCELLED, cancelled),
                                *await self.position_notices())
        ended = await self.tickets.end(ticket.id, "asker")
        if ended is None or ended.expert_id is None:
            return Result().add(Notice(user_id, Kind.NO_REQUEST))
        expert_id = ended.expert_id
        routing = await self._left(expert_id, ended.id)
        if (await self.states.get(expert_id)).mode is Mode.IDLE:
            await self.states.set_step(expert_id, Mode.CLOSING, ended.id)
        log.info("conversation ended by the asker ticket=%s", ended.id)
        return Result().add(
            Notice(user_id, Kind.YOU_ENDED, ended),
            *await self._ask_rating(ended, by_expert=False),
            Notice(expert_id, Kind.ASKER_ENDED, ended, self._routed(routing)),
            Notice(expert_id, Kind.OUTCOME_PROMPT, ended, {"outcomes": EXPERT_OUTCOMES}))

    async def blocked(self, user_id: int) -> Result:
        """Someone blocked the bot (or a send to them failed with 403): nothing reaches them
        any more, so an asker's request ends as by /stop and an expert is paused, their
        conversations back at the front of the queue and the coordinators told."""
        if await self.is_expert(user_id):
            return await self._expert_blocked(user_id)
        ticket = await self.tickets.ticket_of_user(user_id)
        if ticket is None:
            return Result()
        stopped = await self.asker_stop(user_id)
        await self.states.forget(user_id)  # no rating is asked of someone unreachable
        log.info("asker blocked the bot; request ended ticket=%s", ticket.id)
        return Result([
            Notice(n.to, Kind.ASKER_BLOCKED, n.ticket, n.params) if n.kind is Kind.ASKER_ENDED
            else n
            for n in stopped.notices if n.to != user_id])

    async def _expert_blocked(self, expert_id: int) -> Result:
        await self.experts.set_available(expert_id, False)
        result = await self._requeue_held(expert_id)
        expert = await self.experts.get(expert_id)
        name = expert.display_name if expert is not None else "?"  # removed meanwhile
        requeued = sum(1 for n in result.notices if n.kind is Kind.REQUEUED_EXPERT_LEFT)
        log.info("expert blocked the bot; paused, %d conversations requeued", requeued)
        result.add(*(Notice(admin, Kind.EXPERT_BLOCKED, params={
            "name": name, "requeued": requeued})
            for admin in self.admin_ids if admin != expert_id))
        return result.add(*await self.position_notices())

    # -- rating --------------------------------------------------------------------------

    async def rate(self, user_id: int, ticket_id: str, value: str) -> Result:
        """A rating button: once per conversation, by its asker, after it ended."""
        tid = parse_ticket_id(ticket_id)
        if tid is None or len(value) != 1 or value not in "12345":
            return Result.refuse(Refusal.INVALID)
        outcome = await self.tickets.rate_once(tid, user_id)
        if outcome == "again":
            return Result.refuse(Refusal.ALREADY_RATED)
        if outcome != "ok":
            log.warning("refused rating (%s)", outcome)
            return Result.refuse(Refusal.INVALID)
        await queue_rating(self.redis, tid, rating=int(value))
        await self.states.set_step(user_id, Mode.COMMENTING, tid)
        return Result().add(Notice(user_id, Kind.RATED, params={"rating": int(value)},
                                   replace=True))

    async def skip_comment(self, user_id: int) -> Result:
        """/skip or the 'no comment' button."""
        await self.states.clear_step(user_id)
        return Result().add(Notice(user_id, Kind.COMMENT_SKIPPED))

    # -- transfer ------------------------------------------------------------------------

    async def start_transfer(self, actor: int, note: str | None,
                             reply_to: int | None = None) -> Result:
        """/overdragen [note]: ask for a note if none was given, then where to (the current
        conversation, or the replied-to asker's)."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket, instead = await self._target(actor, reply_to)
        if ticket is None:
            return instead or Result()
        if not note:
            await self.states.set_step(actor, Mode.NOTE, ticket.id)
            return Result().add(Notice(actor, Kind.NOTE_PROMPT, ticket))
        return await self._note_written(actor, ticket.id, note)

    async def _note_written(self, actor: int, ticket_id: str, note: str) -> Result:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None or ticket.state is not TicketState.ACTIVE or ticket.expert_id != actor:
            await self.states.clear_step(actor)
            return Result().add(Notice(actor, Kind.STEP_STALE))
        await self.states.set_step(actor, Mode.TRANSFER, ticket.id, note=note[:MAX_NOTE])
        targets = [e for e in await self.experts.list()
                   if e.available and e.expert_id != actor]
        return Result().add(Notice(actor, Kind.TRANSFER_TARGETS, ticket, {"targets": targets}))

    async def choose_transfer(self, actor: int, ticket_id: str, target: str) -> Result:
        """A transfer button: back to the queue, or to another available expert."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket = await self._held(actor, ticket_id, _ACTIVE, "transfer")
        if isinstance(ticket, Refusal):
            return Result.refuse(ticket)
        state = await self.states.get(actor)
        if state.mode is not Mode.TRANSFER or state.ticket != ticket.id:
            return Result.refuse(Refusal.STALE)
        note = state.note or None
        if target == "q":
            moved = await self.tickets.requeue(ticket.id, note)
            if moved is None:
                return Result.refuse(Refusal.GONE)
            await self.states.clear_step(actor)
            routing = await self._left(actor, ticket.id)
            return Result().add(
                Notice(actor, Kind.RETURNED_TO_QUEUE, moved, self._routed(routing),
                       replace=True),
                Notice(moved.user_id, Kind.REQUEUED_BY_EXPERT, moved),
                *await self._announce_without(moved, actor),
                *await self.position_notices())
        target_id = parse_user_id(target)
        other = await self.experts.get(target_id) if target_id is not None else None
        if other is None or other.expert_id == actor or not other.available:
            return Result.refuse(Refusal.TARGET_UNAVAILABLE)
        outcome = await self.tickets.transfer(ticket.id, other.expert_id,
                                              other.max_conversations, note)
        if outcome is not ClaimResult.OK:
            return Result.refuse(Refusal.TARGET_UNAVAILABLE if outcome is ClaimResult.FULL
                                 else Refusal.GONE)
        await self.states.clear_step(actor)
        routing = await self._left(actor, ticket.id)
        moved = await self.tickets.get(ticket.id)
        assert moved is not None
        log.info("ticket transferred ticket=%s", moved.id)
        return Result().add(
            Notice(actor, Kind.TRANSFERRED, moved,
                   {"to_name": other.display_name, **self._routed(routing)}, replace=True),
            await self._card(other.expert_id, moved,
                             await self._receive(other.expert_id, moved)),
            Notice(moved.user_id, Kind.TAKEN_OVER, moved,
                   {"expert_name": other.display_name}))

    # -- guidance from the expert --------------------------------------------------------

    async def snippet_choices(self, actor: int, reply_to: int | None = None) -> Result:
        """/snippet without an id: the snippets of the conversation's topic."""
        if await self._expert(actor) is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        ticket, instead = await self._target(actor, reply_to)
        if ticket is None:
            return instead or Result()
        return Result().add(Notice(actor, Kind.SNIPPET_CHOICES, ticket, {
            "snippets": self.topic_snippets(ticket.topic)}))

    async def send_snippet(self, actor: int, snippet_id: str, ticket_id: str | None = None,
                           reply_to: int | None = None) -> Result:
        """Send guidance to the asker, as coming from the expert."""
        expert = await self._expert(actor)
        if expert is None:
            return Result.refuse(Refusal.NOT_EXPERT)
        resolved = self.resolve_snippet(snippet_id)
        if resolved is None:
            return Result().add(Notice(actor, Kind.UNKNOWN_SNIPPET))
        if ticket_id is not None:
            held = await self._held(actor, ticket_id, _ACTIVE, "snippet")
            if isinstance(held, Refusal):
                return Result.refuse(held)
            ticket = held
        else:
            ticket, instead = await self._target(actor, reply_to)
            if ticket is None:
                return instead or Result()
        if not await self.tickets.add_message(ticket.id, "expert", f"[snippet {resolved}]",
                                              held_by=actor):
            return Result().add(await self._not_held(actor, ticket.id))
        return Result().add(
            Notice(ticket.user_id, Kind.SNIPPET_FROM_EXPERT, ticket, {
                "expert_name": expert.display_name, "snippet": resolved},
                failed=Notice(actor, Kind.NOT_DELIVERED, ticket),
                then=Notice(actor, Kind.SNIPPET_SENT, ticket, {"snippet": resolved})))

    # -- forgetting ----------------------------------------------------------------------

    async def forget(self, user_id: int) -> Result:
        """/vergeet: erase the asker's handoff data; experts holding a conversation are told."""
        result = Result()
        for ticket in await self.tickets.forget_user(user_id):
            assert ticket.expert_id is not None
            routing = await self._left(ticket.expert_id, ticket.id)
            await self.states.clear_step(ticket.expert_id, ticket.id)
            result.add(Notice(ticket.expert_id, Kind.ASKER_LEFT, ticket, self._routed(routing)))
        await self.sessions.forget(user_id)
        await self.states.forget(user_id)
        return result.add(*await self.position_notices())

    # -- the periodic sweep --------------------------------------------------------------

    async def sweep(self) -> Result:
        """Act on unclaimed, silent, idle and unsummarised conversations."""
        now = self.clock()
        t = self.timeouts
        due = await self.tickets.due(now, t.unclaimed_alert, t.remind, t.requeue, t.idle,
                                     t.summary)
        result = Result()
        if self.office_hours.is_open(datetime.fromtimestamp(now, self.zone)):
            for ticket in due.unclaimed:
                result.add(*(Notice(admin, Kind.UNCLAIMED_ALERT, ticket, {
                    "minutes": round(t.unclaimed_alert / 60)}) for admin in self.admin_ids))
        for ticket in due.remind:
            assert ticket.expert_id is not None
            result.add(Notice(ticket.expert_id, Kind.REMINDER, ticket, {
                "minutes": max(1, round((t.requeue - t.remind) / 60))}))
        for ticket in due.requeue:
            # Only the claim this sweep saw: a sweep running late (or on a second instance)
            # must not requeue a conversation another expert has claimed meanwhile.
            moved = await self.tickets.requeue(ticket.id, None, claimed_at=ticket.claimed_at)
            if moved is None or ticket.expert_id is None:
                continue
            routing = await self._left(ticket.expert_id, ticket.id)
            await self.states.clear_step(ticket.expert_id, ticket.id)
            result.add(Notice(ticket.expert_id, Kind.REQUEUED_NO_ANSWER, ticket,
                              self._routed(routing)),
                       Notice(moved.user_id, Kind.REQUEUED_SILENT, moved),
                       *await self._announce_without(moved, ticket.expert_id))
        for ticket in due.idle:
            # Only if nobody wrote (or claimed) since this sweep looked.
            closed = await self.tickets.close(ticket.id, "", Outcome.IDLE.value, "timeout",
                                              unchanged_since=ticket)
            if closed is None:
                continue
            if ticket.expert_id is not None:
                routing = await self._left(ticket.expert_id, ticket.id)
                await self.states.clear_step(ticket.expert_id, ticket.id)
                result.add(Notice(ticket.expert_id, Kind.IDLE_CLOSED_EXPERT, ticket,
                                  self._routed(routing)))
            result.add(Notice(ticket.user_id, Kind.IDLE_CLOSED_ASKER, ticket))
        for ticket in due.unsummarised:
            closed = await self.tickets.close(ticket.id, "", Outcome.UNSUMMARISED.value,
                                              "timeout")
            if closed is not None and ticket.expert_id is not None:
                await self.states.clear_step(ticket.expert_id, ticket.id)
                result.add(Notice(ticket.expert_id, Kind.UNSUMMARISED_CLOSED, ticket))
        if due.requeue:
            result.add(*await self.position_notices())
        return result
