"""One shape for every report page and download: a title, lines of explanation, and tables.

The intermediary's return, the funder view, spend by Promise priority and the recipient page
each turn their model into a :class:`ReportDocument` (``statements.reports.report_documents``); the
web page, the CSV and the PDF are all drawn from it, so the three show the same figures with the
same words. Amount cells hold integer pence (:class:`Pence`) and are formatted only when drawn: in
pounds on the page and in the PDF, as plain decimals in the CSV so a spreadsheet can add them up.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import TextIO

from statements.render.csv_safe import Amount, write_csv
from statements.render.formatting import money


class Pence(int):
    """An amount cell, in pence."""


Cell = str | Pence | None


@dataclass(frozen=True)
class Table:
    caption: str
    headings: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total: tuple[Cell, ...] | None = None  # a totals row, shown last and in bold
    empty: str = "None."  # what to say when there are no rows
    note: str = ""  # under the table

    def numeric(self, column: int) -> bool:
        """Is this column amounts? (Decided by its cells, so headings stay plain words.)"""
        cells = [row[column] for row in (*self.rows, *((self.total,) if self.total else ()))]
        present = [c for c in cells if c is not None and c != ""]
        return bool(present) and all(isinstance(c, Pence) for c in present)


@dataclass(frozen=True)
class ReportDocument:
    title: str
    as_at: dt.date | None
    lines: tuple[str, ...]  # explanation under the title
    tables: tuple[Table, ...]
    slug: str  # the download's file name, without extension


def shown(cell: Cell) -> str:
    """A cell as printed on a page or in the PDF."""
    if isinstance(cell, Pence):
        return money(int(cell))
    return cell or ""


# CSV ---------------------------------------------------------------------------------------


def render_report_csv(document: ReportDocument, out: TextIO) -> None:
    """One CSV row per table row, the table's caption first and its headings as the header of
    each block. Amounts are plain decimals; text goes through ``csv_safe``."""
    widest = max((len(t.headings) for t in document.tables), default=0)
    header = ("table", "row", *(f"column {i + 1}" for i in range(widest)))
    rows: list[list[object]] = [["title", "", document.title]]
    rows += [["note", "", line] for line in document.lines]
    for table in document.tables:
        rows.append([table.caption, "headings", *table.headings])
        for row in table.rows:
            rows.append([table.caption, "item", *(_csv_cell(c) for c in row)])
        if table.total is not None:
            rows.append([table.caption, "total", *(_csv_cell(c) for c in table.total)])
        if table.note:
            rows.append([table.caption, "note", table.note])
    write_csv(out, header, rows)


def report_csv_bytes(document: ReportDocument) -> bytes:
    """The CSV with a byte-order mark, so spreadsheets read the £ signs and accents."""
    buffer = io.StringIO(newline="")
    render_report_csv(document, buffer)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_cell(cell: Cell) -> object:
    if isinstance(cell, Pence):
        return Amount(int(cell))
    return cell or ""


# JSON --------------------------------------------------------------------------------------


def document_json(document: ReportDocument) -> dict[str, object]:
    """The document as data (amounts in pence), for tests and ``--json``."""

    def cell(c: Cell) -> object:
        return int(c) if isinstance(c, Pence) else (c or "")

    return {
        "title": document.title,
        "as_at": document.as_at.isoformat() if document.as_at else None,
        "lines": list(document.lines),
        "tables": [
            {
                "caption": t.caption,
                "headings": list(t.headings),
                "rows": [[cell(c) for c in row] for row in t.rows],
                "total": [cell(c) for c in t.total] if t.total else None,
                "note": t.note,
            }
            for t in document.tables
        ],
    }
