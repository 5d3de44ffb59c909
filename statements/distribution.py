"""The distribution statement: one model, built once from the journal, rendered three ways.

Its shape follows Appendix 2 of the February 2024 report: a heading with the stream, financial
year(s) and award; the allocations as "recipient — purpose — amount" lines with status and paid
so far; each delegated pot as its own nested section headed by its delegation; totals; and a line
that says plainly whether the pot is over- or under-allocated.

Figures are "as at" a date: the journal entries dated on or before it are replayed through
``ledger.journal.Effects``, the same function that maintains the live figures, so a statement as
at today agrees with ``commonpurse balances`` to the penny.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger.journal import Effects
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    Award,
    Entry,
    Line,
    Pot,
    utcnow,
)
from ledger.operations import find_pot, get_setting
from statements.formatting import financial_years, money


@dataclass(frozen=True)
class AwardRow:
    reference: str
    funder: str
    financial_year: int
    award_date: dt.date
    amount_pence: int
    received_pence: int
    is_assumption: bool
    description: str


@dataclass(frozen=True)
class AllocationRow:
    """One allocation as this pot sees it: for a pooled contract, this pot's share."""

    reference: str
    recipient: str
    purpose: str
    status: str
    allocated_pence: int
    paid_pence: int
    returned_pence: int
    tags: tuple[str, ...]
    pooled_with: tuple[str, ...]
    contract_total_pence: int
    sub_pot: PotSection | None

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class Totals:
    awarded_pence: int  # from named funders (or, for a delegated pot, its delegation)
    assumed_pence: int  # awarded from a source recorded as an assumption
    funded_pence: int
    allocated_pence: int
    paid_pence: int
    returned_pence: int
    received_pence: int
    carried_in_pence: int
    carried_forward_pence: int
    handed_back_pence: int

    @property
    def available_pence(self) -> int:
        return (
            self.funded_pence
            - self.allocated_pence
            + self.returned_pence
            - self.carried_forward_pence
            - self.handed_back_pence
        )

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class PotSection:
    pot: str
    administered_by: str
    stream: str | None
    financial_years: tuple[int, ...]
    heading: str
    awards: tuple[AwardRow, ...]
    allocations: tuple[AllocationRow, ...]
    totals: Totals
    balance_note: str
    delegated_from: str | None

    def walk(self, depth: int = 0) -> Iterator[tuple[int, PotSection]]:
        """This section and every nested delegated section, depth first."""
        yield depth, self
        for row in self.allocations:
            if row.sub_pot is not None:
                yield from row.sub_pot.walk(depth + 1)


@dataclass(frozen=True)
class DistributionStatement:
    title: str
    organisation: str
    as_at: dt.date
    generated_at: dt.datetime
    section: PotSection

    def sections(self) -> Iterator[tuple[int, PotSection]]:
        return self.section.walk()


def build_statement(
    session: Session,
    pot_name: str,
    *,
    as_at: dt.date | None = None,
    generated_at: dt.datetime | None = None,
) -> DistributionStatement:
    """The distribution statement of ``pot_name`` and its delegated pots, as at ``as_at``."""
    as_at = as_at or dt.date.today()
    pot = find_pot(session, pot_name)
    figures = _replay(session, _family(session, pot), as_at)
    section = _section(session, pot, figures, as_at)
    organisation = get_setting(session, "accountable_body") or pot.administered_by.name
    return DistributionStatement(
        title=f"Distribution statement: {pot.name}",
        organisation=organisation,
        as_at=as_at,
        generated_at=generated_at or utcnow(),
        section=section,
    )


def _family(session: Session, pot: Pot) -> list[int]:
    """The pot and every pot delegated from it, at any depth."""
    ids = [pot.id]
    frontier = [pot.id]
    while frontier:
        children = session.scalars(
            select(Pot.id)
            .join(Allocation, Allocation.id == Pot.parent_allocation_id)
            .join(AllocationShare, AllocationShare.allocation_id == Allocation.id)
            .where(AllocationShare.pot_id.in_(frontier))
        ).all()
        frontier = [c for c in children if c not in ids]
        ids += frontier
    return ids


class Figures:
    """Figures replayed from the journal up to a date."""

    def __init__(self, effects: Effects) -> None:
        self.deltas = effects.deltas

    def of(self, model: type, object_id: int, figure: str) -> int:
        return self.deltas.get((model, object_id, figure), 0)


def _replay(session: Session, pot_ids: list[int], as_at: dt.date) -> Figures:
    share_ids = select(AllocationShare.id).where(AllocationShare.pot_id.in_(pot_ids))
    award_ids = select(Award.id).where(Award.pot_id.in_(pot_ids))
    entry_ids = (
        select(Line.entry_id)
        .join(Account, Account.id == Line.account_id)
        .where(
            or_(
                Account.pot_id.in_(pot_ids),
                Account.share_id.in_(share_ids),
                Account.award_id.in_(award_ids),
            )
        )
    )
    entries = session.scalars(
        select(Entry)
        .where(Entry.id.in_(entry_ids), Entry.effective_date <= as_at)
        .order_by(Entry.id)
    ).all()
    by_id = {e.id: e for e in entries}
    effects = Effects()
    for entry in entries:
        target = by_id.get(entry.reverses_id) if entry.reverses_id else None
        effects.add_entry(session, entry, target)
    return Figures(effects)


