"""The balances table shows every figure that moves a row, so each row adds up on the screen as
it does in ``balances --json``: funded − allocated + returned − carried forward − handed back −
held for approval = available. A figure that is nothing on every row is left out, and a note
says so.

The worked example is the Promise Partnership's £50,000 from Corra Foundation (001 3.6): the
cash arrives, £10,000 goes to Who Cares? Scotland and £2,000 of it is paid and £500 comes back,
£1,000 is handed back to Corra, £5,000 is carried into 2022-23, and a further £700 hand-back
waits for a second person."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import cli
from ledger import operations as ops
from ledger.demo import CORRA, PROMISE_POT, load_demo
from ledger.models import FundingStream
from ledger.money import parse_pence
from tests.web_helpers import demo_app, fast_sign_in, run, text_of

Run = Callable[[Callable[[Session], Any]], Any]
NEXT_YEAR = "Promise Partnership 2022-23"
D = dt.date(2022, 3, 1)


def promise_year(session: Session) -> None:
    stream = session.scalars(
        select(FundingStream).where(FundingStream.name == "Promise Partnership")
    ).one()
    ops.open_pot(
        session, NEXT_YEAR, ops.accountable_body(session), stream=stream, financial_year=2022
    )
    two = {"entered_by": "finance", "approved_by": "officer"}
    ops.record_receipt(
        session,
        reference="CORRA-CASH",
        pot=PROMISE_POT,
        funder=CORRA,
        amount_pence=5_000_000,
        date=dt.date(2021, 10, 15),
        memo="Promise Partnership grant",
        **two,
    )
    ops.allocate(
        session,
        reference="PROMISE-21-01",
        pot=PROMISE_POT,
        recipient="Who Cares? Scotland",
        amount_pence=1_000_000,
        date=dt.date(2021, 11, 1),
        purpose="Advocacy",
        entered_by="officer",
        approved_by="finance",
    )
    ops.pay(
        session,
        reference="PAY-WCS-1",
        allocation="PROMISE-21-01",
        amount_pence=200_000,
        date=dt.date(2021, 12, 1),
        memo="First quarter",
        **two,
    )
    ops.return_unspent(
        session,
        reference="RET-WCS-1",
        allocation="PROMISE-21-01",
        amount_pence=50_000,
        date=dt.date(2022, 1, 10),
        memo="Unspent",
        **two,
    )
    ops.hand_back(
        session,
        reference="HB-CORRA-1",
        pot=PROMISE_POT,
        amount_pence=100_000,
        date=D,
        memo="Unspent cash to Corra",
        **two,
    )
    ops.carry_forward(
        session,
        reference="CF-PROMISE-1",
        from_pot=PROMISE_POT,
        to_pot=NEXT_YEAR,
        amount_pence=500_000,
        date=dt.date(2022, 3, 31),
        memo="Year 1 underspend",
        **two,
    )
    ops.hand_back(  # waits for a second person: its £700 is held
        session,
        reference="HB-CORRA-2",
        pot=PROMISE_POT,
        amount_pence=70_000,
        date=D,
        memo="More unspent cash",
        entered_by="finance",
    )


def _adds_up(headings: list[str], cells: list[str]) -> int:
    """Funded − allocated + returned − every other column that moves the row, as shown."""
    signs = {
        "Funded": 1,
        "Allocated": -1,
        "Returned": 1,
        "Carried forward": -1,
        "Handed back": -1,
        "Held for approval": -1,
    }
    return sum(
        signs[h] * parse_pence(c, allow_negative=True)
        for h, c in zip(headings, cells, strict=True)
        if h in signs
    )


def test_each_row_of_the_command_line_table_adds_up_to_its_available(
    run: Run, database_url: str
) -> None:
    run(load_demo)
    run(promise_year)
    out = io.StringIO()
    assert cli.main(["--db", database_url, "balances"], out=out) == 0
    lines = out.getvalue().splitlines()
    headings = re.split(r"\s{2,}", lines[0].strip())[2:]
    assert headings == [
        "Funded",
        "Allocated",
        "Returned",
        "Carried forward",
        "Handed back",
        "Held for approval",
        "Available",
        "Paid",
        "Received",
        "Cash held",
    ]
    out_json = io.StringIO()
    cli.main(["--db", database_url, "balances", "--json"], out=out_json)
    pots = {p["name"]: p for p in json.loads(out_json.getvalue())["pots"]}
    rows = [line for line in lines[1:5] if line.strip()]
    assert len(rows) == len(pots) == 4
    for line in rows:
        name = next(n for n in pots if line.startswith(n))
        cells = re.findall(r"-?£[\d,]+\.\d\d", line)
        available = cells[headings.index("Available")]
        assert _adds_up(headings, cells) == parse_pence(available, allow_negative=True)
        assert parse_pence(available) == pots[name]["available_after_holds"], name
    promise = next(line for line in rows if line.startswith(PROMISE_POT))
    # £50,000 − £10,000 + £500 − £5,000 − £1,000 − £700 = £33,800.
    assert re.findall(r"-?£[\d,]+\.\d\d", promise) == [
        "£50,000.00",
        "£10,000.00",
        "£500.00",
        "£5,000.00",
        "£1,000.00",
        "£700.00",
        "£33,800.00",
        "£2,000.00",
        "£50,000.00",
        "£42,500.00",
    ]


def test_the_demo_leaves_out_what_is_nothing_everywhere_and_says_so(
    run: Run, database_url: str
) -> None:
    run(load_demo)
    out = io.StringIO()
    cli.main(["--db", database_url, "balances"], out=out)
    text = out.getvalue()
    assert "Carried forward" not in text.splitlines()[0]
    assert (
        "Nothing is carried forward, handed back, held for approval or held as cash in these"
        " pots, so those columns are left out." in text
    )


def test_each_row_of_the_dashboard_adds_up_to_its_available(database_url: str) -> None:
    app = demo_app(database_url)
    run(app, promise_year)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    html = text_of(client.get("/"))
    table = html[html.index("<table") : html.index("</table>")]
    headings = re.findall(r'<th scope="col" class="app-num">([^<]+)</th>', table)
    assert "Carried forward" in headings and "Held for approval" in headings
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = body.split("<tr>")[1:]
    assert len(rows) == 4
    for row in rows:
        cells = re.findall(r'data-heading="([^"]+)" class="app-num">([^<]*)</td>', row)
        shown = dict(cells)
        assert _adds_up([h for h, _ in cells], [c for _, c in cells]) == parse_pence(
            shown["Available"], allow_negative=True
        )
    assert (
        "Each row adds up: funded − allocated + returned − carried forward − handed back −" in html
    )
