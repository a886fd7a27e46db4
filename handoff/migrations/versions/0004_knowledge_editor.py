"""The coordinators' knowledge versions and the consented unanswered questions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sqlmodel.AutoString(length=10), nullable=False),
        sa.Column("item_id", sqlmodel.AutoString(length=80), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.AutoString(length=12), nullable=False),
        sa.Column("body", sqlmodel.AutoString(), nullable=False),
        sa.Column("author", sqlmodel.AutoString(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sqlmodel.AutoString(length=80), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sqlmodel.AutoString(length=200), nullable=False),
        sa.UniqueConstraint("kind", "item_id", "number"),
    )
    op.create_index("ix_knowledge_revision_item_id", "knowledge_revision", ["item_id"])
    op.create_index("ix_knowledge_revision_state", "knowledge_revision", ["state"])
    op.create_table(
        "knowledge_gap",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("topic", sqlmodel.AutoString(length=40), nullable=False),
        sa.Column("lang", sqlmodel.AutoString(length=5), nullable=False),
        sa.Column("role", sqlmodel.AutoString(length=20), nullable=False),
        sa.Column("text", sqlmodel.AutoString(length=1000), nullable=False),
        sa.Column("shown", sqlmodel.AutoString(length=80), nullable=False),
        sa.Column("reason", sqlmodel.AutoString(length=12), nullable=False),
        sa.Column("state", sqlmodel.AutoString(length=12), nullable=False),
        sa.Column("assigned", sqlmodel.AutoString(length=80), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
    )
    op.create_index("ix_knowledge_gap_week", "knowledge_gap", ["week"])
    op.create_index("ix_knowledge_gap_topic", "knowledge_gap", ["topic"])
    op.create_index("ix_knowledge_gap_state", "knowledge_gap", ["state"])
    op.create_index("ix_knowledge_gap_expires_on", "knowledge_gap", ["expires_on"])


def downgrade() -> None:
    op.drop_table("knowledge_gap")
    op.drop_table("knowledge_revision")
