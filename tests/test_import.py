"""``commonpurse import``: spreadsheets of operations, as worked examples from Appendix 2.

Appendix 2 of the Audit and Scrutiny report of 8 February 2024 (seed 003) prints a Whole Family
Wellbeing Fund award of £337,000 and five top-level lines that add up to £337,103.18. Typed into a
spreadsheet exactly as printed (tests/data/appendix2_as_printed.csv), the import must refuse the
CTSI delegation, short by £103.18, and write nothing at all. With the £103.18 recorded as an award
from a named assumption source (tests/data/appendix2_with_top_up.csv) it imports, and the year's
movements (tests/data/wfwf_2022_23_movements.csv: instalments, a receipt, two £500 reductions
and a return, all invented for the example) then add up to the penny.

Rows go through ``ledger.importer.import_rows`` inside ``ledger.db.run_in_transaction``, as the
CLI runs them, and in a few places through ``ledger.cli.main``.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import cli
from ledger import operations as ops
from ledger.check import check
from ledger.errors import InsufficientFunds, ReferenceConflict
from ledger.importer import HEADER, ImportResult, ImportRowError, import_rows
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    AuditEvent,
    Award,
    Base,
    Entry,
    Line,
    Organisation,
    Pot,
    Request,
)
from ledger.readout import PotBalance, pot_balances

Run = Callable[[Callable[[Session], Any]], Any]

DATA = Path(__file__).parent / "data"
AS_PRINTED = DATA / "appendix2_as_printed.csv"
WITH_TOP_UP = DATA / "appendix2_with_top_up.csv"
MOVEMENTS = DATA / "wfwf_2022_23_movements.csv"

HEADER_LINE = ",".join(HEADER) + "\n"
COUNCIL = "Clackmannanshire Council"
WFWF = "WFWF 2022-23"
CTSI_POT = "CTSI managed WFWF Grant"
CTSI = "Clackmannanshire Third Sector Interface (CTSI)"
ASSUMED_SOURCE = "Source not stated in Appendix 2 (assumption)"

# What Appendix 2 prints, in pence.
AWARD = 33_700_000
GAP = 10_318
TOP_LEVEL = {
    "WFWF-22-01": 3_900_000,  # Participation Development Officer
    "WFWF-22-02": 10_000_000,  # Aberlour Sustain
    "WFWF-22-03": 7_076_700,  # Action for Children, Functional Family Therapy
    "WFWF-22-04": 4_500_000,  # Barnardo's, young people returning from care
    "WFWF-22-05": 8_233_618,  # the delegation to CTSI
}
SUB_GRANTS = {
    "CTSI-22-01": 905_800,  # Homestart
    "CTSI-22-02": 2_400_000,  # Two's Company befriending
    "CTSI-22-03": 2_000_000,  # Two's Company for young single parents
    "CTSI-22-04": 1_400_000,  # Community House
    "CTSI-22-05": 1_527_818,  # crèche
}

# Every table an import can write to (organisations are compared before and after instead,
# because the council is there before the first import).
WRITTEN_BY_IMPORTS: tuple[type[Base], ...] = (
    Entry,
    Line,
    Pot,
    Award,
    Allocation,
    AllocationShare,
    Account,
    Request,
    AuditEvent,
)


# --- Helpers -----------------------------------------------------------------------------------


@pytest.fixture
def council(run: Run) -> None:
    """``commonpurse init --accountable-body "Clackmannanshire Council"``: new pots need it."""

    def setup(session: Session) -> None:
        ops.ensure_organisation(session, COUNCIL, ["accountable_body"])
        ops.set_setting(session, ops.ACCOUNTABLE_BODY, COUNCIL)

    run(setup)


@pytest.fixture
def appendix_2(run: Run, council: None) -> None:
    """Appendix 2 with the £103.18 top-up, imported."""
    import_file(run, WITH_TOP_UP)


def import_lines(
    run: Run,
    lines: Iterable[str],
    *,
    source_name: str = "upload.csv",
    entered_by: str = "officer",
    approved_by: str = "finance",
) -> ImportResult:
    result: ImportResult = run(
        lambda session: import_rows(
            session,
            lines,
            source_name=source_name,
            entered_by=entered_by,
            approved_by=approved_by,
        )
    )
    return result


def import_text(run: Run, text: str, **kw: str) -> ImportResult:
    return import_lines(run, io.StringIO(text, newline=""), **kw)


def import_file(run: Run, path: Path, **kw: str) -> ImportResult:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return import_lines(run, handle, source_name=kw.pop("source_name", path.name), **kw)


def refusal(run: Run, text: str) -> ImportRowError:
    with pytest.raises(ImportRowError) as refused:
        import_text(run, text)
    return refused.value


def rows_in(run: Run) -> dict[str, int]:
    def count(session: Session) -> dict[str, int]:
        tables: tuple[type[Base], ...] = (*WRITTEN_BY_IMPORTS, Organisation)
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in tables
        }

    result: dict[str, int] = run(count)
    return result


def balances(run: Run) -> dict[str, PotBalance]:
    result: list[PotBalance] = run(pot_balances)
    return {b.name: b for b in result}


def allocations(run: Run) -> dict[str, tuple[int, int, int]]:
    """reference -> (allocated, paid, returned) pence."""

    def read(session: Session) -> dict[str, tuple[int, int, int]]:
        return {
            a.reference: (a.allocated_pence, a.paid_pence, a.returned_pence)
            for a in session.scalars(select(Allocation))
        }

    result: dict[str, tuple[int, int, int]] = run(read)
    return result


def entry(run: Run, reference: str) -> Entry:
    result: Entry = run(
        lambda session: session.scalars(select(Entry).where(Entry.reference == reference)).one()
    )
    return result


def assert_checks(run: Run) -> None:
    report = run(check)
    assert report.ok, report.problems


def assert_nothing_imported(run: Run) -> None:
    counts = rows_in(run)
    assert {name: counts[name] for name in counts if name != "organisations"} == {
        model.__tablename__: 0 for model in WRITTEN_BY_IMPORTS
    }
    assert counts["organisations"] == 1  # the council, named before the import
    assert_checks(run)


# --- Appendix 2 as printed: refused, nothing written -------------------------------------------


def test_appendix_2_as_printed_is_refused_short_by_103_18_and_writes_nothing(
    run: Run, council: None
) -> None:
    with pytest.raises(ImportRowError) as refused:
        import_file(run, AS_PRINTED)

    error = refused.value
    # Header is row 1, the award row 2, the four allocations rows 3-6: the delegation is row 7.
    assert (error.row, error.column) == (7, "amount")
    assert error.reason == (
        "WFWF 2022-23 has £82,233.00 available; this delegation needs £82,336.18 (short by £103.18)"
    )
    assert str(error) == f"Row 7, column amount: {error.reason}"
    assert isinstance(error.__cause__, InsufficientFunds)
    assert error.__cause__.shortfall_pence == 10_318
    # The award and four allocations in rows 2-6 were rolled back with it: no entries, pots,
    # awards or allocations at all, and no organisations beyond the council.
    assert_nothing_imported(run)
    assert balances(run) == {}


def test_the_as_printed_file_really_is_appendix_2() -> None:
    """The test data matches the document: the top-level lines overshoot the award by £103.18
    and CTSI's sub-grants add up exactly to its £82,336.18."""
    text = AS_PRINTED.read_text(encoding="utf-8")
    assert "£82,336.18" in text and "£15,278.18" in text
    assert sum(TOP_LEVEL.values()) == 33_710_318 == AWARD + GAP
    assert sum(SUB_GRANTS.values()) == TOP_LEVEL["WFWF-22-05"] == 8_233_618
    top_up = WITH_TOP_UP.read_text(encoding="utf-8").splitlines()
    assert sorted(top_up) == sorted([*text.splitlines(), top_up[2]])
    assert ASSUMED_SOURCE in top_up[2] and "£103.18" in top_up[2]


