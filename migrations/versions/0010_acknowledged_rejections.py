"""acknowledged rejections

The person who entered an allocation or a request sees on the dashboard that it was rejected, and
why, until they acknowledge it. Each acknowledgement is one row: who, which item, when. Only a
table is added; nothing else changes.

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("item", sa.String(length=100), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('allocation', 'request')", name=op.f("ck_acknowledgements_kind_known")
        ),
        sa.CheckConstraint(
            "length(username) > 0", name=op.f("ck_acknowledgements_username_not_empty")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgements")),
        sa.UniqueConstraint(
            "username", "kind", "item", name="uq_acknowledgements_username_kind_item"
        ),
    )


def downgrade() -> None:
    op.drop_table("acknowledgements")
