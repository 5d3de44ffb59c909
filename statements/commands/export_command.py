"""``commonpurse export {360giving,360giving-csv,beancount,csv} [-o FILE] [--prefix P]``.

``360giving``      the confirmed allocations, delegations and sub-grants as a 360Giving JSON package
``360giving-csv``  the same grants as one spreadsheet row each (the standard's column titles)
``beancount``      the whole journal as a beancount file
``csv``            every line of every journal entry

Output goes to stdout unless ``-o FILE`` is given; a file is written whole or not at all (to a
temporary file beside it, then renamed). The 360Giving formats then print what a publisher must
know: how many internal spend allocations were left out, and which organisations have only a
minted identifier; the beancount format prints its Income Statement totals (to standard error
when the file goes to standard output). The export reads
one consistent snapshot of the ledger and never writes to it.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ledger.cli import CliError, engine_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

FORMATS = ("360giving", "360giving-csv", "beancount", "csv")
PREFIXED = ("360giving", "360giving-csv")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="the ledger as 360Giving JSON/CSV, a beancount file or a journal CSV",
        description="Export the ledger. 360giving: confirmed allocations, delegations (regrant"
        " type FRG010, common regrant), pooled contracts and sub-grants as a 360Giving 1.4"
        " package. Internal spend (allocations to the accountable body or to an organisation"
        " marked as part of it, such as a council post) is left out, and the count is printed."
        " Organisations are identified by their registered numbers (charity, company, local"
        " authority); an organisation with none gets a minted 360G identifier, and the export"
        " names every such organisation in a warning: add its numbers with 'commonpurse"
        " organisation set NAME --charity-number ...'. 360giving-csv: the same, one row per"
        " grant. beancount: the journal as a book fava reads (income by funder, expenses by"
        " recipient, delegations counted once). csv: every journal line with debit and credit.",
    )
    parser.add_argument("format", choices=FORMATS, help="what to write")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    parser.add_argument(
        "--prefix",
        metavar="P",
        help="your 360Giving publisher prefix (grant ids are 360G-P-<reference>); register one"
        " with 360Giving before publishing. Default: the ledger setting '360giving_prefix', else"
        " a slug of the accountable body's name",
    )
    parser.set_defaults(func=cmd_export)


def render(session: Session, fmt: str, prefix: str | None) -> tuple[str, str, list[str]]:
    """The export's text, a short summary of what it holds, and notes for the publisher."""
    # Imported here, not at the top, so registering the command stays cheap.
    from sqlalchemy import func, select

    from ledger.models import Entry
    from statements.exports.export_360giving import build_export, export_360giving_csv, to_json
    from statements.exports.export_beancount import build_book
    from statements.exports.export_journal import export_journal_csv

    if fmt in PREFIXED:
        export = build_export(session, prefix=prefix)
        count = len(export.package["grants"])
        if fmt == "360giving":
            return to_json(export.package), f"{count} grants", export.summary()
        buffer = io.StringIO()
        export_360giving_csv(session, buffer, prefix=prefix)
        return buffer.getvalue(), f"{count} grants", export.summary()
    buffer = io.StringIO()
    if fmt == "csv":
        count = export_journal_csv(session, buffer)
        return buffer.getvalue(), f"{count} journal lines", []
    entries = session.scalar(select(func.count()).select_from(Entry))
    book = build_book(session)
    return book.text, f"{entries} transactions", book.summary()


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db

    if args.prefix is not None and args.format not in PREFIXED:
        raise CliError("--prefix applies only to the 360giving formats")
    target = Path(args.output) if args.output else None
    if target is not None and not target.parent.is_dir():
        raise CliError(f"{target.parent} is not a folder; nothing was written")
    engine = engine_for(args)
    if engine.dialect.name == "postgresql":
        # One snapshot for the whole export, so the file balances even while others post.
        engine = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )

    def work(session: Session) -> tuple[str, str, list[str]]:
        return render(session, args.format, args.prefix)

    try:
        text, summary, notes = db.run_in_transaction(db.session_factory(engine), work)
    finally:
        engine.dispose()
    if target is None:
        out.write(text)
        for note in notes:
            print(note, file=sys.stderr)
        return 0
    _write_atomically(target, text)
    out.write(f"Wrote {summary} to {target}\n")
    for note in notes:
        out.write(note + "\n")
    return 0


def _write_atomically(target: Path, text: str) -> None:
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.chmod(temporary, mode)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
