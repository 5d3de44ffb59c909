"""money over time

The years of an award (its phasing, and what each document says about them), funding that is
expected but not yet awarded, payment and receipt schedules, reporting requirements and signed
statements. New tables only: none of them moves money, so the journal's tables are untouched.

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "requirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=100), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("waived_by", sa.String(length=100), nullable=True),
        sa.Column("waive_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('monitoring_return', 'end_of_grant_report', 'other')",
            name=op.f("ck_requirements_kind_known"),
        ),
        sa.CheckConstraint(
            "(received_by IS NULL) = (received_on IS NULL)",
            name=op.f("ck_requirements_received_has_date"),
        ),
        sa.CheckConstraint(
            "(waived_by IS NULL) = (waive_reason IS NULL)",
            name=op.f("ck_requirements_waived_has_reason"),
        ),
        sa.CheckConstraint("length(title) > 0", name=op.f("ck_requirements_title_not_empty")),
        sa.CheckConstraint(
            "received_by IS NULL OR waived_by IS NULL",
            name=op.f("ck_requirements_received_or_waived"),
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_requirements_allocation_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requirements")),
    )
    with op.batch_alter_table("requirements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_requirements_allocation_id"), ["allocation_id"], unique=False
        )

    op.create_table(
        "expected_funding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("funder_id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=True),
        sa.Column("pot_id", sa.Integer(), nullable=True),
        sa.Column("financial_year", sa.Integer(), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("amount_is_assumption", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_pence > 0", name=op.f("ck_expected_funding_amount_positive")),
        sa.CheckConstraint(
            "financial_year BETWEEN 1990 AND 2200",
            name=op.f("ck_expected_funding_financial_year_range"),
        ),
        sa.CheckConstraint(
            "length(reference) > 0", name=op.f("ck_expected_funding_reference_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["funder_id"],
            ["organisations.id"],
            name=op.f("fk_expected_funding_funder_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_expected_funding_pot_id_pots")
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["funding_streams.id"],
            name=op.f("fk_expected_funding_stream_id_funding_streams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expected_funding")),
        sa.UniqueConstraint("reference", name=op.f("uq_expected_funding_reference")),
    )
    with op.batch_alter_table("expected_funding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expected_funding_pot_id"), ["pot_id"], unique=False)

    op.create_table(
        "statement_signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pot_id", sa.Integer(), nullable=False),
        sa.Column("as_at", sa.Date(), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("signed_by", sa.String(length=100), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("chain_sha256", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "chain_seq >= 0", name=op.f("ck_statement_signoffs_chain_seq_not_negative")
        ),
        sa.CheckConstraint(
            "length(chain_sha256) = 64", name=op.f("ck_statement_signoffs_chain_sha256_length")
        ),
        sa.CheckConstraint(
            "length(signed_by) > 0", name=op.f("ck_statement_signoffs_signed_by_not_empty")
        ),
        sa.CheckConstraint(
            "since IS NULL OR since <= as_at", name=op.f("ck_statement_signoffs_since_before_as_at")
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"], ["pots.id"], name=op.f("fk_statement_signoffs_pot_id_pots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_signoffs")),
    )
    with op.batch_alter_table("statement_signoffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_signoffs_pot_id"), ["pot_id"], unique=False)

    op.create_table(
        "award_phasing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("award_id", sa.Integer(), nullable=False),
        sa.Column("financial_year", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_pence > 0", name=op.f("ck_award_phasing_amount_positive")),
        sa.CheckConstraint(
            "financial_year BETWEEN 1990 AND 2200",
            name=op.f("ck_award_phasing_financial_year_range"),
        ),
        sa.CheckConstraint(
            "length(approved_by) > 0", name=op.f("ck_award_phasing_approved_by_not_empty")
        ),
        sa.CheckConstraint(
            "length(entered_by) > 0", name=op.f("ck_award_phasing_entered_by_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_award_phasing_award_id_awards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_phasing")),
        sa.UniqueConstraint("award_id", "financial_year", name="uq_award_phasing_award_year"),
    )
    with op.batch_alter_table("award_phasing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_award_phasing_award_id"), ["award_id"], unique=False)

    op.create_table(
        "award_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("award_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("first_year", sa.Integer(), nullable=False),
        sa.Column("last_year", sa.Integer(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "first_year BETWEEN 1990 AND 2200", name=op.f("ck_award_readings_first_year_range")
        ),
        sa.CheckConstraint("last_year >= first_year", name=op.f("ck_award_readings_years_ordered")),
        sa.CheckConstraint(
            "last_year BETWEEN 1990 AND 2200", name=op.f("ck_award_readings_last_year_range")
        ),
        sa.CheckConstraint("length(source) > 0", name=op.f("ck_award_readings_source_not_empty")),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_award_readings_award_id_awards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_readings")),
        sa.UniqueConstraint("award_id", "source", name="uq_award_readings_award_source"),
    )
    with op.batch_alter_table("award_readings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_award_readings_award_id"), ["award_id"], unique=False)

    op.create_table(
        "instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("award_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("requirement_id", sa.Integer(), nullable=True),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN allocation_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN award_id IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_instalments_one_owner"),
        ),
        sa.CheckConstraint("amount_pence > 0", name=op.f("ck_instalments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_instalments_allocation_id_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_instalments_award_id_awards")
        ),
        sa.ForeignKeyConstraint(
            ["requirement_id"],
            ["requirements.id"],
            name=op.f("fk_instalments_requirement_id_requirements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalments")),
    )
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instalments_allocation_id"), ["allocation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_instalments_award_id"), ["award_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instalments_award_id"))
        batch_op.drop_index(batch_op.f("ix_instalments_allocation_id"))

    op.drop_table("instalments")
    with op.batch_alter_table("award_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_award_readings_award_id"))

    op.drop_table("award_readings")
    with op.batch_alter_table("award_phasing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_award_phasing_award_id"))

    op.drop_table("award_phasing")
    with op.batch_alter_table("statement_signoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_signoffs_pot_id"))

    op.drop_table("statement_signoffs")
    with op.batch_alter_table("expected_funding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expected_funding_pot_id"))

    op.drop_table("expected_funding")
    with op.batch_alter_table("requirements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requirements_allocation_id"))

    op.drop_table("requirements")