# --- Appendix 2 with the £103.18 recorded: imports, balances to the penny ----------------------


def test_appendix_2_with_a_named_103_18_top_up_imports_and_balances_to_the_penny(
    run: Run, council: None
) -> None:
    result = import_file(run, WITH_TOP_UP)

    assert result == ImportResult(rows=12, new_entries=12, pending=0)
    assert result.already_recorded == 0
    pots = balances(run)
    assert list(pots) == [WFWF, CTSI_POT]
    wfwf, ctsi = pots[WFWF], pots[CTSI_POT]
    assert (wfwf.funded, wfwf.allocated, wfwf.available) == (33_710_318, 33_710_318, 0)
    assert (wfwf.paid, wfwf.returned, wfwf.received) == (0, 0, 0)
    assert wfwf.administered_by == COUNCIL and wfwf.financial_year == "2022-23"
    assert (ctsi.funded, ctsi.allocated, ctsi.available) == (8_233_618, 8_233_618, 0)
    assert (ctsi.paid, ctsi.returned, ctsi.received) == (0, 0, 0)
    assert (ctsi.administered_by, ctsi.parent_pot) == (CTSI, WFWF)
    assert allocations(run) == {
        ref: (amount, 0, 0) for ref, amount in {**TOP_LEVEL, **SUB_GRANTS}.items()
    }
    awards = run(
        lambda s: {
            a.reference: (a.funder.name, a.amount_pence, a.description)
            for a in s.scalars(select(Award))
        }
    )
    assert awards == {
        "WFWF-2022-23-AWARD": (
            "Scottish Government",
            33_700_000,
            "WFWF Year 1: Award £337,000 (Appendix 2, report of 8 Feb 2024)",
        ),
        "WFWF-2022-23-GAP": (
            ASSUMED_SOURCE,
            10_318,
            # a quoted description keeps its commas
            "Appendix 2's five allocations add up to £337,103.18, £103.18 more than the £337,000"
            " award; the documents do not say where the difference came from, so it is recorded"
            " as an assumption",
        ),
    }
    approvals = run(
        lambda s: {(a.status, a.entered_by, a.approved_by) for a in s.scalars(select(Allocation))}
    )
    assert approvals == {("confirmed", "officer", "finance")}
    assert_checks(run)


