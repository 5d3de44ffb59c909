"""Each report as a :class:`~statements.reports.report_document.ReportDocument`: the words and
tables its web page, CSV and PDF share.

* :func:`intermediary_return_document`: CTSI's return to the council on its delegated pot, with
  every difference from the council's own distribution statement;
* :func:`funder_document`: what each funder's money paid for;
* :func:`promise_document`: spend by Promise pillar, foundation and action, untagged shown;
* :func:`recipient_document`: everything one provider receives, joint awards listed apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from statements.render.formatting import day, money
from statements.reports.funder_report import THROUGH, FunderReport
from statements.reports.intermediary_return import Difference, IntermediaryReturn
from statements.reports.promise_spend import NOTHING, UNTAGGED, Breakdown, PromiseSpend
from statements.reports.recipient_view import Figures, Received, RecipientSummary, RecipientView
from statements.reports.report_document import Cell, Pence, ReportDocument, Table


def slug(*parts: str) -> str:
    """``CTSI managed WFWF Grant 2022-23`` → ``ctsi-managed-wfwf-grant-2022-23``."""
    text = " ".join(parts)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower() or "report"


# The intermediary's return -----------------------------------------------------------------


def intermediary_return_document(
    ret: IntermediaryReturn, differences: Sequence[Difference]
) -> ReportDocument:
    summary = (
        ("Delegated to it (allocated)", ret.allocated_to_it_pence),
        ("Paid to it by the council (cash handed over)", ret.paid_to_it_pence),
        ("Sub-granted", ret.sub_granted_pence),
        ("Paid on sub-grants", ret.sub_grants_paid_pence),
        ("Given back by recipients", ret.given_back_pence),
        ("Returned to the council", ret.returned_to_council_pence),
        ("Not yet sub-granted (uncommitted)", ret.uncommitted_pence),
        ("Cash held", ret.held_pence),
    )
    still_due = ret.allocated_to_it_pence - ret.paid_to_it_pence
    handed = (
        "The council has handed over all of the delegated cash."
        if still_due <= 0
        else f"The council has still to hand over {money(still_due)} of the delegated cash."
    )
    grants = tuple(
        (
            g.reference,
            g.recipient,
            g.purpose,
            Pence(g.allocated_pence),
            Pence(g.paid_pence),
            Pence(g.returned_pence),
            Pence(g.unpaid_pence),
        )
        for g in ret.sub_grants
    )
    grant_total: tuple[Cell, ...] = (
        "Total",
        "",
        "",
        Pence(ret.sub_granted_pence),
        Pence(ret.sub_grants_paid_pence),
        Pence(ret.given_back_pence),
        Pence(ret.sub_granted_pence - ret.sub_grants_paid_pence),
    )
    agreement = (
        "The return agrees with the council's distribution statement to the penny."
        if not differences
        else f"{len(differences)} difference{'' if len(differences) == 1 else 's'} from the"
        " council's distribution statement."
    )
    return ReportDocument(
        title=f"Return from {ret.intermediary} on {ret.pot}",
        as_at=ret.as_at,
        lines=(
            f"Delegation {ret.delegation} from {ret.delegated_from}.",
            handed,
            agreement,
        ),
        tables=(
            Table("Summary", ("Figure", "Amount"), tuple((k, Pence(v)) for k, v in summary)),
            Table(
                "Sub-grants",
                ("Reference", "Recipient", "Purpose", "Allocated", "Paid", "Given back", "Unpaid"),
                grants,
                total=grant_total if grants else None,
                empty="No sub-grants yet.",
            ),
            Table(
                "Differences from the council's statement",
                ("Item", "Figure", "In the return", "In the council's statement", "Difference"),
                tuple(_difference_row(d) for d in differences),
                empty="None: the return and the council's statement agree.",
            ),
        ),
        slug=slug("return", ret.pot, ret.as_at.isoformat()),
    )


def _difference_row(d: Difference) -> tuple[Cell, ...]:
    if d.note:
        return (d.item, f"{d.figure}: {d.note}", None, None, None)
    return (
        d.item,
        d.figure,
        Pence(d.intermediary_pence) if d.intermediary_pence is not None else "not in it",
        Pence(d.council_pence) if d.council_pence is not None else "not in it",
        Pence(d.difference_pence),
    )


# The funder view ---------------------------------------------------------------------------


def funder_document(report: FunderReport) -> ReportDocument:
    who = report.funder or ("every source" if report.by_source else "every funder")
    lines = [
        "Each allocation's money is split between the funders of its pot in proportion to their"
        " awards, to the penny; a pooled contract shows each funder's share through each pot.",
        "Money delegated to an intermediary is counted once, in the delegation; its sub-grants"
        " are listed to show what it paid for, and are not added again.",
    ]
    if report.by_source:
        lines.append(
            "Counted by ultimate source: money a funder passes on from another body (the"
            " Promise Partnership, from the Scottish Government through Corra) counts for"
            " that body."
        )
    tables = [
        Table(
            "Totals by " + ("ultimate source" if report.by_source else "funder"),
            ("Funder", "Allocated", "Paid", "Returned", "Unpaid"),
            tuple(
                (
                    t.funder,
                    Pence(t.allocated_pence),
                    Pence(t.paid_pence),
                    Pence(t.returned_pence),
                    Pence(t.unpaid_pence),
                )
                for t in report.totals
            ),
            total=(
                "All",
                Pence(sum(t.allocated_pence for t in report.totals)),
                Pence(sum(t.paid_pence for t in report.totals)),
                Pence(sum(t.returned_pence for t in report.totals)),
                Pence(sum(t.unpaid_pence for t in report.totals)),
            )
            if len(report.totals) > 1
            else None,
            empty="Nothing allocated yet.",
        )
    ]
    for total in report.totals:
        rows = [r for r in report.rows if r.funder == total.funder]
        tables.append(
            Table(
                f"What {total.funder}'s money paid for",
                ("Reference", "Recipient and purpose", "Pot", "How", "Allocated", "Paid"),
                tuple(
                    (
                        r.reference,
                        f"{r.recipient}: {r.purpose}" if r.purpose else r.recipient,
                        r.pot,
                        _how(r.way, r.intermediary, r.pooled),
                        Pence(r.allocated_pence),
                        Pence(r.paid_pence),
                    )
                    for r in rows
                ),
                total=("Total", "", "", "", Pence(total.allocated_pence), Pence(total.paid_pence)),
                note="Rows marked 'through' are inside their delegation's figure.",
            )
        )
    return ReportDocument(
        title=f"What {who}'s money paid for",
        as_at=report.as_at,
        lines=tuple(lines),
        tables=tuple(tables),
        slug=slug("funders", report.funder or "all", report.as_at.isoformat()),
    )


def _how(way: str, intermediary: str | None, pooled: bool) -> str:
    words = {
        "direct": "Directly",
        "delegation": "Delegated",
        THROUGH: f"Through {intermediary} (in its delegation)",
    }[way]
    return f"{words}, pooled contract" if pooled else words


# Spend by Promise priority -----------------------------------------------------------------


def promise_document(report: PromiseSpend) -> ReportDocument:
    return ReportDocument(
        title="Spend by Promise priority",
        as_at=report.as_at,
        lines=(
            f"Pots: {', '.join(report.pots) or 'none'}. Money delegated to an intermediary is"
            " shown through its sub-grants.",
            "An allocation with several tags is listed in full under each and counted once in"
            " the total. Money with no tag is shown as Untagged.",
        ),
        tables=tuple(
            _breakdown(b) for b in (report.by_pillar, report.by_foundation, report.by_action)
        ),
        slug=slug("promise-spend", report.as_at.isoformat()),
    )


def _breakdown(breakdown: Breakdown) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (
            line.label,
            Pence(line.spend.allocated_pence),
            Pence(line.spend.paid_pence),
            ", ".join(line.shared),
        )
        for line in breakdown.lines
    ]
    untagged = breakdown.untagged
    rows.append(
        (UNTAGGED, Pence(untagged.spend.allocated_pence), Pence(untagged.spend.paid_pence), "")
    )
    if breakdown.counted_more_than_once != NOTHING:
        less = NOTHING - breakdown.counted_more_than_once
        rows.append(
            (
                "Counted under more than one line",
                Pence(less.allocated_pence),
                Pence(less.paid_pence),
                "",
            )
        )
    return Table(
        breakdown.title,
        ("Line", "Allocated", "Paid", "Also listed under another line"),
        tuple(rows),
        total=(
            "Total",
            Pence(breakdown.total.allocated_pence),
            Pence(breakdown.total.paid_pence),
            "",
        ),
    )


# The recipient page ------------------------------------------------------------------------


def recipient_document(view: RecipientView) -> ReportDocument:
    def table(caption: str, rows: Sequence[Received], empty: str, joint: bool) -> Table:
        headings: tuple[str, ...] = (
            "Reference",
            "Purpose",
            "Pot",
            "Status",
            "Allocated",
            "Paid",
            "Returned",
        )
        if joint:
            headings = ("Reference", "Recipient as recorded", *headings[1:])
        body = tuple(
            (
                r.reference,
                *((r.recipient,) if joint else ()),
                r.purpose,
                ", ".join(r.pots) + (f" (through {r.intermediary})" if r.intermediary else ""),
                r.status,
                Pence(r.allocated_pence),
                Pence(r.paid_pence),
                Pence(r.returned_pence),
            )
            for r in rows
        )
        return Table(
            caption, headings, body, total=_total(rows, joint) if rows else None, empty=empty
        )

    own = view.own_total
    names = ", ".join(view.matched)
    return ReportDocument(
        title=f"What {view.name} receives",
        as_at=None,
        lines=(
            f"Across every pot, as recorded today (recipients counted: {names}).",
            f"Directly {money(view.direct_total.allocated_pence)}; through an intermediary"
            f" {money(view.through_total.allocated_pence)}; together"
            f" {money(own.allocated_pence)} allocated and {money(own.paid_pence)} paid.",
            f"Jointly with others {money(view.joint_total.allocated_pence)}, listed apart and"
            " not added to the total: the ledger does not say how the partners share it.",
        ),
        tables=(
            table("Directly", view.direct, "Nothing directly.", joint=False),
            table(
                "Through an intermediary",
                view.through,
                "Nothing through an intermediary.",
                joint=False,
            ),
            Table(
                "Total of its own",
                ("", "Allocated", "Paid", "Returned", "Unpaid"),
                (
                    _figures_row("Directly", view.direct_total),
                    _figures_row("Through an intermediary", view.through_total),
                ),
                total=_figures_row("Total", own),
            ),
            table(
                "Jointly with others (not in the total)",
                view.joint,
                "No joint awards.",
                joint=True,
            ),
        ),
        slug=slug("recipient", view.name),
    )


def _figures_row(label: str, f: Figures) -> tuple[Cell, ...]:
    return (
        label,
        Pence(f.allocated_pence),
        Pence(f.paid_pence),
        Pence(f.returned_pence),
        Pence(f.unpaid_pence),
    )


def _total(rows: Sequence[Received], joint: bool) -> tuple[Cell, ...]:
    return (
        "Total",
        *(("",) if joint else ()),
        "",
        "",
        "",
        Pence(sum(r.allocated_pence for r in rows)),
        Pence(sum(r.paid_pence for r in rows)),
        Pence(sum(r.returned_pence for r in rows)),
    )


def as_at_words(document: ReportDocument) -> str:
    return f"as at {day(document.as_at)}" if document.as_at else "as recorded today"


def recipients_summary_document(summary: Sequence[RecipientSummary]) -> ReportDocument:
    rows = tuple(
        (
            s.name,
            Pence(s.direct.allocated_pence),
            Pence(s.through.allocated_pence),
            Pence(s.own.allocated_pence),
            Pence(s.own.paid_pence),
            Pence(s.joint.allocated_pence),
        )
        for s in summary
    )
    return ReportDocument(
        title="What each recipient receives",
        as_at=None,
        lines=(
            "Allocated to each provider across every pot, as recorded today. Joint awards are"
            " shown apart under each partner and never added to a provider's own total.",
        ),
        tables=(
            Table(
                "Every recipient",
                (
                    "Recipient",
                    "Directly",
                    "Through an intermediary",
                    "Own total",
                    "Own total paid",
                    "Jointly with others",
                ),
                rows,
                empty="No allocations yet.",
            ),
        ),
        slug="recipients",
    )


def returns_document(pot: str, returns: Sequence[ReportDocument]) -> ReportDocument:
    """The returns on every pot delegated from ``pot``, one after another."""
    tables: list[Table] = []
    lines = [f"The return on each pot delegated from {pot}."]
    for document in returns:
        lines.append(f"{document.title}: {' '.join(document.lines[1:])}")
        tables += [
            Table(
                f"{document.title}: {table.caption}",
                table.headings,
                table.rows,
                total=table.total,
                empty=table.empty,
                note=table.note,
            )
            for table in document.tables
        ]
    if not returns:
        lines.append(f"No pot is delegated from {pot}, so there is no return.")
    return ReportDocument(
        title=f"Returns on pots delegated from {pot}",
        as_at=returns[0].as_at if returns else None,
        lines=tuple(lines),
        tables=tuple(tables),
        slug=slug("returns", pot),
    )
