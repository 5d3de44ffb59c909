"""``commonpurse statement POT``: the distribution statement as PDF, HTML or CSV.

    commonpurse statement "WFWF 2022-23" --as-at 31/03/2023            # PDF file in this folder
    commonpurse statement "WFWF 2022-23" -o appendix-2.pdf
    commonpurse statement "WFWF 2022-23" --format html > wfwf.html
    commonpurse statement "WFWF 2022-23" --format csv -o wfwf.csv

A PDF goes to ``-o FILE`` or, without it, to ``<pot>-<as-at>.pdf`` in the current folder (``-o -``
writes it to standard output when that is not a terminal); the path written is printed. HTML and
CSV go to standard output unless ``-o FILE`` is given. Registered through the
``commonpurse.commands`` entry point, so the ledger never imports this module.
"""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ledger.cli import CliError, engine_for
from ledger.fy import parse_date

if TYPE_CHECKING:
    from statements.reports.distribution import DistributionStatement

FORMATS = ("pdf", "html", "csv")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "statement",
        help="a pot's distribution statement (PDF, HTML or CSV)",
        description="The distribution statement of a pot and every pot delegated from it, like"
        " Appendix 2 of a committee report.",
    )
    parser.add_argument("pot", help='the pot, e.g. "WFWF 2022-23"')
    parser.add_argument(
        "--as-at",
        metavar="DATE",
        help="figures as at this date, 2023-03-31 or 31/03/2023 (default: today)",
    )
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="add the movements after this date up to the as-at date",
    )
    parser.add_argument("--format", choices=FORMATS, default="pdf", help="default: pdf")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write it (default: <pot>-<date>.pdf for PDF, standard output otherwise;"
        " '-' for standard output)",
    )
    parser.set_defaults(func=cmd_statement)


def cmd_statement(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here, not at the top, so registering the command (every `commonpurse` run,
    # `--help` included) stays cheap.
    from ledger import db
    from statements.render.render_csv import render_csv
    from statements.render.render_html import render_html
    from statements.reports.distribution import build_statement

    as_at = parse_date(args.as_at, field="as_at") if args.as_at else None
    since = parse_date(args.since, field="since") if args.since else None
    engine = engine_for(args)
    try:
        with db.reader_factory(engine)() as session:
            statement = build_statement(session, args.pot, as_at=as_at, since=since)
    finally:
        engine.dispose()
    if args.format == "pdf":
        return _write_pdf(statement, args.output, out)
    if args.format == "html":
        text = render_html(statement)
    else:
        buffer = io.StringIO(newline="")
        render_csv(statement, buffer)
        text = buffer.getvalue()
    if args.output in (None, "-"):
        out.write(text)
        return 0
    path = Path(args.output)
    # A CSV file starts with a byte-order mark so Excel reads it as UTF-8 (£, é, –).
    _write(path, text.encode("utf-8-sig" if args.format == "csv" else "utf-8"))
    out.write(f"Wrote {path} ({_describe(statement)}).\n")
    return 0


def default_filename(statement: DistributionStatement) -> str:
    """``WFWF 2022-23`` as at 31 March 2023 → ``wfwf-2022-23-2023-03-31.pdf``."""
    slug = re.sub(r"[^a-z0-9]+", "-", statement.section.pot.lower()).strip("-") or "statement"
    return f"{slug}-{statement.as_at.isoformat()}.pdf"


def _write_pdf(statement: DistributionStatement, output: str | None, out: TextIO) -> int:
    # ReportLab is imported only when a PDF is asked for: every other command starts faster.
    from statements.render.render_pdf import render_pdf

    data = render_pdf(statement)
    if output == "-":
        binary = getattr(out, "buffer", None)
        if binary is None or out.isatty():
            raise CliError(
                "A PDF goes to standard output only when that is a file or a pipe; give -o FILE"
            )
        out.flush()
        binary.write(data)
        binary.flush()
        return 0
    path = Path(output) if output else Path(default_filename(statement))
    _write(path, data)
    out.write(f"Wrote {path} ({_describe(statement)}).\n")
    return 0


def _describe(statement: DistributionStatement) -> str:
    from statements.render.formatting import day

    return f"{statement.title}, as at {day(statement.as_at)}"


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise CliError(f"Cannot write {path}: {error.strerror or error}") from error
