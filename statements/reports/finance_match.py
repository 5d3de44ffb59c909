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

**Matching** is by reference and signed amount. References that differ only in case or spaces
(``pay-afc- 1`` and ``PAY-AFC-1``) are one reference, with the spelling noted. Several rows with
one reference (on either side) are added up first, so a payment and its cancellation in the
finance system net out just as a reversal does in the ledger; such references are also listed,
so a duplicated row is seen, not silently added. Each reference then falls into exactly one list:
*matched* (the same amount on both sides), *amount differences* (same reference, different
amounts: both amounts and the difference, finance minus ledger, are given), *only in the finance
export*, *only in the ledger*, *an intermediary's own payment* (a finance row under the reference
of a payment an intermediary made from its delegated pot: in its books, not the council's), or
*dated outside the window on the other side*. A finance row left only in the export whose amount
is exactly the sum of two or more ledger items left only in the ledger, from one counterparty and
of the same sign (one remittance for several receipts), is matched with a note naming each. The
two sides reconcile only when amount differences, only-in-one-side and intermediaries' payments
are all empty. Dates are shown but not matched: the finance system often posts a day or two
after the ledger's date.

**A date window** (``date_from``..``date_to``, inclusive) takes finance rows and ledger items by
the same rule, each by its own date (a reversal dated after the window does not count in it).
A reference taken on one side whose match on the other side is dated outside the window is
listed as *dated outside the window on the other side*, not as two unrelated exceptions.

**Control totals** head the report: money in and money out, on each side, over what the window
takes, and finance less ledger.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput
from ledger.fy import parse_date
from ledger.models import Allocation, Award, Entry, Pot
from ledger.money import AmountError, parse_pence
from ledger.operations import get_setting
from statements.render.csv_safe import Amount, write_csv
from statements.render.formatting import money

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
    paid_by: str | None = None  # an intermediary paying from its delegated pot

    @property
    def description(self) -> str:
        what = KIND_WORDS.get(self.kind, self.kind)
        direction = "from" if self.kind in ("receive", "return") else "to"
        on = f" on {self.allocation}" if self.allocation else ""
        return f"{what} {direction} {self.counterparty}{on} ({self.pot})"


@dataclass(frozen=True)
class MatchedReference:
    """One reference as both sides see it; ``finance_pence``/``ledger_pence`` are net sums.

    ``covers`` lists the ledger receipts one finance remittance pays together (then ``ledger``
    is None and ``ledger_pence`` their sum); ``note`` says anything the reader must know: a
    reference spelt differently, a side dated outside the window, a remittance, an
    intermediary's payment."""

    reference: str
    finance_rows: tuple[FinanceRow, ...]
    ledger: LedgerItem | None
    finance_pence: int
    ledger_pence: int
    covers: tuple[LedgerItem, ...] = ()
    note: str = ""

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

    @property
    def ledger_items(self) -> tuple[LedgerItem, ...]:
        return self.covers or ((self.ledger,) if self.ledger is not None else ())

    @property
    def ledger_description(self) -> str:
        return "; ".join(
            f"{i.reference}: {i.description}" if self.covers else i.description
            for i in self.ledger_items
        )

    @property
    def ledger_date(self) -> dt.date | None:
        items = self.ledger_items
        return items[0].date if items else None


