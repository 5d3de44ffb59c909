"""The distribution statement as CSV, for finance officers' spreadsheets.

One row per thing the PDF and HTML show, in the same order, told apart by the ``record`` column:

``section``
    a pot: ``purpose`` holds its heading, ``note`` who administers it and where it was delegated
    from. ``level`` is 0 for the pot asked for, 1 for a pot delegated from it, and so on.
``award``
    an award into the pot: ``funder``, ``purpose`` (the award's description), ``status``
    (``named funder`` or ``assumption``), ``amount`` and ``received``.
``allocation``
    one allocation line: ``recipient``, ``purpose``, ``status``, ``tags``, ``allocated``, ``paid``,
    ``returned``, ``unpaid`` and a ``note`` for delegations and pooled contracts.
``total``
    one of the section's totals: ``purpose`` names the figure (``Allocated``, ``Available``…),
    ``amount`` holds it.
``balance``
    the section's balance note, in ``note``.
``years``
    one line on the years of an award into the pot (phased, or "phasing not stated", and any
    disagreement between the documents) or on funding expected but not awarded, in ``note``.
``movement``
    with ``statement --since``: what changed after that date on a pot (``purpose`` is the pot)
    or an allocation: ``amount`` (funded), ``allocated``, ``paid``, ``returned``, ``received``.
``signoff``
    for a signed statement: who signed it and when (``note``), the chain tip (``reference``)
    and, when it has been superseded, ``status`` ``superseded`` and the entries in ``purpose``.

Amounts are plain decimals (``82336.18``, ``-103.18``) so a spreadsheet can add them up; every
other cell goes through ``csv_safe.neutralise``. The totals' labels, the notes under a line and
the pot's note come from ``statements.render.wording``, which the PDF and HTML use too, so all
three show the same figures with the same words.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TextIO

from statements.render.csv_safe import Amount, write_csv
from statements.render.formatting import chain_line, signed_line
from statements.render.wording import (
    movement_amounts,
    row_notes,
    section_note,
    summary_lines,
)
from statements.reports.distribution import (
    DistributionStatement,
    PotSection,
)

HEADER = (
    "record",
    "section",
    "level",
    "reference",
    "recipient",
    "funder",
    "purpose",
    "status",
    "tags",
    "allocated",
    "paid",
    "returned",
    "unpaid",
    "received",
    "amount",
    "note",
)


def render_csv(statement: DistributionStatement, out: TextIO) -> None:
    """Write the statement to ``out`` (open it with ``newline=""``) through ``write_csv``."""
    write_csv(out, HEADER, _rows(statement))


def _rows(statement: DistributionStatement) -> Iterator[Sequence[object]]:
    for depth, section in statement.sections():
        yield from _section_rows(depth, section)
    top = statement.section
    for move in statement.movements:
        funded, allocated, paid, returned, received = movement_amounts(move)
        yield _row(
            "movement",
            top,
            0,
            purpose=move.what,
            amount=Amount(funded),
            allocated=Amount(allocated),
            paid=Amount(paid),
            returned=Amount(returned),
            received=Amount(received),
            note=f"after {statement.since:%d/%m/%Y} to {statement.as_at:%d/%m/%Y}"
            if statement.since
            else "",
        )
    if statement.signoff is not None:
        yield _row(
            "signoff",
            top,
            0,
            reference=statement.signoff.chain_sha256,
            status="superseded" if statement.signoff.superseded_by else "signed",
            purpose="; ".join(statement.signoff.superseded_by),
            note=f"{signed_line(statement)} {chain_line(statement)}",
        )


def _row(record: str, section: PotSection, depth: int, **cells: object) -> list[object]:
    values: dict[str, object] = {"record": record, "section": section.pot, "level": depth}
    values.update(cells)
    return [values.get(column, "") for column in HEADER]


def _section_rows(depth: int, section: PotSection) -> Iterator[Sequence[object]]:
    yield _row("section", section, depth, purpose=section.heading, note=section_note(section))
    for award in section.awards:
        yield _row(
            "award",
            section,
            depth,
            reference=award.reference,
            funder=award.funder,
            purpose=award.description,
            status="assumption" if award.is_assumption else "named funder",
            amount=Amount(award.amount_pence),
            received=Amount(award.received_pence),
        )
    for row in section.allocations:
        yield _row(
            "allocation",
            section,
            depth,
            reference=row.reference,
            recipient=row.recipient,
            purpose=row.purpose,
            status=row.status,
            tags="; ".join(row.tags),
            allocated=Amount(row.allocated_pence),
            paid=Amount(row.paid_pence),
            returned=Amount(row.returned_pence),
            unpaid=Amount(row.unpaid_pence),
            note="; ".join(row_notes(row)),
        )
    for label, pence in summary_lines(section):
        yield _row("total", section, depth, purpose=label, amount=Amount(pence))
    yield _row("balance", section, depth, note=section.balance_note)
    for note in section.years_notes:
        yield _row("years", section, depth, note=note)
