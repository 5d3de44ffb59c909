"""Tamper-evidence: the database refuses to change the journal, and ``check`` notices when
someone changed it anyway.

The first tests use raw SQL, as someone with a database client would: UPDATE and DELETE on
entries, lines and the audit log (and DELETE of the journal head) are refused by the database's
own triggers, on SQLite and on PostgreSQL, and nothing changes. The rest play an attacker who can
also change the schema: the triggers are dropped (and put back) in the same transaction as the
alteration, and ``commonpurse check`` must name the first bad entry of the hash chain.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import chain, cli
from ledger import operations as ops
from ledger.check import CheckReport, Problem, check
from ledger.demo import load_demo
from ledger.models import AuditEvent, Entry, JournalHead

Run = Callable[[Callable[[Session], Any]], Any]
GUARDED = ("entries", "lines", "audit_events", "journal_head")
ALTERED = "the journal was altered outside commonpurse"


# A small ledger: the Clackmannanshire demo, a payment, a reversal and an audit record ---------


@pytest.fixture
def ledger(run: Run) -> None:
    run(load_demo)
    run(
        lambda s: ops.pay(
            s,
            reference="ABERLOUR-PAY-1",
            allocation="WFWF-22-02",
            amount_pence=2_500_000,
            date=dt.date(2022, 10, 31),
            entered_by="officer",
            approved_by="finance",
            memo="Aberlour Sustain, instalment 1 of 4",
        )
    )
    paid = run(lambda s: s.scalars(select(Entry.id).where(Entry.reference == "ABERLOUR-PAY-1")))
    paid_id = paid.one()
    run(
        lambda s: ops.reverse(
            s,
            entry_id=paid_id,
            reason="Paid to the wrong bank account",
            entered_by="finance",
            reference="ABERLOUR-PAY-1-REVERSED",
            approved_by="officer",
        )
    )
    run(lambda s: s.add(AuditEvent(actor="finance", action="note", subject="ledger", detail="x")))
    assert_ok(run)


def assert_ok(run: Run) -> None:
    report: CheckReport = run(check)
    assert report.ok, [str(p) for p in report.problems]


def chain_problems(run: Run) -> list[Problem]:
    """The problems ``check`` reports about the hash chain (it reports at most one)."""
    report: CheckReport = run(check)
    return [p for p in report.problems if p.where.startswith(("Entry", "Journal"))]


def entries_in_chain_order(engine: Engine) -> list[tuple[int, str | None, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, reference, chain_seq FROM entries ORDER BY chain_seq")
        )
        return [(int(i), r, int(s)) for i, r, s in rows]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table: [
                tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            ]
            for table in ("entries", "lines", "audit_events", "journal_head")
        }


# The database refuses ---------------------------------------------------------------------

REFUSED = {
    "UPDATE entries SET memo = 'Paid twice' WHERE id = (SELECT min(id) FROM entries)": (
        "journal entries are append-only"
    ),
    "UPDATE entries SET amount_pence = amount_pence + 1": "journal entries are append-only",
    "DELETE FROM entries WHERE id = (SELECT max(id) FROM entries)": (
        "journal entries are append-only"
    ),
    "UPDATE lines SET amount_pence = amount_pence * 2 WHERE id = (SELECT min(id) FROM lines)": (
        "journal lines are append-only"
    ),
    "DELETE FROM lines": "journal lines are append-only",
    "UPDATE audit_events SET actor = 'someone else'": "the audit log is append-only",
    "DELETE FROM audit_events": "the audit log is append-only",
    "DELETE FROM journal_head": "the journal head records the last entry of the journal",
}


@pytest.mark.parametrize("statement", list(REFUSED))
def test_the_database_refuses_to_change_or_delete_journal_and_audit_rows(
    ledger: None, engine: Engine, run: Run, statement: str
) -> None:
    before = snapshot(engine)

    with pytest.raises(IntegrityError) as refused, engine.begin() as connection:
        connection.execute(text(statement))

    assert REFUSED[statement] in str(refused.value)
    assert snapshot(engine) == before
    assert_ok(run)


def test_a_correction_is_still_a_new_entry(ledger: None, engine: Engine, run: Run) -> None:
    """The triggers leave the ordinary way of correcting the journal open."""
    before = entries_in_chain_order(engine)
    (target,) = [entry_id for entry_id, reference, _ in before if reference == "CTSI-22-05"]
    run(
        lambda s: ops.reverse(
            s,
            entry_id=target,
            reason="Sub-grant withdrawn",
            entered_by="finance",
            approved_by="officer",
        )
    )

    after = entries_in_chain_order(engine)
    assert after[: len(before)] == before
    assert [seq for _, _, seq in after] == list(range(1, len(before) + 2))
    assert_ok(run)


# An attacker who can drop the triggers ----------------------------------------------------


@contextmanager
def around_the_triggers(engine: Engine) -> Iterator[Connection]:
    """One transaction in which the append-only triggers are out of the way: dropped and put
    back on SQLite, disabled and enabled on PostgreSQL (DDL is transactional on both)."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            triggers = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            assert len(triggers) == 7
            for name, _ in triggers:
                connection.execute(text(f"DROP TRIGGER {name}"))
            yield connection
            for _, sql in triggers:
                connection.execute(text(sql))
        else:
            for table in GUARDED:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            yield connection
            for table in GUARDED:
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def entry_at(engine: Engine, seq: int) -> tuple[int, str | None]:
    entry_id, reference, _ = entries_in_chain_order(engine)[seq - 1]
    return entry_id, reference


