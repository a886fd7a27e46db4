"""Handoff tickets: the queue, claims, transfers, transcripts and timeouts, atomic in Redis."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import WatchError

from handoff import handoff_keys as keys
from handoff.erasure import request_rewrite

TRANSCRIPT_TTL_SECONDS = 7 * 24 * 3600

# Queue score = band * _BAND_WIDTH + created_at. A band is wider than any Unix time in seconds,
# so urgency, then "was requeued", decide before age; doubles keep microseconds at this size.
_BAND_WIDTH = 1e10

Sender = Literal["user", "expert"]


class TicketState(StrEnum):
    """Where a ticket is in its life."""

    QUEUED = "queued"
    ACTIVE = "active"
    ENDED = "ended"  # the asker ended it; waiting for the expert's outcome and summary
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({TicketState.QUEUED, TicketState.ACTIVE})


class ClaimResult(StrEnum):
    """What came of an expert's attempt to take a ticket."""

    OK = "ok"
    TAKEN = "taken"  # another expert holds it
    GONE = "gone"  # closed, cancelled, forgotten or never existed
    FULL = "full"  # the expert already holds their maximum


@dataclass(frozen=True, slots=True)
class Ticket:
    """One user's request for an expert, as stored."""

    id: str
    user_id: int = field(repr=False)  # kept out of log lines that print a ticket
    lang: str
    topic: str
    sector: str
    region: str
    urgent: bool
    created_at: float
    state: TicketState
    expert_id: int | None
    claimed_at: float | None  # when the current expert got it (claim or transfer)
    last_user_at: float | None
    last_expert_at: float | None
    snippets: tuple[str, ...]  # the guidance cards the asker received before, in order
    note: str | None
    requeues: int
    queued_at: float  # when it last entered the queue; the unclaimed alert counts from here
    closed_at: float | None
    ended_by: str | None = None  # who ended an ENDED/CLOSED conversation
    previous_expert_id: int | None = None  # who held it before a transfer
    rated: bool = False
    ended_at: float | None = None
    votes: Mapping[str, bool] = field(default_factory=dict)  # card -> the asker: 'helps'

    @property
    def is_open(self) -> bool:
        """Queued or active."""
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class Appended:
    """A message was added to a conversation; `expert_id` holds it now (None: queued)."""

    expert_id: int | None


@dataclass(slots=True)
class Due:
    """Tickets whose timeouts have passed, for the periodic sweep to act on."""

    unclaimed: list[Ticket] = field(default_factory=list)
    remind: list[Ticket] = field(default_factory=list)
    requeue: list[Ticket] = field(default_factory=list)
    idle: list[Ticket] = field(default_factory=list)
    unsummarised: list[Ticket] = field(default_factory=list)  # ended, no summary in time


def _stamp(moment: float) -> str:
    # repr round-trips exactly, so a stamp read back compares equal inside Lua.
    return repr(float(moment))


def _optional_float(value: str | None) -> float | None:
    return float(value) if value else None


def _score(urgent: bool, requeued: bool, created_at: float) -> float:
    band = (0 if urgent else 2) + (0 if requeued else 1)
    return band * _BAND_WIDTH + created_at


def _urgent_score(score: float) -> bool:
    return score < 2 * _BAND_WIDTH


def _slice_member(lang: str, topic: str) -> str:
    return json.dumps([lang, topic])


def _ticket(data: dict[str, str]) -> Ticket | None:
    if not data:
        return None
    return Ticket(
        id=data["id"],
        user_id=int(data["user_id"]),
        lang=data["lang"],
        topic=data["topic"],
        sector=data["sector"],
        region=data["region"],
        urgent=data["urgent"] == "1",
        created_at=float(data["created_at"]),
        state=TicketState(data["state"]),
        expert_id=int(data["expert_id"]) if data.get("expert_id") else None,
        claimed_at=_optional_float(data.get("claimed_at")),
        last_user_at=_optional_float(data.get("last_user_at")),
        last_expert_at=_optional_float(data.get("last_expert_at")),
        snippets=tuple(json.loads(data["snippets"])),
        votes={k: bool(v) for k, v in json.loads(data.get("votes") or "{}").items()},
        note=data.get("note"),
        requeues=int(data["requeues"]),
        queued_at=float(data["queued_at"]),
        closed_at=_optional_float(data.get("closed_at")),
        ended_by=data.get("ended_by"),
        previous_expert_id=int(data["previous_expert_id"]) if data.get("previous_expert_id")
        else None,
        rated=data.get("rated") == "1",
        ended_at=_optional_float(data.get("ended_at")),
    )