def test_the_years_instalments_receipt_reductions_and_return_add_up_exactly_in_pence(
    run: Run, appendix_2: None
) -> None:
    result = import_file(run, MOVEMENTS)

    assert result == ImportResult(rows=11, new_entries=11, pending=0)
    wfwf, ctsi = balances(run)[WFWF], balances(run)[CTSI_POT]
    # Funded stays £337,103.18; the two £500.00 reductions free £1,000.00; Aberlour's four
    # £25,000 instalments and the whole £82,336.18 to CTSI are paid; £1,234.56 comes back.
    assert wfwf.funded == 33_710_318
    assert wfwf.allocated == 33_710_318 - 50_000 - 50_000 == 33_610_318
    assert wfwf.paid == 4 * 2_500_000 + 8_233_618 == 18_233_618
    assert wfwf.returned == 123_456
    assert wfwf.available == 100_000 + 123_456 == 223_456
    assert wfwf.received == 16_850_000
    # CTSI holds its £82,336.18, all sub-granted; Homestart has been paid both halves.
    assert (ctsi.funded, ctsi.allocated, ctsi.available) == (8_233_618, 8_233_618, 0)
    assert (ctsi.paid, ctsi.returned, ctsi.received) == (905_800, 0, 0)

    figures = allocations(run)
    assert figures["WFWF-22-02"] == (10_000_000, 10_000_000, 123_456)
    # "-500.00" and "-£500.00" are the same reduction.
    assert figures["WFWF-22-03"] == (7_076_700 - 50_000, 0, 0) == (7_026_700, 0, 0)
    assert figures["WFWF-22-04"] == (4_500_000 - 50_000, 0, 0) == (4_450_000, 0, 0)
    assert figures["WFWF-22-05"] == (8_233_618, 8_233_618, 0)
    assert figures["CTSI-22-01"] == (905_800, 905_800, 0)
    assert figures["WFWF-22-01"] == (3_900_000, 0, 0)
    varies = [entry(run, ref) for ref in ("AFC-FFT-VARY-1", "BARNARDOS-VARY-1")]
    assert [(e.kind, e.amount_pence) for e in varies] == [("vary", 50_000), ("vary", 50_000)]
    received = run(lambda s: {a.reference: a.received_pence for a in s.scalars(select(Award))})
    assert received == {"WFWF-2022-23-AWARD": 16_850_000, "WFWF-2022-23-GAP": 0}
    # UK dates: 31/10/2022 is Halloween 2022; 01/10/2023 is 1 October 2023 (financial year
    # 2023-24), not 10 January.
    assert entry(run, "ABERLOUR-PAY-Q1").effective_date == dt.date(2022, 10, 31)
    returned = entry(run, "ABERLOUR-RETURN-1")
    assert (returned.effective_date, returned.financial_year) == (dt.date(2023, 10, 1), 2023)
    assert_checks(run)