def test_an_untouched_ledger_checks_ok_and_its_head_names_the_last_entry(
    ledger: None, engine: Engine, run: Run
) -> None:
    assert_ok(run)
    entries = entries_in_chain_order(engine)
    assert [seq for _, _, seq in entries] == list(range(1, len(entries) + 1))
    head = run(lambda s: s.get_one(JournalHead, chain.HEAD_ID))
    last = run(lambda s: s.scalars(select(Entry).where(Entry.chain_seq == len(entries))).one())
    assert (head.last_seq, head.last_sha256) == (last.chain_seq, last.chain_sha256)


def test_an_altered_line_amount_is_named(ledger: None, engine: Engine, run: Run) -> None:
    entry_id, reference = entry_at(engine, 5)
    with around_the_triggers(engine) as connection:
        connection.execute(
            text(
                "UPDATE lines SET amount_pence = amount_pence + 100000"
                " WHERE id = (SELECT min(id) FROM lines WHERE entry_id = :entry)"
            ),
            {"entry": entry_id},
        )

    report: CheckReport = run(check)

    assert str(report.problems[0]) == (
        f"Entry {entry_id} (reference {reference}): its recorded hash does not match its"
        f" contents; {ALTERED}"
    )
    assert chain_problems(run) == [report.problems[0]]


def test_an_altered_memo_is_named(ledger: None, engine: Engine, run: Run) -> None:
    entry_id, reference = entry_at(engine, 8)
    with around_the_triggers(engine) as connection:
        connection.execute(
            text("UPDATE entries SET memo = 'Family Link Worker' WHERE id = :entry"),
            {"entry": entry_id},
        )

    report: CheckReport = run(check)

    # Only the chain can see this: balances and figures do not depend on the memo.
    assert [str(p) for p in report.problems] == [
        f"Entry {entry_id} (reference {reference}): its recorded hash does not match its"
        f" contents; {ALTERED}"
    ]


def test_an_altered_entry_with_its_hash_recomputed_breaks_the_link_to_the_next(
    ledger: None, engine: Engine, run: Run
) -> None:
    """Recomputing the altered entry's own hash moves the break to the next entry, which
    still names the original as its predecessor."""
    entries = entries_in_chain_order(engine)
    altered_id = entries[5][0]
    next_id, next_reference, _ = entries[6]
    memo = "Nothing to see here"
    sha = recomputed_hash(run, altered_id, memo=memo)
    with around_the_triggers(engine) as connection:
        connection.execute(
            text("UPDATE entries SET memo = :memo, chain_sha256 = :sha WHERE id = :entry"),
            {"memo": memo, "sha": sha, "entry": altered_id},
        )

    assert [str(p) for p in run(check).problems] == [
        f"Entry {next_id} (reference {next_reference}): its recorded hash does not match its"
        f" contents; {ALTERED}"
    ]


def recomputed_hash(run: Run, entry_id: int, *, memo: str) -> str:
    """The chain hash the entry would have with ``memo``, as an attacker would compute it."""

    def compute(s: Session) -> str:
        entry = s.get_one(Entry, entry_id)
        previous = s.scalars(
            select(Entry.chain_sha256).where(Entry.chain_seq == entry.chain_seq - 1)
        ).one()
        digest = chain.entry_digest(
            seq=entry.chain_seq,
            kind=entry.kind,
            reference=entry.reference,
            content_sha256=entry.content_sha256,
            effective_date=entry.effective_date,
            financial_year=entry.financial_year,
            amount_pence=entry.amount_pence,
            memo=memo,
            entered_by=entry.entered_by,
            approved_by=entry.approved_by,
            pot_id=entry.pot_id,
            to_pot_id=entry.to_pot_id,
            award_id=entry.award_id,
            allocation_id=entry.allocation_id,
            reverses_id=entry.reverses_id,
            lines=[(line.account_id, line.amount_pence) for line in entry.lines],
        )
        return chain.link(previous, digest)

    result: str = run(compute)
    return result


