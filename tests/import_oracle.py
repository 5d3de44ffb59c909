"""The import applied the slow, obvious way: each row through ``ledger.operations``, one at a
time, as the web app records one operation. ``tests/test_bulk.py`` requires ``ledger.bulk`` to
leave exactly the same ledger."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.errors import LedgerError
from ledger.importer import ImportRowError, _column, check_row, read_rows
from ledger.models import AuditEvent, Entry
from ledger.money import AmountError


def import_rows_one_by_one(
    session: Session, lines: Iterable[str], *, source_name: str, entered_by: str, approved_by: str
) -> tuple[int, int]:
    """(rows, new entries)."""
    rows = new = 0
    for row_number, row in read_rows(lines):
        try:
            new += _apply(session, row, row_number, entered_by, approved_by)
        except ImportRowError:
            raise
        except AmountError as error:
            raise ImportRowError(row_number, "amount", str(error)) from error
        except LedgerError as error:
            raise ImportRowError(row_number, _column(error.field), str(error)) from error
        rows += 1
    if new:
        session.add(
            AuditEvent(
                actor=entered_by,
                action="import",
                subject=f"file {source_name}"[:200],
                detail=f"{rows} rows, {new} new entries, 0 awaiting"
                f" approval; approved under {approved_by}",
            )
        )
    return rows, new


def _apply(
    session: Session, row: dict[str, str], row_number: int, entered_by: str, approved_by: str
) -> int:
    """1 if the row posted a new entry, 0 if it was already recorded."""
    operation, day, amount, memo = check_row(row, row_number)
    reference = row["reference"]
    before = session.query(Entry.id).filter(Entry.reference == reference).first()
    if operation in ("vary", "pay", "return"):
        allocation = ops.find_allocation(session, row["allocation_ref"])
        pots = [share.pot.name for share in allocation.shares]
        if row["pot"] and row["pot"] not in pots:
            raise ImportRowError(row_number, "pot", "names another pot")
        if row["counterparty"] and row["counterparty"] != allocation.recipient.name:
            raise ImportRowError(row_number, "counterparty", "names another recipient")
    if operation == "award":
        ops.record_award(
            session,
            reference=reference,
            pot=row["pot"],
            funder=row["counterparty"],
            amount_pence=amount,
            award_date=day,
            entered_by=entered_by,
            memo=memo,
            approved_by=approved_by,
        )
    elif operation == "receive":
        ops.record_receipt(
            session,
            reference=reference,
            pot=row["pot"],
            funder=row["counterparty"],
            amount_pence=amount,
            date=day,
            entered_by=entered_by,
            memo=memo,
            approved_by=approved_by,
        )
    elif operation in ("allocate", "delegate"):
        ops.allocate(
            session,
            reference=reference,
            pot=row["pot"],
            recipient=row["counterparty"],
            amount_pence=amount,
            date=day,
            entered_by=entered_by,
            purpose=row["description"],
            memo=memo,
            approved_by=approved_by,
            to_pot=row["to_pot"] or None,
        )
    elif operation == "vary":
        ops.vary(
            session,
            reference=reference,
            allocation=row["allocation_ref"],
            delta_pence=amount,
            date=day,
            reason=memo,
            entered_by=entered_by,
            approved_by=approved_by,
        )
    elif operation == "pay":
        ops.pay(
            session,
            reference=reference,
            allocation=row["allocation_ref"],
            amount_pence=amount,
            date=day,
            entered_by=entered_by,
            memo=memo,
            approved_by=approved_by,
        )
    else:
        ops.return_unspent(
            session,
            reference=reference,
            allocation=row["allocation_ref"],
            amount_pence=amount,
            date=day,
            entered_by=entered_by,
            memo=memo,
            approved_by=approved_by,
        )
    return 0 if before is not None else 1
