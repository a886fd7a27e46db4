"""A stateful property test of the handoff service on the real embedded Redis: whatever experts
and askers do, in any order, an expert's text reaches exactly the asker of the conversation the
expert meant (the replied-to one, or the active one the desk last announced to them) or nobody,
and then the expert is told why; nothing ever reaches an asker whose conversation the sender
does not hold at that moment.

The machine plays the front end: it "delivers" each notice (numbering the messages an expert
receives, remembering which asker message is which, as `handlers.notify.deliver` does), keeps
the routing the desk announced to each expert, and checks every notice as it goes out.
`make test` runs a bounded number of examples; `make soak` many more."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bot.redis_server import make_client
from bot.runtime import handoff_service
from bot.settings import Settings
from handoff import tickets as tickets_module
from handoff.notices import Kind, Notice, Result
from handoff.service import HandoffService, Routing, Triaged
from handoff.states import EXPERT_STEPS
from handoff.tickets import TicketState
from knowledge.base import load_knowledge

EXPERTS = (201, 202, 203)
ASKERS = (101, 102, 103, 104, 105, 106)
# What an expert may be told instead of a relay, when nothing was sent.
REFUSALS = frozenset({Kind.PICK_CONVERSATION, Kind.NO_CONVERSATION, Kind.REPLY_NOT_HELD,
                      Kind.FINISH_STEP_FIRST, Kind.STEP_STALE})
RELAYS = frozenset({Kind.FROM_EXPERT, Kind.SNIPPET_FROM_EXPERT})
KB = load_knowledge()


class CountingSecrets:
    """Ticket ids in creation order: hypothesis replays an example and must meet the same
    state again (random ids would reorder equal-time tickets, and so every later draw)."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)

    def token_urlsafe(self, nbytes: int) -> str:
        return f"tk{next(self.counter):010d}"

    def token_hex(self, nbytes: int) -> str:
        return f"{next(self.counter):032x}"


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Seen:
    """What the front end knows of one expert's chat."""

    next_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    relayed: dict[int, str] = field(default_factory=dict)  # message id -> ticket id
    other: list[int] = field(default_factory=list)  # cards and notices
    announced: str | None = None  # the active conversation the desk last announced
    removed: bool = False


