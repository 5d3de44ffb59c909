"""award reductions wait for approval like every other act

A funder withdrawing part of an award it has not yet paid (an award reduction) is an act that
changes what can be spent, so entered without a second person it waits as a request of its own
kind, ``reduce_award``. Only the requests' list of kinds changes; the journal's tables are not
touched (a posted reduction is an ``award`` entry whose legs run the other way).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "kind IN ('vary', 'pay', 'award', 'receive', 'return', 'carry_forward', 'hand_back',"
    " 'reverse', 'import')"
)
NEW_KINDS = (
    "kind IN ('vary', 'pay', 'award', 'receive', 'return', 'carry_forward', 'hand_back',"
    " 'reverse', 'import', 'reduce_award')"
)


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint(op.f("ck_requests_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM requests WHERE kind = 'reduce_award'")
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint(op.f("ck_requests_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", OLD_KINDS)
