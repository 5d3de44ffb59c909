"""Match the council's finance-system transactions export against the ledger.

**The finance export** is a CSV file (UTF-8; a spreadsheet's "CSV UTF-8" is fine) with a header
row naming exactly these columns, in this order::

    date,reference,amount,description

* ``date``: the transaction date, ISO (``2022-05-31``) or UK (``31/05/2022``).
* ``reference``: the reference the transaction was recorded under, the same one given to the
  ledger's receipt or payment (for example ``PAY-ABERLOUR-Q1``). It may not be blank.
* ``amount``: pounds and pence as typed in spreadsheets (``25000``, ``£25,000.00``,
  ``-25,000.00``, ``-£25,000.00``; see ``ledger.money.parse_pence``).
  **Sign convention: money IN to the council is positive** (a receipt from a funder, money a
  recipient gives back); **money OUT of the council is negative** (a payment to a recipient or
  intermediary, money handed back to a funder).
* ``description``: free text, shown but not matched.

Blank lines are skipped. Rows are numbered as a spreadsheet numbers them: the header is row 1.
A file that breaks these rules is refused with one line naming the row and what is wrong.

**The ledger side** is the council's own cash movements: receipts from funders (``receive``,
positive), payments (``pay``, negative), money given back by a recipient or intermediary
(``return``, positive) and money handed back to a funder (``hand_back``, negative), on pots the
council administers. An intermediary's payments from its delegated pot (CTSI's sub-grants) are in
its own books, not the council's, and are not expected in the export. A reversal nets against the
entry it reverses: a reversed payment counts as not paid and is **not expected** in the finance
export (it is listed for information). If the export records the recall under the reversal's own
reference, the payment and its reversal are matched separately instead.

**Matching** is by reference and signed amount. Several rows with one reference (on either side)
are added up first, so a payment and its cancellation in the finance system net out just as a
reversal does in the ledger. Each reference then falls into exactly one list: *matched* (the same
amount on both sides), *amount differences* (same reference, different amounts: both amounts and
the difference, finance minus ledger, are given), *only in the finance export*, or *only in the
ledger*. The two sides reconcile only when the last three lists are empty. Dates are shown but
not matched: the finance system often posts a day or two after the ledger's date.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput
from ledger.fy import parse_date
from ledger.models import Allocation, Award, Entry, Pot
from ledger.money import AmountError, parse_pence
from ledger.operations import get_setting
from statements.csv_safe import Amount, write_csv
from statements.formatting import money

HEADER = ("date", "reference", "amount", "description")
CASH_KINDS = {"receive": 1, "return": 1, "pay": -1, "hand_back": -1}
KIND_WORDS = {
    "receive": "receipt",
    "return": "money returned",
    "pay": "payment",
    "hand_back": "handed back",
    "reversal": "reversal of a payment or receipt",
}


class FinanceFileError(ValueError):
    """A finance export that cannot be read; ``str()`` is one line naming the row."""


@dataclass(frozen=True)
class FinanceRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    date: dt.date
    reference: str
    amount_pence: int
    description: str


@dataclass(frozen=True)
class LedgerItem:
    """The council's cash movements under one reference, net of reversals."""

    reference: str
    date: dt.date
    kind: str
    amount_pence: int  # signed: in to the council positive, out negative
    gross_pence: int  # the original entry's signed amount, before reversals
    reversed_on: dt.date | None
    reversal_reference: str | None
    counterparty: str
    pot: str
    allocation: str | None
    entry_ids: tuple[int, ...]

    @property
    def description(self) -> str:
        what = KIND_WORDS.get(self.kind, self.kind)
        direction = "from" if self.kind in ("receive", "return") else "to"
        on = f" on {self.allocation}" if self.allocation else ""
        return f"{what} {direction} {self.counterparty}{on} ({self.pot})"


@dataclass(frozen=True)
class MatchedReference:
    """One reference as both sides see it; ``finance_pence``/``ledger_pence`` are net sums."""

    reference: str
    finance_rows: tuple[FinanceRow, ...]
    ledger: LedgerItem | None
    finance_pence: int
    ledger_pence: int

    @property
    def difference_pence(self) -> int:
        """Finance minus ledger."""
        return self.finance_pence - self.ledger_pence

    @property
    def finance_date(self) -> dt.date | None:
        return self.finance_rows[0].date if self.finance_rows else None

    @property
    def finance_description(self) -> str:
        return "; ".join(r.description for r in self.finance_rows if r.description)

    @property
    def rows(self) -> str:
        return ", ".join(str(r.row) for r in self.finance_rows)


