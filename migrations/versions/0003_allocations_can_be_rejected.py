"""allocations can be rejected

A provisional allocation that a second person turns down keeps its record, with status
'rejected' and no approver.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('provisional', 'confirmed', 'closed')"
NEW_STATUSES = "status IN ('provisional', 'confirmed', 'closed', 'rejected')"
OLD_APPROVER = "status = 'provisional' OR approved_by IS NOT NULL"
NEW_APPROVER = "status IN ('provisional', 'rejected') OR approved_by IS NOT NULL"


def _replace_checks(statuses: str, approver: str) -> None:
    with op.batch_alter_table("allocations") as batch_op:
        batch_op.drop_constraint(op.f("ck_allocations_status_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_allocations_confirmed_has_approver"), type_="check")
        batch_op.create_check_constraint("status_known", statuses)
        batch_op.create_check_constraint("confirmed_has_approver", approver)


def upgrade() -> None:
    _replace_checks(NEW_STATUSES, NEW_APPROVER)


def downgrade() -> None:
    # The older schema knows no 'rejected': such allocations (their money already released by
    # a journal entry) become 'closed', naming the rejection as their approver.
    op.execute(
        "UPDATE allocations SET status = 'closed',"
        " approved_by = COALESCE(approved_by, 'rejected') WHERE status = 'rejected'"
    )
    _replace_checks(OLD_STATUSES, OLD_APPROVER)
