"""The bulk import engine (``ledger.bulk``) against the obvious one (``tests/import_oracle.py``).

Random files of operations, some of them refused part-way, are imported twice into fresh
ledgers: once through ``ledger.importer.import_rows`` (the batch engine) and once row by row
through ``ledger.operations``. The two ledgers must be identical, table by table and column by
column (ids, figures, balances, entries, lines, hash chain), apart from the clock; a refused file
must be refused at the same row with the same message, and write nothing. Some files are
imported in two goes, so the engine also reads back what an earlier import (or a pending
request made on the web) left in the database.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from ledger import db
from ledger import operations as ops
from ledger.check import check
from ledger.importer import HEADER, ImportRowError, import_rows
from ledger.models import Base, Entry
from ledger.money import format_plain
from tests.conftest import LedgerFactory, on_postgres
from tests.import_oracle import import_rows_one_by_one

CLOCK_COLUMNS = {"posted_at", "created_at", "approved_at", "at", "entered_at", "decided_at"}
FUNDERS = ("Scottish Government", "Corra Foundation", "The Robertson Trust")
POTS = ("WFWF 2023-24", "WFWF 2024-25", "Promise 2023-24")
RECIPIENTS = ("Aberlour", "Action for Children", "Barnardo's", "Home-Start", "Community House")


def random_rows(seed: int, count: int) -> list[list[str]]:
    """A plausible mix of operations, with some that must be refused and some replays."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    allocations: list[str] = []
    children: list[str] = []
    awarded: list[tuple[str, str]] = []

    def day() -> str:
        date = dt.date(2023, 4, 1) + dt.timedelta(days=rng.randrange(700))
        return date.isoformat() if rng.random() < 0.5 else date.strftime("%d/%m/%Y")

    def pounds(low: int, high: int) -> str:
        return format_plain(rng.randrange(low, high))

    for n in range(count):
        ref = f"R{seed}-{n}"
        choice = rng.random()
        if rows and choice < 0.04:  # the same row again: a replay, or a conflict if changed
            again = list(rng.choice(rows))
            if rng.random() < 0.3:
                again[6] = again[6] + " (changed)"
            rows.append(again)
            continue
        if not awarded or choice < 0.15:
            pot, funder = rng.choice(POTS), rng.choice(FUNDERS)
            rows.append([day(), "award", ref, pot, funder, pounds(500_000, 5_000_000), "", "", ""])
            awarded.append((pot, funder))
        elif choice < 0.22:
            pot, funder = rng.choice(awarded)
            rows.append([day(), "receive", ref, pot, funder, pounds(10_000, 2_000_000), "", "", ""])
        elif choice < 0.45:
            pot = rng.choice(list(POTS) + children)
            to_pot = ""
            operation = "allocate"
            if pot in POTS and rng.random() < 0.15:
                operation, to_pot = "delegate", f"Sub-pot {ref}"
                children.append(to_pot)
            recipient = rng.choice(RECIPIENTS)
            amount = pounds(10_000, 1_500_000)
            rows.append([day(), operation, ref, pot, recipient, amount, "Grant", "", to_pot])
            allocations.append(ref)
        elif allocations and choice < 0.8:
            rows.append(
                [day(), "pay", ref, "", "", pounds(1_000, 400_000), "", rng.choice(allocations), ""]
            )
        elif allocations and choice < 0.9:
            delta = pounds(1_000, 200_000)
            if rng.random() < 0.6:
                delta = "-" + delta
            rows.append([day(), "vary", ref, "", "", delta, "Changed", rng.choice(allocations), ""])
        elif allocations:
            rows.append(
                [day(), "return", ref, "", "", pounds(100, 50_000), "", rng.choice(allocations), ""]
            )
    return rows


TAGS = ("WFS 1", "WFS 1;2", "GC 3;Family", "XYZ 9")


