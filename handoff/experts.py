"""The expert pool: single-use invites, profiles and who is available, all in Redis."""

from __future__ import annotations

import builtins
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import WatchError

from handoff import handoff_keys as keys

DEFAULT_MAX_CONVERSATIONS = 3
INVITE_TTL_SECONDS = 7 * 24 * 3600

# Only touch a profile that still exists, so a late toggle cannot revive a removed expert.
_SET_AVAILABLE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'available', ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class Expert:
    """An expert of the pool as the desk knows them."""

    expert_id: int
    display_name: str
    expertise: tuple[str, ...]
    languages: tuple[str, ...]
    max_conversations: int = DEFAULT_MAX_CONVERSATIONS
    available: bool = False
    joined_at: float | None = None


class NameTaken(Exception):
    """Another expert of the pool already goes by this display name."""


def name_key(display_name: str) -> str:
    """What makes two display names the same to an asker: case and spacing aside."""
    return " ".join(display_name.split()).casefold()


def _expert(expert_id: int, data: dict[str, str]) -> Expert:
    return Expert(
        expert_id=expert_id,
        display_name=data["display_name"],
        expertise=tuple(json.loads(data["expertise"])),
        languages=tuple(json.loads(data["languages"])),
        max_conversations=int(data["max_conversations"]),
        available=data.get("available") == "1",
        joined_at=float(data["joined_at"]) if data.get("joined_at") else None,
    )


def _free_name(display_name: str, taken: set[str]) -> str:
    """The invite's name, or, when another expert took it after the invite was made, the
    name with the first free number ('Marieke 2'): names stay unique in the pool."""
    name, number = display_name, 2
    while name_key(name) in taken:
        name, number = f"{display_name} {number}", number + 1
    return name


class ExpertStore:
    """Invites experts, keeps their profiles and finds who can take a question."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock
        self._set_available = redis.register_script(_SET_AVAILABLE)

    async def create_invite(self, display_name: str, expertise: Iterable[str],
                            languages: Iterable[str], ttl_seconds: int = INVITE_TTL_SECONDS,
                            max_conversations: int = DEFAULT_MAX_CONVERSATIONS) -> str:
        """A single-use code that makes whoever redeems it an expert with this profile.
        Askers tell experts apart by name: NameTaken if one in the pool has this name."""
        if name_key(display_name) in {name_key(e.display_name) for e in await self.list()}:
            raise NameTaken(display_name)
        code = secrets.token_urlsafe(16)
        payload = json.dumps({
            "display_name": display_name,
            "expertise": list(expertise),
            "languages": list(languages),
            "max_conversations": max_conversations,
        })
        await self.redis.set(keys.invite(code), payload, ex=ttl_seconds)
        return code

    async def redeem_invite(self, code: str, expert_id: int) -> Expert | None:
        """Turn a valid invite into an expert; None if unknown, expired or already used."""
        # GETDEL takes the invite atomically, so two people racing with one code cannot both win.
        payload = await self.redis.getdel(keys.invite(code))
        if payload is None:
            return None
        invite = json.loads(payload)
        key = keys.expert(expert_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                # Watched: a name taken meanwhile (two invites for one name) is seen here.
                members = await self.redis.smembers(keys.experts())
                await pipe.watch(keys.experts(), *(keys.expert(int(m)) for m in members))
                others = {name_key(e.display_name) for e in await self.list()
                          if e.expert_id != expert_id}
                name = _free_name(invite["display_name"], others)
                pipe.multi()
                pipe.hset(key, mapping={
                    "display_name": name,
                    "expertise": json.dumps(invite["expertise"]),
                    "languages": json.dumps(invite["languages"]),
                    "max_conversations": invite["max_conversations"],
                })
                # A second invite updates the profile but keeps availability and join date.
                pipe.hsetnx(key, "available", "0")
                pipe.hsetnx(key, "joined_at", repr(self.clock()))
                pipe.sadd(keys.experts(), expert_id)
                try:
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        return await self.get(expert_id)

    async def get(self, expert_id: int) -> Expert | None:
        """The expert's profile, None if they are not (or no longer) an expert."""
        data = await self.redis.hgetall(keys.expert(expert_id))
        return _expert(expert_id, data) if data else None

    async def list(self) -> builtins.list[Expert]:
        """All experts, by id."""
        ids = sorted(int(member) for member in await self.redis.smembers(keys.experts()))
        async with self.redis.pipeline(transaction=False) as pipe:
            for expert_id in ids:
                pipe.hgetall(keys.expert(expert_id))
            rows = await pipe.execute()
        return [_expert(expert_id, data) for expert_id, data in zip(ids, rows, strict=True)
                if data]

    async def remove(self, expert_id: int) -> bool:
        """Drop an expert from the pool; the caller requeues their conversations first."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(keys.experts(), expert_id)
            pipe.delete(keys.expert(expert_id))
            removed, _ = await pipe.execute()
        return bool(removed)

    async def set_available(self, expert_id: int, available: bool) -> bool:
        """Switch an expert on or off duty; False if they are not an expert."""
        done = await self._set_available(keys=[keys.experts(), keys.expert(expert_id)],
                                         args=[expert_id, "1" if available else "0"])
        return bool(done)

    async def is_expert(self, expert_id: int) -> bool:
        """Whether this Telegram user is in the pool."""
        return bool(await self.redis.sismember(keys.experts(), expert_id))

    async def available_matching(self, topic: str, lang: str) -> builtins.list[Expert]:
        """Available specialists who speak `lang`; else anyone speaking it; else anyone on duty."""
        available = [expert for expert in await self.list() if expert.available]
        speakers = [expert for expert in available if lang in expert.languages]
        specialists = [expert for expert in speakers if topic in expert.expertise]
        return specialists or speakers or available
