"""Reports for funders, intermediaries and the Promise: each adds up exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import CTSI, CTSI_POT, PROMISE_POT, WFWF_POT, load_demo
from ledger.errors import InvalidInput
from ledger.models import Entry
from statements.reports.distribution import build_statement
from statements.reports.funder_view import build_funder_view
from statements.reports.funder_view import render_text as render_funders
from statements.reports.intermediary_return import (
    Difference,
    build_intermediary_return,
    compare_with_statement,
)
from statements.reports.intermediary_return import render_text as render_return
from statements.reports.promise_spend import build_promise_spend
from statements.reports.promise_spend import render_text as render_spend
from statements.reports.reconciliation import build_reconciliation

Run = Callable[[Callable[[Session], Any]], Any]
AS_AT = dt.date(2024, 2, 8)


def pay(s: Session, reference: str, allocation: str, pence: int, day: dt.date) -> Any:
    return ops.pay(
        s,
        reference=reference,
        allocation=allocation,
        amount_pence=pence,
        date=day,
        entered_by="finance",
        approved_by="manager",
        memo=reference,
    )


def award(s: Session, reference: str, pot: str, funder: str, pence: int) -> None:
    ops.record_award(
        s,
        reference=reference,
        pot=pot,
        funder=funder,
        amount_pence=pence,
        award_date=dt.date(2023, 4, 1),
        entered_by="officer",
        memo=reference,
        approved_by="finance",
    )


# Funder view of pooled contracts -----------------------------------------------------------


@pytest.fixture
def pooled(run: Run) -> None:
    """£1,000.01 from two pots 1:2, paid in three instalments. Pot B has two funders, 2:1."""

    def setup(s: Session) -> None:
        ops.set_setting(s, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")
        award(
            s,
            "CWP-AWARD",
            "Child Wellbeing Partnership 2023-24",
            "Child Wellbeing Partnership",
            500_000,
        )
        award(s, "ADP-AWARD", "Consortium pot 2023-24", "Alcohol and Drug Partnership", 200_000)
        award(s, "FWP-AWARD", "Consortium pot 2023-24", "Family Wellbeing Partnership", 100_000)
        ops.allocate_pooled(
            s,
            reference="POOL-1",
            shares=[
                ("Child Wellbeing Partnership 2023-24", 33_334),
                ("Consortium pot 2023-24", 66_667),
            ],
            recipient="Homestart",
            date=dt.date(2023, 5, 1),
            entered_by="officer",
            approved_by="finance",
            purpose="Befriending, multi-year contract",
        )
        pay(s, "POOL-1-P1", "POOL-1", 33_333, dt.date(2023, 6, 1))
        pay(s, "POOL-1-P2", "POOL-1", 33_334, dt.date(2023, 9, 1))
        pay(s, "POOL-1-P3", "POOL-1", 33_334, dt.date(2023, 12, 1))

    run(setup)


def test_pooled_contract_funder_shares_add_up_exactly(run: Run, pooled: None) -> None:
    view = run(lambda s: build_funder_view(s, as_at=AS_AT))
    (contract,) = view.contracts
    assert (contract.allocated_pence, contract.paid_pence, contract.unpaid_pence) == (
        100_001,
        100_001,
        0,
    )
    for movement in contract.movements:
        assert sum(p.pence for p in movement.parts) == movement.amount_pence
    assert [m.amount_pence for m in contract.movements] == [100_001, 33_333, 33_334, 33_334]

    funders = {f.funder: f for f in contract.funders}
    assert set(funders) == {
        "Child Wellbeing Partnership",
        "Alcohol and Drug Partnership",
        "Family Wellbeing Partnership",
    }
    assert funders["Child Wellbeing Partnership"].allocated_pence == 33_334
    # The consortium pot's £666.67 falls 2:1 on its two funders, without losing a penny.
    assert funders["Alcohol and Drug Partnership"].allocated_pence == 44_445
    assert funders["Family Wellbeing Partnership"].allocated_pence == 22_222
    assert sum(f.allocated_pence for f in contract.funders) == 100_001
    assert sum(f.paid_pence for f in contract.funders) == 100_001
    # Fully paid means every funder's part is fully paid, to the penny.
    assert all(f.unpaid_pence == 0 for f in contract.funders)
    assert sum(f.paid_pence for f in view.funders) == view.paid_pence == 100_001

    # The reconciliation attributes pots to funders by the same rule: the same pennies.
    rec = run(lambda s: build_reconciliation(s, as_at=AS_AT))
    for funder in view.funders:
        assert rec.funder(funder.funder).total.allocated == funder.allocated_pence
        assert rec.funder(funder.funder).total.paid == funder.paid_pence
    assert "All funders: allocated £1,000.01, paid £1,000.01" in render_funders(view)


def test_funder_view_shows_a_reversed_payment_netting_out(run: Run, pooled: None) -> None:
    def reverse_last(s: Session) -> None:
        last = s.scalars(select(Entry).where(Entry.reference == "POOL-1-P3")).one()
        ops.reverse(
            s, entry_id=last.id, reason="paid early", entered_by="finance", approved_by="officer"
        )

    run(reverse_last)
    view = run(lambda s: build_funder_view(s, as_at=AS_AT))
    (contract,) = view.contracts
    assert contract.movements[-1].kind == "reversal of pay"
    assert contract.movements[-1].amount_pence == -33_334
    assert contract.paid_pence == 66_667
    assert sum(f.paid_pence for f in contract.funders) == 66_667
    assert sum(f.unpaid_pence for f in contract.funders) == 33_334


# The intermediary's return -----------------------------------------------------------------


@pytest.fixture
def ctsi_books(run: Run) -> None:
    run(load_demo)

    def movements(s: Session) -> None:
        pay(s, "PAY-CTSI-1", "WFWF-22-05", 4_116_809, dt.date(2022, 11, 1))
        pay(s, "CTSI-PAY-HOMESTART-1", "CTSI-22-01", 452_900, dt.date(2022, 12, 10))
        pay(s, "CTSI-PAY-COMMUNITY-HOUSE", "CTSI-22-04", 1_400_000, dt.date(2023, 1, 10))
        ops.return_unspent(
            s,
            reference="COMMUNITY-HOUSE-UNDERSPEND",
            allocation="CTSI-22-04",
            amount_pence=123_456,
            date=dt.date(2023, 3, 20),
            entered_by="ctsi",
            memo="post vacant for a month",
            approved_by="finance",
        )
        ops.return_unspent(
            s,
            reference="CTSI-RETURN-1",
            allocation="WFWF-22-05",
            amount_pence=100_000,
            date=dt.date(2023, 3, 25),
            entered_by="ctsi",
            memo="unspent",
            approved_by="finance",
        )

    run(movements)


def test_ctsi_return_agrees_with_the_councils_statement_to_the_penny(
    run: Run, ctsi_books: None
) -> None:
    ret = run(lambda s: build_intermediary_return(s, CTSI_POT, as_at=AS_AT))
    assert ret.intermediary == CTSI
    assert ret.delegation == "WFWF-22-05"
    assert (ret.allocated_to_it_pence, ret.paid_to_it_pence) == (8_233_618, 4_116_809)
    assert ret.returned_to_council_pence == 100_000
    assert [g.recipient for g in ret.sub_grants] == [
        "Homestart",
        "Barnardos and Volunteering Matters",
        "Barnardos and Action for Children",
        "Community House",
        "Action for Children",
    ]
    assert ret.sub_granted_pence == 8_233_618
    assert ret.sub_grants_paid_pence == 1_852_900
    assert ret.given_back_pence == 123_456
    assert ret.uncommitted_pence == 123_456 - 100_000
    assert ret.held_pence == 4_116_809 - 1_852_900 + 123_456 - 100_000

    statement = run(lambda s: build_statement(s, WFWF_POT, as_at=AS_AT))
    assert compare_with_statement(ret, statement) == ()
    assert "Balance held (cash): £22,873.65" in render_return(ret)


def test_a_discrepancy_in_the_return_is_reported(run: Run, ctsi_books: None) -> None:
    ret = run(lambda s: build_intermediary_return(s, CTSI_POT, as_at=AS_AT))
    statement = run(lambda s: build_statement(s, WFWF_POT, as_at=AS_AT))

    homestart, *others = ret.sub_grants
    typed = replace(ret, sub_grants=(replace(homestart, paid_pence=452_090), *others))
    differences = compare_with_statement(typed, statement)
    item = "sub-grant CTSI-22-01 (Homestart)"
    assert Difference(item, "paid", 452_090, 452_900) in differences
    assert str(Difference(item, "paid", 452_090, 452_900)) == (
        "sub-grant CTSI-22-01 (Homestart), paid: the return says £4,520.90, the council"
        " £4,529.00; difference -£8.10"
    )
    # The return's totals are wrong by the same amount, and say so.
    assert Difference("totals", "paid on sub-grants", 1_852_090, 1_852_900) in differences
    assert Difference("totals", "held", ret.held_pence + 810, ret.held_pence) in differences

    missing = replace(ret, sub_grants=tuple(others), paid_to_it_pence=4_000_000)
    found = {(d.item, d.figure) for d in compare_with_statement(missing, statement)}
    assert (item, "allocated") in found  # in the council's statement, not in the return
    assert ("delegation WFWF-22-05", "paid to the intermediary") in found


def test_only_a_delegated_pot_has_a_return(run: Run) -> None:
    run(load_demo)
    with pytest.raises(InvalidInput, match="not a delegated pot"):
        run(lambda s: build_intermediary_return(s, WFWF_POT, as_at=AS_AT))


# Promise spend -----------------------------------------------------------------------------


def test_promise_spend_puts_aberlour_under_wfs_1_and_shows_untagged_money(run: Run) -> None:
    run(load_demo)
    report = run(lambda s: build_promise_spend(s, as_at=AS_AT))
    assert report.total == report.pot_total
    assert report.total.allocated_pence == 33_710_318

    pillars = {line.key: line for line in report.by_pillar.lines}
    assert pillars["WFS"].label == "Whole Family Support"
    assert pillars["WFS"].spend.allocated_pence == 10_000_000
    assert pillars["WFS"].items == ("WFWF-22-02",)
    assert report.by_pillar.untagged.spend.allocated_pence == 33_710_318 - 10_000_000

    actions = {line.key: line for line in report.by_action.lines}
    assert list(actions) == ["WFS 1"]
    assert actions["WFS 1"].spend.allocated_pence == 10_000_000
    assert report.by_action.untagged.label == "Untagged"
    # CTSI's sub-grants are what the delegated money is spent on; they are untagged.
    assert {"CTSI-22-01", "CTSI-22-05"} <= set(report.by_action.untagged.items)
    assert "WFWF-22-05" not in report.by_action.untagged.items

    foundations = {line.key: line for line in report.by_foundation.lines}
    # The post is tagged Foundation 1; WFS 1 serves foundations 1, 4 and 5.
    assert foundations["1"].spend.allocated_pence == 3_900_000 + 10_000_000
    assert foundations["4"].spend.allocated_pence == 10_000_000
    assert report.by_foundation.counted_more_than_once.allocated_pence == 20_000_000
    assert report.by_foundation.total.allocated_pence == 33_710_318
    text = render_spend(report)
    assert "Whole Family Support" in text and "Untagged" in text


def test_an_allocation_with_several_codes_is_listed_under_each_and_counted_once(
    run: Run, ctsi_books: None
) -> None:
    run(
        lambda s: ops.allocate(
            s,
            reference="PROMISE-01",
            pot=PROMISE_POT,
            recipient="Aberlour",
            amount_pence=2_000_001,
            date=dt.date(2021, 11, 1),
            entered_by="officer",
            approved_by="finance",
            purpose="Trauma-informed family support",
            tags=["WFS 1", "STW 2"],
        )
    )
    run(lambda s: pay(s, "PROMISE-01-P1", "PROMISE-01", 666_667, dt.date(2022, 1, 10)))
    report = run(lambda s: build_promise_spend(s, as_at=AS_AT))
    actions = {line.key: line for line in report.by_action.lines}
    assert actions["WFS 1"].spend.allocated_pence == 10_000_000 + 2_000_001
    assert actions["WFS 1"].shared == ("PROMISE-01",)
    assert actions["STW 2"].spend.allocated_pence == 2_000_001
    assert actions["STW 2"].spend.paid_pence == 666_667
    assert report.by_action.counted_more_than_once.allocated_pence == 2_000_001
    assert report.total.allocated_pence == 33_710_318 + 2_000_001
    # Paid, with CTSI's cash looked through to its sub-grants, still adds up to the pots.
    assert report.total.paid_pence == report.pot_total.paid_pence == 4_116_809 + 666_667
    pillars = {line.key: line for line in report.by_pillar.lines}
    assert pillars["STW"].spend.allocated_pence == 2_000_001
    assert report.by_pillar.counted_more_than_once.allocated_pence == 2_000_001
