"""Read-outs of the ledger's maintained figures, for the CLI, statements and the web."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased

from ledger.fy import label
from ledger.holds import holds_by_pot
from ledger.models import (
    Account,
    AllocationShare,
    Award,
    Entry,
    FundingStream,
    Line,
    Organisation,
    Pot,
)

ENTRY_WORDS = {
    "award": "Award",
    "receive": "Receipt",
    "allocate": "Allocation",
    "delegate": "Delegation",
    "vary": "Variation",
    "pay": "Payment",
    "return": "Return",
    "carry_forward": "Carry-forward",
    "hand_back": "Hand-back",
    "reversal": "Reversal",
}
"""What each kind of journal entry is called on every page and in every download."""


def entry_words(kind: str, reduction: bool = False) -> str:
    """``carry_forward`` → ``Carry-forward``; an award entry that reduces the award reads as
    ``Award reduction``, not as another award."""
    if reduction:
        return "Award reduction"
    return ENTRY_WORDS.get(kind, kind.replace("_", " ").capitalize())


def signed_amount(amount_pence: int, reduction: bool) -> int:
    """An entry's amount as a reader expects it: an award reduction takes money away, so it is
    shown below zero (its entry records the size of the reduction)."""
    return -amount_pence if reduction else amount_pence


def award_reductions(session: Session, entry_ids: Iterable[int]) -> set[int]:
    """Which of ``entry_ids`` are award reductions: award entries whose legs run the other way,
    taking money back from the pot to the award's receivable. One query for a page of entries."""
    ids = list(entry_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Entry.id)
            .join(Line, Line.entry_id == Entry.id)
            .join(Account, Account.id == Line.account_id)
            .where(
                Entry.id.in_(ids),
                Entry.kind == "award",
                Account.kind == "receivable",
                Line.amount_pence < 0,
            )
        )
    )


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
    """Money held for changes awaiting approval (``ledger.holds.holds_by_pot``)."""
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


# The balances table, as the CLI and the web app show it ------------------------------------


@dataclass(frozen=True)
class BalanceColumn:
    """One figure of the balances table. ``sign`` is how it moves the row's available figure
    (+1 or -1; 0 for a figure shown beside it, such as paid or received); ``total`` marks the
    available figure itself. A column that moves the row but is zero on every row shown is left
    out and named in ``BalancesLayout.note`` instead."""

    key: str
    heading: str
    sign: int = 0
    optional: bool = False
    total: bool = False

    def of(self, balance: PotBalance) -> int:
        value: int = getattr(balance, self.key)
        return value


BALANCE_COLUMNS = (
    BalanceColumn("funded", "Funded", +1),
    BalanceColumn("allocated", "Allocated", -1),
    BalanceColumn("returned", "Returned", +1),
    BalanceColumn("carried_forward", "Carried forward", -1, optional=True),
    BalanceColumn("handed_back", "Handed back", -1, optional=True),
    BalanceColumn("held", "Held for approval", -1, optional=True),
    BalanceColumn("available_after_holds", "Available", total=True),
    BalanceColumn("paid", "Paid"),
    BalanceColumn("received", "Received"),
    BalanceColumn("cash_held", "Cash held", optional=True),
)
LEFT_OUT_WORDS = {
    "carried_forward": "carried forward",
    "handed_back": "handed back",
    "held": "held for approval",
    "cash_held": "held as cash",
}


@dataclass(frozen=True)
class BalancesLayout:
    columns: tuple[BalanceColumn, ...]
    note: str  # what was left out because it is nothing on every row, or ""


def balances_layout(balances: list[PotBalance]) -> BalancesLayout:
    """The columns to show: every figure that moves any row's available figure, so that each
    row adds up on the screen (funded − allocated + returned − carried forward − handed back −
    held = available), and a note naming the figures that are nothing on every row."""
    columns = tuple(c for c in BALANCE_COLUMNS if not c.optional or any(c.of(b) for b in balances))
    left_out = [LEFT_OUT_WORDS[c.key] for c in BALANCE_COLUMNS if c not in columns]
    note = ""
    if left_out:
        words = (
            left_out[0] if len(left_out) == 1 else f"{', '.join(left_out[:-1])} or {left_out[-1]}"
        )
        note = f"Nothing is {words} in these pots, so those columns are left out."
    return BalancesLayout(columns, note)