def test_uk_date_01_10_2023_is_the_first_of_october_2023(run: Run, council: None) -> None:
    import_text(
        run,
        HEADER_LINE + "01/10/2023,award,WFWF-2023-24-AWARD,WFWF 2023-24,Scottish Government,"
        '"£337,000",WFWF Year 2,,\n'
        # ISO and single-digit UK dates are read the same way
        + "2023-10-01,award,WFWF-2023-24-ISO,WFWF 2023-24,Scottish Government,1.00,,,\n"
        + "1/10/2023,award,WFWF-2023-24-SHORT,WFWF 2023-24,Scottish Government,1.00,,,\n",
    )

    for reference in ("WFWF-2023-24-AWARD", "WFWF-2023-24-ISO", "WFWF-2023-24-SHORT"):
        posted = entry(run, reference)
        assert (posted.effective_date, posted.financial_year) == (dt.date(2023, 10, 1), 2023)
    assert balances(run)["WFWF 2023-24"].financial_year == "2023-24"


# --- Idempotency: the reference is the key -----------------------------------------------------


def test_importing_appendix_2_twice_changes_nothing(run: Run, appendix_2: None) -> None:
    counts, pots = rows_in(run), balances(run)

    again = import_file(run, WITH_TOP_UP)

    assert again == ImportResult(rows=12, new_entries=0, pending=0)
    assert again.already_recorded == 12
    assert rows_in(run) == counts
    assert balances(run) == pots
    assert_checks(run)


def test_importing_the_movements_twice_pays_aberlour_once(run: Run, appendix_2: None) -> None:
    import_file(run, MOVEMENTS)
    counts, pots, figures = rows_in(run), balances(run), allocations(run)

    again = import_file(run, MOVEMENTS)

    assert (again.new_entries, again.already_recorded) == (0, 11)
    assert (rows_in(run), balances(run), allocations(run)) == (counts, pots, figures)
    assert figures["WFWF-22-02"] == (10_000_000, 10_000_000, 123_456)


def test_the_cli_says_every_row_of_a_second_import_was_already_recorded(
    database_url: str, run: Run, council: None
) -> None:
    argv = ["--db", database_url, "--user", "officer", "import", str(WITH_TOP_UP)]
    first, second = io.StringIO(), io.StringIO()
    assert cli.main([*argv, "--approved-by", "finance"], out=first) == 0
    assert cli.main([*argv, "--approved-by", "finance"], out=second) == 0

    assert first.getvalue() == (
        "Imported appendix2_with_top_up.csv: 12 rows, 12 new journal entries,"
        " 0 awaiting approval, 0 already recorded.\n"
    )
    assert second.getvalue() == (
        "Imported appendix2_with_top_up.csv: 12 rows, 0 new journal entries,"
        " 0 awaiting approval, 12 already recorded.\n"
    )


FIRST_HALF_RECEIPT = (
    "2022-06-30,receive,SG-WFWF-RECEIPT-1,WFWF 2022-23,Scottish Government,"
    '"£168,500.00",First half,,\n'
)