@dataclass(frozen=True)
class FinanceReconciliation:
    source: str
    finance_rows: int
    ledger_items: int
    matched: tuple[MatchedReference, ...]
    differences: tuple[MatchedReference, ...]
    only_in_finance: tuple[MatchedReference, ...]
    only_in_ledger: tuple[MatchedReference, ...]
    reversed_in_ledger: tuple[LedgerItem, ...]  # net zero: not expected in finance
    cancelled_in_finance: tuple[MatchedReference, ...]  # rows that net to zero, not in ledger

    @property
    def reconciles(self) -> bool:
        return not (self.differences or self.only_in_finance or self.only_in_ledger)


# Reading the export ------------------------------------------------------------------------


def read_finance_csv(handle: TextIO, source: str = "the finance export") -> tuple[FinanceRow, ...]:
    """Parse a finance export (see the module docstring); raise :class:`FinanceFileError`."""
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
        if header is None:
            raise FinanceFileError(f"{source} is empty; it needs the header row {','.join(HEADER)}")
        names = tuple(h.strip().lstrip("\ufeff").strip().lower() for h in header)
        if names != HEADER:
            raise FinanceFileError(
                f"{source} row 1: the header is {','.join(h.strip() for h in header)!r};"
                f" it must be {','.join(HEADER)}"
            )
        rows = [_row(source, number, cells) for number, cells in enumerate(reader, start=2)]
    except csv.Error as error:
        raise FinanceFileError(f"{source}: not a readable CSV file ({error})") from error
    except UnicodeDecodeError as error:
        raise FinanceFileError(
            f"{source} is not UTF-8 text (byte {error.start}); save it as 'CSV UTF-8'"
        ) from error
    return tuple(r for r in rows if r is not None)


def _row(source: str, number: int, cells: list[str]) -> FinanceRow | None:
    if not any(c.strip() for c in cells):
        return None
    where = f"{source} row {number}"
    if len(cells) != len(HEADER):
        raise FinanceFileError(
            f"{where}: has {len(cells)} columns; expected {len(HEADER)} ({','.join(HEADER)})"
        )
    date_text, reference, amount_text, description = (c.strip() for c in cells)
    try:
        date = parse_date(date_text)
    except InvalidInput as error:
        raise FinanceFileError(f"{where}: date {error}") from error
    if not reference:
        raise FinanceFileError(f"{where}: the reference is blank")
    try:
        amount = parse_pence(amount_text, allow_negative=True)
    except AmountError as error:
        raise FinanceFileError(f"{where}: amount {error}") from error
    return FinanceRow(number, date, reference, amount, description)


# The ledger's side -------------------------------------------------------------------------


def ledger_items(
    session: Session, *, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> tuple[LedgerItem, ...]:
    """The council's receipts, payments, returns and hand-backs, net of reversals, one per
    reference, dated within ``date_from``..``date_to`` (inclusive) when given."""
    council = get_setting(session, "accountable_body")
    reversals = {
        r.reverses_id: r
        for r in session.scalars(select(Entry).where(Entry.reverses_id.is_not(None)))
    }
    query = select(Entry).where(Entry.kind.in_(tuple(CASH_KINDS))).order_by(Entry.id)
    items: list[LedgerItem] = []
    for entry in session.scalars(query):
        if not _in_range(entry.effective_date, date_from, date_to):
            continue
        pot = session.get_one(Pot, entry.pot_id) if entry.pot_id is not None else None
        if pot is None or not _councils(pot, council):
            continue
        sign = CASH_KINDS[entry.kind]
        reversal = reversals.get(entry.id)
        if reversal is not None and not _in_range(reversal.effective_date, date_from, date_to):
            reversal = None
        gross = sign * entry.amount_pence
        allocation = (
            session.get_one(Allocation, entry.allocation_id) if entry.allocation_id else None
        )
        items.append(
            LedgerItem(
                reference=entry.reference or f"entry {entry.id}",
                date=entry.effective_date,
                kind=entry.kind,
                amount_pence=0 if reversal is not None else gross,
                gross_pence=gross,
                reversed_on=reversal.effective_date if reversal is not None else None,
                reversal_reference=reversal.reference if reversal is not None else None,
                counterparty=_counterparty(session, entry, allocation),
                pot=pot.name,
                allocation=allocation.reference if allocation is not None else None,
                entry_ids=(entry.id,) + ((reversal.id,) if reversal is not None else ()),
            )
        )
    return tuple(items)


def _in_range(day: dt.date, date_from: dt.date | None, date_to: dt.date | None) -> bool:
    return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)


