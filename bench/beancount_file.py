"""The same operations as a beancount file, and how long beancount takes to load it.

    python -m bench.beancount_file convert programme.csv programme.beancount
    python -m bench.beancount_file load programme.beancount      # prints JSON, exits 1 on errors

``convert`` streams the import CSV into one balanced beancount transaction per operation, with
the postings the ledger itself makes, one per journal line, on accounts named after the ledger's
own (``statements.exports.export_beancount`` makes as many postings but names them for fava: income,
expenses, commitments): an award debits the award's receivable and credits the pot's available
balance; a receipt moves cash in against the funder's awards in the pot, oldest first; an
allocation moves money from the pot's available balance to the allocation's unpaid commitment,
and a delegation also opens the delegated pot (due in / available); variations, payments and
returns move the same accounts, plus the delegated pot's for a delegation. Each account is
opened once, before its first use. Transactions carry only a date, flag, narration and
postings, the least beancount has to parse: the comparison favours beancount.

``load`` calls ``beancount.loader.load_file`` with its pickle cache off (a cached second load
would measure nothing), and reports the directives, errors and seconds.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ledger.money import format_plain, parse_pence
from statements.exports.export_beancount import component

CURRENCY = "GBP"
OPEN_DATE = "2000-01-01"


@dataclass
class _Owed:
    account: str
    pence: int


@dataclass
class _Allocation:
    pot: str
    child: str | None


class Converter:
    """Turns import rows into beancount text, keeping only what later rows need: each pot's
    awards still owed (for receipts) and each allocation's pot and delegated pot."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.opened: set[str] = set()
        self.components: dict[str, str] = {}
        self.used: set[str] = set()
        self.owed: dict[tuple[str, str], list[_Owed]] = {}
        self.allocations: dict[str, _Allocation] = {}
        self.transactions = 0
        out.write(
            f'option "title" "commonpurse benchmark"\noption "operating_currency" "{CURRENCY}"\n\n'
        )

    def _part(self, text: str) -> str:
        found = self.components.get(text)
        if found is None:
            found = component(text) or "X"
            while found in self.used:
                found += "-X"
            self.used.add(found)
            self.components[text] = found
        return found

    def _pot(self, pot: str, kind: str) -> str:
        part = self._part(pot)
        return {
            "cash": f"Assets:Pots:{part}:Cash",
            "due_in": f"Assets:Pots:{part}:DueIn",
            "available": f"Equity:Pots:{part}:Available",
        }[kind]

    def _open(self, account: str) -> str:
        if account not in self.opened:
            self.opened.add(account)
            self.out.write(f"{OPEN_DATE} open {account} {CURRENCY}\n")
        return account

    def _post(self, date: str, memo: str, legs: Iterable[tuple[str, int]]) -> None:
        lines = [f"{date} * {_quote(memo)}"]
        total = 0
        for account, pence in legs:
            if pence == 0:
                continue
            self._open(account)
            lines.append(f"  {account}  {format_plain(pence)} {CURRENCY}")
            total += pence
        assert total == 0, f"unbalanced transaction on {date}: {memo}"
        self.out.write("\n".join(lines) + "\n\n")
        self.transactions += 1

    def row(self, row: dict[str, str]) -> None:
        operation = row["operation"]
        date, memo, reference = (
            row["date"],
            row["description"] or reference_memo(row),
            row["reference"],
        )
        amount = parse_pence(row["amount"], allow_negative=operation == "vary")
        if operation == "award":
            receivable = f"Assets:Awards:{self._part('award ' + reference)}:Receivable"
            self.owed.setdefault((row["pot"], row["counterparty"]), []).append(
                _Owed(receivable, amount)
            )
            self._post(
                date, memo, [(receivable, amount), (self._pot(row["pot"], "available"), -amount)]
            )
        elif operation == "receive":
            legs = [(self._pot(row["pot"], "cash"), amount)]
            left = amount
            for award in self.owed[(row["pot"], row["counterparty"])]:
                part = min(award.pence, left)
                if part > 0:
                    legs.append((award.account, -part))
                    award.pence -= part
                    left -= part
            assert left == 0, f"receipt {reference} is more than was awarded"
            self._post(date, memo, legs)
        elif operation in ("allocate", "delegate"):
            child = row["to_pot"] or None
            self.allocations[reference] = _Allocation(row["pot"], child)
            legs = [
                (self._pot(row["pot"], "available"), amount),
                (self._unpaid(reference), -amount),
            ]
            if child is not None:
                legs += [
                    (self._pot(child, "due_in"), amount),
                    (self._pot(child, "available"), -amount),
                ]
            self._post(date, memo, legs)
        else:
            allocation = self.allocations[row["allocation_ref"]]
            unpaid = self._unpaid(row["allocation_ref"])
            pot, child = allocation.pot, allocation.child
            if operation == "vary":
                legs = [(self._pot(pot, "available"), amount), (unpaid, -amount)]
                if child is not None:
                    legs += [
                        (self._pot(child, "due_in"), amount),
                        (self._pot(child, "available"), -amount),
                    ]
            elif operation == "pay":
                legs = [(unpaid, amount), (self._pot(pot, "cash"), -amount)]
                if child is not None:
                    legs += [
                        (self._pot(child, "cash"), amount),
                        (self._pot(child, "due_in"), -amount),
                    ]
            elif operation == "return":
                legs = [(self._pot(pot, "cash"), amount), (self._pot(pot, "available"), -amount)]
                if child is not None:
                    legs += [
                        (self._pot(child, "available"), amount),
                        (self._pot(child, "cash"), -amount),
                    ]
            else:
                raise ValueError(f"unknown operation {operation!r}")
            self._post(date, memo, legs)

    def _unpaid(self, reference: str) -> str:
        return f"Liabilities:Commitments:{self._part('allocation ' + reference)}:Unpaid"


def reference_memo(row: dict[str, str]) -> str:
    return f"{row['operation']} {row['reference']}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def convert(csv_path: Path, out_path: Path) -> int:
    """Write the beancount file; returns the number of transactions (one per CSV row)."""
    with (
        csv_path.open(encoding="utf-8", newline="") as source,
        out_path.open("w", encoding="utf-8") as out,
    ):
        converter = Converter(out)
        for row in csv.DictReader(source):
            converter.row(row)
    return converter.transactions


def load(path: Path) -> dict[str, object]:
    """Load with beancount (no pickle cache): directives, transactions, errors and seconds."""
    from beancount import loader
    from beancount.core import data

    loader.initialize(use_cache=False)
    started = time.perf_counter()
    entries, errors, _options = loader.load_file(str(path))
    seconds = time.perf_counter() - started
    transactions = sum(1 for entry in entries if isinstance(entry, data.Transaction))
    return {
        "directives": len(entries),
        "transactions": transactions,
        "errors": len(errors),
        "first_error": str(errors[0].message) if errors else None,
        "seconds": seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.beancount_file")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="import CSV → beancount file")
    conv.add_argument("csv")
    conv.add_argument("beancount")
    ld = sub.add_parser("load", help="time beancount.loader.load_file; prints JSON")
    ld.add_argument("beancount")
    args = parser.parse_args(argv)
    if args.command == "convert":
        count = convert(Path(args.csv), Path(args.beancount))
        print(f"{count} transactions")
        return 0
    result = load(Path(args.beancount))
    print(json.dumps(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