# The scripts below each make one state change in one step, so no two processes can interleave.
# Scripts that touch an expert's ticket set get that key from the caller, read from the hash
# just before; if the holder changed in between they return -1 / 'retry' and the caller rereads.

# Every queued ticket is in the queue and in its language-and-topic slice, with the same score:
# the scripts that add to or remove from the one do the same to the other. A ticket's language
# and topic never change, so the slice key a caller passes cannot go stale.

# The caller passes the pointer it saw; a stale pointer (its ticket gone) is replaced.
# KEYS: user_ticket, new ticket, queue, user_history, ticket the pointer names (or the new one),
#       queue_slice, queue_slices, queue_sliced
# ARGV: pointer seen ('' if none), ticket_id, score, history_ttl, slice member, field, value, ...
_OPEN = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return '' end
if current ~= '' then
  local state = redis.call('HGET', KEYS[5], 'state')
  if state == 'queued' or state == 'active' then return current end
end
-- An empty queue has nothing a slice could miss.
if redis.call('ZCARD', KEYS[3]) == 0 then redis.call('SET', KEYS[8], '1') end
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[2])
redis.call('SADD', KEYS[7], ARGV[5])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return ARGV[2]
"""

# KEYS: ticket, queue, expert_tickets, active, queue_slice
# ARGV: ticket_id, expert_id, max_conversations, now
_CLAIM = """
local ticket = redis.call('HMGET', KEYS[1], 'state', 'expert_id')
if ticket[1] == 'active' then
  if ticket[2] == ARGV[2] then return 'ok' end
  return 'taken'
end
if ticket[1] ~= 'queued' then return 'gone' end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'active', 'expert_id', ARGV[2], 'claimed_at', ARGV[4])
redis.call('HDEL', KEYS[1], 'reminded')
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 'ok'
"""

# KEYS: ticket, from_tickets, to_tickets
# ARGV: ticket_id, from_expert, to_expert, max_conversations, now, has_note, note
_TRANSFER = """
local ticket = redis.call('HMGET', KEYS[1], 'state', 'expert_id')
if ticket[1] ~= 'active' then return 'gone' end
if ticket[2] ~= ARGV[2] then return 'retry' end
if ARGV[2] == ARGV[3] then return 'ok' end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return 'full' end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'expert_id', ARGV[3], 'claimed_at', ARGV[5],
           'previous_expert_id', ARGV[2])
redis.call('HDEL', KEYS[1], 'reminded')
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'note', ARGV[7]) end
return 'ok'
"""

# A sweep passes the claim time it saw: a conversation claimed again since (another expert took
# it after an earlier requeue, or a transfer) is not the silent one it meant, and stays.
# KEYS: ticket, queue, active, expert_tickets, queue_slice, queue_slices
# ARGV: ticket_id, expert_id, score, now, has_note, note, slice member, claimed_at seen ('' any)
_REQUEUE = """
local ticket = redis.call('HMGET', KEYS[1], 'state', 'expert_id', 'claimed_at')
if ticket[1] ~= 'active' then return 0 end
if ARGV[8] ~= '' and ticket[3] ~= ARGV[8] then return 0 end
if ticket[2] ~= ARGV[2] then return -1 end
redis.call('HDEL', KEYS[1], 'expert_id', 'claimed_at', 'reminded', 'alerted')
redis.call('HSET', KEYS[1], 'state', 'queued', 'queued_at', ARGV[4], 'previous_expert_id',
           ARGV[2])