@pytest.mark.parametrize(
    ("rows", "row", "reference"),
    [
        pytest.param(
            '01/10/2022,allocate,WFWF-22-02,WFWF 2022-23,Aberlour,"£110,000",'
            "Aberlour Sustain – Intensive Support Service,,\n",
            3,
            "WFWF-22-02",
            id="Aberlour's reference with £110,000 instead of £100,000",
        ),
        pytest.param(
            "2022-04-01,award,WFWF-22-01,WFWF 2022-23,Scottish Government,£1.00,,,\n",
            3,
            "WFWF-22-01",
            id="an allocation's reference reused for an award",
        ),
        pytest.param(
            # The award exactly as recorded is a replay, not a conflict; the pay after it is.
            '2022-04-01,award,WFWF-2022-23-AWARD,WFWF 2022-23,Scottish Government,"£337,000.00",'
            '"WFWF Year 1: Award £337,000 (Appendix 2, report of 8 Feb 2024)",,\n'
            "2022-11-15,pay,CTSI-22-01,,,£1.00,,CTSI-22-01,\n",
            4,
            "CTSI-22-01",
            id="a sub-grant's reference reused for its payment",
        ),
    ],
)
def test_a_second_file_reusing_a_reference_for_something_else_is_refused_and_writes_nothing(
    run: Run, appendix_2: None, rows: str, row: int, reference: str
) -> None:
    counts, pots = rows_in(run), balances(run)

    error = refusal(run, HEADER_LINE + FIRST_HALF_RECEIPT + rows)

    assert (error.row, error.column) == (row, "reference")
    assert error.reason == (
        f"Reference '{reference}' is already used by a different record; references must be"
        " unique (replaying the same record with the same reference changes nothing)"
    )
    assert isinstance(error.__cause__, ReferenceConflict)
    assert rows_in(run) == counts  # the receipt in row 2 was rolled back too
    assert balances(run) == pots


def test_the_same_rows_saved_under_another_file_name_are_already_recorded(
    run: Run, appendix_2: None
) -> None:
    rows = HEADER_LINE + '31/10/2022,pay,ABERLOUR-PAY-Q1,,,"£25,000.00",,WFWF-22-02,\n'
    import_text(run, rows, source_name="aberlour-payments.csv")

    again = import_text(run, rows, source_name="aberlour-payments (1).csv")

    assert (again.new_entries, again.already_recorded) == (0, 1)


# --- Atomicity and bad rows --------------------------------------------------------------------


def test_a_bad_40th_row_leaves_nothing_from_rows_2_to_39(run: Run, council: None) -> None:
    rows = [HEADER_LINE]
    rows.append(
        '2022-04-01,award,WFWF-2022-23-AWARD,WFWF 2022-23,Scottish Government,"£337,000",,,\n'
    )
    for row in range(3, 40):  # 37 small allocations to 37 providers
        rows.append(f"01/10/2022,allocate,ROW-{row:02d},WFWF 2022-23,Provider {row},£1000,,,\n")
    # Row 40 pays Provider 3 a penny more than was committed to it.
    rows.append('31/10/2022,pay,ROW-40-PAY,,,"£1,000.01",,ROW-03,\n')
    assert len(rows) == 40

    with pytest.raises(ImportRowError) as refused:
        import_lines(run, rows)

    assert (refused.value.row, refused.value.column) == (40, "amount")
    assert refused.value.reason == (
        "Allocation ROW-03 has £1,000.00 committed and unpaid; this payment needs £1,000.01"
        " (over by £0.01)"
    )
    assert_nothing_imported(run)


RECEIPT_ROW = (
    '2022-06-30,receive,SG-WFWF-RECEIPT-1,WFWF 2022-23,Scottish Government,"£1,000.00",,,\n'
)


