"""calls.node and users.node: the Asterisk node (systemname) of a call and an agent's home node

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("node", sa.String(length=32), nullable=True))
        batch.create_index("ix_calls_node_open", ["node", "ended_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("node", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("node")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_node_open")
        batch.drop_column("node")
