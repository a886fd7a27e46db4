"""SQL tables: anonymised conversation summaries, per-snippet feedback counts, trend rows,
the coordinators' knowledge versions and the consented unanswered questions.

Nothing here identifies a user: no Telegram id, no name, no ticket id, and nothing computable
from one (the job key is random, drawn when the conversation closes, only to write each summary
once; the link from the ticket to it lives in Redis with the ticket and expires with it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class ConversationSummary(SQLModel, table=True):
    """One closed expert conversation, anonymised, for trend signalling."""

    __tablename__ = "conversation_summary"

    id: int | None = Field(default=None, primary_key=True)
    job_key: str = Field(unique=True, index=True, max_length=64)
    closed_on: date = Field(index=True)
    topic: str = Field(index=True, max_length=40)
    secondary_topics: str = Field(default="", max_length=400)
    sector: str = Field(max_length=40)
    province: str = Field(index=True, max_length=40)
    urgent: bool = False
    lang: str = Field(default="nl", max_length=5)
    waiting_minutes: int | None = None
    conversation_minutes: int | None = None
    outcome: str = Field(max_length=40)
    rating: int | None = None
    summary: str = ""
    comment: str | None = None
    snippets: str = Field(default="", max_length=2000)
    expert_ref: str = Field(default="", max_length=32)


class SnippetFeedback(SQLModel, table=True):
    """Helpful / not helpful counts per snippet, copied from Redis."""

    __tablename__ = "snippet_feedback"

    snippet_id: str = Field(primary_key=True, max_length=80)
    helpful: int = 0
    not_helpful: int = 0


class QuestionTrend(SQLModel, table=True):
    """One answered question, anonymous: no text, no user id, only what trends need."""

    __tablename__ = "question_trend"

    id: int | None = Field(default=None, primary_key=True)
    # Random per question, only to attach the later 'helped' and 'handoff' flags.
    row_key: str = Field(unique=True, index=True, max_length=32)
    day: date = Field(index=True)
    topic: str = Field(index=True, max_length=40)
    role: str = Field(default="", max_length=20)
    lang: str = Field(default="nl", max_length=5)
    urgent: bool = False
    helped: bool | None = None
    handoff: bool = False


class KnowledgeRevision(SQLModel, table=True):
    """One version of a guidance card or a referral, written in the dashboard: a draft until an
    admin publishes it; every published version is kept (restoring one publishes a copy).

    `number` counts an item's versions (1, 2, …): a save names the number it was based on, and
    the unique constraint makes the slower of two editors get a conflict, never a lost update."""

    __tablename__ = "knowledge_revision"
    __table_args__ = (UniqueConstraint("kind", "item_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # "snippet" | "referral"
    item_id: str = Field(index=True, max_length=80)
    number: int
    state: str = Field(index=True, max_length=12)  # draft | published | superseded | discarded
    body: str  # JSON in the seed files' layout (a card also carries its example questions)
    author: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utc_now,
                                 sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    published_by: str | None = Field(default=None, max_length=80)
    published_at: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    note: str = Field(default="", max_length=200)


class KnowledgeGap(SQLModel, table=True):
    """A question the desk could not answer well, kept only because the asker said yes:
    anonymised text, topic, language, role and week; nothing that links back to anyone."""

    __tablename__ = "knowledge_gap"

    id: int | None = Field(default=None, primary_key=True)
    week: date = Field(index=True)  # the Monday of the week it was asked
    topic: str = Field(index=True, max_length=40)
    lang: str = Field(max_length=5)
    role: str = Field(default="", max_length=20)
    text: str = Field(max_length=1000)
    shown: str = Field(default="", max_length=80)  # the card the desk answered with, if any
    reason: str = Field(max_length=12)  # "no_card" | "not_helped"
    state: str = Field(default="open", index=True, max_length=12)  # open|assigned|dismissed
    assigned: str | None = Field(default=None, max_length=80)
    expires_on: date = Field(index=True)
