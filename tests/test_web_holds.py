"""What the screens offer is what the ledger allows (review defect 13): with a change awaiting
approval, the pot page, the dashboard and the allocation form's pot list show the money left
after what that change holds, and the payment form's allocation list shows the unpaid money left
after a reduction waiting to be approved. The amount shown can be allocated; a penny more is
refused next to the field, with the hold named."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import WFWF_POT
from ledger.money import format_pence
from tests.web_helpers import appendix_2_app, form_fields, pot_id, run, signed_in, text_of

D = dt.date(2022, 11, 1)
AVAILABLE = 8_223_300  # WFWF 2022-23 after Appendix 2's four lines: £82,233.00
UPLIFT = 20_000  # £200.00 asked for, not yet approved
PAID = 1_000_000  # £10,000.00 paid to Aberlour
CUT = 50_000  # £500.00 reduction asked for, not yet approved
ABERLOUR = "WFWF-22-02"  # Aberlour Sustain, £100,000.00 allocated
POST = "WFWF-22-01"  # the council's post, £39,000.00 allocated


def _waiting_changes(session: Session) -> None:
    ops.vary(
        session,
        reference="UPLIFT",
        allocation=POST,
        delta_pence=UPLIFT,
        date=D,
        reason="Pay award",
        entered_by="officer",
    )
    ops.pay(
        session,
        reference="ABER-Q1",
        allocation=ABERLOUR,
        amount_pence=PAID,
        date=D,
        entered_by="officer",
        approved_by="finance",
        memo="Quarter 1",
    )
    ops.vary(
        session,
        reference="CUT",
        allocation=ABERLOUR,
        delta_pence=-CUT,
        date=D,
        reason="Underspend expected",
        entered_by="officer",
    )


@pytest.fixture
def app(database_url: str) -> Flask:
    app = appendix_2_app(database_url)
    run(app, _waiting_changes)
    return app


def _options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no {name} list on the page"
    return [unescape(label).strip() for label in re.findall(r">([^<]+)</option>", select.group(1))]


def test_every_screen_shows_a_pots_money_after_what_waiting_changes_hold(app: Flask) -> None:
    after_holds = format_pence(AVAILABLE - UPLIFT)  # £82,033.00
    before_holds = format_pence(AVAILABLE)
    client = signed_in(app, "officer")
    wfwf = pot_id(app, WFWF_POT)

    pot_page = text_of(client.get(f"/pots/{wfwf}"))
    assert after_holds in pot_page
    assert before_holds not in pot_page

    dashboard = text_of(client.get("/"))
    assert after_holds in dashboard
    assert before_holds not in dashboard

    pot_list = _options(text_of(client.get("/allocations/new")), "pot")
    assert f"{WFWF_POT} ({after_holds} available)" in pot_list

    fields = {
        "pot": str(wfwf),
        "recipient": "Homestart",
        "date": "01/11/2022",
        "purpose": "What the screen says is left",
    }
    too_much = client.post(
        "/allocations/new",
        data=form_fields(client, "/allocations/new", amount="82,033.01", **fields),
    )
    assert too_much.status_code == 422
    assert (
        f"{WFWF_POT} has {after_holds} available after £200.00 held for changes awaiting"
        " approval; this allocation needs £82,033.01 (short by £0.01)"
    ) in unescape(text_of(too_much))

    exactly = client.post(
        "/allocations/new",
        data=form_fields(client, "/allocations/new", amount="82,033.00", **fields),
    )
    assert exactly.status_code == 302, text_of(exactly)


def test_the_payment_form_shows_unpaid_money_after_a_reduction_waiting_for_approval(
    app: Flask,
) -> None:
    client = signed_in(app, "finance")  # finance records payments
    options = _options(text_of(client.get("/payments/new")), "allocation")
    aberlour = next(label for label in options if label.startswith(f"{ABERLOUR}:"))
    # £100,000.00 allocated − £10,000.00 paid − £500.00 reduction waiting = £89,500.00.
    assert aberlour.endswith(f"({format_pence(10_000_000 - PAID - CUT)} unpaid)"), aberlour
