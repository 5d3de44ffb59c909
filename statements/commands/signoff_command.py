"""``commonpurse signoff``: finance signs a statement; signed statements listed and reproduced.

commonpurse --user demo.finance signoff sign "WFWF 2022-23" --as-at 08/02/2024 -o signed.pdf
commonpurse signoff list
commonpurse signoff pdf 1 -o again.pdf      # the same bytes as when it was signed
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ledger.cli import CliError, engine_for, user_of
from ledger.fy import parse_date
from ledger.lazy import lazy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ledger import db, timeline
    from statements.reports import signoff as signing
else:  # imported when the command runs, not when it is registered
    db = lazy("ledger.db")
    timeline = lazy("ledger.timeline")
    signing = lazy("statements.reports.signoff")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("signoff", help="finance's sign-off of a pot's statement")
    actions = parser.add_subparsers(dest="signoff_command", required=True, metavar="ACTION")

    sign = actions.add_parser(
        "sign",
        help="sign a pot's statement as at a date and write the signed PDF",
        description="Records the signer (--user), the moment, the as-at date and the journal's"
        " chain tip, and writes the signed PDF, which prints them in its footer.",
    )
    sign.add_argument("pot")
    sign.add_argument("--as-at", required=True, metavar="DATE")
    sign.add_argument("--since", metavar="DATE", help="include the movements after this date")
    sign.add_argument("--note", default="")
    sign.add_argument("-o", "--output", metavar="FILE", help="the signed PDF (default: none)")
    sign.set_defaults(func=cmd_sign)

    listing = actions.add_parser("list", help="every signed statement, and which are superseded")
    listing.add_argument("--pot")
    listing.set_defaults(func=cmd_list)

    pdf = actions.add_parser("pdf", help="the signed PDF again, byte for byte")
    pdf.add_argument("signoff", type=int, help="the sign-off's number (from 'signoff list')")
    pdf.add_argument("-o", "--output", required=True, metavar="FILE")
    pdf.set_defaults(func=cmd_pdf)


def _write_pdf(session: Session, signoff_id: int, output: str) -> str:
    from statements.render.render_pdf import render_pdf

    statement = signing.signed_statement(session, signoff_id)
    path = Path(output)
    try:
        path.write_bytes(render_pdf(statement))
    except OSError as error:
        raise CliError(f"Cannot write {path}: {error.strerror or error}") from error
    return str(path)


def cmd_sign(args: argparse.Namespace, out: TextIO) -> int:
    as_at = parse_date(args.as_at, "as_at")
    since = parse_date(args.since, "since") if args.since else None
    engine = engine_for(args)
    try:
        row_id, seq, sha = db.run_in_transaction(
            db.session_factory(engine),
            lambda s: _sign(s, args, as_at, since),
        )
        out.write(
            f"Signed off {args.pot} as at {as_at:%d/%m/%Y} (sign-off {row_id}); journal entry"
            f" {seq}, chain tip {sha}.\n"
        )
        if args.output:
            with db.reader_factory(engine)() as session:
                out.write(f"Wrote {_write_pdf(session, row_id, args.output)}.\n")
    finally:
        engine.dispose()
    return 0


def _sign(
    session: Session, args: argparse.Namespace, as_at: Any, since: Any
) -> tuple[int, int, str]:
    row = timeline.sign_off(
        session, pot=args.pot, as_at=as_at, since=since, signed_by=user_of(args), note=args.note
    )
    return row.id, row.chain_seq, row.chain_sha256


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    engine = engine_for(args)
    try:
        with db.reader_factory(engine)() as session:
            pot_id = None
            if args.pot:
                from ledger.operations import find_pot

                pot_id = find_pot(session, args.pot).id
            found = signing.signoffs(session, pot_id)
    finally:
        engine.dispose()
    if not found:
        out.write("No signed statements.\n")
    for item in found:
        out.write(
            f"{item.id}: {item.pot} as at {item.as_at_text}, signed by {item.signed_by} on"
            f" {item.signed_at_text}; journal entry {item.chain_seq}, chain tip"
            f" {item.chain_sha256}\n"
        )
        if item.superseded_by:
            out.write("   SUPERSEDED by " + "; ".join(item.superseded_by) + "\n")
    return 0


def cmd_pdf(args: argparse.Namespace, out: TextIO) -> int:
    engine = engine_for(args)
    try:
        with db.reader_factory(engine)() as session:
            out.write(f"Wrote {_write_pdf(session, args.signoff, args.output)}.\n")
    finally:
        engine.dispose()
    return 0