@pytest.mark.parametrize(
    ("bad_row", "column", "reason"),
    [
        pytest.param(
            "31/10/2022,pay,ABERLOUR-PAY-Q1,,,0.001,,WFWF-22-02,",
            "amount",
            "'0.001' is not a valid amount: amounts are in pounds and pence, at most 2 decimal"
            " places",
            id="sub-penny amount",
        ),
        pytest.param(
            "31/10/2022,pay,ABERLOUR-PAY-Q1,,,1e3,,WFWF-22-02,",
            "amount",
            "'1e3' is not a valid amount: exponents such as 1e3 are not accepted; type the amount"
            " in full, e.g. 1000",
            id="exponent 1e3",
        ),
        pytest.param(
            '31/10/2022,pay,ABERLOUR-PAY-Q1,,,"12,34.5",,WFWF-22-02,',
            "amount",
            "'12,34.5' is not a valid amount: commas must separate thousands, in groups of"
            " exactly 3 digits, e.g. 1,234,567.89",
            id="misplaced comma 12,34.5",
        ),
        pytest.param(
            "31/10/2022,pay,ABERLOUR-PAY-Q1,,,-100.00,,WFWF-22-02,",
            "amount",
            "'-100.00' is not a valid amount: negative amounts are not allowed here",
            id="negative payment",
        ),
        pytest.param(
            '2022-04-01,award,WFWF-NEGATIVE,WFWF 2022-23,Scottish Government,"-£337,000",,,',
            "amount",
            "'-£337,000' is not a valid amount: negative amounts are not allowed here",
            id="negative award",
        ),
        pytest.param(
            "01/10/2023,return,ABERLOUR-RETURN-1,,,-£1.00,,WFWF-22-02,",
            "amount",
            "'-£1.00' is not a valid amount: negative amounts are not allowed here",
            id="negative return",
        ),
        pytest.param(
            "31/10/2022,pay,ABERLOUR-PAY-Q1,,,,,WFWF-22-02,",
            "amount",
            "'' is not a valid amount: it is blank",
            id="blank amount",
        ),
        pytest.param(
            "2023-01-15,vary,AFC-FFT-VARY-1,,,-0.00,Nothing changed,WFWF-22-03,",
            "amount",
            "A variation must change the amount",
            id="variation of nothing",
        ),
        pytest.param(
            "31/02/2023,pay,ABERLOUR-PAY-Q2,,,£1.00,,WFWF-22-02,",
            "date",
            "'31/02/2023' is not a real date (day is out of range for month)",
            id="31 February",
        ),
        pytest.param(
            "2023-13-01,pay,ABERLOUR-PAY-Q2,,,£1.00,,WFWF-22-02,",
            "date",
            "'2023-13-01' is not a real date (month must be in 1..12)",
            id="month 13",
        ),
        pytest.param(
            "yesterday,pay,ABERLOUR-PAY-Q2,,,£1.00,,WFWF-22-02,",
            "date",
            "'yesterday' is not a date; write it as 2023-10-01 or 01/10/2023",
            id="yesterday",
        ),
        pytest.param(
            "2023-01-31,transfer,MOVE-1,WFWF 2022-23,,£1.00,,,",
            "operation",
            "'transfer' is not an operation; use one of award, receive, allocate, delegate,"
            " vary, pay, return, carry_forward, hand_back, reduce_award, close, reverse",
            id="unknown operation",
        ),
        pytest.param(
            "31/10/2022,pay,ABERLOUR-PAY-Q1,,,£1.00,,WFWF-22-99,",
            "allocation_ref",
            "There is no allocation called 'WFWF-22-99'.",
            id="unknown allocation_ref",
        ),
        pytest.param(
            "31/10/2022,pay,,,,£1.00,,WFWF-22-02,",
            "reference",
            "every row needs a unique reference",
            id="missing reference",
        ),
        pytest.param(
            '31/10/2022,pay,ABERLOUR-PAY-ALL,,,"£100,000.01",,WFWF-22-02,',
            "amount",
            "Allocation WFWF-22-02 has £100,000.00 committed and unpaid; this payment needs"
            " £100,000.01 (over by £0.01)",
            id="payment over the commitment",
        ),
        pytest.param(
            # Row 2 has already received £1,000 in this same (doomed) transaction.
            '2022-07-31,receive,SG-WFWF-RECEIPT-2,WFWF 2022-23,Scottish Government,"£336,000.01",'
            ",,",
            "amount",
            "Scottish Government has £336,000.00 still to pay on its awards into WFWF 2022-23;"
            " a receipt of £336,000.01 is more than was awarded (over by £0.01)",
            id="receipt over the award",
        ),
        pytest.param(
            "01/10/2022,allocate,WFWF-22-06,WFWF 2022-23,Aberlour,£0.01,,,",
            "amount",
            "WFWF 2022-23 has £0.00 available; this allocation needs £0.01 (short by £0.01)",
            id="allocation beyond the award",
        ),
        pytest.param(
            "01/10/2022,allocate,CTSI-22-06,CTSI managed WFWF Grant,Homestart,£0.01,,,",
            "amount",
            "CTSI managed WFWF Grant has £0.00 available; this sub-grant needs £0.01 (short by"
            " £0.01)",
            id="sub-grant beyond CTSI's pot",
        ),
        pytest.param(
            "01/10/2022,allocate,WFWF-22-06,WFWF 2022-23,Aberlour,£1.00,,,CTSI managed WFWF Grant",
            "to_pot",
            "only delegate and carry_forward rows take a to_pot",
            id="to_pot on an allocate row",
        ),
        pytest.param(
            "31/10/2022,pay,ABERLOUR-PAY-Q1,,,£1.00,,WFWF-22-02,CTSI managed WFWF Grant",
            "to_pot",
            "only delegate and carry_forward rows take a to_pot",
            id="to_pot on a pay row",
        ),
        pytest.param(
            f"01/10/2022,delegate,WFWF-22-06,WFWF 2022-23,{CTSI},£1.00,,,",
            "to_pot",
            "a delegate row needs to_pot",
            id="delegate without to_pot",
        ),
        pytest.param(
            "2023-04-01,receive,SG-WFWF-2023,WFWF 2023-24,Scottish Government,£1.00,,,",
            "pot",
            "There is no pot called 'WFWF 2023-24'.",
            id="receipt into an unknown pot",
        ),
    ],
)
def test_a_bad_row_names_its_row_column_and_reason_and_the_good_row_above_is_not_kept(
    run: Run, appendix_2: None, bad_row: str, column: str, reason: str
) -> None:
    counts, pots = rows_in(run), balances(run)

    error = refusal(run, HEADER_LINE + RECEIPT_ROW + bad_row + "\n")

    assert (error.row, error.column, error.reason) == (3, column, reason)
    assert str(error) == f"Row 3, column {column}: {reason}"
    assert rows_in(run) == counts
    assert balances(run) == pots
    assert balances(run)[WFWF].received == 0  # row 2's £1,000 receipt was rolled back


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(
            "date,operation,ref,pot,counterparty,amount,description,allocation_ref,to_pot",
            id="ref for reference",
        ),
        pytest.param(
            "date,operation,reference,pot,counterparty,amount,description,allocation_ref",
            id="to_pot missing",
        ),
        pytest.param(
            "operation,date,reference,pot,counterparty,amount,description,allocation_ref,to_pot",
            id="columns swapped",
        ),
        pytest.param(
            "2022-04-01,award,WFWF-2022-23-AWARD,WFWF 2022-23,Scottish Government,337000,,,",
            id="no header at all",
        ),
    ],
)
def test_a_wrong_header_is_refused_at_row_1(run: Run, council: None, header: str) -> None:
    error = refusal(run, header + "\n" + RECEIPT_ROW)

    assert (error.row, error.column) == (1, None)
    assert error.reason.startswith(
        "the header must be exactly: date,operation,reference,pot,counterparty,amount,"
        "description,allocation_ref,to_pot (found: "
    )
    assert_nothing_imported(run)