def _councils(pot: Pot, council: str | None) -> bool:
    if council:
        return pot.administered_by.name == council
    return pot.parent_allocation_id is None


def _counterparty(session: Session, entry: Entry, allocation: Allocation | None) -> str:
    if allocation is not None:
        return allocation.recipient.name
    if entry.award_id is not None:
        return session.get_one(Award, entry.award_id).funder.name
    if entry.kind == "hand_back" and entry.pot_id is not None:
        pot = session.get_one(Pot, entry.pot_id)
        return pot.stream.funder.name if pot.stream else "the funder"
    return "?"


# Matching ----------------------------------------------------------------------------------


def match(
    rows: Sequence[FinanceRow], items: Sequence[LedgerItem], source: str = "the finance export"
) -> FinanceReconciliation:
    """Sort every reference into matched, differences, only in finance or only in the ledger."""
    finance: dict[str, list[FinanceRow]] = defaultdict(list)
    for row in rows:
        finance[row.reference].append(row)
    ledger: dict[str, LedgerItem] = {}
    for item in items:
        if item.reversal_reference is not None and item.reversal_reference in finance:
            # The finance system recorded the recall under the reversal's own reference: match
            # the payment and its reversal separately, as the finance system sees them.
            ledger[item.reference] = replace(item, amount_pence=item.gross_pence)
            ledger[item.reversal_reference] = replace(
                item,
                reference=item.reversal_reference,
                date=item.reversed_on or item.date,
                kind="reversal",
                amount_pence=-item.gross_pence,
            )
        else:
            ledger[item.reference] = item
    lists: dict[str, list[MatchedReference]] = defaultdict(list)
    for reference in [*finance, *(r for r in ledger if r not in finance)]:
        found = tuple(finance.get(reference, ()))
        book = ledger.get(reference)
        entry = MatchedReference(
            reference=reference,
            finance_rows=found,
            ledger=book,
            finance_pence=sum(r.amount_pence for r in found),
            ledger_pence=book.amount_pence if book is not None else 0,
        )
        in_finance = entry.finance_pence != 0
        in_ledger = entry.ledger_pence != 0
        if in_finance and in_ledger:
            lists["matched" if entry.difference_pence == 0 else "differences"].append(entry)
        elif in_finance:
            lists["only_in_finance"].append(entry)
        elif in_ledger:
            lists["only_in_ledger"].append(entry)
        elif found and book is None:
            lists["cancelled_in_finance"].append(entry)
        elif found:  # reversed in the ledger and cancelled in finance: they agree
            lists["matched"].append(entry)
    return FinanceReconciliation(
        source=source,
        finance_rows=len(rows),
        ledger_items=len(items),
        matched=tuple(lists["matched"]),
        differences=tuple(lists["differences"]),
        only_in_finance=tuple(lists["only_in_finance"]),
        only_in_ledger=tuple(lists["only_in_ledger"]),
        reversed_in_ledger=tuple(i for i in items if i.reversed_on is not None),
        cancelled_in_finance=tuple(lists["cancelled_in_finance"]),
    )


