"""``commonpurse import FILE.csv``: a spreadsheet of operations, applied as one transaction.

The header is exactly ``date,operation,reference,pot,counterparty,amount,description,
allocation_ref,to_pot``, optionally followed by ``tags``, ``shares`` and ``stream`` (any of them,
in any order). Rows are streamed, not held. Any bad row stops the import with the row number as
a spreadsheet shows it (the header is row 1), the column and what was wrong; the caller
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
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import rules
from ledger.bulk import Batch, Outcome
from ledger.errors import InvalidInput, LedgerError
from ledger.fy import parse_date, shown
from ledger.models import Entry, Request
from ledger.money import AmountError, format_pence, parse_pence, split_by_ratios
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
OPTIONAL = ("tags", "shares", "stream")
"""Columns a file may add after the nine of ``HEADER``; a row without them leaves them blank."""
COLUMNS = (*HEADER, *OPTIONAL)
OPERATIONS = (
    "award",
    "receive",
    "allocate",
    "delegate",
    "vary",
    "pay",
    "return",
    "carry_forward",
    "hand_back",
    "reduce_award",
    "close",
    "reverse",
)
BY_OPERATIONS = ("carry_forward", "hand_back", "reduce_award", "close", "reverse")
"""Year-end and correction rows, applied one at a time through ``ledger.operations`` after the
batch has written what it holds (``Batch.through_operations``)."""
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
    extra = cleaned[len(HEADER) :]
    if (
        cleaned[: len(HEADER)] != HEADER
        or len(set(extra)) != len(extra)
        or not set(extra) <= set(OPTIONAL)
    ):
        found = ",".join(header)
        hint = "; the file looks like UTF-16: save it as 'CSV UTF-8'" if "\x00" in found else ""
        raise ImportRowError(
            1,
            None,
            f"the header must be exactly: {','.join(HEADER)} (found: {shown(found)}){hint};"
            f" it may add the columns {', '.join(OPTIONAL)} at the end",
        )
    width = len(cleaned)
    # Every row is read as all of COLUMNS: the optional columns a file leaves out are blank.
    columns = (*cleaned, *(name for name in OPTIONAL if name not in cleaned))
    missing = [""] * (len(columns) - width)
    row_number = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportRowError(row_number + 1, None, f"not valid CSV ({error})") from None
        row_number += 1
        whole = "".join(values)
        if not whole.strip():
            continue
        if len(values) != width:
            raise ImportRowError(
                row_number, None, f"has {len(values)} columns; every row needs {width}"
            )
        # One test over the whole row first (almost every row passes); the field is found
        # only when it fails.
        if "\x00" in whole or (
            len(whole) > MAX_FIELD_CHARS and max(map(len, values)) > MAX_FIELD_CHARS
        ):
            for name, value in zip(cleaned, values, strict=True):
                if "\x00" in value:
                    raise ImportRowError(row_number, name, "contains a NUL character")
                if len(value) > MAX_FIELD_CHARS:
                    raise ImportRowError(
                        row_number, name, f"is longer than {MAX_FIELD_CHARS} characters"
                    )
        yield row_number, dict(zip(columns, [*map(str.strip, values), *missing], strict=True))


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
    if field in COLUMNS:
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
    "carry_forward": ("pot", "to_pot"),
    "hand_back": ("pot", "counterparty"),
    "reduce_award": ("allocation_ref",),
    "close": ("allocation_ref", "description"),
    "reverse": ("allocation_ref", "description"),
}
TAKES_TO_POT = ("delegate", "carry_forward")
TAKES_TAGS = ("allocate", "delegate")


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
    amount = _amount(operation, row, row_number)
    # The default reason is the same wherever the row comes from, so the same row imported again
    # from a renamed file, or further down a longer file, is recognised as already recorded.
    # The file and its rows are named in the import's audit event.
    memo = row["description"] or NO_DESCRIPTION
    for column in NEEDS[operation]:
        if column == "pot" and operation == "allocate" and row["shares"]:
            continue  # a pooled contract names its pots in shares
        if not row[column]:
            raise ImportRowError(row_number, column, f"a {operation} row needs {column}")
    if operation not in TAKES_TO_POT and row["to_pot"]:
        raise ImportRowError(
            row_number, "to_pot", "only delegate and carry_forward rows take a to_pot"
        )
    if operation not in TAKES_TAGS and row["tags"]:
        raise ImportRowError(row_number, "tags", "only allocate and delegate rows take tags")
    if operation != "allocate" and row["shares"]:
        raise ImportRowError(
            row_number, "shares", "only allocate rows take shares (a pooled contract)"
        )
    if operation != "award" and row["stream"]:
        raise ImportRowError(
            row_number, "stream", "only award rows take a stream (the funding stream of the pot)"
        )
    return operation, day, amount, memo


def _amount(operation: str, row: dict[str, str], row_number: int) -> int:
    """The row's amount in pence: signed for a variation; the money withdrawn (typed negative)
    for an award reduction; none for a close; for a reversal, blank or the entry's amount."""
    if operation == "close":
        if row["amount"]:
            raise ImportRowError(row_number, "amount", "a close row takes no amount")
        return 0
    if operation == "reverse" and not row["amount"]:
        return 0
    amount = parse_pence(row["amount"], allow_negative=operation in ("vary", "reduce_award"))
    if operation == "reduce_award":
        if amount >= 0:
            raise ImportRowError(
                row_number,
                "amount",
                "a reduce_award row takes a negative amount, the money the funder withdraws"
                " (such as -5000.00)",
            )
        return -amount
    return amount


