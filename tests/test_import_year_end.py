"""Import rows for the year end and for corrections, Promise tags and pooled contracts, as
worked examples on the Clackmannanshire demo (``commonpurse demo``).

``docs/import-example.csv`` holds one row of every operation. It imports onto the demo once
``WFWF 2023-24`` is open in the Whole Family Wellbeing Fund stream (as the web app's award form
opens it), and every figure it moves is checked here to the penny.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.check import check
from ledger.demo import PROMISE_POT, WFWF_POT, load_demo
from ledger.importer import HEADER, ImportResult, ImportRowError, import_rows
from ledger.models import Allocation, AllocationTag, Award, Entry, Pot, Request
from ledger.readout import award_reductions

Run = Callable[[Callable[[Session], Any]], Any]

EXAMPLE = Path(__file__).parent.parent / "docs" / "import-example.csv"
HEADER_LINE = ",".join((*HEADER, "tags", "shares")) + "\n"
WFWF_NEXT = "WFWF 2023-24"


@pytest.fixture
def demo(run: Run) -> None:
    def setup(session: Session) -> None:
        load_demo(session)
        ops.record_award(
            session,
            reference="WFWF-23-AWARD",
            pot=WFWF_NEXT,
            funder="Scottish Government",
            amount_pence=100_000_00,
            award_date=dt.date(2023, 4, 1),
            entered_by="officer",
            memo="WFWF Year 2",
            stream="Whole Family Wellbeing Fund",
            approved_by="finance",
        )

    run(setup)


def import_text(run: Run, text: str) -> ImportResult:
    result: ImportResult = run(
        lambda session: import_rows(
            session,
            io.StringIO(text, newline=""),
            source_name="example.csv",
            entered_by="officer",
            approved_by="finance",
        )
    )
    return result


def refusal(run: Run, text: str) -> ImportRowError:
    with pytest.raises(ImportRowError) as refused:
        import_text(run, text)
    return refused.value


def pot(run: Run, name: str) -> Pot:
    found: Pot = run(lambda s: s.scalars(select(Pot).where(Pot.name == name)).one())
    return found


def test_the_example_file_imports_onto_the_demo_and_moves_every_figure_to_the_penny(
    run: Run, demo: None
) -> None:
    result = import_text(run, EXAMPLE.read_text(encoding="utf-8"))
    assert (result.rows, result.new_entries, result.pending) == (14, 13, 0)  # close posts none
    wfwf = pot(run, WFWF_POT)
    # £20,000 more awarded, less the £2,000 the funder withdrew.
    assert wfwf.funded_pence == 33_710_318 + 2_000_000 - 200_000
    assert wfwf.received_pence == 1_500_000
    # Aberlour £5,000 (after −£1,000), CTSI £2,000, Home-Start's WFWF share £3,000 of £4,000.
    assert wfwf.allocated_pence == 33_710_318 + 500_000 + 200_000 + 300_000
    assert wfwf.paid_pence == 500_000  # the £1,000 paid twice was reversed
    assert wfwf.returned_pence == 50_000
    assert (wfwf.carried_forward_pence, wfwf.handed_back_pence) == (300_000, 100_000)
    assert wfwf.available_pence == 1_800_000 - 1_000_000 + 50_000 - 300_000 - 100_000
    assert pot(run, WFWF_NEXT).carried_in_pence == 300_000
    assert pot(run, PROMISE_POT).allocated_pence == 100_000  # its one share in four

    def read(session: Session) -> tuple[str, list[str], list[int]]:
        aberlour = session.scalars(
            select(Allocation).where(Allocation.reference == "EX-ALLOC-1")
        ).one()
        tags = session.scalars(
            select(AllocationTag.value).where(AllocationTag.allocation_id == aberlour.id)
        ).all()
        pooled = session.scalars(
            select(Allocation).where(Allocation.reference == "EX-POOLED-1")
        ).one()
        return aberlour.status, list(tags), [s.weight_pence for s in pooled.shares]

    assert run(read) == ("closed", ["WFS 1", "2"], [300_000, 100_000])
    assert run(check).ok


def test_importing_the_example_twice_changes_nothing(run: Run, demo: None) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    import_text(run, text)
    again = import_text(run, text)
    assert (again.new_entries, again.pending, again.already_recorded) == (0, 0, 14)
    assert run(check).ok


def test_the_nine_column_header_still_imports(run: Run, demo: None) -> None:
    text = ",".join(HEADER) + "\n2022-05-01,award,A9,WFWF 2022-23,Scottish Government,10.00,,,\n"
    assert import_text(run, text).new_entries == 1


def test_a_pooled_contract_splits_its_amount_exactly_by_largest_remainder(
    run: Run, demo: None
) -> None:
    """£100.00 in shares 1 and 2 is £33.33 and £66.67: the odd penny goes to the larger
    remainder, and the parts add up to the whole."""
    row = f"2023-05-01,allocate,P3,,Home-Start,100.00,Pooled,,,,{WFWF_NEXT}=1;{PROMISE_POT}=2\n"
    import_text(run, HEADER_LINE + row)

    def weights(session: Session) -> list[int]:
        found = session.scalars(select(Allocation).where(Allocation.reference == "P3")).one()
        return [s.weight_pence for s in found.shares]

    assert run(weights) == [3_333, 6_667]


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        pytest.param(
            "2022-07-01,allocate,T1,WFWF 2022-23,Aberlour,1.00,,,,XYZ 9,",
            "tags",
            "'XYZ 9' is neither a Promise Plan action code (such as WFS 1) nor a foundation",
            id="a tag that is no Promise action",
        ),
        pytest.param(
            "2022-07-01,pay,T1,,,1.00,,WFWF-22-02,,WFS 1,",
            "tags",
            "only allocate and delegate rows take tags",
            id="tags on a payment",
        ),
        pytest.param(
            "2022-07-01,allocate,T1,,Aberlour,1.00,,,,,WFWF 2022-23:1",
            "shares",
            "is not a pot and its share; write each as POT=SHARE",
            id="shares without =",
        ),
        pytest.param(
            "2022-07-01,allocate,T1,Other,Aberlour,1.00,,,,,WFWF 2022-23=1",
            "pot",
            "Other is not one of the pots in shares (WFWF 2022-23)",
            id="a pot that is not among the shares",
        ),
        pytest.param(
            "2022-12-01,reduce_award,T1,,,2000.00,Withdrawn,WFWF-22-AWARD,,,",
            "amount",
            "a reduce_award row takes a negative amount",
            id="a reduction typed as a positive amount",
        ),
        pytest.param(
            "2022-12-01,close,T1,,,1.00,Done,WFWF-22-02,,,",
            "amount",
            "a close row takes no amount",
            id="an amount on a close row",
        ),
        pytest.param(
            "2022-12-01,close,T1,,,,,WFWF-22-02,,,",
            "description",
            "a close row needs description",
            id="a close without a reason",
        ),
        pytest.param(
            "2022-12-01,close,T1,,,,Done,WFWF-22-02,,,",
            None,
            "Allocation WFWF-22-02 still has £100,000.00 committed and unpaid; vary it down",
            id="closing an allocation still unpaid",
        ),
        pytest.param(
            "2023-03-31,carry_forward,T1,WFWF 2022-23,,1.00,Year end,,"
            "Promise Partnership 2021-22,,",
            "to_pot",
            "are not the same named funding stream",
            id="carry-forward into another stream",
        ),
        pytest.param(
            "2023-03-31,hand_back,T1,WFWF 2022-23,Corra Foundation,1.00,Unspent,,,,",
            "counterparty",
            "Corra Foundation has made no award into WFWF 2022-23",
            id="hand-back to a funder that gave nothing",
        ),
        pytest.param(
            "2023-03-31,hand_back,T1,WFWF 2022-23,Scottish Government,1.00,Unspent,,,,",
            "amount",
            "this hand-back needs £1.00",
            id="hand-back of cash never received",
        ),
    ],
)
def test_a_bad_year_end_or_correction_row_is_refused_with_its_column_and_reason(
    run: Run, demo: None, row: str, column: str | None, words: str
) -> None:
    error = refusal(run, HEADER_LINE + row + "\n")
    assert (error.row, error.column) == (2, column), str(error)
    assert words in error.reason


def test_an_award_reduction_takes_no_more_than_the_funder_still_owes(run: Run, demo: None) -> None:
    """£20,000 more awarded into WFWF 2023-24 and £115,000 received (oldest award first: the
    year's £100,000, then £15,000 of this one): £5,000 can still be withdrawn, not £5,000.01;
    what was received goes back by a hand-back."""
    rows = (
        "2023-05-01,award,A1,WFWF 2023-24,Scottish Government,20000.00,Extra,,,,\n"
        "2023-06-01,receive,R1,WFWF 2023-24,Scottish Government,115000.00,Paid,,,,\n"
    )
    error = refusal(run, HEADER_LINE + rows + "2023-12-01,reduce_award,W1,,,-5000.01,Less,A1,,,\n")
    assert error.reason == (
        "Scottish Government still owes £5,000.00 on award A1; a reduction of £5,000.01 is more"
        " than that (over by £0.01). Money already received goes back to the funder by a"
        " hand-back"
    )
    import_text(run, HEADER_LINE + rows + "2023-12-01,reduce_award,W1,,,-5000.00,Less,A1,,,\n")
    assert pot(run, WFWF_NEXT).funded_pence == 100_000_00 + 15_000_00
    assert run(check).ok


def test_a_reversal_undoes_the_whole_entry_once(run: Run, demo: None) -> None:
    rows = (
        "2022-05-01,award,A1,WFWF 2022-23,Scottish Government,20000.00,Extra,,,,\n"
        "2022-06-01,reverse,X1,,,20000.00,Typed twice,A1,,,\n"
    )
    import_text(run, HEADER_LINE + rows)
    assert pot(run, WFWF_POT).funded_pence == 33_710_318
    error = refusal(run, HEADER_LINE + "2022-06-02,reverse,X2,,,,Again,A1,,,\n")
    assert "has already been reversed" in error.reason
    error = refusal(run, HEADER_LINE + "2022-06-02,reverse,X3,,,5.00,Part,X1,,,\n")
    assert error.column == "amount" and "a reversal undoes the whole entry" in error.reason


def test_an_award_reduction_entered_without_a_second_person_waits_and_holds_the_money(
    run: Run, demo: None
) -> None:
    """In the one-at-a-time writer (the web app's), an award reduction without an approver
    waits in the approvals queue; while it waits its money is held in the pot, and a second
    person's approval posts it."""

    def enter(session: Session) -> int:
        ops.record_award(
            session,
            reference="A1",
            pot=WFWF_POT,
            funder="Scottish Government",
            amount_pence=1_000_00,
            award_date=dt.date(2022, 5, 1),
            entered_by="officer",
            memo="Extra",
            approved_by="finance",
        )
        waiting = ops.reduce_award(
            session,
            reference="W1",
            award="A1",
            amount_pence=400_00,
            date=dt.date(2022, 6, 1),
            entered_by="officer",
            memo="Less",
        )
        assert isinstance(waiting, Request) and waiting.kind == "reduce_award"
        wfwf = ops.find_pot(session, WFWF_POT)
        assert ops.available_after_holds(session, wfwf) == 600_00
        return waiting.id

    request_id = run(enter)

    def approve(session: Session) -> Entry:
        entry = ops.approve_request(session, request_id=request_id, approved_by="finance")
        assert entry is not None
        assert award_reductions(session, [entry.id]) == {entry.id}
        award = session.scalars(select(Award).where(Award.reference == "A1")).one()
        assert entry.award_id == award.id
        return entry

    run(approve)
    assert pot(run, WFWF_POT).funded_pence == 33_710_318 + 600_00
    assert run(check).ok


# A ledger built by import alone names its funding streams -----------------------------------

STREAM_HEADER = ",".join((*HEADER, "stream")) + "\n"
TWO_YEARS = (
    "2022-04-01,award,SG-22,WFWF 2022-23,Scottish Government,100000.00,Year 1,,,"
    "Whole Family Wellbeing Fund\n"
    "2022-05-01,receive,SG-22-CASH,WFWF 2022-23,Scottish Government,100000.00,Year 1 cash,,,\n"
    "2022-07-01,allocate,AB-1,WFWF 2022-23,Aberlour,60000.00,Intensive support,,,\n"
    "2023-04-01,award,SG-23,WFWF 2023-24,Scottish Government,100000.00,Year 2,,,"
    "Whole Family Wellbeing Fund\n"
    "2023-04-01,carry_forward,CF-1,WFWF 2022-23,,40000.00,Year 1 underspend,,WFWF 2023-24,\n"
)


@pytest.fixture
def council(run: Run) -> None:
    """A new ledger, as `commonpurse init --accountable-body` leaves it: no demo, no streams."""

    def setup(session: Session) -> None:
        ops.ensure_organisation(session, "Clackmannanshire Council", ["accountable_body"])
        ops.set_setting(session, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")

    run(setup)


def test_award_rows_naming_their_stream_let_a_new_ledger_carry_money_into_the_next_year(
    run: Run, council: None
) -> None:
    """Without a stream column a ledger made by import had no funding streams at all, so no
    carry-forward could ever pass the same-stream rule."""
    result = import_text(run, STREAM_HEADER + TWO_YEARS)
    assert (result.rows, result.new_entries) == (5, 5)
    year_1, year_2 = pot(run, WFWF_POT), pot(run, WFWF_NEXT)
    assert year_1.carried_forward_pence == year_2.carried_in_pence == 40_000_00
    assert year_1.available_pence == 0
    assert year_2.funded_pence == 140_000_00

    def streams(session: Session) -> list[str | None]:
        found = session.scalars(select(Pot).where(Pot.name.like("WFWF%")).order_by(Pot.id))
        return [p.stream.name if p.stream else None for p in found]

    assert run(streams) == ["Whole Family Wellbeing Fund"] * 2
    again = import_text(run, STREAM_HEADER + TWO_YEARS)
    assert (again.new_entries, again.already_recorded) == (0, 5)
    assert run(check).ok


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param(
            "2023-05-01,award,SG-23B,WFWF 2023-24,Scottish Government,1.00,More,,,"
            "Promise Partnership",
            "WFWF 2023-24 is in the funding stream Whole Family Wellbeing Fund, not Promise"
            " Partnership",
            id="an award naming another stream than its pot's",
        ),
        pytest.param(
            "2023-05-01,receive,SG-23C,WFWF 2023-24,Scottish Government,1.00,More,,,"
            "Whole Family Wellbeing Fund",
            "only award rows take a stream (the funding stream of the pot)",
            id="a stream on a receipt",
        ),
        pytest.param(
            "2023-05-01,award,SG-X,Other 2023-24,Scottish Government,1.00,More,,,"
            "Whole\u200bFamily Wellbeing Fund",
            "A funding stream name cannot contain control or invisible characters",
            id="a stream name with a zero-width space",
        ),
    ],
)
def test_a_stream_column_is_refused_where_it_would_mislead(
    run: Run, council: None, row: str, message: str
) -> None:
    import_text(run, STREAM_HEADER + TWO_YEARS)
    error = refusal(run, STREAM_HEADER + row + "\n")
    assert (error.row, error.column) == (2, "stream")
    assert message in str(error)
