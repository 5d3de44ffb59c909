"""Read-outs of the ledger's maintained figures, for the CLI, statements and the web."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import Boolean, bindparam, text

from ledger import rules
from ledger.fy import label
from ledger.holds import holds_by_pot
from ledger.years import Executes, settled

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


def award_reductions(session: Executes, entry_ids: Iterable[int]) -> set[int]:
    """Which of ``entry_ids`` are award reductions: award entries whose legs run the other way,
    taking money back from the pot to the award's receivable. One query for a page of entries."""
    ids = sorted(set(entry_ids))
    if not ids:
        return set()
    return set(session.execute(_REDUCTIONS, {"ids": ids}).scalars())


_REDUCTIONS = text(
    "SELECT DISTINCT e.id FROM entries e"
    " JOIN lines l ON l.entry_id = e.id JOIN accounts a ON a.id = l.account_id"
    " WHERE e.id IN :ids AND e.kind = 'award' AND a.kind = 'receivable' AND l.amount_pence < 0"
).bindparams(bindparam("ids", expanding=True))


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


def pot_balances(
    session: Executes, *, pot_id: int | None = None, administered_by: int | None = None
) -> list[PotBalance]:
    """Every pot's figures (or one pot's, or those one organisation administers), in the order
    the pots were opened. One query, whatever the size of the journal: the figures are
    maintained on the pots in the same transaction as the entries that move them, never summed
    here. Plain SQL, so ``commonpurse balances`` answers without loading the mapped classes."""
    rows = pot_balances_by_id(session, pot_id=pot_id, administered_by=administered_by)
    return [balance for _, balance in rows]


def pot_balances_by_id(
    session: Executes, *, pot_id: int | None = None, administered_by: int | None = None
) -> list[tuple[int, PotBalance]]:
    """``pot_balances`` with each pot's id, for pages that link to the pots."""
    settled(session)
    where: list[str] = []
    values: dict[str, object] = {"assumption": True}
    if pot_id is not None:
        where.append("p.id = :pot_id")
        values["pot_id"] = pot_id
    if administered_by is not None:
        where.append("p.administered_by_id = :administered_by")
        values["administered_by"] = administered_by
    sql = _BALANCES.format(where=f"WHERE {' AND '.join(where)}" if where else "")
    query = text(sql).bindparams(bindparam("assumption", type_=Boolean))
    rows = session.execute(query, values).all()
    held = holds_by_pot(session) if rows else {}
    return [
        (
            row.id,
            PotBalance(
                name=row.name,
                administered_by=row.administered_by,
                stream=row.stream,
                financial_year=label(row.financial_year) if row.financial_year else None,
                parent_pot=row.parent_pot,
                funded=row.funded_pence,
                allocated=row.allocated_pence,
                paid=row.paid_pence,
                returned=row.returned_pence,
                available=rules.available(
                    row.funded_pence,
                    row.allocated_pence,
                    row.returned_pence,
                    row.carried_forward_pence,
                    row.handed_back_pence,
                ),
                received=row.received_pence,
                carried_forward=row.carried_forward_pence,
                carried_in=row.carried_in_pence,
                handed_back=row.handed_back_pence,
                assumed=int(row.assumed_pence),
                held=held.get(row.id, 0),
                cash_held=int(row.cash_pence or 0),
            ),
        )
        for row in rows
    ]


# Every pot with the names its figures are shown with, the money awarded to it from a source
# recorded as an assumption, and its cash. A delegated pot's parent is the pot its delegation
# was made from: the delegation's first (and only) share's.
_BALANCES = """
SELECT p.id, p.name, administrator.name AS administered_by, stream.name AS stream,
       p.financial_year, parent.name AS parent_pot,
       p.funded_pence, p.allocated_pence, p.paid_pence, p.returned_pence, p.received_pence,
       p.carried_forward_pence, p.carried_in_pence, p.handed_back_pence,
       (SELECT COALESCE(SUM(a.amount_pence), 0) FROM awards a
         WHERE a.pot_id = p.id AND a.is_assumption = :assumption) AS assumed_pence,
       (SELECT c.balance_pence FROM accounts c
         WHERE c.pot_id = p.id AND c.kind = 'cash') AS cash_pence
FROM pots p
JOIN organisations administrator ON administrator.id = p.administered_by_id
LEFT JOIN funding_streams stream ON stream.id = p.stream_id
LEFT JOIN allocation_shares delegated ON delegated.id = (
    SELECT MIN(s1.id) FROM allocation_shares s1
     WHERE s1.allocation_id = p.parent_allocation_id)
LEFT JOIN pots parent ON parent.id = delegated.pot_id
{where}
ORDER BY p.id
"""


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
