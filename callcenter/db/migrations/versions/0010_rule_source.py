"""responsibility_rules.source, .active, .updated_at: admin edits survive `callcenter seed` (issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Rows that exist when upgrading become ``catalogue`` rules (what the last seed loaded; an admin edit made
before this revision cannot be told apart from the CSV rule any more and is replaced by the next seed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.db.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responsibility_rules") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="catalogue")
        )
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    op.create_index("ix_responsibility_rules_updated_at", "responsibility_rules", ["updated_at"])


def downgrade() -> None:
    # tombstones (deleted rules) would route again without the column: drop them with it
    op.execute("DELETE FROM responsibility_rules WHERE NOT active")
    op.drop_index("ix_responsibility_rules_updated_at", table_name="responsibility_rules")
    with op.batch_alter_table("responsibility_rules") as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("active")
        batch_op.drop_column("source")
