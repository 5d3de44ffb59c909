"""The ledger's operations, as worked examples from Clackmannanshire's documents."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.check import check
from ledger.errors import (
    AllocationClosed,
    AlreadyReversed,
    InsufficientFunds,
    InvalidInput,
    NotConfirmed,
    OverCommitted,
    OverReceived,
    OverReturned,
    ReferenceConflict,
    SelfApproval,
)
from ledger.journal import FigureInvariantBroken
from ledger.models import Allocation, Entry, Pot, Request

Run = Callable[[Callable[[Session], Any]], Any]
DAY = dt.date(2022, 10, 1)
WFWF = "WFWF 2022-23"


@pytest.fixture
def wfwf(run: Run) -> None:
    """The council's WFWF Year 1 award of £337,000."""

    def setup(s: Session) -> None:
        ops.set_setting(s, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")
        ops.record_award(
            s,
            reference="WFWF-AWARD",
            pot=WFWF,
            funder="Scottish Government",
            amount_pence=33_700_000,
            award_date=dt.date(2022, 4, 1),
            entered_by="officer",
            memo="WFWF Year 1: Award £337,000",
            approved_by="finance",
        )

    run(setup)


def allocate(run: Run, reference: str, amount_pence: int, **kw: Any) -> Allocation:
    args: dict[str, Any] = dict(
        reference=reference,
        pot=WFWF,
        recipient="Aberlour",
        amount_pence=amount_pence,
        date=DAY,
        entered_by="officer",
        approved_by="finance",
    )
    args.update(kw)
    result: Allocation = run(lambda s: ops.allocate(s, **args))
    return result


def pot(run: Run, name: str = WFWF) -> Pot:
    result: Pot = run(lambda s: ops.find_pot(s, name))
    return result


def entry_count(run: Run) -> int:
    return int(run(lambda s: s.scalar(select(func.count(Entry.id)))))


def assert_checks(run: Run) -> None:
    report = run(check)
    assert report.ok, report.problems


def test_appendix_2_allocations_fit_until_the_ctsi_line_which_is_short_by_103_18(
    run: Run, wfwf: None
) -> None:
    for ref, amount in [
        ("PDO", 3_900_000),
        ("ABERLOUR", 10_000_000),
        ("AFC-FFT", 7_076_700),
        ("BARNARDOS", 4_500_000),
    ]:
        allocate(run, ref, amount)
    assert pot(run).available_pence == 8_223_300
    entries_before = entry_count(run)

    with pytest.raises(InsufficientFunds) as refused:
        allocate(run, "CTSI", 8_233_618, recipient="CTSI", to_pot="CTSI managed WFWF Grant")

    assert str(refused.value) == (
        "WFWF 2022-23 has £82,233.00 available; this delegation needs £82,336.18 (short by £103.18)"
    )
    assert refused.value.shortfall_pence == 10_318
    assert refused.value.pot == WFWF
    assert entry_count(run) == entries_before
    assert run(lambda s: s.scalar(select(func.count(Pot.id)))) == 1  # no CTSI pot opened
    assert_checks(run)


def test_ctsi_can_never_sub_grant_more_than_it_was_given(run: Run, wfwf: None) -> None:
    allocate(run, "CTSI", 8_233_618, recipient="CTSI", to_pot="CTSI pot")
    ctsi = pot(run, "CTSI pot")
    assert (ctsi.funded_pence, ctsi.available_pence) == (8_233_618, 8_233_618)
    for ref, amount in [
        ("HOMESTART", 905_800),
        ("TWOS", 2_400_000),
        ("TWOS-PARENTS", 2_000_000),
        ("COMMUNITY-HOUSE", 1_400_000),
        ("CRECHE", 1_527_818),
    ]:
        allocate(
            run,
            ref,
            amount,
            pot="CTSI pot",
            recipient=ref.title(),
            entered_by="ctsi.officer",
            approved_by="ctsi.manager",
        )
    assert pot(run, "CTSI pot").available_pence == 0
    with pytest.raises(InsufficientFunds, match=re.escape("this sub-grant needs £0.01")):
        allocate(run, "ONE-PENNY-MORE", 1, pot="CTSI pot", recipient="Homestart")
    # The council cannot claw back what CTSI has already sub-granted.
    with pytest.raises(InsufficientFunds, match=re.escape("CTSI pot has £0.00 available")):
        run(
            lambda s: ops.vary(
                s,
                reference="V",
                allocation="CTSI",
                delta_pence=-100,
                date=DAY,
                reason="reduce",
                entered_by="officer",
                approved_by="finance",
            )
        )
    assert_checks(run)


def test_receipts_are_never_more_than_was_awarded(run: Run, wfwf: None) -> None:
    def receive(ref: str, amount: int) -> Callable[[Session], Entry]:
        return lambda s: ops.record_receipt(
            s,
            reference=ref,
            pot=WFWF,
            funder="Scottish Government",
            amount_pence=amount,
            date=DAY,
            entered_by="finance",
            memo="BACS from SG",
            approved_by="officer",
        )

    run(receive("R1", 16_850_000))
    run(receive("R2", 16_850_000))
    with pytest.raises(OverReceived, match=r"£0\.00 still to pay .*over by £0\.01"):
        run(receive("R3", 1))
    assert pot(run).received_pence == 33_700_000
    assert_checks(run)


def test_payments_need_a_confirmed_allocation_and_never_exceed_the_commitment(
    run: Run, wfwf: None
) -> None:
    allocate(run, "ABERLOUR", 10_000_000, approved_by=None)
    with pytest.raises(NotConfirmed):
        run(
            lambda s: ops.pay(
                s,
                reference="P0",
                allocation="ABERLOUR",
                amount_pence=100,
                date=DAY,
                entered_by="finance",
                memo="x",
                approved_by="boss",
            )
        )
    with pytest.raises(SelfApproval):
        run(lambda s: ops.approve_allocation(s, reference="ABERLOUR", approved_by="officer"))
    run(lambda s: ops.approve_allocation(s, reference="ABERLOUR", approved_by="finance"))

    for n in range(4):
        run(
            lambda s, n=n: ops.pay(
                s,
                reference=f"P{n}",
                allocation="ABERLOUR",
                amount_pence=2_500_000,
                date=DAY,
                entered_by="finance",
                memo=f"quarter {n + 1}",
                approved_by="boss",
            )
        )
    with pytest.raises(OverCommitted, match=re.escape("over by £0.01")):
        run(
            lambda s: ops.pay(
                s,
                reference="P5",
                allocation="ABERLOUR",
                amount_pence=1,
                date=DAY,
                entered_by="finance",
                memo="x",
                approved_by="boss",
            )
        )
    assert pot(run).paid_pence == 10_000_000
    assert_checks(run)


def test_unspent_money_returned_is_available_again(run: Run, wfwf: None) -> None:
    allocate(run, "BARNARDOS", 4_500_000)
    run(
        lambda s: ops.pay(
            s,
            reference="P1",
            allocation="BARNARDOS",
            amount_pence=4_500_000,
            date=DAY,
            entered_by="finance",
            memo="annual",
            approved_by="boss",
        )
    )
    with pytest.raises(OverReturned):
        run(
            lambda s: ops.return_unspent(
                s,
                reference="R0",
                allocation="BARNARDOS",
                amount_pence=4_500_001,
                date=DAY,
                entered_by="finance",
                memo="too much",
                approved_by="officer",
            )
        )
    run(
        lambda s: ops.return_unspent(
            s,
            reference="R1",
            allocation="BARNARDOS",
            amount_pence=123_456,
            date=DAY,
            entered_by="finance",
            memo="underspend",
            approved_by="officer",
        )
    )
    wfwf_pot = pot(run)
    assert (wfwf_pot.allocated_pence, wfwf_pot.returned_pence) == (4_500_000, 123_456)
    assert wfwf_pot.available_pence == 33_700_000 - 4_500_000 + 123_456
    assert_checks(run)


def test_a_pooled_contract_pays_each_funder_its_exact_share(run: Run, wfwf: None) -> None:
    def corra(s: Session) -> None:
        ops.record_award(
            s,
            reference="CORRA",
            pot="Promise Partnership",
            funder="Corra Foundation",
            amount_pence=5_000_000,
            award_date=dt.date(2021, 9, 16),
            entered_by="officer",
            memo="Promise Partnership £50,000",
            approved_by="finance",
        )

    run(corra)
    run(
        lambda s: ops.allocate_pooled(
            s,
            reference="FAMILY-SUPPORT",
            shares=[(WFWF, 2_000_000), ("Promise Partnership", 1_000_001)],
            recipient="Family support consortium",
            date=DAY,
            entered_by="officer",
            approved_by="finance",
        )
    )
    for n, amount in enumerate([1_000_000, 333_333, 1, 1_666_667]):
        run(
            lambda s, n=n, amount=amount: ops.pay(
                s,
                reference=f"FS-{n}",
                allocation="FAMILY-SUPPORT",
                amount_pence=amount,
                date=DAY,
                entered_by="finance",
                memo="instalment",
                approved_by="boss",
            )
        )
        allocation = run(lambda s: ops.find_allocation(s, "FAMILY-SUPPORT"))
        assert sum(share.paid_pence for share in allocation.shares) == allocation.paid_pence
    allocation = run(lambda s: ops.find_allocation(s, "FAMILY-SUPPORT"))
    assert [(sh.allocated_pence, sh.paid_pence) for sh in allocation.shares] == [
        (2_000_000, 2_000_000),
        (1_000_001, 1_000_001),
    ]
    assert pot(run).paid_pence == 2_000_000
    assert pot(run, "Promise Partnership").paid_pence == 1_000_001
    assert_checks(run)


def test_a_pooled_variation_is_split_by_the_funders_shares(run: Run, wfwf: None) -> None:
    run(
        lambda s: ops.record_award(
            s,
            reference="ADP",
            pot="ADP 2022-23",
            funder="Alcohol and Drug Partnership",
            amount_pence=1_000_000,
            award_date=dt.date(2022, 4, 1),
            entered_by="officer",
            memo="ADP",
            approved_by="finance",
        )
    )
    run(
        lambda s: ops.allocate_pooled(
            s,
            reference="POOLED",
            shares=[(WFWF, 300_000), ("ADP 2022-23", 100_000)],
            recipient="Provider",
            date=DAY,
            entered_by="officer",
            approved_by="finance",
        )
    )
    run(
        lambda s: ops.vary(
            s,
            reference="V1",
            allocation="POOLED",
            delta_pence=1_001,
            date=DAY,
            reason="uplift",
            entered_by="officer",
            approved_by="finance",
        )
    )
    allocation = run(lambda s: ops.find_allocation(s, "POOLED"))
    assert [sh.allocated_pence for sh in allocation.shares] == [300_751, 100_250]
    assert allocation.allocated_pence == 401_001
    assert_checks(run)


def test_variations_and_payments_wait_for_a_second_person_and_hold_their_money(
    run: Run, wfwf: None
) -> None:
    allocate(run, "PDO", 3_900_000)
    allocate(run, "REST", 33_700_000 - 3_900_000 - 100_000)
    request = run(
        lambda s: ops.vary(
            s,
            reference="V-UP",
            allocation="PDO",
            delta_pence=100_000,
            date=DAY,
            reason="pay award",
            entered_by="officer",
        )
    )
    assert isinstance(request, Request)
    assert pot(run).available_pence == 100_000  # not yet posted...
    with pytest.raises(InsufficientFunds, match=re.escape("after £1,000.00 held")):
        allocate(run, "SNEAK", 1)  # ...but held
    with pytest.raises(SelfApproval):
        run(lambda s: ops.approve_request(s, request_id=request.id, approved_by="officer"))
    run(lambda s: ops.approve_request(s, request_id=request.id, approved_by="finance"))
    assert pot(run).available_pence == 0
    assert run(lambda s: ops.find_allocation(s, "PDO")).allocated_pence == 4_000_000
    assert_checks(run)


def test_one_person_may_enter_and_approve_small_amounts_only(run: Run, wfwf: None) -> None:
    run(lambda s: ops.set_setting(s, ops.SELF_APPROVAL_LIMIT, "50000"))
    allocate(run, "SMALL", 50_000, entered_by="officer", approved_by="officer")
    with pytest.raises(SelfApproval, match=re.escape("up to £500.00")):
        allocate(run, "BIG", 50_001, entered_by="officer", approved_by="officer")
    allocation = run(lambda s: ops.find_allocation(s, "SMALL"))
    assert (allocation.status, allocation.entered_by, allocation.approved_by) == (
        "confirmed",
        "officer",
        "officer",
    )


def test_replaying_a_reference_is_a_no_op_and_reusing_it_is_refused(run: Run, wfwf: None) -> None:
    first = allocate(run, "ABERLOUR", 10_000_000)
    again = allocate(run, "ABERLOUR", 10_000_000)
    assert again.id == first.id
    assert pot(run).allocated_pence == 10_000_000
    with pytest.raises(ReferenceConflict, match="'ABERLOUR'"):
        allocate(run, "ABERLOUR", 10_000_001)
    with pytest.raises(ReferenceConflict):
        run(
            lambda s: ops.pay(
                s,
                reference="WFWF-AWARD",
                allocation="ABERLOUR",
                amount_pence=1,
                date=DAY,
                entered_by="finance",
                memo="x",
                approved_by="boss",
            )
        )


def test_a_correction_is_a_reversal_that_names_what_it_reverses(run: Run, wfwf: None) -> None:
    allocate(run, "AFC", 7_076_700)
    payment = run(
        lambda s: ops.pay(
            s,
            reference="AFC-P1",
            allocation="AFC",
            amount_pence=7_067_600,
            date=DAY,
            entered_by="finance",
            memo="typo: digits swapped",
            approved_by="boss",
        )
    )
    reversal = run(
        lambda s: ops.reverse(
            s,
            entry_id=payment.id,
            reason="digits swapped",
            entered_by="finance",
            approved_by="officer",
        )
    )
    assert reversal.reverses_id == payment.id
    assert "digits swapped" in reversal.memo
    assert run(lambda s: ops.find_allocation(s, "AFC")).paid_pence == 0
    assert pot(run).paid_pence == 0
    with pytest.raises(AlreadyReversed):
        run(
            lambda s: ops.reverse(
                s, entry_id=payment.id, reason="again", entered_by="finance", approved_by="officer"
            )
        )
    original = run(lambda s: s.get(Entry, payment.id))
    assert original.amount_pence == 7_067_600  # the original stands as it was
    assert_checks(run)


def test_reversing_an_allocation_that_has_been_paid_is_refused(run: Run, wfwf: None) -> None:
    allocate(run, "AFC", 7_076_700)
    allocation_entry = run(lambda s: s.scalars(select(Entry).where(Entry.reference == "AFC")).one())
    run(
        lambda s: ops.pay(
            s,
            reference="AFC-P1",
            allocation="AFC",
            amount_pence=100,
            date=DAY,
            entered_by="finance",
            memo="x",
            approved_by="boss",
        )
    )
    with pytest.raises(OverCommitted, match=re.escape("this reversal needs £70,767.00")):
        run(
            lambda s: ops.reverse(
                s,
                entry_id=allocation_entry.id,
                reason="wrong",
                entered_by="finance",
                approved_by="officer",
            )
        )
    assert_checks(run)


def test_year_1_underspend_carries_into_year_2_distinct_from_money_handed_back(
    run: Run, wfwf: None
) -> None:
    def year_2(s: Session) -> None:
        ops.record_award(
            s,
            reference="WFWF-Y2",
            pot="WFWF 2023-24",
            funder="Scottish Government",
            amount_pence=1,
            award_date=dt.date(2023, 4, 1),
            entered_by="officer",
            memo="Year 2",
            approved_by="finance",
        )
        stream = ops.ensure_stream(
            s, "Whole Family Wellbeing Fund", ops.find_organisation(s, "Scottish Government")
        )
        for name in (WFWF, "WFWF 2023-24"):
            ops.find_pot(s, name).stream = stream

    run(year_2)
    allocate(run, "ABERLOUR", 33_000_000)
    run(
        lambda s: ops.record_receipt(
            s,
            reference="SG-CASH",
            pot=WFWF,
            funder="Scottish Government",
            amount_pence=33_700_000,
            date=dt.date(2022, 5, 1),
            entered_by="finance",
            memo="BACS from SG",
            approved_by="officer",
        )
    )
    run(
        lambda s: ops.carry_forward(
            s,
            reference="CF",
            from_pot=WFWF,
            to_pot="WFWF 2023-24",
            amount_pence=600_000,
            date=dt.date(2023, 3, 31),
            entered_by="finance",
            memo="funder allowed underspend",
            approved_by="officer",
        )
    )
    run(
        lambda s: ops.hand_back(
            s,
            reference="HB",
            pot=WFWF,
            amount_pence=100_000,
            date=dt.date(2023, 3, 31),
            entered_by="finance",
            memo="returned",
            approved_by="officer",
        )
    )
    old, new = pot(run), pot(run, "WFWF 2023-24")
    assert (old.carried_forward_pence, old.handed_back_pence, old.available_pence) == (
        600_000,
        100_000,
        0,
    )
    assert (new.funded_pence, new.carried_in_pence, new.available_pence) == (
        600_001,
        600_000,
        600_001,
    )
    with pytest.raises(InvalidInput, match="is not the year after"):
        run(
            lambda s: ops.carry_forward(
                s,
                reference="CF2",
                from_pot="WFWF 2023-24",
                to_pot=WFWF,
                amount_pence=1,
                date=DAY,
                entered_by="finance",
                memo="backwards",
                approved_by="officer",
            )
        )
    entry = run(lambda s: s.scalars(select(Entry).where(Entry.reference == "CF")).one())
    assert entry.financial_year == 2022  # 31 March 2023 is the last day of 2022-23
    assert_checks(run)


def test_tags_take_promise_action_codes_and_foundations(run: Run, wfwf: None) -> None:
    allocation = allocate(run, "ABERLOUR", 10_000_000, tags=["wfs1", "Family"])
    assert [(t.kind, t.value) for t in allocation.tags] == [
        ("action", "WFS 1"),
        ("foundation", "2"),
    ]
    with pytest.raises(InvalidInput, match="neither a Promise Plan action code"):
        allocate(run, "X", 1, tags=["WFS 9"])


def test_every_entry_records_its_reason(run: Run, wfwf: None) -> None:
    allocate(run, "PDO", 3_900_000)
    entries_before = entry_count(run)
    with pytest.raises(InvalidInput, match="every entry records its reason") as refused:
        run(
            lambda s: ops.pay(
                s,
                reference="P-NO-MEMO",
                allocation="PDO",
                amount_pence=100,
                date=DAY,
                entered_by="finance",
                memo="   ",
                approved_by="boss",
            )
        )
    assert refused.value.field == "description"
    assert entry_count(run) == entries_before


def test_a_rejected_allocation_gives_its_held_money_back_and_stays_on_record(
    run: Run, wfwf: None
) -> None:
    allocate(run, "BARNARDOS", 4_500_000, approved_by=None)
    payment = run(
        lambda s: ops.vary(
            s,
            reference="V-UP",
            allocation="BARNARDOS",
            delta_pence=10_000,
            date=DAY,
            reason="uplift",
            entered_by="officer",
        )
    )
    assert pot(run).available_pence == 33_700_000 - 4_500_000
    with pytest.raises(InvalidInput, match="Say why"):
        run(
            lambda s: ops.reject_allocation(
                s, reference="BARNARDOS", rejected_by="finance", note=" "
            )
        )

    run(
        lambda s: ops.reject_allocation(
            s, reference="BARNARDOS", rejected_by="finance", note="not in the commissioning plan"
        )
    )

    allocation = run(lambda s: ops.find_allocation(s, "BARNARDOS"))
    assert (allocation.status, allocation.allocated_pence) == ("rejected", 0)
    assert pot(run).available_pence == 33_700_000
    request = run(lambda s: s.get(Request, payment.id))
    assert request.status == "rejected"
    with pytest.raises(AllocationClosed, match="BARNARDOS was rejected; it takes no payment"):
        run(
            lambda s: ops.pay(
                s,
                reference="P",
                allocation="BARNARDOS",
                amount_pence=1,
                date=DAY,
                entered_by="finance",
                memo="x",
                approved_by="boss",
            )
        )
    assert_checks(run)


def test_nothing_is_sub_granted_from_a_delegation_awaiting_approval_so_it_can_be_rejected(
    run: Run, wfwf: None
) -> None:
    allocate(run, "CTSI", 8_233_618, recipient="CTSI", to_pot="CTSI pot", approved_by=None)
    with pytest.raises(NotConfirmed, match="CTSI, which is awaiting approval"):
        allocate(
            run,
            "HOMESTART",
            905_800,
            pot="CTSI pot",
            recipient="Homestart",
            entered_by="ctsi.officer",
            approved_by="ctsi.manager",
        )
    run(lambda s: ops.reject_allocation(s, reference="CTSI", rejected_by="finance", note="wrong"))
    assert run(lambda s: ops.find_allocation(s, "CTSI")).status == "rejected"
    assert pot(run, "CTSI pot").available_pence == 0
    assert pot(run).available_pence == 33_700_000
    assert_checks(run)


def test_reversing_a_payment_that_was_partly_returned_is_refused_in_plain_words(
    run: Run, wfwf: None
) -> None:
    allocate(run, "AFC", 7_076_700)
    payment = run(
        lambda s: ops.pay(
            s,
            reference="AFC-P1",
            allocation="AFC",
            amount_pence=500_000,
            date=DAY,
            entered_by="finance",
            memo="first instalment",
            approved_by="boss",
        )
    )
    run(
        lambda s: ops.return_unspent(
            s,
            reference="AFC-R1",
            allocation="AFC",
            amount_pence=30_000,
            date=DAY,
            entered_by="finance",
            memo="underspend",
            approved_by="officer",
        )
    )
    with pytest.raises(FigureInvariantBroken, match=re.escape("£300.00 returned against £0.00")):
        run(
            lambda s: ops.reverse(
                s, entry_id=payment.id, reason="wrong", entered_by="finance", approved_by="officer"
            )
        )
    assert run(lambda s: ops.find_allocation(s, "AFC")).paid_pence == 500_000
    assert_checks(run)
