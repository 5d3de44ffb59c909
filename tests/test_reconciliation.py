"""Finance's reconciliation: the ledger's own figures per award and year, and the match against
the council's finance-system export (``commonpurse reconcile``)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ledger import cli
from ledger import operations as ops
from ledger.demo import (
    CORRA,
    CTSI_POT,
    PROMISE_POT,
    SCOTTISH_GOVERNMENT,
    WFWF_POT,
    load_demo,
)
from statements.reports.finance_match import (
    FinanceRow,
    ledger_items,
    match,
    read_finance_csv,
)
from statements.reports.finance_match import render_text as render_match
from statements.reports.reconciliation import build_reconciliation, render_text, total_of

Run = Callable[[Callable[[Session], Any]], Any]
DATA = Path(__file__).parent / "data" / "finance"
AS_AT = dt.date(2024, 2, 8)
ASSUMED = "Source not stated in Appendix 2 (assumption)"


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


def council_books(s: Session) -> None:
    """Receipts and payments after the demo: SG pays the £337,000 in two instalments, Corra its
    £50,000; the council pays CTSI, Aberlour, Action for Children and Barnardo's, and pays
    Aberlour twice by mistake (reversed); CTSI pays Homestart from its own pot."""
    ops.record_receipt(
        s,
        reference="CORRA-PROMISE-1",
        pot=PROMISE_POT,
        funder=CORRA,
        amount_pence=5_000_000,
        date=dt.date(2021, 10, 15),
        entered_by="finance",
        memo="Promise Partnership grant",
        approved_by="officer",
    )
    for reference, day in (
        ("SG-WFWF-1", dt.date(2022, 5, 31)),
        ("SG-WFWF-2", dt.date(2022, 11, 30)),
    ):
        ops.record_receipt(
            s,
            reference=reference,
            pot=WFWF_POT,
            funder=SCOTTISH_GOVERNMENT,
            amount_pence=16_850_000,
            date=day,
            entered_by="finance",
            memo="WFWF instalment",
            approved_by="officer",
        )
    pay(s, "PAY-CTSI-1", "WFWF-22-05", 4_116_809, dt.date(2022, 11, 1))
    pay(s, "PAY-ABERLOUR-Q1", "WFWF-22-02", 2_500_000, dt.date(2022, 12, 1))
    duplicate = pay(s, "PAY-ABERLOUR-DUP", "WFWF-22-02", 2_500_000, dt.date(2022, 12, 2))
    ops.reverse(
        s,
        entry_id=duplicate.id,
        reason="Aberlour paid twice for Q1",
        entered_by="finance",
        date=dt.date(2022, 12, 5),
        reference="REV-PAY-ABERLOUR-DUP",
        approved_by="officer",
    )
    pay(s, "CTSI-PAY-HOMESTART-1", "CTSI-22-01", 452_900, dt.date(2022, 12, 10))
    pay(s, "PAY-AFC-1", "WFWF-22-03", 1_769_175, dt.date(2023, 1, 15))
    pay(s, "PAY-BARNARDOS", "WFWF-22-04", 4_500_000, dt.date(2023, 6, 30))


@pytest.fixture
def books(run: Run) -> None:
    run(load_demo)
    run(council_books)


@pytest.fixture
def reconcile(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """``commonpurse --db URL reconcile ARGS`` through ``ledger.cli.main``: (status, out, err).

    Only this module's entry point is loaded, so commands other engineers are still writing
    cannot break these tests."""
    ours = EntryPoint(
        name="reconcile",
        value="statements.commands.reconcile_command:register",
        group=cli.PLUGIN_GROUP,
    )
    monkeypatch.setattr(cli, "entry_points", lambda group: [ours])

    def invoke(*argv: str) -> tuple[int, str, str]:
        out = io.StringIO()
        capsys.readouterr()
        code = cli.main(["--db", database_url, "reconcile", *argv], out=out)
        return code, out.getvalue(), capsys.readouterr().err

    return invoke


# The ledger's own reconciliation -----------------------------------------------------------


def test_demo_figures_per_award_and_financial_year(run: Run) -> None:
    run(load_demo)
    rec = run(lambda s: build_reconciliation(s, as_at=AS_AT))

    wfwf = rec.pot(WFWF_POT)
    (year,) = wfwf.years
    assert year.label == "2022-23"
    assert year.moved.awarded == 33_700_000  # from the Scottish Government
    assert year.moved.assumed == 10_318  # the £103.18 shown apart, never mixed into awarded
    assert year.moved.allocated == 33_710_318
    assert year.closing.available == 0
    assert year.closing.unpaid == 33_710_318
    assert [(a.reference, a.awarded_pence, a.is_assumption) for a in wfwf.awards] == [
        ("WFWF-2022-23-AWARD", 33_700_000, False),
        ("WFWF-2022-23-GAP", 10_318, True),
    ]

    promise = rec.pot(PROMISE_POT)
    assert [(r.label, r.moved.awarded, r.closing.available) for r in promise.years] == [
        ("2021-22", 5_000_000, 5_000_000)
    ]
    ctsi = rec.pot(CTSI_POT)
    assert ctsi.delegated_from == WFWF_POT
    assert ctsi.total.delegated_in == ctsi.total.allocated == 8_233_618

    # Grand totals add up exactly, and delegated money is not counted twice.
    assert rec.total.awarded == 38_700_000
    assert rec.total.assumed == 10_318
    assert rec.total.allocated == 33_710_318
    assert rec.total == total_of(p.total for p in rec.pots)
    assert rec.total == total_of(r.moved for r in rec.years)

    text = render_text(rec)
    assert "2022-23  £337,000.00  £103.18" in text
    assert "Note: £103.18 is recorded as an assumption" in text


def test_by_ultimate_source_counts_the_promise_partnership_once_under_the_scottish_government(
    run: Run,
) -> None:
    run(load_demo)
    rec = run(lambda s: build_reconciliation(s, as_at=AS_AT))

    by_funder = {g.name: g.total for g in rec.by_funder}
    assert by_funder[SCOTTISH_GOVERNMENT].awarded == 33_700_000
    assert by_funder[CORRA].awarded == 5_000_000
    assert by_funder[ASSUMED].assumed == 10_318

    by_source = {g.name: g for g in rec.by_source}
    assert set(by_source) == {SCOTTISH_GOVERNMENT, ASSUMED}  # Corra is not a source of money
    sg = by_source[SCOTTISH_GOVERNMENT]
    assert sg.total.awarded == 38_700_000  # £337,000 + £50,000, once
    assert sg.through == (CORRA,)
    assert set(sg.pots) == {WFWF_POT, PROMISE_POT}
    assert [(r.label, r.moved.awarded) for r in sg.years] == [
        ("2021-22", 5_000_000),
        ("2022-23", 33_700_000),
    ]
    # Each view adds up to the same grand total: nothing counted twice, nothing lost.
    assert total_of(g.total for g in rec.by_source) == rec.total
    assert total_of(g.total for g in rec.by_funder) == rec.total
    # The allocations are attributed to funders in proportion to their awards into the pot.
    assert by_funder[SCOTTISH_GOVERNMENT].allocated == 33_700_000
    assert by_funder[ASSUMED].allocated == 10_318


def test_receipts_and_payments_per_year(run: Run, books: None) -> None:
    rec = run(lambda s: build_reconciliation(s, as_at=AS_AT + dt.timedelta(days=200)))
    wfwf = rec.pot(WFWF_POT)
    by_year = {r.label: r for r in wfwf.years}
    assert by_year["2022-23"].moved.received == 33_700_000
    # CTSI, Aberlour Q1 (its duplicate reversed) and Action for Children in 2022-23.
    assert by_year["2022-23"].moved.paid == 4_116_809 + 2_500_000 + 1_769_175
    assert by_year["2023-24"].moved.paid == 4_500_000
    assert by_year["2023-24"].closing.unpaid == 33_710_318 - 12_885_984
    (award, _) = wfwf.awards
    assert award.received_by_year == ((2022, 33_700_000),)
    assert award.owed_pence == 0
    promise = rec.pot(PROMISE_POT)
    assert promise.awards[0].received_by_year == ((2021, 5_000_000),)
    # CTSI's own payment to Homestart is inside its pot, not another council payment.
    assert rec.pot(CTSI_POT).total.paid == 452_900
    assert rec.total.paid == 12_885_984
    assert rec.total.received == 38_700_000


# Matching the finance export ---------------------------------------------------------------


def test_a_matching_finance_export_reconciles(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    report = tmp_path / "match.csv"
    code, out, err = reconcile(str(DATA / "matching.csv"), "--csv", str(report))
    assert (code, err) == (0, "")
    assert "Matched (7):" in out
    assert "Reconciled: all 7 references match the ledger to the penny." in out
    for heading in ("Amount differences", "Only in the finance export", "Only in the ledger"):
        assert f"{heading} (0):" in out
    # The reversed duplicate is not expected in the export, and says so.
    assert "Reversed in the ledger, so not expected in the finance export:" in out
    assert "PAY-ABERLOUR-DUP  -£25,000.00  2022-12-02  payment to Aberlour" in out
    assert "7 finance rows; 8 ledger receipts and payments in the council's own books (1 of" in out
    # CTSI's sub-grant payments are in CTSI's books, not the council's.
    assert "CTSI-PAY-HOMESTART-1" not in out
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        "status,reference,finance_rows,finance_date,finance_amount,ledger_date,ledger_amount,"
        "difference,ledger_description,finance_description,note"
    )
    assert sum(line.startswith("matched,") for line in lines) == 7
    assert any(
        line.startswith("matched,PAY-AFC-1,7,2023-01-16,-17691.75,2023-01-15,") for line in lines
    )


def test_planted_differences_are_each_found(
    books: None, reconcile: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, err = reconcile(str(DATA / "differences.csv"))
    assert (code, err) == (1, "")
    assert "Amount differences (1):" in out
    assert (
        "  PAY-AFC-1  finance -£17,691.57 (row 7), ledger -£17,691.75, finance less ledger £0.18"
        in out
    )
    assert "Only in the finance export (2):" in out
    assert "  PAY-AFC-CRECHE  -£1,527.82  2023-02-01  row 8  Action for Children creche" in out
    # The ledger reversed this payment, so finance showing it is a finding, not a match.
    assert "  PAY-ABERLOUR-DUP  -£25,000.00  2022-12-02  row 6" in out
    assert "Only in the ledger (1):" in out
    assert "  PAY-ABERLOUR-Q1  -£25,000.00  2022-12-01  payment to Aberlour on WFWF-22-02" in out
    assert out.rstrip().endswith(
        "Does not reconcile: 1 amount difference, 2 only in the finance export,"
        " 1 only in the ledger; 5 matched."
    )


def test_matching_rules_directly(run: Run, books: None) -> None:
    with (DATA / "differences.csv").open(encoding="utf-8", newline="") as handle:
        rows = read_finance_csv(handle, "differences.csv")
    items = run(ledger_items)
    result = match(rows, items, "differences.csv")
    assert not result.reconciles
    (difference,) = result.differences
    assert (difference.finance_pence, difference.ledger_pence) == (-1_769_157, -1_769_175)
    assert difference.difference_pence == 18
    assert [e.reference for e in result.only_in_ledger] == ["PAY-ABERLOUR-Q1"]
    assert [e.reference for e in result.only_in_finance] == ["PAY-ABERLOUR-DUP", "PAY-AFC-CRECHE"]
    (reversed_item,) = result.reversed_in_ledger
    assert (reversed_item.amount_pence, reversed_item.gross_pence) == (0, -2_500_000)
    assert reversed_item.reversed_on == dt.date(2022, 12, 5)

    # A cancellation inside the finance export nets out like a reversal in the ledger.
    refund = FinanceRow(10, dt.date(2022, 12, 6), "PAY-ABERLOUR-DUP", 2_500_000, "recalled")
    netted = match([*rows, refund], items)
    assert "PAY-ABERLOUR-DUP" not in {e.reference for e in netted.only_in_finance}
    assert "PAY-ABERLOUR-DUP" in {e.reference for e in netted.matched}  # £0.00 on both sides
    # ...and a recall recorded under the reversal's own reference matches it separately.
    recall = FinanceRow(10, dt.date(2022, 12, 5), "REV-PAY-ABERLOUR-DUP", 2_500_000, "recalled")
    separately = match([*rows, recall], items)
    matched = {e.reference: e.ledger_pence for e in separately.matched}
    assert matched["PAY-ABERLOUR-DUP"] == -2_500_000
    assert matched["REV-PAY-ABERLOUR-DUP"] == 2_500_000
    # A sign typed the wrong way round is an amount difference, with a hint.
    flipped = [
        replace(r, amount_pence=-r.amount_pence) if r.reference == "SG-WFWF-1" else r for r in rows
    ]
    result = match(flipped, items)
    assert [d.reference for d in result.differences] == ["SG-WFWF-1", "PAY-AFC-1"]
    assert "opposite signs" in render_match(result)


def test_a_date_range_limits_both_sides(
    books: None, reconcile: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, _ = reconcile(
        str(DATA / "matching.csv"), "--from", "2022-04-01", "--to", "31/03/2023"
    )
    assert code == 0
    assert "Matched (5):" in out
    assert "PAY-BARNARDOS" not in out and "CORRA-PROMISE-1" not in out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "bad_header.csv",
            "commonpurse: bad_header.csv row 1: the header is 'date,ref,amount,memo'; it must be"
            " date,reference,amount,description. Nothing was matched.",
        ),
        (
            "bad_amount_row5.csv",
            "commonpurse: bad_amount_row5.csv row 5: amount '168.500,00' is not a valid amount:",
        ),
    ],
)
def test_bad_finance_files_are_refused_in_one_line_with_the_row(
    books: None, reconcile: Callable[..., tuple[int, str, str]], name: str, message: str
) -> None:
    code, out, err = reconcile(str(DATA / name))
    assert code == 1
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty.csv is empty; it needs the header row date,reference,amount,description"),
        (
            "date,reference,amount,description\n31/02/2023,X,1,\n",
            "empty.csv row 2: date '31/02/2023' is not a real date",
        ),
        (
            "date,reference,amount,description\n2023-01-01,,1,\n",
            "empty.csv row 2: the reference is blank",
        ),
        (
            "date,reference,amount,description\n2023-01-01,X,1\n",
            "empty.csv row 2: has 3 columns; expected 4",
        ),
        (
            "date,reference,amount,description\n2023-01-01,X,1e3,\n",
            "empty.csv row 2: amount '1e3' is not a valid amount",
        ),
    ],
)
def test_more_bad_files(
    books: None,
    reconcile: Callable[..., tuple[int, str, str]],
    tmp_path: Path,
    content: str,
    message: str,
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    code, _, err = reconcile(str(path))
    assert code == 1
    assert err.startswith(f"commonpurse: {message}")
    assert err.count("\n") == 1


def test_a_file_that_is_not_utf8_or_not_there(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("date,reference,amount,description\n2023-01-01,X,£5,\n".encode("latin-1"))
    code, _, err = reconcile(str(path))
    assert code == 1 and "is not UTF-8 text" in err and err.count("\n") == 1
    code, _, err = reconcile(str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv is not a file" in err
    code, _, err = reconcile()
    assert code == 2 and "needs a finance export" in err


def test_figures_through_the_command(
    books: None, reconcile: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, err = reconcile("--figures", "--as-at", "2024-02-08")
    assert (code, err) == (0, "")
    assert out.startswith("Reconciliation as at 8 February 2024")
    assert "By ultimate source" in out


def test_help_documents_the_format_and_the_sign_convention(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = EntryPoint(
        name="reconcile",
        value="statements.commands.reconcile_command:register",
        group=cli.PLUGIN_GROUP,
    )
    monkeypatch.setattr(cli, "entry_points", lambda group: [ours])
    with pytest.raises(SystemExit):
        cli.main(["reconcile", "--help"])
    text = capsys.readouterr().out
    assert "date,reference,amount,description" in text
    assert "money IN to the council is positive" in text
    assert "money OUT of the council is negative" in text


# Reconciliation as finance does it ---------------------------------------------------------

HEADER = "date,reference,amount,description\n"
MATCHING_ROWS = (DATA / "matching.csv").read_text(encoding="utf-8").splitlines()[1:]


def export(tmp_path: Path, *lines: str, name: str = "export.csv") -> str:
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_control_totals_head_the_report_in_text_and_csv(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    report = tmp_path / "match.csv"
    code, out, _ = reconcile(str(DATA / "matching.csv"), "--csv", str(report))
    assert code == 0
    # In: Corra's £50,000 and the Scottish Government's two £168,500 instalments. Out: CTSI
    # £41,168.09, Aberlour £25,000 (its duplicate reversed), AfC £17,691.75, Barnardo's £45,000.
    head = out.split("\n\nMatched")[0]
    assert "Control totals:" in head
    assert head.splitlines()[-4:] == [
        "                       Finance            Ledger   Finance less ledger",
        "  Money in         £387,000.00       £387,000.00                 £0.00",
        "  Money out       -£128,859.84      -£128,859.84                 £0.00",
        "  Net              £258,140.16       £258,140.16                 £0.00",
    ]
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith("control total,money in,,,387000.00,,387000.00,0.00,")
    assert lines[2].startswith("control total,money out,,,-128859.84,,-128859.84,0.00,")
    assert lines[3].startswith("control total,net,,,258140.16,,258140.16,0.00,")


def test_a_row_dated_just_outside_the_window_on_one_side_is_named_as_such(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    """The year 2022-23. Finance posted Aberlour's December payment on 3 April 2023, after the
    year end; and it dated Barnardo's payment 31 March 2023, which the ledger dates 30 June."""
    rows = [r for r in MATCHING_ROWS if "PAY-ABERLOUR-Q1" not in r and "PAY-BARNARDOS" not in r]
    path = export(
        tmp_path,
        *rows,
        '03/04/2023,PAY-ABERLOUR-Q1,"-£25,000.00",Aberlour Sustain Q1',
        '31/03/2023,PAY-BARNARDOS,"-45,000",Barnardo\'s',
    )
    code, out, _ = reconcile(path, "--from", "01/04/2022", "--to", "31/03/2023")
    assert "Dated outside the window on the other side (2):" in out
    assert (
        "  PAY-BARNARDOS  finance -£45,000.00 dated 2023-03-31 (row 9), ledger -£45,000.00"
        " dated 2023-06-30\n    Note: the ledger dates it 30/06/2023, outside the window"
    ) in out
    assert (
        "  PAY-ABERLOUR-Q1  finance -£25,000.00 dated 2023-04-03 (row 8), ledger -£25,000.00"
        " dated 2022-12-01\n    Note: the finance export dates it 03/04/2023, outside the window"
    ) in out
    assert "Only in the finance export (0):" in out and "Only in the ledger (0):" in out
    # The two rows explain the control totals' difference: £45,000 less £25,000.
    assert "  Money out       -£103,859.84       -£83,859.84           -£20,000.00" in out
    assert out.startswith(
        "Reconciliation of export.csv with the ledger, from 01/04/2022 to 31/03/2023"
    )
    assert code == 0