def parse_shares(row: dict[str, str], amount_pence: int, row_number: int) -> list[tuple[str, int]]:
    """A pooled contract's pots and the row's amount split between them: ``shares`` reads
    ``WFWF 2023-24=3;CWP 2023-24=1`` (whole-number shares), and the amount is split exactly by
    largest remainder (``ledger.money.split_by_ratios``)."""
    names: list[str] = []
    weights: list[int] = []
    for part in row["shares"].split(";"):
        if not part.strip():
            continue
        name, equals, weight = part.rpartition("=")
        name, weight = name.strip(), weight.strip()
        if not equals or not name or not weight.isdecimal() or not weight.isascii():
            raise ImportRowError(
                row_number,
                "shares",
                f"{shown(part.strip())} is not a pot and its share; write each as POT=SHARE,"
                " separated by semicolons (WFWF 2023-24=3;CWP 2023-24=1)",
            )
        if int(weight) == 0 or len(weight) > 12:
            raise ImportRowError(
                row_number, "shares", f"the share of {name} must be a whole number from 1 up"
            )
        names.append(name)
        weights.append(int(weight))
    if not names:
        raise ImportRowError(row_number, "shares", "name at least one pot and its share")
    if row["pot"] and row["pot"] not in names:
        raise ImportRowError(
            row_number, "pot", f"{row['pot']} is not one of the pots in shares ({', '.join(names)})"
        )
    return list(zip(names, split_by_ratios(amount_pence, weights), strict=True))


def parse_tags(row: dict[str, str]) -> list[str]:
    """Promise Plan action codes and foundations, separated by semicolons (``WFS 1;2``)."""
    return [tag.strip() for tag in row["tags"].split(";") if tag.strip()]


def _apply(
    batch: Batch, row: dict[str, str], row_number: int, approved_by: str, gate: PaymentGate
) -> Outcome:
    operation, day, amount, memo = check_row(row, row_number)
    reference = row["reference"]
    # An award that names its funding stream goes through the operations too: the batch opens
    # pots in no stream.
    if operation in BY_OPERATIONS or (operation == "award" and row["stream"]):
        with batch.through_operations() as session:
            done = apply_by_operations(
                session,
                operation,
                row,
                row_number,
                amount_pence=amount,
                date=day,
                memo=memo,
                entered_by=batch.entered_by,
                approved_by=approved_by,
            )
        return Outcome(posted=isinstance(done, Entry), awaiting=isinstance(done, Request))
    if row["shares"] or row["tags"]:
        return batch.allocate_pooled(
            reference=reference,
            shares=parse_shares(row, amount, row_number)
            if row["shares"]
            else [(row["pot"], amount)],
            recipient=row["counterparty"],
            date=day,
            purpose=row["description"],
            memo=memo,
            approved_by=approved_by,
            tags=parse_tags(row),
            to_pot=row["to_pot"] or None,
        )
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
            approved_by=approved_by,
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
        approved_by=approved_by,
    )


