"""The return an intermediary sends the council about its delegated pot, and the check of it.

CTSI (003, Appendix 2) was given £82,336.18 of the WFWF award to run its own small-grants round.
Its return to the council says: the delegation it received (allocated to it, and the cash paid to
it so far), its sub-grants (recipient, purpose, allocated, paid, given back), what it returned to
the council, and the balance it holds. :func:`build_intermediary_return` builds that return from
the journal, entry by entry (``statements.reports.funder_view.replay``), independently of the
distribution statement. :func:`compare_with_statement` then checks it, to the penny, against the
council's own distribution-statement section for the pot (``statements.reports.distribution``) and
returns every difference: an empty tuple means they agree. A return typed in from the intermediary's
own books can be checked the same way.

Balances: **uncommitted** = allocated to it − sub-granted + given back by recipients − returned to
the council (the delegated pot's available money); **held** (cash) = paid to it − paid on
sub-grants + given back by recipients − returned to the council.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput
from ledger.models import Allocation, AllocationShare
from ledger.operations import find_pot
from statements.render.formatting import day, money
from statements.reports.distribution import AllocationRow, DistributionStatement, PotSection
from statements.reports.funder_view import EntryEffect, replay


@dataclass(frozen=True)
class SubGrant:
    reference: str
    recipient: str
    purpose: str
    allocated_pence: int
    paid_pence: int
    returned_pence: int  # given back to the intermediary by the recipient

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class IntermediaryReturn:
    intermediary: str
    pot: str
    delegation: str  # the delegation's reference
    delegated_from: str
    as_at: dt.date
    allocated_to_it_pence: int
    paid_to_it_pence: int
    returned_to_council_pence: int
    sub_grants: tuple[SubGrant, ...]

    @property
    def sub_granted_pence(self) -> int:
        return sum(s.allocated_pence for s in self.sub_grants)

    @property
    def sub_grants_paid_pence(self) -> int:
        return sum(s.paid_pence for s in self.sub_grants)

    @property
    def given_back_pence(self) -> int:
        return sum(s.returned_pence for s in self.sub_grants)

    @property
    def uncommitted_pence(self) -> int:
        return (
            self.allocated_to_it_pence
            - self.sub_granted_pence
            + self.given_back_pence
            - self.returned_to_council_pence
        )

    @property
    def held_pence(self) -> int:
        return (
            self.paid_to_it_pence
            - self.sub_grants_paid_pence
            + self.given_back_pence
            - self.returned_to_council_pence
        )


def build_intermediary_return(
    session: Session, pot_name: str, *, as_at: dt.date | None = None
) -> IntermediaryReturn:
    """The return for the delegated pot ``pot_name``, as at ``as_at`` (default today)."""
    as_at = as_at or dt.date.today()
    pot = find_pot(session, pot_name)
    delegation = pot.parent_allocation
    if delegation is None:
        raise InvalidInput(
            f"{pot.name} is not a delegated pot: only an intermediary's pot has a return",
            field="pot",
        )
    effects = replay(session, as_at)
    shares = session.scalars(
        select(AllocationShare)
        .where(AllocationShare.pot_id == pot.id)
        .order_by(AllocationShare.allocation_id)
    ).all()
    sub_grants = []
    for share in shares:
        touched = [e for e in effects if e.allocation_id == share.allocation_id]
        if not touched:
            continue
        allocation: Allocation = share.allocation
        sub_grants.append(
            SubGrant(
                reference=allocation.reference,
                recipient=allocation.recipient.name,
                purpose=allocation.purpose,
                allocated_pence=_sum(touched, "shares", share.id, "allocated_pence"),
                paid_pence=_sum(touched, "shares", share.id, "paid_pence"),
                returned_pence=_sum(touched, "shares", share.id, "returned_pence"),
            )
        )
    return IntermediaryReturn(
        intermediary=delegation.recipient.name,
        pot=pot.name,
        delegation=delegation.reference,
        delegated_from=delegation.shares[0].pot.name,
        as_at=as_at,
        allocated_to_it_pence=_sum(effects, "allocations", delegation.id, "allocated_pence"),
        paid_to_it_pence=_sum(effects, "allocations", delegation.id, "paid_pence"),
        returned_to_council_pence=_sum(effects, "allocations", delegation.id, "returned_pence"),
        sub_grants=tuple(sub_grants),
    )


def _sum(
    effects: list[EntryEffect] | tuple[EntryEffect, ...], where: str, key: int, fig: str
) -> int:
    return sum(getattr(e, where).get((key, fig), 0) for e in effects)


# Comparing with the council's statement ----------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One way the return and the council's statement disagree.

    A ``None`` amount means that side does not have the item at all; ``note`` explains
    differences that are not amounts (a recipient's name, the date of the figures).
    """

    item: str
    figure: str
    intermediary_pence: int | None
    council_pence: int | None
    note: str = ""

    @property
    def difference_pence(self) -> int:
        """The intermediary's figure minus the council's."""
        return (self.intermediary_pence or 0) - (self.council_pence or 0)

    def __str__(self) -> str:
        if self.note:
            return f"{self.item}, {self.figure}: {self.note}"
        if self.intermediary_pence is None:
            council = money(self.council_pence or 0)
            return f"{self.item}: not in the return; the council has {self.figure} {council}"
        if self.council_pence is None:
            theirs = f"{self.figure} {money(self.intermediary_pence)}"
            return f"{self.item}: not in the council's statement; the return has {theirs}"
        return (
            f"{self.item}, {self.figure}: the return says {money(self.intermediary_pence)},"
            f" the council {money(self.council_pence)}; difference"
            f" {money(self.difference_pence)}"
        )


