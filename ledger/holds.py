"""Money held by requests awaiting approval, pot by pot.

Kept apart from ``ledger.operations`` so that read-outs (``commonpurse balances``, the dashboard)
can show what is held without importing every operation, the journal and its hash chain.
``ledger.operations`` re-exports ``holds_by_pot``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import rules
from ledger.models import AllocationShare, Pot, Request


def holds_by_pot(session: Session, excluding: int | None = None) -> dict[int, int]:
    """For every pot, the money requests awaiting approval (other than ``excluding``) would
    take from its available balance, in a fixed number of queries whatever the ledger's size:

    - each pending increase's part for the pot (the exact split of the allocation's new total);
    - for a delegated pot, pending reductions of its delegation and pending returns on it
      (the intermediary's money the council means to take back);
    - pending hand-backs and carry-forwards out of the pot."""
    pending = session.execute(
        select(Request.kind, Request.amount_pence, Request.allocation_id, Request.pot_id).where(
            Request.status == "pending", Request.id != (excluding or 0)
        )
    ).all()
    held: dict[int, int] = {}

    def add(pot_id: int, pence: int) -> None:
        held[pot_id] = held.get(pot_id, 0) + pence

    allocation_ids = {a for _, _, a, _ in pending if a is not None}
    shares: dict[int, list[tuple[int, int, int, int]]] = {}
    children: dict[int, int] = {}
    if allocation_ids:
        for allocation_id, share_pot, weight, allocated, paid in session.execute(
            select(
                AllocationShare.allocation_id,
                AllocationShare.pot_id,
                AllocationShare.weight_pence,
                AllocationShare.allocated_pence,
                AllocationShare.paid_pence,
            )
            .where(AllocationShare.allocation_id.in_(allocation_ids))
            .order_by(AllocationShare.id)
        ):
            shares.setdefault(allocation_id, []).append((share_pot, weight, allocated, paid))
        for parent, child in session.execute(
            select(Pot.parent_allocation_id, Pot.id).where(
                Pot.parent_allocation_id.in_(allocation_ids)
            )
        ):
            if parent is not None:
                children[parent] = child
    for kind, amount, allocation_id, pot_id in pending:
        if kind == "vary" and amount > 0 and allocation_id in shares:
            parts = shares[allocation_id]
            moves = rules.split_to_weights(
                sum(allocated for _, _, allocated, _ in parts) + amount,
                [w for _, w, _, _ in parts],
                [a for _, _, a, _ in parts],
                [p for _, _, _, p in parts],
            )
            for (share_pot, _, _, _), move in zip(parts, moves, strict=True):
                if move > 0:
                    add(share_pot, move)
        elif kind in ("vary", "return") and allocation_id in children:
            if kind == "return" or amount < 0:
                add(children[allocation_id], abs(amount))
        elif kind in ("hand_back", "carry_forward", "reduce_award") and pot_id is not None:
            add(pot_id, amount)
    return held
