"""intake from every source: web form / Open311 receipts, city platform orders and push-backs,
grids, grid members, grid reports, photos and check tasks

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.db.types import UTCDateTime

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("external_due_at", UTCDateTime(), nullable=True))
    op.create_table(
        "web_receipts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, unique=True),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("submit_token", sa.String(length=200), nullable=True, unique=True),
        sa.Column("service_code", sa.String(length=16), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("address_string", sa.String(length=256), nullable=True),
        sa.Column("media_url", sa.String(length=512), nullable=True),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "city_orders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("deadline_at", UTCDateTime(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("pushed_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("partner", "upstream_id", name="uq_city_orders_partner_upstream"),
    )
    op.create_table(
        "city_nonces",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False, index=True),
        sa.UniqueConstraint("partner", "nonce", name="uq_city_nonces_partner_nonce"),
    )
    op.create_table(
        "city_pushes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("city_orders.id"), nullable=False, index=True),
        sa.Column("case_seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("order_id", "case_seq", name="uq_city_pushes_order_seq"),
    )
    op.create_table(
        "grids",
        sa.Column("code", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False, index=True),
        sa.Column("street_code", sa.String(length=12), nullable=True, index=True),
        sa.Column("district_code", sa.String(length=12), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "grid_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("grid_code", sa.String(length=32), sa.ForeignKey("grids.code"), nullable=False, index=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("duty", sa.String(length=16), nullable=False),
        sa.UniqueConstraint("grid_code", "user_id", name="uq_grid_members_grid_user"),
    )
    op.create_table(
        "grid_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, unique=True),
        sa.Column("grid_code", sa.String(length=32), nullable=True, index=True),
        sa.Column("street_code", sa.String(length=12), nullable=True, index=True),
        sa.Column("reporter_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("client_uuid", sa.String(length=64), nullable=False, unique=True),
        sa.Column("self_handled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("location_source", sa.String(length=16), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
    )
    op.create_table(
        "grid_photos",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=256), nullable=False),
        sa.Column("thumb_path", sa.String(length=256), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "grid_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("worker_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("street_code", sa.String(length=12), nullable=True, index=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, index=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "grid_tasks",
        "grid_photos",
        "grid_reports",
        "grid_members",
        "grids",
        "city_pushes",
        "city_nonces",
        "city_orders",
        "web_receipts",
    ):
        op.drop_table(table)
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("external_due_at")
