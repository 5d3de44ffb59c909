"""``commonpurse import FILE.csv``: a spreadsheet of operations, applied as one transaction.

The header is exactly ``date,operation,reference,pot,counterparty,amount,description,
allocation_ref,to_pot``. Rows are streamed, not held. Any bad row stops the import with the row
number as a spreadsheet shows it (the header is row 1), the column and what was wrong; the caller
rolls the transaction back, so nothing is written. ``reference`` is the idempotency key: importing
the same file twice changes nothing.

An import is an administrator's act: rows are entered by the operator and approved under the
import's authority (``approved_by``), so imported history needs no second click per row.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger.bulk import Batch, Outcome
from ledger.errors import InvalidInput, LedgerError
from ledger.fy import parse_date, shown
from ledger.money import AmountError, parse_pence
from ledger.timeline import PaymentGate

HEADER = (
    "date",
    "operation",
    "reference",
    "pot",
    "counterparty",
    "amount",
    "description",
    "allocation_ref",
    "to_pot",
)
OPERATIONS = ("award", "receive", "allocate", "delegate", "vary", "pay", "return")
MAX_FIELD_CHARS = 2000
MAX_LINE_CHARS = 1 << 20
NO_DESCRIPTION = "Imported; no description given"


class ImportRowError(LedgerError):
    """A row that cannot be recorded: where it is and what was wrong."""

    def __init__(self, row: int, column: str | None, message: str) -> None:
        self.row = row
        self.column = column
        self.reason = message
        where = f"Row {row}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ImportResult:
    rows: int
    new_entries: int
    pending: int

    @property
    def already_recorded(self) -> int:
        return self.rows - self.new_entries - self.pending


def read_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (spreadsheet row number, row) after checking the header; blank lines are skipped."""
    reader = csv.reader(_limited(lines), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRowError(1, None, "the file is empty; it needs the header row") from None
    except csv.Error as error:
        raise ImportRowError(1, None, f"the header is not valid CSV ({error})") from None
    cleaned = tuple(h.strip().lower().lstrip("\ufeff") for h in header)
    if cleaned != HEADER:
        found = ",".join(header)
        hint = "; the file looks like UTF-16: save it as 'CSV UTF-8'" if "\x00" in found else ""
        raise ImportRowError(
            1,
            None,
            f"the header must be exactly: {','.join(HEADER)} (found: {shown(found)}){hint}",
        )
    row_number = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportRowError(row_number + 1, None, f"not valid CSV ({error})") from None
        row_number += 1
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(HEADER):
            raise ImportRowError(
                row_number, None, f"has {len(values)} columns; every row needs {len(HEADER)}"
            )
        for name, value in zip(HEADER, values, strict=True):
            if "\x00" in value:
                raise ImportRowError(row_number, name, "contains a NUL character")
            if len(value) > MAX_FIELD_CHARS:
                raise ImportRowError(
                    row_number, name, f"is longer than {MAX_FIELD_CHARS} characters"
                )
        yield row_number, {k: v.strip() for k, v in zip(HEADER, values, strict=True)}


CHUNK_ROWS = 1000
"""Rows applied between writes: their references are looked up together, and their entries
written together."""


def _limited(lines: Iterable[str]) -> Iterator[str]:
    """Lines as read, refusing one that reached ``MAX_LINE_CHARS`` without ending: callers read
    with ``readline(MAX_LINE_CHARS)``, so a file with no line breaks never sits in memory."""
    for number, line in enumerate(lines, 1):
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise ImportRowError(
                number,
                None,
                f"a line is longer than {MAX_LINE_CHARS:,} characters; is this the right file?",
            )
        yield line


def import_rows(
    session: Session,
    lines: Iterable[str],
    *,
    source_name: str,
    entered_by: str,
    approved_by: str,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Apply every row in order inside the caller's transaction; raise on the first bad row."""
    if not approved_by.strip():
        raise InvalidInput("An import needs the authority it is approved under (--approved-by)")
    batch = Batch(session, entered_by=entered_by)
    gate = PaymentGate(session)  # payments wait for the reporting requirements they need
    pending = 0
    rows = 0
    for chunk in _chunks(read_rows(lines), CHUNK_ROWS):
        batch.expect(
            (row["reference"] for _, row in chunk),
            pots=[name for _, row in chunk for name in (row["pot"], row["to_pot"])],
            organisations=[row["counterparty"] for _, row in chunk],
            allocations=[row["allocation_ref"] for _, row in chunk],
        )
        for row_number, row in chunk:
            try:
                outcome = _apply(batch, row, row_number, approved_by, gate)
            except ImportRowError:
                raise
            except AmountError as error:
                raise ImportRowError(row_number, "amount", str(error)) from error
            except LedgerError as error:
                raise ImportRowError(row_number, _column(error.field), str(error)) from error
            pending += outcome.awaiting
            rows += 1
            if progress is not None:
                progress(rows)
        batch.flush()
    result = ImportResult(rows=rows, new_entries=batch.posted, pending=pending)
    if result.new_entries or result.pending:  # a pure replay leaves no trace: it changed nothing
        batch.audit(
            entered_by,
            "import",
            f"file {source_name}"[:200],
            f"{rows} rows, {result.new_entries} new entries, {pending} awaiting"
            f" approval; approved under {approved_by}",
        )
    batch.finish()
    return result


def _chunks(
    rows: Iterator[tuple[int, dict[str, str]]], size: int
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    chunk: list[tuple[int, dict[str, str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _column(field: str | None) -> str | None:
    if field in HEADER:
        return field
    return "description" if field == "note" else None


NEEDS = {
    "award": ("pot", "counterparty"),
    "receive": ("pot", "counterparty"),
    "allocate": ("pot", "counterparty"),
    "delegate": ("pot", "counterparty", "to_pot"),
    "vary": ("allocation_ref",),
    "pay": ("allocation_ref",),
    "return": ("allocation_ref",),
}


def check_row(row: dict[str, str], row_number: int) -> tuple[str, dt.date, int, str]:
    """The checks every row passes before it is applied: (operation, date, pence, memo)."""
    operation = row["operation"].lower()
    if operation not in OPERATIONS:
        raise ImportRowError(
            row_number,
            "operation",
            f"{shown(row['operation'])} is not an operation; use one of {', '.join(OPERATIONS)}",
        )
    if not row["reference"]:
        raise ImportRowError(row_number, "reference", "every row needs a unique reference")
    day = _date(row, row_number)
    amount = parse_pence(row["amount"], allow_negative=operation == "vary")
    # The default reason is the same wherever the row comes from, so the same row imported again
    # from a renamed file, or further down a longer file, is recognised as already recorded.
    # The file and its rows are named in the import's audit event.
    memo = row["description"] or NO_DESCRIPTION
    for column in NEEDS[operation]:
        if not row[column]:
            raise ImportRowError(row_number, column, f"a {operation} row needs {column}")
    if operation != "delegate" and row["to_pot"]:
        raise ImportRowError(row_number, "to_pot", "only delegate rows take a to_pot")
    return operation, day, amount, memo


def _apply(
    batch: Batch, row: dict[str, str], row_number: int, approved_by: str, gate: PaymentGate
) -> Outcome:
    operation, day, amount, memo = check_row(row, row_number)
    reference = row["reference"]
    if operation in ("vary", "pay", "return"):
        _check_allocation_columns(batch, row, row_number)
    if operation == "award":
        return batch.award(
            reference=reference,
            pot=row["pot"],
            funder=row["counterparty"],
            amount_pence=amount,
            award_date=day,
            memo=memo,
            approved_by=approved_by,
        )
    if operation == "receive":
        return batch.receive(
            reference=reference,
            pot=row["pot"],
            funder=row["counterparty"],
            amount_pence=amount,
            date=day,
            memo=memo,
        )
    if operation in ("allocate", "delegate"):
        return batch.allocate(
            reference=reference,
            pot=row["pot"],
            recipient=row["counterparty"],
            amount_pence=amount,
            date=day,
            purpose=row["description"],
            memo=memo,
            approved_by=approved_by,
            to_pot=row["to_pot"] or None,
        )
    if operation == "vary":
        return batch.vary(
            reference=reference,
            allocation=row["allocation_ref"],
            delta_pence=amount,
            date=day,
            reason=memo,
            approved_by=approved_by,
        )
    if operation == "pay":
        gate.check(
            reference=reference, allocation=row["allocation_ref"], amount_pence=amount, date=day
        )
        return batch.pay(
            reference=reference,
            allocation=row["allocation_ref"],
            amount_pence=amount,
            date=day,
            memo=memo,
            approved_by=approved_by,
        )
    return batch.return_unspent(
        reference=reference,
        allocation=row["allocation_ref"],
        amount_pence=amount,
        date=day,
        memo=memo,
    )


def _check_allocation_columns(batch: Batch, row: dict[str, str], row_number: int) -> None:
    """On vary, pay and return rows ``pot`` and ``counterparty`` may be filled in for the
    reader; if they are, they must agree with the allocation, so a row that names the wrong
    pot or recipient is not silently applied to another one."""
    allocation = batch.find_allocation(row["allocation_ref"])
    pots = [share.pot.name for share in allocation.shares]
    if row["pot"] and row["pot"] not in pots:
        raise ImportRowError(
            row_number,
            "pot",
            f"allocation {allocation.reference} is funded from {', '.join(pots)}, not {row['pot']}",
        )
    if row["counterparty"] and row["counterparty"] != allocation.recipient:
        raise ImportRowError(
            row_number,
            "counterparty",
            f"allocation {allocation.reference} is to {allocation.recipient},"
            f" not {row['counterparty']}",
        )


def _date(row: dict[str, str], row_number: int) -> dt.date:
    try:
        return parse_date(row["date"])
    except InvalidInput as error:
        raise ImportRowError(row_number, "date", str(error)) from error