def test_an_empty_file_is_refused_at_row_1(run: Run, council: None) -> None:
    error = refusal(run, "")

    assert (error.row, error.column) == (1, None)
    assert error.reason == "the file is empty; it needs the header row"


@pytest.mark.parametrize(
    ("bad_row", "columns"),
    [
        pytest.param(
            "01/10/2022,delegate,WFWF-22-05,WFWF 2022-23,CTSI,£82,336.18,,,CTSI managed WFWF Grant",
            10,
            id="£82,336.18 not quoted",
        ),
        pytest.param("31/10/2022,pay,ABERLOUR-PAY-Q1,,,£1.00,,WFWF-22-02", 8, id="one short"),
        pytest.param("31/10/2022", 1, id="only a date"),
    ],
)
def test_a_row_with_the_wrong_number_of_columns_is_refused(
    run: Run, appendix_2: None, bad_row: str, columns: int
) -> None:
    counts = rows_in(run)

    error = refusal(run, HEADER_LINE + RECEIPT_ROW + bad_row + "\n")

    assert (error.row, error.column) == (3, None)
    assert error.reason == f"has {columns} columns; every row needs 9"
    assert str(error) == f"Row 3: has {columns} columns; every row needs 9"
    assert rows_in(run) == counts


# --- What spreadsheets produce -----------------------------------------------------------------


