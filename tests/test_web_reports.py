"""Report pages and downloads, exports, My entries, the dashboard's totals and the audit log, on
Clackmannanshire's figures.

The recipient page shows Action for Children's £70,767.00 directly, £15,278.18 through CTSI and
£20,000.00 jointly with Barnardo's, never adding the joint award twice; CTSI's administrator files
its own return and never sees another organisation's figures.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import CTSI_POT, PROMISE_POT, WFWF_POT
from ledger.models import Allocation, utcnow
from tests.web_helpers import demo_app, pot_id, run, signed_in, text_of


def words(response: Any) -> str:
    """The page's text, tags removed and spaces collapsed."""
    html = response if isinstance(response, str) else text_of(response)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def csv_rows(response: Any) -> list[list[str]]:
    body = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def demo(database_url: str) -> Flask:
    return demo_app(database_url)


# The recipient page --------------------------------------------------------------------------


def test_action_for_children_directly_through_ctsi_and_jointly_with_barnardos(demo: Flask) -> None:
    client = signed_in(demo, "viewer")
    page = words(client.get("/reports/recipients", query_string={"name": "Action for Children"}))
    assert "Directly £70,767.00; through an intermediary £15,278.18; together £86,045.18" in page
    assert "Jointly with others £20,000.00, listed apart and not added to the total" in page
    assert "Barnardos and Action for Children" in page
    assert "Total £86,045.18" in page  # the own total leaves the joint £20,000.00 out

    rows = csv_rows(
        client.get("/reports/recipients.csv", query_string={"name": "action for children"})
    )
    totals = [r for r in rows if r[0] == "Total of its own" and r[1] == "total"]
    assert totals == [
        ["Total of its own", "total", "Total", "86045.18", "0.00", "0.00", "86045.18"]
    ]
    pdf = client.get("/reports/recipients.pdf", query_string={"name": "Action for Children"})
    assert pdf.status_code == 200 and pdf.get_data().startswith(b"%PDF")


def test_the_recipients_page_lists_every_provider_with_joint_money_apart(demo: Flask) -> None:
    client = signed_in(demo, "finance")
    rows = csv_rows(client.get("/reports/recipients.csv"))
    barnardos = next(r for r in rows if r[2] == "Barnardo's")
    # Directly £45,000.00, through an intermediary nothing, jointly £24,000 + £20,000.
    assert barnardos[3:] == ["45000.00", "0.00", "45000.00", "0.00", "44000.00"]
    page = words(client.get("/reports/recipients"))
    assert "Volunteering Matters" in page  # named only as a partner, still listed


def test_an_unknown_recipient_is_said_plainly(demo: Flask) -> None:
    response = signed_in(demo, "officer").get(
        "/reports/recipients", query_string={"name": "Nobody Ltd"}
    )
    assert response.status_code == 422
    assert "There is no recipient called 'Nobody Ltd'" in words(response)


# CTSI's return -------------------------------------------------------------------------------


def _hand_over_ctsis_cash(session: Session) -> None:
    ops.pay(
        session,
        reference="PAY-CTSI-ALL",
        allocation="WFWF-22-05",
        amount_pence=8_233_618,
        date=dt.date(2022, 11, 1),
        memo="Delegated cash handed to CTSI",
        entered_by="finance",
        approved_by="officer",
    )


def test_ctsi_files_its_return_and_sees_the_councils_cash_handed_over(demo: Flask) -> None:
    ctsi_pot = pot_id(demo, CTSI_POT)
    client = signed_in(demo, "ctsi")
    before = words(client.get(f"/pots/{ctsi_pot}/return"))
    assert "The council has still to hand over £82,336.18 of the delegated cash." in before
    assert "agrees with the council's distribution statement to the penny" in before

    run(demo, _hand_over_ctsis_cash)
    after = words(client.get(f"/pots/{ctsi_pot}/return"))
    assert "The council has handed over all of the delegated cash." in after
    assert "Cash held £82,336.18" in after

    rows = csv_rows(client.get(f"/pots/{ctsi_pot}/return.csv"))
    assert ["Summary", "item", "Paid to it by the council (cash handed over)", "82336.18"] in rows
    pdf = client.get(f"/pots/{ctsi_pot}/return.pdf?as_at=08/02/2024")
    assert pdf.get_data().startswith(b"%PDF")
    listing = words(client.get("/intermediary-returns"))
    assert CTSI_POT in listing