def _section(session: Session, pot: Pot, figures: Figures, as_at: dt.date) -> PotSection:
    awards = tuple(
        AwardRow(
            reference=a.reference,
            funder=a.funder.name,
            financial_year=a.financial_year,
            award_date=a.award_date,
            amount_pence=a.amount_pence,
            received_pence=figures.of(Award, a.id, "received_pence"),
            is_assumption=a.is_assumption,
            description=a.description,
        )
        for a in session.scalars(
            select(Award)
            .where(Award.pot_id == pot.id, Award.award_date <= as_at)
            .order_by(Award.award_date, Award.id)
        )
    )
    rows = tuple(_allocation_rows(session, pot, figures, as_at))

    def pot_figure(name: str) -> int:
        return figures.of(Pot, pot.id, name)

    assumed = sum(a.amount_pence for a in awards if a.is_assumption)
    totals = Totals(
        awarded_pence=pot_figure("funded_pence") - pot_figure("carried_in_pence") - assumed,
        assumed_pence=assumed,
        funded_pence=pot_figure("funded_pence"),
        allocated_pence=pot_figure("allocated_pence"),
        paid_pence=pot_figure("paid_pence"),
        returned_pence=pot_figure("returned_pence"),
        received_pence=pot_figure("received_pence"),
        carried_in_pence=pot_figure("carried_in_pence"),
        carried_forward_pence=pot_figure("carried_forward_pence"),
        handed_back_pence=pot_figure("handed_back_pence"),
    )
    years = tuple(sorted({a.financial_year for a in awards} or _pot_years(pot)))
    parent = pot.parent_allocation
    return PotSection(
        pot=pot.name,
        administered_by=pot.administered_by.name,
        stream=pot.stream.name if pot.stream else None,
        financial_years=years,
        heading=_heading(pot, years, totals),
        awards=awards,
        allocations=rows,
        totals=totals,
        balance_note=balance_note(totals, delegated=parent is not None),
        delegated_from=parent.shares[0].pot.name if parent is not None else None,
    )


def _pot_years(pot: Pot) -> set[int]:
    return {pot.financial_year} if pot.financial_year is not None else set()


def _heading(pot: Pot, years: tuple[int, ...], totals: Totals) -> str:
    parent = pot.parent_allocation
    if parent is not None:
        purpose = parent.purpose or f"Delegation to {parent.recipient.name}"
        return f"{purpose} {money(totals.funded_pence)} ({pot.name})"
    award = money(totals.awarded_pence)
    period = financial_years(years)
    if pot.stream is None:
        # Pots are usually named with their year ("Small Grants 2023-24"): say it once.
        named = pot.name if period in pot.name else f"{pot.name} {period}"
        return f"{named}: Award {award}"
    stream = pot.stream.short_name or pot.stream.name
    return f"{stream} {period}: Award {award}"


def _allocation_rows(
    session: Session, pot: Pot, figures: Figures, as_at: dt.date
) -> Iterator[AllocationRow]:
    shares = session.scalars(
        select(AllocationShare)
        .where(AllocationShare.pot_id == pot.id)
        .order_by(AllocationShare.allocation_id)
    ).all()
    for share in shares:
        allocated = figures.of(AllocationShare, share.id, "allocated_pence")
        allocation = share.allocation
        first_entry = session.scalars(
            select(Entry)
            .where(Entry.allocation_id == allocation.id)
            .order_by(Entry.effective_date, Entry.id)
            .limit(1)
        ).first()
        if first_entry is None or first_entry.effective_date > as_at:
            continue
        sub_pot = allocation.delegated_pot
        yield AllocationRow(
            reference=allocation.reference,
            recipient=allocation.recipient.name,
            purpose=allocation.purpose,
            status=_status_as_at(allocation, first_entry.approved_by is not None, as_at),
            allocated_pence=allocated,
            paid_pence=figures.of(AllocationShare, share.id, "paid_pence"),
            returned_pence=figures.of(AllocationShare, share.id, "returned_pence"),
            tags=tuple(
                t.value if t.kind == "action" else f"Foundation {t.value}" for t in allocation.tags
            ),
            pooled_with=tuple(s.pot.name for s in allocation.shares if s.pot_id != pot.id),
            contract_total_pence=figures.of(Allocation, allocation.id, "allocated_pence"),
            sub_pot=_section(session, sub_pot, figures, as_at) if sub_pot is not None else None,
        )


def _status_as_at(allocation: Allocation, approved_on_entry: bool, as_at: dt.date) -> str:
    """An allocation approved as it was entered (an import, or a second person at the same
    sitting: its journal entry records the approver) has been confirmed since its own date; one
    approved later was provisional until the day of its approval."""
    approved_at = allocation.approved_at
    if approved_at is None or approved_on_entry:
        return allocation.status
    return "provisional" if approved_at.date() > as_at else allocation.status


def balance_note(totals: Totals, *, delegated: bool) -> str:
    """Say plainly whether the pot is over- or under-allocated, and by how much."""
    source = "the delegation" if delegated else "the award"
    committed = totals.allocated_pence - totals.returned_pence
    named = totals.awarded_pence + totals.carried_in_pence
    parts: list[str] = []
    if totals.assumed_pence:
        parts.append(
            f"Allocations exceed {source} by {money(committed - named)}:"
            f" {money(totals.assumed_pence)} is recorded as coming from a source the documents"
            " do not name (an assumption)."
            if committed > named
            else f"{money(totals.assumed_pence)} is recorded as coming from a source the"
            " documents do not name (an assumption)."
        )
    available = totals.available_pence
    if available > 0:
        parts.append(f"{money(available)} of {source} is not yet allocated.")
    elif not parts:
        parts.append(f"{source.capitalize()} is fully allocated.")
    if totals.carried_forward_pence:
        parts.append(f"{money(totals.carried_forward_pence)} carried forward to a later year.")
    if totals.handed_back_pence:
        parts.append(f"{money(totals.handed_back_pence)} handed back.")
    return " ".join(parts)
