"""Conversation summaries and snippet feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_summary",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_key", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("topic", sqlmodel.AutoString(length=40), nullable=False),
        sa.Column("secondary_topics", sqlmodel.AutoString(length=400), nullable=False),
        sa.Column("sector", sqlmodel.AutoString(length=40), nullable=False),
        sa.Column("province", sqlmodel.AutoString(length=40), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("lang", sqlmodel.AutoString(length=5), nullable=False),
        sa.Column("waiting_minutes", sa.Integer(), nullable=True),
        sa.Column("conversation_minutes", sa.Integer(), nullable=True),
        sa.Column("outcome", sqlmodel.AutoString(length=40), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("summary", sqlmodel.AutoString(), nullable=False),
        sa.Column("comment", sqlmodel.AutoString(), nullable=True),
        sa.Column("snippets", sqlmodel.AutoString(length=2000), nullable=False),
        sa.Column("expert_ref", sqlmodel.AutoString(length=32), nullable=False),
    )
    op.create_index("ix_conversation_summary_job_key", "conversation_summary", ["job_key"],
                    unique=True)
    op.create_index("ix_conversation_summary_closed_on", "conversation_summary", ["closed_on"])
    op.create_index("ix_conversation_summary_topic", "conversation_summary", ["topic"])
    op.create_index("ix_conversation_summary_province", "conversation_summary", ["province"])
    op.create_table(
        "snippet_feedback",
        sa.Column("snippet_id", sqlmodel.AutoString(length=80), primary_key=True),
        sa.Column("helpful", sa.Integer(), nullable=False),
        sa.Column("not_helpful", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("snippet_feedback")
    op.drop_table("conversation_summary")
