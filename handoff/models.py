"""SQL tables: anonymised conversation summaries and per-snippet feedback counts.

Nothing here identifies a user: no Telegram id, no name, no ticket id, and nothing computable
from one (the job key is random, drawn when the conversation closes, only to write each summary
once; the link from the ticket to it lives in Redis with the ticket and expires with it).
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


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