@dataclass(frozen=True)
class ControlTotals:
    """Money in and out on each side, over the rows the window takes."""

    finance_in_pence: int
    finance_out_pence: int  # negative
    ledger_in_pence: int
    ledger_out_pence: int  # negative

    @property
    def finance_net_pence(self) -> int:
        return self.finance_in_pence + self.finance_out_pence

    @property
    def ledger_net_pence(self) -> int:
        return self.ledger_in_pence + self.ledger_out_pence

    def rows(self) -> tuple[tuple[str, int, int], ...]:
        """(what, finance, ledger) for money in, money out and the net."""
        return (
            ("Money in", self.finance_in_pence, self.ledger_in_pence),
            ("Money out", self.finance_out_pence, self.ledger_out_pence),
            ("Net", self.finance_net_pence, self.ledger_net_pence),
        )


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
    totals: ControlTotals = ControlTotals(0, 0, 0, 0)
    # One side in the window, its match dated outside it on the other side.
    outside_window: tuple[MatchedReference, ...] = ()
    # Finance rows that are an intermediary's own payment from its delegated pot.
    intermediary_payments: tuple[MatchedReference, ...] = ()
    # References on more than one finance row: shown, as well as added up.
    repeated: tuple[MatchedReference, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @property
    def reconciles(self) -> bool:
        return not (
            self.differences
            or self.only_in_finance
            or self.only_in_ledger
            or self.intermediary_payments
        )

    @property
    def problems(self) -> str:
        """ "1 amount difference, 2 only in the finance export, ..." (what stops it reconciling)."""
        parts = [
            plural(len(self.differences), "amount difference"),
            f"{len(self.only_in_finance)} only in the finance export",
            f"{len(self.only_in_ledger)} only in the ledger",
        ]
        if self.intermediary_payments:
            parts.append(
                plural(
                    len(self.intermediary_payments),
                    "intermediary's own payment",
                    "intermediaries' own payments",
                )
            )
        return ", ".join(parts)

    @property
    def window(self) -> str:
        """ "from 01/04/2022 to 31/03/2023", or "" when every date is taken."""
        parts = []
        if self.date_from is not None:
            parts.append(f"from {self.date_from:%d/%m/%Y}")
        if self.date_to is not None:
            parts.append(f"to {self.date_to:%d/%m/%Y}")
        return " ".join(parts)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 finance row", "2 finance rows", "0 amount differences"."""
    word = singular if count == 1 else plural_form or f"{singular}s"
    return f"{count} {word}"


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


def intermediary_payments(session: Session) -> tuple[LedgerItem, ...]:
    """Payments an intermediary made from its delegated pot (CTSI's sub-grants): in its own
    books, never in the council's export, so a finance row under one of their references is
    named as such rather than left "only in the finance export"."""
    council = get_setting(session, "accountable_body")
    found: list[LedgerItem] = []
    query = select(Entry).where(Entry.kind == "pay", Entry.reverses_id.is_(None))
    for entry in session.scalars(query.order_by(Entry.id)):
        pot = session.get_one(Pot, entry.pot_id) if entry.pot_id is not None else None
        if pot is None or _councils(pot, council):
            continue
        allocation = (
            session.get_one(Allocation, entry.allocation_id) if entry.allocation_id else None
        )
        found.append(
            LedgerItem(
                reference=entry.reference or f"entry {entry.id}",
                date=entry.effective_date,
                kind="pay",
                amount_pence=-entry.amount_pence,
                gross_pence=-entry.amount_pence,
                reversed_on=None,
                reversal_reference=None,
                counterparty=_counterparty(session, entry, allocation),
                pot=pot.name,
                allocation=allocation.reference if allocation is not None else None,
                entry_ids=(entry.id,),
                paid_by=pot.administered_by.name,
            )
        )
    return tuple(found)


# Matching ----------------------------------------------------------------------------------

REMITTANCE_CANDIDATES = 12  # receipts looked at per counterparty: at most 4,096 combinations


def reference_key(reference: str) -> str:
    """References that differ only in case or spaces are one reference."""
    return "".join(reference.split()).casefold()


def _windowed(
    item: LedgerItem, date_from: dt.date | None, date_to: dt.date | None
) -> LedgerItem | None:
    """The item as the window sees it: None if dated outside it; a reversal dated outside the
    window does not count inside it."""
    if not _in_range(item.date, date_from, date_to):
        return None
    if item.reversed_on is not None and not _in_range(item.reversed_on, date_from, date_to):
        return replace(
            item,
            amount_pence=item.gross_pence,
            reversed_on=None,
            reversal_reference=None,
            entry_ids=item.entry_ids[:1],
        )
    return item


def match(
    rows: Sequence[FinanceRow],
    items: Sequence[LedgerItem],
    source: str = "the finance export",
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    intermediary: Sequence[LedgerItem] = (),
) -> FinanceReconciliation:
    """Sort every reference into matched, differences, only in finance or only in the ledger.

    ``rows`` and ``items`` are every row and item; the window (``date_from``..``date_to``,
    inclusive) takes both sides by the same rule, the date of each. A reference taken on one
    side whose match is dated outside the window on the other is listed apart, not as two
    exceptions. References are matched ignoring case and spaces, with the difference noted."""
    taken_rows = [r for r in rows if _in_range(r.date, date_from, date_to)]
    taken = [w for w in (_windowed(i, date_from, date_to) for i in items) if w is not None]
    ledger = _by_reference(taken, {r.reference for r in taken_rows})
    everything = _by_reference(list(items), {r.reference for r in rows})
    keys = _Keys(ledger)
    finance: dict[str, list[FinanceRow]] = defaultdict(list)
    for row in taken_rows:
        finance[keys.finance(row.reference)].append(row)
    outside_rows: dict[str, list[FinanceRow]] = defaultdict(list)
    for row in rows:
        if not _in_range(row.date, date_from, date_to):
            outside_rows[reference_key(row.reference)].append(row)
    outside_items = {
        reference_key(ref): item for ref, item in everything.items() if ref not in ledger
    }
    paid_by_intermediary = {reference_key(i.reference): i for i in intermediary}

    lists: dict[str, list[MatchedReference]] = defaultdict(list)
    for key in [*finance, *(k for k in keys.ledger if k not in finance)]:
        found = tuple(finance.get(key, ()))
        book = keys.ledger.get(key)
        entry = MatchedReference(
            reference=book.reference if book is not None else found[0].reference,
            finance_rows=found,
            ledger=book,
            finance_pence=sum(r.amount_pence for r in found),
            ledger_pence=book.amount_pence if book is not None else 0,
            note=_spelling(found, book),
        )
        in_finance = entry.finance_pence != 0
        in_ledger = entry.ledger_pence != 0
        if len(found) > 1:
            lists["repeated"].append(entry)
        if in_finance and in_ledger:
            lists["matched" if entry.difference_pence == 0 else "differences"].append(entry)
        elif in_finance and book is None and key in outside_items:
            lists["outside_window"].append(_outside(entry, ledger=outside_items[key]))
        elif in_finance and book is None and reference_key(entry.reference) in paid_by_intermediary:
            lists["intermediary_payments"].append(
                _intermediary(entry, paid_by_intermediary[reference_key(entry.reference)])
            )
        elif in_finance:
            lists["only_in_finance"].append(entry)
        elif in_ledger and not found and outside_rows.get(reference_key(entry.reference)):
            lists["outside_window"].append(
                _outside(entry, rows=outside_rows[reference_key(entry.reference)])
            )
        elif in_ledger:
            lists["only_in_ledger"].append(entry)
        elif found and book is None:
            lists["cancelled_in_finance"].append(entry)
        elif found:  # reversed in the ledger and cancelled in finance: they agree
            lists["matched"].append(entry)
    remittances, only_in_finance, only_in_ledger = _remittances(
        lists["only_in_finance"], lists["only_in_ledger"]
    )
    return FinanceReconciliation(
        source=source,
        finance_rows=len(taken_rows),
        ledger_items=len(taken),
        matched=(*lists["matched"], *remittances),
        differences=tuple(lists["differences"]),
        only_in_finance=only_in_finance,
        only_in_ledger=only_in_ledger,
        reversed_in_ledger=tuple(i for i in taken if i.reversed_on is not None),
        cancelled_in_finance=tuple(lists["cancelled_in_finance"]),
        totals=ControlTotals(
            sum(r.amount_pence for r in taken_rows if r.amount_pence > 0),
            sum(r.amount_pence for r in taken_rows if r.amount_pence < 0),
            sum(i.amount_pence for i in taken if i.amount_pence > 0),
            sum(i.amount_pence for i in taken if i.amount_pence < 0),
        ),
        outside_window=tuple(lists["outside_window"]),
        intermediary_payments=tuple(lists["intermediary_payments"]),
        repeated=tuple(lists["repeated"]),
        date_from=date_from,
        date_to=date_to,
    )


def _by_reference(items: Sequence[LedgerItem], finance_refs: set[str]) -> dict[str, LedgerItem]:
    """The ledger's items by reference; a reversal the finance system recorded under its own
    reference is split from the payment it reverses, as the finance system sees them."""
    keyed = {reference_key(r) for r in finance_refs}
    ledger: dict[str, LedgerItem] = {}
    for item in items:
        recall = item.reversal_reference
        if recall is not None and reference_key(recall) in keyed:
            ledger[item.reference] = replace(item, amount_pence=item.gross_pence)
            ledger[recall] = replace(
                item,
                reference=recall,
                date=item.reversed_on or item.date,
                kind="reversal",
                amount_pence=-item.gross_pence,
            )
        else:
            ledger[item.reference] = item
    return ledger


class _Keys:
    """How a reference is looked up: ignoring case and spaces, unless two of the ledger's own
    references differ only so (then each matches only as written)."""

    def __init__(self, ledger: dict[str, LedgerItem]) -> None:
        counts: dict[str, int] = defaultdict(int)
        for reference in ledger:
            counts[reference_key(reference)] += 1
        self.clashing = {k for k, n in counts.items() if n > 1}
        self.ledger = {self._key(ref): item for ref, item in ledger.items()}

    def _key(self, reference: str) -> str:
        key = reference_key(reference)
        return reference if key in self.clashing else key

    def finance(self, reference: str) -> str:
        return self._key(reference)


def _spelling(rows: Sequence[FinanceRow], book: LedgerItem | None) -> str:
    if book is None:
        return ""
    spelt = sorted({r.reference for r in rows if r.reference != book.reference})
    if not spelt:
        return ""
    written = " and ".join(f"'{s}'" for s in spelt)
    return f"written {written} in the finance export, {book.reference} in the ledger"


def _outside(
    entry: MatchedReference,
    *,
    ledger: LedgerItem | None = None,
    rows: Sequence[FinanceRow] = (),
) -> MatchedReference:
    if ledger is not None:
        return replace(
            entry,
            ledger=ledger,
            ledger_pence=ledger.amount_pence,
            note=f"the ledger dates it {ledger.date:%d/%m/%Y}, outside the window",
        )
    days = ", ".join(sorted({f"{r.date:%d/%m/%Y}" for r in rows}))
    return replace(
        entry,
        finance_rows=tuple(rows),
        finance_pence=sum(r.amount_pence for r in rows),
        note=f"the finance export dates it {days}, outside the window",
    )


def _intermediary(entry: MatchedReference, payment: LedgerItem) -> MatchedReference:
    return replace(
        entry,
        ledger=payment,
        note=f"{payment.paid_by}'s own payment from its delegated pot {payment.pot}: it belongs"
        f" in {payment.paid_by}'s books, not the council's",
    )


def _remittances(
    only_in_finance: Sequence[MatchedReference], only_in_ledger: Sequence[MatchedReference]
) -> tuple[
    tuple[MatchedReference, ...], tuple[MatchedReference, ...], tuple[MatchedReference, ...]
]:
    """A finance row paying several ledger receipts from one counterparty at once: its amount
    is exactly the sum of two or more of them. Matched, with a note naming each."""
    waiting: dict[tuple[str, int], list[MatchedReference]] = defaultdict(list)
    for entry in only_in_ledger:
        assert entry.ledger is not None
        sign = 1 if entry.ledger_pence > 0 else -1
        waiting[(entry.ledger.counterparty, sign)].append(entry)
    used: set[str] = set()
    remittances: list[MatchedReference] = []
    still_finance: list[MatchedReference] = []
    for entry in only_in_finance:
        covered = _covering(entry, waiting, used)
        if covered is None:
            still_finance.append(entry)
            continue
        used.update(c.reference for c in covered)
        items = tuple(c.ledger for c in covered if c.ledger is not None)
        names = ", ".join(i.reference for i in items)
        remittances.append(
            replace(
                entry,
                ledger=None,
                covers=items,
                ledger_pence=sum(i.amount_pence for i in items),
                note=f"one remittance for {len(items)} ledger receipts from"
                f" {items[0].counterparty}: {names}",
            )
        )
    still_ledger = tuple(e for e in only_in_ledger if e.reference not in used)
    return tuple(remittances), tuple(still_finance), still_ledger


def _covering(
    entry: MatchedReference,
    waiting: dict[tuple[str, int], list[MatchedReference]],
    used: set[str],
) -> tuple[MatchedReference, ...] | None:
    sign = 1 if entry.finance_pence > 0 else -1
    day = entry.finance_date
    for (_, group_sign), group in waiting.items():
        if group_sign != sign:
            continue
        free = [e for e in group if e.reference not in used]
        # The receipts dated nearest the remittance, no more than REMITTANCE_CANDIDATES.
        if day is not None:
            free.sort(key=lambda e: abs((_ledger_day(e) - day).days))
        free = sorted(free[:REMITTANCE_CANDIDATES], key=_ledger_day)
        for size in range(2, len(free) + 1):
            for combination in combinations(free, size):
                if sum(e.ledger_pence for e in combination) == entry.finance_pence:
                    return combination
    return None


def _ledger_day(entry: MatchedReference) -> dt.date:
    assert entry.ledger is not None
    return entry.ledger.date


def reconcile_finance(
    session: Session,
    handle: TextIO,
    source: str = "the finance export",
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> FinanceReconciliation:
    """Read an export and match it with the ledger, both sides taken by the window's dates."""
    return match(
        read_finance_csv(handle, source),
        ledger_items(session),
        source,
        date_from=date_from,
        date_to=date_to,
        intermediary=intermediary_payments(session),
    )


# Rendering ----------------------------------------------------------------------------------


LEDGER_ITEMS = "ledger receipts and payments"


def render_text(result: FinanceReconciliation) -> str:
    window = f", {result.window}" if result.window else ""
    out = [
        f"Reconciliation of {result.source} with the ledger{window}",
        f"{plural(result.finance_rows, 'finance row')};"
        f" {plural(result.ledger_items, 'ledger receipt or payment', LEDGER_ITEMS)}"
        f" in the council's own books ({len(result.reversed_in_ledger)} of them reversed).",
        "Sign convention: money in to the council is positive, money out is negative.",
        "",
        "Control totals:",
        f"  {'':<10}  {'Finance':>16}  {'Ledger':>16}  {'Finance less ledger':>20}",
    ]
    for what, finance, book in result.totals.rows():
        out.append(
            f"  {what:<10}  {money(finance):>16}  {money(book):>16}  {money(finance - book):>20}"
        )
    out += _section("Matched", result.matched, _matched_line)
    out += _section("Amount differences", result.differences, _difference_line)
    out += _section("Only in the finance export", result.only_in_finance, _finance_line)
    out += _section("Only in the ledger", result.only_in_ledger, _ledger_line)
    if result.intermediary_payments:
        out += _section(
            "An intermediary's own payments, not the council's",
            result.intermediary_payments,
            _finance_line,
        )
    if result.outside_window:
        out += _section(
            "Dated outside the window on the other side",
            result.outside_window,
            _outside_line,
        )
    if result.repeated:
        out += ["", "References on more than one finance row (added together):"]
        out += [_repeated_line(entry) for entry in result.repeated]
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
            f"Reconciled: all {plural(len(result.matched), 'reference')} match the ledger to the"
            " penny."
            if len(result.matched) != 1
            else "Reconciled: the 1 reference matches the ledger to the penny."
        )
    else:
        out.append(f"Does not reconcile: {result.problems}; {len(result.matched)} matched.")
    return "\n".join(out) + "\n"


def _section(
    title: str, entries: Sequence[MatchedReference], line: Callable[[MatchedReference], str]
) -> list[str]:
    out = ["", f"{title} ({len(entries)}):"]
    if not entries:
        out.append("  none")
    for entry in entries:
        out.append(line(entry))
        if entry.note:
            out.append(f"    Note: {entry.note}")
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


def _outside_line(entry: MatchedReference) -> str:
    return (
        f"  {entry.reference}  finance {money(entry.finance_pence)} dated"
        f" {_iso(entry.finance_date)} (row {entry.rows}), ledger {money(entry.ledger_pence)}"
        f" dated {_iso(entry.ledger_date)}"
    )


def _repeated_line(entry: MatchedReference) -> str:
    rows = "; ".join(
        f"row {r.row} {r.date.isoformat()} {money(r.amount_pence)}" for r in entry.finance_rows
    )
    same = {(r.date, r.amount_pence, r.description) for r in entry.finance_rows}
    warning = " (identical rows: a duplicate?)" if len(same) < len(entry.finance_rows) else ""
    return f"  {entry.reference}: {rows}; together {money(entry.finance_pence)}{warning}"


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
    "note",
)


