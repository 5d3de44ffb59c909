"""Property tests over random sequences of ledger operations.

The brief: every entry balances, no pot goes below zero, nothing is paid beyond what is
committed, pooled shares stay exact, every reversal nets its entry to zero on each account,
``check`` passes, and a refused operation writes nothing. ``assert_figures_sane`` checks these
straight from the tables after every step, independently of ``check``.

The whole machine (every operation, both writers, every invariant after every step, as-at
replays) is ``tests/test_machine.py``; its state machine replaced the one that was here, whose
model predated the rules core. What stays:

* ``test_pooled_contract_paid_in_instalments_clears_every_share``, a ``@given`` test of one
  pooled contract paid in instalments.

Every operation runs in its own transaction through ``ledger.db.run_in_transaction``, as the CLI
does.

At the end, a small regression test for each ledger bug these properties found (both since
fixed). A refusal must be a ``LedgerError``: a raw database error fails the state machine.

Budget: by default 25 examples of each ``@given`` test,
well under a minute on SQLite; there is no per-example deadline, but the number of examples and
steps bounds the run. For a longer (nightly) run, raise them::

    COMMONPURSE_HYPOTHESIS_EXAMPLES=500 COMMONPURSE_HYPOTHESIS_STEPS=100 \
        .venv/bin/pytest tests/test_properties.py -q

``COMMONPURSE_HYPOTHESIS_EXAMPLES`` (default 25) sets the examples of each test and the runs of
the state machine; ``COMMONPURSE_HYPOTHESIS_STEPS`` (default 30) the steps in each run.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import db
from ledger import operations as ops
from ledger.check import check
from ledger.errors import LedgerError
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    AuditEvent,
    Award,
    Entry,
    Line,
    Organisation,
    Pot,
    Request,
)


def _budget(name: str, default: int) -> int:
    """A positive whole number from the environment, or the default."""
    text = os.environ.get(name, "").strip() or str(default)
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of 1 or more, not {text!r}")
    return int(text)


EXAMPLES = _budget("COMMONPURSE_HYPOTHESIS_EXAMPLES", 25)
STEPS = _budget("COMMONPURSE_HYPOTHESIS_STEPS", 30)

PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

COUNCIL = "Clackmannanshire Council"
SG = "Scottish Government"
CORRA = "Corra Foundation"
FUNDERS = (SG, CORRA)
OFFICER = "officer"
FINANCE = "finance"
SELF_APPROVAL_LIMIT = 1_000  # £10.00: one person may enter and approve up to this
DATE = dt.date(2024, 6, 1)
# name, funder, stream, financial year
STREAM_FUNDER = {"WFWF": SG, "Promise": CORRA}
POT_FIGURES = (
    "funded",
    "allocated",
    "paid",
    "returned",
    "received",
    "carried_forward",
    "carried_in",
    "handed_back",
)
MONEY_FIGURES = ("allocated", "paid", "returned")

T = TypeVar("T")
Key = tuple[str, ...]


class Run(Protocol):
    """The ``run`` fixture (tests/conftest.py): one operation in its own transaction."""

    def __call__(self, operation: Callable[[Session], T], /) -> T: ...


class Ledgers(Protocol):
    """The ``ledgers`` fixture (tests/conftest.py): ``new()`` gives a fresh, migrated ledger."""

    def new(self) -> str: ...


# Reading the ledger ------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Every figure, balance, status and row count: what a refusal must leave unchanged."""

    figures: dict[Key, int]
    statuses: dict[Key, str]
    counts: dict[str, int]
    reversals: dict[int, int]  # reversal's entry id -> the id of the entry it reverses

    def diff(self, other: Snapshot) -> list[str]:
        return (
            _diff("figure", self.figures, other.figures)
            + _diff("status", self.statuses, other.statuses)
            + _diff("count", self.counts, other.counts)
            + _diff("reversal", self.reversals, other.reversals)
        )


