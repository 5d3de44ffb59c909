"""Commands for money over time: ``phasing``, ``expect``, ``schedule``, ``requirement``, ``pay``.

Registered through the ``commonpurse.commands`` entry point, like the statements' commands.

    commonpurse phasing WFWF-2022-23-AWARD 2022-23=200000 2023-24=137000 --approved-by finance
    commonpurse schedule split WFWF-22-02 --every quarterly --first 01/10/2023 --count 4
    commonpurse schedule import schedule.csv
    commonpurse requirement add WFWF-22-02 --title "Monitoring return Q3" --due 15/01/2024 \\
        --condition-for 2
    commonpurse pay WFWF-22-02 25000 --date 02/01/2024 --reference PAY-0001 --approved-by finance
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ledger import schedule as rules
from ledger.cli import CliError, engine_for, in_transaction, user_of
from ledger.errors import InvalidInput, LedgerError
from ledger.fy import label, parse_date, parse_financial_year
from ledger.lazy import lazy
from ledger.money import format_pence, parse_pence
from ledger.schedule import REQUIREMENT_KINDS

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from ledger import db, models, timeline
    from ledger import operations as ops
else:  # imported when a command runs, not when it is registered
    sa = lazy("sqlalchemy")
    db = lazy("ledger.db")
    models = lazy("ledger.models")
    timeline = lazy("ledger.timeline")
    ops = lazy("ledger.operations")

SCHEDULE_HEADER = ("allocation_ref", "date", "amount", "condition")


def register(subparsers: Any) -> None:
    _phasing(subparsers)
    _expect(subparsers)
    _schedule(subparsers)
    _requirement(subparsers)
    _pay(subparsers)


def _today(args: argparse.Namespace) -> dt.date:
    return parse_date(args.on, "on") if getattr(args, "on", None) else dt.date.today()


# phasing, expect --------------------------------------------------------------------------


def _phasing(sub: Any) -> None:
    parser = sub.add_parser(
        "phasing",
        help="phase a multi-year award over its financial years (an approved act)",
        description="State how an award is split over financial years. The parts must add up"
        " exactly to the award. The approver must be a second person unless the award is within"
        " the self-approval limit.",
    )
    parser.add_argument("award", help="the award's reference")
    parser.add_argument("parts", nargs="+", metavar="YEAR=AMOUNT", help="e.g. 2022-23=200000")
    parser.add_argument("--approved-by", required=True, help="who approves the phasing")
    parser.set_defaults(func=cmd_phasing)


def cmd_phasing(args: argparse.Namespace, out: TextIO) -> int:
    parts: dict[int, int] = {}
    for part in args.parts:
        year_text, equals, amount_text = part.partition("=")
        if not equals:
            raise CliError(f"{part!r} is not YEAR=AMOUNT, e.g. 2022-23=200000")
        year = parse_financial_year(year_text)
        if year in parts:
            raise CliError(f"{label(year)} is given twice")
        parts[year] = parse_pence(amount_text)

    def work(session: Session) -> str:
        timeline.set_phasing(
            session,
            award=args.award,
            parts=parts,
            entered_by=user_of(args),
            approved_by=args.approved_by,
        )
        return timeline.describe_phasing(parts)

    out.write(f"Award {args.award} phased: {in_transaction(args, work)}.\n")
    return 0


def _expect(sub: Any) -> None:
    parser = sub.add_parser(
        "expect",
        help="record funding a funder has committed but not yet awarded",
        description="Expected funding is shown apart in forecasts and never counts as funded,"
        " available or awarded.",
    )
    parser.add_argument("reference")
    parser.add_argument("--funder", required=True)
    parser.add_argument("--amount", required=True)
    parser.add_argument("--year", required=True, help="the financial year, e.g. 2024-25")
    parser.add_argument("--expected-date", required=True, metavar="DATE")
    parser.add_argument("--pot", help="the pot it would fund, if known")
    parser.add_argument("--source", default="", help="the document that states it")
    parser.add_argument(
        "--amount-assumed",
        action="store_true",
        help="the documents state the commitment but no amount: the amount is an assumption",
    )
    parser.set_defaults(func=cmd_expect)


def cmd_expect(args: argparse.Namespace, out: TextIO) -> int:
    amount = parse_pence(args.amount)
    year = parse_financial_year(args.year)
    day = parse_date(args.expected_date, "expected_date")

    def work(session: Session) -> str:
        row = timeline.record_expected(
            session,
            reference=args.reference,
            funder=args.funder,
            amount_pence=amount,
            financial_year=year,
            expected_date=day,
            entered_by=user_of(args),
            source=args.source,
            pot=args.pot,
            amount_is_assumption=args.amount_assumed,
        )
        return timeline.Expected.of(row).describe()

    out.write(in_transaction(args, work) + "\n")
    return 0


# schedule ------------------------------------------------------------------------------


def _schedule(sub: Any) -> None:
    parser = sub.add_parser("schedule", help="an allocation's dated instalments")
    actions = parser.add_subparsers(dest="schedule_command", required=True, metavar="ACTION")

    split = actions.add_parser(
        "split",
        help="equal monthly or quarterly instalments that add up exactly",
        description="Replace the allocation's schedule with equal instalments; the pennies"
        " left over go to the earliest. --dry-run shows them without recording.",
    )
    split.add_argument("allocation")
    split.add_argument("--every", choices=sorted(rules.FREQUENCIES), required=True)
    split.add_argument("--first", required=True, metavar="DATE", help="the first due date")
    split.add_argument("--count", required=True, type=int)
    split.add_argument("--dry-run", action="store_true")
    split.set_defaults(func=cmd_schedule_split)

    receipts = actions.add_parser(
        "receipts",
        help="when a funder is to pay an award: equal instalments, or DATE=AMOUNT parts",
        description="Receipt instalments of an award, adding up exactly to it; the cash"
        " forecast expects the award's money on these dates.",
    )
    receipts.add_argument("award")
    receipts.add_argument("parts", nargs="*", metavar="DATE=AMOUNT")
    receipts.add_argument("--every", choices=sorted(rules.FREQUENCIES))
    receipts.add_argument("--first", metavar="DATE")
    receipts.add_argument("--count", type=int)
    receipts.set_defaults(func=cmd_schedule_receipts)

    show = actions.add_parser("show", help="instalments, their state and the figures by quarter")
    show.add_argument("allocation")
    show.add_argument("--on", metavar="DATE", help="states as on this date (default: today)")
    show.set_defaults(func=cmd_schedule_show)

    of_pot = actions.add_parser(
        "pot", help="a pot's committed, scheduled, paid, unscheduled and overdue money by quarter"
    )
    of_pot.add_argument("pot")
    of_pot.add_argument("--on", metavar="DATE", help="states as on this date (default: today)")
    of_pot.set_defaults(func=cmd_schedule_pot)

    imp = actions.add_parser(
        "import",
        help="schedules from a CSV: " + ",".join(SCHEDULE_HEADER),
        description="Each allocation named in the file gets exactly the instalments listed,"
        " which must add up to what it commits. 'condition' (optional) is the title of a"
        " requirement on that allocation the instalment waits for. One transaction.",
    )
    imp.add_argument("file")
    imp.set_defaults(func=cmd_schedule_import)

    rebalance = actions.add_parser(
        "rebalance",
        help="after a variation, spread the change over chosen unpaid instalments",
    )
    rebalance.add_argument("allocation")
    rebalance.add_argument(
        "--instalments", required=True, help="ids of unpaid instalments, e.g. 3,4"
    )
    rebalance.add_argument("--reason", required=True)
    rebalance.set_defaults(func=cmd_schedule_rebalance)

    move = actions.add_parser("move", help="move an instalment's due date, with a reason")
    move.add_argument("instalment", type=int, help="the instalment's id")
    move.add_argument("--to", required=True, metavar="DATE")
    move.add_argument("--reason", required=True)
    move.set_defaults(func=cmd_schedule_move)


def cmd_schedule_split(args: argparse.Namespace, out: TextIO) -> int:
    first = parse_date(args.first, "first")

    def work(session: Session) -> list[tuple[dt.date, int]]:
        allocation = ops.find_allocation(session, args.allocation)
        split = rules.split_instalments(allocation.allocated_pence, first, args.count, args.every)
        if not args.dry_run:
            timeline.set_schedule(
                session, allocation=args.allocation, instalments=split, entered_by=user_of(args)
            )
        return split

    split = in_transaction(args, work)
    verb = "Proposed" if args.dry_run else "Scheduled"
    out.write(f"{verb} {len(split)} {args.every} instalments on {args.allocation}:\n")
    for day, amount in split:
        out.write(f"  {day:%d/%m/%Y}  {format_pence(amount):>15}\n")
    if not args.dry_run:
        out.write(f"See them with: commonpurse schedule show {args.allocation}\n")
    return 0


def cmd_schedule_receipts(args: argparse.Namespace, out: TextIO) -> int:
    split_asked = args.every or args.first or args.count
    if bool(args.parts) == bool(split_asked):
        raise CliError("Give either DATE=AMOUNT parts or --every, --first and --count")
    parts: list[tuple[dt.date, int]] = []
    for part in args.parts:
        day_text, equals, amount_text = part.partition("=")
        if not equals:
            raise CliError(f"{part!r} is not DATE=AMOUNT, e.g. 01/04/2022=168500")
        parts.append((parse_date(day_text), parse_pence(amount_text)))
    if split_asked and not (args.every and args.first and args.count):
        raise CliError("--every, --first and --count go together")

    def work(session: Session) -> list[tuple[dt.date, int]]:
        instalments = parts or rules.split_instalments(
            timeline.find_award(session, args.award).amount_pence,
            parse_date(args.first, "first"),
            args.count,
            args.every,
        )
        timeline.set_receipt_schedule(
            session, award=args.award, instalments=instalments, entered_by=user_of(args)
        )
        return instalments

    instalments = in_transaction(args, work)
    out.write(f"Award {args.award} is to be received in {len(instalments)} instalments:\n")
    for day, amount in instalments:
        out.write(f"  {day:%d/%m/%Y}  {format_pence(amount):>15}\n")
    return 0


def cmd_schedule_show(args: argparse.Namespace, out: TextIO) -> int:
    on = _today(args)
    engine = engine_for(args)
    with db.reader_factory(engine)() as session:
        allocation = ops.find_allocation(session, args.allocation)
        states = timeline.states_of(session, allocation, on)
        requirements = timeline.requirement_views(session, [allocation.id])
        figures = rules.schedule_figures(allocation.allocated_pence, allocation.paid_pence, states)
        reference, recipient = allocation.reference, allocation.recipient.name
    engine.dispose()
    out.write(f"{reference} ({recipient}), as on {on:%d/%m/%Y}\n")
    if not states:
        out.write("No instalments scheduled.\n")
    for state in states:
        condition = state.instalment.requirement_id
        waits = (
            f"  waits for '{requirements[condition].title}'"
            f" ({rules.requirement_status(requirements[condition], on)})"
            if condition is not None
            else ""
        )
        paid_by = f" by {', '.join(state.paid_by)}" if state.paid_by else ""
        out.write(
            f"  #{state.instalment.id:<5} {state.instalment.due_date:%d/%m/%Y}"
            f"  {format_pence(state.instalment.amount_pence):>15}  {state.status:<9}"
            f" paid {format_pence(state.paid_pence)}{paid_by}{waits}\n"
        )
    _write_figures(figures, out)
    return 0


def cmd_schedule_pot(args: argparse.Namespace, out: TextIO) -> int:
    on = _today(args)
    engine = engine_for(args)
    with db.reader_factory(engine)() as session:
        figures = timeline.pot_schedule_figures(session, args.pot, on)
    engine.dispose()
    out.write(f"{args.pot}, as on {on:%d/%m/%Y}\n")
    _write_figures(figures, out)
    return 0


def _write_figures(figures: rules.ScheduleFigures, out: TextIO) -> None:
    out.write(
        f"Committed {format_pence(figures.committed_pence)}, scheduled"
        f" {format_pence(figures.scheduled_pence)}, paid {format_pence(figures.paid_pence)},"
        f" unscheduled {format_pence(figures.unscheduled_pence)}, overdue"
        f" {format_pence(figures.overdue_pence)}\n"
    )
    for (year, quarter), q in figures.by_quarter.items():
        out.write(
            f"  {rules.quarter_label(year, quarter)}: scheduled {format_pence(q.scheduled_pence)},"
            f" paid {format_pence(q.paid_pence)}, overdue {format_pence(q.overdue_pence)}\n"
        )


def read_schedule_csv(
    lines: list[str],
) -> dict[str, list[tuple[int, dt.date, int, str]]]:
    """Rows of a schedule CSV by allocation: (row number, date, pence, condition title)."""
    reader = csv.reader(lines)
    header = [h.strip().lower() for h in next(reader, [])]
    if header not in (list(SCHEDULE_HEADER), list(SCHEDULE_HEADER[:3])):
        raise CliError("The header must be exactly " + ",".join(SCHEDULE_HEADER))
    grouped: dict[str, list[tuple[int, dt.date, int, str]]] = defaultdict(list)
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [c.strip() for c in row] + [""] * (4 - len(row))
        try:
            day = parse_date(cells[1])
            amount = parse_pence(cells[2])
        except (LedgerError, ValueError) as error:
            column = "date" if isinstance(error, LedgerError) else "amount"
            raise CliError(f"Row {number}, column {column}: {error}") from error
        if not cells[0]:
            raise CliError(f"Row {number}, column allocation_ref: it is blank")
        grouped[cells[0]].append((number, day, amount, cells[3]))
    return grouped


def cmd_schedule_import(args: argparse.Namespace, out: TextIO) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path} is not a file")
    try:
        grouped = read_schedule_csv(path.read_text(encoding="utf-8-sig").splitlines())
    except UnicodeDecodeError as error:
        raise CliError(f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8'") from error

    def work(session: Session) -> int:
        for allocation, rows in grouped.items():
            first_row = rows[0][0]
            try:
                target = ops.find_allocation(session, allocation)
                conditions: dict[int, int] = {}
                for i, (_, _, _, title) in enumerate(rows):
                    if title:
                        conditions[i] = _requirement_named(session, target.id, title)
                timeline.set_schedule(
                    session,
                    allocation=allocation,
                    instalments=[(day, amount) for _, day, amount, _ in rows],
                    entered_by=user_of(args),
                    conditions=conditions,
                )
            except LedgerError as error:
                raise CliError(f"Row {first_row} ({allocation}): {error}") from error
        return sum(len(rows) for rows in grouped.values())

    count = in_transaction(args, work)
    out.write(f"Scheduled {count} instalments on {len(grouped)} allocations from {path.name}.\n")
    return 0


def _requirement_named(session: Session, allocation_id: int, title: str) -> int:
    found = session.scalars(
        sa.select(models.Requirement.id).where(
            models.Requirement.allocation_id == allocation_id, models.Requirement.title == title
        )
    ).one_or_none()
    if found is None:
        raise InvalidInput(f"There is no requirement called '{title}' on it", field="condition")
    return int(found)


def cmd_schedule_rebalance(args: argparse.Namespace, out: TextIO) -> int:
    try:
        ids = [int(part) for part in args.instalments.split(",") if part.strip()]
    except ValueError as error:
        raise CliError(
            "--instalments takes instalment ids separated by commas, e.g. 3,4"
        ) from error

    def work(session: Session) -> int:
        rows = timeline.rebalance_schedule(
            session,
            allocation=args.allocation,
            instalment_ids=ids,
            entered_by=user_of(args),
            reason=args.reason,
            on=dt.date.today(),
        )
        return sum(r.amount_pence for r in rows)

    total = in_transaction(args, work)
    out.write(f"Re-balanced {args.allocation}: its instalments add up to {format_pence(total)}.\n")
    return 0


def cmd_schedule_move(args: argparse.Namespace, out: TextIO) -> int:
    day = parse_date(args.to, "to")
    in_transaction(
        args,
        lambda s: timeline.move_instalment(
            s,
            instalment_id=args.instalment,
            due_date=day,
            reason=args.reason,
            moved_by=user_of(args),
        ),
    )
    out.write(f"Instalment {args.instalment} now falls due on {day:%d/%m/%Y}.\n")
    return 0


# requirement ---------------------------------------------------------------------------


def _requirement(sub: Any) -> None:
    parser = sub.add_parser("requirement", help="reporting requirements on allocations")
    actions = parser.add_subparsers(dest="requirement_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="a dated requirement, optionally gating instalments")
    add.add_argument("allocation")
    add.add_argument("--title", required=True)
    add.add_argument("--due", required=True, metavar="DATE")
    add.add_argument("--kind", choices=REQUIREMENT_KINDS, default="monitoring_return")
    add.add_argument(
        "--condition-for",
        type=int,
        action="append",
        default=[],
        metavar="INSTALMENT",
        help="an instalment (by id) that may not be paid until this is received",
    )
    add.set_defaults(func=cmd_requirement_add)

    receive = actions.add_parser("receive", help="record that it was received")
    receive.add_argument("requirement", type=int)
    receive.add_argument("--on", required=True, metavar="DATE")
    receive.set_defaults(func=cmd_requirement_receive)

    waive = actions.add_parser("waive", help="waive it: an approver gives the reason")
    waive.add_argument("requirement", type=int)
    waive.add_argument("--reason", required=True)
    waive.add_argument("--approved-by", required=True)
    waive.set_defaults(func=cmd_requirement_waive)

    move = actions.add_parser("move", help="move its due date, with a reason")
    move.add_argument("requirement", type=int)
    move.add_argument("--to", required=True, metavar="DATE")
    move.add_argument("--reason", required=True)
    move.set_defaults(func=cmd_requirement_move)

    overdue = actions.add_parser("overdue", help="overdue requirements and instalments")
    overdue.add_argument("--on", metavar="DATE", help="default: today")
    overdue.set_defaults(func=cmd_overdue)


def cmd_requirement_add(args: argparse.Namespace, out: TextIO) -> int:
    due = parse_date(args.due, "due")

    def work(session: Session) -> int:
        row = timeline.add_requirement(
            session,
            allocation=args.allocation,
            kind=args.kind,
            title=args.title,
            due_date=due,
            entered_by=user_of(args),
            condition_for=args.condition_for,
        )
        return row.id

    requirement_id = in_transaction(args, work)
    gates = (
        f"; instalment(s) {', '.join(str(i) for i in args.condition_for)} wait for it"
        if args.condition_for
        else ""
    )
    out.write(
        f"Requirement {requirement_id} on {args.allocation}: '{args.title}' due"
        f" {due:%d/%m/%Y}{gates}.\n"
    )
    return 0


def cmd_requirement_receive(args: argparse.Namespace, out: TextIO) -> int:
    on = parse_date(args.on, "on")
    in_transaction(
        args,
        lambda s: timeline.receive_requirement(
            s, requirement_id=args.requirement, received_by=user_of(args), received_on=on
        ),
    )
    out.write(f"Requirement {args.requirement} received on {on:%d/%m/%Y}.\n")
    return 0


def cmd_requirement_waive(args: argparse.Namespace, out: TextIO) -> int:
    in_transaction(
        args,
        lambda s: timeline.waive_requirement(
            s,
            requirement_id=args.requirement,
            reason=args.reason,
            entered_by=user_of(args),
            approved_by=args.approved_by,
        ),
    )
    out.write(f"Requirement {args.requirement} waived by {args.approved_by}.\n")
    return 0


def cmd_requirement_move(args: argparse.Namespace, out: TextIO) -> int:
    day = parse_date(args.to, "to")
    in_transaction(
        args,
        lambda s: timeline.move_requirement(
            s,
            requirement_id=args.requirement,
            due_date=day,
            reason=args.reason,
            moved_by=user_of(args),
        ),
    )
    out.write(f"Requirement {args.requirement} now falls due on {day:%d/%m/%Y}.\n")
    return 0


def cmd_overdue(args: argparse.Namespace, out: TextIO) -> int:
    on = _today(args)
    engine = engine_for(args)
    with db.reader_factory(engine)() as session:
        items = timeline.overdue(session, on)
    engine.dispose()
    if not items:
        out.write(f"Nothing overdue on {on:%d/%m/%Y}.\n")
    for item in items:
        amount = f" {format_pence(item.amount_pence)} unpaid" if item.amount_pence else ""
        out.write(
            f"{item.due_date:%d/%m/%Y}  {item.allocation} ({item.recipient}, {item.pot}):"
            f" {item.what}{amount}\n"
        )
    return 0


# pay -----------------------------------------------------------------------------------


def _pay(sub: Any) -> None:
    parser = sub.add_parser(
        "pay",
        help="pay an allocation, honouring its schedule's reporting conditions",
        description="Pays AMOUNT on ALLOCATION. A payment that reaches an instalment waiting"
        " for a reporting requirement not yet received is refused, naming it, unless"
        " --override-reason is given with --approved-by. Without --approved-by the payment"
        " waits for a second person's approval.",
    )
    parser.add_argument("allocation")
    parser.add_argument("amount")
    parser.add_argument("--date", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--memo", default="Instalment")
    parser.add_argument("--approved-by")
    parser.add_argument("--override-reason")
    parser.set_defaults(func=cmd_pay)


def cmd_pay(args: argparse.Namespace, out: TextIO) -> int:
    amount = parse_pence(args.amount)
    day = parse_date(args.date)

    def work(session: Session) -> str:
        result = timeline.pay_instalment(
            session,
            reference=args.reference,
            allocation=args.allocation,
            amount_pence=amount,
            date=day,
            entered_by=user_of(args),
            memo=args.memo,
            approved_by=args.approved_by,
            override_reason=args.override_reason,
        )
        return "paid" if isinstance(result, models.Entry) else "awaiting a second person's approval"

    state = in_transaction(args, work)
    out.write(
        f"Payment {args.reference} of {format_pence(amount)} on {args.allocation}: {state}.\n"
    )
    return 0
