"""indexes for pages at scale

A pot page lists the pot's latest entries, newest first, by the pot they come from or are
delegated to; the dashboard counts what waits for approval. At a million entries these were
full scans (about 150 ms and 50 ms); with these indexes they are a few milliseconds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROVISIONAL = sa.text("status = 'provisional'")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_entries_pot_id_effective_date", "entries", ["pot_id", "effective_date", "id"]
    )
    op.create_index(
        "ix_entries_to_pot_id_effective_date", "entries", ["to_pot_id", "effective_date", "id"]
    )
    op.create_index(
        "ix_allocations_provisional",
        "allocations",
        ["status"],
        sqlite_where=PROVISIONAL,
        postgresql_where=PROVISIONAL,
    )
    op.create_index(
        "ix_requests_pending",
        "requests",
        ["status"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_requests_pending", "requests")
    op.drop_index("ix_allocations_provisional", "allocations")
    op.drop_index("ix_entries_to_pot_id_effective_date", "entries")
    op.drop_index("ix_entries_pot_id_effective_date", "entries")