def _diff(what: str, before: Mapping[Any, object], after: Mapping[Any, object]) -> list[str]:
    return [
        f"{what} {key}: {before.get(key)!r} -> {after.get(key)!r}"
        for key in sorted(set(before) | set(after), key=str)
        if before.get(key) != after.get(key)
    ]


def read_snapshot(session: Session) -> Snapshot:
    figures: dict[Key, int] = {}
    statuses: dict[Key, str] = {}
    pots = {p.id: p for p in session.scalars(select(Pot))}
    for pot in pots.values():
        for name in POT_FIGURES:
            figures[("pot", pot.name, name)] = getattr(pot, f"{name}_pence")
    awards = {a.id: a for a in session.scalars(select(Award))}
    for award in awards.values():
        figures[("award", award.reference, "received")] = award.received_pence
    allocations = {a.id: a for a in session.scalars(select(Allocation))}
    for allocation in allocations.values():
        statuses[("allocation", allocation.reference)] = allocation.status
        for name in MONEY_FIGURES:
            figures[("alloc", allocation.reference, name)] = getattr(allocation, f"{name}_pence")
    shares = {s.id: s for s in session.scalars(select(AllocationShare))}
    for share in shares.values():
        ref, pot_name = allocations[share.allocation_id].reference, pots[share.pot_id].name
        for name in MONEY_FIGURES:
            figures[("share", ref, pot_name, name)] = getattr(share, f"{name}_pence")
    for account in session.scalars(select(Account)):
        balance = account.balance_pence
        if account.pot_id is not None:
            pot_name = pots[account.pot_id].name
            # available is a credit account: its balance is minus the money available
            sign = -1 if account.kind == "available" else 1
            figures[("pot", pot_name, account.kind)] = sign * balance
        elif account.award_id is not None:
            figures[("award", awards[account.award_id].reference, account.kind)] = balance
        else:
            assert account.share_id is not None
            share = shares[account.share_id]
            key = ("share", allocations[share.allocation_id].reference, pots[share.pot_id].name)
            figures[(*key, account.kind)] = -balance
    for request in session.scalars(select(Request)):
        statuses[("request", str(request.id))] = request.status
    counts = {
        model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Entry, Line, Request, Allocation, Award, Pot, Account, Organisation)
    }
    counts["AuditEvent"] = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    reversals = {
        entry_id: target
        for entry_id, target in session.execute(select(Entry.id, Entry.reverses_id)).tuples()
        if target is not None
    }
    return Snapshot(figures, statuses, counts, reversals)


def unbalanced_entries(session: Session) -> list[tuple[int, int, int]]:
    rows = session.execute(
        select(Line.entry_id, func.sum(Line.amount_pence), func.count(Line.id)).group_by(
            Line.entry_id
        )
    ).all()
    bad = [(int(e), int(total), int(n)) for e, total, n in rows if total != 0 or n < 2]
    with_lines = {int(e) for e, _, _ in rows}
    bad += [(e, 0, 0) for e in session.scalars(select(Entry.id)) if e not in with_lines]
    return bad


def reversal_imbalances(
    lines: Iterable[tuple[int, int, int]], reversals: Mapping[int, int]
) -> list[str]:
    """Reversals that do not undo their entry exactly. ``lines`` are (entry id, account id,
    pence); ``reversals`` maps each reversal's id to the id of the entry it reverses. An entry's
    lines plus its reversal's lines must add up to zero on every account."""
    by_entry: dict[int, dict[int, int]] = defaultdict(dict)
    for entry_id, account_id, pence in lines:
        by_entry[entry_id][account_id] = by_entry[entry_id].get(account_id, 0) + pence
    out = []
    for reversal_id, target_id in sorted(reversals.items()):
        net: dict[int, int] = defaultdict(int)
        for entry_id in (target_id, reversal_id):
            for account_id, pence in by_entry.get(entry_id, {}).items():
                net[account_id] += pence
        left = {account: pence for account, pence in net.items() if pence}
        if left or not by_entry.get(reversal_id):
            out.append(f"reversal {reversal_id} of entry {target_id} leaves {left} by account")
    return out


