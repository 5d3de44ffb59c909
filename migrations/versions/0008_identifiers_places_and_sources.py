"""organisation identifiers, places and data sources

An organisation may hold an England and Wales or Northern Ireland charity number beside the
Scottish one, a local authority code of any UK register, any other org-id.guide identifier,
the ONS/GSS code of where it is, and a mark that it is part of the accountable body (a post
or an internal service, whose allocations are internal spend, not grants). A pot may name where
its figures can be checked (a web address and a document) and the area its money is for.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, type, CHECK or None). Each column is added with its own named CHECK in one
# ALTER TABLE, on SQLite as on PostgreSQL: no table is rebuilt, so the rows that point at
# organisations and pots (and the journal's append-only triggers) are never touched.
COLUMNS = (
    (
        "organisations",
        "ew_charity_number",
        "VARCHAR(8)",
        "length(ew_charity_number) BETWEEN 6 AND 8",
    ),
    (
        "organisations",
        "ni_charity_number",
        "VARCHAR(6)",
        "length(ni_charity_number) BETWEEN 5 AND 6",
    ),
    (
        "organisations",
        "local_authority_scheme",
        "VARCHAR(8)",
        "local_authority_scheme IN ('GB-LAS', 'GB-LAE', 'GB-PLA', 'GB-LANI')",
    ),
    ("organisations", "other_identifier", "VARCHAR(100)", None),
    ("organisations", "location_code", "VARCHAR(9)", "length(location_code) = 9"),
    ("organisations", "location_name", "VARCHAR(100)", None),
    ("pots", "data_source", "VARCHAR(500)", None),
    ("pots", "source_document", "VARCHAR(300)", None),
    ("pots", "area_code", "VARCHAR(9)", "length(area_code) = 9"),
    ("pots", "area_name", "VARCHAR(100)", None),
)
CHECK_NAMES = {
    "ew_charity_number": "ew_charity_number_form",
    "ni_charity_number": "ni_charity_number_form",
    "local_authority_scheme": "local_authority_scheme_known",
    "location_code": "location_code_form",
    "area_code": "area_code_form",
}


def upgrade() -> None:
    for table, column, sql_type, condition in COLUMNS:
        check = ""
        if condition is not None:
            name = f"ck_{table}_{CHECK_NAMES[column]}"
            check = f" CONSTRAINT {name} CHECK ({column} IS NULL OR {condition})"
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}{check}")
    false = "0" if op.get_bind().dialect.name == "sqlite" else "false"
    op.execute(f"ALTER TABLE organisations ADD COLUMN is_internal BOOLEAN NOT NULL DEFAULT {false}")


def downgrade() -> None:
    op.execute("ALTER TABLE organisations DROP COLUMN is_internal")
    for table, column, _, _ in reversed(COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
