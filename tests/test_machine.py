"""The whole machine under random use: every operation, both writers, every rule at every date.

``test_the_whole_machine_keeps_every_rule_on_both_writers`` drives a hypothesis
``RuleBasedStateMachine`` over two fresh ledgers at once, the same random sequence into each:

* award, receipt, allocation, pooled allocation, delegation, sub-grant, variation up and down,
  payment, return, close, rejection (of an allocation and of a request), approval (of an
  allocation and of a request), carry-forward, hand-back, reversal and allowing advances; with
  and without an approver, so requests wait, hold money, and are approved or rejected later;
  approvers spelled like the person who entered the act (``ＡＬＩＣＥ``, ``ALİCE``, ``alice`` with
  a zero-width space, ``аlice`` with a Cyrillic ``а``); rows dated on any day of two financial
  years, so many are back-dated; delegations left provisional.
* What the batch import supports (award, receive, allocate, delegate, vary, pay, return, each
  with an approver) goes into one ledger through the batch engine (``ledger.importer.
  import_rows``, one-row files) and into the other through the operations one by one
  (``tests/import_oracle.py``). Everything else goes through ``ledger.operations`` into both.
  After every step the two ledgers are identical, table by table (``tests.test_bulk.dump``), and
  every refusal is the same refusal (exception class and message) from both.
* After every step ``ledger.check.check`` proves every invariant, and a model of its own (plain
  dicts of dated movements, kept here without asking the ledger) must agree with the ledger's
  figures per pot, allocation and funder's share, and must find every rule kept at every date:
  available money (after what requests hold) and unpaid commitments never below zero, returned
  never above paid, nothing given out of a delegation nobody approved, nothing left on a rejected
  or closed allocation, no one approving more than the limit of their own entries per
  allocation or pot, no look-alike approver, nothing dated before what it depends on, pooled
  shares the exact split of the total, carry-forward only within a stream into the next year,
  hand-backs within the cash held, and an intermediary never paying cash it was not handed.
* A rule replays the distribution statement of every pot as at a random date: no negative
  available, no negative unpaid, no more returned than paid, and the same totals the model has
  for that date.
* History stands: after every step that posts, each funder's part of every pot movement dated
  before the earliest entry just posted (attributed by the reports' own rule,
  ``statements.reports.funder_view``) is what it was before the step, so a later award never
  moves past spending from one funder to another.

Budget: ``COMMONPURSE_HYPOTHESIS_EXAMPLES`` runs (default 12) of ``COMMONPURSE_HYPOTHESIS_STEPS``
steps (default 30); a nightly run raises both.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, event, note, settings
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
from ledger.errors import LedgerError
from ledger.importer import HEADER, ImportRowError, import_rows
from ledger.models import Allocation, AllocationShare, Entry, Pot, Request
from ledger.money import format_plain, split_by_ratios
from statements.reports.distribution import build_statement
from statements.reports.funder_view import ATTRIBUTED, Attribution, replay
from tests.conftest import LedgerPairs
from tests.import_oracle import import_rows_one_by_one
from tests.test_bulk import NAMED_ENTRY, dump

T = TypeVar("T")


def _budget(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip() or str(default)
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of 1 or more, not {text!r}")
    return int(text)


MACHINE_SETTINGS = settings(
    max_examples=_budget("COMMONPURSE_HYPOTHESIS_EXAMPLES", 12),
    stateful_step_count=_budget("COMMONPURSE_HYPOTHESIS_STEPS", 30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROBE_SETTINGS = settings(
    MACHINE_SETTINGS,
    max_examples=_budget("COMMONPURSE_HYPOTHESIS_EXAMPLES", 6),
)

COUNCIL = "Clackmannanshire Council"
SG, CORRA = "Scottish Government", "Corra Foundation"
ALICE, BOB = "alice", "bob"
LIMIT = 500_00  # £500.00: what one person may enter and approve alone, per allocation or pot
FIRST_DAY, LAST_DAY = dt.date(2023, 4, 1), dt.date(2025, 3, 31)
# name, funder, stream, financial year: two streams over two years, for carry-forward
POTS = (
    ("WFWF 2023-24", SG, "WFWF", 2023),
    ("WFWF 2024-25", SG, "WFWF", 2024),
    ("Promise 2023-24", CORRA, "Promise", 2023),
    ("Promise 2024-25", CORRA, "Promise", 2024),
)
RECIPIENTS = ("Aberlour", "Home-Start", "Community House")
# How an approver may be spelled, relative to the person who entered the act: the same person
# (counts against the self-approval limit) or a name that must be refused outright.
SAME_PERSON = {ALICE: ("alice", "ＡＬＩＣＥ", "ALİCE", "Alice"), BOB: ("bob", "ｂｏｂ", "BOB")}
REFUSED_NAMES = {ALICE: ("alice\u200b", "\u0430lice"), BOB: ("b\u200bob", "b\u043eb")}
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
ALLOC_FIGURES = ("allocated", "paid", "returned")

Key = tuple[str, ...]
Deltas = dict[Key, int]


def person(name: str) -> str:
    """Who a name reads as: the model's own, simple reading (NFKC, case folded, accents off)."""
    text = unicodedata.normalize("NFKC", name.strip()).casefold()
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def add(deltas: Deltas, key: Key, amount: int) -> None:
    deltas[key] = deltas.get(key, 0) + amount


# The model -----------------------------------------------------------------------------------


@dataclass
class PotM:
    name: str
    year: int
    stream: str | None
    delegation: str | None = None  # the delegation that funds it


@dataclass
class AllocM:
    ref: str
    pots: list[str]
    weights: list[int]
    day: dt.date
    status: str
    entered: str
    child: str | None = None
    advances: bool = False


@dataclass
class RequestM:
    id: int
    kind: str
    amount: int
    day: dt.date
    entered: str
    alloc: str | None = None
    pot: str | None = None
    to_pot: str | None = None
    entry: int | None = None  # what a reversal request reverses
    status: str = "pending"


@dataclass
class EntryM:
    kind: str
    day: dt.date
    deltas: Deltas
    subject: Key
    reversed: bool = False