def reversals_not_netting_to_zero(session: Session) -> list[str]:
    reversals = {
        entry_id: target
        for entry_id, target in session.execute(
            select(Entry.id, Entry.reverses_id).where(Entry.reverses_id.is_not(None))
        ).tuples()
        if target is not None
    }
    if not reversals:
        return []
    lines = session.execute(
        select(Line.entry_id, Line.account_id, Line.amount_pence).where(
            Line.entry_id.in_({*reversals, *reversals.values()})
        )
    ).tuples()
    return reversal_imbalances(lines, reversals)


def assert_figures_sane(session: Session) -> None:
    """No pot below zero, paid within allocated, returned within paid, pooled shares exact,
    every entry balanced and every reversal netting its entry to zero on each account."""
    for pot in session.scalars(select(Pot)):
        assert pot.available_pence >= 0, f"{pot.name} is overspent: {pot.available_pence}"
    for allocation in session.scalars(select(Allocation)):
        ref = allocation.reference
        assert 0 <= allocation.paid_pence <= allocation.allocated_pence, ref
        assert 0 <= allocation.returned_pence <= allocation.paid_pence, ref
        for name in MONEY_FIGURES:
            total = sum(getattr(s, f"{name}_pence") for s in allocation.shares)
            assert total == getattr(allocation, f"{name}_pence"), (ref, name, total)
        for share in allocation.shares:
            assert 0 <= share.paid_pence <= share.allocated_pence, (ref, share.pot_id)
            assert 0 <= share.returned_pence <= share.paid_pence, (ref, share.pot_id)
    assert unbalanced_entries(session) == []
    assert reversals_not_netting_to_zero(session) == []
    report = check(session)
    assert report.ok, [str(p) for p in report.problems]


# The model ---------------------------------------------------------------------------------


def setup_ledger(session: Session) -> None:
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, COUNCIL)
    ops.set_setting(session, ops.SELF_APPROVAL_LIMIT, str(SELF_APPROVAL_LIMIT))
    for stream, funder in STREAM_FUNDER.items():
        ops.ensure_stream(session, stream, ops.ensure_organisation(session, funder, ["funder"]))


# The state machine -------------------------------------------------------------------------


# One pooled contract; a chain of delegations -----------------------------------------------


class Ledger:
    """A fresh ledger with its own engine; ``run`` is one operation in one transaction."""

    def __init__(self, ledgers: Ledgers) -> None:
        self.engine = db.make_engine(ledgers.new())
        self.factory = db.session_factory(self.engine)
        self.cached: Snapshot | None = None
        self.run(setup_ledger)

    def run(self, operation: Callable[[Session], T]) -> T:
        self.cached = None
        return db.run_in_transaction(self.factory, operation)

    def verify(self, more: Callable[[Session], None] = lambda s: None) -> None:
        """The figures are sane and ``check`` passes (plus ``more``); remember what was seen."""

        def look(session: Session) -> Snapshot:
            assert_figures_sane(session)
            more(session)
            return read_snapshot(session)

        self.cached = self.run(look)

    def refused(self, operation: Callable[[Session], object]) -> bool:
        """Run ``operation``; True if the ledger refused it, having written nothing."""
        before = self.cached or self.run(read_snapshot)
        try:
            self.run(operation)
        except LedgerError as error:
            note(f"refused: {error}")
            assert not before.diff(self.run(read_snapshot))
            return True
        return False

    def close(self) -> None:
        self.engine.dispose()


def award(pot: str, amount: int, funder: str = SG) -> Callable[[Session], object]:
    def operation(session: Session) -> object:
        return ops.record_award(
            session,
            reference=f"award into {pot} {amount} {funder}",
            pot=pot,
            funder=funder,
            amount_pence=amount,
            award_date=DATE,
            entered_by=OFFICER,
            memo=f"award into {pot}",
            approved_by="finance",
        )

    return operation


