"""sign-out ends every session

A session is a signed cookie kept by the browser. Signing out used to clear only the browser's
copy: a copy taken earlier still signed in. Each person now has a session generation, stored in
the session at sign-in and raised at sign-out; a session from an older generation signs nobody
in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_check_constraint(
            "session_generation_not_negative", "session_generation >= 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(op.f("ck_users_session_generation_not_negative"), type_="check")
        batch_op.drop_column("session_generation")
