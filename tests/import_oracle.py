"""The import applied the slow, obvious way: each row through ``ledger.operations``, one at a
time, as the web app records one operation. ``tests/test_bulk.py`` requires ``ledger.bulk`` to
leave exactly the same ledger."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import rules
from ledger.errors import LedgerError
from ledger.importer import (
    ImportRowError,
    _column,
    check_award_columns,
    check_row,
    parse_shares,
    parse_tags,
    read_rows,
    reversal_target,
)
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
    elif operation in ("allocate", "delegate") and (row["shares"] or row["tags"]):
        ops.allocate_pooled(
            session,
            reference=reference,
            shares=parse_shares(row, amount, row_number)
            if row["shares"]
            else [(row["pot"], amount)],
            recipient=row["counterparty"],
            date=day,
            entered_by=entered_by,
            purpose=row["description"],
            memo=memo,
            approved_by=approved_by,
            tags=parse_tags(row),
            to_pot=row["to_pot"] or None,
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
    elif operation == "carry_forward":
        ops.carry_forward(
            session,
            reference=reference,
            from_pot=row["pot"],
            to_pot=row["to_pot"],
            amount_pence=amount,
            date=day,
            entered_by=entered_by,
            memo=memo,
            approved_by=approved_by,
        )
    elif operation == "hand_back":
        pot = ops.find_pot(session, row["pot"])
        rules.require_funder_of_pot(pot.name, row["counterparty"], ops.funders_of_pot(session, pot))
        ops.hand_back(
            session,
            reference=reference,
            pot=row["pot"],
            amount_pence=amount,
            date=day,
            entered_by=entered_by,
            memo=memo,
            approved_by=approved_by,
        )
    elif operation == "reduce_award":
        award = ops.find_award(session, row["allocation_ref"])
        check_award_columns(award.reference, award.pot.name, award.funder.name, row, row_number)
        ops.reduce_award(
            session,
            reference=reference,
            award=row["allocation_ref"],
            amount_pence=amount,
            date=day,
            entered_by=entered_by,
            memo=memo,
            approved_by=approved_by,
        )
    elif operation == "close":
        allocation = ops.find_allocation(session, row["allocation_ref"])
        if allocation.status == "closed":
            return 0
        ops.close_allocation(
            session, reference=allocation.reference, closed_by=approved_by, reason=memo
        )
        return 0
    elif operation == "reverse":
        ops.reverse(
            session,
            entry_id=reversal_target(session, row, row_number, amount),
            reason=memo,
            entered_by=entered_by,
            date=day,
            reference=reference,
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