@dataclass(frozen=True)
class Pooled:
    allocated: int
    paid: int
    shares: list[tuple[int, int]]  # (allocated, paid) of each share
    room: int  # the least any of its pots has available


def pooled_figures(session: Session) -> Pooled:
    """POOL's figures, after checking the ledger is sound."""
    assert_figures_sane(session)
    allocation = ops.find_allocation(session, "POOL")
    return Pooled(
        allocation.allocated_pence,
        allocation.paid_pence,
        [(s.allocated_pence, s.paid_pence) for s in allocation.shares],
        min(s.pot.available_pence for s in allocation.shares),
    )


@PROPERTY_SETTINGS
@given(
    weights=st.lists(
        st.one_of(st.just(1), st.integers(1, 1_000), st.integers(1, 10**9)), min_size=2, max_size=4
    ),
    headroom=st.one_of(st.just(0), st.integers(0, 10**6)),
    data=st.data(),
)
def test_pooled_contract_paid_in_instalments_clears_every_share(
    ledgers: Ledgers, weights: list[int], headroom: int, data: st.DataObject
) -> None:
    """Random weights, random instalments (and the odd variation, approved by a second person)
    until the contract is paid: at every step the shares add up to the contract exactly, each
    instalment is split without a share being paid more than it is owed, and at the end every
    share is paid exactly its part."""
    ledger = Ledger(ledgers)
    try:
        pots = [f"Pot {i}" for i in range(len(weights))]
        for i, (pot, weight) in enumerate(zip(pots, weights, strict=True)):
            ledger.run(award(pot, weight + headroom, FUNDERS[i % 2]))
        ledger.run(
            lambda s: ops.allocate_pooled(
                s,
                reference="POOL",
                shares=list(zip(pots, weights, strict=True)),
                recipient="Aberlour",
                date=DATE,
                entered_by=OFFICER,
                approved_by=FINANCE,
                purpose="pooled contract",
            )
        )
        now = ledger.run(pooled_figures)
        step = 0
        while now.paid < now.allocated:
            step += 1
            unpaid = now.allocated - now.paid
            last = step >= 10
            if not last and data.draw(st.sampled_from(["pay"] * 4 + ["vary"])) == "vary":
                delta = data.draw(st.integers(-unpaid, now.room).filter(bool), label="delta")
                ledger.run(
                    partial(
                        ops.vary,
                        reference=f"VARY-{step}",
                        allocation="POOL",
                        delta_pence=delta,
                        date=DATE,
                        reason="scope changed",
                        entered_by=OFFICER,
                        approved_by=FINANCE,
                    )
                )
                now = ledger.run(pooled_figures)
            else:
                amount = unpaid if last else data.draw(st.integers(1, unpaid), label="instalment")
                ledger.run(
                    partial(
                        ops.pay,
                        reference=f"PAY-{step}",
                        allocation="POOL",
                        amount_pence=amount,
                        date=DATE,
                        entered_by=OFFICER,
                        approved_by=FINANCE,
                        memo="instalment",
                    )
                )
                before, now = now, ledger.run(pooled_figures)
                parts = [
                    p - old for (_, p), (_, old) in zip(now.shares, before.shares, strict=True)
                ]
                assert sum(parts) == amount
                for part, (allocated, paid) in zip(parts, before.shares, strict=True):
                    assert 0 <= part <= allocated - paid
            assert sum(a for a, _ in now.shares) == now.allocated
            assert sum(p for _, p in now.shares) == now.paid
        for allocated, paid in now.shares:
            assert paid == allocated
    finally:
        ledger.close()


# Bugs found by the properties ---------------------------------------------------------------------


