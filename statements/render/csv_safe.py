"""Every CSV the product writes goes through here, so it is safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read by
Excel, LibreOffice or Sheets as a formula ("CSV injection"); such a cell is prefixed with a single
quote, the neutralisation OWASP recommends.

Amounts the ledger itself produces are marked with ``Amount`` and written as plain decimals
(``82336.18``, ``-103.18``): a number is not a formula, and quoting it would stop a spreadsheet
from adding the column up. Everything else, above all text people typed, is neutralised.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import TextIO

from ledger.money import format_plain

DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")


class Amount(int):
    """Marks an integer pence value as an amount column: written as ``-103.18``, unquoted."""


def neutralise(value: object) -> str:
    """The cell's text, made inert if a spreadsheet would treat it as a formula."""
    if isinstance(value, Amount):
        return format_plain(int(value))
    text = "" if value is None else str(value)
    if text.startswith(DANGEROUS_FIRST):
        return "'" + text
    return text


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a CSV (RFC 4180, CRLF line ends) with every cell neutralised."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