def test_the_intermediary_never_sees_another_organisations_figures(demo: Flask) -> None:
    def other_intermediary(session: Session) -> None:
        ops.ensure_organisation(session, "Carers Trust Scotland", ["intermediary"])
        ops.allocate(
            session,
            reference="PROMISE-21-09",
            pot=PROMISE_POT,
            recipient="Carers Trust Scotland",
            amount_pence=1_000_000,
            date=dt.date(2021, 10, 1),
            entered_by="officer",
            approved_by="finance",
            purpose="Small grants for young carers",
            to_pot="Young carers grants 2021-22",
        )

    run(demo, other_intermediary)
    other = pot_id(demo, "Young carers grants 2021-22")
    wfwf = pot_id(demo, WFWF_POT)
    client = signed_in(demo, "ctsi")
    for path in (
        f"/pots/{other}/return",
        f"/pots/{other}/return.pdf",
        f"/pots/{other}/return.csv",
        f"/pots/{wfwf}/return",
        "/reports",
        "/reports/funders",
        "/reports/funders.csv",
        "/reports/promise.pdf",
        "/reports/recipients?name=Homestart",
        "/reports/recipients.csv",
        "/exports",
        "/exports/journal.csv",
        "/exports/360giving.json",
        "/audit.csv",
    ):
        assert client.get(path).status_code == 403, path
    listing = words(client.get("/intermediary-returns"))
    assert "Young carers" not in listing and "Carers Trust" not in listing
    dashboard = text_of(client.get("/"))
    assert 'href="/reports"' not in dashboard
    assert "Our return" in dashboard

    # The council sees both returns from its own pot's page of returns.
    council = signed_in(demo, "officer")
    both = words(council.get(f"/pots/{pot_id(demo, PROMISE_POT)}/return"))
    assert "Return from Carers Trust Scotland on Young carers grants 2021-22" in both


# Funders, Promise and exports ---------------------------------------------------------------


def test_each_funders_share_counts_ctsis_sub_grants_once(demo: Flask) -> None:
    client = signed_in(demo, "finance")
    page = words(client.get("/reports/funders"))
    assert "Scottish Government £337,000.00" in page
    assert "Source not stated in Appendix 2 (assumption) £103.18" in page
    assert "All £337,103.18" in page  # WFWF 2022-23's allocated, counted once
    assert "Through Clackmannanshire Third Sector Interface (CTSI) (in its delegation)" in page
    by_source = words(
        client.get(
            "/reports/funders", query_string={"funder": "Scottish Government", "by": "source"}
        )
    )
    assert "Counted by ultimate source" in by_source


def test_spend_by_promise_priority_shows_untagged_money(demo: Flask) -> None:
    client = signed_in(demo, "officer")
    page = words(client.get("/reports/promise", query_string={"pot": WFWF_POT}))
    assert "Whole Family Support £100,000.00" in page
    assert "Untagged £237,103.18" in page
    rows = csv_rows(client.get("/reports/promise.csv"))
    assert ["By Promise pillar", "total", "Total", "337103.18", "0.00", ""] in rows
    bad = client.get("/reports/promise", query_string={"as_at": "31/02/2023"})
    assert bad.status_code == 422 and "is not a real date" in words(bad)


def test_the_exports_page_downloads_every_format(demo: Flask) -> None:
    client = signed_in(demo, "viewer")
    assert "360Giving grants package" in words(client.get("/exports"))
    package = json.loads(client.get("/exports/360giving.json").get_data())
    assert {g["amountAwarded"] for g in package["grants"]} >= {70767, 15278.18}
    grants = csv_rows(client.get("/exports/360giving.csv"))
    assert len(grants) == len(package["grants"]) + 1
    journal = client.get("/exports/journal.csv")
    assert "attachment" in journal.headers["Content-Disposition"]
    assert len(csv_rows(journal)) > 20
    beancount = client.get("/exports/journal.beancount").get_data(as_text=True)
    assert "open" in beancount and "WFWF" in beancount


# My entries, rejections on the dashboard, waiting times ----------------------------------------


def _officer_enters_and_finance_rejects(session: Session) -> None:
    ops.allocate(
        session,
        reference="PROMISE-21-02",
        pot=PROMISE_POT,
        recipient="Who Cares? Scotland",
        amount_pence=500_000,
        date=dt.date(2021, 10, 1),
        entered_by="officer",
        purpose="Advocacy",
    )
    ops.reject_allocation(
        session,
        reference="PROMISE-21-02",
        rejected_by="finance",
        note="Not in the commissioning plan",
    )
    ops.allocate(
        session,
        reference="PROMISE-21-03",
        pot=PROMISE_POT,
        recipient="Aberlour",
        amount_pence=100_000,
        date=dt.date(2021, 10, 1),
        entered_by="officer",
        purpose="Waiting",
    )


def test_my_entries_shows_status_and_the_reason_for_a_rejection(demo: Flask) -> None:
    run(demo, _officer_enters_and_finance_rejects)
    client = signed_in(demo, "officer")
    page = words(client.get("/my-entries"))
    assert "Allocation PROMISE-21-02" in page and "Allocation PROMISE-21-03" in page
    assert "Rejected by finance" in page and "Reason: Not in the commissioning plan" in page
    assert "provisional Waiting for approval" in page
    assert "Allocation PROMISE-21-02 was rejected" not in words(
        signed_in(demo, "finance").get("/my-entries")
    )


