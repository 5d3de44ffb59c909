"""The rules of money over time, as worked examples and properties (``ledger.schedule``)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.schedule import (
    Paid,
    PaymentConditionUnmet,
    PhasingDoesNotAddUp,
    Planned,
    RequirementView,
    ScheduleDoesNotAddUp,
    add_months,
    check_payment_conditions,
    check_phasing,
    check_schedule,
    instalment_states,
    quarter_of,
    rebalance,
    requirement_status,
    schedule_figures,
    split_instalments,
)

ABERLOUR = "WFWF-22-02"
OCT_2023 = dt.date(2023, 10, 1)


def _planned(split: list[tuple[dt.date, int]], condition: int | None = None) -> list[Planned]:
    return [
        Planned(i + 1, day, amount, condition if i == 1 else None)
        for i, (day, amount) in enumerate(split)
    ]


def test_aberlours_100000_quarterly_from_october_2023_is_four_equal_instalments() -> None:
    split = split_instalments(10_000_000, OCT_2023, 4, "quarterly")
    assert split == [
        (dt.date(2023, 10, 1), 2_500_000),
        (dt.date(2024, 1, 1), 2_500_000),
        (dt.date(2024, 4, 1), 2_500_000),
        (dt.date(2024, 7, 1), 2_500_000),
    ]


def test_the_pennies_of_an_uneven_split_go_to_the_earliest_instalments() -> None:
    # Homestart's £9,058 monthly over 12 months: £754.84 twice... the 8p left over go first.
    split = split_instalments(905_800, dt.date(2023, 4, 30), 12, "monthly")
    assert [a for _, a in split] == [75_484] * 4 + [75_483] * 8
    assert sum(a for _, a in split) == 905_800
    assert split[10][0] == dt.date(2024, 2, 29)  # 30 February does not exist: its last day


def test_a_split_refuses_nonsense() -> None:
    with pytest.raises(InvalidInput, match="not a frequency"):
        split_instalments(100, OCT_2023, 2, "weekly")
    with pytest.raises(InvalidInput, match="at least 1p"):
        split_instalments(3, OCT_2023, 4, "monthly")


def test_add_months_keeps_the_day_or_takes_the_months_last() -> None:
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 11, 15), 3) == dt.date(2024, 2, 15)


def test_a_phasing_of_the_337000_must_add_up_exactly() -> None:
    check_phasing("WFWF-2022-23-AWARD", 33_700_000, {2022: 20_000_000, 2023: 13_700_000})
    with pytest.raises(PhasingDoesNotAddUp, match=r"short by £103\.18"):
        check_phasing("WFWF-2022-23-AWARD", 33_700_000, {2022: 20_000_000, 2023: 13_689_682})
    with pytest.raises(InvalidInput, match="2023-24 must be more than"):
        check_phasing("WFWF-2022-23-AWARD", 33_700_000, {2022: 33_700_000, 2023: 0})


def test_instalments_that_do_not_add_up_to_the_commitment_are_refused() -> None:
    with pytest.raises(ScheduleDoesNotAddUp, match=r"over by £0\.01"):
        check_schedule(ABERLOUR, 10_000_000, [5_000_000, 5_000_001])


def test_payments_are_matched_oldest_first_to_the_earliest_instalments() -> None:
    plan = _planned(split_instalments(10_000_000, OCT_2023, 4, "quarterly"))
    paid = [
        Paid("PAY-1", dt.date(2023, 10, 5), 2_500_000),
        Paid("PAY-2", dt.date(2024, 1, 3), 1_000_000),
    ]
    states = instalment_states(plan, paid, on=dt.date(2024, 2, 1))
    assert [(s.status, s.paid_pence, s.paid_by) for s in states] == [
        ("paid", 2_500_000, ("PAY-1",)),
        ("overdue", 1_000_000, ("PAY-2",)),
        ("scheduled", 0, ()),
        ("scheduled", 0, ()),
    ]
    # Two weeks before its date an instalment is due.
    assert instalment_states(plan, paid, on=dt.date(2024, 3, 25))[2].status == "due"


def test_figures_by_financial_year_and_quarter() -> None:
    plan = _planned(split_instalments(10_000_000, OCT_2023, 4, "quarterly"))
    states = instalment_states(plan, [Paid("PAY-1", OCT_2023, 2_500_000)], dt.date(2024, 2, 1))
    figures = schedule_figures(10_000_000, 2_500_000, states)
    assert quarter_of(OCT_2023) == (2023, 3)
    assert quarter_of(dt.date(2024, 1, 1)) == (2023, 4)
    assert figures.by_quarter[(2023, 3)].paid_pence == 2_500_000
    assert figures.by_quarter[(2023, 4)].overdue_pence == 2_500_000
    assert (figures.scheduled_pence, figures.unscheduled_pence, figures.overdue_pence) == (
        10_000_000,
        0,
        2_500_000,
    )


def test_a_variation_is_rebalanced_over_the_unpaid_instalments_chosen() -> None:
    # Aberlour's £100,000 varied down by £10,000.01 after the first quarter was paid.
    plan = _planned(split_instalments(10_000_000, OCT_2023, 4, "quarterly"))
    states = instalment_states(plan, [Paid("PAY-1", OCT_2023, 2_500_000)], dt.date(2023, 11, 1))
    amounts = rebalance(ABERLOUR, states, [3, 4], 8_999_999)
    assert amounts == {3: 1_999_999, 4: 2_000_000}  # the odd penny of the cut falls first
    with pytest.raises(InvalidInput, match="is paid"):
        rebalance(ABERLOUR, states, [1, 2], 8_999_999)
    with pytest.raises(InvalidInput, match="choose more instalments"):
        rebalance(ABERLOUR, states, [4], 4_000_000)


def test_a_payment_reaching_an_instalment_that_waits_on_a_report_is_refused_naming_it() -> None:
    report = RequirementView(7, "Monitoring return, October to December 2023", dt.date(2024, 1, 15))
    plan = _planned(split_instalments(10_000_000, OCT_2023, 4, "quarterly"), condition=7)
    states = instalment_states(plan, [Paid("PAY-1", OCT_2023, 2_500_000)], dt.date(2024, 1, 2))
    with pytest.raises(PaymentConditionUnmet) as refused:
        check_payment_conditions(
            ABERLOUR, states, {7: report}, 2_500_000, dt.date(2024, 1, 2), None
        )
    assert str(refused.value) == (
        "The instalment of £25,000.00 due 01/01/2024 on WFWF-22-02 waits for 'Monitoring"
        " return, October to December 2023' (due 15/01/2024), which has not been received;"
        " an approver may override this with a reason"
    )
    # An override needs a reason and an approver.
    with pytest.raises(InvalidInput, match="needs an approver"):
        check_payment_conditions(
            ABERLOUR, states, {7: report}, 2_500_000, dt.date(2024, 1, 2), "Report delayed"
        )
    check_payment_conditions(
        ABERLOUR,
        states,
        {7: report},
        2_500_000,
        dt.date(2024, 1, 2),
        "Report delayed by illness; paid to keep the service running",
        approved_by="demo.finance",
    )
    received = RequirementView(7, report.title, report.due_date, received_on=dt.date(2024, 1, 10))
    check_payment_conditions(ABERLOUR, states, {7: received}, 2_500_000, dt.date(2024, 1, 12), None)
    assert requirement_status(received, dt.date(2024, 2, 1)) == "received"
    assert requirement_status(report, dt.date(2024, 2, 1)) == "overdue"


def test_a_payment_that_stops_short_of_the_conditional_instalment_is_not_refused() -> None:
    report = RequirementView(7, "Monitoring return", dt.date(2024, 1, 15))
    plan = _planned(split_instalments(10_000_000, OCT_2023, 4, "quarterly"), condition=7)
    states = instalment_states(plan, [], OCT_2023)
    check_payment_conditions(ABERLOUR, states, {7: report}, 2_500_000, OCT_2023, None)
    with pytest.raises(PaymentConditionUnmet):
        check_payment_conditions(ABERLOUR, states, {7: report}, 2_500_001, OCT_2023, None)


# Properties -----------------------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=100_000_000_000)


@settings(max_examples=200, deadline=None)
@given(
    total=amounts,
    count=st.integers(min_value=1, max_value=60),
    frequency=st.sampled_from(["monthly", "quarterly"]),
)
def test_a_split_always_adds_up_and_its_parts_differ_by_at_most_a_penny(
    total: int, count: int, frequency: str
) -> None:
    if total < count:
        return
    split = split_instalments(total, OCT_2023, count, frequency)
    parts = [a for _, a in split]
    assert sum(parts) == total and max(parts) - min(parts) <= 1
    assert [d for d, _ in split] == sorted(d for d, _ in split)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=100, max_value=10_000_000_000),
    count=st.integers(min_value=2, max_value=24),
    paid_parts=st.integers(min_value=0, max_value=23),
    variations=st.lists(st.integers(min_value=-5_000_000, max_value=5_000_000), max_size=5),
    data=st.data(),
)
def test_instalments_always_add_up_through_variations(
    total: int, count: int, paid_parts: int, variations: list[int], data: st.DataObject
) -> None:
    if total < count:
        return
    plan = _planned(split_instalments(total, OCT_2023, count, "monthly"))
    paid_total = sum(p.amount_pence for p in plan[: min(paid_parts, count - 1)])
    payments = [Paid("PAY", OCT_2023, paid_total)] if paid_total else []
    committed = total
    for delta in variations:
        states = instalment_states(plan, payments, OCT_2023)
        unpaid_ids = [s.instalment.id for s in states if s.unpaid_pence > 0]
        if not unpaid_ids:
            break
        chosen = data.draw(st.lists(st.sampled_from(unpaid_ids), min_size=1, unique=True))
        new_committed = committed + delta
        try:
            amounts_by_id = rebalance(ABERLOUR, states, chosen, new_committed)
        except InvalidInput:
            continue  # the chosen instalments cannot absorb the cut: nothing changes
        committed = new_committed
        plan = [
            Planned(p.id, p.due_date, amounts_by_id.get(p.id, p.amount_pence))
            for p in plan
            if amounts_by_id.get(p.id, p.amount_pence) > 0
        ]
        check_schedule(ABERLOUR, committed, [p.amount_pence for p in plan])
        # Nothing already paid was taken away.
        states_after = instalment_states(plan, payments, OCT_2023)
        assert sum(s.paid_pence for s in states_after) == paid_total
