"""A quick model of the ledger's figures, to prove a generated file will import before spending
an hour importing it.

It replays an import CSV over plain in-memory figures and asks the ledger's own rules
(``ledger.rules``: a pot never overspent, payments within what is unpaid, reductions within what
is unpaid and what the delegated pot has available, returns within what was paid, an
intermediary paying only from cash handed over) at each row, raising ``ModelError`` at the first
row the ledger would refuse. Receipts within awards and unique references are the only checks
of its own. Passing it means the generator kept its promises; the real proof is still the import
and ``commonpurse check``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from bench.generate import HEADER
from ledger import rules
from ledger.errors import LedgerError
from ledger.fy import parse_date
from ledger.money import parse_pence


class ModelError(ValueError):
    pass


@dataclass
class _Pot:
    funded: int = 0
    allocated: int = 0
    returned: int = 0
    handed_back: int = 0
    delegated: bool = False
    cash: int = 0

    @property
    def available(self) -> int:
        return self.funded - self.allocated + self.returned - self.handed_back


@dataclass
class _Allocation:
    pot: str
    child: str | None
    allocated: int
    paid: int = 0
    returned: int = 0


def check_programme(path: Path) -> int:
    """Replay ``path``; the number of rows, or ``ModelError`` naming the first bad row."""
    pots: dict[str, _Pot] = {}
    owed: dict[tuple[str, str], int] = {}
    allocations: dict[str, _Allocation] = {}
    references: set[str] = set()
    rows = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        if tuple(next(reader)) != HEADER:
            raise ModelError("the header is not the import header")
        for number, values in enumerate(reader, start=2):
            row = dict(zip(HEADER, values, strict=True))
            try:
                _apply(row, pots, owed, allocations, references)
            except (ModelError, LedgerError, KeyError, ValueError) as error:
                raise ModelError(f"row {number} ({row['reference']}): {error}") from error
            rows += 1
    return rows


def _apply(
    row: dict[str, str],
    pots: dict[str, _Pot],
    owed: dict[tuple[str, str], int],
    allocations: dict[str, _Allocation],
    references: set[str],
) -> None:
    operation, reference = row["operation"], row["reference"]
    if not reference or reference in references:
        raise ModelError("the reference is missing or used before")
    references.add(reference)
    parse_date(row["date"])
    amount = parse_pence(row["amount"], allow_negative=operation == "vary")
    if operation == "award":
        pot = pots.setdefault(row["pot"], _Pot())
        if pot.delegated:
            raise ModelError("an award into a delegated pot")
        pot.funded += amount
        key = (row["pot"], row["counterparty"])
        owed[key] = owed.get(key, 0) + amount
    elif operation == "receive":
        key = (row["pot"], row["counterparty"])
        if amount > owed.get(key, 0):
            raise ModelError("more received than awarded")
        owed[key] -= amount
    elif operation in ("allocate", "delegate"):
        pot = pots[row["pot"]]
        rules.require_available(row["pot"], pot.available, 0, amount, operation)
        pot.allocated += amount
        child = row["to_pot"] or None
        if child is not None:
            if child in pots:
                raise ModelError("the delegated pot already exists")
            pots[child] = _Pot(funded=amount, delegated=True)
        allocations[reference] = _Allocation(row["pot"], child, amount)
    else:
        allocation = allocations[row["allocation_ref"]]
        if row["pot"] and row["pot"] != allocation.pot:
            raise ModelError("the pot does not match the allocation")
        pot = pots[allocation.pot]
        below = pots[allocation.child] if allocation.child else None
        unpaid = allocation.allocated - allocation.paid
        if operation == "vary":
            if amount > 0:
                rules.require_available(allocation.pot, pot.available, 0, amount, "variation")
            else:
                rules.require_unpaid(reference, unpaid, 0, -amount, "reduction")
                if below is not None:
                    rules.require_available("the delegated pot", below.available, 0, -amount, "x")
            pot.allocated += amount
            allocation.allocated += amount
            if below is not None:
                below.funded += amount
        elif operation == "pay":
            rules.require_unpaid(reference, unpaid, 0, amount, "payment")
            if pot.delegated:
                rules.require_cash(
                    allocation.pot, pot.cash, amount, "payment", parse_date(row["date"])
                )
            pot.cash -= amount
            if below is not None:
                below.cash += amount
            allocation.paid += amount
        elif operation == "return":
            rules.require_returnable(reference, allocation.paid, allocation.returned, amount)
            if below is not None:
                rules.require_available("the delegated pot", below.available, 0, amount, "return")
                rules.require_cash(
                    "the delegated pot", below.cash, amount, "return", parse_date(row["date"])
                )
                below.handed_back += amount
                below.cash -= amount
            pot.cash += amount
            allocation.returned += amount
            pot.returned += amount
        else:
            raise ModelError(f"unknown operation {operation}")