def test_a_utf8_byte_order_mark_before_the_header_is_accepted(run: Run, council: None) -> None:
    result = import_text(run, "\ufeff" + HEADER_LINE + RECEIPT_ROW.replace("receive", "award"))

    assert result.new_entries == 1
    assert balances(run)[WFWF].funded == 100_000


def test_blank_lines_are_skipped_but_still_count_as_spreadsheet_rows(
    run: Run, appendix_2: None
) -> None:
    text = (
        HEADER_LINE
        + RECEIPT_ROW  # row 2
        + "\n"  # row 3, an empty line
        + ",,,,,,,,\n"  # row 4, an empty spreadsheet row
        + "  , ,,,,,,,\n"  # row 5, only spaces
        + "31/10/2022,pay,ABERLOUR-PAY-Q1,,,£1.00,,WFWF-22-99,\n"  # row 6
    )

    error = refusal(run, text)
    assert (error.row, error.column) == (6, "allocation_ref")

    result = import_text(run, text.replace("WFWF-22-99", "WFWF-22-02") + "\n\n")
    assert result == ImportResult(rows=2, new_entries=2, pending=0)
    assert balances(run)[WFWF].received == 100_000


def test_quoted_fields_keep_their_commas_and_line_breaks(run: Run, council: None) -> None:
    text = (
        HEADER_LINE
        + '2022-04-01,award,WFWF-2022-23-AWARD,WFWF 2022-23,Scottish Government,"£337,000.00",'
        '"WFWF Year 1: Award £337,000 (Appendix 2, report of 8 Feb 2024)",,\n'
        + f'01/10/2022,delegate,WFWF-22-05,WFWF 2022-23,"{CTSI}","£82,336.18",'
        '"Allocation of Award for CTSI managed WFWF Grant,\nas printed in Appendix 2",,'
        f'"{CTSI_POT}"\n'
        # a spreadsheet counts the two-line cell above as one row: this is row 4
         + '01/10/2022,allocate,CTSI-22-05,"CTSI managed WFWF Grant",Action for Children,'
        '"£15,278.18","Crèche to support evidence-based parenting groups, children 0-5",,\n'
        + '01/10/2022,allocate,CTSI-22-06,"CTSI managed WFWF Grant",Homestart,"£82,336.18",,,\n'
    )

    error = refusal(run, text)
    assert (error.row, error.column) == (5, "amount")
    assert error.reason == (
        "CTSI managed WFWF Grant has £67,058.00 available; this sub-grant needs £82,336.18"
        " (short by £15,278.18)"
    )

    import_text(run, text.rsplit("01/10/2022,allocate,CTSI-22-06", 1)[0])
    assert allocations(run) == {"WFWF-22-05": (8_233_618, 0, 0), "CTSI-22-05": (1_527_818, 0, 0)}
    purposes = run(lambda s: {a.reference: a.purpose for a in s.scalars(select(Allocation))})
    assert purposes == {
        "WFWF-22-05": "Allocation of Award for CTSI managed WFWF Grant,\nas printed in Appendix 2",
        "CTSI-22-05": "Crèche to support evidence-based parenting groups, children 0-5",
    }


def test_a_reference_longer_than_the_ledger_keeps_is_refused_with_its_row_and_column(
    run: Run, appendix_2: None
) -> None:
    long_reference = "ABERLOUR-PAY-" + "Q" * 88
    assert len(long_reference) == 101

    error = refusal(run, HEADER_LINE + f"31/10/2022,pay,{long_reference},,,£1.00,,WFWF-22-02,\n")

    assert (error.row, error.column) == (2, "reference")
