"""the journal is append-only and hash-chained

Entries gain their position in the journal's hash chain (``chain_seq``) and chain hash
(``chain_sha256``); the single row of ``journal_head`` records the chain's tip. Existing entries
are chained in id order, with the same functions the application uses (``ledger.chain``).

Then the database itself refuses UPDATE and DELETE on ``entries``, ``lines`` and
``audit_events``, and DELETE on ``journal_head``: triggers on both engines. (TRUNCATE and DROP
fire no row triggers.) The chain is filled in first, because afterwards entries cannot be
updated.

On SQLite the new NOT NULL, UNIQUE and CHECK rules mean rebuilding ``entries``. Other tables
(``lines``, ``requests``) refer to it and foreign keys are on, so the rebuild defers foreign key
checks to the commit (``PRAGMA defer_foreign_keys``) and recreates the table under its own name
before copying the rows back: every reference is satisfied again before the commit checks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger import chain

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (statements refused, the message); messages contain no quote marks.
REFUSED = {
    "entries": (
        ("UPDATE", "DELETE"),
        "journal entries are append-only; correct a mistake with a reversal",
    ),
    "lines": (
        ("UPDATE", "DELETE"),
        "journal lines are append-only; correct a mistake with a reversal",
    ),
    "audit_events": (
        ("UPDATE", "DELETE"),
        "the audit log is append-only; its records cannot be changed or removed",
    ),
    "journal_head": (
        ("DELETE",),
        "the journal head records the last entry of the journal and cannot be removed",
    ),
}
PG_FUNCTION = "commonpurse_refuse_change"
BACKFILL_BATCH = 5_000

ENTRIES = sa.table(
    "entries",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("reference", sa.String()),
    sa.column("content_sha256", sa.String()),
    sa.column("effective_date", sa.Date()),
    sa.column("financial_year", sa.Integer()),
    sa.column("amount_pence", sa.BigInteger()),
    sa.column("memo", sa.Text()),
    sa.column("entered_by", sa.String()),
    sa.column("approved_by", sa.String()),
    sa.column("pot_id", sa.Integer()),
    sa.column("to_pot_id", sa.Integer()),
    sa.column("award_id", sa.Integer()),
    sa.column("allocation_id", sa.Integer()),
    sa.column("reverses_id", sa.Integer()),
    sa.column("chain_seq", sa.Integer()),
    sa.column("chain_sha256", sa.String()),
)
LINES = sa.table(
    "lines",
    sa.column("entry_id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("amount_pence", sa.BigInteger()),
)
HEAD = sa.table(
    "journal_head",
    sa.column("id", sa.Integer()),
    sa.column("last_seq", sa.Integer()),
    sa.column("last_sha256", sa.String()),
)


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


# The entries table, whole, for rebuilding it on SQLite -------------------------------------


def _entries_schema(*, chained: bool) -> list[sa.schema.SchemaItem]:
    """``entries`` as revision 0001 created it, plus the chain columns when ``chained``."""
    items: list[sa.schema.SchemaItem] = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("financial_year", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pot_id", sa.Integer(), nullable=True),
        sa.Column("to_pot_id", sa.Integer(), nullable=True),
        sa.Column("award_id", sa.Integer(), nullable=True),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)",
            name=op.f("ck_entries_reversal_names_target"),
        ),
        sa.CheckConstraint(
            "kind IN ('award', 'receive', 'allocate', 'delegate', 'vary', 'pay', 'return',"
            " 'carry_forward', 'hand_back', 'reversal')",
            name=op.f("ck_entries_kind_known"),
        ),
        sa.CheckConstraint("amount_pence > 0", name=op.f("ck_entries_amount_positive")),
        sa.CheckConstraint(
            "financial_year BETWEEN 1990 AND 2200", name=op.f("ck_entries_financial_year_range")
        ),
        sa.CheckConstraint("length(entered_by) > 0", name=op.f("ck_entries_entered_by_not_empty")),
        sa.CheckConstraint("length(memo) > 0", name=op.f("ck_entries_memo_not_empty")),
        sa.ForeignKeyConstraint(
            ["allocation_id"], ["allocations.id"], name=op.f("fk_entries_allocation_id_allocations")
        ),
        sa.ForeignKeyConstraint(
            ["award_id"], ["awards.id"], name=op.f("fk_entries_award_id_awards")
        ),
        sa.ForeignKeyConstraint(["pot_id"], ["pots.id"], name=op.f("fk_entries_pot_id_pots")),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["entries.id"], name=op.f("fk_entries_reverses_id_entries")
        ),
        sa.ForeignKeyConstraint(["to_pot_id"], ["pots.id"], name=op.f("fk_entries_to_pot_id_pots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_entries_reference")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_entries_reverses_id")),
    ]
    if chained:
        items += [
            sa.Column("chain_seq", sa.Integer(), nullable=False),
            sa.Column("chain_sha256", sa.String(length=64), nullable=False),
            sa.CheckConstraint("chain_seq > 0", name=op.f("ck_entries_chain_seq_positive")),
            sa.CheckConstraint(
                "length(chain_sha256) = 64", name=op.f("ck_entries_chain_sha256_length")
            ),
            sa.UniqueConstraint("chain_seq", name=op.f("uq_entries_chain_seq")),
        ]
    return items


def _rebuild_entries_on_sqlite(*, chained: bool) -> None:
    """Recreate ``entries`` with its new definition and the same rows, on SQLite."""
    columns = [
        item.name for item in _entries_schema(chained=chained) if isinstance(item, sa.Column)
    ]
    names = ", ".join(columns)
    op.execute("PRAGMA defer_foreign_keys = ON")  # until this transaction commits
    op.execute("DROP TABLE IF EXISTS _entries_before_0004")
    op.execute(f"CREATE TABLE _entries_before_0004 AS SELECT {names} FROM entries")
    op.execute("DROP TABLE entries")  # and its indexes
    op.create_table("entries", *_entries_schema(chained=chained))
    op.execute(
        f"INSERT INTO entries ({names}) SELECT {names} FROM _entries_before_0004 ORDER BY id"
    )
    op.execute("DROP TABLE _entries_before_0004")
    op.create_index("ix_entries_allocation_id", "entries", ["allocation_id"], unique=False)
    op.create_index("ix_entries_pot_id", "entries", ["pot_id"], unique=False)


# Chaining the entries already posted -------------------------------------------------------


def _chain_existing_entries() -> tuple[int, str]:
    """Give every entry, in id order, its position and chain hash; return the tip."""
    bind = op.get_bind()
    seq, tip = 0, chain.GENESIS
    after = 0
    while True:
        entries = bind.execute(
            sa.select(ENTRIES)
            .where(ENTRIES.c.id > after)
            .order_by(ENTRIES.c.id)
            .limit(BACKFILL_BATCH)
        ).all()
        if not entries:
            return seq, tip
        first, last = entries[0].id, entries[-1].id
        lines: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for entry_id, account_id, amount in bind.execute(
            sa.select(LINES.c.entry_id, LINES.c.account_id, LINES.c.amount_pence).where(
                LINES.c.entry_id.between(first, last)
            )
        ):
            lines[entry_id].append((account_id, amount))
        updates = []
        for entry in entries:
            seq += 1
            digest = chain.entry_digest(
                seq=seq,
                kind=entry.kind,
                reference=entry.reference,
                content_sha256=entry.content_sha256,
                effective_date=entry.effective_date,
                financial_year=entry.financial_year,
                amount_pence=entry.amount_pence,
                memo=entry.memo,
                entered_by=entry.entered_by,
                approved_by=entry.approved_by,
                pot_id=entry.pot_id,
                to_pot_id=entry.to_pot_id,
                award_id=entry.award_id,
                allocation_id=entry.allocation_id,
                reverses_id=entry.reverses_id,
                lines=lines[entry.id],
            )
            tip = chain.link(tip, digest)
            updates.append({"entry_id": entry.id, "seq": seq, "sha": tip})
        bind.execute(
            sa.update(ENTRIES)
            .where(ENTRIES.c.id == sa.bindparam("entry_id"))
            .values(chain_seq=sa.bindparam("seq"), chain_sha256=sa.bindparam("sha")),
            updates,
        )
        after = last


# Triggers ----------------------------------------------------------------------------------


def _create_triggers() -> None:
    if _is_sqlite():
        for table, (actions, message) in REFUSED.items():
            for action in actions:
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}"
                    f" BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
        return
    # restrict_violation (23001): an integrity error, as SQLite's RAISE(ABORT) is.
    op.execute(
        f"CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';"
        " END $$"
    )
    for table, (actions, message) in REFUSED.items():
        op.execute(
            f"CREATE TRIGGER {table}_refuse_change BEFORE {' OR '.join(actions)} ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}('{message}')"
        )


def _drop_triggers() -> None:
    if _is_sqlite():
        for table, (actions, _) in REFUSED.items():
            for action in actions:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action.lower()}")
        return
    for table in REFUSED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_change ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")


# Upgrade and downgrade ---------------------------------------------------------------------


def upgrade() -> None:
    op.create_table(
        "journal_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_journal_head_single_row")),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_journal_head_last_seq_not_negative")),
        sa.CheckConstraint(
            "length(last_sha256) = 64", name=op.f("ck_journal_head_last_sha256_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_head")),
    )
    op.add_column("entries", sa.Column("chain_seq", sa.Integer(), nullable=True))
    op.add_column("entries", sa.Column("chain_sha256", sa.String(length=64), nullable=True))

    last_seq, last_sha256 = _chain_existing_entries()
    op.get_bind().execute(
        sa.insert(HEAD).values(id=chain.HEAD_ID, last_seq=last_seq, last_sha256=last_sha256)
    )

    if _is_sqlite():
        _rebuild_entries_on_sqlite(chained=True)
    else:
        op.alter_column("entries", "chain_seq", existing_type=sa.Integer(), nullable=False)
        op.alter_column(
            "entries", "chain_sha256", existing_type=sa.String(length=64), nullable=False
        )
        op.create_unique_constraint(op.f("uq_entries_chain_seq"), "entries", ["chain_seq"])
        op.create_check_constraint(
            op.f("ck_entries_chain_seq_positive"), "entries", "chain_seq > 0"
        )
        op.create_check_constraint(
            op.f("ck_entries_chain_sha256_length"), "entries", "length(chain_sha256) = 64"
        )
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    if _is_sqlite():
        _rebuild_entries_on_sqlite(chained=False)
    else:
        op.drop_constraint(op.f("ck_entries_chain_sha256_length"), "entries", type_="check")
        op.drop_constraint(op.f("ck_entries_chain_seq_positive"), "entries", type_="check")
        op.drop_constraint(op.f("uq_entries_chain_seq"), "entries", type_="unique")
        op.drop_column("entries", "chain_sha256")
        op.drop_column("entries", "chain_seq")
    op.drop_table("journal_head")
