"""areas.handled_by: statistical units handled by another street office

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("areas") as batch:
        batch.add_column(sa.Column("handled_by", sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("areas") as batch:
        batch.drop_column("handled_by")