class Routing_(RuleBasedStateMachine):
    """Experts and askers doing anything, the invariant checked at every notice."""

    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        tickets_module.secrets = CountingSecrets()  # type: ignore[assignment]
        self.loop = asyncio.new_event_loop()
        self.redis = make_client(REDIS_URL)
        self.run(self.redis.flushdb())
        self.clock = Clock()
        desk = SETTINGS.model_copy(update={"office_hours": "always", "admin_ids": [999]})
        self.service: HandoffService = handoff_service(desk, self.redis, KB, self.clock)
        self.seen: dict[int, Seen] = {}
        self.askers: tuple[int, ...] = ()
        self.texts = itertools.count(1)
        self.steps = 0

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.redis.aclose(close_connection_pool=True))
        self.loop.close()
        tickets_module.secrets = secrets
        STATS["steps"] += self.steps
        STATS["examples"] += 1

    # -- the front end ---------------------------------------------------------------------

    async def _holder(self, ticket_id: str) -> int | None:
        ticket = await self.service.tickets.get(ticket_id)
        if ticket is None or ticket.state is not TicketState.ACTIVE:
            return None
        return ticket.expert_id

    def act(self, sender: int | None, operation: Coroutine[Any, Any, Result]) -> list[Notice]:
        """Run one operation of `sender` (None: the desk itself) and deliver its result."""
        return self.deliver(self.run(operation), sender)

    def deliver(self, result: Result, sender: int | None) -> list[Notice]:
        """Check and 'send' every notice; returns all that went out."""
        out: list[Notice] = []
        for notice in result.notices:
            out += self._deliver(notice, sender)
        self.steps += 1
        return out

    def _deliver(self, notice: Notice, sender: int | None) -> list[Notice]:
        if notice.kind in RELAYS:
            # Nothing reaches an asker whose conversation the sender does not hold now.
            assert notice.ticket is not None and sender is not None
            assert notice.to == notice.ticket.user_id
            assert self.run(self._holder(notice.ticket.id)) == sender, notice.kind
        if notice.kind is Kind.FROM_ASKER:
            assert notice.ticket is not None
            assert self.run(self._holder(notice.ticket.id)) == notice.to
        if notice.to in self.seen:
            seen = self.seen[notice.to]
            message_id = next(seen.next_id)
            if notice.kind is Kind.FROM_ASKER and notice.ticket is not None:
                self.run(self.service.remember_delivery(notice.to, message_id,
                                                        notice.ticket.id))
                seen.relayed[message_id] = notice.ticket.id
            else:
                seen.other.append(message_id)
            routing = notice.params.get("routing")
            if isinstance(routing, Routing):
                seen.announced = routing.active.id if routing.active is not None else None
        sent = [notice]
        if notice.then is not None:
            sent += self._deliver(notice.then, sender)
        return sent

    # -- setup ---------------------------------------------------------------------------

    @initialize(experts=st.integers(2, 3), askers=st.integers(4, 6))
    def people(self, experts: int, askers: int) -> None:
        for expert_id in EXPERTS[:experts]:
            code = self.run(self.service.experts.create_invite(
                f"Expert {expert_id}", ("signals",), ("nl", "en"), max_conversations=3))
            assert self.run(self.service.experts.redeem_invite(code, expert_id)) is not None
            self.act(expert_id, self.service.set_available(expert_id, True))
            self.seen[expert_id] = Seen()
        self.askers = ASKERS[:askers]
        for user in self.askers:  # everyone starts with a question waiting
            self._ask(user, urgent=user % 3 == 0)
        for expert_id in self.seen:  # and each expert with one conversation
            self.act(expert_id, self.service.claim_next(expert_id))

    def expert(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.seen)), label="expert")

    def asker(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(self.askers), label="asker")

    @staticmethod
    def seldom(data: st.DataObject) -> bool:
        """Whether a rule that ends conversations acts this time (one in three), so that
        conversations live long enough to be switched, replied to and moved."""
        return data.draw(st.integers(0, 2), label="act") == 0

    # -- askers ----------------------------------------------------------------------------

    @rule(target=tickets, data=st.data(), urgent=st.booleans())
    def ask(self, data: st.DataObject, urgent: bool) -> str:
        return self._ask(self.asker(data), urgent)

    def _ask(self, user: int, urgent: bool) -> str:
        service = self.service
        self.act(user, service.begin_intake(user, volunteer=False))
        self.clock.now += 1  # tickets in the order they were asked
        found = Triaged("signals", urgent, (), (f"vraag {next(self.texts)}",))
        for step, value in (("s", "onderwijs"), ("r", "Utrecht"), ("c", "1")):
            self.act(user, service.intake_answer(user, step, value, "nl", found))
        ticket = self.run(service.tickets.ticket_of_user(user))
        return ticket.id if ticket is not None else "none"

    def _in_conversation(self) -> list[int]:
        return [u for u in self.askers
                if (t := self.run(self.service.tickets.ticket_of_user(u))) is not None
                and t.state is TicketState.ACTIVE]

    @rule(data=st.data(), talking=st.booleans())
    def asker_writes(self, data: st.DataObject, talking: bool) -> None:
        """Mostly an asker in a conversation (their messages are what experts reply to)."""
        candidates = self._in_conversation() if talking else []
        user = data.draw(st.sampled_from(candidates), label="talking asker") if candidates \
            else self.asker(data)
        result = self.run(self.service.text(user, f"asker {next(self.texts)}"))
        if result is not None:
            self.deliver(result, user)

    @rule(data=st.data())
    def asker_stops(self, data: st.DataObject) -> None:
        if not self.seldom(data):
            return
        user = self.asker(data)
        self.act(user, self.service.asker_stop(user))

    @rule(data=st.data())
    def asker_forgets(self, data: st.DataObject) -> None:
        if not self.seldom(data):
            return
        user = self.asker(data)
        self.act(user, self.service.forget(user))

    # -- experts ---------------------------------------------------------------------------

    @rule(data=st.data(), ticket=tickets, twice=st.booleans())
    def claim(self, data: st.DataObject, ticket: str, twice: bool) -> None:
        """A Claim button, possibly stale, possibly pressed twice (a replayed update)."""
        actor = self.expert(data)
        for _ in range(2 if twice else 1):
            self.act(actor, self.service.claim(actor, ticket))

    @rule(data=st.data())
    def claim_waiting(self, data: st.DataObject) -> None:
        """A Claim button of a question that is waiting now."""
        waiting = self.run(self.service.tickets.queue())
        if waiting:
            actor = self.expert(data)
            ticket = data.draw(st.sampled_from([t.id for t in waiting]), label="waiting")
            self.act(actor, self.service.claim(actor, ticket))

    @rule(data=st.data())
    def claim_next(self, data: st.DataObject) -> None:
        actor = self.expert(data)
        self.act(actor, self.service.claim_next(actor))

    @rule(data=st.data(), ticket=tickets)
    def pick(self, data: st.DataObject, ticket: str) -> None:
        actor = self.expert(data)
        self.act(actor, self.service.pick(actor, ticket))

    @rule(data=st.data())
    def list_and_switch(self, data: st.DataObject) -> None:
        """/gesprekken, then a button of the list (as it was when listed)."""
        actor = self.expert(data)
        out = self.act(actor, self.service.conversations(actor))
        listed = [t for n in out if n.kind is Kind.CONVERSATIONS for t in n.params["tickets"]]
        if listed:
            choice = data.draw(st.sampled_from(listed), label="switch to")
            self.act(actor, self.service.pick(actor, choice.id))

    def _write(self, actor: int, reply_to: int | None = None) -> None:
        """The expert types a text (as a reply to `reply_to`, if given); it must reach the
        meant conversation's asker (the replied-to one, or the announced active one) or
        nobody, and then the expert is told why."""
        seen = self.seen[actor]
        meant = seen.announced if reply_to is None else seen.relayed.get(reply_to)
        mode = self.run(self.service.states.get(actor)).mode
        text = f"expert {next(self.texts)}"
        out = self.act(actor, self.service.expert_text(actor, text, reply_to))
        relays = [n for n in out if n.kind is Kind.FROM_EXPERT]
        if mode in EXPERT_STEPS or self.seen[actor].removed:
            assert not relays  # a step's answer (summary, note) or no expert any more
            return
        holder = self.run(self._holder(meant)) if meant is not None else None
        if holder == actor:
            STATS["relayed"] += 1
            assert len(relays) == 1, [n.kind for n in out]
            assert relays[0].ticket is not None and relays[0].ticket.id == meant
            assert relays[0].params["text"] == text
        else:
            STATS["refused"] += 1
            if meant is not None:
                STATS["refused_not_held"] += 1
            assert not relays, (meant, holder)
            assert any(n.kind in REFUSALS and n.to == actor for n in out), \
                [n.kind for n in out]

    @rule(data=st.data())
    def plain_text(self, data: st.DataObject) -> None:
        self._write(self.expert(data))

    @precondition(lambda self: any(s.relayed or s.other for s in self.seen.values()))
    @rule(data=st.data())
    def reply(self, data: st.DataObject) -> None:
        """A Telegram reply to any earlier message the expert got."""
        actor = self.expert(data)
        seen = self.seen[actor]
        relayed = data.draw(st.booleans(), label="to a relayed message") and seen.relayed
        earlier = sorted(seen.relayed) if relayed else sorted([*seen.relayed, *seen.other])
        if not earlier:
            return
        self._write(actor, data.draw(st.sampled_from(earlier), label="reply to"))

    @rule(data=st.data())
    def reply_to_a_conversation_that_moved(self, data: st.DataObject) -> None:
        """The busy expert's mistake: answering an old message of an asker whose conversation
        was transferred, closed, requeued or ended since."""
        actor = self.expert(data)
        seen = self.seen[actor]
        moved = sorted(m for m, t in seen.relayed.items() if self.run(self._holder(t)) != actor)
        if not moved:
            return
        self._write(actor, data.draw(st.sampled_from(moved), label="old message"))

    @rule(data=st.data(), to_queue=st.booleans())
    def transfer(self, data: st.DataObject, to_queue: bool) -> None:
        actor = self.expert(data)
        out = self.act(actor, self.service.start_transfer(actor, "notitie"))
        targets = [n for n in out if n.kind is Kind.TRANSFER_TARGETS]
        if not targets or targets[0].ticket is None:
            return
        others = [e.expert_id for e in targets[0].params["targets"]]
        target = "q" if to_queue or not others else str(data.draw(st.sampled_from(others)))
        self.act(actor, self.service.choose_transfer(
            actor, targets[0].ticket.id, target))

    @rule(data=st.data(), ticket=tickets, where=st.sampled_from(["q", "202", "203"]))
    def stale_transfer_button(self, data: st.DataObject, ticket: str, where: str) -> None:
        actor = self.expert(data)
        self.act(actor, self.service.choose_transfer(actor, ticket, where))

    @rule(data=st.data())
    def start_close(self, data: st.DataObject) -> None:
        actor = self.expert(data)
        self.act(actor, self.service.start_close(actor))

    @rule(data=st.data(), ticket=tickets)
    def outcome_button(self, data: st.DataObject, ticket: str) -> None:
        actor = self.expert(data)
        self.act(actor, self.service.choose_outcome(actor, ticket, "advice"))

    @rule(data=st.data())
    def send_snippet(self, data: st.DataObject) -> None:
        actor = self.expert(data)
        mode = self.run(self.service.states.get(actor)).mode
        meant = self.seen[actor].announced
        out = self.act(actor, self.service.send_snippet(actor, "signals-phases"))
        sent = [n for n in out if n.kind is Kind.SNIPPET_FROM_EXPERT]
        if sent:  # a command works in any step; it goes to the announced conversation only
            assert sent[0].ticket is not None and sent[0].ticket.id == meant, mode

    @rule(data=st.data())
    def remove_expert(self, data: st.DataObject) -> None:
        if not self.seldom(data):
            return
        actor = self.expert(data)
        if sum(not s.removed for s in self.seen.values()) <= 1:
            return
        self.act(None, self.service.remove_expert(actor, None))
        self.seen[actor].removed = True
        self.seen[actor].announced = None

    @rule(data=st.data(), minutes=st.sampled_from([1, 11, 21, 61, 25 * 60]))
    def sweep(self, data: st.DataObject, minutes: int) -> None:
        if minutes > 11 and not self.seldom(data):
            minutes = 1
        self.clock.now += minutes * 60
        self.act(None, self.service.sweep())

    # -- what must hold after every step --------------------------------------------------

    @invariant()
    def announced_is_where_messages_go(self) -> None:
        """The desk's active conversation is the one it last announced to the expert."""
        for expert_id, seen in self.seen.items():
            if seen.removed:
                continue
            active = self.run(self.service.states.get(expert_id)).active
            assert active == seen.announced, (expert_id, active, seen.announced)


REDIS_URL = ""
SETTINGS: Settings
STATS = {"steps": 0, "examples": 0, "relayed": 0, "refused": 0, "refused_not_held": 0}


def _run(settings_: Settings, examples: int, steps: int) -> None:
    global REDIS_URL, SETTINGS
    assert settings_.redis_url is not None
    REDIS_URL, SETTINGS = settings_.redis_url, settings_
    STATS.update(dict.fromkeys(STATS, 0))
    run_state_machine_as_test(Routing_, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    print("\nrouting state machine: {examples} examples, {steps} steps; expert texts "
          "relayed as meant {relayed}, refused {refused} (of which {refused_not_held} to a "
          "conversation no longer theirs)".format(**STATS))
    assert STATS["steps"] > examples  # the machine really ran


def test_routing_state_machine(settings: Settings) -> None:
    """A bounded run for `make test` (a few seconds)."""
    _run(settings, examples=int(os.environ.get("ROUTING_EXAMPLES", "30")), steps=40)


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_routing_state_machine_long(settings: Settings) -> None:
    """Many more examples under `make soak`."""
    _run(settings, examples=600, steps=60)