def write_csv_report(out: TextIO, result: FinanceReconciliation) -> None:
    """The reconciliation as CSV (through ``csv_safe``): the control totals first, then one
    row per reference."""
    write_csv(out, CSV_HEADER, _csv_rows(result))


def _csv_rows(result: FinanceReconciliation) -> Iterable[list[object]]:
    for what, finance, book in result.totals.rows():
        note = f"{result.finance_rows} finance rows, {result.ledger_items} ledger items"
        if result.window:
            note += f", {result.window}"
        yield [
            "control total",
            what.lower(),
            "",
            "",
            Amount(finance),
            "",
            Amount(book),
            Amount(finance - book),
            "",
            "",
            note,
        ]
    for status, entries in (
        ("matched", result.matched),
        ("amount difference", result.differences),
        ("only in finance", result.only_in_finance),
        ("only in ledger", result.only_in_ledger),
        ("intermediary's own payment", result.intermediary_payments),
        ("dated outside the window on the other side", result.outside_window),
        ("cancelled in finance", result.cancelled_in_finance),
    ):
        for entry in entries:
            has_ledger = bool(entry.ledger_items) and status != "intermediary's own payment"
            note = entry.note
            if entry in result.repeated:
                note = "; ".join(filter(None, [note, f"on finance rows {entry.rows}"]))
            yield [
                status,
                entry.reference,
                entry.rows,
                _iso(entry.finance_date) if entry.finance_rows else "",
                Amount(entry.finance_pence) if entry.finance_rows else "",
                _iso(entry.ledger_date) if has_ledger else "",
                Amount(entry.ledger_pence) if has_ledger else "",
                Amount(entry.difference_pence),
                entry.ledger_description if entry.ledger_items else "",
                entry.finance_description,
                note,
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
                "",
            ]