redis.call('HINCRBY', KEYS[1], 'requeues', 1)
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'note', ARGV[6]) end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[7])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
return 1
"""

# Close (active or ended) or cancel (queued or active). Closing queues one summary job carrying
# no user id, under a random job key that only this ticket's hash remembers (for a rating that
# follows; it expires with the ticket; one drawn earlier is kept), so no SQL row can be
# computed from a ticket id; cancelling drops the transcript, as nobody will summarise it.
# KEYS: ticket, queue, active, user_ticket, user_history, transcript, summaries, queue_slice
#       [, expert_tickets]
# ARGV: ticket_id, expert_id ('' if queued), new_state, now, ttl, summary, outcome, ended_by,
#       job_key, fields the caller saw as JSON ({} for any: the sweep closing an idle
#       conversation passes its stamps, so a message since keeps it open)
_FINISH = """
local ticket = redis.call('HMGET', KEYS[1], 'state', 'expert_id')
local closing = ARGV[3] == 'closed'
local held = ticket[1] == 'active' or ticket[1] == 'ended'
if closing and not held then return 0 end
if not closing and ticket[1] ~= 'active' and ticket[1] ~= 'queued' then return 0 end
for name, value in pairs(cjson.decode(ARGV[10])) do
  if (redis.call('HGET', KEYS[1], name) or '') ~= value then return 0 end
end
if held and ticket[2] ~= ARGV[2] then return -1 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
if KEYS[9] then redis.call('SREM', KEYS[9], ARGV[1]) end
if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'closed_at', ARGV[4])
if ARGV[8] ~= '' then redis.call('HSETNX', KEYS[1], 'ended_by', ARGV[8]) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[5])
if not closing then
  redis.call('DEL', KEYS[6])
  return 1
end
redis.call('HSETNX', KEYS[1], 'job_key', ARGV[9])
local f = redis.call('HMGET', KEYS[1], 'topic', 'sector', 'region', 'urgent', 'lang',
                    'created_at', 'claimed_at', 'expert_id', 'snippets', 'job_key',
                    'pending_rating', 'pending_comment')
local job = {'ticket_id', ARGV[1], 'job_key', f[10], 'topic', f[1], 'sector', f[2],
             'region', f[3], 'urgent', f[4], 'lang', f[5], 'created_at', f[6],
             'claimed_at', f[7], 'closed_at', ARGV[4], 'expert_id', f[8],
             'snippets', table.concat(cjson.decode(f[9]), ','),
             'summary', ARGV[6], 'outcome', ARGV[7]}
