"""Who may write and publish knowledge, and what a publication must pass: the rules of the
dashboard's editor, in one place (the web pages only render what these operations return).

Admins (VRAAGBAAK_ADMIN_IDS) write, publish and restore; an expert an admin allowed writes
drafts. Every operation checks the actor's role when it runs, so someone removed from the pool
or from the admin list loses it at once, whatever their browser still shows."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from handoff.experts import ExpertStore
from handoff.models import KnowledgeRevision
from knowledge import keys
from knowledge.base import DATA_DIR, KnowledgeBase, KnowledgeError, Overlay, load_knowledge
from knowledge.revisions import Conflict, Kind, RevisionStore, State, body_of
from knowledge.seed import SeedItems, read_seed
from knowledge.style import Problem, card_problems, referral_problems

ADMIN_AUTHOR = "coordinator"  # how an admin outside the pool is named as author


class Role(IntEnum):
    """What someone may do with the knowledge."""

    NONE = 0
    EDITOR = 1  # writes drafts
    ADMIN = 2  # also publishes, restores, and names editors


@dataclass(frozen=True, slots=True)
class Refused:
    """The operation was not done: `reason` is not_allowed, not_found or not_draft."""

    reason: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """The version cannot be published: per-field problems, or the loader's own message."""

    problems: list[Problem] = field(default_factory=list)
    detail: str | None = None


Outcome = KnowledgeRevision | Conflict | Refused | Invalid


