"""The words a distribution statement prints, shared by its PDF, HTML and CSV renderings so all
three show the same figures with the same words: the column headings, the totals' labels in
their order, the notes under an allocation line, whether the balance note needs a committee's
attention, and the note on who administers a pot."""

from __future__ import annotations

from statements.render.formatting import money
from statements.reports.distribution import AllocationRow, Movement, PotSection

# The column headings of the PDF and HTML tables.
ALLOCATION_HEADER = ("Recipient", "Purpose", "Status", "Allocated", "Paid")
AWARD_HEADER = ("Funder", "Award date", "Basis", "Awarded", "Received")
MOVEMENT_HEADER = ("Pot or allocation", "Funded", "Allocated", "Paid", "Returned", "Received")


def movement_amounts(move: Movement) -> tuple[int, int, int, int, int]:
    """A movement's amounts in the order of ``MOVEMENT_HEADER``."""
    return (
        move.funded_pence,
        move.allocated_pence,
        move.paid_pence,
        move.returned_pence,
        move.received_pence,
    )


def summary_lines(section: PotSection) -> list[tuple[str, int]]:
    """The section's totals as (label, pence), in the order every rendering prints them.

    Awarded, allocated, paid, returned and available always appear; the other figures only
    when they are not zero, so a simple pot has a short summary.
    """
    totals = section.totals
    delegated = section.delegated_from is not None
    lines = [
        ("Delegated to this pot" if delegated else "Awarded by named funders", totals.awarded_pence)
    ]
    if totals.assumed_pence:
        lines.append(("Recorded as an assumption", totals.assumed_pence))
    if totals.carried_in_pence:
        lines.append(("Carried in from an earlier year", totals.carried_in_pence))
    if totals.assumed_pence or totals.carried_in_pence:
        lines.append(("Total funds", totals.funded_pence))
    if totals.received_pence:
        lines.append(("Received", totals.received_pence))
    lines += [
        ("Allocated", totals.allocated_pence),
        ("Paid", totals.paid_pence),
        ("Returned", totals.returned_pence),
    ]
    if totals.carried_forward_pence:
        lines.append(("Carried forward", totals.carried_forward_pence))
    if totals.handed_back_pence:
        lines.append(("Handed back", totals.handed_back_pence))
    lines.append(("Available", totals.available_pence))
    return lines


def row_notes(row: AllocationRow) -> list[str]:
    """Short notes printed under an allocation line: delegation, pooling, returns."""
    notes: list[str] = []
    if row.sub_pot is not None:
        notes.append(f"Delegated pot {row.sub_pot.pot}, itemised below")
    if row.pooled_with:
        notes.append(
            f"Pooled contract of {money(row.contract_total_pence)}, also funded by "
            + ", ".join(row.pooled_with)
        )
    if row.returned_pence:
        notes.append(f"{money(row.returned_pence)} returned")
    return notes


def needs_attention(section: PotSection) -> bool:
    """Whether the balance note reports something a committee must look at."""
    return bool(section.totals.assumed_pence) or section.totals.available_pence < 0


def section_note(section: PotSection) -> str:
    """Who administers the pot and, for a delegated pot, where its money came from."""
    note = f"Administered by {section.administered_by}"
    if section.delegated_from is not None:
        note += f"; delegated from {section.delegated_from}"
    return note
