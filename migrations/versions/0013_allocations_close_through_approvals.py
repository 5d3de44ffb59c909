"""closing an allocation waits for a second person, like every other act

An allocation closed from the web app is a request of its own kind, ``close``, approved or
rejected in the approvals queue. A closure moves no money and posts no journal entry, so, like a
whole import, it carries no amount and an approved one names no entry. Only the requests'
constraints change; the journal's tables are not touched.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "kind IN ('vary', 'pay', 'award', 'receive', 'return', 'carry_forward', 'hand_back',"
    " 'reverse', 'import', 'reduce_award')"
)
NEW_KINDS = (
    "kind IN ('vary', 'pay', 'award', 'receive', 'return', 'carry_forward', 'hand_back',"
    " 'reverse', 'import', 'reduce_award', 'close')"
)
ENTRYLESS = "kind IN ('import', 'close')"


def _constraints(kinds: str, entryless: str) -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint(op.f("ck_requests_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", kinds)
        batch.drop_constraint(op.f("ck_requests_amount_not_zero"), type_="check")
        batch.create_check_constraint("amount_not_zero", f"amount_pence <> 0 OR {entryless}")
        batch.drop_constraint(op.f("ck_requests_approved_has_entry"), type_="check")
        batch.create_check_constraint(
            "approved_has_entry",
            f"(status = 'approved' AND (entry_id IS NOT NULL OR {entryless}))"
            " OR (status <> 'approved' AND entry_id IS NULL)",
        )


def upgrade() -> None:
    _constraints(NEW_KINDS, ENTRYLESS)


def downgrade() -> None:
    op.execute("DELETE FROM requests WHERE kind = 'close'")
    _constraints(OLD_KINDS, "kind = 'import'")