def compare_with_statement(
    ret: IntermediaryReturn, statement: DistributionStatement
) -> tuple[Difference, ...]:
    """Every difference between the return and the statement's section for its pot; empty when
    they agree to the penny."""
    return tuple(_differences(ret, statement))


def _differences(ret: IntermediaryReturn, statement: DistributionStatement) -> Iterator[Difference]:
    if ret.as_at != statement.as_at:
        yield Difference(
            "the return",
            "date",
            None,
            None,
            f"the return is as at {day(ret.as_at)}, the statement as at {day(statement.as_at)}",
        )
    parent_row, section = _find(statement, ret.pot)
    if section is None or parent_row is None:
        yield Difference(
            f"pot {ret.pot}", "section", None, None, "the council's statement has no section for it"
        )
        return
    item = f"delegation {ret.delegation}"
    yield from _amounts(
        item,
        (
            (
                "allocated to the intermediary",
                ret.allocated_to_it_pence,
                parent_row.allocated_pence,
            ),
            ("delegated pot funded", ret.allocated_to_it_pence, section.totals.funded_pence),
            ("paid to the intermediary", ret.paid_to_it_pence, parent_row.paid_pence),
            ("returned to the council", ret.returned_to_council_pence, parent_row.returned_pence),
        ),
    )
    council_rows = {row.reference: row for row in section.allocations}
    returned_refs = {grant.reference for grant in ret.sub_grants}
    for grant in ret.sub_grants:
        item = f"sub-grant {grant.reference} ({grant.recipient})"
        row = council_rows.get(grant.reference)
        if row is None:
            yield Difference(item, "allocated", grant.allocated_pence, None)
            continue
        if row.recipient != grant.recipient:
            yield Difference(
                item,
                "recipient",
                None,
                None,
                f"the return names {grant.recipient}, the council {row.recipient}",
            )
        yield from _amounts(
            item,
            (
                ("allocated", grant.allocated_pence, row.allocated_pence),
                ("paid", grant.paid_pence, row.paid_pence),
                ("given back", grant.returned_pence, row.returned_pence),
            ),
        )
    for reference, row in council_rows.items():
        if reference not in returned_refs:
            yield Difference(
                f"sub-grant {reference} ({row.recipient})", "allocated", None, row.allocated_pence
            )
    totals = section.totals
    council_held = (
        parent_row.paid_pence - totals.paid_pence + totals.returned_pence - totals.handed_back_pence
    )
    yield from _amounts(
        "totals",
        (
            ("sub-granted", ret.sub_granted_pence, totals.allocated_pence),
            ("paid on sub-grants", ret.sub_grants_paid_pence, totals.paid_pence),
            ("given back by recipients", ret.given_back_pence, totals.returned_pence),
            ("returned to the council", ret.returned_to_council_pence, totals.handed_back_pence),
            ("uncommitted", ret.uncommitted_pence, totals.available_pence),
            ("held", ret.held_pence, council_held),
        ),
    )


def _amounts(item: str, figures: tuple[tuple[str, int, int], ...]) -> Iterator[Difference]:
    for figure, theirs, ours in figures:
        if theirs != ours:
            yield Difference(item, figure, theirs, ours)


def _find(
    statement: DistributionStatement, pot: str
) -> tuple[AllocationRow | None, PotSection | None]:
    for _, section in statement.sections():
        for row in section.allocations:
            if row.sub_pot is not None and row.sub_pot.pot == pot:
                return row, row.sub_pot
    return None, None


# Rendering ----------------------------------------------------------------------------------


def render_text(ret: IntermediaryReturn) -> str:
    out = [
        f"Return from {ret.intermediary} on {ret.pot}, as at {day(ret.as_at)}",
        f"Delegation {ret.delegation} from {ret.delegated_from}:"
        f" allocated {money(ret.allocated_to_it_pence)}, paid to us {money(ret.paid_to_it_pence)}",
        "",
        "Sub-grants:",
    ]
    for grant in ret.sub_grants:
        out.append(
            f"  {grant.reference}  {grant.recipient}: {grant.purpose}  allocated"
            f" {money(grant.allocated_pence)}, paid {money(grant.paid_pence)}"
            + (f", given back {money(grant.returned_pence)}" if grant.returned_pence else "")
        )
    if not ret.sub_grants:
        out.append("  none")
    out += [
        f"  Total sub-granted {money(ret.sub_granted_pence)},"
        f" paid {money(ret.sub_grants_paid_pence)}",
        "",
        f"Returned to the council: {money(ret.returned_to_council_pence)}",
        f"Not yet sub-granted: {money(ret.uncommitted_pence)}",
        f"Balance held (cash): {money(ret.held_pence)}",
    ]
    return "\n".join(out) + "\n"
