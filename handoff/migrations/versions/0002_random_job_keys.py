"""Random job keys: rows written before carried HMAC(secret, "summary:<ticket id>"), which the
secret key and a ticket id from the logs could recompute; each gets a fresh random key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    table = sa.table("conversation_summary", sa.column("id", sa.Integer),
                     sa.column("job_key", sa.String))
    ids = [row.id for row in connection.execute(sa.select(table.c.id))]
    for row_id in ids:
        connection.execute(table.update().where(table.c.id == row_id).values(
            job_key=secrets.token_hex(16)))


def downgrade() -> None:
    # The old keys cannot (and must not) be recovered.
    pass
