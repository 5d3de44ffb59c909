"""the money rules bind every state

- Pots and organisations carry ``name_key``, the form two names share exactly when they look the
  same (``ledger.names``), unique, so ``P`` and a look-alike ``Р`` cannot both exist.
- A delegation may allow its intermediary to pay ahead of the cash handed over
  (``allows_advances``); without it, an intermediary pays only from cash it holds.
- Requests awaiting approval cover every act that changes what can be spent or paid, not only
  variations and payments: awards, receipts, returns, carry-forwards, hand-backs, reversals and
  whole imports entered in the web app. What the act needs beyond an allocation and an amount is
  kept in ``params`` (JSON).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.names import name_key

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('vary', 'pay')"
NEW_KINDS = (
    "kind IN ('vary', 'pay', 'award', 'receive', 'return', 'carry_forward', 'hand_back',"
    " 'reverse', 'import')"
)


def _backfill_keys(table: str) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(f"SELECT id, name FROM {table}")).all()
    seen: dict[str, str] = {}
    for row_id, name in rows:
        key = name_key(name)
        if key in seen:
            raise RuntimeError(
                f"{table}: '{name}' and '{seen[key]}' look the same; rename one before upgrading"
            )
        seen[key] = name
        connection.execute(
            sa.text(f"UPDATE {table} SET name_key = :k WHERE id = :i"), {"k": key, "i": row_id}
        )


def upgrade() -> None:
    # Added in place, never by rebuilding: pots, organisations and allocations are named by
    # foreign keys, and SQLite cannot drop a table others point at.
    for table in ("pots", "organisations"):
        op.add_column(
            table,
            sa.Column("name_key", sa.String(length=200), nullable=False, server_default=""),
        )
        _backfill_keys(table)
        op.create_index(op.f(f"uq_{table}_name_key"), table, ["name_key"], unique=True)
    op.add_column(
        "allocations",
        sa.Column("allows_advances", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("requests") as batch:
        batch.alter_column("kind", existing_type=sa.String(length=8), type_=sa.String(length=16))
        batch.alter_column("allocation_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("pot_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("params", sa.Text(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch.create_foreign_key(op.f("fk_requests_pot_id_pots"), "pots", ["pot_id"], ["id"])
        batch.create_index(op.f("ix_requests_pot_id"), ["pot_id"])
        batch.drop_constraint(op.f("ck_requests_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", NEW_KINDS)
        batch.drop_constraint(op.f("ck_requests_amount_not_zero"), type_="check")
        batch.create_check_constraint("amount_not_zero", "amount_pence <> 0 OR kind = 'import'")
        batch.drop_constraint(op.f("ck_requests_payment_positive"), type_="check")
        batch.create_check_constraint("payment_positive", "kind = 'vary' OR amount_pence >= 0")
        batch.drop_constraint(op.f("ck_requests_approved_has_entry"), type_="check")
        batch.create_check_constraint(
            "approved_has_entry",
            "(status = 'approved' AND (entry_id IS NOT NULL OR kind = 'import'))"
            " OR (status <> 'approved' AND entry_id IS NULL)",
        )
        batch.create_check_constraint(
            "names_its_subject",
            "allocation_id IS NOT NULL OR kind NOT IN ('vary', 'pay', 'return')",
        )


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint(op.f("ck_requests_names_its_subject"), type_="check")
        batch.drop_constraint(op.f("ck_requests_approved_has_entry"), type_="check")
        batch.create_check_constraint(
            "approved_has_entry", "(status = 'approved') = (entry_id IS NOT NULL)"
        )
        batch.drop_constraint(op.f("ck_requests_payment_positive"), type_="check")
        batch.create_check_constraint("payment_positive", "kind = 'vary' OR amount_pence > 0")
        batch.drop_constraint(op.f("ck_requests_amount_not_zero"), type_="check")
        batch.create_check_constraint("amount_not_zero", "amount_pence <> 0")
        batch.drop_constraint(op.f("ck_requests_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", OLD_KINDS)
        batch.drop_index(op.f("ix_requests_pot_id"))
        batch.drop_constraint(op.f("fk_requests_pot_id_pots"), type_="foreignkey")
        batch.drop_column("params")
        batch.drop_column("pot_id")
        batch.alter_column("allocation_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("kind", existing_type=sa.String(length=16), type_=sa.String(length=8))
    op.execute("ALTER TABLE allocations DROP COLUMN allows_advances")
    for table in ("organisations", "pots"):
        op.drop_index(op.f(f"uq_{table}_name_key"), table)
        op.execute(f"ALTER TABLE {table} DROP COLUMN name_key")
