"""The guard holds under concurrency, with real OS processes and real connections.

On PostgreSQL, writers that race for the last pounds in a pot queue on the pot's row lock
(``SELECT ... FOR UPDATE``), so they cannot both win. On SQLite every transaction begins
IMMEDIATE, so writers queue for the file behind a busy timeout, and "database is locked" never
reaches the user: a ledger held busy for too long gives ``LedgerBusy``'s plain message.

Each race runs its workers as spawned processes (``multiprocessing`` 'spawn' context), each with
its own engine from ``ledger.db.make_engine`` and each operation in ``run_in_transaction``, as the
CLI and the web do. Workers are released together by a barrier before every round and report
back what happened as plain data: the exception's type name and message, never the object.
Every wait has a time limit, so a deadlock fails the test instead of hanging CI, and every
process is joined (or killed) before the test ends.

The mixed race interleaves allocations and payments on one pot, and runs transactions of two
steps (a payment that fits, then an allocation that may not): a refused operation must leave no
entry, allocation, request, audit event or new organisation behind, not even its first step.
``tests/test_concurrency_front_doors.py`` runs the same kind of race through the CLI's import and
through the web app in a real server.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import multiprocessing
import queue
import sqlite3
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import func, make_url, or_, select
from sqlalchemy.orm import Session

from ledger import db
from ledger import operations as ops
from ledger.check import check
from ledger.errors import LedgerError
from ledger.journal import account_of
from ledger.models import (
    Allocation,
    AllocationShare,
    AuditEvent,
    Entry,
    Organisation,
    Pot,
    Request,
)
from ledger.money import format_pence
from tests.conftest import on_postgres

Run = Callable[[Callable[[Session], Any]], Any]

DAY = dt.date(2022, 10, 1)
AWARD_DATE = dt.date(2022, 4, 1)
POT_FUNDING = 100_000  # £1,000.00
STAKE = 30_000  # £300.00: three fit in £1,000.00, the fourth does not

BARRIER_TIMEOUT = 30.0  # seconds a worker waits for the others before giving up on the round
RACE_TIMEOUT = 45.0  # seconds the test waits for every outcome before killing the workers


# What a worker is asked to do, and what it reports back ---------------------------------------


@dataclass(frozen=True)
class Attempt:
    kind: str  # "allocate" (target is a pot) or "pay" (target is an allocation reference)
    target: str
    reference: str
    amount_pence: int
    entered_by: str
    recipient: str = "Aberlour"
    then: Attempt | None = None  # a further step in the same transaction: both or neither

    @property
    def steps(self) -> list[Attempt]:
        return [self, *(self.then.steps if self.then else [])]


@dataclass(frozen=True)
class Outcome:
    worker: int
    round: int
    reference: str
    error_type: str | None  # None when the operation was recorded
    message: str
    started: float  # time.monotonic() when the worker left the barrier (system-wide clock)
    finished: float

    @property
    def won(self) -> bool:
        return self.error_type is None


def _perform(session: Session, attempt: Attempt) -> None:
    if attempt.kind == "allocate":
        ops.allocate(
            session,
            reference=attempt.reference,
            pot=attempt.target,
            recipient=attempt.recipient,
            amount_pence=attempt.amount_pence,
            date=DAY,
            entered_by=attempt.entered_by,
            approved_by="finance",
            purpose="Family support",
        )
    elif attempt.kind == "pay":
        ops.pay(
            session,
            reference=attempt.reference,
            allocation=attempt.target,
            amount_pence=attempt.amount_pence,
            date=DAY,
            entered_by=attempt.entered_by,
            approved_by="finance",
            memo="Instalment",
        )
    else:  # pragma: no cover - a mistake in the test itself
        raise ValueError(attempt.kind)
    if attempt.then is not None:
        _perform(session, attempt.then)


def _worker(
    url: str,
    worker: int,
    rounds: Sequence[Sequence[Attempt]],
    barrier: Any,
    results: Any,
) -> None:
    """Runs in a spawned process: its own engine; every round waits at the barrier first."""
    engine = db.make_engine(url)
    factory = db.session_factory(engine)
    with engine.connect():  # connect (and run the SQLite PRAGMAs) before the race starts
        pass
    try:
        for number, attempts in enumerate(rounds):
            try:
                barrier.wait(BARRIER_TIMEOUT)
            except threading.BrokenBarrierError:
                now = time.monotonic()
                results.put(Outcome(worker, number, "", "BrokenBarrierError", "", now, now))
                return
            started = time.monotonic()
            for attempt in attempts:
                error_type: str | None = None
                message = ""
                try:
                    db.run_in_transaction(factory, functools.partial(_perform, attempt=attempt))
                except Exception as error:
                    error_type = type(error).__name__
                    message = str(error)
                    if not isinstance(error, LedgerError):
                        message += "\n" + traceback.format_exc()
                results.put(
                    Outcome(
                        worker,
                        number,
                        attempt.reference,
                        error_type,
                        message,
                        started,
                        time.monotonic(),
                    )
                )
    finally:
        engine.dispose()


def race(url: str, plans: Sequence[Sequence[Sequence[Attempt]]]) -> list[Outcome]:
    """Run ``plans[w]`` (a list of rounds, each a list of attempts) in worker process ``w``,
    all workers starting each round together; return every outcome, or fail the test if they
    do not all arrive in time. No worker outlives this call."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(plans))
    results = context.Queue()
    expected = sum(len(attempts) for plan in plans for attempts in plan)
    processes = [
        context.Process(
            target=_worker,
            args=(url, worker, plan, barrier, results),
            name=f"commonpurse-race-{worker}",
            daemon=True,
        )
        for worker, plan in enumerate(plans)
    ]
    outcomes: list[Outcome] = []
    try:
        for process in processes:
            process.start()
        deadline = time.monotonic() + RACE_TIMEOUT
        while len(outcomes) < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(
                    f"Only {len(outcomes)} of {expected} outcomes arrived within"
                    f" {RACE_TIMEOUT:.0f}s (deadlock or hung worker?): {outcomes}"
                )
            try:
                outcome = results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                dead = [p for p in processes if not p.is_alive() and p.exitcode != 0]
                if dead:
                    pytest.fail(
                        "A worker died: "
                        + ", ".join(f"{p.name} exit code {p.exitcode}" for p in dead)
                        + f"; outcomes so far: {outcomes}"
                    )
                continue
            assert isinstance(outcome, Outcome)
            if outcome.error_type == "BrokenBarrierError":
                pytest.fail(f"Worker {outcome.worker} gave up waiting for the others: {outcomes}")
            outcomes.append(outcome)
        for process in processes:
            process.join(timeout=10)
            assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():  # pragma: no cover - only if terminate was ignored
                process.kill()
                process.join(timeout=5)
        results.close()
        results.cancel_join_thread()
    return outcomes