def apply_by_operations(
    session: Session,
    operation: str,
    row: dict[str, str],
    row_number: int,
    *,
    amount_pence: int,
    date: dt.date,
    memo: str,
    entered_by: str,
    approved_by: str,
) -> Entry | Request | None:
    """A year-end or correction row (or an award naming its stream), through
    ``ledger.operations``: the entry it posted (or found already posted), the request it found
    waiting, or None for a close."""
    reference = row["reference"]
    common: dict[str, Any] = {"entered_by": entered_by, "approved_by": approved_by}
    if operation == "award":
        return ops.record_award(
            session,
            reference=reference,
            pot=row["pot"],
            funder=row["counterparty"],
            amount_pence=amount_pence,
            award_date=date,
            memo=memo,
            stream=row["stream"],
            **common,
        )
    if operation == "carry_forward":
        return ops.carry_forward(
            session,
            reference=reference,
            from_pot=row["pot"],
            to_pot=row["to_pot"],
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            **common,
        )
    if operation == "hand_back":
        pot = ops.find_pot(session, row["pot"])
        rules.require_funder_of_pot(pot.name, row["counterparty"], ops.funders_of_pot(session, pot))
        return ops.hand_back(
            session,
            reference=reference,
            pot=row["pot"],
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            **common,
        )
    if operation == "reduce_award":
        award = ops.find_award(session, row["allocation_ref"])
        check_award_columns(award.reference, award.pot.name, award.funder.name, row, row_number)
        return ops.reduce_award(
            session,
            reference=reference,
            award=row["allocation_ref"],
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            **common,
        )
    if operation == "close":
        allocation = ops.find_allocation(session, row["allocation_ref"])
        if allocation.status != "closed":  # closed already: this row was recorded before
            ops.close_allocation(
                session, reference=allocation.reference, closed_by=approved_by, reason=memo
            )
        return None
    target = reversal_target(session, row, row_number, amount_pence)
    return ops.reverse(
        session, entry_id=target, reason=memo, date=date, reference=reference, **common
    )


def check_award_columns(
    award: str, pot: str, funder: str, row: dict[str, str], row_number: int
) -> None:
    """On a reduce_award row ``pot`` and ``counterparty`` may be filled in for the reader; if
    they are, they must be the award's."""
    if row["pot"] and row["pot"] != pot:
        raise ImportRowError(row_number, "pot", f"award {award} is into {pot}, not {row['pot']}")
    if row["counterparty"] and row["counterparty"] != funder:
        raise ImportRowError(
            row_number, "counterparty", f"award {award} is from {funder}, not {row['counterparty']}"
        )


def reversal_target(
    session: Session, row: dict[str, str], row_number: int, amount_pence: int
) -> int:
    """The id of the entry a reverse row names by its reference (in ``allocation_ref``); an
    amount, if given, must be the entry's."""
    target = ops.find_entry(session, row["allocation_ref"])
    if amount_pence and amount_pence != target.amount_pence:
        raise ImportRowError(
            row_number,
            "amount",
            f"entry {target.reference} is for {format_pence(target.amount_pence)}, not"
            f" {format_pence(amount_pence)}; a reversal undoes the whole entry",
        )
    return target.id


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


_parse_day = lru_cache(maxsize=4096)(parse_date)
"""A file repeats its dates: each spelling is parsed once (a refusal is not cached)."""


def _date(row: dict[str, str], row_number: int) -> dt.date:
    try:
        return _parse_day(row["date"])
    except InvalidInput as error:
        raise ImportRowError(row_number, "date", str(error)) from error
