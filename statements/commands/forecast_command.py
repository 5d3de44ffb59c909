"""``commonpurse forecast``: month by month cash for the next 24 months, per pot and in total.

commonpurse forecast                       # the total, as a table
commonpurse forecast --pot "WFWF 2022-23"  # one pot
commonpurse forecast --csv -o forecast.csv # every pot and the total, for a spreadsheet
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ledger.cli import CliError, engine_for
from ledger.fy import parse_date
from ledger.lazy import lazy

if TYPE_CHECKING:
    from ledger import db
    from ledger import operations as ops
    from statements.reports import forecast as forecasts
else:  # imported when the command runs, not when it is registered
    db = lazy("ledger.db")
    ops = lazy("ledger.operations")
    forecasts = lazy("statements.reports.forecast")

MONTHS = 24
"""``statements.reports.forecast.MONTHS`` (a test checks they agree)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "forecast",
        help="cash expected in against scheduled payments, month by month",
        description="Per pot and in total, for the next 24 months: receipts due from funders,"
        " expected funding (shown apart, never counted as cash held) and scheduled payments;"
        " names the first month in which cash held goes negative.",
    )
    parser.add_argument("--pot", help="show this pot (default: the total)")
    parser.add_argument("--from", dest="start", metavar="DATE", help="default: today")
    parser.add_argument("--months", type=int, default=MONTHS, help=f"default: {MONTHS}")
    parser.add_argument("--csv", action="store_true", help="every pot and the total, as CSV")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE")
    parser.set_defaults(func=cmd_forecast)


def cmd_forecast(args: argparse.Namespace, out: TextIO) -> int:
    start = parse_date(args.start, "from") if args.start else dt.date.today()
    if not 1 <= args.months <= 120:
        raise CliError("--months must be from 1 to 120")
    engine = engine_for(args)
    try:
        with db.reader_factory(engine)() as session:
            forecast = forecasts.build_forecast(session, today=start, months=args.months)
            part = None
            if args.pot:
                name = ops.find_pot(session, args.pot).name
                part = next(p for p in forecast.pots if p.pot == name)
    finally:
        engine.dispose()
    if args.csv:
        buffer = io.StringIO(newline="")
        forecasts.write_forecast_csv(forecast, buffer)
        text = buffer.getvalue()
    else:
        text = forecasts.render_text(forecast, part)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8-sig" if args.csv else "utf-8")
        except OSError as error:
            raise CliError(f"Cannot write {args.output}: {error.strerror or error}") from error
        out.write(f"Wrote {args.output}.\n")
    else:
        out.write(text)
    return 0
