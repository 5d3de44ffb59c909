"""The approver's commands: ``approvals``, ``approve REF``, ``reject REF --reason``,
``reverse REF --reason``.

    commonpurse approvals [--json]                    what awaits approval, oldest first
    commonpurse --user finance approve WFWF-22-06     confirm a provisional allocation
    commonpurse --user finance approve PAY-20221101-1 approve a pending payment or variation
    commonpurse reject WFWF-22-06 --reason "Not in the commissioning plan" [--on DATE]
    commonpurse reverse PAY-20221101-1 --reason "Paid to the wrong provider"

REF is an allocation's reference or a request's reference (its number when it has none), as
``approvals`` lists them; for ``reverse``, a journal entry's reference (or ``entry:ID``). The
acting person is ``--user`` / ``$COMMONPURSE_USER`` / the login name, as for every command. The
ledger's own operations decide everything (``ledger.operations``): the self-approval limit, what
can still be approved, what a reversal may undo. Exit status 0 when done, 1 when refused.

Each handler imports what it needs when it runs, so ``commonpurse --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO


def register(subparsers: Any) -> None:
    listing = subparsers.add_parser(
        "approvals",
        help="what awaits approval, oldest first, with who entered it",
        description="Provisional allocations and pending variations and payments, oldest first,"
        " with who entered each and how long it has waited.",
    )
    listing.add_argument("--json", action="store_true", help="machine-readable, amounts in pence")
    listing.set_defaults(func=cmd_approvals)

    approve = subparsers.add_parser(
        "approve",
        help="approve an allocation, variation or payment awaiting approval",
        description="Approve what someone else entered: a provisional allocation (by its"
        " reference) or a pending variation or payment (by its reference or number).",
    )
    approve.add_argument("ref", metavar="REF", help="as 'commonpurse approvals' lists it")
    approve.set_defaults(func=cmd_approve)

    reject = subparsers.add_parser(
        "reject",
        help="reject what awaits approval, saying why",
        description="Reject a provisional allocation (its held money goes back to the pot) or a"
        " pending variation or payment. The person who entered it sees the reason.",
    )
    reject.add_argument("ref", metavar="REF", help="as 'commonpurse approvals' lists it")
    reject.add_argument("--reason", required=True, help="why it is rejected")
    reject.add_argument(
        "--on",
        "--date",
        dest="date",
        metavar="DATE",
        help="for an allocation: the date of the rejection, when its money goes back to the pot"
        " (default today, or the allocation's date if that is later); never before the"
        " allocation's date",
    )
    reject.set_defaults(func=cmd_reject)

    reverse = subparsers.add_parser(
        "reverse",
        help="correct a posted journal entry by posting its mirror image",
        description="Reverse a journal entry: a new entry undoes it, naming it and the reason;"
        " the original stays on record.",
    )
    reverse.add_argument(
        "ref", metavar="REF", help="the entry's reference, or entry:ID for an entry without one"
    )
    reverse.add_argument("--reason", required=True, help="why it is reversed")
    reverse.add_argument(
        "--date", metavar="DATE", help="the reversal's date (default: the entry's own date)"
    )
    reverse.add_argument(
        "--reference", help="a reference for the reversal, so repeating the command is safe"
    )
    reverse.add_argument(
        "--approved-by",
        metavar="AUTHORITY",
        help="who approves the reversal (recorded as typed); without it the reversal waits for"
        " a second person in 'commonpurse approvals'",
    )
    reverse.set_defaults(func=cmd_reverse)


def cmd_approvals(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db
    from ledger.cli import engine_for
    from statements.render.formatting import moment, money
    from statements.reports.awaiting import build_awaiting

    engine = engine_for(args)
    try:
        with db.reader_factory(engine)() as session:
            items = build_awaiting(session)
    finally:
        engine.dispose()
    if args.json:
        json.dump({"awaiting": [item.as_json() for item in items]}, out, indent=2)
        out.write("\n")
        return 0
    if not items:
        out.write("Nothing awaits approval.\n")
        return 0
    out.write(f"{len(items)} waiting for approval, oldest first:\n")
    for item in items:
        out.write(
            f"\n{item.kind.capitalize()} {item.key}  {money(item.amount_pence)}\n"
            f"  {item.recipient}: {item.description}"
            f" ({', '.join(item.pots)}"
            + (f", allocation {item.allocation}" if item.allocation != item.key else "")
            + ")\n"
            f"  entered by {item.entered_by}, {moment(item.entered_at)}; {item.waited}\n"
        )
    return 0


def _resolve(session: Any, ref: str) -> tuple[str, Any]:
    """What REF names among what can be decided: ("allocation", reference) or ("request", id).

    A pending item wins over a decided one; a REF that names nothing pending is handed to the
    ledger's own operation, so the refusal says what became of it."""
    from sqlalchemy import select

    from ledger.errors import InvalidInput, NotFound
    from ledger.models import Allocation, Request

    allocation = session.scalars(select(Allocation).where(Allocation.reference == ref)).first()
    request = session.scalars(select(Request).where(Request.reference == ref)).first()
    if request is None and ref.isdigit() and len(ref) < 10:
        request = session.get(Request, int(ref))
    pending = [
        found
        for found in (
            ("allocation", allocation.reference)
            if allocation is not None and allocation.status == "provisional"
            else None,
            ("request", request.id)
            if request is not None and request.status == "pending"
            else None,
        )
        if found is not None
    ]
    if len(pending) > 1:
        raise InvalidInput(
            f"{ref} names both a provisional allocation and a pending request; give the"
            f" request's number ({request.id if request else ''}) instead"
        )
    if pending:
        return pending[0]
    if allocation is not None:
        return "allocation", allocation.reference
    if request is not None:
        return "request", request.id
    raise NotFound("allocation or request awaiting approval", ref, "ref")


