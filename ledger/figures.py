"""What the maintained figures may never show, each said once in plain words.

Pure functions over plain values (pence and names): no Session, no SQL. Both writers ask them
after an entry has moved the figures (``journal.validate_figures`` for the one-at-a-time
operations, ``bulk.Batch`` for the import), before the database's CHECK constraints would refuse
the same state as a raw error. Each returns the refusal's message, or None when the figures are
sound.
"""

from __future__ import annotations

from ledger.money import format_pence


def pot_problem(pot_name: str, available_pence: int) -> str | None:
    """A pot never has less than nothing available."""
    if available_pence < 0:
        return f"This would leave {pot_name} overspent by {format_pence(-available_pence)}"
    return None


def allocation_problem(
    reference: str, allocated_pence: int, paid_pence: int, returned_pence: int
) -> str | None:
    """An allocation, and each funder's share of it, is never paid more than it was allocated,
    and never has more returned than was paid."""
    if paid_pence > allocated_pence:
        return (
            f"This would leave allocation {reference} paid {format_pence(paid_pence)}, more"
            f" than its {format_pence(allocated_pence)} allocated"
        )
    if not 0 <= returned_pence <= paid_pence:
        return (
            f"This would leave allocation {reference} with {format_pence(returned_pence)}"
            f" returned against {format_pence(paid_pence)} paid"
        )
    return None


def award_problem(reference: str, received_pence: int, amount_pence: int) -> str | None:
    """A funder never pays more on an award than it awarded."""
    if not 0 <= received_pence <= amount_pence:
        return (
            f"This would leave award {reference} with {format_pence(received_pence)}"
            f" received against {format_pence(amount_pence)} awarded"
        )
    return None