def year_end_rows(seed: int, count: int) -> list[list[str]]:
    """``random_rows`` with the optional columns (Promise tags, pooled shares) and, between its
    rows, carry-forwards, hand-backs, award reductions, closes and reversals of what came
    before: many fit, many are refused (a pot without the money, an allocation still unpaid, an
    entry already reversed, a tag that is no Promise action)."""
    rng = random.Random(seed + 7919)
    rows: list[list[str]] = []
    allocations: list[str] = []
    awards: list[str] = []
    references: list[str] = []
    funded: list[tuple[str, str]] = [(POTS[0], FUNDERS[0])]

    def day() -> str:
        return (dt.date(2023, 4, 1) + dt.timedelta(days=rng.randrange(700))).isoformat()

    def pounds(low: int, high: int) -> str:
        return format_plain(rng.randrange(low, high))

    for n, base in enumerate(random_rows(seed, count)):
        rows.append([*base, "", ""])
        if base[1] in ("allocate", "delegate"):
            allocations.append(base[2])
        if base[1] == "award":
            awards.append(base[2])
            funded.append((base[3], base[4]))
        references.append(base[2])
        if rng.random() > 0.3:
            continue
        ref = f"Y{seed}-{n}"
        choice = rng.random()
        if choice < 0.15:
            pot, recipient = rng.choice(POTS), rng.choice(RECIPIENTS)
            tags = rng.choice(TAGS)
            rows.append(
                [
                    day(),
                    "allocate",
                    ref,
                    pot,
                    recipient,
                    pounds(1000, 200000),
                    "Tagged",
                    "",
                    "",
                    tags,
                    "",
                ]
            )
            allocations.append(ref)
        elif choice < 0.3:
            shares = f"{POTS[0]}={rng.randrange(1, 4)};{POTS[2]}={rng.randrange(1, 4)}"
            rows.append(
                [
                    day(),
                    "allocate",
                    ref,
                    "",
                    rng.choice(RECIPIENTS),
                    pounds(1000, 300000),
                    "Pooled",
                    "",
                    "",
                    rng.choice(("", "WFS 2")),
                    shares,
                ]
            )
            allocations.append(ref)
        elif choice < 0.45:
            rows.append(
                [
                    day(),
                    "carry_forward",
                    ref,
                    POTS[0],
                    "",
                    pounds(1000, 500000),
                    "Year end",
                    "",
                    POTS[1],
                    "",
                    "",
                ]
            )
        elif choice < 0.6:
            pot, funder = rng.choice(funded)
            if rng.random() < 0.2:
                funder = rng.choice(FUNDERS)
            rows.append(
                [
                    day(),
                    "hand_back",
                    ref,
                    pot,
                    funder,
                    pounds(100, 20000),
                    "Unspent",
                    "",
                    "",
                    "",
                    "",
                ]
            )
        elif choice < 0.75 and awards:
            rows.append(
                [
                    day(),
                    "reduce_award",
                    ref,
                    "",
                    "",
                    "-" + pounds(1000, 900000),
                    "Withdrawn",
                    rng.choice(awards),
                    "",
                    "",
                    "",
                ]
            )
        elif choice < 0.85 and allocations:
            target = rng.choice(allocations)
            if rng.random() < 0.5:  # a small grant paid in full, then closed
                target = f"{ref}-G"
                amount, made = pounds(100, 5_000), dt.date(2023, 4, 1) + dt.timedelta(days=400)
                rows.append(
                    [
                        made.isoformat(),
                        "allocate",
                        target,
                        rng.choice(POTS[:2]),
                        "Home-Start",
                        amount,
                        "Small grant",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
                rows.append(
                    [
                        (made + dt.timedelta(days=30)).isoformat(),
                        "pay",
                        f"{ref}-P",
                        "",
                        "",
                        amount,
                        "In full",
                        target,
                        "",
                        "",
                        "",
                    ]
                )
                allocations.append(target)
            rows.append([day(), "close", ref, "", "", "", "Finished", target, "", "", ""])
        elif references:
            rows.append(
                [
                    day(),
                    "reverse",
                    ref,
                    "",
                    "",
                    "",
                    "Entered in error",
                    rng.choice(references),
                    "",
                    "",
                    "",
                ]
            )
        references.append(ref)
    return rows


def as_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    header = HEADER if not rows or len(rows[0]) == len(HEADER) else (*HEADER, "tags", "shares")
    out.write(",".join(header) + "\n")
    for row in rows:
        out.write(",".join(f'"{value}"' for value in row) + "\n")
    return out.getvalue()


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, ordered by id, without the clock. On PostgreSQL the batch engine
    takes ids from the sequences in blocks, so ids are renumbered 1, 2, 3... per table (and
    every reference to them with them); what is derived from raw ids (account codes, the hash
    chain's digests) is left out there and checked by ``check`` instead."""
    renumber = engine.dialect.name == "postgresql"
    tables: dict[str, list[tuple[Any, ...]]] = {}
    ranks: dict[str, dict[int, int]] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:  # referenced tables come first
            if table.name in ("settings", "users", "alembic_version"):
                continue
            skip = CLOCK_COLUMNS | ({"code", "chain_sha256", "last_sha256"} if renumber else set())
            columns = [c for c in table.columns if c.name not in skip]
            key = list(table.primary_key.columns)
            rows = [list(row) for row in connection.execute(select(*columns).order_by(*key))]
            if renumber and "id" in table.columns:
                ranks[table.name] = {row[0]: n for n, row in enumerate(rows, 1)}
                for i, column in enumerate(columns):
                    if column.name == "id":
                        for row in rows:
                            row[i] = ranks[table.name][row[i]]
                    for fk in column.foreign_keys:
                        target = ranks.get(fk.column.table.name)
                        if target is None:  # a table the dump leaves out (users)
                            continue
                        for row in rows:
                            if row[i] is not None:
                                row[i] = target.get(row[i], ("forward", row[i]))
            tables[table.name] = [tuple(row) for row in rows]
        if renumber:
            _renumber_named_entries(tables, ranks["entries"])
        if renumber:  # pots.parent_allocation_id points at a table sorted after pots
            pots = Base.metadata.tables["pots"]
            at = [c.name for c in pots.columns if c.name not in CLOCK_COLUMNS].index(
                "parent_allocation_id"
            )
            tables["pots"] = [
                tuple(
                    ranks["allocations"][v[1]] if i == at and isinstance(v, tuple) else v
                    for i, v in enumerate(row)
                )
                for row in tables["pots"]
            ]
    return tables


NAMED_ENTRY = re.compile(r"\b([Ee])ntry (\d+)\b")


def _renumber_named_entries(tables: dict[str, list[tuple[Any, ...]]], rank: dict[int, int]) -> None:
    """A reversal names the entry it reverses by id: in its memo ("Reverses entry 6: ..."), its
    request's parameters and fingerprint, and the audit trail. Those ids are renumbered like
    the columns; a fingerprint made from an id is replaced by what it fingerprints."""

    def named(text: object) -> object:
        if not isinstance(text, str):
            return text
        return NAMED_ENTRY.sub(lambda m: f"{m[1]}ntry #{rank.get(int(m[2]), m[2])}", text)

    def columns(table: str) -> list[str]:
        return [c.name for c in Base.metadata.tables[table].columns if c.name not in CLOCK_COLUMNS]

    entry_columns = columns("entries")
    kind, memo = entry_columns.index("kind"), entry_columns.index("memo")
    content, reverses = entry_columns.index("content_sha256"), entry_columns.index("reverses_id")
    rows = []
    for row in tables["entries"]:
        values = list(row)
        values[memo] = named(values[memo])
        if values[kind] == "reversal":
            values[content] = ("reversal of", values[reverses], values[memo])
        rows.append(tuple(values))
    tables["entries"] = rows
    request_columns = columns("requests")
    params, fingerprint = request_columns.index("params"), request_columns.index("content_sha256")
    rows = []
    for row in tables["requests"]:
        values = list(row)
        loaded = json.loads(values[params]) if values[params] else None
        if isinstance(loaded, dict) and "entry" in loaded:
            loaded["entry"] = f"#{rank.get(loaded['entry'], loaded['entry'])}"
            values[params] = json.dumps(loaded, sort_keys=True)
            values[fingerprint] = ("fingerprint of", values[params])
        rows.append(tuple(named(v) for v in values))
    tables["requests"] = rows
    tables["audit_events"] = [tuple(named(v) for v in row) for row in tables["audit_events"]]


Importer = Callable[[Session, str], Any]


def by_batch(session: Session, content: str) -> Any:
    return import_rows(
        session, io.StringIO(content), source_name="f.csv", entered_by="Ops", approved_by="Fin"
    )


def one_by_one(session: Session, content: str) -> Any:
    return import_rows_one_by_one(
        session, io.StringIO(content), source_name="f.csv", entered_by="Ops", approved_by="Fin"
    )


def attempt(engine: Engine, importer: Importer, rows: list[list[str]]) -> ImportRowError | None:
    try:
        db.run_in_transaction(db.session_factory(engine), lambda s: importer(s, as_csv(rows)))
    except ImportRowError as error:
        return error
    return None


def drive(engine: Engine, importer: Importer, rows: list[list[str]]) -> list[str]:
    """Import ``rows``; at each refusal, check nothing was written, import the rows before it,
    skip it and go on. Returns the refusals, in order."""
    refusals: list[str] = []
    remaining = rows
    while remaining:
        before = dump(engine)
        error = attempt(engine, importer, remaining)
        if error is None:
            break
        assert dump(engine) == before, f"a refused import wrote something: {error}"
        refusals.append(str(error))
        bad = error.row - 2  # the header is row 1
        if bad > 0:
            assert attempt(engine, importer, remaining[:bad]) is None
        remaining = remaining[bad + 1 :]
    return refusals


def fresh(ledgers: LedgerFactory) -> Engine:
    engine = db.make_engine(ledgers.new())
    db.run_in_transaction(
        db.session_factory(engine),
        lambda s: ops.set_setting(s, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council"),
    )
    return engine


def with_pending_request(engine: Engine) -> None:
    """A variation and a payment waiting for approval, as the web app leaves them."""

    def setup(session: Session) -> None:
        for name in POTS[:2]:
            ops.record_award(
                session,
                reference=f"PENDING-AWARD-{name}",
                pot=name,
                funder=FUNDERS[0],
                amount_pence=3_000_000_00,
                award_date=dt.date(2023, 4, 1),
                entered_by="Ops",
                memo="Award",
                approved_by="Fin",
            )
        ops.allocate(
            session,
            reference="PENDING-ALLOC",
            pot=POTS[0],
            recipient=RECIPIENTS[0],
            amount_pence=1_000_000_00,
            date=dt.date(2023, 5, 1),
            entered_by="Ops",
            approved_by="Fin",
        )
        ops.vary(
            session,
            reference="PENDING-VARY",
            allocation="PENDING-ALLOC",
            delta_pence=1_500_000_00,
            date=dt.date(2023, 6, 1),
            reason="More",
            entered_by="Ops",
        )
        ops.pay(
            session,
            reference="PENDING-PAY",
            allocation="PENDING-ALLOC",
            amount_pence=600_000_00,
            date=dt.date(2023, 6, 1),
            memo="Instalment",
            entered_by="Ops",
        )

    db.run_in_transaction(db.session_factory(engine), setup)


def with_streams(engine: Engine) -> None:
    """The two WFWF pots opened as one named stream's years (as the web app and the demo open
    them; an import opens pots without a stream), so money can be carried forward."""

    def setup(session: Session) -> None:
        funder = ops.ensure_organisation(session, FUNDERS[0], ["funder"])
        ops.ensure_stream(session, "WFWF", funder)
        for name, day in ((POTS[0], dt.date(2023, 4, 1)), (POTS[1], dt.date(2024, 4, 1))):
            ops.record_award(
                session,
                reference=f"STREAM-AWARD-{name}",
                pot=name,
                funder=FUNDERS[0],
                amount_pence=1_000_000_00,
                award_date=day,
                entered_by="Ops",
                memo="Award",
                stream="WFWF",
                approved_by="Fin",
            )

    db.run_in_transaction(db.session_factory(engine), setup)


def compare(
    ledgers: LedgerFactory, stages: list[list[list[str]]], pending: bool, streams: bool = False
) -> int:
    """Import ``stages`` into two fresh ledgers, one engine each; returns rows refused."""
    results: list[tuple[list[str], dict[str, list[tuple[Any, ...]]]]] = []
    for importer in (one_by_one, by_batch):
        engine = fresh(ledgers)
        try:
            if streams:
                with_streams(engine)
            if pending:
                with_pending_request(engine)
            refusals = []
            for rows in stages:
                refusals += drive(engine, importer, rows)
            results.append((refusals, dump(engine)))
            with db.session_factory(engine)() as session:
                report = check(session)
            assert report.ok, [str(p) for p in report.problems]
        finally:
            engine.dispose()
    (oracle_refusals, oracle_dump), (batch_refusals, batch_dump) = results
    assert batch_refusals == oracle_refusals
    for table, rows in oracle_dump.items():
        assert batch_dump[table] == rows, f"table {table} differs"
    return len(batch_refusals)


SEEDS = range(4) if on_postgres() else range(16)


@pytest.mark.parametrize("seed", SEEDS)
def test_batch_import_leaves_the_same_ledger_as_operations_one_by_one(
    ledgers: LedgerFactory, seed: int
) -> None:
    rows = random_rows(seed, 80)
    # The file in two imports, then again whole (replays and refusals only), so later imports
    # read back what earlier ones wrote.
    cut = len(rows) // 2
    refused = compare(ledgers, [rows[:cut], rows[cut:], rows], pending=seed % 3 == 0)
    assert refused < len(rows) * 2


@pytest.mark.parametrize("seed", range(8))
def test_year_end_and_correction_rows_leave_the_same_ledger_as_operations_one_by_one(
    ledgers: LedgerFactory, seed: int
) -> None:
    rows = year_end_rows(seed, 60)
    cut = len(rows) // 2
    refused = compare(
        ledgers, [rows[:cut], rows[cut:], rows], pending=seed % 2 == 0, streams=seed % 2 == 1
    )
    assert refused < len(rows) * 2


def test_the_year_end_files_post_every_new_act_and_refuse_some(ledgers: LedgerFactory) -> None:
    """The generator is worth its time: between them, a few files post a tagged allocation, a
    pooled contract, a carry-forward, a hand-back, an award reduction, a close and a reversal,
    and are refused for each of them too."""
    posted: set[str] = set()
    refusals: list[str] = []
    for seed in range(200, 206):
        engine = fresh(ledgers)
        try:
            with_streams(engine)
            refusals += drive(engine, by_batch, year_end_rows(seed, 60))
            with engine.connect() as connection:
                posted |= {
                    row[0]
                    for row in connection.execute(
                        text(
                            "SELECT CASE WHEN e.kind = 'award' AND EXISTS (SELECT 1 FROM lines l"
                            " JOIN accounts a ON a.id = l.account_id WHERE l.entry_id = e.id AND"
                            " a.kind = 'receivable' AND l.amount_pence < 0) THEN 'reduce_award'"
                            " ELSE e.kind END FROM entries e"
                        )
                    )
                }
                if connection.execute(text("SELECT count(*) FROM allocation_tags")).scalar():
                    posted.add("tags")
                if connection.execute(
                    text("SELECT count(*) FROM allocations WHERE status = 'closed'")
                ).scalar():
                    posted.add("close")
                pooled = (
                    "SELECT allocation_id FROM allocation_shares GROUP BY 1 HAVING count(*) > 1"
                )
                if connection.execute(text(pooled)).first():
                    posted.add("pooled")
        finally:
            engine.dispose()
    for act in (
        "tags",
        "pooled",
        "carry_forward",
        "hand_back",
        "reduce_award",
        "close",
        "reversal",
    ):
        assert act in posted, f"no {act} was posted: {sorted(posted)}"
    text_of_all = "\n".join(refusals)
    for words in (
        "is neither a Promise Plan action code",
        "this pooled contract needs",
        "this hand-back needs",
        "has made no award into",
        "This award reduction is dated",
        "This reversal is dated",
    ):
        assert words in text_of_all, f"no refusal saying {words!r} in: {text_of_all}"


def test_the_random_files_include_refusals_of_every_kind(ledgers: LedgerFactory) -> None:
    refusals: list[str] = []
    for seed in range(100, 104):
        rows = random_rows(seed, 80)
        engine = fresh(ledgers)
        try:
            refusals += drive(engine, by_batch, rows)
        finally:
            engine.dispose()
    text_of_all = "\n".join(refusals)
    for words in ("short by", "committed and unpaid", "already used", "still to pay"):
        assert words in text_of_all, f"no refusal saying {words!r} in: {text_of_all}"


def test_rows_written_in_earlier_batches_are_taken_back_when_a_later_row_is_refused(
    ledgers: LedgerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ledger.importer.CHUNK_ROWS", 7)
    rows = [
        ["2023-04-01", "award", "A1", POTS[0], FUNDERS[0], "100000", "", "", ""],
        ["2023-05-01", "allocate", "G1", POTS[0], RECIPIENTS[0], "60000", "Grant", "", ""],
    ]
    rows += [["2023-06-01", "pay", f"P{n}", "", "", "1000", "", "G1", ""] for n in range(30)]
    rows.append(["2024-01-01", "pay", "LATE", "", "", "30000.01", "", "G1", ""])
    engine = fresh(ledgers)
    try:
        error = attempt(engine, by_batch, rows)
        assert error is not None and error.row == len(rows) + 1
        assert "G1" in str(error)
        with engine.connect() as connection:
            assert connection.execute(select(Entry.id)).first() is None
            assert connection.execute(text("SELECT count(*) FROM pots")).scalar() == 0
        assert attempt(engine, by_batch, rows[:-1]) is None
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM entries")).scalar() == 32
    finally:
        engine.dispose()


def test_money_held_by_requests_awaiting_approval_is_not_imported_away(
    ledgers: LedgerFactory,
) -> None:
    """A pending increase of £1,500,000 holds that much of the pot: an imported allocation that
    fits what is available but not what is left after the hold is refused, in the same words
    as the web app's refusal; a pending payment holds the allocation's unpaid commitment."""
    engine = fresh(ledgers)
    try:
        with_pending_request(engine)  # £3,000,000 awarded, £1,000,000 allocated, £1,500,000 held
        fits_before_hold = [
            ["2023-07-01", "allocate", "NEW", POTS[0], RECIPIENTS[1], "1000000.00", "", "", ""]
        ]
        error = attempt(engine, by_batch, fits_before_hold)
        assert error is not None
        assert str(error) == (
            "Row 2, column amount: WFWF 2023-24 has £500,000.00 available after £1,500,000.00"
            " held for changes awaiting approval; this allocation needs £1,000,000.00"
            " (short by £500,000.00)"
        )
        over_held_payment = [
            ["2023-07-01", "pay", "P", "", "", "400000.01", "", "PENDING-ALLOC", ""]
        ]
        error = attempt(engine, by_batch, over_held_payment)
        assert error is not None and "£400,000.00 committed and unpaid" in str(error)
        assert attempt(engine, by_batch, [[*fits_before_hold[0][:5], "500000", "", "", ""]]) is None
    finally:
        engine.dispose()


def test_reducing_a_fully_paid_allocation_is_refused_alike_by_both_writers(
    ledgers: LedgerFactory,
) -> None:
    """Found by the machine on PostgreSQL: an imported reduction of an allocation with nothing
    left unpaid made the batch split the cut over no unpaid money and stop with a traceback
    (ValueError), where the one-by-one writer refused it. Both now refuse it, in one message."""
    rows = [
        ["2023-04-01", "award", "A1", POTS[0], FUNDERS[0], "1000.00", "", "", ""],
        ["2023-05-01", "allocate", "G1", POTS[0], RECIPIENTS[0], "400.00", "Grant", "", ""],
        ["2023-06-01", "pay", "P1", "", "", "400.00", "", "G1", ""],
        ["2023-07-01", "vary", "V1", "", "", "-50.00", "Cut", "G1", ""],
    ]
    messages = []
    for importer in (by_batch, one_by_one):
        engine = fresh(ledgers)
        try:
            error = attempt(engine, importer, rows)
            assert error is not None and error.row == 5
            messages.append(str(error))
        finally:
            engine.dispose()
    assert messages[0] == messages[1]
    assert "G1 has £0.00 committed and unpaid; this reduction needs £50.00" in messages[0]
