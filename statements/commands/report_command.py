"""``commonpurse report``: the reports, in the terminal or as data.

    commonpurse report intermediary-return "CTSI managed WFWF Grant 2022-23" [--as-at DATE]
    commonpurse report funder "Scottish Government" [--by-source] [--as-at DATE]
    commonpurse report promise ["WFWF 2022-23"] [--as-at DATE]
    commonpurse report recipient "Action for Children"

Each prints plain text, or with ``--json`` the report's figures in pence. ``--csv FILE`` and
``--pdf FILE`` write the same report as the web app's downloads. Exit status 0, or 1 when the
pot, funder or recipient is not in the ledger. Handlers import what they need when they run, so
``commonpurse --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="intermediary return, funder view, Promise spend, a recipient",
        description="Reports over the whole ledger. Each prints text, or --json (pence).",
    )
    kinds = report.add_subparsers(dest="report", required=True, metavar="REPORT")

    ret = kinds.add_parser(
        "intermediary-return",
        help="an intermediary's return on its delegated pot, checked against the statement",
    )
    ret.add_argument("pot", metavar="POT", help='the delegated pot, e.g. "CTSI managed ..."')
    _common(ret, as_at=True)
    ret.set_defaults(func=cmd_intermediary_return)

    funder = kinds.add_parser("funder", help="what a funder's money paid for")
    funder.add_argument("funder", metavar="FUNDER", help='e.g. "Scottish Government"')
    funder.add_argument(
        "--by-source",
        action="store_true",
        help="count money for the body it ultimately comes from (Corra's Promise Partnership"
        " counts for the Scottish Government)",
    )
    _common(funder, as_at=True)
    funder.set_defaults(func=cmd_funder)

    promise = kinds.add_parser("promise", help="spend by Promise pillar, foundation and action")
    promise.add_argument(
        "pot", metavar="POT", nargs="?", help="one pot (default: every top-level pot)"
    )
    _common(promise, as_at=True)
    promise.set_defaults(func=cmd_promise)

    recipient = kinds.add_parser(
        "recipient",
        help="everything one provider receives across pots, joint awards listed apart",
    )
    recipient.add_argument("name", metavar="NAME", help='e.g. "Action for Children"')
    _common(recipient, as_at=False)
    recipient.set_defaults(func=cmd_recipient)


def _common(parser: argparse.ArgumentParser, *, as_at: bool) -> None:
    if as_at:
        parser.add_argument(
            "--as-at", metavar="DATE", help="figures as at this date (default: today)"
        )
    parser.add_argument("--json", action="store_true", help="machine-readable, amounts in pence")
    parser.add_argument("--csv", metavar="FILE", help="also write the report as CSV to FILE")
    parser.add_argument("--pdf", metavar="FILE", help="also write the report as PDF to FILE")


def _read(args: argparse.Namespace, build: Any) -> Any:
    from ledger import db
    from ledger.cli import engine_for

    engine = engine_for(args)
    try:
        with db.reader_factory(engine)() as session:
            return build(session)
    finally:
        engine.dispose()


def _as_at(args: argparse.Namespace) -> Any:
    from ledger.fy import parse_date

    text = getattr(args, "as_at", None)
    return parse_date(text, field="as_at") if text else None


def _finish(
    args: argparse.Namespace, out: TextIO, text: str, data: dict[str, object], document: Any
) -> int:
    import sys
    from pathlib import Path

    from ledger.cli import CliError
    from statements.reports.report_document import report_csv_bytes

    files: list[tuple[str, bytes]] = []
    if args.csv:
        files.append((args.csv, report_csv_bytes(document)))
    if args.pdf:
        from statements.render.render_report_pdf import render_report_pdf

        files.append((args.pdf, render_report_pdf(document)))
    for name, body in files:
        try:
            Path(name).write_bytes(body)
        except OSError as error:
            raise CliError(f"Cannot write {name}: {error.strerror or error}") from error
    if args.json:
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(text)
    for name, _ in files:
        sys.stderr.write(f"Wrote {name}\n")
    return 0


def cmd_intermediary_return(args: argparse.Namespace, out: TextIO) -> int:
    from statements.reports.distribution import build_statement
    from statements.reports.intermediary_return import (
        build_intermediary_return,
        compare_with_statement,
        render_text,
    )
    from statements.reports.report_documents import intermediary_return_document

    as_at = _as_at(args)

    def build(session: Any) -> Any:
        ret = build_intermediary_return(session, args.pot, as_at=as_at)
        statement = build_statement(session, ret.delegated_from, as_at=ret.as_at)
        return ret, compare_with_statement(ret, statement)

    ret, differences = _read(args, build)
    document = intermediary_return_document(ret, differences)
    text = render_text(ret)
    text += (
        "\nAgrees with the council's distribution statement to the penny.\n"
        if not differences
        else "\nDifferences from the council's distribution statement:\n"
        + "".join(f"  {d}\n" for d in differences)
    )
    data = {
        "intermediary": ret.intermediary,
        "pot": ret.pot,
        "delegation": ret.delegation,
        "delegated_from": ret.delegated_from,
        "as_at": ret.as_at.isoformat(),
        "allocated_to_it": ret.allocated_to_it_pence,
        "paid_to_it": ret.paid_to_it_pence,
        "sub_granted": ret.sub_granted_pence,
        "sub_grants_paid": ret.sub_grants_paid_pence,
        "given_back": ret.given_back_pence,
        "returned_to_council": ret.returned_to_council_pence,
        "uncommitted": ret.uncommitted_pence,
        "held": ret.held_pence,
        "sub_grants": [
            {
                "reference": g.reference,
                "recipient": g.recipient,
                "purpose": g.purpose,
                "allocated": g.allocated_pence,
                "paid": g.paid_pence,
                "returned": g.returned_pence,
            }
            for g in ret.sub_grants
        ],
        "differences": [str(d) for d in differences],
    }
    return _finish(args, out, text, data, document)


def cmd_funder(args: argparse.Namespace, out: TextIO) -> int:
    from statements.reports.funder_report import build_funder_report, render_text
    from statements.reports.report_documents import funder_document

    as_at = _as_at(args)
    report = _read(
        args,
        lambda s: build_funder_report(s, funder=args.funder, as_at=as_at, by_source=args.by_source),
    )
    return _finish(args, out, render_text(report), report.as_json(), funder_document(report))


def cmd_promise(args: argparse.Namespace, out: TextIO) -> int:
    from statements.reports.promise_spend import build_promise_spend, render_text
    from statements.reports.report_document import document_json
    from statements.reports.report_documents import promise_document

    as_at = _as_at(args)
    pots = [args.pot] if args.pot else None
    report = _read(args, lambda s: build_promise_spend(s, pots=pots, as_at=as_at))
    document = promise_document(report)
    return _finish(args, out, render_text(report), document_json(document), document)


def cmd_recipient(args: argparse.Namespace, out: TextIO) -> int:
    from statements.reports.recipient_view import build_recipient_view, render_text
    from statements.reports.report_documents import recipient_document

    view = _read(args, lambda s: build_recipient_view(s, args.name))
    return _finish(args, out, render_text(view), view.as_json(), recipient_document(view))