def test_references_differing_only_in_case_or_spaces_match_with_the_difference_shown(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    rows = [r.replace("PAY-AFC-1", "pay-afc- 1") for r in MATCHING_ROWS]
    code, out, _ = reconcile(export(tmp_path, *rows))
    assert code == 0, out
    assert (
        "  PAY-AFC-1  -£17,691.75  2023-01-16  payment to Action for Children on WFWF-22-03"
        " (WFWF 2022-23)\n    Note: written 'pay-afc- 1' in the finance export, PAY-AFC-1 in"
        " the ledger"
    ) in out


def test_one_remittance_for_two_ledger_receipts_from_the_scottish_government_matches(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    """The Scottish Government's two £168,500 instalments, banked as one £337,000 remittance."""
    rows = [r for r in MATCHING_ROWS if "SG-WFWF-" not in r]
    path = export(tmp_path, *rows, '30/11/2022,SG-REMIT-0042,"337,000.00",SG remittance WFWF')
    report = tmp_path / "match.csv"
    code, out, _ = reconcile(path, "--csv", str(report))
    assert code == 0, out
    assert (
        "  SG-REMIT-0042  £337,000.00  2022-11-30  SG remittance WFWF\n"
        "    Note: one remittance for 2 ledger receipts from Scottish Government:"
        " SG-WFWF-1, SG-WFWF-2"
    ) in out
    assert "Reconciled: all 6 references match the ledger to the penny." in out
    (line,) = [x for x in report.read_text(encoding="utf-8").splitlines() if "SG-REMIT" in x]
    assert line.startswith("matched,SG-REMIT-0042,8,2022-11-30,337000.00,2022-05-31,337000.00,")


def test_an_intermediarys_own_payment_in_the_export_is_named_as_such(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    path = export(tmp_path, *MATCHING_ROWS, "10/12/2022,CTSI-PAY-HOMESTART-1,-4529.00,Homestart")
    code, out, _ = reconcile(path)
    assert code == 1
    assert "An intermediary's own payments, not the council's (1):" in out
    assert (
        "    Note: Clackmannanshire Third Sector Interface (CTSI)'s own payment from its delegated"
        " pot CTSI managed WFWF Grant 2022-23: it belongs in Clackmannanshire Third Sector"
        " Interface (CTSI)'s books, not the council's"
    ) in out
    assert "Only in the finance export (0):" in out
    assert out.rstrip().endswith(
        "Does not reconcile: 0 amount differences, 0 only in the finance export, 0 only in the"
        " ledger, 1 intermediary's own payment; 7 matched."
    )


def test_duplicate_finance_rows_are_shown_and_singular_words_are_singular(
    books: None, reconcile: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    afc = "2023-01-16,PAY-AFC-1,-17691.75,Action for Children Functional Family Therapy"
    code, out, _ = reconcile(
        export(tmp_path, afc, afc), "--from", "01/01/2023", "--to", "31/01/2023"
    )
    assert code == 1
    assert out.splitlines()[1].startswith(
        "2 finance rows; 1 ledger receipt or payment in the council's own books"
    )
    assert (
        "  PAY-AFC-1: row 2 2023-01-16 -£17,691.75; row 3 2023-01-16 -£17,691.75; together"
        " -£35,383.50 (identical rows: a duplicate?)"
    ) in out
    assert out.rstrip().endswith(
        "Does not reconcile: 1 amount difference, 0 only in the finance export, 0 only in the"
        " ledger; 0 matched."
    )
    code, out, _ = reconcile(export(tmp_path, afc), "--from", "01/01/2023", "--to", "31/01/2023")
    assert code == 0
    assert out.splitlines()[1].startswith("1 finance row; 1 ledger receipt or payment")
    assert "Reconciled: the 1 reference matches the ledger to the penny." in out
