"""``commonpurse reconcile``: the ledger against the council's finance system.

``commonpurse reconcile FINANCE.csv`` matches a finance-system transactions export with the
ledger's receipts and payments (see ``statements.reports.finance_match`` for the file format and the
rules) and exits 0 only when everything matches; 1 when it does not reconcile or the file is
refused (one line on stderr, naming the row). ``--figures`` prints the ledger's own
reconciliation (awarded, received, allocated, paid... per award, pot, funder, source and
financial year; ``statements.reports.reconciliation``), alone or before the match.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ledger.cli import CliError, engine_for
from ledger.errors import InvalidInput
from ledger.fy import parse_date
from ledger.lazy import lazy

EXIT_USAGE = 2
# statements.reports.finance_match.HEADER, spelt out so that registering the command imports nothing
# heavy (tests/test_cli_speed.py checks that the two agree).
if TYPE_CHECKING:
    from ledger import db, timeline
else:  # imported when the command runs, not when it is registered
    db = lazy("ledger.db")
    timeline = lazy("ledger.timeline")

HEADER = ("date", "reference", "amount", "description")

DESCRIPTION = """\
Match a transactions export from the council's finance system against the ledger's receipts
and payments, by reference and signed amount, and list what matched, what is only in the
export, what is only in the ledger and where the amounts differ.

The export is a CSV file with the header row
    date,reference,amount,description
date: 2022-05-31 or 31/05/2022; reference: as recorded in the ledger; amount: as typed in a
spreadsheet (25000, £25,000.00, -£25,000.00); description: free text.

Sign convention: money IN to the council is positive (receipts from funders, money given back
by recipients); money OUT of the council is negative (payments to recipients and
intermediaries, money handed back to funders). A payment reversed in the ledger counts as not
paid and is not expected in the export.

Control totals (money in and out, each side) head the report. References that differ only in
case or spaces match, with a note; one finance row paying several ledger receipts from one
counterparty matches them with a note; an intermediary's own payment is named as such.
--from/--to take both sides by their own dates, and a match dated just outside the window on
the other side is listed as such.

Exit status: 0 when every reference matches to the penny; 1 when it does not reconcile, or the
file is refused (one line naming the row)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="match a finance-system export against the ledger (exit 0 only if it reconciles)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FINANCE.csv",
        help=f"the finance export: CSV with header {','.join(HEADER)}; in +, out -",
    )
    parser.add_argument("--csv", metavar="FILE", help="also write the match as CSV to FILE")
    parser.add_argument(
        "--figures",
        action="store_true",
        help="print the ledger's reconciliation per award, pot, funder, source and year",
    )
    parser.add_argument("--as-at", metavar="DATE", help="figures as at this date (default: today)")
    parser.add_argument(
        "--from",
        dest="date_from",
        metavar="DATE",
        help="match only transactions dated on or after DATE (both sides)",
    )
    parser.add_argument(
        "--to",
        dest="date_to",
        metavar="DATE",
        help="match only transactions dated on or before DATE (both sides)",
    )
    parser.set_defaults(func=handler)


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return parse_date(text, field=option)
    except InvalidInput as error:
        raise CliError(f"{option}: {error}", EXIT_USAGE) from error


def handler(args: argparse.Namespace, out: TextIO) -> int:
    from statements.reports.finance_match import (
        FinanceFileError,
        reconcile_finance,
        write_csv_report,
    )
    from statements.reports.finance_match import render_text as render_match
    from statements.reports.reconciliation import build_reconciliation
    from statements.reports.reconciliation import render_text as render_figures

    if args.file is None and not args.figures:
        raise CliError(
            "reconcile needs a finance export (FINANCE.csv) or --figures; see"
            " 'commonpurse reconcile --help'",
            EXIT_USAGE,
        )
    if args.csv and args.file is None:
        raise CliError("--csv writes the match with a finance export; name the export", EXIT_USAGE)
    as_at = _date(args.as_at, "--as-at") or dt.date.today()
    date_from = _date(args.date_from, "--from")
    date_to = _date(args.date_to, "--to")
    path = Path(args.file) if args.file is not None else None
    if path is not None and not path.is_file():
        raise CliError(f"{path} is not a file")
    engine = engine_for(args)
    with db.reader_factory(engine)() as session:
        if args.figures:
            out.write(render_figures(build_reconciliation(session, as_at=as_at)))
            notes = timeline.years_notes(session)
            if notes:
                # Which awards are phased over their years, and funding expected but not awarded.
                out.write("\nAward years and expected funding\n")
                out.writelines(f"- {note}\n" for note in notes)
            if path is not None:
                out.write("\n")
        if path is None:
            return 0
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                result = reconcile_finance(
                    session, handle, path.name, date_from=date_from, date_to=date_to
                )
        except FinanceFileError as error:
            raise CliError(f"{error}. Nothing was matched.") from error
        except OSError as error:
            raise CliError(f"cannot read {path}: {error.strerror or error}") from error
    out.write(render_match(result))
    if args.csv:
        try:
            with Path(args.csv).open("w", encoding="utf-8", newline="") as csv_out:
                write_csv_report(csv_out, result)
        except OSError as error:
            raise CliError(f"cannot write {args.csv}: {error.strerror or error}") from error
    return 0 if result.reconciles else 1
