"""The money rules in every state they meet: each defect a review found on the old main, at the
door where a user meets it (the API the web app calls, a CLI import, or the web), with `check`
proving the ledger clean afterwards."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from ledger import cli
from ledger import operations as ops
from ledger.check import check
from ledger.errors import (
    AllocationClosed,
    DatedTooEarly,
    InsufficientFunds,
    InvalidInput,
    NotConfirmed,
    OverReturned,
    SelfApproval,
)
from ledger.journal import FloorBreached
from ledger.models import Entry, Pot, Request

Run = Callable[[Callable[[Session], Any]], Any]
HEADER = "date,operation,reference,pot,counterparty,amount,description,allocation_ref,to_pot\n"
SG = "Scottish Government"


def award(run: Run, pot: str, pence: int, day: dt.date, reference: str, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        reference=reference,
        pot=pot,
        funder=SG,
        amount_pence=pence,
        award_date=day,
        entered_by="officer",
        approved_by="finance",
        memo="award",
    )
    args.update(kw)
    return run(lambda s: ops.record_award(s, **args))


def allocate(run: Run, reference: str, pot: str, pence: int, day: dt.date, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        reference=reference,
        pot=pot,
        recipient="Aberlour",
        amount_pence=pence,
        date=day,
        entered_by="officer",
        approved_by="finance",
    )
    args.update(kw)
    return run(lambda s: ops.allocate(s, **args))


def pay(run: Run, reference: str, allocation: str, pence: int, day: dt.date, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        reference=reference,
        allocation=allocation,
        amount_pence=pence,
        date=day,
        entered_by="finance",
        approved_by="officer",
        memo="instalment",
    )
    args.update(kw)
    return run(lambda s: ops.pay(s, **args))


def vary(run: Run, reference: str, allocation: str, pence: int, day: dt.date, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        reference=reference,
        allocation=allocation,
        delta_pence=pence,
        date=day,
        reason="change",
        entered_by="officer",
        approved_by="finance",
    )
    args.update(kw)
    return run(lambda s: ops.vary(s, **args))


def assert_checks(run: Run) -> None:
    report = run(check)
    assert report.ok, [str(p) for p in report.problems]


def stream_pots(run: Run, *names: str) -> None:
    def setup(s: Session) -> None:
        funder = ops.ensure_organisation(s, SG, ["funder"])
        stream = ops.ensure_stream(s, "Whole Family Wellbeing Fund", funder)
        for name in names:
            ops.find_pot(s, name).stream = stream

    run(setup)


@pytest.fixture
def council(run: Run) -> None:
    run(lambda s: ops.set_setting(s, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council"))


D22 = dt.date(2022, 10, 1)
D23 = dt.date(2023, 10, 1)


# 1. Carry-forward ---------------------------------------------------------------------------


def test_carry_forward_from_or_into_a_delegated_pot_is_refused(run: Run, council: None) -> None:
    award(run, "P22", 100_000, dt.date(2022, 4, 1), "A22")
    award(run, "P23", 1_000, dt.date(2023, 4, 1), "A23")
    stream_pots(run, "P22", "P23")
    allocate(run, "DEL", "P22", 100_000, D22, recipient="CTSI", to_pot="C22")
    for source, target in (("C22", "P23"), ("P22", "C22")):
        with pytest.raises(InvalidInput, match="is a delegated pot"):
            run(
                lambda s, a=source, b=target: ops.carry_forward(
                    s,
                    reference=f"CF-{a}",
                    from_pot=a,
                    to_pot=b,
                    amount_pence=100_000,
                    date=dt.date(2023, 3, 31),
                    entered_by="finance",
                    approved_by="officer",
                    memo="year end",
                )
            )
    assert_checks(run)


def test_carry_forward_between_pots_of_no_named_stream_is_refused(run: Run, council: None) -> None:
    award(run, "WFWF 2022-23", 100_000, dt.date(2022, 4, 1), "A22")
    award(run, "Corra 2023-24", 1_000, dt.date(2023, 4, 1), "A23", funder="Corra Foundation")
    with pytest.raises(InvalidInput, match="are not the same named funding stream"):
        run(
            lambda s: ops.carry_forward(
                s,
                reference="CF",
                from_pot="WFWF 2022-23",
                to_pot="Corra 2023-24",
                amount_pence=50_000,
                date=dt.date(2023, 3, 31),
                entered_by="finance",
                approved_by="officer",
                memo="year end",
            )
        )


def test_carry_forward_needs_a_second_person_and_holds_its_money_meanwhile(
    run: Run, council: None
) -> None:
    award(run, "P22", 10_000_000, dt.date(2022, 4, 1), "A22")
    award(run, "P23", 1_000, dt.date(2023, 4, 1), "A23")
    stream_pots(run, "P22", "P23")
    move: dict[str, Any] = dict(
        reference="CF",
        from_pot="P22",
        to_pot="P23",
        amount_pence=10_000_000,
        date=dt.date(2023, 3, 31),
        entered_by="finance",
        memo="year end",
    )
    with pytest.raises(SelfApproval):
        run(lambda s: ops.carry_forward(s, **move, approved_by="Finance"))
    waiting = run(lambda s: ops.carry_forward(s, **move))
    assert isinstance(waiting, Request)
    with pytest.raises(InsufficientFunds, match=re.escape("after £100,000.00 held")):
        allocate(run, "LATE", "P22", 1, dt.date(2023, 3, 1))
    run(lambda s: ops.approve_request(s, request_id=waiting.id, approved_by="officer"))
    moved = run(lambda s: ops.find_pot(s, "P23"))
    assert moved.carried_in_pence == 10_000_000
    assert_checks(run)


# 2. Provisional delegations ------------------------------------------------------------------


def test_a_provisional_delegation_gives_nothing_out_and_can_always_be_rejected(
    run: Run, council: None
) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "DEL", "P", 100_000, D22, recipient="CTSI", to_pot="C", approved_by=None)
    with pytest.raises(NotConfirmed, match="delegation DEL, which is awaiting approval"):
        allocate(run, "SUB", "C", 40_000, D22, recipient="Homestart", entered_by="ctsi")
    run(lambda s: ops.reject_allocation(s, reference="DEL", rejected_by="finance", note="no"))
    assert run(lambda s: ops.find_pot(s, "P")).available_pence == 100_000
    assert_checks(run)


def test_a_sub_grant_awaiting_approval_cannot_be_approved_before_its_delegation(
    run: Run, council: None
) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "DEL", "P", 100_000, D22, recipient="CTSI", to_pot="C")
    allocate(run, "SUB", "C", 40_000, D22, recipient="Homestart", approved_by=None)
    # A delegation cannot go back to provisional, so the sub-grant is approvable as normal.
    run(lambda s: ops.approve_allocation(s, reference="SUB", approved_by="ctsi.manager"))
    assert run(lambda s: ops.find_allocation(s, "SUB")).status == "confirmed"


# 3. Rejected allocations ---------------------------------------------------------------------


def test_a_rejected_allocation_takes_no_variation(run: Run, council: None) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "R", "P", 10_000, D22, approved_by=None)
    run(lambda s: ops.reject_allocation(s, reference="R", rejected_by="finance", note="no"))
    with pytest.raises(AllocationClosed, match="R was rejected; it takes no variation"):
        vary(run, "V", "R", 10_000, D22, approved_by=None)
    assert_checks(run)


# 4. Reversals --------------------------------------------------------------------------------


def test_a_payment_on_a_closed_allocation_cannot_be_reversed(run: Run, council: None) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "C", "P", 60_000, D22)
    payment = pay(run, "PAY", "C", 60_000, D22)
    run(lambda s: ops.close_allocation(s, reference="C", closed_by="finance", reason="done"))
    with pytest.raises(AllocationClosed, match="C is closed"):
        run(
            lambda s: ops.reverse(
                s, entry_id=payment.id, reason="x", entered_by="finance", approved_by="officer"
            )
        )


def test_a_reversal_needs_a_second_person(run: Run, council: None) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "C", "P", 60_000, D22)
    cut = vary(run, "CUT", "C", -20_000, D22)
    waiting = run(lambda s: ops.reverse(s, entry_id=cut.id, reason="undo", entered_by="finance"))
    assert isinstance(waiting, Request)
    assert run(lambda s: ops.find_allocation(s, "C")).allocated_pence == 40_000
    with pytest.raises(SelfApproval):
        run(lambda s: ops.approve_request(s, request_id=waiting.id, approved_by="finance"))
    run(lambda s: ops.approve_request(s, request_id=waiting.id, approved_by="officer"))
    assert run(lambda s: ops.find_allocation(s, "C")).allocated_pence == 60_000
    assert_checks(run)


def test_an_award_cannot_be_reversed_while_a_pending_increase_holds_its_money(
    run: Run, council: None
) -> None:
    first = award(run, "P", 100_000, dt.date(2022, 4, 1), "A1")
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A2")
    allocate(run, "C", "P", 100_000, D22)
    vary(run, "UP", "C", 100_000, D22, approved_by=None)
    with pytest.raises(InsufficientFunds, match=re.escape("after £1,000.00 held")):
        run(
            lambda s: ops.reverse(
                s, entry_id=first.id, reason="x", entered_by="finance", approved_by="officer"
            )
        )
    assert_checks(run)


# 5. A pending reduction of a delegation ------------------------------------------------------


def test_a_pending_clawback_holds_the_intermediarys_money(run: Run, council: None) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "DEL", "P", 100_000, D22, recipient="CTSI", to_pot="C")
    vary(run, "CLAW", "DEL", -60_000, D22, approved_by=None)
    with pytest.raises(
        InsufficientFunds, match=re.escape("C has £400.00 available after £600.00 held")
    ):
        allocate(run, "SUB", "C", 50_000, D22, recipient="Homestart")
    request = run(lambda s: s.scalars(select(Request).where(Request.reference == "CLAW")).one())
    run(lambda s: ops.approve_request(s, request_id=request.id, approved_by="finance"))
    assert_checks(run)


# 6. The self-approval limit is a running total -----------------------------------------------


def test_one_person_cannot_split_past_the_limit_in_one_import(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: Engine
) -> None:
    url = database_url
    assert (
        _cli(url, "init", "--accountable-body", "Council", "--self-approval-limit", "500")[0] == 0
    )
    setup = tmp_path / "setup.csv"
    setup.write_text(HEADER + "01/04/2022,award,A,P,Scottish Government,10000,,,\n")
    assert _cli(url, "--user", "bob", "import", str(setup), "--approved-by", "finance")[0] == 0
    alone = tmp_path / "alice.csv"
    alone.write_text(
        HEADER
        + "01/10/2022,allocate,AL,P,Homestart,500,,,\n"
        + "02/10/2022,vary,V1,,,400,more,AL,\n"
        + "03/10/2022,vary,V2,,,400,more,AL,\n"
    )
    code, err = _cli(url, "--user", "alice", "import", str(alone), "--approved-by", "alice")
    assert code == 1
    assert "Row 3" in err and "on top of £500.00 they have already entered and approved" in err
    assert _count(engine, "allocations") == 0


def _cli(url: str, *argv: str) -> tuple[int, str]:
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["--db", url, *argv], out=io.StringIO())
    return code, err.getvalue()


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# 7. Look-alike names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "approver",
    ["ａｌｉｃｅ", "ALİCE", "Alice "],
    ids=["full-width", "dotted-capital-i", "case-and-space"],
)
def test_alice_cannot_approve_her_own_entry_under_another_spelling(
    run: Run, council: None, approver: str
) -> None:
    award(run, "P", 10_000_000, dt.date(2022, 4, 1), "A")
    with pytest.raises(SelfApproval):
        allocate(run, "X", "P", 10_000_000, D22, entered_by="alice", approved_by=approver)


@pytest.mark.parametrize(
    "approver", ["alice\u200b", "\u0430lice"], ids=["zero-width-space", "cyrillic-a"]
)
def test_an_approver_name_that_could_pass_for_another_is_refused(
    run: Run, council: None, approver: str
) -> None:
    award(run, "P", 10_000_000, dt.date(2022, 4, 1), "A")
    with pytest.raises(InvalidInput, match=r"invisible|alphabets"):
        allocate(run, "X", "P", 10_000_000, D22, entered_by="alice", approved_by=approver)


def test_a_pot_that_looks_like_another_cannot_be_opened(run: Run, council: None) -> None:
    award(run, "P", 1_000, dt.date(2022, 4, 1), "A")
    with pytest.raises(InvalidInput, match="invisible"):
        award(run, "P\u200b", 1_000, dt.date(2022, 4, 1), "B")
    with pytest.raises(InvalidInput, match="looks the same as the existing pot 'P'"):
        award(run, "\u0420", 1_000, dt.date(2022, 4, 1), "C")  # Cyrillic capital ER
    assert run(lambda s: s.scalar(select(func.count(Pot.id)))) == 1


# 8. Dates in impossible orders ---------------------------------------------------------------


def test_nothing_is_dated_before_what_it_depends_on(run: Run, council: None) -> None:
    award(run, "P", 1_000_000, dt.date(2022, 4, 1), "A")
    allocate(run, "C", "P", 600_000, D22)
    with pytest.raises(DatedTooEarly, match="payment is dated 30/09/2022, before allocation C"):
        pay(run, "PAY", "C", 1_000, dt.date(2022, 9, 30))
    with pytest.raises(DatedTooEarly, match="variation is dated 30/09/2022"):
        vary(run, "V", "C", 1_000, dt.date(2022, 9, 30))
    with pytest.raises(DatedTooEarly, match="receipt is dated 31/03/2022"):
        run(
            lambda s: ops.record_receipt(
                s,
                reference="R",
                pot="P",
                funder=SG,
                amount_pence=1,
                date=dt.date(2022, 3, 31),
                entered_by="finance",
                approved_by="officer",
                memo="early",
            )
        )
    with pytest.raises(InvalidInput, match="belongs in that year's pot"):
        award(run, "P", 1_000, dt.date(2025, 5, 1), "LATE")
    assert_checks(run)


# 9. Pooled variations do not drift -----------------------------------------------------------


def test_twelve_uplifts_on_a_three_way_contract_leave_each_funder_an_exact_third(
    run: Run, council: None
) -> None:
    for name in ("A", "B", "C"):
        award(run, name, 1_000_000, dt.date(2022, 4, 1), f"AW-{name}")
    run(
        lambda s: ops.allocate_pooled(
            s,
            reference="POOL",
            shares=[("A", 30_000), ("B", 30_000), ("C", 30_000)],
            recipient="Aberlour",
            date=D22,
            entered_by="officer",
            approved_by="finance",
        )
    )
    for month in range(12):
        vary(run, f"UP{month}", "POOL", 10_000, D22)
    shares = run(lambda s: [sh.allocated_pence for sh in ops.find_allocation(s, "POOL").shares])
    assert shares == [70_000, 70_000, 70_000]
    assert_checks(run)


# 10. Closing rejects what is pending ---------------------------------------------------------


def test_closing_an_allocation_rejects_its_pending_increase(run: Run, council: None) -> None:
    award(run, "P", 10_000_000, dt.date(2022, 4, 1), "A")
    allocate(run, "C", "P", 100_000, D22)
    pay(run, "PAY", "C", 100_000, D22)
    vary(run, "UP", "C", 4_900_000, D22, approved_by=None)
    run(lambda s: ops.close_allocation(s, reference="C", closed_by="finance", reason="done"))
    up = run(lambda s: s.scalars(select(Request).where(Request.reference == "UP")).one())
    assert up.status == "rejected"
    assert run(lambda s: ops.available_after_holds(s, ops.find_pot(s, "P"))) == 9_900_000
    assert_checks(run)


def test_a_closed_allocation_may_still_have_an_underspend_returned(run: Run, council: None) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "C", "P", 60_000, D22)
    pay(run, "PAY", "C", 60_000, D22)
    run(lambda s: ops.close_allocation(s, reference="C", closed_by="finance", reason="done"))
    back = run(
        lambda s: ops.return_unspent(
            s,
            reference="RET",
            allocation="C",
            amount_pence=5_000,
            date=D23,
            entered_by="finance",
            memo="underspend in the final report",
        )
    )
    assert isinstance(back, Request)
    assert_checks(run)  # a return waiting on a closed allocation holds nothing back
    with pytest.raises(AllocationClosed):
        pay(run, "MORE", "C", 1, D23)
    run(lambda s: ops.approve_request(s, request_id=back.id, approved_by="officer"))
    assert run(lambda s: ops.find_pot(s, "P")).available_pence == 45_000
    assert_checks(run)


# 11. Hand-back -------------------------------------------------------------------------------


def test_a_hand_back_needs_a_second_person_and_the_cash(run: Run, council: None) -> None:
    award(run, "P", 5_000_000, dt.date(2022, 4, 1), "A")
    back: dict[str, Any] = dict(
        reference="HB",
        pot="P",
        amount_pence=5_000_000,
        date=dt.date(2023, 3, 31),
        entered_by="finance",
        memo="unspent",
    )
    with pytest.raises(InsufficientFunds, match=re.escape("P has £0.00 cash held on 31/03/2023")):
        run(lambda s: ops.hand_back(s, **back, approved_by="officer"))
    run(
        lambda s: ops.record_receipt(
            s,
            reference="CASH",
            pot="P",
            funder=SG,
            amount_pence=5_000_000,
            date=dt.date(2022, 5, 1),
            entered_by="finance",
            approved_by="officer",
            memo="BACS",
        )
    )
    waiting = run(lambda s: ops.hand_back(s, **back))
    assert isinstance(waiting, Request)
    assert run(lambda s: ops.find_pot(s, "P")).handed_back_pence == 0
    run(lambda s: ops.approve_request(s, request_id=waiting.id, approved_by="officer"))
    assert run(lambda s: ops.find_pot(s, "P")).handed_back_pence == 5_000_000
    assert_checks(run)


def _cash_in(run: Run, pot: str, pence: int, day: dt.date, reference: str) -> Any:
    return run(
        lambda s: ops.record_receipt(
            s,
            reference=reference,
            pot=pot,
            funder=SG,
            amount_pence=pence,
            date=day,
            entered_by="finance",
            approved_by="officer",
            memo="BACS",
        )
    )


def _hand_back(run: Run, reference: str, pence: int, day: dt.date) -> Any:
    return run(
        lambda s: ops.hand_back(
            s,
            reference=reference,
            pot="P",
            amount_pence=pence,
            date=day,
            entered_by="finance",
            approved_by="officer",
            memo="unspent",
        )
    )


HANDED_BACK = "P has £0.00 cash held after money was handed back on 02/07/2024"


def test_an_earlier_dated_hand_back_cannot_take_cash_a_later_one_already_handed_back(
    run: Run, council: None
) -> None:
    award(run, "P", 10_000, dt.date(2024, 4, 1), "A")
    _cash_in(run, "P", 2_114, dt.date(2024, 5, 1), "CASH")
    _hand_back(run, "HB1", 2_114, dt.date(2024, 7, 2))
    # On 11/06/2024 the pot held £21.14 of the £100.00 awarded, but all of that cash went back
    # on 02/07/2024.
    with pytest.raises(InsufficientFunds, match=re.escape(HANDED_BACK)):
        _hand_back(run, "HB2", 794, dt.date(2024, 6, 11))
    assert run(lambda s: ops.find_pot(s, "P")).handed_back_pence == 2_114
    assert_checks(run)


def test_a_receipt_cannot_be_reversed_from_under_a_hand_back(run: Run, council: None) -> None:
    award(run, "P", 2_114, dt.date(2024, 4, 1), "A")
    cash = _cash_in(run, "P", 2_114, dt.date(2024, 5, 1), "CASH")
    _hand_back(run, "HB", 2_114, dt.date(2024, 7, 2))
    waiting = run(
        lambda s: ops.reverse(s, entry_id=cash.id, reason="bounced", entered_by="finance")
    )
    with pytest.raises(InsufficientFunds, match=re.escape(HANDED_BACK)):
        run(lambda s: ops.approve_request(s, request_id=waiting.id, approved_by="officer"))
    assert run(lambda s: ops.find_pot(s, "P")).received_pence == 2_114
    assert_checks(run)


def test_a_payment_dated_before_a_hand_back_cannot_take_the_cash_it_handed_back(
    database_url: str, tmp_path: Path, run: Run
) -> None:
    assert _cli(database_url, "init", "--accountable-body", "Council")[0] == 0
    award(run, "P", 100_000, dt.date(2024, 4, 1), "A")
    _cash_in(run, "P", 50_000, dt.date(2024, 5, 1), "CASH")
    allocate(run, "C", "P", 60_000, dt.date(2024, 5, 2))
    # The council may pay ahead of the funder's cash, but not with cash it has handed back:
    # £400.00 unallocated went back on 02/07/2024, leaving £100.00 of cash in the pot.
    _hand_back(run, "HB", 40_000, dt.date(2024, 7, 2))
    short = "P has £100.00 cash held after money was handed back on 02/07/2024; this payment"
    rows = tmp_path / "pay.csv"
    rows.write_text(HEADER + "01/06/2024,pay,PAY1,,,200.00,instalment,C,\n")
    code, err = _cli(
        database_url, "--user", "finance", "import", str(rows), "--approved-by", "officer"
    )
    assert code == 1
    assert "Row 2" in err and short in err and "(short by £100.00)" in err
    with pytest.raises(InsufficientFunds, match=re.escape(short)):
        pay(run, "PAY1", "C", 20_000, dt.date(2024, 6, 1))
    rows.write_text(HEADER + "01/06/2024,pay,PAY1,,,100.00,instalment,C,\n")
    assert (
        _cli(database_url, "--user", "finance", "import", str(rows), "--approved-by", "officer")[0]
        == 0
    )
    pay(run, "PAY2", "C", 50_000, dt.date(2024, 7, 3))  # after the hand-back: paid ahead
    assert run(lambda s: ops.find_allocation(s, "C")).paid_pence == 60_000
    assert_checks(run)


def test_approving_ones_own_allocation_counts_towards_the_self_approval_limit(
    run: Run, council: None
) -> None:
    run(lambda s: ops.set_setting(s, ops.SELF_APPROVAL_LIMIT, "50000"))
    award(run, "P", 100_000, dt.date(2024, 4, 1), "A")
    allocate(run, "C", "P", 30_766, dt.date(2024, 5, 1), entered_by="alice", approved_by=None)
    run(lambda s: ops.approve_allocation(s, reference="C", approved_by="alice"))
    made = run(lambda s: s.scalars(select(Entry).where(Entry.kind == "allocate")).one())
    with pytest.raises(SelfApproval, match=re.escape("on top of £307.66 they have already")):
        run(
            lambda s: ops.reverse(
                s, entry_id=made.id, reason="undo", entered_by="alice", approved_by="alice"
            )
        )
    with pytest.raises(SelfApproval):
        vary(run, "UP", "C", 20_000, dt.date(2024, 5, 2), entered_by="alice", approved_by="alice")
    vary(run, "UP", "C", 19_234, dt.date(2024, 5, 2), entered_by="alice", approved_by="alice")
    assert run(lambda s: ops.find_allocation(s, "C")).allocated_pence == 50_000
    assert_checks(run)


# 15. Back-dated movements are checked at their own date --------------------------------------


def test_a_back_dated_allocation_is_checked_against_the_money_on_its_day(
    run: Run, council: None
) -> None:
    award(run, "P", 100_000, dt.date(2023, 5, 1), "A1")
    award(run, "P", 50_000, dt.date(2023, 6, 1), "A2")
    with pytest.raises(
        InsufficientFunds, match=re.escape("P has £1,000.00 available on 15/05/2023")
    ):
        allocate(run, "EARLY", "P", 120_000, dt.date(2023, 5, 15))
    allocate(run, "LATER", "P", 120_000, dt.date(2023, 6, 15))
    assert_checks(run)


def test_a_return_dated_before_its_payment_is_refused(run: Run, council: None) -> None:
    award(run, "P", 100_000, dt.date(2023, 5, 1), "A1")
    allocate(run, "C", "P", 50_000, dt.date(2023, 5, 2))
    pay(run, "PAY", "C", 20_000, dt.date(2023, 9, 1))
    with pytest.raises(OverReturned):
        run(
            lambda s: ops.return_unspent(
                s,
                reference="RET",
                allocation="C",
                amount_pence=20_000,
                date=dt.date(2023, 8, 1),
                entered_by="finance",
                approved_by="officer",
                memo="underspend",
            )
        )
    assert_checks(run)


def test_a_back_dated_reversal_cannot_leave_a_pot_overspent_on_a_later_day(
    run: Run, council: None
) -> None:
    award(run, "P", 100_000, dt.date(2023, 5, 1), "A1")
    allocate(run, "C", "P", 100_000, dt.date(2023, 6, 1))
    cut = vary(run, "CUT", "C", -50_000, dt.date(2023, 7, 1))
    allocate(run, "D", "P", 50_000, dt.date(2023, 8, 1))
    with pytest.raises((InsufficientFunds, FloorBreached)):
        run(
            lambda s: ops.reverse(
                s, entry_id=cut.id, reason="undo", entered_by="finance", approved_by="officer"
            )
        )
    assert_checks(run)


# 17. An intermediary pays only with cash it holds --------------------------------------------


def test_an_intermediary_cannot_pay_with_cash_it_was_never_handed(run: Run, council: None) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "DEL", "P", 100_000, D22, recipient="CTSI", to_pot="C")
    allocate(run, "SUB", "C", 40_000, D22, recipient="Homestart")
    with pytest.raises(InsufficientFunds, match=re.escape("C has £0.00 cash held")):
        pay(run, "SUB-PAY", "SUB", 40_000, D22)
    pay(run, "HANDOVER", "DEL", 40_000, D22)
    pay(run, "SUB-PAY", "SUB", 40_000, D22)
    assert run(lambda s: ops.find_pot(s, "C")).paid_pence == 40_000
    assert_checks(run)


def test_an_intermediary_may_pay_ahead_when_its_delegation_allows_advances(
    run: Run, council: None
) -> None:
    award(run, "P", 100_000, dt.date(2022, 4, 1), "A")
    allocate(run, "DEL", "P", 100_000, D22, recipient="CTSI", to_pot="C")
    allocate(run, "SUB", "C", 40_000, D22, recipient="Homestart")
    with pytest.raises(SelfApproval):
        run(
            lambda s: ops.allow_advances(
                s, reference="DEL", allowed=True, entered_by="finance", approved_by="finance"
            )
        )
    run(
        lambda s: ops.allow_advances(
            s, reference="DEL", allowed=True, entered_by="officer", approved_by="finance"
        )
    )
    pay(run, "SUB-PAY", "SUB", 40_000, D22)
    assert_checks(run)


# 12. and the web: nothing is approved by someone who did nothing -----------------------------


def test_an_award_entered_alone_waits_and_is_recorded_by_nobody(run: Run, council: None) -> None:
    waiting = award(run, "P", 100_000, dt.date(2022, 4, 1), "A", approved_by=None)
    assert isinstance(waiting, Request)
    assert run(lambda s: s.scalar(select(func.count(Entry.id)))) == 0
    entry = run(lambda s: ops.approve_request(s, request_id=waiting.id, approved_by="finance"))
    assert (entry.entered_by, entry.approved_by) == ("officer", "finance")
    assert_checks(run)


# 16. A funder's past figures stand when a later award arrives --------------------------------


def test_a_later_award_does_not_move_spending_that_came_before_it(
    database_url: str, tmp_path: Path
) -> None:
    assert _cli(database_url, "init", "--accountable-body", "Council")[0] == 0
    rows = tmp_path / "rows.csv"
    rows.write_text(
        HEADER
        + "01/05/2023,award,SG,P,Scottish Government,1000,,,\n"
        + "01/06/2023,allocate,AL,P,Aberlour,800,,,\n"
        + "02/06/2023,pay,PY,,,800,,AL,\n"
    )
    assert _cli(database_url, "--user", "bob", "import", str(rows), "--approved-by", "ann")[0] == 0

    def paid_by_funder() -> str:
        out = io.StringIO()
        assert cli.main(["--db", database_url, "reconcile", "--figures"], out=out) == 0
        return out.getvalue().split("By ultimate source")[0].split("By funder")[1]

    before = paid_by_funder()
    later = tmp_path / "later.csv"
    later.write_text(HEADER + "01/02/2024,award,CO,P,Corra Foundation,1000,,,\n")
    assert _cli(database_url, "--user", "bob", "import", str(later), "--approved-by", "ann")[0] == 0
    after = paid_by_funder()
    scottish = after.split("Scottish Government: P")[1]
    corra = after.split("Corra Foundation: P")[1].split("Scottish Government")[0]
    assert "£800.00  £800.00" in scottish and "£800.00  £800.00" in before
    assert "£0.00  £0.00     £0.00  £1,000.00" in corra