def reconcile_finance(
    session: Session,
    handle: TextIO,
    source: str = "the finance export",
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> FinanceReconciliation:
    """Read an export and match it with the ledger (both limited to the dates, if given)."""
    rows = [r for r in read_finance_csv(handle, source) if _in_range(r.date, date_from, date_to)]
    return match(rows, ledger_items(session, date_from=date_from, date_to=date_to), source)


# Rendering ----------------------------------------------------------------------------------


def render_text(result: FinanceReconciliation) -> str:
    out = [
        f"Reconciliation of {result.source} with the ledger",
        f"{result.finance_rows} finance rows; {result.ledger_items} ledger receipts and payments"
        f" in the council's own books ({len(result.reversed_in_ledger)} of them reversed).",
        "Sign convention: money in to the council is positive, money out is negative.",
    ]
    out += _section("Matched", result.matched, _matched_line)
    out += _section("Amount differences", result.differences, _difference_line)
    out += _section("Only in the finance export", result.only_in_finance, _finance_line)
    out += _section("Only in the ledger", result.only_in_ledger, _ledger_line)
    if result.reversed_in_ledger:
        out += ["", "Reversed in the ledger, so not expected in the finance export:"]
        for item in result.reversed_in_ledger:
            out.append(
                f"  {item.reference}  {money(item.gross_pence)}  {item.date.isoformat()}"
                f"  {item.description}, reversed {_iso(item.reversed_on)}"
            )
    if result.cancelled_in_finance:
        out += ["", "Cancelled out within the finance export (rows adding up to £0.00):"]
        for entry in result.cancelled_in_finance:
            out.append(f"  {entry.reference}  rows {entry.rows}")
    out.append("")
    if result.reconciles:
        out.append(
            f"Reconciled: all {len(result.matched)} references match the ledger to the penny."
        )
    else:
        problems = [
            f"{len(result.differences)} amount difference(s)",
            f"{len(result.only_in_finance)} only in the finance export",
            f"{len(result.only_in_ledger)} only in the ledger",
        ]
        out.append(f"Does not reconcile: {', '.join(problems)}; {len(result.matched)} matched.")
    return "\n".join(out) + "\n"


def _section(
    title: str, entries: Sequence[MatchedReference], line: Callable[[MatchedReference], str]
) -> list[str]:
    out = ["", f"{title} ({len(entries)}):"]
    if not entries:
        out.append("  none")
    out += [line(entry) for entry in entries]
    return out


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day is not None else "-"


def _matched_line(entry: MatchedReference) -> str:
    what = entry.ledger.description if entry.ledger is not None else entry.finance_description
    return f"  {entry.reference}  {money(entry.finance_pence)}  {_iso(entry.finance_date)}  {what}"


def _difference_line(entry: MatchedReference) -> str:
    hint = ""
    if entry.finance_pence == -entry.ledger_pence:
        hint = " (opposite signs: money in is positive, money out negative)"
    what = entry.ledger.description if entry.ledger is not None else ""
    return (
        f"  {entry.reference}  finance {money(entry.finance_pence)} (row {entry.rows}),"
        f" ledger {money(entry.ledger_pence)}, finance less ledger {money(entry.difference_pence)}"
        f"{hint}  {what}"
    )


def _finance_line(entry: MatchedReference) -> str:
    return (
        f"  {entry.reference}  {money(entry.finance_pence)}  {_iso(entry.finance_date)}"
        f"  row {entry.rows}  {entry.finance_description}"
    ).rstrip()


def _ledger_line(entry: MatchedReference) -> str:
    item = entry.ledger
    assert item is not None
    return (
        f"  {entry.reference}  {money(entry.ledger_pence)}  {_iso(item.date)}  {item.description}"
    )


CSV_HEADER = (
    "status",
    "reference",
    "finance_rows",
    "finance_date",
    "finance_amount",
    "ledger_date",
    "ledger_amount",
    "difference",
    "ledger_description",
    "finance_description",
)


def write_csv_report(out: TextIO, result: FinanceReconciliation) -> None:
    """The reconciliation as CSV (through ``csv_safe``), one row per reference."""
    write_csv(out, CSV_HEADER, _csv_rows(result))


def _csv_rows(result: FinanceReconciliation) -> Iterable[list[object]]:
    for status, entries in (
        ("matched", result.matched),
        ("amount difference", result.differences),
        ("only in finance", result.only_in_finance),
        ("only in ledger", result.only_in_ledger),
        ("cancelled in finance", result.cancelled_in_finance),
    ):
        for entry in entries:
            item = entry.ledger
            yield [
                status,
                entry.reference,
                entry.rows,
                _iso(entry.finance_date) if entry.finance_rows else "",
                Amount(entry.finance_pence) if entry.finance_rows else "",
                item.date.isoformat() if item is not None else "",
                Amount(entry.ledger_pence) if item is not None else "",
                Amount(entry.difference_pence),
                item.description if item is not None else "",
                entry.finance_description,
            ]
    for item in result.reversed_in_ledger:
        if item.reference not in {e.reference for e in result.matched}:
            yield [
                "reversed in ledger",
                item.reference,
                "",
                "",
                "",
                item.date.isoformat(),
                Amount(item.amount_pence),
                Amount(0),
                f"{item.description}, reversed {_iso(item.reversed_on)}",
                "",
            ]