def by_round(outcomes: Sequence[Outcome]) -> dict[int, list[Outcome]]:
    rounds: dict[int, list[Outcome]] = {}
    for outcome in outcomes:
        rounds.setdefault(outcome.round, []).append(outcome)
    return dict(sorted(rounds.items()))


def summary(outcomes: Sequence[Outcome]) -> str:
    """One line per round for the test log (``pytest -s`` or ``-rP``)."""
    lines = []
    for number, round_outcomes in by_round(outcomes).items():
        starts = [o.started for o in round_outcomes]
        spread_ms = (max(starts) - min(starts)) * 1000
        took_ms = (max(o.finished for o in round_outcomes) - min(starts)) * 1000
        kinds = Counter(o.error_type or "won" for o in round_outcomes)
        lines.append(
            f"round {number}: {dict(kinds)}; workers left the barrier within {spread_ms:.1f} ms,"
            f" round took {took_ms:.0f} ms"
        )
    return "\n".join(lines)


# Setup in the fixture's database --------------------------------------------------------------


def fund_pots(run: Run, names: Sequence[str], amount_pence: int = POT_FUNDING) -> None:
    def setup(s: Session) -> None:
        ops.set_setting(s, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")
        for name in names:
            ops.record_award(
                s,
                reference=f"AWARD {name}",
                pot=name,
                funder="Scottish Government",
                amount_pence=amount_pence,
                award_date=AWARD_DATE,
                entered_by="officer",
                memo=f"Award into {name}",
                approved_by="finance",
            )

    run(setup)


def confirmed_allocation(run: Run, pot: str, reference: str, amount_pence: int) -> None:
    run(
        lambda s: ops.allocate(
            s,
            reference=reference,
            pot=pot,
            recipient="Aberlour",
            amount_pence=amount_pence,
            date=DAY,
            entered_by="officer",
            approved_by="finance",
            purpose="Family support",
        )
    )


def pot_figures(run: Run, name: str) -> tuple[int, int, int]:
    """(available, allocated, number of allocations) for the pot called ``name``."""

    def read(s: Session) -> tuple[int, int, int]:
        pot = ops.find_pot(s, name)
        count = s.scalar(
            select(func.count(AllocationShare.id)).where(AllocationShare.pot_id == pot.id)
        )
        return pot.available_pence, pot.allocated_pence, int(count or 0)

    result: tuple[int, int, int] = run(read)
    return result


def assert_ledger_checks(run: Run) -> None:
    report = run(check)
    assert report.ok, [str(p) for p in report.problems]


def assert_only(outcomes: Sequence[Outcome], error_type: str, message: str) -> None:
    """Every loser failed with ``error_type`` and exactly ``message``; nothing else went wrong."""
    for outcome in outcomes:
        if not outcome.won:
            assert (outcome.error_type, outcome.message) == (error_type, message), outcome


# The races ----------------------------------------------------------------------------------

WORKERS = 8
ROUNDS = 3


def test_eight_processes_allocating_from_one_pot_only_three_fit(
    database_url: str, run: Run
) -> None:
    pots = [f"Race pot {r}" for r in range(ROUNDS)]
    fund_pots(run, pots)
    plans = [
        [
            [Attempt("allocate", pots[r], f"ALLOC r{r} w{w}", STAKE, f"officer {w}")]
            for r in range(ROUNDS)
        ]
        for w in range(WORKERS)
    ]

    outcomes = race(database_url, plans)
    print(summary(outcomes))

    for number, round_outcomes in by_round(outcomes).items():
        assert len(round_outcomes) == WORKERS
        assert sum(o.won for o in round_outcomes) == 3, round_outcomes
        assert_only(
            round_outcomes,
            "InsufficientFunds",
            f"{pots[number]} has £100.00 available; this allocation needs £300.00"
            " (short by £200.00)",
        )
        assert pot_figures(run, pots[number]) == (10_000, 90_000, 3)
    references = run(lambda s: set(s.scalars(select(Allocation.reference))))
    assert references == {o.reference for o in outcomes if o.won}
    assert_ledger_checks(run)


def test_eight_processes_paying_one_allocation_only_three_fit(database_url: str, run: Run) -> None:
    pots = [f"Race pot {r}" for r in range(ROUNDS)]
    fund_pots(run, pots)
    grants = [f"GRANT {r}" for r in range(ROUNDS)]
    for pot, grant in zip(pots, grants, strict=True):
        confirmed_allocation(run, pot, grant, POT_FUNDING)
    plans = [
        [[Attempt("pay", grants[r], f"PAY r{r} w{w}", STAKE, f"clerk {w}")] for r in range(ROUNDS)]
        for w in range(WORKERS)
    ]

    outcomes = race(database_url, plans)
    print(summary(outcomes))

    for number, round_outcomes in by_round(outcomes).items():
        assert len(round_outcomes) == WORKERS
        assert sum(o.won for o in round_outcomes) == 3, round_outcomes
        assert_only(
            round_outcomes,
            "OverCommitted",
            f"Allocation {grants[number]} has £100.00 committed and unpaid; this payment needs"
            " £300.00 (over by £200.00)",
        )

        def figures(s: Session, grant: str = grants[number]) -> tuple[int, ...]:
            allocation = ops.find_allocation(s, grant)
            payments = s.scalar(
                select(func.count(Entry.id)).where(
                    Entry.allocation_id == allocation.id, Entry.kind == "pay"
                )
            )
            pot = s.get_one(Pot, allocation.shares[0].pot_id)
            return (
                allocation.paid_pence,
                allocation.unpaid_pence,
                allocation.shares[0].paid_pence,
                pot.paid_pence,
                int(payments or 0),
            )

        assert run(figures) == (90_000, 10_000, 90_000, 90_000, 3)
    assert_ledger_checks(run)


def test_two_processes_racing_for_the_last_pounds_never_both_win(
    database_url: str, run: Run
) -> None:
    rounds = 10
    pots = [f"Last pounds {r}" for r in range(rounds)]
    fund_pots(run, pots)
    for pot in pots:  # £1,000.00 funded, £500.00 already promised: £500.00 left
        confirmed_allocation(run, pot, f"EARLIER {pot}", 50_000)
    plans = [
        [
            [Attempt("allocate", pots[r], f"LAST r{r} w{w}", STAKE, f"officer {w}")]
            for r in range(rounds)
        ]
        for w in range(2)
    ]

    outcomes = race(database_url, plans)
    print(summary(outcomes))

    rounds_seen = by_round(outcomes)
    assert len(rounds_seen) == rounds
    for number, round_outcomes in rounds_seen.items():
        assert len(round_outcomes) == 2
        assert sum(o.won for o in round_outcomes) == 1, round_outcomes
        assert_only(
            round_outcomes,
            "InsufficientFunds",
            f"{pots[number]} has £200.00 available; this allocation needs £300.00"
            " (short by £100.00)",
        )
        assert pot_figures(run, pots[number]) == (20_000, 80_000, 2)
    assert_ledger_checks(run)


# Allocations and payments interleaved on one pot ------------------------------------------------

MIXED_GRANT = 40_000  # £400.00 confirmed before the race, leaving £600.00 available
MIXED_STAKE = 20_000  # £200.00 allocated: three fit in the £600.00, the fourth does not
MIXED_INSTALMENT = 15_000  # £150.00 paid on the grant: two fit in its £400.00, the third does not
SMALL_INSTALMENT = 4_000  # £40.00: all eight would fit in the grant; the allocation decides


@dataclass(frozen=True)
class Traces:
    """What the ledger holds under one reference (and one recipient's name)."""

    entries: int
    allocations: int
    requests: int
    audit_events: int
    organisations: int


def traces(s: Session, reference: str, recipient: str | None = None) -> Traces:
    def count(query: Any) -> int:
        return int(s.scalar(query) or 0)

    mentions = f"%{reference}%"
    return Traces(
        entries=count(select(func.count(Entry.id)).where(Entry.reference == reference)),
        allocations=count(
            select(func.count(Allocation.id)).where(Allocation.reference == reference)
        ),
        requests=count(select(func.count(Request.id)).where(Request.reference == reference)),
        audit_events=count(
            select(func.count(AuditEvent.id)).where(
                or_(AuditEvent.subject.like(mentions), AuditEvent.detail.like(mentions))
            )
        ),
        organisations=count(
            select(func.count(Organisation.id)).where(Organisation.name == recipient)
        )
        if recipient
        else 0,
    )


def totals(s: Session) -> tuple[int, int, int, int]:
    """(entries, allocations, requests, audit events) in the whole ledger."""
    return (
        int(s.scalar(select(func.count(Entry.id))) or 0),
        int(s.scalar(select(func.count(Allocation.id))) or 0),
        int(s.scalar(select(func.count(Request.id))) or 0),
        int(s.scalar(select(func.count(AuditEvent.id))) or 0),
    )


@dataclass(frozen=True)
class PotState:
    funded: int
    allocated: int
    paid: int
    available: int
    available_account: int  # the journal account's balance: credit, so minus what is available


def pot_state(s: Session, name: str) -> PotState:
    pot = ops.find_pot(s, name)
    return PotState(
        funded=pot.funded_pence,
        allocated=pot.allocated_pence,
        paid=pot.paid_pence,
        available=pot.available_pence,
        available_account=account_of(s, "available", pot_id=pot.id).balance_pence,
    )


def test_eight_processes_allocating_and_paying_from_one_pot(database_url: str, run: Run) -> None:
    """Round 0: every worker allocates £200.00 from a pot with £600.00 available and pays £150.00
    on the pot's £400.00 grant, as two operations (half of them pay first), so allocations and
    payments on one pot interleave. Round 1: every worker pays £40.00 on a grant and allocates
    £200.00 from its pot in one transaction; the payment always fits, so every refused
    allocation must take its payment with it."""
    pots = ["Mixed pot", "All-or-nothing pot"]
    grants = ["MIXED GRANT", "ALL-OR-NOTHING GRANT"]
    fund_pots(run, pots)
    for pot, grant in zip(pots, grants, strict=True):
        confirmed_allocation(run, pot, grant, MIXED_GRANT)
    entries_before, allocations_before, requests_before, audit_before = run(totals)

    def allocation(r: int, w: int) -> Attempt:
        return Attempt(
            "allocate",
            pots[r],
            f"MIX ALLOC r{r} w{w}",
            MIXED_STAKE,
            f"officer {w}",
            f"Mix r{r} w{w}",
        )

    def payment(r: int, w: int, amount_pence: int) -> Attempt:
        return Attempt("pay", grants[r], f"MIX PAY r{r} w{w}", amount_pence, f"clerk {w}")

    plans: list[list[list[Attempt]]] = []
    for w in range(WORKERS):
        both = [allocation(0, w), payment(0, w, MIXED_INSTALMENT)]
        joint = replace(payment(1, w, SMALL_INSTALMENT), then=allocation(1, w))
        plans.append([both if w % 2 == 0 else both[::-1], [joint]])
    attempts = {a.reference: a for plan in plans for round_ in plan for a in round_}

    outcomes = race(database_url, plans)
    print(summary(outcomes))

    rounds = by_round(outcomes)
    allocations = [o for o in rounds[0] if attempts[o.reference].kind == "allocate"]
    payments = [o for o in rounds[0] if attempts[o.reference].kind == "pay"]
    together = rounds[1]
    assert (len(allocations), len(payments), len(together)) == (WORKERS, WORKERS, WORKERS)
    assert sum(o.won for o in allocations) == 3, allocations
    assert sum(o.won for o in payments) == 2, payments
    assert sum(o.won for o in together) == 3, together
    assert_only(
        allocations,
        "InsufficientFunds",
        "Mixed pot has £0.00 available; this allocation needs £200.00 (short by £200.00)",
    )
    assert_only(
        payments,
        "OverCommitted",
        "Allocation MIXED GRANT has £100.00 committed and unpaid; this payment needs £150.00"
        " (over by £50.00)",
    )
    assert_only(
        together,
        "InsufficientFunds",
        "All-or-nothing pot has £0.00 available; this allocation needs £200.00 (short by £200.00)",
    )

    # Every refused operation wrote nothing: not its entry, allocation, audit event or recipient,
    # and in round 1 not even the payment that came first in its transaction.
    steps = [step for o in outcomes for step in attempts[o.reference].steps]
    won = {step.reference for o in outcomes if o.won for step in attempts[o.reference].steps}
    for step in steps:
        recipient = step.recipient if step.kind == "allocate" else None
        found = run(functools.partial(traces, reference=step.reference, recipient=recipient))
        if step.reference in won:
            assert found.entries == 1, (step, found)
            assert found.organisations == (1 if step.kind == "allocate" else 0), (step, found)
        else:
            assert found == Traces(0, 0, 0, 0, 0), (step, found)
    won_allocations = sum(1 for s in steps if s.reference in won and s.kind == "allocate")
    assert run(totals) == (
        entries_before + len(won),
        allocations_before + won_allocations,
        requests_before,
        audit_before + won_allocations,  # each allocation approved on entry says so once
    )

    mixed, together_pot = run(lambda s: [pot_state(s, name) for name in pots])
    assert mixed == PotState(POT_FUNDING, POT_FUNDING, 2 * MIXED_INSTALMENT, 0, 0)
    assert together_pot == PotState(POT_FUNDING, POT_FUNDING, 3 * SMALL_INSTALMENT, 0, 0)
    unpaid = run(lambda s: [ops.find_allocation(s, g).unpaid_pence for g in grants])
    assert unpaid == [MIXED_GRANT - 2 * MIXED_INSTALMENT, MIXED_GRANT - 3 * SMALL_INSTALMENT]
    assert_ledger_checks(run)

    refusals = Counter(o.error_type for o in outcomes if not o.won)
    print(
        f"mixed race on {make_url(database_url).get_backend_name()}: {WORKERS} processes,"
        f" {len(outcomes)} attempts ({len(steps)} operations); round 0: allocations"
        f" {sum(o.won for o in allocations)}/{WORKERS} won, payments"
        f" {sum(o.won for o in payments)}/{WORKERS} won; round 1 (pay then allocate in one"
        f" transaction): {sum(o.won for o in together)}/{WORKERS} won;"
        f" refusals {sum(refusals.values())} {dict(refusals)}"
    )


# SQLite: writers queue, and "database is locked" never reaches the user ----------------------

sqlite_only = pytest.mark.skipif(
    on_postgres(), reason="SQLite's file lock and busy timeout; PostgreSQL locks rows"
)


@sqlite_only
def test_many_sqlite_writers_all_succeed_without_lock_errors(
    database_url: str, run: Run, capfd: pytest.CaptureFixture[str]
) -> None:
    operations_each = 10
    amount = 1_234  # £12.34; 80 of them (£987.20) fit in £1,000.00
    fund_pots(run, ["Busy pot"])
    plans = [
        [
            [
                Attempt("allocate", "Busy pot", f"SMALL w{w} n{n}", amount, f"officer {w}")
                for n in range(operations_each)
            ]
        ]
        for w in range(WORKERS)
    ]

    started = time.monotonic()
    outcomes = race(database_url, plans)
    elapsed = time.monotonic() - started

    captured = capfd.readouterr()  # everything the workers wrote, down to the file descriptors
    assert "locked" not in (captured.out + captured.err).lower()
    print(summary(outcomes), f"\n{len(outcomes)} operations in {elapsed:.2f}s")
    assert len(outcomes) == WORKERS * operations_each
    failures = [o for o in outcomes if not o.won]
    assert failures == []
    total = WORKERS * operations_each * amount
    assert pot_figures(run, "Busy pot") == (POT_FUNDING - total, total, WORKERS * operations_each)
    assert format_pence(total) == "£987.20"
    assert_ledger_checks(run)


@sqlite_only
def test_sqlite_held_locked_past_the_timeout_gives_ledger_busy(
    database_url: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    fund_pots(run, ["Busy pot"])
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = db.make_engine(database_url)  # picks up the short timeout
    factory = db.session_factory(engine)
    path = make_url(database_url).database
    assert path is not None

    def allocate(s: Session) -> None:
        _perform(s, Attempt("allocate", "Busy pot", "WHILE LOCKED", STAKE, "officer"))

    try:
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()
            with pytest.raises(db.LedgerBusy) as raised:
                db.run_in_transaction(factory, allocate)
            waited = time.monotonic() - started
            holder.execute("ROLLBACK")
        finally:
            holder.close()

        message = str(raised.value)
        assert message == (
            "The ledger is busy with other changes; nothing was recorded. Try again in a moment."
        )
        assert "locked" not in message.lower()
        assert 0.2 <= waited < 15, waited  # it waited out the (shortened) timeout, then gave up
        assert pot_figures(run, "Busy pot") == (POT_FUNDING, 0, 0)

        db.run_in_transaction(factory, allocate)  # once the lock is released it goes through
    finally:
        engine.dispose()
    assert pot_figures(run, "Busy pot") == (POT_FUNDING - STAKE, STAKE, 1)
    assert_ledger_checks(run)


def _with_ledger_held_locked(
    database_url: str, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> int:
    """Run the CLI while another connection holds SQLite's write lock."""
    from ledger import cli  # here, not at the top: spawned workers need not import it

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = make_url(database_url).database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        code = cli.main(["--db", database_url, *argv], out=io.StringIO())
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    return code


@sqlite_only
@pytest.mark.parametrize("argv", [["balances"], ["check"]], ids=["balances", "check"])
def test_read_outs_do_not_wait_for_a_writer_holding_the_sqlite_ledger(
    database_url: str,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    fund_pots(run, ["Busy pot"])
    code = _with_ledger_held_locked(database_url, monkeypatch, argv)
    assert code == 0, capsys.readouterr().err


@sqlite_only
def test_a_write_to_a_sqlite_ledger_held_locked_says_busy_plainly(
    database_url: str,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fund_pots(run, ["Busy pot"])
    argv = ["init", "--accountable-body", "Clackmannanshire Council"]
    code = _with_ledger_held_locked(database_url, monkeypatch, argv)
    error = capsys.readouterr().err
    assert code == 4, error  # the README's status for a database problem, not 1 (a refusal)
    assert "locked" not in error.lower(), error
    assert "The ledger is busy with other changes" in error


def test_new_recipient_from_two_pots_at_once_both_succeed(database_url: str, run: Run) -> None:
    """Locks are per pot, so allocations from different pots run side by side on PostgreSQL;
    both name the same recipient, new to the ledger. Both should be recorded."""
    rounds = 5
    fund_pots(run, [f"Pot {side} {r}" for r in range(rounds) for side in "AB"])
    plans = [
        [
            [
                Attempt(
                    "allocate",
                    f"Pot {side} {r}",
                    f"NEW r{r} {side}",
                    STAKE,
                    f"officer {side}",
                    recipient=f"New provider {r}",
                )
            ]
            for r in range(rounds)
        ]
        for side in "AB"
    ]

    outcomes = race(database_url, plans)
    print(summary(outcomes))

    assert [(o.error_type, o.message) for o in outcomes if not o.won] == []
    assert_ledger_checks(run)