def test_receipt_after_a_reversed_award_goes_to_the_award_still_owed(run: Run) -> None:
    """Found by the state machine: a reversed award used to count as still owed, so receipts
    went against it first and were refused (FloorBreached)."""
    run(setup_ledger)
    first = run(lambda s: ops.record_award(s, **award_kwargs("AW-1")).id)
    run(lambda s: ops.record_award(s, **award_kwargs("AW-2")).id)
    run(
        lambda s: ops.reverse(
            s, entry_id=first, reason="entered in error", entered_by=FINANCE, approved_by="finance"
        )
    )
    # AW-2 is still owed £1.00: a 50p receipt from the same funder must go against it.
    run(
        lambda s: ops.record_receipt(
            s,
            reference="RC-1",
            pot="P",
            funder=SG,
            amount_pence=50,
            date=DATE,
            entered_by=OFFICER,
            memo="first instalment",
            approved_by="finance",
        )
    )
    received = run(lambda s: [ops.find_pot(s, "P").received_pence, *award_received(s)])
    assert received == [50, 0, 50]
    assert run(lambda s: check(s).ok)


def award_received(session: Session) -> list[int]:
    return list(session.scalars(select(Award.received_pence).order_by(Award.reference)))


def award_kwargs(reference: str) -> dict[str, Any]:
    return dict(
        reference=reference,
        pot="P",
        funder=SG,
        amount_pence=100,
        award_date=DATE,
        entered_by=OFFICER,
        approved_by=FINANCE,
        memo=reference,
    )


def test_reversing_a_payment_already_returned_is_refused_as_a_ledger_error(run: Run) -> None:
    """Found by the state machine: the database's CHECK (returned within paid) used to fire
    first, during an autoflush in ``Effects.apply``, as a raw IntegrityError."""
    run(setup_ledger)
    run(lambda s: ops.record_award(s, **award_kwargs("AW-1")))
    run(
        lambda s: ops.allocate(
            s,
            reference="AL-1",
            pot="P",
            recipient="Aberlour",
            amount_pence=100,
            date=DATE,
            entered_by=OFFICER,
            approved_by=FINANCE,
            purpose="grant",
        )
    )
    payment = run(
        lambda s: (
            ops.pay(
                s,
                reference="PY-1",
                allocation="AL-1",
                amount_pence=50,
                date=DATE,
                entered_by=OFFICER,
                approved_by=FINANCE,
                memo="instalment",
            ).id
        )
    )
    run(
        lambda s: ops.return_unspent(
            s,
            reference="RT-1",
            allocation="AL-1",
            amount_pence=50,
            date=DATE,
            entered_by=OFFICER,
            memo="underspend",
            approved_by="finance",
        )
    )
    # Reversing the payment would leave 50p returned against 0p paid: it must be refused with
    # a LedgerError (FigureInvariantBroken) a finance officer can read.
    with pytest.raises(LedgerError):
        run(
            lambda s: ops.reverse(
                s, entry_id=payment, reason="paid twice", entered_by=FINANCE, approved_by="finance"
            )
        )


def test_the_reversal_invariant_catches_a_reversal_that_does_not_mirror_its_entry() -> None:
    """``reversal_imbalances`` is what the properties rely on for reversals (the journal is
    append-only, so a broken reversal cannot be planted in a real ledger to show it failing)."""
    entry = [(1, 10, 500), (1, 11, -500)]
    assert reversal_imbalances([*entry, (2, 10, -500), (2, 11, 500)], {2: 1}) == []
    assert reversal_imbalances([*entry, (2, 10, -400), (2, 11, 400)], {2: 1}) == [
        "reversal 2 of entry 1 leaves {10: 100, 11: -100} by account"
    ]
    # Right amounts on the wrong account, and a reversal with no lines at all.
    assert reversal_imbalances([*entry, (2, 12, -500), (2, 11, 500)], {2: 1})
    assert reversal_imbalances(entry, {2: 1}) == [
        "reversal 2 of entry 1 leaves {10: 500, 11: -500} by account"
    ]
