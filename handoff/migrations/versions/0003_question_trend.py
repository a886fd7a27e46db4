"""Anonymous answered-question rows for the dashboard's trends.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "question_trend",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("row_key", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("topic", sqlmodel.AutoString(length=40), nullable=False),
        sa.Column("role", sqlmodel.AutoString(length=20), nullable=False),
        sa.Column("lang", sqlmodel.AutoString(length=5), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("helped", sa.Boolean(), nullable=True),
        sa.Column("handoff", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_question_trend_row_key", "question_trend", ["row_key"], unique=True)
    op.create_index("ix_question_trend_day", "question_trend", ["day"])
    op.create_index("ix_question_trend_topic", "question_trend", ["topic"])


def downgrade() -> None:
    op.drop_table("question_trend")
