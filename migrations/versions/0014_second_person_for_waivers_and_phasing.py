"""second person for waivers and phasing

A waiver of a reporting requirement or the phasing of an award, asked for in the web app by one
person, waits in its own table until a second person approves or declines it. A new table only:
the journal's tables are untouched.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "second_person_requests"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("requirement_id", sa.Integer(), nullable=True),
        sa.Column("award_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("parts", sa.Text(), nullable=True),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('waive_requirement', 'phase_award')",
            name=op.f("ck_second_person_requests_kind_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined')",
            name=op.f("ck_second_person_requests_status_known"),
        ),
        sa.CheckConstraint(
            "length(entered_by) > 0", name=op.f("ck_second_person_requests_entered_by_not_empty")
        ),
        sa.CheckConstraint(
            "(kind = 'waive_requirement' AND requirement_id IS NOT NULL AND award_id IS NULL"
            " AND reason IS NOT NULL AND length(reason) > 0)"
            " OR (kind = 'phase_award' AND award_id IS NOT NULL AND requirement_id IS NULL"
            " AND parts IS NOT NULL)",
            name=op.f("ck_second_person_requests_names_its_subject"),
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_by IS NULL AND decided_at IS NULL)",
            name=op.f("ck_second_person_requests_decided_has_decider"),
        ),
        sa.ForeignKeyConstraint(
            ["requirement_id"],
            ["requirements.id"],
            name=op.f("fk_second_person_requests_requirement_id_requirements"),
        ),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_second_person_requests_award_id_awards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_person_requests")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_second_person_requests_requirement_id"), ["requirement_id"]
        )
        batch_op.create_index(batch_op.f("ix_second_person_requests_award_id"), ["award_id"])


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_second_person_requests_award_id"))
        batch_op.drop_index(batch_op.f("ix_second_person_requests_requirement_id"))
    op.drop_table(TABLE)