@dataclass
class Model:
    """What the ledger should hold, from dated movements the model works out itself."""

    pots: dict[str, PotM] = field(default_factory=dict)
    allocs: dict[str, AllocM] = field(default_factory=dict)
    requests: dict[int, RequestM] = field(default_factory=dict)
    entries: dict[int, EntryM] = field(default_factory=dict)
    awards: list[tuple[str, str, dt.date]] = field(default_factory=list)  # pot, funder, day
    self_approved: dict[Key, int] = field(default_factory=lambda: defaultdict(int))

    # Figures, today and as at a date
    def figures(self, as_at: dt.date | None = None) -> dict[Key, int]:
        out: dict[Key, int] = defaultdict(int)
        for entry in self.entries.values():
            if as_at is None or entry.day <= as_at:
                for key, amount in entry.deltas.items():
                    out[key] += amount
        return out

    def days(self) -> list[dt.date]:
        return sorted({e.day for e in self.entries.values()})

    @staticmethod
    def available(fig: Mapping[Key, int], pot: str) -> int:
        f = [fig.get(("pot", pot, name), 0) for name in POT_FIGURES]
        funded, allocated, _, returned, _, carried_forward, _, handed_back = f
        return funded - allocated + returned - carried_forward - handed_back

    def pending(self) -> list[RequestM]:
        return [r for r in self.requests.values() if r.status == "pending"]

    def vary_parts(self, fig: Mapping[Key, int], ref: str, delta: int) -> list[int]:
        info = self.allocs[ref]
        total = fig.get(("alloc", ref, "allocated"), 0) + delta
        target = split_by_ratios(total, info.weights)
        now = [fig.get(("share", ref, pot, "allocated"), 0) for pot in info.pots]
        return [t - n for t, n in zip(target, now, strict=True)]

    def held(self, fig: Mapping[Key, int]) -> tuple[dict[str, int], dict[str, int]]:
        """Money held by requests awaiting approval: by pot, and (unpaid) by allocation."""
        pots: dict[str, int] = defaultdict(int)
        unpaid: dict[str, int] = defaultdict(int)
        for r in self.pending():
            if r.kind == "vary" and r.amount > 0 and r.alloc is not None:
                for pot, part in zip(
                    self.allocs[r.alloc].pots, self.vary_parts(fig, r.alloc, r.amount), strict=True
                ):
                    pots[pot] += max(part, 0)
            elif r.kind in ("vary", "pay") and r.alloc is not None:
                unpaid[r.alloc] += abs(r.amount)
                child = self.allocs[r.alloc].child
                if r.kind == "vary" and child is not None:
                    pots[child] += abs(r.amount)
            elif r.kind == "return" and r.alloc is not None:
                child = self.allocs[r.alloc].child
                if child is not None:
                    pots[child] += r.amount
            elif r.kind in ("carry_forward", "hand_back") and r.pot is not None:
                pots[r.pot] += r.amount
        return pots, unpaid

    def room(self, pot: str) -> int:
        fig = self.figures()
        return self.available(fig, pot) - self.held(fig)[0].get(pot, 0)

    def unpaid_room(self, ref: str) -> int:
        fig = self.figures()
        unpaid = fig[("alloc", ref, "allocated")] - fig[("alloc", ref, "paid")]
        return unpaid - self.held(fig)[1].get(ref, 0)

    def cash(self, pot: str, as_at: dt.date) -> int:
        return self.figures(as_at).get(("cash", pot), 0)

    # What each operation moves
    def allocation_deltas(self, ref: str, parts: list[int]) -> Deltas:
        info, deltas = self.allocs[ref], {}
        for pot, part in zip(info.pots, parts, strict=True):
            add(deltas, ("pot", pot, "allocated"), part)
            add(deltas, ("share", ref, pot, "allocated"), part)
            add(deltas, ("alloc", ref, "allocated"), part)
        if info.child is not None:
            add(deltas, ("pot", info.child, "funded"), sum(parts))
        return deltas

    def pay_deltas(self, ref: str, amount: int) -> Deltas:
        info, fig, deltas = self.allocs[ref], self.figures(), {}
        owed = [
            fig[("share", ref, p, "allocated")] - fig[("share", ref, p, "paid")] for p in info.pots
        ]
        for pot, part in zip(info.pots, split_by_ratios(amount, owed), strict=True):
            add(deltas, ("pot", pot, "paid"), part)
            add(deltas, ("share", ref, pot, "paid"), part)
            add(deltas, ("alloc", ref, "paid"), part)
            add(deltas, ("cash", pot), -part)
        if info.child is not None:
            add(deltas, ("cash", info.child), amount)
        return deltas

    def return_deltas(self, ref: str, amount: int) -> Deltas:
        info, fig, deltas = self.allocs[ref], self.figures(), {}
        out = [
            fig[("share", ref, p, "paid")] - fig[("share", ref, p, "returned")] for p in info.pots
        ]
        for pot, part in zip(info.pots, split_by_ratios(amount, out), strict=True):
            add(deltas, ("pot", pot, "returned"), part)
            add(deltas, ("share", ref, pot, "returned"), part)
            add(deltas, ("alloc", ref, "returned"), part)
            add(deltas, ("cash", pot), part)
        if info.child is not None:
            add(deltas, ("pot", info.child, "handed_back"), amount)
            add(deltas, ("cash", info.child), -amount)
        return deltas

    # The rules, over the model's own state
    def violations(self) -> list[str]:
        out: list[str] = []
        today = self.figures()
        for day in self.days():
            fig = self.figures(day)
            for pot in self.pots:
                if self.available(fig, pot) < 0:
                    out.append(f"{pot}: available {self.available(fig, pot)} on {day}")
                info = self.pots[pot]
                delegation = info.delegation
                short = fig.get(("cash", pot), 0) < 0
                if delegation is not None and short and not self.allocs[delegation].advances:
                    out.append(f"{pot}: paid out cash it was not handed, on {day}")
            for ref, alloc in self.allocs.items():
                for key in [("alloc", ref)] + [("share", ref, p) for p in alloc.pots]:
                    allocated, paid, returned = (fig.get((*key, f), 0) for f in ALLOC_FIGURES)
                    if not 0 <= paid <= allocated:
                        out.append(f"{key}: paid {paid} of {allocated} on {day}")
                    if not 0 <= returned <= paid:
                        out.append(f"{key}: returned {returned} of {paid} paid on {day}")
        held, held_unpaid = self.held(today)
        for pot, amount in held.items():
            if self.available(today, pot) - amount < 0:
                out.append(f"{pot}: available after holds {self.available(today, pot) - amount}")
        for ref, amount in held_unpaid.items():
            unpaid = today[("alloc", ref, "allocated")] - today[("alloc", ref, "paid")]
            if unpaid - amount < 0:
                out.append(f"{ref}: unpaid after holds {unpaid - amount}")
        waiting = {r.alloc for r in self.pending()}
        # A closed allocation may still have money paid come back: a return may wait on it.
        waiting_not_return = {r.alloc for r in self.pending() if r.kind != "return"}
        for ref, alloc in self.allocs.items():
            unpaid = today[("alloc", ref, "allocated")] - today[("alloc", ref, "paid")]
            held = waiting if alloc.status == "rejected" else waiting_not_return
            if alloc.status in ("rejected", "closed") and (unpaid or ref in held):
                out.append(f"{ref} is {alloc.status} with {unpaid} unpaid or a request waiting")
            if alloc.status == "provisional" and today[("alloc", ref, "paid")]:
                out.append(f"{ref} is provisional and paid")
            # A closed delegation keeps what its pot gave out while it was confirmed; new
            # sub-grants on a closed one are refused (``delegation_confirmed``).
            if alloc.child is not None and alloc.status in ("provisional", "rejected"):
                given = today.get(("pot", alloc.child, "allocated"), 0)
                confirmed = [
                    a.ref
                    for a in self.allocs.values()
                    if alloc.child in a.pots
                    and a.status != "provisional"
                    and a.status != "rejected"
                ]
                if given or confirmed:
                    out.append(f"{alloc.child} gave out money under {alloc.status} {ref}")
            target = split_by_ratios(today[("alloc", ref, "allocated")], alloc.weights)
            shares = [today[("share", ref, p, "allocated")] for p in alloc.pots]
            if shares != target:
                out.append(f"{ref}: shares {shares} are not the exact split {target}")
        for subject, amount in self.self_approved.items():
            if amount > LIMIT:
                out.append(f"{subject}: {amount} entered and approved by one person")
        return out