-- A rating or comment given before the close (see summaries.queue_rating) rides along.
if f[11] then table.insert(job, 'rating'); table.insert(job, f[11]) end
if f[12] then table.insert(job, 'comment'); table.insert(job, f[12]) end
redis.call('HDEL', KEYS[1], 'pending_rating', 'pending_comment')
redis.call('XADD', KEYS[7], '*', unpack(job))
return 1
"""

# The asker ends an active conversation: it stops being theirs (they may ask anew) and stops
# counting for the expert, but stays in the active set until the expert's summary closes it.
# KEYS: ticket, user_ticket, expert_tickets
# ARGV: ticket_id, expert_id, now, ended_by
_END = """
local ticket = redis.call('HMGET', KEYS[1], 'state', 'expert_id')
if ticket[1] ~= 'active' then return 0 end
if ticket[2] ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[3], 'ended_by', ARGV[4])
redis.call('SREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""

# A rating is given once, by the asker, on a conversation an expert held that has ended.
# KEYS: ticket
# ARGV: user_id
# The holding expert sets the topic of a conversation they close (queued tickets keep theirs:
# the queue's slices are by topic).
# KEYS: ticket
# ARGV: expert_id, topic
_SET_TOPIC = """
local ticket = redis.call('HMGET', KEYS[1], 'state', 'expert_id')
if ticket[1] ~= 'active' and ticket[1] ~= 'ended' then return 0 end
if ticket[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'topic', ARGV[2])
return 1
"""

_RATE_ONCE = """
local t = redis.call('HMGET', KEYS[1], 'state', 'user_id')
if t[1] ~= 'closed' and t[1] ~= 'ended' then return 'state' end
if t[2] ~= ARGV[1] then return 'owner' end
if redis.call('HSETNX', KEYS[1], 'rated', '1') == 0 then return 'again' end
return 'ok'
"""

# Only open tickets get messages, so a late relay cannot revive a summarised transcript.
# KEYS: ticket, transcript
# ARGV: message_json, stamp_field, now, ttl
# ARGV[5]: the expert who must hold the conversation (an expert's message), or ''. Returns nil
# when nothing was stored, else '@' and the expert holding it now ('@' alone: queued).
_ADD_MESSAGE = """
local ticket = redis.call('HMGET', KEYS[1], 'state', 'expert_id')
local state, holder = ticket[1], ticket[2] or ''
if state ~= 'queued' and state ~= 'active' then return false end
if ARGV[5] ~= '' and (state ~= 'active' or holder ~= ARGV[5]) then return false end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if state == 'queued' then holder = '' end
return '@' .. holder
"""

# Set a once-only flag only if the ticket is still as the sweep saw it (same state and stamp);
# otherwise a flag meant for an earlier claim or queueing would silence the next one.
# KEYS: ticket
# ARGV: state, stamp_field, stamp, flag
_MARK = """
local seen = redis.call('HMGET', KEYS[1], 'state', ARGV[2])
if seen[1] ~= ARGV[1] or seen[2] ~= ARGV[3] then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[4], '1')
"""

# Forget slices that are empty now; one that a ticket entered meanwhile stays (_OPEN adds the
# ticket and its slice in one step, so no slice with tickets can be forgotten).
# KEYS: queue_slices, queue_slice, ...
# ARGV: slice member of each queue_slice, in the same order
_PRUNE = """
for i = 2, #KEYS do
  if redis.call('ZCARD', KEYS[i]) == 0 then redis.call('SREM', KEYS[1], ARGV[i - 1]) end
end
return 1
"""


class HandoffStore:
    """Tickets from a user's request to a closed conversation; every change is atomic."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time,
                 transcript_ttl: int = TRANSCRIPT_TTL_SECONDS) -> None:
        self.redis = redis
        self.clock = clock
        self.transcript_ttl = transcript_ttl
        self._open = redis.register_script(_OPEN)
        self._claim = redis.register_script(_CLAIM)
        self._transfer = redis.register_script(_TRANSFER)
        self._requeue = redis.register_script(_REQUEUE)
        self._finish_script = redis.register_script(_FINISH)
        self._add_message = redis.register_script(_ADD_MESSAGE)
        self._mark = redis.register_script(_MARK)
        self._end = redis.register_script(_END)
        self._rate_once = redis.register_script(_RATE_ONCE)
        self._set_topic = redis.register_script(_SET_TOPIC)
        self._prune = redis.register_script(_PRUNE)
        self._sliced = False  # known to hold: every queued ticket is in its slice

    async def open(self, user_id: int, lang: str, topic: str, sector: str, region: str,
                   urgent: bool, snippets: Iterable[str] = (),
                   votes: Mapping[str, bool] | None = None) -> Ticket:
        """Queue a new ticket, or return the user's open one unchanged. `snippets`: the
        guidance the asker received, in order; `votes`: how they marked some of it."""
        snippet_ids = list(snippets)
        while True:
            seen = await self.redis.get(keys.user_ticket(user_id)) or ""
            now = _stamp(self.clock())
            ticket_id = secrets.token_urlsafe(9)
            fields = {
                "id": ticket_id, "user_id": str(user_id), "lang": lang, "topic": topic,
                "sector": sector, "region": region, "urgent": "1" if urgent else "0",
                "created_at": now, "queued_at": now, "state": TicketState.QUEUED.value,
                "snippets": json.dumps(snippet_ids), "requeues": "0",
                "votes": json.dumps({k: int(v) for k, v in (votes or {}).items()}),
            }
            flat = [item for pair in fields.items() for item in pair]
            opened = await self._open(
                keys=[keys.user_ticket(user_id), keys.ticket(ticket_id), keys.queue(),
                      keys.user_history(user_id), keys.ticket(seen or ticket_id),
                      keys.queue_slice(lang, topic), keys.queue_slices(), keys.queue_sliced()],
                args=[seen, ticket_id, _score(urgent, False, float(now)), self.transcript_ttl,
                      _slice_member(lang, topic), *flat],
            )
            # Empty if the pointer moved meanwhile; None if /forget just removed the ticket.
            ticket = await self.get(opened) if opened else None
            if ticket is not None:
                return ticket

    async def get(self, ticket_id: str) -> Ticket | None:
        """The ticket, or None once it is unknown, forgotten or expired."""
        return _ticket(await self.redis.hgetall(keys.ticket(ticket_id)))

    async def _get_many(self, ticket_ids: Iterable[str]) -> list[Ticket]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ticket_ids:
                pipe.hgetall(keys.ticket(ticket_id))
            rows = await pipe.execute()
        return [ticket for ticket in map(_ticket, rows) if ticket is not None]

    async def ticket_of_user(self, user_id: int) -> Ticket | None:
        """The user's queued or active ticket, if any."""
        ticket_id = await self.redis.get(keys.user_ticket(user_id))
        ticket = await self.get(ticket_id) if ticket_id else None
        return ticket if ticket is not None and ticket.is_open else None

    async def position(self, ticket_id: str) -> int | None:
        """1-based place in the queue, None if the ticket is not waiting."""
        rank = await self.redis.zrank(keys.queue(), ticket_id)
        return None if rank is None else rank + 1

    async def queue(self) -> list[Ticket]:
        """Waiting tickets in the order experts should take them."""
        return await self._get_many(await self.redis.zrange(keys.queue(), 0, -1))

    async def claim(self, ticket_id: str, expert_id: int, max_conversations: int,
                    where: tuple[str, str] | None = None) -> ClaimResult:
        """Give a queued ticket to an expert; re-claiming one's own ticket is ok and a no-op.

        `where` is the ticket's (language, topic) if the caller knows it, saving a read."""
        if where is None:
            lang, topic = await self.redis.hmget(keys.ticket(ticket_id), "lang", "topic")
            if lang is None or topic is None:
                return ClaimResult.GONE
            where = (lang, topic)
        result = await self._claim(
            keys=[keys.ticket(ticket_id), keys.queue(), keys.expert_tickets(expert_id),
                  keys.active(), keys.queue_slice(*where)],
            args=[ticket_id, expert_id, max_conversations, _stamp(self.clock())],
        )
        return ClaimResult(result)

    async def claim_next(self, expert_id: int, topics: Iterable[str], languages: Iterable[str],
                         max_conversations: int) -> Ticket | None:
        """Claim the best waiting ticket for this expert, None if there is none or they are full.

        Language first, then urgency; the expert's topics only reorder within an urgency tier.
        """
        wanted_topics, spoken = set(topics), set(languages)
        failed: set[str] = set()
        while True:
            best = await self._best_waiting(wanted_topics, spoken, failed)
            if best is None:
                return None
            ticket_id, where = best
            result = await self.claim(ticket_id, expert_id, max_conversations, where)
            if result is ClaimResult.OK:
                return await self.get(ticket_id)
            if result is ClaimResult.FULL:
                return None
            failed.add(ticket_id)  # TAKEN or GONE: someone got there first; look again

    async def _best_waiting(self, wanted_topics: set[str], spoken: set[str],
                            skip: set[str]) -> tuple[str, tuple[str, str]] | None:
        """The waiting ticket with the smallest (language not spoken, not urgent, topic not
        wanted, queue place), and its (language, topic).

        Within one language-and-topic slice the queue place alone decides, so only the first
        ticket of each slice not in `skip` is compared: a few reads, however long the queue."""
        await self._sort_into_slices()
        members = list(await self.redis.smembers(keys.queue_slices()))
        slices = [tuple(json.loads(member)) for member in members]
        async with self.redis.pipeline(transaction=False) as pipe:
            for lang, topic in slices:
                pipe.zrange(keys.queue_slice(lang, topic), 0, len(skip), withscores=True)
            heads = await pipe.execute()
        best: tuple[tuple[bool, bool, bool, float, str], tuple[str, str]] | None = None
        # The rank ends in (score, id), the queue's own order, so no two tickets tie.
        empty: list[str] = []
        for member, (lang, topic), head in zip(members, slices, heads, strict=True):
            if not head:
                empty.append(member)
            first = next(((tid, score) for tid, score in head if tid not in skip), None)
            if first is None:
                continue
            ticket_id, score = first
            rank = (lang not in spoken, not _urgent_score(score), topic not in wanted_topics,
                    score, ticket_id)
            if best is None or rank < best[0]:
                best = (rank, (lang, topic))
        if empty:
            await self._prune(keys=[keys.queue_slices(),
                                    *(keys.queue_slice(*json.loads(m)) for m in empty)],
                              args=empty)
        if best is None:
            return None
        rank, where = best
        return rank[-1], where

    async def _sort_into_slices(self) -> None:
        """Put tickets queued before slices existed into their slices, once per database."""
        if self._sliced:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    # Any change to the queue meanwhile and the sorting starts over.
                    await pipe.watch(keys.queue(), keys.queue_sliced())
                    if not await pipe.exists(keys.queue_sliced()):
                        waiting = await pipe.zrange(keys.queue(), 0, -1, withscores=True)
                        async with self.redis.pipeline(transaction=False) as reads:
                            for ticket_id, _ in waiting:
                                reads.hmget(keys.ticket(ticket_id), "lang", "topic")
                            found = await reads.execute()
                        pipe.multi()
                        for (ticket_id, score), (lang, topic) in zip(waiting, found,
                                                                       strict=True):
                            if lang is not None and topic is not None:
                                pipe.zadd(keys.queue_slice(lang, topic), {ticket_id: score})
                                pipe.sadd(keys.queue_slices(), _slice_member(lang, topic))
                        pipe.set(keys.queue_sliced(), 1)
                        await pipe.execute()
                    break
                except WatchError:
                    continue
        self._sliced = True

    async def requeue(self, ticket_id: str, note: str | None = None,
                      claimed_at: float | None = None) -> Ticket | None:
        """Put an active ticket back at the head of its urgency tier; None if it was not active,
        or (with `claimed_at`, as the sweep saw it) if it was claimed again since."""
        while True:
            data = await self.redis.hgetall(keys.ticket(ticket_id))
            if data.get("state") != TicketState.ACTIVE:
                return None
            holder = data["expert_id"]
            done = await self._requeue(
                keys=[keys.ticket(ticket_id), keys.queue(), keys.active(),
                      keys.expert_tickets(int(holder)),
                      keys.queue_slice(data["lang"], data["topic"]), keys.queue_slices()],
                args=[ticket_id, holder,
                      _score(data["urgent"] == "1", True, float(data["created_at"])),
                      _stamp(self.clock()), "0" if note is None else "1", note or "",
                      _slice_member(data["lang"], data["topic"]),
                      "" if claimed_at is None else _stamp(claimed_at)],
            )
            if done != -1:
                return await self.get(ticket_id) if done else None

    async def transfer(self, ticket_id: str, to_expert_id: int, max_conversations: int,
                       note: str | None = None) -> ClaimResult:
        """Move an active ticket from its expert to another in one step."""
        while True:
            data = await self.redis.hgetall(keys.ticket(ticket_id))
            if data.get("state") != TicketState.ACTIVE:
                return ClaimResult.GONE
            holder = data["expert_id"]
            result = await self._transfer(
                keys=[keys.ticket(ticket_id), keys.expert_tickets(int(holder)),
                      keys.expert_tickets(to_expert_id)],
                args=[ticket_id, holder, to_expert_id, max_conversations,
                      _stamp(self.clock()), "0" if note is None else "1", note or ""],
            )
            if result != "retry":
                return ClaimResult(result)

    async def cancel(self, ticket_id: str) -> Ticket | None:
        """The user leaves: end a queued or active ticket; None if it was not open."""
        return await self._finish(ticket_id, TicketState.CANCELLED, "", "", "")

    async def close(self, ticket_id: str, summary: str, outcome: str,
                    ended_by: str = "", unchanged_since: Ticket | None = None) -> Ticket | None:
        """Close an active or ended conversation and queue its summary job exactly once;
        None if it was neither, or (with `unchanged_since`, as the sweep saw it) if it was
        claimed or written in since."""
        seen = {} if unchanged_since is None else {
            name: "" if stamp is None else _stamp(stamp)
            for name, stamp in (("claimed_at", unchanged_since.claimed_at),
                                ("last_user_at", unchanged_since.last_user_at),
                                ("last_expert_at", unchanged_since.last_expert_at))}
        return await self._finish(ticket_id, TicketState.CLOSED, summary, outcome, ended_by,
                                  seen)

    async def end(self, ticket_id: str, ended_by: str) -> Ticket | None:
        """The asker ends an active conversation; None if it was not active."""
        while True:
            data = await self.redis.hgetall(keys.ticket(ticket_id))
            if data.get("state") != TicketState.ACTIVE:
                return None
            holder = data["expert_id"]
            done = await self._end(
                keys=[keys.ticket(ticket_id), keys.user_ticket(int(data["user_id"])),
                      keys.expert_tickets(int(holder))],
                args=[ticket_id, holder, _stamp(self.clock()), ended_by])
            if done != -1:
                return await self.get(ticket_id) if done else None

    async def set_topic(self, ticket_id: str, expert_id: int, topic: str) -> Ticket | None:
        """The topic of a conversation `expert_id` holds (active, or ended awaiting their
        summary), as they confirm it when closing; None if they do not hold it."""
        done = await self._set_topic(keys=[keys.ticket(ticket_id)], args=[expert_id, topic])
        return await self.get(ticket_id) if done else None

    async def rate_once(self, ticket_id: str, user_id: int) -> str:
        """Mark a conversation rated: 'ok' the first time, else 'state', 'owner' or 'again'."""
        return str(await self._rate_once(keys=[keys.ticket(ticket_id)], args=[user_id]))

    async def _finish(self, ticket_id: str, state: TicketState, summary: str,
                      outcome: str, ended_by: str,
                      seen: Mapping[str, str] | None = None) -> Ticket | None:
        while True:
            data = await self.redis.hgetall(keys.ticket(ticket_id))
            if not data:
                return None
            user_id = int(data["user_id"])
            held = data["state"] in (TicketState.ACTIVE, TicketState.ENDED)
            holder = data.get("expert_id", "") if held else ""
            script_keys = [keys.ticket(ticket_id), keys.queue(), keys.active(),
                           keys.user_ticket(user_id), keys.user_history(user_id),
                           keys.transcript(ticket_id), keys.summaries(),
                           keys.queue_slice(data["lang"], data["topic"])]
            if holder:
                script_keys.append(keys.expert_tickets(int(holder)))
            done = await self._finish_script(
                keys=script_keys,
                args=[ticket_id, holder, state.value, _stamp(self.clock()),
                      self.transcript_ttl, summary, outcome, ended_by, secrets.token_hex(16),
                      json.dumps(dict(seen or {}))],
            )
            if done == 1 and state is TicketState.CANCELLED:
                await request_rewrite(self.redis)  # the transcript was deleted
            if done != -1:
                return await self.get(ticket_id) if done else None

    async def add_message(self, ticket_id: str, sender: Sender, text: str,
                          held_by: int | None = None) -> Appended | None:
        """Append to an open ticket's transcript; None (nothing stored) if it is not open, or
        if `held_by` is given and that expert does not hold it as an active conversation."""
        now = self.clock()
        message = json.dumps({"sender": sender, "text": text, "at": now}, ensure_ascii=False)
        stored = await self._add_message(
            keys=[keys.ticket(ticket_id), keys.transcript(ticket_id)],
            args=[message, f"last_{sender}_at", _stamp(now), self.transcript_ttl,
                  "" if held_by is None else str(held_by)],
        )
        if not stored:
            return None
        holder = str(stored)[1:]
        return Appended(int(holder) if holder else None)

    async def transcript(self, ticket_id: str) -> list[dict[str, Any]]:
        """The conversation so far, oldest first: dicts with sender, text and at."""
        return [json.loads(item)
                for item in await self.redis.lrange(keys.transcript(ticket_id), 0, -1)]

    async def active_for_expert(self, expert_id: int) -> list[Ticket]:
        """The conversations an expert holds, oldest claim first."""
        tickets = await self._get_many(await self.redis.smembers(keys.expert_tickets(expert_id)))
        return sorted(tickets, key=lambda t: (t.claimed_at or 0.0, t.id))

    async def ended_for_expert(self, expert_id: int) -> list[Ticket]:
        """Conversations an asker ended that still wait for this expert's summary."""
        tickets = await self._get_many(await self.redis.smembers(keys.active()))
        return [t for t in tickets
                if t.state is TicketState.ENDED and t.expert_id == expert_id]

    async def _mark_once(self, ticket: Ticket, stamp_field: str, stamp: float, flag: str) -> bool:
        marked = await self._mark(keys=[keys.ticket(ticket.id)],
                                  args=[ticket.state.value, stamp_field, _stamp(stamp), flag])
        return bool(marked)

    async def due(self, now: float, unclaimed_after: float, remind_after: float,
                  requeue_after: float, idle_after: float,
                  summary_after: float | None = None) -> Due:
        """Tickets past a timeout; alerts and reminders are handed out once each."""
        due = Due()
        for ticket in await self.queue():
            if now - ticket.queued_at >= unclaimed_after and await self._mark_once(
                    ticket, "queued_at", ticket.queued_at, "alerted"):
                due.unclaimed.append(ticket)
        active = await self._get_many(sorted(await self.redis.smembers(keys.active())))
        for ticket in sorted(active, key=lambda t: (t.claimed_at or 0.0, t.id)):
            if ticket.state is TicketState.ENDED:
                waited = now - (ticket.ended_at or now)
                if waited >= (idle_after if summary_after is None else summary_after):
                    due.unsummarised.append(ticket)
                continue
            if ticket.state is not TicketState.ACTIVE or ticket.claimed_at is None:
                continue
            claimed_at = ticket.claimed_at
            expert_silent = ticket.last_expert_at is None or ticket.last_expert_at < claimed_at
            last_word = max(stamp for stamp in (claimed_at, ticket.last_user_at,
                                                ticket.last_expert_at) if stamp is not None)
            # One action per ticket: a requeue makes idling and reminding moot, idling a reminder.
            if expert_silent and now - claimed_at >= requeue_after:
                due.requeue.append(ticket)
            elif now - last_word >= idle_after:
                due.idle.append(ticket)
            elif expert_silent and now - claimed_at >= remind_after and await self._mark_once(
                    ticket, "claimed_at", claimed_at, "reminded"):
                due.remind.append(ticket)
        return due

    async def forget_user(self, user_id: int) -> list[Ticket]:
        """Cancel and erase all of a user's tickets and transcripts; returns those experts held."""
        ticket_ids = set(await self.redis.smembers(keys.user_history(user_id)))
        current = await self.redis.get(keys.user_ticket(user_id))
        if current:
            ticket_ids.add(current)
        held: list[Ticket] = []
        for ticket_id in sorted(ticket_ids):
            cancelled = await self.cancel(ticket_id)
            # Queued tickets carry no expert, so an expert on a cancelled one means it was active.
            if cancelled is not None and cancelled.expert_id is not None:
                held.append(cancelled)
        async with self.redis.pipeline(transaction=True) as pipe:
            for ticket_id in ticket_ids:
                pipe.delete(keys.ticket(ticket_id), keys.transcript(ticket_id))
                pipe.srem(keys.active(), ticket_id)
                pipe.hdel(keys.positions(), ticket_id)
            pipe.delete(keys.user_history(user_id), keys.user_ticket(user_id))
            # The deleted data is still in Redis's append-only file until it is rewritten.
            request_rewrite(pipe)
            await pipe.execute()
        return held
