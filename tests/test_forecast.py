"""The cash forecast, on the WFWF pot: when cash held runs negative, and the total as the sum
of its pots."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from ledger import cli, timeline
from ledger import operations as ops
from ledger.demo import SCOTTISH_GOVERNMENT, WFWF_POT, load_demo
from statements.reports.forecast import build_forecast, total_of, write_forecast_csv

Run = Callable[[Callable[[Session], Any]], Any]
JAN_2024 = dt.date(2024, 1, 1)


def _aberlour_paid_before_the_cash_arrives(session: Session) -> None:
    """Aberlour's £100,000 quarterly from October 2023; Scottish Government pays £40,000 of the
    award in March 2023 and the rest is due (a receipt instalment) in September 2024."""
    load_demo(session)
    ops.record_receipt(
        session,
        reference="SG-RECEIPT-1",
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=4_000_000,
        date=dt.date(2023, 3, 1),
        entered_by="demo.finance",
        approved_by="demo.officer",
        memo="First WFWF receipt",
    )
    timeline.set_receipt_schedule(
        session,
        award="WFWF-2022-23-AWARD",
        instalments=[(dt.date(2023, 3, 1), 4_000_000), (dt.date(2024, 9, 1), 29_700_000)],
        entered_by="demo.finance",
    )
    timeline.set_schedule(
        session,
        allocation="WFWF-22-02",
        instalments=[
            (dt.date(2024, 1, 1), 2_500_000),
            (dt.date(2024, 4, 1), 2_500_000),
            (dt.date(2024, 7, 1), 2_500_000),
            (dt.date(2024, 10, 1), 2_500_000),
        ],
        entered_by="demo.officer",
    )


def test_the_forecast_names_the_month_cash_runs_negative_and_by_how_much(run: Run) -> None:
    run(_aberlour_paid_before_the_cash_arrives)
    forecast = run(lambda s: build_forecast(s, today=JAN_2024))
    wfwf = next(p for p in forecast.pots if p.pot == WFWF_POT)
    assert wfwf.opening_cash_pence == 4_000_000
    # £40,000 held, plus the £103.18 still owed from the unnamed source (due since 2022, so in
    # the first month); £25,000 out in January and in April: short by £9,896.82 in April 2024.
    assert wfwf.first_negative is not None
    assert wfwf.verdict() == (
        "WFWF 2022-23: cash held first goes negative in April 2024, by £9,896.82."
    )
    september = wfwf.months[8]
    assert (september.label, september.receipts_pence) == ("Sep 2024", 29_700_000)
    # The £103.18 from an unnamed source is still owed: it falls in the first month.
    assert wfwf.months[0].receipts_pence == 10_318
    # The third WFWF year is expected, shown apart and never in cash held.
    april = wfwf.months[3]
    assert april.expected_pence == 33_700_000
    assert april.cash_with_expected_pence - april.cash_pence == 33_700_000


def test_the_forecast_csv_and_command(run: Run, database_url: str) -> None:
    run(_aberlour_paid_before_the_cash_arrives)
    buffer = io.StringIO()
    write_forecast_csv(run(lambda s: build_forecast(s, today=JAN_2024)), buffer)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "pot,month,receipts,expected,payments,cash_held,cash_with_expected"
    assert "WFWF 2022-23,2024-04,0.00,337000.00,25000.00,-9896.82,327103.18" in lines
    out = io.StringIO()
    argv = ["--db", database_url, "forecast", "--pot", WFWF_POT, "--from", "01/01/2024"]
    assert cli.main(argv, out=out) == 0
    assert "cash held first goes negative in April 2024, by £9,896.82." in out.getvalue()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.dates(min_value=dt.date(2022, 1, 1), max_value=dt.date(2026, 12, 31)),
    months=st.integers(min_value=1, max_value=36),
)
def test_a_forecast_is_the_sum_of_its_parts(run: Run, start: dt.date, months: int) -> None:
    run(
        lambda s: (
            None
            if ops.get_setting(s, "accountable_body")
            else _aberlour_paid_before_the_cash_arrives(s)
        )
    )
    forecast = run(lambda s: build_forecast(s, today=start, months=months))
    assert forecast.total == total_of(forecast.pots, forecast.first_month, months)
    for part in (*forecast.pots, forecast.total):
        cash = part.opening_cash_pence
        for month in part.months:
            cash += month.receipts_pence - month.payments_pence
            assert month.cash_pence == cash
    # Money handed to CTSI's pot leaves the council's and arrives in CTSI's: none is lost.
    assert sum(m.receipts_pence for m in forecast.total.months) == sum(
        m.receipts_pence for p in forecast.pots for m in p.months
    )