# Two ledgers, one per writer -----------------------------------------------------------------


class Refused(Exception):
    """Both ledgers refused, the same way."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def _refusal(error: LedgerError) -> tuple[str, str]:
    """A refusal as a user meets it: the typed cause and its message (an import's row error
    wraps the operation's own)."""
    if isinstance(error, ImportRowError):
        cause = error.__cause__
        return (type(cause).__name__ if cause is not None else "ImportRowError", str(error))
    return type(error).__name__, str(error)


def row_csv(row: Mapping[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerow([row.get(column, "") for column in HEADER])
    return out.getvalue()


def _place_of(session: Session, entry_id: int) -> int:
    """Where an entry stands in its journal: 1 for the first."""
    return session.scalar(select(func.count(Entry.id)).where(Entry.id <= entry_id)) or 0


def _entry_at(session: Session, place: int) -> int | None:
    """The id of the entry in that place of the journal, if there is one."""
    ids = session.scalars(select(Entry.id).order_by(Entry.id).offset(place - 1).limit(1))
    return ids.one_or_none()


class Pair:
    """Ledger 0 takes operations one by one; ledger 1 takes what the batch engine supports
    through it. Both must end every step identical."""

    def __init__(self, ledgers: LedgerPairs) -> None:
        self.engines: list[Engine] = [db.make_engine(url) for url in ledgers.new()]
        self.factories: list[sessionmaker[Session]] = [db.session_factory(e) for e in self.engines]

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()

    def read(self, look: Callable[[Session], T]) -> T:
        return db.run_in_transaction(self.factories[0], look)

    def both(self, operation: Callable[[Session], T]) -> T:
        return self._twice(operation, operation)

    def imported(self, row: Mapping[str, str], entered: str, approver: str) -> None:
        content = row_csv(row)

        def one_by_one(session: Session) -> object:
            return import_rows_one_by_one(
                session,
                io.StringIO(content),
                source_name="f.csv",
                entered_by=entered,
                approved_by=approver,
            )

        def batch(session: Session) -> object:
            return import_rows(
                session,
                io.StringIO(content),
                source_name="f.csv",
                entered_by=entered,
                approved_by=approver,
            )

        self._twice(one_by_one, batch)

    def on_entry(self, entry_id: int, operation: Callable[[Session, int], T]) -> T:
        """``operation`` on the same entry in both ledgers: ``entry_id`` is ledger 0's id; the
        other ledger's entry is the one in the same place in its journal (on PostgreSQL the
        batch takes ids in blocks, so the ids themselves differ)."""
        at = self.read(lambda s: _place_of(s, entry_id))

        def own(session: Session) -> T:
            own_id = _entry_at(session, at)
            assert own_id is not None, f"ledger 1 has no entry in place {at}"
            return operation(session, own_id)

        def translate(message: str) -> str:  # a refusal names the ledger's own entry ids
            return NAMED_ENTRY.sub(lambda m: f"{m[1]}ntry {self._first_id(int(m[2]))}", message)

        return self._twice(lambda s: operation(s, entry_id), own, translate)

    def _first_id(self, own_id: int) -> int:
        """Ledger 0's id of the entry that ledger 1 calls ``own_id`` (the same place)."""
        at = db.run_in_transaction(self.factories[1], lambda s: _place_of(s, own_id))
        return self.read(lambda s: _entry_at(s, at)) or own_id

    def _twice(
        self,
        first: Callable[[Session], T],
        second: Callable[[Session], Any],
        translate: Callable[[str], str] = str,
    ) -> T:
        """Run ``first`` on ledger 0 and ``second`` on ledger 1; both must be accepted, or
        refused in the same words (ledger 1's message passed through ``translate``)."""
        outcomes: list[tuple[str, str] | None] = []
        result: Any = None
        for factory, operation in zip(self.factories, (first, second), strict=True):
            try:
                value = db.run_in_transaction(factory, operation)
            except LedgerError as error:
                outcomes.append(_refusal(error))
            else:
                outcomes.append(None)
                if result is None:
                    result = value
        if outcomes[1] is not None:
            outcomes[1] = (outcomes[1][0], translate(outcomes[1][1]))
        assert outcomes[0] == outcomes[1], f"the writers differ: {outcomes[0]} / {outcomes[1]}"
        if outcomes[0] is not None:
            raise Refused(*outcomes[0])
        return result  # type: ignore[no-any-return]

    def identical(self) -> None:
        one, other = (dump(engine) for engine in self.engines)
        for table, rows in one.items():
            assert other[table] == rows, f"table {table} differs between the two writers"


def setup_ledger(session: Session) -> None:
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, COUNCIL)
    ops.set_setting(session, ops.SELF_APPROVAL_LIMIT, str(LIMIT))
    for _, funder, stream, _ in POTS:
        ops.ensure_stream(session, stream, ops.ensure_organisation(session, funder, ["funder"]))


def last_ids(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.max(Entry.id))) or 0,
        session.scalar(select(func.max(Request.id))) or 0,
    )


def ledger_figures(session: Session) -> tuple[dict[Key, int], dict[str, str], dict[int, str]]:
    fig: dict[Key, int] = {}
    pots = {p.id: p.name for p in session.scalars(select(Pot))}
    for pot in session.scalars(select(Pot)):
        for name in POT_FIGURES:
            fig[("pot", pot.name, name)] = getattr(pot, f"{name}_pence")
    statuses = {}
    refs = {}
    for allocation in session.scalars(select(Allocation)):
        refs[allocation.id] = allocation.reference
        statuses[allocation.reference] = allocation.status
        for name in ALLOC_FIGURES:
            fig[("alloc", allocation.reference, name)] = getattr(allocation, f"{name}_pence")
    for share in session.scalars(select(AllocationShare)):
        for name in ALLOC_FIGURES:
            key = ("share", refs[share.allocation_id], pots[share.pot_id], name)
            fig[key] = getattr(share, f"{name}_pence")
    requests = dict(session.execute(select(Request.id, Request.status)).tuples().all())
    return fig, statuses, requests


History = dict[tuple[str, str, str, dt.date], int]


def funder_history(session: Session, since_entry: int) -> tuple[History, dt.date | None]:
    """Each funder's part of each pot's movements (allocated, paid, returned...) by the day they
    are dated, attributed by the reports' own rule (``statements.reports.funder_view``); and
    the earliest date of the entries posted after entry ``since_entry`` (None if there are none).
    """
    effects = replay(session, LAST_DAY)
    attribution = Attribution(session, effects, LAST_DAY)
    pots = {p.id: p.name for p in session.scalars(select(Pot))}
    history: History = defaultdict(int)
    for effect in effects:
        for (pot_id, figure), _ in effect.pots.items():
            if figure in ATTRIBUTED:
                for funder, part in attribution.parts(effect.entry_id, pot_id, figure).items():
                    history[(pots[pot_id], funder, figure, effect.effective_date)] += part
    newest = session.scalar(select(func.min(Entry.effective_date)).where(Entry.id > since_entry))
    return dict(history), newest


# The state machine ---------------------------------------------------------------------------


