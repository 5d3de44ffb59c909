"""Every rule the ledger enforces has its own exception, carrying the facts and a message a
finance officer understands. The CLI and the web show ``str(error)``; nothing is written when one
is raised, because operations raise before they post and the caller's transaction rolls back.
"""

from __future__ import annotations

from ledger.money import format_pence


class LedgerError(Exception):
    """Base of every refusal the ledger makes for a business reason."""

    field: str | None = None  # which input it concerns, for forms and import rows

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(LedgerError):
    def __init__(self, what: str, key: str, field: str | None = None) -> None:
        self.what = what
        self.key = key
        self.field = field
        super().__init__(f"There is no {what} called '{key}'.")


class InvalidInput(LedgerError):
    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class InsufficientFunds(LedgerError):
    """An allocation, variation, delegation, sub-grant or carry-forward would overspend a pot."""

    field = "amount"

    def __init__(
        self,
        pot: str,
        available_pence: int,
        needed_pence: int,
        held_pence: int = 0,
        what: str = "allocation",
    ) -> None:
        self.pot = pot
        self.what = what
        self.available_pence = available_pence
        self.needed_pence = needed_pence
        self.held_pence = held_pence
        self.shortfall_pence = needed_pence - available_pence
        held = (
            f" after {format_pence(held_pence)} held for changes awaiting approval"
            if held_pence
            else ""
        )
        super().__init__(
            f"{pot} has {format_pence(available_pence)} available{held}; this {what} needs"
            f" {format_pence(needed_pence)} (short by {format_pence(self.shortfall_pence)})"
        )


class OverCommitted(LedgerError):
    """A payment (or a reduction) would exceed what is committed and unpaid on an allocation."""

    field = "amount"

    def __init__(self, allocation: str, unpaid_pence: int, needed_pence: int, what: str) -> None:
        self.allocation = allocation
        self.unpaid_pence = unpaid_pence
        self.needed_pence = needed_pence
        self.shortfall_pence = needed_pence - unpaid_pence
        super().__init__(
            f"Allocation {allocation} has {format_pence(unpaid_pence)} committed and unpaid;"
            f" this {what} needs {format_pence(needed_pence)}"
            f" (over by {format_pence(self.shortfall_pence)})"
        )


class OverReturned(LedgerError):
    field = "amount"

    def __init__(self, allocation: str, returnable_pence: int, needed_pence: int) -> None:
        self.allocation = allocation
        self.returnable_pence = returnable_pence
        self.needed_pence = needed_pence
        super().__init__(
            f"Allocation {allocation} has had {format_pence(returnable_pence)} paid and not yet"
            f" returned; a return of {format_pence(needed_pence)} is more than that"
            f" (over by {format_pence(needed_pence - returnable_pence)})"
        )


class OverReceived(LedgerError):
    field = "amount"

    def __init__(self, funder: str, pot: str, outstanding_pence: int, needed_pence: int) -> None:
        self.funder = funder
        self.pot = pot
        self.outstanding_pence = outstanding_pence
        self.needed_pence = needed_pence
        super().__init__(
            f"{funder} has {format_pence(outstanding_pence)} still to pay on its awards into"
            f" {pot}; a receipt of {format_pence(needed_pence)} is more than was awarded"
            f" (over by {format_pence(needed_pence - outstanding_pence)})"
        )


class NotConfirmed(LedgerError):
    def __init__(self, allocation: str, status: str) -> None:
        self.allocation = allocation
        self.status = status
        super().__init__(
            f"Allocation {allocation} is {status}; payments can only be made against a"
            " confirmed allocation"
        )


class AllocationClosed(LedgerError):
    def __init__(self, allocation: str) -> None:
        self.allocation = allocation
        super().__init__(f"Allocation {allocation} is closed; nothing more can be recorded on it")


class SelfApproval(LedgerError):
    """Segregation of duties: the person who entered something may not approve it."""

    def __init__(self, user: str, what: str, amount_pence: int, limit_pence: int) -> None:
        self.user = user
        self.amount_pence = amount_pence
        self.limit_pence = limit_pence
        super().__init__(
            f"{user} entered {what} ({format_pence(amount_pence)}) and cannot also approve it:"
            f" only amounts up to {format_pence(limit_pence)} may be entered and approved by"
            " one person"
        )


class ReferenceConflict(LedgerError):
    """A reference (idempotency key) already names something different."""

    field = "reference"

    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(
            f"Reference '{reference}' is already used by a different record; references must"
            " be unique (replaying the same record with the same reference changes nothing)"
        )


class AlreadyDecided(LedgerError):
    def __init__(self, what: str, status: str) -> None:
        super().__init__(f"{what} is already {status}")


class AlreadyReversed(LedgerError):
    def __init__(self, entry_id: int, by_id: int) -> None:
        self.entry_id = entry_id
        super().__init__(f"Entry {entry_id} has already been reversed by entry {by_id}")


class UnbalancedEntry(LedgerError):
    """A programming error caught before it reaches the database: debits must equal credits."""

    def __init__(self, total_pence: int) -> None:
        super().__init__(
            f"Refusing an unbalanced entry: debits and credits differ by {total_pence}p"
        )