def cmd_approve(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import operations as ops
    from ledger.cli import in_transaction, user_of
    from statements.render.formatting import money

    actor = user_of(args)

    def work(session: Any) -> str:
        kind, key = _resolve(session, args.ref)
        if kind == "allocation":
            allocation = ops.approve_allocation(session, reference=key, approved_by=actor)
            return (
                f"Approved allocation {key} ({money(allocation.allocated_pence)} to"
                f" {allocation.recipient.name}): it is confirmed and can be paid.\n"
            )
        entry = ops.approve_request(session, request_id=key, approved_by=actor)
        if entry is None:
            return f"Approved request {args.ref}: the import's rows are recorded.\n"
        return f"Approved request {args.ref}: {money(entry.amount_pence)} is recorded.\n"

    out.write(in_transaction(args, work))
    return 0


def cmd_reject(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import operations as ops
    from ledger.cli import in_transaction, user_of
    from ledger.fy import parse_date

    actor = user_of(args)
    date = parse_date(args.date, field="date") if args.date else None

    def work(session: Any) -> str:
        kind, key = _resolve(session, args.ref)
        if kind == "allocation":
            ops.reject_allocation(
                session, reference=key, rejected_by=actor, note=args.reason, date=date
            )
            return f"Rejected allocation {key}. Its money is available in the pot again.\n"
        if date is not None:
            from ledger.errors import InvalidInput

            raise InvalidInput("--on applies only to rejecting an allocation", field="date")
        ops.reject_request(session, request_id=key, rejected_by=actor, note=args.reason)
        return f"Rejected request {args.ref}. Its money is no longer held.\n"

    out.write(in_transaction(args, work))
    return 0


def cmd_reverse(args: argparse.Namespace, out: TextIO) -> int:
    from sqlalchemy import select

    from ledger import operations as ops
    from ledger.cli import in_transaction, user_of
    from ledger.errors import NotFound
    from ledger.fy import parse_date
    from ledger.models import Entry, Request
    from statements.render.formatting import money

    actor = user_of(args)
    date = parse_date(args.date, field="date") if args.date else None

    def work(session: Any) -> str:
        target = session.scalars(select(Entry).where(Entry.reference == args.ref)).first()
        number = args.ref.removeprefix("entry:")
        if target is None and args.ref.startswith("entry:") and number.isdigit():
            target = session.get(Entry, int(number)) if len(number) < 10 else None
        if target is None:
            raise NotFound("journal entry", args.ref, "ref")
        entry = ops.reverse(
            session,
            entry_id=target.id,
            reason=args.reason,
            entered_by=actor,
            date=date,
            reference=args.reference,
            approved_by=args.approved_by,
        )
        if isinstance(entry, Request):
            return (
                f"The reversal of entry {target.id} ({args.ref}, {money(target.amount_pence)})"
                f" waits for a second person: request {entry.id} in 'commonpurse approvals'.\n"
            )
        return (
            f"Reversed entry {target.id} ({args.ref}, {money(target.amount_pence)}) with entry"
            f" {entry.id}, dated {entry.effective_date.isoformat()}.\n"
        )

    out.write(in_transaction(args, work))
    return 0