class Machine(RuleBasedStateMachine):
    ledgers: ClassVar[LedgerPairs]

    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair(self.ledgers)
        self.model = Model()
        self.counter = 0
        self.pair.both(setup_ledger)
        self.history: History = {}
        self.last_entry = 0

    def teardown(self) -> None:
        self.pair.close()

    # -- drawing
    def ref(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def day(self, data: st.DataObject, after: dt.date = FIRST_DAY, label: str = "date") -> dt.date:
        span = (LAST_DAY - after).days
        offset = data.draw(
            st.one_of(st.just(0), st.integers(0, max(span, 0)), st.integers(-30, 30)), label=label
        )
        day = after + dt.timedelta(days=offset)
        return min(max(day, FIRST_DAY), LAST_DAY)

    def amount(self, data: st.DataObject, room: int, label: str = "amount") -> int:
        top = max(room, 1)
        return data.draw(
            st.one_of(
                st.integers(1, min(top, 600_00)),
                st.integers(1, min(top, LIMIT // 2)),  # two of these by one person pass the limit
                st.sampled_from([top, max(top - 1, 1), top + 1, LIMIT, LIMIT + 1]),
                st.integers(1, 10**7),
            ),
            label=label,
        )

    def people(self, data: st.DataObject, *, optional: bool = True) -> tuple[str, str | None]:
        entered = data.draw(st.sampled_from((ALICE, BOB)), label="entered_by")
        other = BOB if entered == ALICE else ALICE
        choices: list[str | None] = [other, other, *SAME_PERSON[entered], *REFUSED_NAMES[entered]]
        if optional:
            choices += [None, None]
        return entered, data.draw(st.sampled_from(choices), label="approved_by")

    def pick(
        self, data: st.DataObject, likely: Iterable[str], every: Iterable[str], label: str
    ) -> str:
        options = sorted(likely)
        anything = data.draw(st.sampled_from([False] * 4 + [True]), label=f"{label}: any")
        if not options or anything:
            options = sorted(every)
        return data.draw(st.sampled_from(options), label=label)

    # -- running an act on both ledgers and recording it in the model
    def attempt(self, what: str, act: Callable[[], object]) -> tuple[list[int], list[int]] | None:
        """Run ``act``; on refusal None (and nothing changed), else the new entry and request
        ids. Both writers must agree either way (``Pair``)."""
        before = self.pair.read(last_ids)
        try:
            act()
        except Refused as refusal:
            event(f"{what.split()[0]} refused: {refusal.kind}")
            note(f"{what}: refused: {refusal}")
            assert self.pair.read(last_ids) == before, f"refused {what} still wrote"
            return None
        event(f"{what.split()[0]} accepted")
        note(f"{what}: accepted")
        entry_id, request_id = self.pair.read(last_ids)
        return list(range(before[0] + 1, entry_id + 1)), list(range(before[1] + 1, request_id + 1))

    def approval(self, entered: str, approver: str | None, subject: Key, amount: int) -> None:
        """An act was accepted with this approver: the model's own two-person rule."""
        if approver is None:
            return
        refused = approver in REFUSED_NAMES[ALICE] + REFUSED_NAMES[BOB]
        assert not refused, f"{approver!r} is not a name anyone may approve under"
        if person(approver) == person(entered):  # what that person entered and approved
            self.model.self_approved[(*subject, person(entered))] += abs(amount)

    def posted(
        self,
        new: tuple[list[int], list[int]],
        kind: str,
        day: dt.date,
        deltas: Deltas,
        subject: Key,
    ) -> None:
        entries, requests = new
        assert len(entries) == 1 and not requests, f"{kind} posted {entries}, {requests}"
        self.model.entries[entries[0]] = EntryM(kind, day, deltas, subject)

    def waits(self, new: tuple[list[int], list[int]], request: RequestM) -> None:
        entries, requests = new
        assert len(requests) == 1 and not entries, f"{request.kind} waits as {entries}, {requests}"
        request.id = requests[0]
        self.model.requests[request.id] = request

    # -- setting up
    @initialize(data=st.data())
    def open_pots(self, data: st.DataObject) -> None:
        for name, funder, stream, year in POTS:
            amount = data.draw(st.one_of(st.just(LIMIT), st.integers(1, 5_000_00)), label=name)
            day = dt.date(year, 4, 1)
            ref = self.ref("AW")

            def award(session: Session, **kw: Any) -> object:
                return ops.record_award(
                    session,
                    reference=kw["ref"],
                    pot=kw["name"],
                    funder=kw["funder"],
                    amount_pence=kw["amount"],
                    award_date=kw["day"],
                    financial_year=kw["year"],
                    stream=kw["stream"],
                    entered_by=ALICE,
                    approved_by=BOB,
                    memo="Award",
                )

            kw = dict(
                ref=ref, name=name, funder=funder, amount=amount, day=day, year=year, stream=stream
            )
            new = self.attempt(
                f"award {amount} into {name}",
                lambda kw=kw: self.pair.both(lambda s: award(s, **kw)),  # type: ignore[misc]
            )
            assert new is not None
            self.model.pots[name] = PotM(name, year, stream)
            self.model.awards.append((name, funder, day))
            self.posted(new, "award", day, {("pot", name, "funded"): amount}, ("pot", name))
        # A year under way, so that every run reaches payments, returns, hand-backs and
        # sub-grants in its first steps. Each act is drawn as in the rules below and may be
        # refused like any other.
        for _ in range(2):
            self.receive(data)
            self.allocate(data)
        self.allocate_pooled(data)
        self.delegate(data)
        if any(p.delegation for p in self.model.pots.values()):
            self.sub_grant(data)
        for _ in range(2 if self.model.allocs else 0):
            self.pay(data)

    # -- money in
    @rule(data=st.data())
    def award(self, data: st.DataObject) -> None:
        m = self.model
        names = [*sorted(m.pots), "WFWF 2023-24\u200b", "\u0420romise 2023-24"]
        pot = data.draw(st.sampled_from(names), label="pot")
        funder = data.draw(st.sampled_from((SG, CORRA)), label="funder")
        day = self.day(data)
        amount = self.amount(data, LIMIT)
        entered, approver = self.people(data)
        ref = self.ref("AW")
        if approver is None:
            new = self.attempt(
                f"award {amount} into {pot} on {day} ({entered})",
                lambda: self.pair.both(
                    lambda s: ops.record_award(
                        s,
                        reference=ref,
                        pot=pot,
                        funder=funder,
                        amount_pence=amount,
                        award_date=day,
                        entered_by=entered,
                        memo="Award",
                    )
                ),
            )
            if new is not None:
                self.waits(new, RequestM(0, "award", amount, day, entered, pot=pot))
            return
        row = {
            "date": day.isoformat(),
            "operation": "award",
            "reference": ref,
            "pot": pot,
            "counterparty": funder,
            "amount": format_plain(amount),
        }
        new = self.attempt(
            f"award {amount} into {pot} on {day} ({entered}/{approver})",
            lambda: self.pair.imported(row, entered, approver),
        )
        if new is not None:
            self.accept_award(new, pot, funder, day, amount, entered, approver)

    def accept_award(
        self,
        new: tuple[list[int], list[int]],
        pot: str,
        funder: str,
        day: dt.date,
        amount: int,
        entered: str,
        approver: str,
    ) -> None:
        m = self.model
        assert pot in m.pots, f"an award opened {pot!r}, which looks like a pot already there"
        info = m.pots[pot]
        assert info.delegation is None, f"an award went into the delegated pot {pot}"
        year = day.year if day.month >= 4 else day.year - 1
        assert info.year == year, f"a {year} award went into the {info.year} pot {pot}"
        self.approval(entered, approver, ("pot", pot), amount)
        m.awards.append((pot, funder, day))
        self.posted(new, "award", day, {("pot", pot, "funded"): amount}, ("pot", pot))

    @rule(data=st.data())
    def receive(self, data: st.DataObject) -> None:
        m = self.model
        pot = data.draw(st.sampled_from(sorted(m.pots)), label="pot")
        own = sorted({f for p, f, _ in m.awards if p == pot})
        funder = data.draw(
            st.sampled_from(own or [SG]) | st.sampled_from((SG, CORRA)), label="funder"
        )
        firsts = [d for p, f, d in m.awards if p == pot and f == funder]
        day = self.day(data, min(firsts, default=FIRST_DAY))
        amount = self.amount(data, m.figures().get(("pot", pot, "funded"), 0))
        entered, approver = self.people(data, optional=False)
        assert approver is not None
        row = {
            "date": day.isoformat(),
            "operation": "receive",
            "reference": self.ref("RC"),
            "pot": pot,
            "counterparty": funder,
            "amount": format_plain(amount),
        }
        new = self.attempt(
            f"receive {amount} into {pot} on {day} ({entered}/{approver})",
            lambda: self.pair.imported(row, entered, approver),
        )
        if new is None:
            return
        firsts = [d for p, f, d in m.awards if p == pot and f == funder]
        assert firsts and day >= min(firsts), f"a receipt on {day} before any award from {funder}"
        self.approval(entered, approver, ("pot", pot), amount)
        deltas = {("pot", pot, "received"): amount, ("cash", pot): amount}
        self.posted(new, "receive", day, deltas, ("pot", pot))

    # -- allocations
    def allocate_from(
        self,
        data: st.DataObject,
        pots: list[str],
        to_pot: str | None = None,
        *,
        over_room: bool = False,
    ) -> None:
        """``over_room``: ask for more than the pot's room after holds, but no more than the
        money requests awaiting approval hold in it (``HoldsProbe``)."""
        m = self.model
        made = [m.allocs[m.pots[p].delegation or ""].day for p in pots if m.pots[p].delegation]
        if len(pots) > 1:  # a pooled contract: mostly after its pots' awards, within their room
            awarded = [d for p, _, d in m.awards if p in pots]
            made.append(max(awarded, default=FIRST_DAY))
        day = self.day(data, max(made, default=FIRST_DAY))
        if over_room:
            held = m.held(m.figures())[0]
            shares = [
                (
                    pot,
                    max(m.room(pot), 0)
                    + data.draw(st.integers(1, max(held.get(pot, 0), 1)), label=f"over {pot}"),
                )
                for pot in pots
            ]
        else:
            shares = [
                (
                    pot,
                    data.draw(st.integers(1, max(m.room(pot), 1)), label=f"from {pot}")
                    if len(pots) > 1 and data.draw(st.booleans(), label="within its room")
                    else self.amount(data, m.room(pot), f"from {pot}"),
                )
                for pot in pots
            ]
        entered, approver = self.people(data)
        if to_pot is not None and data.draw(st.booleans(), label="left provisional"):
            approver = None  # a delegation awaiting approval, whose pot must give nothing out
        ref = self.ref("AL")
        recipient = "CTSI" if to_pot else data.draw(st.sampled_from(RECIPIENTS), label="recipient")
        word = "delegate" if to_pot else "allocate"
        what = f"{word} {shares} as {ref} on {day} ({entered}/{approver})"
        if approver is None or len(pots) > 1:

            def act() -> object:
                return self.pair.both(
                    lambda s: ops.allocate_pooled(
                        s,
                        reference=ref,
                        shares=shares,
                        recipient=recipient,
                        date=day,
                        entered_by=entered,
                        approved_by=approver,
                        purpose="Grant",
                        to_pot=to_pot,
                    )
                )
        else:
            row = {
                "date": day.isoformat(),
                "operation": "delegate" if to_pot else "allocate",
                "reference": ref,
                "pot": pots[0],
                "counterparty": recipient,
                "amount": format_plain(shares[0][1]),
                "description": "Grant",
                "to_pot": to_pot or "",
            }

            def act() -> object:
                assert approver is not None
                self.pair.imported(row, entered, approver)
                return None

        new = self.attempt(what, act)
        if new is None:
            return
        self.delegation_confirmed(pots, word)
        status = "confirmed" if approver else "provisional"
        m.allocs[ref] = AllocM(
            ref, list(pots), [a for _, a in shares], day, status, entered, to_pot
        )
        if to_pot is not None:
            assert to_pot not in m.pots, f"delegation {ref} reused the pot {to_pot}"
            source = m.pots[pots[0]]
            m.pots[to_pot] = PotM(to_pot, source.year, source.stream, ref)
        self.approval(entered, approver, ("alloc", ref), sum(a for _, a in shares))
        deltas = m.allocation_deltas(ref, [a for _, a in shares])
        self.posted(new, "allocate", day, deltas, ("alloc", ref))

    def delegation_confirmed(self, pots: Iterable[str], what: str) -> None:
        """A sub-grant is made or approved only while its pot's delegation is confirmed."""
        m = self.model
        for pot in pots:
            delegation = m.pots[pot].delegation
            if delegation is not None:
                status = m.allocs[delegation].status
                assert status == "confirmed", f"{what} from {pot} while {delegation} is {status}"

    @rule(data=st.data())
    def allocate(self, data: st.DataObject) -> None:
        m = self.model
        top = [p for p, i in m.pots.items() if i.delegation is None]
        self.allocate_from(
            data, [self.pick(data, [p for p in top if m.room(p) > 0], m.pots, "pot")]
        )

    @precondition(lambda self: any(p.delegation for p in self.model.pots.values()))
    @rule(data=st.data())
    def sub_grant(self, data: st.DataObject) -> None:
        delegated = sorted(p for p, i in self.model.pots.items() if i.delegation)
        self.allocate_from(data, [data.draw(st.sampled_from(delegated), label="pot")])

    @rule(data=st.data())
    def allocate_pooled(self, data: st.DataObject) -> None:
        m = self.model
        top = sorted(p for p, i in m.pots.items() if i.delegation is None and m.room(p) > 0)
        every = sorted(m.pots)
        pots = data.draw(
            st.lists(
                st.sampled_from(top if len(top) >= 2 else every),
                min_size=2,
                max_size=3,
                unique=True,
            )
            | st.lists(st.sampled_from(every), min_size=2, max_size=3),
            label="pots",
        )
        self.allocate_from(data, pots)

    @rule(data=st.data())
    def delegate(self, data: st.DataObject) -> None:
        m = self.model
        top = [p for p, i in m.pots.items() if i.delegation is None]
        pot = self.pick(data, [p for p in top if m.room(p) > 0], m.pots, "pot")
        to_pot = self.pick(data, [f"CTSI pot {self.counter}"], m.pots, "to_pot")
        self.allocate_from(data, [pot], to_pot)

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def approve_allocation(self, data: st.DataObject) -> None:
        m = self.model
        ref = self.pick(
            data,
            [r for r, a in m.allocs.items() if a.status == "provisional"],
            m.allocs,
            "allocation",
        )
        info = m.allocs[ref]
        _, approver = self.people(data, optional=False)
        approver = data.draw(
            st.sampled_from([approver, *SAME_PERSON[info.entered][:2]]), label="approver"
        )
        assert approver is not None
        new = self.attempt(
            f"approve {ref} ({info.entered}/{approver})",
            lambda: self.pair.both(
                lambda s: ops.approve_allocation(s, reference=ref, approved_by=approver)
            ),
        )
        if new is None:
            return
        assert new == ([], []), f"approving {ref} wrote {new}"
        assert info.status == "provisional", f"{ref} was {info.status} and got approved"
        self.delegation_confirmed(info.pots, f"approve {ref}")
        info.status = "confirmed"
        # Confirming counts what its enterer made it for: variations have their own approvers.
        self.approval(info.entered, approver, ("alloc", ref), sum(info.weights))

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def reject_allocation(self, data: st.DataObject) -> None:
        m = self.model
        ref = self.pick(
            data,
            [r for r, a in m.allocs.items() if a.status == "provisional"],
            m.allocs,
            "allocation",
        )
        info = m.allocs[ref]
        day = self.day(data, info.day)
        release = m.unpaid_room(ref) + m.held(m.figures())[1].get(ref, 0)
        new = self.attempt(
            f"reject {ref} on {day}",
            lambda: self.pair.both(
                lambda s: ops.reject_allocation(
                    s, reference=ref, rejected_by=BOB, note="Not agreed", date=day
                )
            ),
        )
        if new is None:
            return
        assert info.status == "provisional", f"{ref} was {info.status} and got rejected"
        assert day >= info.day, f"{ref} rejected on {day}, before it was made"
        for request in m.pending():
            if request.alloc == ref:
                request.status = "rejected"
        info.status = "rejected"
        if release:
            self.posted(new, "vary", day, self.vary_deltas(ref, -release), ("alloc", ref))
        else:
            assert new == ([], [])

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        m = self.model
        confirmed = [r for r, a in m.allocs.items() if a.status == "confirmed"]
        paid_up = [r for r in confirmed if m.unpaid_room(r) == 0]  # what can close
        ref = self.pick(data, paid_up or confirmed, m.allocs, "allocation")
        new = self.attempt(
            f"close {ref}",
            lambda: self.pair.both(
                lambda s: ops.close_allocation(s, reference=ref, closed_by=BOB, reason="Finished")
            ),
        )
        if new is None:
            return
        assert new == ([], [])
        for request in m.pending():
            if request.alloc == ref:
                request.status = "rejected"
        m.allocs[ref].status = "closed"

    @precondition(lambda self: any(a.child for a in self.model.allocs.values()))
    @rule(data=st.data())
    def allow_advances(self, data: st.DataObject) -> None:
        m = self.model
        ref = data.draw(
            st.sampled_from(sorted(r for r, a in m.allocs.items() if a.child)), label="delegation"
        )
        allowed = data.draw(st.booleans(), label="allowed")
        entered, approver = self.people(data, optional=False)
        assert approver is not None
        new = self.attempt(
            f"advances {allowed} on {ref} ({entered}/{approver})",
            lambda: self.pair.both(
                lambda s: ops.allow_advances(
                    s, reference=ref, allowed=allowed, entered_by=entered, approved_by=approver
                )
            ),
        )
        if new is None:
            return
        assert person(entered) != person(approver), "advances allowed by one person alone"
        self.approval(entered, approver, ("advances", ref), 0)
        m.allocs[ref].advances = allowed

    # -- variations, payments, returns
    def vary_deltas(self, ref: str, delta: int) -> Deltas:
        return self.model.allocation_deltas(
            ref, self.model.vary_parts(self.model.figures(), ref, delta)
        )

    def on_allocation(
        self,
        data: st.DataObject,
        kind: str,
        *,
        waiting: bool = False,
        among: list[str] | None = None,
    ) -> None:
        """``waiting``: entered with no approver, so it waits; ``among``: the allocations
        likely to be picked (``HoldsProbe``)."""
        m = self.model
        fig = m.figures()
        if kind == "pay":
            likely = [
                r for r, a in m.allocs.items() if a.status == "confirmed" and m.unpaid_room(r) > 0
            ]
        elif kind == "return":
            likely = [
                r for r in m.allocs if fig[("alloc", r, "paid")] > fig[("alloc", r, "returned")]
            ]
        else:
            likely = [r for r, a in m.allocs.items() if a.status not in ("rejected", "closed")]
            pooled = [r for r in likely if len(m.allocs[r].pots) > 1]
            if pooled and data.draw(st.booleans(), label="a pooled contract"):
                likely = pooled  # where variations must split the running total exactly
        if among:
            likely = among
        ref = self.pick(data, likely, m.allocs, "allocation")
        info = m.allocs[ref]
        day = self.day(data, info.day)
        small = len(info.pots) > 1 and data.draw(st.booleans(), label="a few pence")
        if kind == "vary+":
            room = min(m.room(p) for p in info.pots)
            amount = data.draw(st.integers(1, 99)) if small else self.amount(data, room)
        elif kind == "vary-":
            room = m.unpaid_room(ref)
            amount = -(data.draw(st.integers(1, 99)) if small else self.amount(data, room))
        elif kind == "pay":
            amount = self.amount(data, m.unpaid_room(ref))
        else:
            amount = self.amount(
                data, fig[("alloc", ref, "paid")] - fig[("alloc", ref, "returned")]
            )
        op = kind[:4] if kind.startswith("vary") else kind
        entered, approver = self.people(data)
        if waiting:
            approver = None
        reference = self.ref(op.upper())
        what = f"{op} {amount} on {ref} on {day} ({entered}/{approver})"
        if approver is None:
            function = {"vary": ops.vary, "pay": ops.pay, "return": ops.return_unspent}[op]
            kwargs: dict[str, Any] = dict(
                reference=reference, allocation=ref, date=day, entered_by=entered
            )
            if op == "vary":
                kwargs.update(delta_pence=amount, reason="Changed")
            else:
                kwargs.update(amount_pence=amount, memo="Instalment")
            new = self.attempt(what, lambda: self.pair.both(lambda s: function(s, **kwargs)))
            if new is not None:
                self.check_allowed(op, ref, day)
                self.waits(new, RequestM(0, op, amount, day, entered, alloc=ref))
            return
        row = {
            "date": day.isoformat(),
            "operation": op,
            "reference": reference,
            "amount": format_plain(amount),
            "description": "Changed",
            "allocation_ref": ref,
        }
        new = self.attempt(what, lambda: self.pair.imported(row, entered, approver))
        if new is not None:
            self.carry_out(new, op, ref, amount, day, entered, approver)

    def check_allowed(self, op: str, ref: str, day: dt.date) -> None:
        info = self.model.allocs[ref]
        assert day >= info.day, f"a {op} on {ref} dated {day}, before it was made on {info.day}"
        if op in ("vary", "pay"):
            assert info.status not in ("rejected", "closed"), f"a {op} on {info.status} {ref}"

    def carry_out(
        self,
        new: tuple[list[int], list[int]],
        op: str,
        ref: str,
        amount: int,
        day: dt.date,
        entered: str,
        approver: str,
    ) -> None:
        m = self.model
        self.check_allowed(op, ref, day)
        if op == "pay":
            assert m.allocs[ref].status == "confirmed", f"paid on {m.allocs[ref].status} {ref}"
        self.approval(entered, approver, ("alloc", ref), amount)
        if op == "vary":
            deltas = self.vary_deltas(ref, amount)
        elif op == "pay":
            deltas = m.pay_deltas(ref, amount)
        else:
            deltas = m.return_deltas(ref, amount)
        self.posted(new, op, day, deltas, ("alloc", ref))

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def vary_up(self, data: st.DataObject) -> None:
        self.on_allocation(data, "vary+")

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def vary_down(self, data: st.DataObject) -> None:
        self.on_allocation(data, "vary-")

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        self.on_allocation(data, "pay")

    @precondition(lambda self: bool(self.model.allocs))
    @rule(data=st.data())
    def return_unspent(self, data: st.DataObject) -> None:
        self.on_allocation(data, "return")

    # -- requests
    @precondition(lambda self: bool(self.model.requests))
    @rule(data=st.data())
    def approve_request(self, data: st.DataObject) -> None:
        m = self.model
        ids = [str(r.id) for r in m.pending()]
        request = m.requests[int(self.pick(data, ids, map(str, m.requests), "request"))]
        approver = data.draw(
            st.sampled_from([BOB, ALICE, *SAME_PERSON[request.entered][1:3]]), label="approver"
        )
        new = self.attempt(
            f"approve request {request.id} ({request.kind} {request.amount},"
            f" {request.entered}/{approver})",
            lambda: self.pair.both(
                lambda s: ops.approve_request(s, request_id=request.id, approved_by=approver)
            ),
        )
        if new is None:
            return
        assert request.status == "pending", (
            f"request {request.id} was {request.status} and got approved"
        )
        request.status = "approved"
        if request.kind in ("vary", "pay", "return"):
            assert request.alloc is not None
            self.carry_out(
                new,
                request.kind,
                request.alloc,
                request.amount,
                request.day,
                request.entered,
                approver,
            )
        elif request.kind == "award":
            assert request.pot is not None
            self.accept_award(
                new, request.pot, SG, request.day, request.amount, request.entered, approver
            )
        elif request.kind in ("carry_forward", "hand_back"):
            assert request.pot is not None
            self.year_end(new, request, approver)
        else:
            assert request.entry is not None
            self.reversed(new, request.entry, request.entered, approver)

    @precondition(lambda self: bool(self.model.requests))
    @rule(data=st.data())
    def reject_request(self, data: st.DataObject) -> None:
        m = self.model
        ids = [str(r.id) for r in m.pending()]
        request = m.requests[int(self.pick(data, ids, map(str, m.requests), "request"))]
        new = self.attempt(
            f"reject request {request.id}",
            lambda: self.pair.both(
                lambda s: ops.reject_request(
                    s, request_id=request.id, rejected_by=BOB, note="Not agreed"
                )
            ),
        )
        if new is None:
            return
        assert request.status == "pending", f"request {request.id} was {request.status}"
        request.status = "rejected"

    # -- year end
    @rule(data=st.data())
    def carry_forward(self, data: st.DataObject) -> None:
        m = self.model
        source = self.pick(data, [p for p in m.pots if m.room(p) > 0], m.pots, "from_pot")
        target = data.draw(st.sampled_from(sorted(m.pots)), label="to_pot")
        self.leave(data, "carry_forward", source, target)

    @rule(data=st.data())
    def hand_back(self, data: st.DataObject) -> None:
        m = self.model
        pot = self.pick(data, [p for p in m.pots if m.room(p) > 0], m.pots, "pot")
        self.leave(data, "hand_back", pot, None)

    def leave(self, data: st.DataObject, kind: str, pot: str, to_pot: str | None) -> None:
        m = self.model
        day = self.day(data)
        amount = self.amount(data, m.room(pot))
        entered, approver = self.people(data)
        reference = self.ref("CF" if to_pot else "HB")

        def act(s: Session) -> object:
            if to_pot is None:
                return ops.hand_back(
                    s,
                    reference=reference,
                    pot=pot,
                    amount_pence=amount,
                    date=day,
                    entered_by=entered,
                    approved_by=approver,
                    memo="Year end",
                )
            return ops.carry_forward(
                s,
                reference=reference,
                from_pot=pot,
                to_pot=to_pot,
                amount_pence=amount,
                date=day,
                entered_by=entered,
                approved_by=approver,
                memo="Year end",
            )

        new = self.attempt(
            f"{kind} {amount} from {pot} to {to_pot} on {day} ({entered}/{approver})",
            lambda: self.pair.both(act),
        )
        if new is None:
            return
        request = RequestM(0, kind, amount, day, entered, pot=pot, to_pot=to_pot)
        if approver is None:
            self.year_end_allowed(request)
            self.waits(new, request)
        else:
            self.year_end(new, request, approver)

    def year_end_allowed(self, request: RequestM) -> None:
        m = self.model
        assert request.pot is not None
        source = m.pots[request.pot]
        assert source.delegation is None, f"{request.kind} from the delegated pot {source.name}"
        if request.to_pot is not None:
            target = m.pots[request.to_pot]
            assert target.delegation is None, f"carried into the delegated pot {target.name}"
            assert source.stream is not None and source.stream == target.stream, "across streams"
            assert target.year == source.year + 1, f"carried from {source.year} into {target.year}"
        else:
            cash = m.cash(request.pot, request.day)
            assert request.amount <= cash, f"handed back {request.amount} with {cash} cash held"

    def year_end(self, new: tuple[list[int], list[int]], request: RequestM, approver: str) -> None:
        assert request.pot is not None
        self.year_end_allowed(request)
        pot, amount = request.pot, request.amount
        self.approval(request.entered, approver, ("pot", pot), amount)
        if request.to_pot is not None:
            deltas = {
                ("pot", pot, "carried_forward"): amount,
                ("cash", pot): -amount,
                ("pot", request.to_pot, "funded"): amount,
                ("pot", request.to_pot, "carried_in"): amount,
                ("cash", request.to_pot): amount,
            }
        else:
            deltas = {("pot", pot, "handed_back"): amount, ("cash", pot): -amount}
        self.posted(new, request.kind, request.day, deltas, ("pot", pot))

    # -- corrections
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        m = self.model
        live = [str(i) for i, e in m.entries.items() if e.kind != "reversal" and not e.reversed]
        entry_id = int(self.pick(data, live, map(str, m.entries), "entry"))
        entered, approver = self.people(data)
        self.reverse_entry(entry_id, entered, approver)

    def reverse_entry(self, entry_id: int, entered: str, approver: str | None) -> None:
        m = self.model
        new = self.attempt(
            f"reverse entry {entry_id} ({m.entries[entry_id].kind}, {entered}/{approver})",
            lambda: self.pair.on_entry(
                entry_id,
                lambda s, own_id: ops.reverse(
                    s,
                    entry_id=own_id,
                    reason="Entered in error",
                    entered_by=entered,
                    approved_by=approver,
                ),
            ),
        )
        if new is None:
            return
        if approver is None:
            day = m.entries[entry_id].day
            subject = m.entries[entry_id].subject
            on = subject[1] if subject[0] == "alloc" else None  # rejected with its allocation
            self.waits(new, RequestM(0, "reverse", 0, day, entered, alloc=on, entry=entry_id))
            return
        self.reversed(new, entry_id, entered, approver)

    def reversed(
        self, new: tuple[list[int], list[int]], entry_id: int, entered: str, approver: str
    ) -> None:
        m = self.model
        target = m.entries[entry_id]
        assert target.kind != "reversal" and not target.reversed, f"entry {entry_id} reversed twice"
        if target.subject[0] == "alloc":
            status = m.allocs[target.subject[1]].status
            assert status not in ("rejected", "closed"), (
                f"reversed an entry on {status} {target.subject[1]}"
            )
        amount = sum(abs(v) for k, v in target.deltas.items() if k[0] in ("alloc",)) or max(
            (abs(v) for v in target.deltas.values()), default=0
        )
        self.approval(entered, approver, target.subject, amount)
        target.reversed = True
        self.posted(
            new, "reversal", target.day, {k: -v for k, v in target.deltas.items()}, target.subject
        )

    # -- statements as at a random date
    @rule(data=st.data())
    def statement_as_at(self, data: st.DataObject) -> None:
        m = self.model
        as_at = self.day(data, label="as at")
        top = sorted(p for p, i in m.pots.items() if i.delegation is None)
        pot = data.draw(st.sampled_from(top), label="statement of")
        statement = self.pair.read(lambda s: build_statement(s, pot, as_at=as_at))
        fig = m.figures(as_at)
        for depth, section in statement.sections():
            t = section.totals
            assert t.available_pence >= 0, (
                f"{section.pot} as at {as_at}: available {t.available_pence}"
            )
            assert t.unpaid_pence >= 0, f"{section.pot} as at {as_at}: unpaid {t.unpaid_pence}"
            assert 0 <= t.returned_pence <= t.paid_pence, (
                f"{section.pot} as at {as_at}: returned over paid"
            )
            for row in section.allocations:
                assert row.unpaid_pence >= 0, (
                    f"{row.reference} as at {as_at}: unpaid {row.unpaid_pence}"
                )
                assert 0 <= row.returned_pence <= row.paid_pence, f"{row.reference} as at {as_at}"
            if depth == 0:
                assert t.available_pence == m.available(fig, pot), (
                    pot,
                    as_at,
                    t,
                    m.available(fig, pot),
                )

    # -- after every step
    @invariant()
    def both_writers_agree_and_every_rule_holds(self) -> None:
        self.pair.identical()

        def look(
            session: Session,
        ) -> tuple[list[str], tuple[dict[Key, int], dict[str, str], dict[int, str]]]:
            return [str(p) for p in check(session).problems], ledger_figures(session)

        problems, (fig, statuses, requests) = self.pair.read(look)
        assert not problems, problems
        model = self.model.figures()
        wrong = {k: (v, model.get(k, 0)) for k, v in fig.items() if v != model.get(k, 0)}
        assert not wrong, f"ledger vs model (ledger, model): {wrong}"
        model_statuses = {r: a.status for r, a in self.model.allocs.items()}
        assert statuses == model_statuses, f"allocation statuses: ledger {statuses}"
        model_requests = {i: r.status for i, r in self.model.requests.items()}
        assert requests == model_requests, f"request statuses: ledger {requests}"
        violations = self.model.violations()
        assert not violations, violations
        self.history_stands()

    def history_stands(self) -> None:
        """What each funder's money did before the earliest entry just posted is as it was:
        a later award (or any later movement) never moves past spending between funders."""
        last = self.pair.read(last_ids)[0]
        if last == self.last_entry:
            return
        history, since = self.pair.read(lambda s: funder_history(s, self.last_entry))
        assert since is not None
        keys = {k for k in (*self.history, *history) if k[3] < since}
        moved = {
            k: (self.history.get(k, 0), history.get(k, 0))
            for k in sorted(keys)
            if self.history.get(k, 0) != history.get(k, 0)
        }
        assert not moved, f"figures dated before {since} changed (before, after): {moved}"
        self.history, self.last_entry = history, last


class HoldsProbe(Machine):
    """The machine with a probe at the edge of what requests awaiting approval hold. It enters
    a change that waits (an increase, which holds money in the pot, or a reduction, which for
    a delegation holds the intermediary's money), then at once asks for between one penny more
    than the pot's room after holds and its room before them: an allocation or sub-grant from
    the pot, or the reversal of an entry that would take the pot's money. Each must be refused.
    The plain machine rarely has a request waiting at the moment it spends up to the edge."""

    def held_pots(self) -> list[str]:
        return sorted(p for p, amount in self.model.held(self.model.figures())[0].items() if amount)

    def takes_held_money(self) -> list[int]:
        """Entries whose reversal would take available money from a pot where some is held."""
        m = self.model
        fig, held = m.figures(), self.held_pots()
        out = []
        for entry_id, entry in m.entries.items():
            if entry.kind == "reversal" or entry.reversed:
                continue
            after = dict(fig)
            for key, amount in entry.deltas.items():
                after[key] = after.get(key, 0) - amount
            if any(m.available(after, pot) < m.available(fig, pot) for pot in held):
                out.append(entry_id)
        return out

    @precondition(lambda self: any(a.status == "confirmed" for a in self.model.allocs.values()))
    @rule(data=st.data())
    def hold_then_spend(self, data: st.DataObject) -> None:
        m = self.model
        open_ = [r for r, a in m.allocs.items() if a.status == "confirmed"]
        delegations = [r for r in open_ if m.allocs[r].child is not None]
        kind = data.draw(st.sampled_from(["vary+", "vary-"]), label="a change that waits")
        among = delegations if kind == "vary-" and delegations else open_
        self.on_allocation(data, kind, waiting=True, among=among)
        held = self.held_pots()
        if not held:
            return
        reversible = self.takes_held_money()
        if reversible and data.draw(st.booleans(), label="reverse into the hold"):
            entry_id = data.draw(st.sampled_from(reversible), label="entry")
            self.reverse_entry(entry_id, ALICE, BOB)
        else:
            pot = data.draw(st.sampled_from(held), label="a pot with money held")
            self.allocate_from(data, [pot], over_room=True)


def test_the_whole_machine_keeps_every_rule_on_both_writers(ledger_pairs: LedgerPairs) -> None:
    class Run(Machine):
        pass

    Run.ledgers = ledger_pairs
    run_state_machine_as_test(Run, settings=MACHINE_SETTINGS)


def test_the_machine_with_its_holds_probes_keeps_every_rule(ledger_pairs: LedgerPairs) -> None:
    class Run(HoldsProbe):
        pass

    Run.ledgers = ledger_pairs
    run_state_machine_as_test(Run, settings=PROBE_SETTINGS)