class Editorial:
    """Drafts, publications and restores of cards and referrals."""

    def __init__(self, store: RevisionStore, redis: Redis, experts: ExpertStore,
                 admin_ids: Collection[int], data_dir: Path = DATA_DIR,
                 load: Callable[[Path, Overlay], KnowledgeBase] = load_knowledge) -> None:
        self.store = store
        self.redis = redis
        self.experts = experts
        self.admin_ids = frozenset(admin_ids)
        self.data_dir = data_dir
        self._load = load

    @functools.cached_property
    def seed(self) -> SeedItems:
        """The seed files as data (read once: they change only with a deployment). Callers
        copy what they change."""
        return read_seed(self.data_dir)

    async def role(self, user_id: int) -> Role:
        """The actor's role now (the admin list, the pool and the editors' set)."""
        if user_id in self.admin_ids:
            return Role.ADMIN
        if await self.experts.is_expert(user_id) and await self.redis.sismember(
                keys.knowledge_editors(), str(user_id)):
            return Role.EDITOR
        return Role.NONE

    async def author(self, user_id: int) -> str:
        """How a version names who wrote or published it: the pool's display name."""
        expert = await self.experts.get(user_id)
        return expert.display_name if expert is not None else ADMIN_AUTHOR

    async def editors(self) -> set[int]:
        """Experts allowed to write drafts."""
        return {int(i) for i in await self.redis.smembers(keys.knowledge_editors())}

    async def set_editor(self, actor: int, expert_id: int, allowed: bool) -> Refused | None:
        """An admin lets an expert of the pool write drafts, or stops it."""
        if await self.role(actor) < Role.ADMIN:
            return Refused("not_allowed")
        if allowed and not await self.experts.is_expert(expert_id):
            return Refused("not_found")
        if allowed:
            await self.redis.sadd(keys.knowledge_editors(), str(expert_id))
        else:
            await self.redis.srem(keys.knowledge_editors(), str(expert_id))
        return None

    def problems(self, kind: Kind, body: Mapping[str, Any], kb: KnowledgeBase) -> list[Problem]:
        """The house-style problems of a version (fast: no loading)."""
        if kind is Kind.REFERRAL:
            return referral_problems(body)
        if body.get("retired"):
            successor = body.get("successor")
            return [] if successor in kb.snippets else [Problem("successor", "required")]
        return card_problems(body, set(kb.referrals))

    async def check(self, kind: Kind, item_id: str, body: Mapping[str, Any],
                    kb: KnowledgeBase) -> Invalid | None:
        """Everything a publication must pass: the house style, then the whole knowledge
        loaded with this version in it (the loader's validation, as for the seed files)."""
        problems = self.problems(kind, body, kb)
        if problems:
            return Invalid(problems)
        overlay = await self.store.overlay()
        edits = {**(overlay.snippets if kind is Kind.SNIPPET else overlay.referrals),
                 item_id: body}
        candidate = (Overlay(edits, overlay.referrals) if kind is Kind.SNIPPET
                     else Overlay(overlay.snippets, edits))
        try:
            await asyncio.to_thread(self._load, self.data_dir, candidate)
        except KnowledgeError as exc:
            return Invalid(detail=str(exc))
        return None

    async def save(self, actor: int, kind: Kind, item_id: str, body: Mapping[str, Any],
                   based_on: int, note: str = "") -> Outcome:
        """A draft (kept even with problems, so no work is lost); a Conflict when someone
        saved a newer version of the item since `based_on`."""
        if await self.role(actor) < Role.EDITOR:
            return Refused("not_allowed")
        if body.get("id") != item_id:
            return Invalid([Problem("id", "id_changed")])
        return await self.store.add(kind, item_id, body, await self.author(actor), based_on,
                                    note)

    async def publish(self, actor: int, revision_id: int, kb: KnowledgeBase) -> Outcome:
        """Make a draft live for every desk process; refused unless it passes `check`."""
        if await self.role(actor) < Role.ADMIN:
            return Refused("not_allowed")
        draft = await self.store.get(revision_id)
        if draft is None:
            return Refused("not_found")
        if draft.state != State.DRAFT:
            return Refused("not_draft")
        invalid = await self.check(Kind(draft.kind), draft.item_id, body_of(draft), kb)
        if invalid is not None:
            return invalid
        published = await self.store.publish(revision_id, await self.author(actor))
        if published is None:
            return Refused("not_draft")
        await self.redis.incr(keys.knowledge_generation())
        return published

    async def restore(self, actor: int, revision_id: int, kb: KnowledgeBase) -> Outcome:
        """Publish an earlier version again, as a new version on top of the history."""
        if await self.role(actor) < Role.ADMIN:
            return Refused("not_allowed")
        old = await self.store.get(revision_id)
        if old is None or old.state not in (State.PUBLISHED, State.SUPERSEDED):
            return Refused("not_found")
        return await self._republish(actor, Kind(old.kind), old.item_id, body_of(old),
                                     f"restore #{old.number}", kb)

    async def restore_seed(self, actor: int, kind: Kind, item_id: str,
                           kb: KnowledgeBase) -> Outcome:
        """Publish the item as installed (the seed files' text) again, on top of the history."""
        if await self.role(actor) < Role.ADMIN:
            return Refused("not_allowed")
        seed = self.seed
        body = (seed.cards if kind is Kind.SNIPPET else seed.referrals).get(item_id)
        if body is None:
            return Refused("not_found")
        return await self._republish(actor, kind, item_id, body, "as installed", kb)

    async def _republish(self, actor: int, kind: Kind, item_id: str, body: Mapping[str, Any],
                         note: str, kb: KnowledgeBase) -> Outcome:
        """A new version with `body` on top of the history, published at once (and dropped
        again if it cannot be published)."""
        latest = await self.store.latest_number(kind, item_id)
        draft = await self.store.add(kind, item_id, body, await self.author(actor), latest,
                                     note=note)
        if not isinstance(draft, KnowledgeRevision):
            return draft
        outcome = await self.publish(actor, draft.id or 0, kb)
        if not isinstance(outcome, KnowledgeRevision):
            await self.store.discard(draft.id or 0)
        return outcome

    async def import_items(self, actor: int, overlay: Overlay, kb: KnowledgeBase,
                           note: str = "import") -> list[Outcome]:
        """Publish every item of `overlay` that differs from what is published now (an
        import of exported files); the outcomes in order."""
        if await self.role(actor) < Role.ADMIN:
            return [Refused("not_allowed")]
        current = await self.store.overlay()
        seed = self.seed
        outcomes: list[Outcome] = []
        for kind, items, published, seeded in (
                (Kind.REFERRAL, overlay.referrals, current.referrals, seed.referrals),
                (Kind.SNIPPET, overlay.snippets, current.snippets, seed.cards)):
            for item_id, body in items.items():
                if dict(body) == dict(published.get(item_id) or seeded.get(item_id) or {}):
                    continue
                outcomes.append(await self._republish(actor, kind, item_id, body, note, kb))
        return outcomes

    async def discard(self, actor: int, revision_id: int) -> Refused | None:
        """Drop a draft: its author, or an admin."""
        role = await self.role(actor)
        draft = await self.store.get(revision_id)
        if draft is None:
            return Refused("not_found")
        if role < Role.ADMIN and not (role is Role.EDITOR
                                      and draft.author == await self.author(actor)):
            return Refused("not_allowed")
        return None if await self.store.discard(revision_id) else Refused("not_draft")

    async def add_example(self, actor: int, snippet_id: str, lang: str, text: str,
                          kb: KnowledgeBase) -> Outcome:
        """A real question becomes an example question of a card (the ranker learns it):
        published at once by an admin, a draft from an editor."""
        role = await self.role(actor)
        if role < Role.EDITOR:
            return Refused("not_allowed")
        snippet = kb.resolve(snippet_id)
        if snippet is None:
            return Refused("not_found")
        history = await self.store.history(Kind.SNIPPET, snippet.id)
        published = next((r for r in history if r.state == State.PUBLISHED), None)
        body = body_of(published) if published else dict(self.seed.cards[snippet.id])
        examples = {k: list(v) for k, v in (body.get("examples") or {}).items()}
        if text not in examples.setdefault(lang, []):
            examples[lang].append(text)
        body["examples"] = examples
        draft = await self.save(actor, Kind.SNIPPET, snippet.id, body,
                                history[0].number if history else 0, note="example question")
        if role < Role.ADMIN or not isinstance(draft, KnowledgeRevision):
            return draft
        return await self.publish(actor, draft.id or 0, kb)

    async def generation(self) -> int:
        """How many publications the desk has seen (0: the seed only)."""
        return int(await self.redis.get(keys.knowledge_generation()) or 0)
