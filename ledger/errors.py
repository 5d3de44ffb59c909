"""Every error commonpurse reports to a person, in one tree.

``CommonpurseError``
  ``LedgerError``: a refusal for a business reason. Every rule the ledger enforces has its own
  exception, carrying the facts and a message a finance officer understands. The CLI exits 1.
  ``InfrastructureError``: the database could not do what was asked (busy, unreachable, at
  another schema). The CLI exits 4; the web shows a "try again" page.

The CLI and the web show ``str(error)``; nothing is written when one is raised, because
operations raise before they post and the caller's transaction rolls back.
"""

from __future__ import annotations

import datetime as dt

from ledger.money import format_pence


class CommonpurseError(Exception):
    """Base of every error with a message meant for a person."""

    field: str | None = None  # which input it concerns, for forms and import rows

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class LedgerError(CommonpurseError):
    """Base of every refusal the ledger makes for a business reason."""


class InfrastructureError(CommonpurseError):
    """The database could not do what was asked; nothing about the request itself was wrong."""


class SchemaError(InfrastructureError):
    """The database is not at the schema this version of commonpurse expects."""


class LedgerBusy(InfrastructureError):
    """The database stayed locked by other writers for longer than we are prepared to wait."""


class DatabaseUnavailable(InfrastructureError):
    """The database could not be reached or refused the connection."""


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
        as_at: dt.date | None = None,
        figure: str = "available",
    ) -> None:
        self.pot = pot
        self.what = what
        self.as_at = as_at
        self.available_pence = available_pence
        self.needed_pence = needed_pence
        self.held_pence = held_pence
        self.shortfall_pence = needed_pence - available_pence
        held = (
            f" after {format_pence(held_pence)} held for changes awaiting approval"
            if held_pence
            else ""
        )
        when = f" on {as_at.strftime('%d/%m/%Y')}" if as_at is not None else ""
        super().__init__(
            f"{pot} has {format_pence(available_pence)} {figure}{when}{held}; this {what} needs"
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


class OverReduced(LedgerError):
    """An award reduction would take back more than the funder still owes on the award."""

    field = "amount"

    def __init__(self, award: str, funder: str, owed_pence: int, needed_pence: int) -> None:
        self.award = award
        self.owed_pence = owed_pence
        self.needed_pence = needed_pence
        super().__init__(
            f"{funder} still owes {format_pence(owed_pence)} on award {award}; a reduction of"
            f" {format_pence(needed_pence)} is more than that (over by"
            f" {format_pence(needed_pence - owed_pence)}). Money already received goes back to"
            " the funder by a hand-back"
        )


class NotConfirmed(LedgerError):
    def __init__(self, allocation: str, status: str, message: str | None = None) -> None:
        self.allocation = allocation
        self.status = status
        super().__init__(
            message
            or f"Allocation {allocation} is {status}; payments can only be made against a"
            " confirmed allocation"
        )


class AllocationClosed(LedgerError):
    """A closed or rejected allocation takes no variation, payment or reversal."""

    def __init__(
        self,
        allocation: str,
        status: str = "closed",
        operation: str = "",
        message: str | None = None,
    ) -> None:
        self.allocation = allocation
        self.status = status
        if message is None:
            if status == "closed":
                message = f"Allocation {allocation} is closed; nothing more can be recorded on it"
            else:
                message = (
                    f"Allocation {allocation} was {status}; it takes no {operation or 'change'}."
                    " Enter a new allocation if the money is still to be given"
                )
        super().__init__(message)


class DatedTooEarly(LedgerError):
    """Something is dated before what it depends on (a payment before its allocation)."""

    field = "date"

    def __init__(self, what: str, date: dt.date, depends_on: str, earliest: dt.date) -> None:
        self.what = what
        self.date = date
        self.earliest = earliest
        super().__init__(
            f"This {what} is dated {date.strftime('%d/%m/%Y')}, before {depends_on}"
            f" ({earliest.strftime('%d/%m/%Y')}); nothing can be dated before what it depends on"
        )


class SelfApproval(LedgerError):
    """Segregation of duties: the person who entered something may not approve it."""

    def __init__(
        self, user: str, what: str, amount_pence: int, limit_pence: int, earlier_pence: int = 0
    ) -> None:
        self.user = user
        self.amount_pence = amount_pence
        self.limit_pence = limit_pence
        self.earlier_pence = earlier_pence
        earlier = (
            f", on top of {format_pence(earlier_pence)} they have already entered and approved"
            " there themselves"
            if earlier_pence
            else ""
        )
        super().__init__(
            f"{user} entered {what} ({format_pence(amount_pence)}{earlier}) and cannot also"
            f" approve it: only amounts up to {format_pence(limit_pence)} may be entered and"
            " approved by one person"
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
