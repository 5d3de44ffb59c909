"""The distribution statement model, read against Appendix 2 as printed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import CTSI_POT, WFWF_POT, load_demo
from ledger.readout import pot_balances
from statements.reports.distribution import build_statement

Run = Callable[[Callable[[Session], Any]], Any]


def test_the_wfwf_statement_reads_like_appendix_2_and_states_the_103_18(run: Run) -> None:
    run(load_demo)
    statement = run(lambda s: build_statement(s, WFWF_POT, as_at=dt.date(2024, 2, 8)))
    (_, top), (depth, ctsi) = list(statement.sections())

    assert top.heading == "WFWF 2022-23: Award £337,000.00"
    assert [(r.recipient, r.allocated_pence) for r in top.allocations] == [
        ("Clackmannanshire Council (post)", 3_900_000),
        ("Aberlour", 10_000_000),
        ("Action for Children", 7_076_700),
        ("Barnardo's", 4_500_000),
        ("Clackmannanshire Third Sector Interface (CTSI)", 8_233_618),
    ]
    assert top.totals.awarded_pence == 33_700_000
    assert top.totals.assumed_pence == 10_318
    assert top.totals.allocated_pence == 33_710_318
    assert top.balance_note.startswith("Allocations exceed the award by £103.18")

    assert depth == 1
    assert ctsi.pot == CTSI_POT
    assert ctsi.heading.startswith("Allocation of Award for CTSI managed WFWF Grant £82,336.18")
    assert [r.allocated_pence for r in ctsi.allocations] == [
        905_800,
        2_400_000,
        2_000_000,
        1_400_000,
        1_527_818,
    ]
    assert ctsi.totals.allocated_pence == ctsi.totals.funded_pence == 8_233_618
    assert ctsi.balance_note == "The delegation is fully allocated."


def test_a_statement_as_at_today_agrees_with_balances_to_the_penny(run: Run) -> None:
    run(load_demo)
    run(
        lambda s: ops.pay(
            s,
            reference="PAY-ABERLOUR-Q1",
            allocation="WFWF-22-02",
            amount_pence=2_500_000,
            date=dt.date(2022, 12, 1),
            entered_by="finance",
            approved_by="manager",
            memo="Q1",
        )
    )
    statement = run(lambda s: build_statement(s, WFWF_POT))
    balances = {b.name: b for b in run(pot_balances)}
    for _, section in statement.sections():
        live = balances[section.pot]
        totals = section.totals
        assert (
            totals.funded_pence,
            totals.allocated_pence,
            totals.paid_pence,
            totals.returned_pence,
            totals.available_pence,
        ) == (live.funded, live.allocated, live.paid, live.returned, live.available)


def test_a_statement_as_at_an_earlier_date_leaves_out_what_came_later(run: Run) -> None:
    run(load_demo)
    run(
        lambda s: ops.pay(
            s,
            reference="PAY-BARNARDOS",
            allocation="WFWF-22-04",
            amount_pence=4_500_000,
            date=dt.date(2023, 6, 30),
            entered_by="finance",
            approved_by="manager",
            memo="annual",
        )
    )
    before = run(lambda s: build_statement(s, WFWF_POT, as_at=dt.date(2023, 6, 29)))
    after = run(lambda s: build_statement(s, WFWF_POT, as_at=dt.date(2023, 6, 30)))
    assert before.section.totals.paid_pence == 0
    assert after.section.totals.paid_pence == 4_500_000
    too_early = run(lambda s: build_statement(s, WFWF_POT, as_at=dt.date(2022, 9, 30)))
    assert too_early.section.allocations == ()
    assert too_early.section.balance_note == (
        "£103.18 is recorded as coming from a source the documents do not name (an assumption)."
        " £337,103.18 of the award is not yet allocated."
    )


def test_an_allocation_approved_later_was_provisional_until_its_approval(run: Run) -> None:
    run(load_demo)
    run(
        lambda s: ops.allocate(
            s,
            reference="LATE",
            pot="Promise Partnership 2021-22",
            recipient="Who Cares? Scotland",
            amount_pence=1_000_000,
            date=dt.date(2021, 10, 1),
            entered_by="officer",
            purpose="Independent advocacy",
        )
    )
    run(lambda s: ops.approve_allocation(s, reference="LATE", approved_by="manager"))
    yesterday = dt.date.today() - dt.timedelta(days=1)
    before = run(lambda s: build_statement(s, "Promise Partnership 2021-22", as_at=yesterday))
    now = run(lambda s: build_statement(s, "Promise Partnership 2021-22"))
    assert [r.status for r in before.section.allocations] == ["provisional"]
    assert [r.status for r in now.section.allocations] == ["confirmed"]
    # Appendix 2's lines were approved as they were entered, so they were confirmed all along.
    wfwf = run(lambda s: build_statement(s, WFWF_POT, as_at=dt.date(2023, 3, 31)))
    assert {r.status for r in wfwf.section.allocations} == {"confirmed"}


def test_a_pot_without_a_stream_is_headed_by_its_own_name(run: Run) -> None:
    run(lambda s: ops.set_setting(s, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council"))
    run(
        lambda s: ops.record_award(
            s,
            reference="SMALL",
            pot="Small Grants 2023-24",
            funder="Clackmannanshire Alliance",
            amount_pence=500_000,
            award_date=dt.date(2023, 4, 1),
            entered_by="officer",
            memo="x",
            approved_by="finance",
        )
    )
    statement = run(lambda s: build_statement(s, "Small Grants 2023-24"))
    assert statement.section.heading == "Small Grants 2023-24: Award £5,000.00"


def test_the_note_under_a_pot_never_contradicts_its_figures() -> None:
    from statements.reports.distribution import Totals, balance_note

    def totals(**figures: int) -> Totals:
        base = dict.fromkeys(
            (
                "awarded_pence",
                "assumed_pence",
                "funded_pence",
                "allocated_pence",
                "paid_pence",
                "returned_pence",
                "received_pence",
                "carried_in_pence",
                "carried_forward_pence",
                "handed_back_pence",
            ),
            0,
        )
        return Totals(**{**base, **figures})

    assert balance_note(totals(), delegated=False) == (
        "No award has been made into this pot by this date."
    )
    returned = totals(
        awarded_pence=100_000,
        funded_pence=100_000,
        allocated_pence=100_000,
        paid_pence=60_000,
        returned_pence=60_000,
    )
    assert balance_note(returned, delegated=False) == "£600.00 returned and free to re-allocate."
    part = totals(awarded_pence=100_000, funded_pence=100_000, allocated_pence=40_000)
    assert balance_note(part, delegated=False) == "£600.00 of the award is not yet allocated."
