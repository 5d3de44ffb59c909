"""The journal as CSV: every line of every entry, for auditors and spreadsheets.

One row per journal line, entries in the order they were posted (by id), lines in order. The
entry's columns repeat on each of its lines so that any row can be read on its own:

``entry_id``, ``date`` (effective, ISO), ``financial_year`` (``2022-23``), ``kind``,
``reference``, ``memo``, ``entered_by``, ``approved_by``, ``posted_at`` (UTC, ISO 8601),
``reverses`` (the id of the entry a reversal corrects), ``line_id``, ``account`` (the ledger's
account code, ``pot:1:available``), ``account_description`` and ``debit`` / ``credit``: plain
decimals (``82336.18``), exactly one of them filled on each row. Debits equal credits within every
entry.

Everything goes through ``statements.render.csv_safe.write_csv``: text that a spreadsheet would run
as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) is prefixed with ``'``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.fy import label
from ledger.journal import describe_account
from ledger.models import Account, Entry
from statements.exports.export_360giving import utc_iso
from statements.render.csv_safe import Amount, write_csv

HEADER = (
    "entry_id",
    "date",
    "financial_year",
    "kind",
    "reference",
    "memo",
    "entered_by",
    "approved_by",
    "posted_at",
    "reverses",
    "line_id",
    "account",
    "account_description",
    "debit",
    "credit",
)


def export_journal_csv(session: Session, out: TextIO) -> int:
    """Write the journal to ``out`` (open files with ``newline=""``); returns the rows written."""
    descriptions = {
        account.id: describe_account(session, account)
        for account in session.scalars(select(Account).order_by(Account.id))
    }
    count = 0

    def rows() -> Iterator[Sequence[object]]:
        nonlocal count
        for entry in session.scalars(select(Entry).order_by(Entry.id)):
            for line in entry.lines:
                count += 1
                amount = line.amount_pence
                yield (
                    entry.id,
                    entry.effective_date.isoformat(),
                    label(entry.financial_year),
                    entry.kind,
                    entry.reference or "",
                    entry.memo,
                    entry.entered_by,
                    entry.approved_by or "",
                    utc_iso(entry.posted_at),
                    entry.reverses_id if entry.reverses_id is not None else "",
                    line.id,
                    line.account.code,
                    descriptions[line.account_id],
                    Amount(amount) if amount > 0 else "",
                    Amount(-amount) if amount < 0 else "",
                )

    write_csv(out, HEADER, rows())
    return count
