"""Money held by requests awaiting approval, pot by pot.

Kept apart from ``ledger.operations`` so that read-outs (``commonpurse balances``, the dashboard)
can show what is held without importing every operation, the journal and its hash chain, or
even the mapped classes: its queries are plain SQL over the tables, run on a Session or a
Connection. ``ledger.operations`` re-exports ``holds_by_pot``.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text

from ledger import rules
from ledger.years import Executes, settled

_PENDING = text(
    "SELECT kind, amount_pence, allocation_id, pot_id FROM requests"
    " WHERE status = 'pending' AND id <> :excluding"
)
_SHARES = text(
    "SELECT allocation_id, pot_id, weight_pence, allocated_pence, paid_pence"
    " FROM allocation_shares WHERE allocation_id IN :ids ORDER BY id"
).bindparams(bindparam("ids", expanding=True))
_CHILDREN = text(
    "SELECT parent_allocation_id, id FROM pots WHERE parent_allocation_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def holds_by_pot(session: Executes, excluding: int | None = None) -> dict[int, int]:
    """For every pot, the money requests awaiting approval (other than ``excluding``) would
    take from its available balance, in a fixed number of queries whatever the ledger's size:

    - each pending increase's part for the pot (the exact split of the allocation's new total);
    - for a delegated pot, pending reductions of its delegation and pending returns on it
      (the intermediary's money the council means to take back);
    - pending hand-backs and carry-forwards out of the pot."""
    settled(session)
    pending = session.execute(_PENDING, {"excluding": excluding or 0}).all()
    held: dict[int, int] = {}

    def add(pot_id: int, pence: int) -> None:
        held[pot_id] = held.get(pot_id, 0) + pence

    allocation_ids = {a for _, _, a, _ in pending if a is not None}
    shares: dict[int, list[tuple[int, int, int, int]]] = {}
    children: dict[int, int] = {}
    if allocation_ids:
        ids = {"ids": sorted(allocation_ids)}
        for allocation_id, share_pot, weight, allocated, paid in session.execute(_SHARES, ids):
            shares.setdefault(allocation_id, []).append((share_pot, weight, allocated, paid))
        for parent, child in session.execute(_CHILDREN, ids):
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