def delete_entry(connection: Connection, entry_id: int) -> None:
    connection.execute(text("DELETE FROM lines WHERE entry_id = :entry"), {"entry": entry_id})
    connection.execute(text("DELETE FROM entries WHERE id = :entry"), {"entry": entry_id})


def test_a_deleted_entry_in_the_middle_is_named_by_the_entry_after_the_gap(
    ledger: None, engine: Engine, run: Run
) -> None:
    deleted_id, _ = entry_at(engine, 9)
    next_id, next_reference = entry_at(engine, 10)
    with around_the_triggers(engine) as connection:
        delete_entry(connection, deleted_id)

    report: CheckReport = run(check)

    assert str(report.problems[0]) == (
        f"Entry {next_id} (reference {next_reference}): it is number 10 in the journal's hash"
        " chain but number 9 is missing; entries were deleted outside commonpurse"
    )
    assert chain_problems(run) == [report.problems[0]]


def test_renumbering_after_a_deletion_does_not_hide_it(
    ledger: None, engine: Engine, run: Run
) -> None:
    entries = entries_in_chain_order(engine)
    deleted_id = entries[8][0]
    next_id, next_reference, _ = entries[9]
    with around_the_triggers(engine) as connection:
        delete_entry(connection, deleted_id)
        for entry_id, _, seq in entries[9:]:
            connection.execute(
                text("UPDATE entries SET chain_seq = :seq WHERE id = :entry"),
                {"seq": seq - 1, "entry": entry_id},
            )
        connection.execute(text("UPDATE journal_head SET last_seq = last_seq - 1"))

    assert chain_problems(run) == [
        Problem(
            f"Entry {next_id} (reference {next_reference})",
            f"its recorded hash does not match its contents; {ALTERED}",
        )
    ]


def test_a_deleted_last_entry_is_noticed_by_the_journal_head(
    ledger: None, engine: Engine, run: Run
) -> None:
    entries = entries_in_chain_order(engine)
    last_id, _, last_seq = entries[-1]
    audit_id = run(lambda s: s.scalars(select(AuditEvent.id)).first())
    with around_the_triggers(engine) as connection:
        delete_entry(connection, last_id)
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": audit_id})
    new_last_id, new_last_reference, _ = entries[-2]

    report: CheckReport = run(check)

    assert str(report.problems[0]) == (
        f"Journal: its last entry should be number {last_seq} of the hash chain, but the last"
        f" one is number {last_seq - 1} (entry {new_last_id}, reference {new_last_reference});"
        f" number {last_seq} was deleted outside commonpurse"
    )
    assert chain_problems(run) == [report.problems[0]]


def test_a_missing_journal_head_is_reported_and_stops_posting(
    ledger: None, engine: Engine, run: Run
) -> None:
    with around_the_triggers(engine) as connection:
        connection.execute(text("DELETE FROM journal_head"))

    assert [str(p) for p in run(check).problems] == [
        f"Journal: the record of its last entry is missing; {ALTERED}"
    ]
    with pytest.raises(chain.JournalHeadMissing, match="nothing can be posted"):
        run(
            lambda s: ops.reverse(
                s,
                entry_id=entry_at(engine, 3)[0],
                reason="Withdrawn",
                entered_by="finance",
                approved_by="officer",
            )
        )


