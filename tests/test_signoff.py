"""Statements between two dates and finance's sign-off, on the WFWF 2022-23 pot."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
from sqlalchemy.orm import Session

from ledger import cli, timeline
from ledger import operations as ops
from ledger.demo import APPENDIX_2, CTSI_DELEGATION, GAP_PENCE, WFWF_POT, load_demo
from ledger.schedule import split_instalments
from statements.render.render_html import render_html
from statements.render.render_pdf import render_pdf
from statements.reports.distribution import build_statement
from statements.reports.signoff import signed_statement

Run = Callable[[Callable[[Session], Any]], Any]
FEB_8_2024 = dt.date(2024, 2, 8)
AUG_1_2023 = dt.date(2023, 8, 1)


def _hand_over_ctsi_cash(session: Session) -> None:
    """The council pays CTSI its delegation, so CTSI can pay its own grants."""
    ops.pay(
        session,
        reference="PAY-CTSI-ALL",
        allocation="WFWF-22-05",
        amount_pence=8_233_618,
        date=dt.date(2022, 11, 1),
        entered_by="demo.finance",
        approved_by="demo.officer",
        memo="Delegated cash handed to CTSI",
    )


def _pay(reference: str, day: dt.date, pence: int) -> Callable[[Session], object]:
    return lambda s: ops.pay(
        s,
        reference=reference,
        allocation="CTSI-22-01",
        amount_pence=pence,
        date=day,
        entered_by="demo.ctsi",
        approved_by="demo.finance",
        memo="Homestart instalment",
    )


def _signed(run: Run) -> int:
    run(load_demo)
    run(_hand_over_ctsi_cash)
    run(_pay("PAY-HS-1", dt.date(2023, 9, 1), 100_000))
    signed_at = dt.datetime(2024, 2, 9, 10, 30, tzinfo=dt.UTC)
    return int(
        run(
            lambda s: (
                timeline.sign_off(
                    s,
                    pot=WFWF_POT,
                    as_at=FEB_8_2024,
                    since=AUG_1_2023,
                    signed_by="demo.finance",
                    signed_at=signed_at,
                ).id
            )
        )
    )


def test_progress_since_august_2023_lists_what_moved_in_the_period(run: Run) -> None:
    run(load_demo)
    run(_hand_over_ctsi_cash)
    run(_pay("PAY-HS-0", dt.date(2023, 7, 1), 50_000))  # before the period: not a movement
    run(_pay("PAY-HS-1", dt.date(2023, 9, 1), 100_000))
    statement = run(lambda s: build_statement(s, WFWF_POT, as_at=FEB_8_2024, since=AUG_1_2023))
    assert [(m.what, m.paid_pence) for m in statement.movements] == [
        ("CTSI managed WFWF Grant 2022-23", 100_000),
        ("CTSI-22-01: Homestart", 100_000),
    ]
    # Appendix 2's figures and the £103.18 are still what the statement prints.
    assert statement.section.heading == "WFWF 2022-23: Award £337,000.00"
    assert statement.section.totals.assumed_pence == 10_318
    html = render_html(statement, standalone=False)
    assert "Movements after 1 August 2023 up to 8 February 2024" in html
    assert "phasing not stated. The documents disagree on the years" in html


def test_the_signed_pdf_prints_the_signer_the_as_at_date_and_the_chain_tip(run: Run) -> None:
    signoff_id = _signed(run)
    statement = run(lambda s: signed_statement(s, signoff_id))
    tip = statement.signoff.chain_sha256
    text = "".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(render_pdf(statement))).pages
    )
    assert (
        "Signed off by demo.finance on 9 February 2024, 10:30 GMT; figures as at 8 February"
        " 2024. Movements since 1 August 2023." in text
    )
    assert f"Journal at sign-off: entry {statement.signoff.chain_seq}, chain tip {tip}" in text


def test_the_signed_pdf_is_the_same_bytes_however_much_is_recorded_later(run: Run) -> None:
    signoff_id = _signed(run)
    first = render_pdf(run(lambda s: signed_statement(s, signoff_id)))
    run(_pay("PAY-HS-2", dt.date(2023, 12, 1), 20_000))  # back-dated
    run(_pay("PAY-HS-3", dt.date(2024, 3, 1), 20_000))  # after the as-at date
    assert render_pdf(run(lambda s: signed_statement(s, signoff_id))) == first


def test_a_back_dated_entry_supersedes_the_signed_statement_and_is_named(
    run: Run, database_url: str
) -> None:
    signoff_id = _signed(run)
    run(_pay("PAY-HS-3", dt.date(2024, 3, 1), 20_000))  # after the as-at date: no change
    assert run(timeline.superseded_signoffs) == []
    run(_pay("PAY-HS-2", dt.date(2023, 12, 1), 20_000))
    [superseded] = run(timeline.superseded_signoffs)
    assert str(superseded) == (
        "The statement of WFWF 2022-23 as at 08/02/2024, signed by demo.finance on 09/02/2024,"
        " is superseded by PAY-HS-2 (pay of £200.00 dated 01/12/2023, recorded after the"
        " sign-off)"
    )
    page = render_html(
        run(lambda s: signed_statement(s, signoff_id, mark_superseded=True)), standalone=False
    )
    assert "Superseded: entries dated on or before the as-at" in page and "PAY-HS-2" in page
    out = io.StringIO()
    assert cli.main(["--db", database_url, "signoff", "list"], out=out) == 0
    assert "   SUPERSEDED by PAY-HS-2 (pay of £200.00 dated 01/12/2023" in out.getvalue()


def test_sign_and_reproduce_through_the_cli(run: Run, database_url: str, tmp_path: Path) -> None:
    run(load_demo)
    signed, again = tmp_path / "signed.pdf", tmp_path / "again.pdf"
    out = io.StringIO()
    argv = ["--db", database_url, "--user", "demo.finance", "signoff", "sign", WFWF_POT]
    assert cli.main([*argv, "--as-at", "08/02/2024", "-o", str(signed)], out=out) == 0
    assert out.getvalue().startswith("Signed off WFWF 2022-23 as at 08/02/2024 (sign-off 1)")
    assert cli.main(["--db", database_url, "signoff", "pdf", "1", "-o", str(again)], out=out) == 0
    assert signed.read_bytes() == again.read_bytes()


def test_the_2022_23_statement_as_at_8_february_2024_still_prints_appendix_2_and_the_103_18(
    run: Run,
) -> None:
    """Money over time adds schedules, requirements and readings of the years; none of it
    changes the figures the committee read in Appendix 2."""
    run(load_demo)
    run(
        lambda s: timeline.set_schedule(
            s,
            allocation="WFWF-22-02",
            instalments=split_instalments(10_000_000, dt.date(2023, 10, 1), 4, "quarterly"),
            entered_by="demo.officer",
        )
    )
    statement = run(lambda s: build_statement(s, WFWF_POT, as_at=FEB_8_2024))
    assert statement.section.heading == "WFWF 2022-23: Award £337,000.00"
    printed = {(line.reference, line.amount_pence) for line in (*APPENDIX_2, CTSI_DELEGATION)}
    assert printed <= {(r.reference, r.allocated_pence) for r in statement.section.allocations}
    assert statement.section.totals.allocated_pence == 33_710_318  # £337,103.18
    assert statement.section.totals.assumed_pence == GAP_PENCE  # the £103.18
    text = "".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(render_pdf(statement))).pages
    )
    for amount in ("£39,000.00", "£100,000.00", "£70,767.00", "£45,000.00", "£82,336.18"):
        assert amount in text
    assert "£337,103.18" in text and "£103.18" in text
    assert "phasing not stated" in text


def _creation_date(pdf: bytes) -> str:
    return str(pypdf.PdfReader(io.BytesIO(pdf)).metadata["/CreationDate"])


def test_the_pdf_is_dated_when_made_and_a_signed_one_when_signed(run: Run) -> None:
    """ReportLab's invariant mode would date every PDF 1 January 2000: a statement printed
    today is dated today, and a signed one keeps the moment of signing, 9 February 2024 10:30."""
    signoff_id = _signed(run)
    signed = render_pdf(run(lambda s: signed_statement(s, signoff_id)))
    assert _creation_date(signed) == "D:20240209103000+00'00'"
    statement = run(lambda s: build_statement(s, WFWF_POT))
    made = statement.generated_at
    assert abs(dt.datetime.now(dt.UTC) - made) < dt.timedelta(minutes=1)
    assert _creation_date(render_pdf(statement)) == f"D:{made:%Y%m%d%H%M%S}+00'00'"
