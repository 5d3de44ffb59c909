"""Property tests over random sequences of ledger operations.

The brief: every entry balances, no pot goes below zero, nothing is paid beyond what is
committed, pooled shares stay exact, every reversal nets its entry to zero on each account,
``check`` passes, and a refused operation writes nothing. ``assert_figures_sane`` checks these
straight from the tables after every step, independently of ``check``.

* ``test_random_operations_agree_with_a_model`` drives a ``RuleBasedStateMachine`` over one fresh
  ledger per run: awards and receipts from two funders into three pots, allocations (plain,
  pooled, delegations opening a sub-pot, sub-grants from delegated pots), variations up and
  down, payments, returns, carry-forwards, hand-backs, reversals of random earlier entries,
  provisional allocations and pending requests approved or rejected later, replays of earlier
  references. A plain-Python model says what should happen; after every step the ledger's
  figures must equal the model's, exactly.
* ``test_pooled_contract_paid_in_instalments_clears_every_share`` and
  ``test_delegation_chain_never_sub_grants_more_than_it_was_given`` are ``@given`` tests of one
  pooled contract and of a chain of delegations.

Every operation runs in its own transaction through ``ledger.db.run_in_transaction``, as the CLI
does.

At the end, a small regression test for each ledger bug these properties found (both since
fixed). A refusal must be a ``LedgerError``: a raw database error fails the state machine.

Budget: by default 25 state-machine runs of 30 steps and 25 examples of each ``@given`` test,
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
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger import db
from ledger import operations as ops
from ledger.check import check
from ledger.errors import LedgerError, ReferenceConflict
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
from ledger.money import split_by_ratios


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
USERS = (OFFICER, FINANCE)
SELF_APPROVAL_LIMIT = 1_000  # £10.00: one person may enter and approve up to this
DATE = dt.date(2024, 6, 1)
# name, funder, stream, financial year
TOP_POTS = (
    ("WFWF 2024-25", SG, "WFWF", 2024),
    ("WFWF 2025-26", SG, "WFWF", 2025),
    ("Promise 2024-25", CORRA, "Promise", 2024),
)
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
Deltas = dict[Key, int]


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


@dataclass
class PotInfo:
    name: str
    financial_year: int
    stream: str
    parent: str | None = None  # the delegation that funds it


@dataclass
class AllocInfo:
    ref: str
    pots: list[str]  # in share order
    weights: list[int]
    status: str
    entered_by: str
    child: str | None = None


@dataclass
class AwardInfo:
    ref: str
    pot: str
    funder: str
    amount: int


@dataclass
class RequestInfo:
    id: int
    kind: str
    alloc: str
    amount: int
    entered_by: str
    status: str = "pending"


@dataclass
class EntryInfo:
    id: int
    kind: str
    deltas: Deltas
    reversed: bool = False
    reverses: int | None = None  # for a reversal, the entry it reverses


@dataclass
class OpRecord:
    """An accepted operation that took a reference, for replays."""

    function: str
    kwargs: dict[str, Any]
    text_field: str


def _add(deltas: Deltas, key: Key, amount: int) -> None:
    deltas[key] = deltas.get(key, 0) + amount


@dataclass
class Model:
    """What the ledger should hold, kept with plain dicts and ints."""

    fig: dict[Key, int] = field(default_factory=dict)
    pots: dict[str, PotInfo] = field(default_factory=dict)
    allocs: dict[str, AllocInfo] = field(default_factory=dict)
    awards: list[AwardInfo] = field(default_factory=list)
    requests: dict[int, RequestInfo] = field(default_factory=dict)
    entries: dict[int, EntryInfo] = field(default_factory=dict)

    # -- objects appear
    def open_pot(self, info: PotInfo) -> None:
        self.pots[info.name] = info
        for name in (*POT_FIGURES, "cash"):
            self.fig[("pot", info.name, name)] = 0

    def open_award(self, info: AwardInfo) -> None:
        self.awards.append(info)
        self.fig[("award", info.ref, "received")] = 0
        self.fig[("award", info.ref, "receivable")] = 0

    def open_allocation(self, info: AllocInfo) -> None:
        self.allocs[info.ref] = info
        for name in MONEY_FIGURES:
            self.fig[("alloc", info.ref, name)] = 0
            for pot in info.pots:
                self.fig[("share", info.ref, pot, name)] = 0

    def post(self, entry_id: int, kind: str, deltas: Deltas) -> None:
        assert entry_id not in self.entries
        self.entries[entry_id] = EntryInfo(entry_id, kind, deltas)
        self.fig = self.applied(deltas)

    def applied(self, deltas: Deltas) -> dict[Key, int]:
        fig = dict(self.fig)
        for key, amount in deltas.items():
            fig[key] += amount
        return fig

    # -- derived figures
    def available(self, pot: str, fig: Mapping[Key, int] | None = None) -> int:
        f = self.fig if fig is None else fig
        return (
            f[("pot", pot, "funded")]
            - f[("pot", pot, "allocated")]
            + f[("pot", pot, "returned")]
            - f[("pot", pot, "carried_forward")]
            - f[("pot", pot, "handed_back")]
        )

    def a(self, ref: str, name: str) -> int:
        return self.fig[("alloc", ref, name)]

    def s(self, ref: str, pot: str, name: str) -> int:
        return self.fig[("share", ref, pot, name)]

    def unpaid(self, ref: str) -> int:
        return self.a(ref, "allocated") - self.a(ref, "paid")

    def pending(self, exclude: int | None = None) -> list[RequestInfo]:
        return [r for r in self.requests.values() if r.status == "pending" and r.id != exclude]

    def held(self, pot: str, exclude: int | None = None) -> int:
        """Money on ``pot`` held by pending increases."""
        total = 0
        for request in self.pending(exclude):
            info = self.allocs[request.alloc]
            if request.kind == "vary" and request.amount > 0 and pot in info.pots:
                parts = split_by_ratios(request.amount, info.weights)
                total += parts[info.pots.index(pot)]
        return total

    def room(self, pot: str, exclude: int | None = None) -> int:
        return self.available(pot) - self.held(pot, exclude)

    def pending_reduction(self, ref: str, exclude: int | None = None) -> int:
        return sum(
            abs(r.amount)
            for r in self.pending(exclude)
            if r.alloc == ref and (r.kind == "pay" or r.amount < 0)
        )

    def payable(self) -> list[str]:
        return [r for r, a in self.allocs.items() if a.status == "confirmed" and self.unpaid(r)]

    def returnable(self) -> list[str]:
        return [r for r in self.allocs if self.a(r, "paid") > self.a(r, "returned")]

    def provisional(self) -> list[str]:
        return [r for r, a in self.allocs.items() if a.status == "provisional"]

    def pending_ids(self) -> list[str]:
        return [str(r.id) for r in self.pending()]

    def expected(self) -> dict[Key, int]:
        """Every figure and balance the ledger should show, as ``read_snapshot`` reads them."""
        out = dict(self.fig)
        for name, info in self.pots.items():
            out[("pot", name, "available")] = self.available(name)
            if info.parent is not None:
                out[("pot", name, "due_in")] = self.unpaid(info.parent)
        for ref, alloc in self.allocs.items():
            for pot in alloc.pots:
                out[("share", ref, pot, "unpaid")] = self.s(ref, pot, "allocated") - self.s(
                    ref, pot, "paid"
                )
        return out

    def violations(self, fig: Mapping[Key, int]) -> list[str]:
        """The floors and figure rules the ledger enforces, over a whole set of figures."""
        out = []
        for name in self.pots:
            if self.available(name, fig) < 0:
                out.append(f"pot {name} available < 0")
            out += [f"pot {name} {f} < 0" for f in POT_FIGURES if fig[("pot", name, f)] < 0]
        for ref, alloc in self.allocs.items():
            keys = [("alloc", ref)] + [("share", ref, pot) for pot in alloc.pots]
            for key in keys:
                allocated, paid, returned = (fig[(*key, f)] for f in MONEY_FIGURES)
                if not 0 <= paid <= allocated:
                    out.append(f"{key}: paid {paid} of {allocated} allocated")
                if not 0 <= returned <= paid:
                    out.append(f"{key}: {RETURNED_OVER_PAID} ({returned} of {paid})")
        for award in self.awards:
            received = fig[("award", award.ref, "received")]
            if fig[("award", award.ref, "receivable")] < 0 or not 0 <= received <= award.amount:
                out.append(f"award {award.ref}")
        return out

    # -- what each operation does
    def allocation_deltas(
        self, ref: str, shares: list[tuple[str, int]], child: str | None
    ) -> Deltas:
        deltas: Deltas = {}
        for pot, part in shares:
            _add(deltas, ("pot", pot, "allocated"), part)
            _add(deltas, ("share", ref, pot, "allocated"), part)
            _add(deltas, ("alloc", ref, "allocated"), part)
        if child is not None:
            _add(deltas, ("pot", child, "funded"), sum(p for _, p in shares))
        return deltas

    def vary_fits(self, ref: str, delta: int, exclude: int | None = None) -> bool:
        info = self.allocs[ref]
        if delta > 0:
            parts = split_by_ratios(delta, info.weights)
            return all(
                part <= self.room(pot, exclude) for pot, part in zip(info.pots, parts, strict=True)
            )
        if delta == 0 or -delta > self.unpaid(ref) - self.pending_reduction(ref, exclude):
            return False
        return info.child is None or -delta <= self.room(info.child, exclude)

    def vary_deltas(self, ref: str, delta: int) -> Deltas:
        info = self.allocs[ref]
        if delta > 0:
            parts = split_by_ratios(delta, info.weights)
        else:
            owed = [max(self.s(ref, p, "allocated") - self.s(ref, p, "paid"), 0) for p in info.pots]
            parts = [-p for p in split_by_ratios(-delta, owed)]
        deltas: Deltas = {}
        for pot, part in zip(info.pots, parts, strict=True):
            _add(deltas, ("pot", pot, "allocated"), part)
            _add(deltas, ("share", ref, pot, "allocated"), part)
        _add(deltas, ("alloc", ref, "allocated"), delta)
        if info.child is not None:
            _add(deltas, ("pot", info.child, "funded"), delta)
        return deltas

    def pay_fits(self, ref: str, amount: int, exclude: int | None = None) -> bool:
        if self.allocs[ref].status != "confirmed":
            return False
        return 0 < amount <= self.unpaid(ref) - self.pending_reduction(ref, exclude)

    def pay_deltas(self, ref: str, amount: int) -> Deltas:
        info = self.allocs[ref]
        owed = [self.s(ref, p, "allocated") - self.s(ref, p, "paid") for p in info.pots]
        deltas: Deltas = {}
        for pot, part in zip(info.pots, split_by_ratios(amount, owed), strict=True):
            _add(deltas, ("pot", pot, "paid"), part)
            _add(deltas, ("pot", pot, "cash"), -part)
            _add(deltas, ("share", ref, pot, "paid"), part)
        _add(deltas, ("alloc", ref, "paid"), amount)
        if info.child is not None:
            _add(deltas, ("pot", info.child, "cash"), amount)
        return deltas

    def return_deltas(self, ref: str, amount: int) -> Deltas:
        info = self.allocs[ref]
        out = [self.s(ref, p, "paid") - self.s(ref, p, "returned") for p in info.pots]
        deltas: Deltas = {}
        for pot, part in zip(info.pots, split_by_ratios(amount, out), strict=True):
            _add(deltas, ("pot", pot, "returned"), part)
            _add(deltas, ("pot", pot, "cash"), part)
            _add(deltas, ("share", ref, pot, "returned"), part)
        _add(deltas, ("alloc", ref, "returned"), amount)
        if info.child is not None:
            _add(deltas, ("pot", info.child, "handed_back"), amount)
            _add(deltas, ("pot", info.child, "cash"), -amount)
        return deltas


def self_approval_refused(entered_by: str, approved_by: str | None, amount: int) -> bool:
    return approved_by == entered_by and abs(amount) > SELF_APPROVAL_LIMIT


LIKELY = ("likely",) * 4 + ("any",)
RETURNED_OVER_PAID = "returned more than paid"
AMOUNT_KINDS = ("within",) * 7 + ("over",) * 2 + ("nonsense",)


def draw_amount(data: st.DataObject, room: int, label: str, *, invalid: bool = True) -> int:
    """An amount around ``room`` (the most the model says fits). Mostly within it (1p, up to
    £10, anything, exactly the room, 1p under), sometimes over it (1p over, something huge) and
    sometimes not an amount at all (£0, negative)."""
    top = max(room, 1)
    within = st.one_of(
        st.just(1),
        st.integers(1, min(top, 1_000)),
        st.integers(1, top),
        st.just(top),
        st.just(max(room - 1, 1)),
    )
    over = st.sampled_from([room + 1, 10**10])
    nonsense = st.sampled_from([0, -1]) if invalid else over
    kind = data.draw(st.sampled_from(AMOUNT_KINDS), label=f"{label} is")
    strategy = {"within": within, "over": over, "nonsense": nonsense}[kind]
    return data.draw(strategy, label=label)


def entry_or_request(result: Entry | Request) -> tuple[str, int]:
    return ("entry" if isinstance(result, Entry) else "request", result.id)


def entry_id_of(session: Session, reference: str) -> int:
    return session.scalars(select(Entry.id).where(Entry.reference == reference)).one()


def setup_ledger(session: Session) -> None:
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, COUNCIL)
    ops.set_setting(session, ops.SELF_APPROVAL_LIMIT, str(SELF_APPROVAL_LIMIT))
    for stream, funder in STREAM_FUNDER.items():
        ops.ensure_stream(session, stream, ops.ensure_organisation(session, funder, ["funder"]))


# The state machine -------------------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    """Random operations on one fresh ledger, checked against ``Model`` after every step."""

    ledgers: ClassVar[Ledgers]

    def __init__(self) -> None:
        super().__init__()
        self.engine: Engine = db.make_engine(self.ledgers.new())
        self.factory: sessionmaker[Session] = db.session_factory(self.engine)
        self.model = Model()
        self.done: list[OpRecord] = []
        self.counter = 0
        self.cached: Snapshot | None = None
        db.run_in_transaction(self.factory, setup_ledger)

    def teardown(self) -> None:
        self.engine.dispose()

    # -- plumbing
    def ref(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def read(self) -> Snapshot:
        return db.run_in_transaction(self.factory, read_snapshot)

    def read_before(self) -> Snapshot:
        """The state before an operation: as the invariant last read it, if nothing changed."""
        snapshot, self.cached = self.cached or self.read(), None
        return snapshot

    def attempt(
        self,
        what: str,
        fits: bool | None,
        operation: Callable[[Session], T],
    ) -> T | None:
        """Run ``operation`` in its own transaction; it must be accepted exactly when the model
        says it fits (``fits=None``: no opinion), and a refusal must change nothing. A refusal is
        a ``LedgerError``: anything else (a raw database error) fails the test."""
        before = self.read_before()
        try:
            result = db.run_in_transaction(self.factory, operation)
        except LedgerError as error:
            event(f"{what.split()[0]} refused: {type(error).__name__}")
            note(f"{what}: refused: {type(error).__name__}: {error}")
            changes = before.diff(self.read())
            assert not changes, f"refused {what} still wrote: {changes}"
            assert not fits, f"{what} was refused but the model says it fits: {error}"
            return None
        event(f"{what.split()[0]} accepted")
        note(f"{what}: accepted")
        assert fits is not False, f"{what} was accepted but the model says it must be refused"
        return result

    def remember(self, function: str, kwargs: dict[str, Any], text_field: str) -> None:
        self.done.append(OpRecord(function, kwargs, text_field))

    def pick(
        self, data: st.DataObject, label: str, likely: Iterable[str], every: Iterable[str]
    ) -> str:
        """Usually one of ``likely`` (where the operation can do something), else any."""
        candidates = sorted(likely)
        if not candidates or data.draw(st.sampled_from(LIKELY), label=f"{label} from") == "any":
            candidates = sorted(every)
        return data.draw(st.sampled_from(candidates), label=label)

    def any_pot(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.model.pots)), label="pot")

    def pot_with_room(self, data: st.DataObject) -> str:
        """Usually a pot with money to spare; often one with money held by a pending request,
        where the hold decides what fits."""
        m = self.model
        held = sorted(p for p in m.pots if m.held(p))
        if held:
            prefer_held: bool = data.draw(st.booleans(), label="pot with a hold")
            if prefer_held:
                return data.draw(st.sampled_from(held), label="pot")
        return self.pick(data, "pot", [p for p in m.pots if m.room(p) > 0], m.pots)

    def allocation_to_reduce(self, data: st.DataObject, likely: Iterable[str]) -> str:
        """Usually one of ``likely``; often one with a pending payment or reduction, where the
        hold decides what fits."""
        m = self.model
        held = sorted(r for r in m.allocs if m.pending_reduction(r))
        if held:
            prefer_held: bool = data.draw(st.booleans(), label="allocation with a hold")
            if prefer_held:
                return data.draw(st.sampled_from(held), label="allocation")
        return self.pick(data, "allocation", likely, m.allocs)

    def any_allocation(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.model.allocs)), label="allocation")

    def users(self, data: st.DataObject) -> tuple[str, str | None]:
        """Who enters it, and who approves it: another person, nobody yet, or themselves."""
        entered = data.draw(st.sampled_from(USERS), label="entered_by")
        other = FINANCE if entered == OFFICER else OFFICER
        approver = data.draw(st.sampled_from((other, other, None, entered)), label="approved_by")
        return entered, approver

    # -- setting up
    @initialize(data=st.data())
    def open_top_level_pots(self, data: st.DataObject) -> None:
        for pot, funder, stream, year in TOP_POTS:
            amount = data.draw(
                st.one_of(st.just(1), st.integers(1, 100_000), st.integers(1, 10**9)),
                label=f"award into {pot}",
            )
            self.model.open_pot(PotInfo(pot, year, stream))
            self.award_into(pot, funder, amount, fits=True)
        # Every run starts with a pooled contract across the three pots, so that pooled
        # payments, returns, reductions and reversals get exercised.
        self.allocate_from(data, [p for p, *_ in TOP_POTS], users=(OFFICER, FINANCE), within=True)

    def award_into(self, pot: str, funder: str, amount: int, fits: bool) -> None:
        info = self.model.pots[pot]
        ref = self.ref("AW")
        kwargs: dict[str, Any] = dict(
            reference=ref,
            pot=pot,
            funder=funder,
            amount_pence=amount,
            award_date=dt.date(info.financial_year, 4, 1),
            financial_year=info.financial_year,
            stream=info.stream,
            entered_by=OFFICER,
            memo=f"award {ref}",
        )
        entry_id = self.attempt(
            f"award {amount} into {pot}",
            fits,
            lambda s: ops.record_award(s, **kwargs).id,
        )
        if entry_id is None:
            return
        self.model.open_award(AwardInfo(ref, pot, funder, amount))
        deltas: Deltas = {
            ("pot", pot, "funded"): amount,
            ("award", ref, "receivable"): amount,
        }
        self.model.post(entry_id, "award", deltas)
        self.remember("record_award", kwargs, "memo")

    # -- money in
    @rule(data=st.data())
    def award(self, data: st.DataObject) -> None:
        pot = self.any_pot(data)
        funder = data.draw(st.sampled_from(FUNDERS), label="funder")
        amount = draw_amount(data, 10**6, "amount")
        self.award_into(pot, funder, amount, fits=amount > 0 and not self.model.pots[pot].parent)

    @rule(data=st.data())
    def receive(self, data: st.DataObject) -> None:
        pot = self.any_pot(data)
        funder = data.draw(st.sampled_from(FUNDERS), label="funder")
        fig = self.model.fig
        awards = [a for a in self.model.awards if a.pot == pot and a.funder == funder]
        # What each award is still owed (a reversed award owes nothing)
        owed = {a.ref: fig[("award", a.ref, "receivable")] for a in awards}
        amount = draw_amount(data, sum(owed.values()), "amount")
        # A receipt goes against the funder's awards into the pot, oldest first.
        parts: list[tuple[str, int]] = []
        remaining = amount
        for a in awards:
            part = min(owed[a.ref], remaining)
            if part > 0:
                parts.append((a.ref, part))
                remaining -= part
        ref = self.ref("RC")
        kwargs: dict[str, Any] = dict(
            reference=ref,
            pot=pot,
            funder=funder,
            amount_pence=amount,
            date=DATE,
            entered_by=OFFICER,
            memo=f"receipt {ref}",
        )
        entry_id = self.attempt(
            f"receive {amount} from {funder} into {pot}",
            0 < amount <= sum(owed.values()),
            lambda s: ops.record_receipt(s, **kwargs).id,
        )
        if entry_id is None:
            return
        deltas: Deltas = {("pot", pot, "received"): amount, ("pot", pot, "cash"): amount}
        for award_ref, part in parts:
            _add(deltas, ("award", award_ref, "received"), part)
            _add(deltas, ("award", award_ref, "receivable"), -part)
        self.model.post(entry_id, "receive", deltas)
        self.remember("record_receipt", kwargs, "memo")

    # -- allocations
    def allocate_from(
        self,
        data: st.DataObject,
        pots: list[str],
        to_pot: str | None = None,
        *,
        users: tuple[str, str | None] | None = None,
        within: bool = False,
    ) -> None:
        def amount(pot: str) -> int:
            room = self.model.room(pot)
            if within:
                return data.draw(st.integers(1, max(room, 1)), label=f"from {pot}")
            return draw_amount(data, room, f"from {pot}")

        shares = [(pot, amount(pot)) for pot in pots]
        entered, approver = users or self.users(data)
        total = sum(part for _, part in shares)
        fits = (
            len(set(pots)) == len(pots)
            and all(part > 0 for _, part in shares)
            and all(part <= self.model.room(pot) for pot, part in shares)
            and not self_approval_refused(entered, approver, total)
            and (to_pot is None or (len(pots) == 1 and to_pot not in self.model.pots))
        )
        ref = self.ref("AL")
        recipient = data.draw(st.sampled_from(["Aberlour", "Homestart", "CTSI"]), "recipient")
        kwargs: dict[str, Any] = dict(
            reference=ref,
            shares=shares,
            recipient=recipient,
            date=DATE,
            entered_by=entered,
            approved_by=approver,
            purpose=f"allocation {ref}",
            to_pot=to_pot,
        )

        def operation(session: Session) -> int:
            ops.allocate_pooled(session, **kwargs)
            return entry_id_of(session, ref)

        what = f"{'delegate' if to_pot else 'allocate'} {shares} as {ref} ({entered}/{approver})"
        entry_id = self.attempt(what, fits, operation)
        if entry_id is None:
            return
        self.model.open_allocation(
            AllocInfo(
                ref,
                pots=[pot for pot, _ in shares],
                weights=[part for _, part in shares],
                status="confirmed" if approver else "provisional",
                entered_by=entered,
                child=to_pot,
            )
        )
        if to_pot is not None:
            source = self.model.pots[pots[0]]
            self.model.open_pot(PotInfo(to_pot, source.financial_year, source.stream, ref))
        self.model.post(
            entry_id,
            "delegate" if to_pot else "allocate",
            self.model.allocation_deltas(ref, shares, to_pot),
        )
        self.remember("allocate_pooled", kwargs, "purpose")

    @rule(data=st.data())
    def allocate(self, data: st.DataObject) -> None:
        self.allocate_from(data, [self.pot_with_room(data)])

    @precondition(lambda self: any(p.parent for p in self.model.pots.values()))
    @rule(data=st.data())
    def sub_grant(self, data: st.DataObject) -> None:
        delegated = sorted(name for name, p in self.model.pots.items() if p.parent)
        self.allocate_from(data, [data.draw(st.sampled_from(delegated), label="pot")])

    @rule(data=st.data())
    def allocate_pooled(self, data: st.DataObject) -> None:
        names = sorted(self.model.pots)
        funded = sorted(p for p in names if self.model.room(p) > 0)
        if len(funded) < 2 or data.draw(st.sampled_from(LIKELY * 2), label="pots from") == "any":
            # any pots, perhaps one twice (refused)
            pots = data.draw(st.lists(st.sampled_from(names), min_size=2, max_size=3), "pots")
        else:
            unique = st.lists(st.sampled_from(funded), min_size=2, max_size=3, unique=True)
            pots = data.draw(unique, "pots")
        self.allocate_from(data, pots)

    @rule(data=st.data())
    def delegate(self, data: st.DataObject) -> None:
        to_pot = self.pick(data, "to_pot", [f"Delegated {self.counter}"], self.model.pots)
        self.allocate_from(data, [self.pot_with_room(data)], to_pot)

    @precondition(lambda self: bool(self.model.provisional()))
    @rule(data=st.data())
    def approve_allocation(self, data: st.DataObject) -> None:
        m = self.model
        ref = self.pick(data, "allocation", m.provisional(), m.allocs)
        approver = data.draw(st.sampled_from(USERS), label="approved_by")
        info = self.model.allocs[ref]
        fits = info.status == "provisional" and not self_approval_refused(
            info.entered_by, approver, self.model.a(ref, "allocated")
        )
        done = self.attempt(
            f"approve allocation {ref} by {approver}",
            fits,
            lambda s: ops.approve_allocation(s, reference=ref, approved_by=approver).id,
        )
        if done is not None:
            info.status = "confirmed"

    # -- variations and payments
    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def vary(self, data: st.DataObject) -> None:
        up = data.draw(st.booleans(), label="increase")
        self.vary_by(data, up, *self.users(data))

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def request_change(self, data: st.DataObject) -> None:
        """A variation or payment entered without an approver: it waits, holding its money."""
        kind = data.draw(st.sampled_from(["increase", "reduction", "payment"]), label="request")
        entered = data.draw(st.sampled_from(USERS), label="entered_by")
        if kind == "payment" and self.model.payable():
            self.pay_by(data, entered, None)
        else:
            self.vary_by(data, kind == "increase", entered, None)

    def vary_by(self, data: st.DataObject, up: bool, entered: str, approver: str | None) -> None:
        m = self.model
        # Reducible, and partly paid if any are (where the reduction's split matters)
        reducible = [r for r in m.allocs if m.unpaid(r) > m.pending_reduction(r)]
        reducible = [r for r in reducible if m.a(r, "paid")] or reducible
        if up:
            ref = self.pick(data, "allocation", m.allocs, m.allocs)
        else:
            ref = self.allocation_to_reduce(data, reducible)
        info = self.model.allocs[ref]
        if up:
            whole = sum(info.weights)
            room = min(
                self.model.room(p) * whole // w
                for p, w in zip(info.pots, info.weights, strict=True)
            )
        else:
            room = self.model.unpaid(ref) - self.model.pending_reduction(ref)
        amount = draw_amount(data, room, "amount")
        delta = amount if up else -amount
        fits = self.model.vary_fits(ref, delta) and not self_approval_refused(
            entered, approver, delta
        )
        kwargs: dict[str, Any] = dict(
            reference=self.ref("VA"),
            allocation=ref,
            delta_pence=delta,
            date=DATE,
            reason=f"vary {ref}",
            entered_by=entered,
            approved_by=approver,
        )
        result = self.attempt(
            f"vary {ref} by {delta} ({entered}/{approver})",
            fits,
            lambda s: entry_or_request(ops.vary(s, **kwargs)),
        )
        if result is None:
            return
        self.record_entry_or_request(result, "vary", ref, delta, entered, approver)
        self.remember("vary", kwargs, "reason")

    @precondition(lambda self: bool(self.model.payable()))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        self.pay_by(data, *self.users(data))

    def pay_by(self, data: st.DataObject, entered: str, approver: str | None) -> None:
        m = self.model
        ref = self.allocation_to_reduce(data, m.payable())
        room = self.model.unpaid(ref) - self.model.pending_reduction(ref)
        amount = draw_amount(data, room, "amount")
        fits = self.model.pay_fits(ref, amount) and not self_approval_refused(
            entered, approver, amount
        )
        kwargs: dict[str, Any] = dict(
            reference=self.ref("PY"),
            allocation=ref,
            amount_pence=amount,
            date=DATE,
            memo=f"pay {ref}",
            entered_by=entered,
            approved_by=approver,
        )
        result = self.attempt(
            f"pay {amount} on {ref} ({entered}/{approver})",
            fits,
            lambda s: entry_or_request(ops.pay(s, **kwargs)),
        )
        if result is None:
            return
        self.record_entry_or_request(result, "pay", ref, amount, entered, approver)
        self.remember("pay", kwargs, "memo")

    def record_entry_or_request(
        self,
        result: tuple[str, int],
        kind: str,
        ref: str,
        amount: int,
        entered: str,
        approver: str | None,
    ) -> None:
        what, row_id = result
        if approver is None:
            assert what == "request", f"{kind} without an approver posted at once"
            self.model.requests[row_id] = RequestInfo(row_id, kind, ref, amount, entered)
            return
        assert what == "entry", f"{kind} approved on entry did not post"
        deltas = (
            self.model.vary_deltas(ref, amount)
            if kind == "vary"
            else self.model.pay_deltas(ref, amount)
        )
        self.model.post(row_id, kind, deltas)

    @precondition(lambda self: bool(self.model.pending_ids()))
    @rule(data=st.data())
    def approve_request(self, data: st.DataObject) -> None:
        requests = self.model.requests
        request_id = int(self.pick(data, "request", self.model.pending_ids(), map(str, requests)))
        approver = data.draw(st.sampled_from(USERS), label="approved_by")
        request = self.model.requests[request_id]
        fits = request.status == "pending" and not self_approval_refused(
            request.entered_by, approver, request.amount
        )
        if fits and request.kind == "vary":
            fits = self.model.vary_fits(request.alloc, request.amount, exclude=request_id)
        elif fits:
            fits = self.model.pay_fits(request.alloc, request.amount, exclude=request_id)
        entry_id = self.attempt(
            f"approve request {request_id} ({request.kind} {request.amount} on"
            f" {request.alloc}, {request.entered_by}/{approver})",
            fits,
            lambda s: ops.approve_request(s, request_id=request_id, approved_by=approver).id,
        )
        if entry_id is None:
            return
        request.status = "approved"
        deltas = (
            self.model.vary_deltas(request.alloc, request.amount)
            if request.kind == "vary"
            else self.model.pay_deltas(request.alloc, request.amount)
        )
        self.model.post(entry_id, request.kind, deltas)

    @precondition(lambda self: bool(self.model.pending_ids()))
    @rule(data=st.data())
    def reject_request(self, data: st.DataObject) -> None:
        requests = self.model.requests
        request_id = int(self.pick(data, "request", self.model.pending_ids(), map(str, requests)))
        note_text = data.draw(st.sampled_from(["over budget", " "]), label="note")
        request = self.model.requests[request_id]
        fits = request.status == "pending" and bool(note_text.strip())
        done = self.attempt(
            f"reject request {request_id}",
            fits,
            lambda s: (
                ops.reject_request(s, request_id=request_id, rejected_by=FINANCE, note=note_text).id
            ),
        )
        if done is not None:
            request.status = "rejected"

    @precondition(lambda self: bool(self.model.returnable()))
    @rule(data=st.data())
    def return_unspent(self, data: st.DataObject) -> None:
        m = self.model
        ref = self.pick(data, "allocation", m.returnable(), m.allocs)
        info = self.model.allocs[ref]
        returnable = self.model.a(ref, "paid") - self.model.a(ref, "returned")
        amount = draw_amount(data, returnable, "amount")
        fits = 0 < amount <= returnable and (
            info.child is None or amount <= self.model.room(info.child)
        )
        kwargs: dict[str, Any] = dict(
            reference=self.ref("RT"),
            allocation=ref,
            amount_pence=amount,
            date=DATE,
            memo=f"return on {ref}",
            entered_by=OFFICER,
        )
        entry_id = self.attempt(
            f"return {amount} on {ref}", fits, lambda s: ops.return_unspent(s, **kwargs).id
        )
        if entry_id is None:
            return
        self.model.post(entry_id, "return", self.model.return_deltas(ref, amount))
        self.remember("return_unspent", kwargs, "memo")

    # -- year end
    @rule(data=st.data())
    def carry_forward(self, data: st.DataObject) -> None:
        m = self.model

        def later(source: PotInfo) -> list[str]:
            return [
                p.name
                for p in m.pots.values()
                if p.stream == source.stream and p.financial_year > source.financial_year
            ]

        carriable = [p for p in m.pots if m.room(p) > 0 and later(m.pots[p])]
        source = self.pick(data, "from_pot", carriable, m.pots)
        src = m.pots[source]
        target = self.pick(data, "to_pot", later(src), m.pots)
        amount = draw_amount(data, self.model.room(source), "amount")
        src, tgt = self.model.pots[source], self.model.pots[target]
        fits = (
            amount > 0
            and tgt.financial_year > src.financial_year
            and tgt.stream == src.stream
            and amount <= self.model.room(source)
        )
        kwargs: dict[str, Any] = dict(
            reference=self.ref("CF"),
            from_pot=source,
            to_pot=target,
            amount_pence=amount,
            date=DATE,
            entered_by=OFFICER,
            memo=f"carry {source} to {target}",
        )
        entry_id = self.attempt(
            f"carry {amount} from {source} to {target}",
            fits,
            lambda s: ops.carry_forward(s, **kwargs).id,
        )
        if entry_id is None:
            return
        deltas: Deltas = {
            ("pot", source, "carried_forward"): amount,
            ("pot", source, "cash"): -amount,
            ("pot", target, "funded"): amount,
            ("pot", target, "carried_in"): amount,
            ("pot", target, "cash"): amount,
        }
        self.model.post(entry_id, "carry_forward", deltas)
        self.remember("carry_forward", kwargs, "memo")

    @rule(data=st.data())
    def hand_back(self, data: st.DataObject) -> None:
        pot = self.pot_with_room(data)
        amount = draw_amount(data, self.model.room(pot), "amount")
        fits = 0 < amount <= self.model.room(pot) and self.model.pots[pot].parent is None
        kwargs: dict[str, Any] = dict(
            reference=self.ref("HB"),
            pot=pot,
            amount_pence=amount,
            date=DATE,
            entered_by=OFFICER,
            memo=f"hand back from {pot}",
        )
        entry_id = self.attempt(
            f"hand back {amount} from {pot}", fits, lambda s: ops.hand_back(s, **kwargs).id
        )
        if entry_id is None:
            return
        deltas: Deltas = {("pot", pot, "handed_back"): amount, ("pot", pot, "cash"): -amount}
        self.model.post(entry_id, "hand_back", deltas)
        self.remember("hand_back", kwargs, "memo")

    # -- corrections
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        entries = self.model.entries
        reversible = [str(i) for i, e in entries.items() if e.kind != "reversal" and not e.reversed]
        missing = str(max(entries) + 1)
        entry_id = int(self.pick(data, "entry", reversible, [*map(str, entries), missing]))
        target = self.model.entries.get(entry_id)
        negated = {} if target is None else {k: -v for k, v in target.deltas.items()}
        fits = (
            target is not None
            and target.kind != "reversal"
            and not target.reversed
            and not self.model.violations(self.model.applied(negated))
        )
        kind = target.kind if target else "missing"
        reversal_id = self.attempt(
            f"reverse entry {entry_id} ({kind})",
            fits,
            lambda s: (
                ops.reverse(
                    s,
                    entry_id=entry_id,
                    reason="entered twice",
                    entered_by=FINANCE,
                    approved_by="finance",
                ).id
            ),
        )
        if reversal_id is None:
            return
        assert target is not None
        target.reversed = True
        self.model.post(reversal_id, "reversal", negated)
        self.model.entries[reversal_id].reverses = entry_id

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """The same reference with the same content changes nothing; with different content it
        is refused."""
        record = data.draw(st.sampled_from(self.done), label="replayed")
        how = data.draw(st.sampled_from(["same", "changed", "other kind"]), label="how")
        function = getattr(ops, record.function)
        kwargs = dict(record.kwargs)
        if how == "same":
            before = self.read_before()
            db.run_in_transaction(self.factory, lambda s: function(s, **kwargs))
            changes = before.diff(self.read())
            assert not changes, f"replaying {record.function} wrote {changes}"
            return
        if how == "changed":
            kwargs[record.text_field] = f"{kwargs[record.text_field]} (changed)"
        else:
            function = ops.hand_back
            kwargs = dict(
                reference=kwargs["reference"],
                pot=TOP_POTS[0][0],
                amount_pence=1,
                date=DATE,
                entered_by=OFFICER,
                memo="not what the reference names",
            )
        before = self.read_before()
        try:
            db.run_in_transaction(self.factory, lambda s: function(s, **kwargs))
        except ReferenceConflict:
            pass
        else:
            raise AssertionError(f"reference {kwargs['reference']} reused for other content")
        assert not before.diff(self.read())

    # -- after every step
    @invariant()
    def ledger_agrees_with_model(self) -> None:
        def look(session: Session) -> Snapshot:
            assert_figures_sane(session)
            return read_snapshot(session)

        snapshot = db.run_in_transaction(self.factory, look)
        self.cached = snapshot
        expected = self.model.expected()
        wrong = {
            key: (snapshot.figures.get(key), expected.get(key))
            for key in set(snapshot.figures) | set(expected)
            if snapshot.figures.get(key) != expected.get(key)
        }
        assert not wrong, f"ledger vs model (ledger, model): {wrong}"
        assert snapshot.counts["Entry"] == len(self.model.entries)
        assert snapshot.reversals == {
            i: e.reverses for i, e in self.model.entries.items() if e.reverses is not None
        }
        for ref, info in self.model.allocs.items():
            assert snapshot.statuses[("allocation", ref)] == info.status, ref
        for request_id, request in self.model.requests.items():
            assert snapshot.statuses[("request", str(request_id))] == request.status
        assert not self.model.violations(self.model.fig)


def test_random_operations_agree_with_a_model(ledgers: Ledgers) -> None:
    class Machine(LedgerMachine):
        pass

    Machine.ledgers = ledgers
    run_state_machine_as_test(Machine, settings=PROPERTY_SETTINGS)


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


@PROPERTY_SETTINGS
@given(award_pence=st.one_of(st.just(1), st.integers(1, 10**8)), data=st.data())
def test_delegation_chain_never_sub_grants_more_than_it_was_given(
    ledgers: Ledgers, award_pence: int, data: st.DataObject
) -> None:
    """The council delegates to an intermediary, which may delegate on again (up to three
    levels). Sub-grants, variations of them and of the delegations, and payments at any level
    are accepted exactly when each pot has the money; nothing ever allocates more out of a
    delegated pot than its delegation gave it."""
    ledger = Ledger(ledgers)
    try:
        ledger.run(award("Council", award_pence))
        given_to = {"Council": award_pence}  # what each level has been given
        out_of = {"Council": 0}  # allocated out of each level
        parent_of: dict[str, str] = {}
        delegation_of: dict[str, str] = {}  # level -> its delegation's reference
        allocations: dict[str, tuple[str, str | None]] = {}  # ref -> (from level, to level)
        unpaid: dict[str, int] = {}

        def room(level: str) -> int:
            return given_to[level] - out_of[level]

        def allocate(ref: str, level: str, amount: int, to_pot: str | None) -> bool:
            fits = 0 < amount <= room(level)
            refused = ledger.refused(
                lambda s: ops.allocate(
                    s,
                    reference=ref,
                    pot=level,
                    recipient=f"Recipient of {ref}",
                    amount_pence=amount,
                    date=DATE,
                    entered_by=OFFICER,
                    approved_by=FINANCE,
                    purpose=ref,
                    to_pot=to_pot,
                )
            )
            assert refused != fits, (ref, level, amount, room(level))
            if fits:
                out_of[level] += amount
                allocations[ref] = (level, to_pot)
                unpaid[ref] = amount
                if to_pot is not None:
                    given_to[to_pot], out_of[to_pot] = amount, 0
                    parent_of[to_pot], delegation_of[to_pot] = level, ref
            return fits

        level = "Council"
        for depth in range(1, data.draw(st.integers(1, 3), label="depth") + 1):
            child = f"Level {depth}"
            amount = draw_amount(data, room(level), f"delegation to {child}")
            if not allocate(f"DELEGATION-{depth}", level, amount, child):
                break
            level = child

        for step in range(data.draw(st.integers(3, 15), label="steps")):
            levels = sorted(given_to)
            action = data.draw(st.sampled_from(["sub-grant", "vary", "pay"]), label="action")
            if action == "sub-grant" or not allocations:
                level = data.draw(st.sampled_from(levels), label="from")
                amount = draw_amount(data, room(level), "amount")
                allocate(f"GRANT-{step}", level, amount, None)
            elif action == "vary":
                ref = data.draw(st.sampled_from(sorted(allocations)), label="allocation")
                source, child_pot = allocations[ref]
                up = data.draw(st.booleans(), label="up")
                limit = room(source) if up else unpaid[ref]
                if not up and child_pot is not None:
                    limit = min(limit, room(child_pot))
                delta = draw_amount(data, limit, "delta", invalid=False) * (1 if up else -1)
                fits = (delta <= room(source)) if up else -delta <= unpaid[ref]
                if not up and child_pot is not None:
                    fits = fits and -delta <= room(child_pot)
                refused = ledger.refused(
                    partial(
                        ops.vary,
                        reference=f"VARY-{step}",
                        allocation=ref,
                        delta_pence=delta,
                        date=DATE,
                        reason="changed",
                        entered_by=OFFICER,
                        approved_by=FINANCE,
                    )
                )
                assert refused != fits, (ref, delta)
                if fits:
                    out_of[source] += delta
                    unpaid[ref] += delta
                    if child_pot is not None:
                        given_to[child_pot] += delta
            else:
                ref = data.draw(st.sampled_from(sorted(allocations)), label="allocation")
                amount = draw_amount(data, unpaid[ref], "payment")
                fits = 0 < amount <= unpaid[ref]
                refused = ledger.refused(
                    partial(
                        ops.pay,
                        reference=f"PAY-{step}",
                        allocation=ref,
                        amount_pence=amount,
                        date=DATE,
                        entered_by=OFFICER,
                        approved_by=FINANCE,
                        memo="instalment",
                    )
                )
                assert refused != fits, (ref, amount)
                if fits:
                    unpaid[ref] -= amount

            def agrees(session: Session) -> None:
                for name, given in given_to.items():
                    pot = ops.find_pot(session, name)
                    assert pot.funded_pence == given, name
                    assert pot.allocated_pence == out_of[name] <= given, name
                    out = session.scalar(
                        select(func.sum(AllocationShare.allocated_pence)).where(
                            AllocationShare.pot_id == pot.id
                        )
                    )
                    assert int(out or 0) == out_of[name], name
                    if name in delegation_of:
                        delegation = ops.find_allocation(session, delegation_of[name])
                        assert delegation.allocated_pence == given, name

            ledger.verify(agrees)
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
