"""`commonpurse check` sees broken state: for each invariant of ``ledger.invariants``, a clean
ledger is broken behind the application's back with plain SQL, and `check` fails naming the
rule. Where the database itself refuses the broken state, the test says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.check import check
from tests.test_tamper import around_the_triggers

Run = Callable[[Callable[[Session], Any]], Any]
D = dt.date(2022, 10, 1)


def _ledger(s: Session) -> None:
    """A council pot with an award, an allocation part paid, a delegation with cash handed over
    and a sub-grant paid, a rejected allocation, and a pooled contract."""
    ops.set_setting(s, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")
    who = dict(entered_by="officer", approved_by="finance")
    for pot in ("WFWF", "CORRA"):
        ops.record_award(
            s,
            reference=f"AW-{pot}",
            pot=pot,
            funder="Scottish Government",
            amount_pence=10_000_000,
            award_date=dt.date(2022, 4, 1),
            memo="award",
            stream="Whole Family Wellbeing Fund" if pot == "WFWF" else None,
            **who,
        )
    ops.allocate(
        s, reference="ABER", pot="WFWF", recipient="Aberlour", amount_pence=1_000_000, date=D, **who
    )
    ops.pay(
        s, reference="ABER-P", allocation="ABER", amount_pence=400_000, date=D, memo="q1", **who
    )
    ops.allocate(
        s,
        reference="DEL",
        pot="WFWF",
        recipient="CTSI",
        amount_pence=2_000_000,
        date=D,
        to_pot="CTSI pot",
        **who,
    )
    ops.pay(
        s, reference="DEL-P", allocation="DEL", amount_pence=500_000, date=D, memo="cash", **who
    )
    ops.allocate(
        s,
        reference="SUB",
        pot="CTSI pot",
        recipient="Homestart",
        amount_pence=300_000,
        date=D,
        **who,
    )
    ops.pay(
        s, reference="SUB-P", allocation="SUB", amount_pence=300_000, date=D, memo="paid", **who
    )
    ops.allocate(
        s,
        reference="NO",
        pot="WFWF",
        recipient="Barnardo's",
        amount_pence=100_000,
        date=D,
        entered_by="officer",
    )
    ops.reject_allocation(s, reference="NO", rejected_by="finance", note="not in plan", date=D)
    ops.allocate_pooled(
        s,
        reference="POOL",
        shares=[("WFWF", 30_000), ("CORRA", 30_000)],
        recipient="Aberlour",
        date=D,
        **who,
    )
    ops.record_receipt(
        s,
        reference="CORRA-CASH",
        pot="CORRA",
        funder="Scottish Government",
        amount_pence=1_000_000,
        date=dt.date(2022, 5, 1),
        memo="BACS",
        **who,
    )
    ops.hand_back(
        s,
        reference="CORRA-BACK",
        pot="CORRA",
        amount_pence=500_000,
        date=dt.date(2023, 3, 31),
        memo="unspent",
        **who,
    )


@pytest.fixture
def ledger(run: Run) -> None:
    run(_ledger)
    report = run(check)
    assert report.ok, [str(p) for p in report.problems]


def broken(run: Run) -> list[str]:
    report = run(check)
    assert not report.ok
    return [str(p) for p in report.problems]


def names(run: Run, rule: str) -> None:
    problems = broken(run)
    assert any(rule in p for p in problems), problems


def sql(engine: Engine, statement: str, **params: object) -> None:
    with around_the_triggers(engine) as connection:
        connection.execute(text(statement), params)


def test_i5_a_pending_increase_larger_than_the_pot(ledger: None, engine: Engine, run: Run) -> None:
    sql(
        engine,
        "INSERT INTO requests (kind, content_sha256, allocation_id, amount_pence, effective_date,"
        " memo, status, entered_by, entered_at, params) SELECT 'vary', 'x', id, 99000000,"
        " '2022-10-01', 'forged', 'pending', 'mallory', '2022-10-01 00:00:00', '{}'"
        " FROM allocations WHERE reference = 'ABER'",
    )
    names(run, "I5 available after holds")


def test_i6_paid_more_than_committed_is_refused_by_the_database_itself(
    ledger: None, engine: Engine
) -> None:
    with pytest.raises(IntegrityError):
        sql(engine, "UPDATE allocations SET paid_pence = 99000000 WHERE reference = 'ABER'")


def test_i6_a_pending_payment_larger_than_what_is_unpaid(
    ledger: None, engine: Engine, run: Run
) -> None:
    sql(
        engine,
        "INSERT INTO requests (kind, content_sha256, allocation_id, amount_pence, effective_date,"
        " memo, status, entered_by, entered_at, params) SELECT 'pay', 'x', id, 900000,"
        " '2022-10-01', 'forged', 'pending', 'mallory', '2022-10-01 00:00:00', '{}'"
        " FROM allocations WHERE reference = 'ABER'",
    )
    names(run, "I6 paid within committed")


def test_i7_a_payment_moved_to_before_the_money_was_there(
    ledger: None, engine: Engine, run: Run
) -> None:
    sql(engine, "UPDATE entries SET effective_date = '2022-04-02' WHERE reference = 'SUB-P'")
    names(run, "I7 rules hold on every day")


def test_i8_a_delegated_pot_funded_apart_from_its_delegation(
    ledger: None, engine: Engine, run: Run
) -> None:
    sql(engine, "UPDATE pots SET funded_pence = funded_pence + 1 WHERE name = 'CTSI pot'")
    names(run, "I8 delegated pot funded by its delegation")


def test_i9_a_delegation_turned_provisional_under_its_sub_grant(
    ledger: None, engine: Engine, run: Run
) -> None:
    sql(
        engine,
        "UPDATE allocations SET status = 'provisional', approved_by = NULL WHERE reference = 'DEL'",
    )
    names(run, "I9 nothing given out of an unapproved delegation")


def test_i10_a_rejected_allocation_that_still_holds_money(
    ledger: None, engine: Engine, run: Run
) -> None:
    sql(engine, "UPDATE allocations SET status = 'rejected' WHERE reference = 'ABER'")
    names(run, "I10 settled allocations hold nothing")


def test_i11_an_entry_approved_by_its_own_author_under_another_spelling(
    ledger: None, engine: Engine, run: Run
) -> None:
    sql(engine, "UPDATE entries SET approved_by = 'ＯＦＦＩＣＥＲ' WHERE reference = 'ABER-P'")
    names(run, "I11 two people")


def test_i11_a_payment_with_no_approver(ledger: None, engine: Engine, run: Run) -> None:
    sql(engine, "UPDATE entries SET approved_by = NULL WHERE reference = 'ABER-P'")
    names(run, "I11 two people")


def test_i11_an_allocation_confirmed_by_the_person_who_entered_it(
    ledger: None, engine: Engine, run: Run
) -> None:
    run(
        lambda s: ops.allocate(
            s,
            reference="LATER",
            pot="WFWF",
            recipient="Aberlour",
            amount_pence=100_000,
            date=D,
            entered_by="officer",
        )
    )
    run(lambda s: ops.approve_allocation(s, reference="LATER", approved_by="finance"))
    assert run(check).ok
    sql(engine, "UPDATE allocations SET approved_by = 'Officer' WHERE reference = 'LATER'")
    names(run, "I11 two people")


def test_i12_a_pot_renamed_with_a_zero_width_space(ledger: None, engine: Engine, run: Run) -> None:
    sql(engine, "UPDATE pots SET name = :name WHERE name = 'CORRA'", name="CORRA\u200b")
    names(run, "I12 names cannot pass for one another")


def test_i12_two_pots_with_one_name_key_are_refused_by_the_database(
    ledger: None, engine: Engine
) -> None:
    with pytest.raises(IntegrityError):
        sql(engine, "UPDATE pots SET name_key = 'wfwf' WHERE name = 'CORRA'")


def test_i13_a_payment_dated_before_its_allocation(ledger: None, engine: Engine, run: Run) -> None:
    sql(engine, "UPDATE entries SET effective_date = '2022-09-01' WHERE reference = 'ABER-P'")
    names(run, "I13 dates follow dependencies")


def test_i14_a_pooled_contract_whose_shares_drifted(ledger: None, engine: Engine, run: Run) -> None:
    sql(
        engine,
        "UPDATE allocation_shares SET weight_pence = 10000 WHERE allocation_id ="
        " (SELECT id FROM allocations WHERE reference = 'POOL') AND pot_id ="
        " (SELECT id FROM pots WHERE name = 'CORRA')",
    )
    names(run, "I14 pooled splits do not drift")


def test_i15_a_hand_back_of_cash_the_pot_never_held(ledger: None, engine: Engine, run: Run) -> None:
    sql(engine, "UPDATE entries SET effective_date = '2023-04-15' WHERE reference = 'CORRA-CASH'")
    names(run, "I15 year-end moves")


def test_i16_an_award_moved_into_another_streams_pot(
    ledger: None, engine: Engine, run: Run
) -> None:
    sql(
        engine,
        "UPDATE awards SET stream_id = (SELECT stream_id FROM pots WHERE name = 'WFWF')"
        " WHERE reference = 'AW-CORRA'",
    )
    names(run, "I16 one stream per pot")
