"""Versions of cards and referrals written in the dashboard, in SQL: drafts, publications,
and the history any earlier version can be restored from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handoff.models import KnowledgeRevision, utc_now
from knowledge.base import Overlay


class Kind(StrEnum):
    """What a revision is a version of."""

    SNIPPET = "snippet"
    REFERRAL = "referral"


class State(StrEnum):
    """Where a revision stands."""

    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # was published; a later version replaced it
    DISCARDED = "discarded"  # a draft nobody will publish


@dataclass(frozen=True, slots=True)
class Conflict:
    """Someone saved a newer version since the editor opened the card."""

    latest: KnowledgeRevision


def body_of(revision: KnowledgeRevision) -> dict[str, Any]:
    """The revision's card or referral, as the seed files lay it out."""
    return json.loads(revision.body)


class RevisionStore:
    """Reads and writes revisions; every change is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def overlay(self) -> Overlay:
        """The published version of every edited card and referral."""
        async with AsyncSession(self.engine) as db:
            rows = (await db.exec(select(KnowledgeRevision).where(
                KnowledgeRevision.state == State.PUBLISHED).order_by(
                col(KnowledgeRevision.id)))).all()
        snippets = {r.item_id: body_of(r) for r in rows if r.kind == Kind.SNIPPET}
        referrals = {r.item_id: body_of(r) for r in rows if r.kind == Kind.REFERRAL}
        return Overlay(snippets, referrals)

    async def get(self, revision_id: int) -> KnowledgeRevision | None:
        """One revision."""
        async with AsyncSession(self.engine) as db:
            return await db.get(KnowledgeRevision, revision_id)

    async def history(self, kind: Kind, item_id: str) -> list[KnowledgeRevision]:
        """Every version of an item, newest first."""
        async with AsyncSession(self.engine) as db:
            return list((await db.exec(select(KnowledgeRevision).where(
                KnowledgeRevision.kind == kind, KnowledgeRevision.item_id == item_id).order_by(
                col(KnowledgeRevision.number).desc()))).all())

    async def latest_number(self, kind: Kind, item_id: str) -> int:
        """The newest version's number (0: only the seed)."""
        versions = await self.history(kind, item_id)
        return versions[0].number if versions else 0

    async def drafts(self) -> list[KnowledgeRevision]:
        """Drafts waiting for an admin, oldest first."""
        async with AsyncSession(self.engine) as db:
            return list((await db.exec(select(KnowledgeRevision).where(
                KnowledgeRevision.state == State.DRAFT).order_by(
                col(KnowledgeRevision.id)))).all())

    async def edited(self) -> dict[tuple[str, str], KnowledgeRevision]:
        """Per (kind, item id), its newest revision."""
        async with AsyncSession(self.engine) as db:
            rows = (await db.exec(select(KnowledgeRevision).order_by(
                col(KnowledgeRevision.number)))).all()
        return {(r.kind, r.item_id): r for r in rows}

    async def add(self, kind: Kind, item_id: str, body: Mapping[str, Any], author: str,
                  based_on: int, note: str = "") -> KnowledgeRevision | Conflict:
        """A new draft, numbered after `based_on`; a Conflict if another version came first."""
        revision = KnowledgeRevision(
            kind=kind, item_id=item_id, number=based_on + 1, state=State.DRAFT,
            body=json.dumps(body, ensure_ascii=False, sort_keys=True), author=author,
            note=note[:200])
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            newest = (await db.exec(select(KnowledgeRevision).where(
                KnowledgeRevision.kind == kind, KnowledgeRevision.item_id == item_id).order_by(
                col(KnowledgeRevision.number).desc()).limit(1))).first()
            if newest is not None and newest.number != based_on:
                return Conflict(newest)
            db.add(revision)
            try:
                await db.commit()
            except IntegrityError:  # saved at the same moment: the unique number decides
                await db.rollback()
                latest = (await db.exec(select(KnowledgeRevision).where(
                    KnowledgeRevision.kind == kind, KnowledgeRevision.item_id == item_id,
                    KnowledgeRevision.number == based_on + 1))).one()
                return Conflict(latest)
        return revision

    async def publish(self, revision_id: int, publisher: str) -> KnowledgeRevision | None:
        """Make a draft the live version (the previous one is kept as superseded); None if it
        is no longer a draft."""
        async with AsyncSession(self.engine, expire_on_commit=False) as db:
            revision = await db.get(KnowledgeRevision, revision_id, with_for_update=True)
            if revision is None or revision.state != State.DRAFT:
                return None
            for old in (await db.exec(select(KnowledgeRevision).where(
                    KnowledgeRevision.kind == revision.kind,
                    KnowledgeRevision.item_id == revision.item_id,
                    KnowledgeRevision.state == State.PUBLISHED))).all():
                old.state = State.SUPERSEDED
                db.add(old)
            # Older drafts of the same item were written against an older text.
            for stale in (await db.exec(select(KnowledgeRevision).where(
                    KnowledgeRevision.kind == revision.kind,
                    KnowledgeRevision.item_id == revision.item_id,
                    KnowledgeRevision.state == State.DRAFT,
                    KnowledgeRevision.number < revision.number))).all():
                stale.state = State.DISCARDED
                db.add(stale)
            revision.state = State.PUBLISHED
            revision.published_by = publisher
            revision.published_at = utc_now()
            db.add(revision)
            await db.commit()
        return revision

    async def discard(self, revision_id: int) -> bool:
        """Drop a draft; False if it is not a draft."""
        async with AsyncSession(self.engine) as db:
            revision = await db.get(KnowledgeRevision, revision_id, with_for_update=True)
            if revision is None or revision.state != State.DRAFT:
                return False
            revision.state = State.DISCARDED
            db.add(revision)
            await db.commit()
        return True