def test_commonpurse_check_names_the_bad_entry_and_exits_3_without_a_traceback(
    ledger: None, database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    entry_id, reference = entry_at(engine, 4)
    with around_the_triggers(engine) as connection:
        connection.execute(
            text("UPDATE entries SET approved_by = 'nobody' WHERE id = :entry"),
            {"entry": entry_id},
        )
    out = io.StringIO()

    code = cli.main(["--db", database_url, "check"], out=out)

    assert code == cli.EXIT_CHECK_FAILED == 3
    printed = out.getvalue().splitlines()
    assert printed[1:] == [
        f"PROBLEM Entry {entry_id} (reference {reference}): its recorded hash does not match"
        f" its contents; {ALTERED}",
        "1 problem(s) found.",
    ]
    assert "Traceback" not in capsys.readouterr().err


# The digest --------------------------------------------------------------------------------

ENTRY: dict[str, Any] = dict(
    seq=7,
    kind="pay",
    reference="PAY-77",
    content_sha256="c" * 64,
    effective_date=dt.date(2023, 1, 31),
    financial_year=2022,
    amount_pence=2_500_000,
    memo="Aberlour Sustain, instalment 2 of 4",
    entered_by="officer",
    approved_by="finance",
    pot_id=None,
    to_pot_id=None,
    award_id=None,
    allocation_id=2,
    reverses_id=None,
    lines=[(11, 2_500_000), (4, -2_500_000)],
)
CHANGED: dict[str, Any] = dict(
    seq=8,
    kind="vary",
    reference=None,
    content_sha256="d" * 64,
    effective_date=dt.date(2023, 2, 1),
    financial_year=2023,
    amount_pence=2_500_001,
    memo="Aberlour Sustain, instalment 2 of 4 ",
    entered_by="finance",
    approved_by=None,
    pot_id=2,
    to_pot_id=2,
    award_id=2,
    allocation_id=None,
    reverses_id=2,
    lines=[(11, 2_500_001), (4, -2_500_000)],
)


@pytest.mark.parametrize("field", list(CHANGED))
def test_every_field_of_an_entry_is_in_its_digest(field: str) -> None:
    assert chain.entry_digest(**ENTRY) != chain.entry_digest(**{**ENTRY, field: CHANGED[field]})


def test_the_digest_is_unambiguous_and_ignores_the_order_of_lines() -> None:
    digest = chain.entry_digest(**ENTRY)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert chain.entry_digest(**{**ENTRY, "lines": ENTRY["lines"][::-1]}) == digest
    # Moving characters between neighbouring text fields changes the digest.
    shifted = {**ENTRY, "entered_by": "officer|6:financ", "approved_by": "e"}
    assert chain.entry_digest(**shifted) != digest
    assert chain.entry_digest(**{**ENTRY, "reference": "-"}) != chain.entry_digest(
        **{**ENTRY, "reference": None}
    )
    assert chain.entry_digest(**{**ENTRY, "lines": [(11, 2_500_000), (4, -2_500_000)] * 2}) != (
        digest
    )


def test_only_the_date_of_the_effective_date_is_hashed_as_only_the_date_is_stored() -> None:
    at_noon = dt.datetime(2023, 1, 31, 12, 0)
    assert chain.entry_digest(**{**ENTRY, "effective_date": at_noon}) == chain.entry_digest(**ENTRY)


def test_an_empty_ledger_checks_ok_at_the_genesis_hash(run: Run) -> None:
    report: CheckReport = run(check)
    assert report.ok, [str(p) for p in report.problems]
    assert report.chain_tip == chain.GENESIS


def test_a_link_binds_the_previous_hash() -> None:
    digest = chain.entry_digest(**ENTRY)
    assert len(chain.GENESIS) == 64
    assert chain.link(chain.GENESIS, digest) != chain.link("0" * 64, digest)
    assert chain.link(chain.GENESIS, digest) == chain.link(chain.GENESIS, digest)


DIGESTED = (
    "kind",
    "reference",
    "content_sha256",
    "effective_date",
    "financial_year",
    "amount_pence",
    "memo",
    "entered_by",
    "approved_by",
    "pot_id",
    "to_pot_id",
    "award_id",
    "allocation_id",
    "reverses_id",
)


def test_the_chain_follows_posting_order(ledger: None, engine: Engine, run: Run) -> None:
    """Positions follow the order entries were posted, and each hash is the link of the one
    before with the entry's own digest, as a bulk writer would compute it from plain values."""

    def recompute(s: Session) -> list[str]:
        tip, hashes = chain.GENESIS, []
        for entry in s.scalars(select(Entry).order_by(Entry.chain_seq)):
            values = {name: getattr(entry, name) for name in DIGESTED}
            lines = [(line.account_id, line.amount_pence) for line in entry.lines]
            tip = chain.link(tip, chain.entry_digest(seq=entry.chain_seq, lines=lines, **values))
            hashes.append(tip)
        return hashes

    stored = run(lambda s: list(s.scalars(select(Entry.chain_sha256).order_by(Entry.chain_seq))))
    assert run(recompute) == stored
    assert run(check).chain_tip == stored[-1]
    ids = [entry_id for entry_id, _, _ in entries_in_chain_order(engine)]
    assert ids == sorted(ids)
