"""Read-outs of the ledger's maintained figures, for the CLI, statements and the web."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.fy import label
from ledger.models import Award, Pot


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

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def pot_balances(session: Session) -> list[PotBalance]:
    pots = session.scalars(select(Pot).order_by(Pot.id)).all()
    assumed: dict[int, int] = {}
    for award in session.scalars(select(Award).where(Award.is_assumption.is_(True))):
        assumed[award.pot_id] = assumed.get(award.pot_id, 0) + award.amount_pence
    return [pot_balance(pot, assumed.get(pot.id, 0)) for pot in pots]


def pot_balance(pot: Pot, assumed_pence: int = 0) -> PotBalance:
    parent = pot.parent_allocation
    return PotBalance(
        name=pot.name,
        administered_by=pot.administered_by.name,
        stream=pot.stream.name if pot.stream else None,
        financial_year=label(pot.financial_year) if pot.financial_year else None,
        parent_pot=parent.shares[0].pot.name if parent is not None else None,
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
    )
