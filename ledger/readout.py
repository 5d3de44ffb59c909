"""Read-outs of the ledger's maintained figures, for the CLI, statements and the web."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased

from ledger.fy import label
from ledger.models import Account, AllocationShare, Award, FundingStream, Organisation, Pot
from ledger.operations import holds_by_pot


@dataclass(frozen=True)
class PotBalance:
    """One pot's figures in pence. available = funded − allocated + returned − carried_forward
    − handed_back. ``received`` counts cash from funders only; ``assumed`` is awarded money
    recorded as an assumption (a gap in the source documents), shown so it cannot hide."""

    name: str
    administered_by: str
    stream: str | None
    financial_year: str | None
    parent_pot: str | None
    funded: int
    allocated: int
    paid: int
    returned: int
    available: int
    received: int
    carried_forward: int
    carried_in: int
    handed_back: int
    assumed: int
    held: int = 0
    """Money held for changes awaiting approval (``operations.holds_by_pot``)."""
    cash_held: int = 0
    """Cash in the pot: received (or, for a delegated pot, handed over) − paid + returned
    − handed back ± carried. An accountable body's pot may be below zero when it pays before
    the funder's cash arrives; an intermediary's may not, unless its delegation allows advances."""

    @property
    def available_after_holds(self) -> int:
        """What the pot can give out now: the figure every guard uses and every screen shows."""
        return self.available - self.held

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "available_after_holds": self.available_after_holds}


def pot_balances(session: Session, *where: ColumnElement[bool]) -> list[PotBalance]:
    """Every pot's figures (or those of the pots ``where`` selects), in the order the pots were
    opened. One query, whatever the size of the journal: the figures are maintained on the pots
    in the same transaction as the entries that move them, never summed here."""
    return [balance for _, balance in pot_balances_by_id(session, *where)]


def pot_balances_by_id(
    session: Session, *where: ColumnElement[bool]
) -> list[tuple[int, PotBalance]]:
    """``pot_balances`` with each pot's id, for pages that link to the pots."""
    rows = session.execute(_balances_query().where(*where)).all()
    held = holds_by_pot(session) if rows else {}
    return [
        (
            pot.id,
            _balance(
                pot,
                administered_by,
                stream,
                parent,
                int(assumed_pence),
                held.get(pot.id, 0),
                int(cash or 0),
            ),
        )
        for pot, administered_by, stream, parent, assumed_pence, cash in rows
    ]


@cache
def _balances_query() -> Select[tuple[Pot, str, str | None, str | None, int, int]]:
    """Every pot with the names its figures are shown with and the money awarded to it from a
    source recorded as an assumption. Built once: a read-out is a hot path of the web app."""
    administrator = aliased(Organisation)
    parent_pot = aliased(Pot)
    first = aliased(AllocationShare)
    # A delegated pot's parent is the pot its delegation was made from: the delegation's first
    # (and only) share's.
    parent_share = (
        select(func.min(first.id))
        .where(first.allocation_id == Pot.parent_allocation_id)
        .correlate(Pot)
        .scalar_subquery()
    )
    assumed = (
        select(func.coalesce(func.sum(Award.amount_pence), 0))
        .where(Award.pot_id == Pot.id, Award.is_assumption.is_(True))
        .correlate(Pot)
        .scalar_subquery()
    )
    cash = (
        select(Account.balance_pence)
        .where(Account.pot_id == Pot.id, Account.kind == "cash")
        .correlate(Pot)
        .scalar_subquery()
    )
    return (
        select(Pot, administrator.name, FundingStream.name, parent_pot.name, assumed, cash)
        .join(administrator, administrator.id == Pot.administered_by_id)
        .outerjoin(FundingStream, FundingStream.id == Pot.stream_id)
        .outerjoin(AllocationShare, AllocationShare.id == parent_share)
        .outerjoin(parent_pot, parent_pot.id == AllocationShare.pot_id)
        .order_by(Pot.id)
    )


def pot_balance(pot: Pot, assumed_pence: int = 0) -> PotBalance:
    parent = pot.parent_allocation
    return _balance(
        pot,
        administered_by=pot.administered_by.name,
        stream=pot.stream.name if pot.stream else None,
        parent_pot=parent.shares[0].pot.name if parent is not None else None,
        assumed_pence=assumed_pence,
    )


def _balance(
    pot: Pot,
    administered_by: str,
    stream: str | None,
    parent_pot: str | None,
    assumed_pence: int,
    held_pence: int = 0,
    cash_pence: int = 0,
) -> PotBalance:
    return PotBalance(
        name=pot.name,
        administered_by=administered_by,
        stream=stream,
        financial_year=label(pot.financial_year) if pot.financial_year else None,
        parent_pot=parent_pot,
        funded=pot.funded_pence,
        allocated=pot.allocated_pence,
        paid=pot.paid_pence,
        returned=pot.returned_pence,
        available=pot.available_pence,
        received=pot.received_pence,
        carried_forward=pot.carried_forward_pence,
        carried_in=pot.carried_in_pence,
        handed_back=pot.handed_back_pence,
        assumed=assumed_pence,
        held=held_pence,
        cash_held=cash_pence,
    )