def test_the_dashboard_shows_a_rejection_until_it_is_acknowledged(demo: Flask) -> None:
    run(demo, _officer_enters_and_finance_rejects)
    officer = signed_in(demo, "officer")
    dashboard = words(officer.get("/"))
    assert "1 of your entries was rejected" in dashboard
    assert "Reason: Not in the commissioning plan" in dashboard
    assert "(Who Cares? Scotland, £5,000.00) was rejected by finance" in dashboard

    # Nobody else can acknowledge it for them, and nothing unrejected can be acknowledged.
    finance = signed_in(demo, "finance")
    mine = {"kind": "allocation", "item": "PROMISE-21-02"}
    assert finance.post("/my-entries/acknowledge", data=mine).status_code == 404
    waiting = {"kind": "allocation", "item": "PROMISE-21-03"}
    assert officer.post("/my-entries/acknowledge", data=waiting).status_code == 404
    assert "1 of your entries was rejected" in words(officer.get("/"))

    done = officer.post("/my-entries/acknowledge", data=mine)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert "of your entries was rejected" not in words(officer.get("/"))
    again = officer.post("/my-entries/acknowledge", data={**mine, "back": "entries"})
    assert again.headers["Location"] == "/my-entries"  # repeating it is harmless
    assert "Reason: Not in the commissioning plan" in words(officer.get("/my-entries"))


def test_the_approvals_queue_says_how_long_each_has_waited(demo: Flask) -> None:
    def three_days_ago(session: Session) -> None:
        ops.allocate(
            session,
            reference="PROMISE-21-04",
            pot=PROMISE_POT,
            recipient="Aberlour",
            amount_pence=100_000,
            date=dt.date(2021, 10, 1),
            entered_by="officer",
            purpose="Waiting since Monday",
        )
        allocation = session.scalars(
            select(Allocation).where(Allocation.reference == "PROMISE-21-04")
        ).one()
        allocation.created_at = utcnow() - dt.timedelta(days=3, hours=2)

    run(demo, three_days_ago)
    page = words(signed_in(demo, "finance").get("/approvals"))
    assert "Waited 3 days" in page


# The dashboard -------------------------------------------------------------------------------


def test_the_dashboard_has_received_returned_and_a_totals_row_counting_delegation_once(
    demo: Flask,
) -> None:
    run(demo, _hand_over_ctsis_cash)
    html = text_of(signed_in(demo, "viewer").get("/"))
    assert '<th scope="col" class="app-num">Received</th>' in html
    assert '<th scope="col" class="app-num">Returned</th>' in html
    assert 'data-smallscreen="boxes"' in html
    footer = words(html[html.index("<tfoot>") : html.index("</tfoot>")])
    # Funded: WFWF £337,103.18 and Promise £50,000.00; CTSI's £82,336.18 is inside WFWF's.
    assert "£387,103.18" in footer
    assert "Delegated pots are counted in their parent's Allocated" in footer
    assert "£82,336.18" in footer  # paid: the cash handed to CTSI, once


# The audit log -------------------------------------------------------------------------------


def test_the_audit_log_is_paginated_filtered_and_downloadable(
    demo: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("web.audit.PAGE_SIZE", 5)
    run(demo, _hand_over_ctsis_cash)
    run(demo, _officer_enters_and_finance_rejects)
    client = signed_in(demo, "viewer")
    first = text_of(client.get("/audit"))
    assert "1 to 5" in first and 'aria-label="Pages of the audit log"' in first
    second = text_of(client.get("/audit?page=2"))
    assert "6 to 10" in second

    # Names in plain English, and filters that ignore case.
    rejected = words(client.get("/audit", query_string={"actor": "FINANCE"}))
    assert "Rejected" in rejected and "Not in the commissioning plan" in rejected
    aberlour = words(client.get("/audit", query_string={"recipient": "ABERLOUR"}))
    assert "PROMISE-21-03" in aberlour and "Crèche" not in aberlour
    by_date = words(
        client.get("/audit", query_string={"txn_from": "01/11/2022", "txn_to": "30/11/2022"})
    )
    assert "PAY-CTSI-ALL" in by_date and "WFWF-2022-23-AWARD" not in by_date
    assert "1 record," in by_date

    rows = csv_rows(client.get("/audit.csv", query_string={"recipient": "aberlour"}))
    assert rows[0] == [
        "recorded_at_utc",
        "transaction_date",
        "who",
        "approved_by",
        "what",
        "on",
        "why",
        "amount",
    ]
    # Aberlour's two allocations, and the approval recorded when the first was entered.
    assert sorted(row[4] for row in rows[1:]) == ["Allocation", "Allocation", "Approved"]
    everything = csv_rows(client.get("/audit.csv"))
    assert any(row[4] == "Approved" for row in everything)
    assert len(everything) - 1 > 10  # every record, not one page
