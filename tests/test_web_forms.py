"""The money forms as a finance officer meets them: refusals next to the field with the amounts
in pounds, a double submit that records once, everything typed shown escaped, and the second
person who approves."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import CTSI, CTSI_POT, WFWF_POT
from ledger.models import Allocation, Entry, Request
from tests.web_helpers import (
    XSS,
    appendix_2_app,
    counts,
    demo_app,
    fast_sign_in,
    form_fields,
    pot_id,
    run,
    text_of,
)

SHORT_BY_103_18 = (
    "WFWF 2022-23 has £82,233.00 available; this allocation needs £82,336.18 (short by £103.18)"
)


def _error_for(html: str, field: str) -> str:
    found = re.search(
        rf'<p class="ds_question__error-message" id="{field}-error">(.*?)</p>', html, re.S
    )
    assert found, f"no error shown next to {field}"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).replace("Error: ", "").strip()


@pytest.fixture
def appendix_2(database_url: str) -> Flask:
    return appendix_2_app(database_url)


def test_appendix_2_as_printed_is_refused_next_to_the_amount(appendix_2: Flask) -> None:
    client = appendix_2.test_client()
    fast_sign_in(appendix_2, client, "officer")
    before = counts(appendix_2)
    wfwf = pot_id(appendix_2, WFWF_POT)
    data = form_fields(
        client,
        f"/delegations/new?pot={wfwf}",
        pot=str(wfwf),
        recipient=CTSI,
        to_pot=CTSI_POT,
        amount="£82,336.18",
        date="01/10/2022",
        purpose="Allocation of Award for CTSI managed WFWF Grant",
    )
    response = client.post("/delegations/new", data=data)
    assert response.status_code == 422
    html = text_of(response)
    assert _error_for(html, "amount") == SHORT_BY_103_18.replace("allocation", "delegation")
    assert 'href="#amount"' in html  # the error summary links to the field
    assert html.count("short by £103.18") == 2  # in the summary and next to the field
    assert counts(appendix_2) == before

    allocation = dict(data, recipient="CTSI", purpose="As an ordinary allocation")
    del allocation["to_pot"]
    response = client.post("/allocations/new", data=allocation)
    assert response.status_code == 422
    assert _error_for(text_of(response), "amount") == SHORT_BY_103_18
    assert counts(appendix_2) == before


def test_what_is_available_can_be_allocated_and_waits_for_approval(appendix_2: Flask) -> None:
    client = appendix_2.test_client()
    fast_sign_in(appendix_2, client, "officer")
    wfwf = pot_id(appendix_2, WFWF_POT)
    data = form_fields(
        client,
        "/allocations/new",
        pot=str(wfwf),
        recipient="Homestart",
        amount="82,233",
        date="2022-10-01",
        purpose="All that is left",
        tags="WFS 1, 2",
    )
    response = client.post("/allocations/new", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/pots/{wfwf}"
    page = text_of(client.get(response.headers["Location"]))
    assert "Recorded allocation" in page and "£82,233.00" in page
    assert "provisional" in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0.001", "at most 2 decimal places"),
        ("1e3", "exponents such as 1e3 are not accepted"),
        ("-£500.00", "negative amounts are not allowed here"),
        ("", "Enter the amount to allocate"),
        ("12,34.5", "commas must separate thousands"),
    ],
)
def test_a_bad_amount_is_refused_next_to_the_field(
    appendix_2: Flask, typed: str, message: str
) -> None:
    client = appendix_2.test_client()
    fast_sign_in(appendix_2, client, "officer")
    data = form_fields(
        client,
        "/allocations/new",
        pot=str(pot_id(appendix_2, WFWF_POT)),
        recipient="Homestart",
        amount=typed,
        date="01/10/2022",
        purpose="x",
    )
    response = client.post("/allocations/new", data=data)
    assert response.status_code == 422
    assert message in _error_for(text_of(response), "amount")


def test_a_bad_date_and_missing_fields_are_refused_next_to_their_fields(appendix_2: Flask) -> None:
    client = appendix_2.test_client()
    fast_sign_in(appendix_2, client, "officer")
    data = form_fields(
        client, "/allocations/new", pot="", recipient="", amount="10", date="31/02/2023"
    )
    html = text_of(client.post("/allocations/new", data=data))
    assert "is not a real date" in _error_for(html, "date")
    assert _error_for(html, "pot") == "Choose the pot the money comes from"
    assert _error_for(html, "recipient") == "Enter the recipient's name"
    assert _error_for(html, "purpose") == "Enter what the money is for"
    assert html.startswith("<!doctype html>") and "<title>Error: Record an allocation" in html


def test_a_double_submitted_form_records_once(appendix_2: Flask) -> None:
    client = appendix_2.test_client()
    fast_sign_in(appendix_2, client, "officer")
    data = form_fields(
        client,
        "/allocations/new",
        pot=str(pot_id(appendix_2, WFWF_POT)),
        recipient="Homestart",
        amount="1,000.00",
        date="01/10/2022",
        purpose="Clicked twice",
    )
    before = counts(appendix_2)
    first = client.post("/allocations/new", data=data)
    second = client.post("/allocations/new", data=data)
    assert first.status_code == second.status_code == 302
    after = counts(appendix_2)
    assert after.allocations == before.allocations + 1
    assert after.entries == before.entries + 1

    # A fresh rendering of the form is a new record.
    again = form_fields(
        client, "/allocations/new", **{k: v for k, v in data.items() if k != "reference"}
    )
    assert again["reference"] != data["reference"]
    client.post("/allocations/new", data=again)
    assert counts(appendix_2).allocations == before.allocations + 2


def test_a_reused_form_with_different_content_is_refused(appendix_2: Flask) -> None:
    client = appendix_2.test_client()
    fast_sign_in(appendix_2, client, "officer")
    data = form_fields(
        client,
        "/allocations/new",
        pot=str(pot_id(appendix_2, WFWF_POT)),
        recipient="Homestart",
        amount="1,000.00",
        date="01/10/2022",
        purpose="First",
    )
    client.post("/allocations/new", data=data)
    before = counts(appendix_2)
    response = client.post("/allocations/new", data=dict(data, amount="2,000.00"))
    assert response.status_code == 422
    assert "already been used to record something different" in text_of(response)
    assert counts(appendix_2) == before


def test_a_payment_double_submitted_waits_for_approval_once(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    data = form_fields(
        client,
        "/payments/new?allocation=WFWF-22-02",
        allocation="WFWF-22-02",
        amount="25,000",
        date="31/12/2022",
        memo="Quarter 3",
    )
    before = counts(app)
    for _ in range(2):
        response = client.post("/payments/new", data=data)
        assert response.status_code == 302
    assert counts(app).requests == before.requests + 1
    assert "waits for a second person to approve it" in text_of(
        client.get(response.headers["Location"])
    )


def _every_text_field(app: Flask, client: FlaskClient, payload: str) -> None:
    """Record a delegation, a sub-grant, a variation and an award with ``payload`` typed in
    every free-text field they have."""
    wfwf = pot_id(app, "Promise Partnership 2021-22")
    fast_sign_in(app, client, "officer")
    data = form_fields(
        client,
        "/delegations/new",
        pot=str(wfwf),
        recipient=f"Intermediary {payload}",
        to_pot=f"Pot {payload}",
        amount="1000",
        date="01/10/2022",
        purpose=f"Purpose {payload}",
    )
    assert client.post("/delegations/new", data=data).status_code == 302
    data = form_fields(
        client,
        "/awards/new",
        funder=f"Funder {payload}",
        pot=f"Award pot {payload}",
        amount="500",
        award_date="01/04/2022",
        memo=f"Memo {payload}",
    )
    assert client.post("/awards/new", data=data).status_code == 302


@pytest.mark.parametrize("payload", XSS)
def test_whatever_people_type_is_shown_escaped(database_url: str, payload: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    _every_text_field(app, client, payload)
    fast_sign_in(app, client, "admin")
    pages = ["/", "/approvals", "/audit", "/audit?words=" + payload]
    pages += [f"/pots/{n}" for n in range(1, 7)] + [f"/pots/{n}/statement" for n in range(1, 7)]
    # A refused form shows the typed text back, escaped too.
    data = form_fields(
        client, "/allocations/new", pot="1", recipient=payload, amount=payload, purpose=payload
    )
    refused = client.post("/allocations/new", data=data)
    for response in [client.get(p) for p in pages] + [refused]:
        html = text_of(response)
        assert payload not in html
        assert "<script>alert(1)" not in html and "<img src=x" not in html
    shown = text_of(client.get("/"))
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped.replace('"', "&#34;") in shown or escaped.replace('"', "&quot;") in shown


def test_the_entrant_cannot_approve_their_own_allocation_but_another_person_can(
    appendix_2: Flask,
) -> None:
    officer = appendix_2.test_client()
    fast_sign_in(appendix_2, officer, "officer")
    data = form_fields(
        officer,
        "/allocations/new",
        pot=str(pot_id(appendix_2, WFWF_POT)),
        recipient="Homestart",
        amount="9,058",
        date="01/10/2022",
        purpose="Family Support Workers",
    )
    officer.post("/allocations/new", data=data)
    reference = data["reference"]
    queue = text_of(officer.get("/approvals"))
    assert reference in queue and "You entered this: someone else must approve it." in queue

    refused = officer.post(f"/approvals/allocations/{reference}/approve")
    assert refused.status_code == 422
    assert "officer entered allocation" in text_of(refused)
    assert "cannot also approve it" in text_of(refused)

    finance = appendix_2.test_client()
    fast_sign_in(appendix_2, finance, "finance")
    approved = finance.post(f"/approvals/allocations/{reference}/approve")
    assert approved.status_code == 302
    assert "it is confirmed and can be paid" in text_of(finance.get("/approvals"))
    again = finance.post(f"/approvals/allocations/{reference}/approve")
    assert again.status_code == 422 and "is already confirmed" in text_of(again)


def test_a_variation_can_be_a_reduction_and_is_approved_or_rejected(database_url: str) -> None:
    app = demo_app(database_url)
    officer = app.test_client()
    fast_sign_in(app, officer, "officer")
    for amount, reason in (("-£500.00", "Start delayed"), ("-1,000", "Fewer sessions")):
        data = form_fields(
            officer,
            "/variations/new",
            allocation="WFWF-22-02",
            amount=amount,
            date="01/11/2022",
            reason=reason,
        )
        assert officer.post("/variations/new", data=data).status_code == 302
    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    queue = text_of(finance.get("/approvals"))
    ids = [int(n) for n in re.findall(r'id="request-(\d+)"', queue)]
    assert len(ids) == 2
    assert finance.post(f"/approvals/requests/{ids[0]}/approve").status_code == 302

    empty = finance.post(f"/approvals/requests/{ids[1]}/reject", data={"note": ""})
    assert empty.status_code == 422
    assert _error_for(text_of(empty), "note") == "Enter why you are rejecting it"
    rejected = finance.post(
        f"/approvals/requests/{ids[1]}/reject", data={"note": "Not in the plan"}
    )
    assert rejected.status_code == 302
    page = text_of(finance.get("/pots/1"))
    assert "£99,500.00" in page  # Aberlour Sustain after the approved reduction


def test_an_overspending_variation_shows_the_shortfall_in_pounds(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "officer")
    data = form_fields(
        client,
        "/variations/new",
        allocation="WFWF-22-02",
        amount="103.19",
        date="01/11/2022",
        reason="Too much",
    )
    response = client.post("/variations/new", data=data)
    assert response.status_code == 422
    assert _error_for(text_of(response), "amount") == (
        "WFWF 2022-23 has £0.00 available; this variation needs £103.19 (short by £103.19)"
    )


def test_a_receipt_and_a_return(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    wfwf = pot_id(app, WFWF_POT)
    too_much = form_fields(
        client,
        f"/receipts/new?pot={wfwf}",
        pot=str(wfwf),
        funder="Scottish Government",
        amount="337,000.01",
        date="30/04/2022",
        memo="Grant payment",
    )
    response = client.post("/receipts/new", data=too_much)
    assert response.status_code == 422
    assert "(over by £0.01)" in _error_for(text_of(response), "amount")
    right = dict(too_much, amount="337,000")
    assert client.post("/receipts/new", data=right).status_code == 302

    nothing_paid = form_fields(
        client, "/returns/new", allocation="WFWF-22-02", amount="1", date="01/03/2023", memo="x"
    )
    response = client.post("/returns/new", data=nothing_paid)
    assert response.status_code == 422
    assert (
        _error_for(text_of(response), "allocation") == "Choose the allocation the money came from"
    )


def test_two_submissions_of_one_form_at_the_same_moment_record_once(appendix_2: Flask) -> None:
    clients = [appendix_2.test_client() for _ in range(4)]
    for client in clients:
        fast_sign_in(appendix_2, client, "officer")
    data = form_fields(
        clients[0],
        "/allocations/new",
        pot=str(pot_id(appendix_2, WFWF_POT)),
        recipient="Homestart",
        amount="500.00",
        date="01/10/2022",
        purpose="Clicked four times at once",
    )
    before = counts(appendix_2)
    start = threading.Barrier(len(clients))

    def submit(client: FlaskClient) -> int:
        start.wait()
        return client.post("/allocations/new", data=data).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = list(pool.map(submit, clients))
    assert statuses == [302] * len(clients)
    assert counts(appendix_2).allocations == before.allocations + 1


def test_a_provisional_allocation_rejected_in_the_queue_gives_its_money_back(
    appendix_2: Flask,
) -> None:
    officer = appendix_2.test_client()
    fast_sign_in(appendix_2, officer, "officer")
    wfwf = pot_id(appendix_2, WFWF_POT)
    data = form_fields(
        officer,
        "/allocations/new",
        pot=str(wfwf),
        recipient="Homestart",
        amount="82,233",
        date="2022-10-01",
        purpose="All that is left",
    )
    assert officer.post("/allocations/new", data=data).status_code == 302
    reference = re.findall(
        r"/approvals/allocations/([^/\"]+)/reject", text_of(officer.get("/approvals"))
    )[-1]

    finance = appendix_2.test_client()
    fast_sign_in(appendix_2, finance, "finance")
    empty = finance.post(f"/approvals/allocations/{reference}/reject", data={"note": ""})
    assert empty.status_code == 422
    rejected = finance.post(
        f"/approvals/allocations/{reference}/reject", data={"note": "Not in the plan"}
    )
    assert rejected.status_code == 302
    page = text_of(finance.get(f"/pots/{wfwf}"))
    assert "£82,233.00" in page  # available again
    assert "rejected" in page


def test_an_officer_reduces_an_award_and_it_waits_until_finance_approves_it(
    database_url: str,
) -> None:
    """The demo's £337,000 WFWF award is unpaid and fully allocated, so nothing of it can be
    withdrawn; £100 more awarded and approved can be, and waits for a second person."""
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "officer")
    fields = {"award": "WFWF-2022-23-AWARD", "amount": "1.00", "date": "01/05/2022"}
    data = form_fields(client, "/awards/reduce", memo="Funder's letter", **fields)
    response = client.post("/awards/reduce", data=data)
    assert response.status_code == 422
    assert "this award reduction needs £1.00" in _error_for(text_of(response), "amount")

    def top_up(session: Session) -> None:
        ops.record_award(
            session,
            reference="TOP-UP",
            pot=WFWF_POT,
            funder="Scottish Government",
            amount_pence=100_00,
            award_date=dt.date(2022, 4, 2),
            entered_by="officer",
            memo="Top-up",
            approved_by="finance",
        )

    run(app, top_up)
    page = text_of(client.get("/awards/reduce"))
    assert "TOP-UP: Scottish Government into WFWF 2022-23, £100.00 still owed" in page
    fields = {"award": "TOP-UP", "amount": "40.00", "date": "01/05/2022"}
    data = form_fields(client, "/awards/reduce", memo="Funder's letter", **fields)
    response = client.post("/awards/reduce", data=data, follow_redirects=True)
    assert "It waits for a second person to approve it" in text_of(response)

    def approve(session: Session) -> int:
        waiting = session.scalars(select(Request).where(Request.kind == "reduce_award")).one()
        ops.approve_request(session, request_id=waiting.id, approved_by="finance")
        return ops.find_pot(session, WFWF_POT).funded_pence

    assert run(app, approve) == 33_710_318 + 60_00

    # Everywhere the journal is read, the reduction reads as one, taking money away: never as a
    # second £40.00 award.
    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    wfwf = run(app, lambda session: ops.find_pot(session, WFWF_POT).id)
    journal = text_of(finance.get(f"/pots/{wfwf}/journal"))
    assert "Award reduction" in journal and "-£40.00" in journal
    assert "£40.00" not in journal.replace("-£40.00", "")
    audit = finance.get("/audit.csv?action=entry:award").get_data(as_text=True)
    reduction_rows = [row for row in audit.splitlines() if "Award reduction" in row]
    assert len(reduction_rows) == 1 and "-40.00" in reduction_rows[0]


def test_year_end_money_is_carried_forward_and_handed_back_through_the_approvals_queue(
    database_url: str,
) -> None:
    """£100 more awarded into WFWF 2022-23 and received: an officer carries £40 into WFWF
    2023-24 (the same stream, the next year), and finance hands back £50 of the cash; each
    waits for a second person, and the pot's figures move once they approve."""
    app = demo_app(database_url)

    def setup(session: Session) -> None:
        common = {"entered_by": "officer", "approved_by": "finance", "memo": "Set up"}
        ops.record_award(
            session,
            reference="TOP-UP",
            pot=WFWF_POT,
            funder="Scottish Government",
            amount_pence=100_00,
            award_date=dt.date(2022, 4, 2),
            **common,
        )
        ops.record_award(
            session,
            reference="YEAR-2",
            pot="WFWF 2023-24",
            funder="Scottish Government",
            amount_pence=1_000_00,
            award_date=dt.date(2023, 4, 1),
            stream="Whole Family Wellbeing Fund",
            **common,
        )
        ops.record_receipt(
            session,
            reference="CASH",
            pot=WFWF_POT,
            funder="Scottish Government",
            amount_pence=100_00,
            date=dt.date(2022, 5, 1),
            **common,
        )

    run(app, setup)
    wfwf, next_year = pot_id(app, WFWF_POT), pot_id(app, "WFWF 2023-24")
    officer = app.test_client()
    fast_sign_in(app, officer, "officer")
    fields = {"pot": str(wfwf), "to_pot": str(next_year), "amount": "40", "date": "31/03/2023"}
    data = form_fields(officer, "/carry-forwards/new", memo="Year 1 underspend", **fields)
    response = officer.post("/carry-forwards/new", data=data, follow_redirects=True)
    assert "It waits for a second person to approve it" in text_of(response)

    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    too_much = {"pot": str(wfwf), "amount": "100.01", "date": "31/03/2023"}
    data = form_fields(finance, "/hand-backs/new", memo="Unspent", **too_much)
    response = finance.post("/hand-backs/new", data=data)
    assert response.status_code == 422
    assert "this hand-back needs £100.01" in _error_for(text_of(response), "amount")
    data = form_fields(finance, "/hand-backs/new", memo="Unspent", **dict(too_much, amount="50"))
    response = finance.post("/hand-backs/new", data=data, follow_redirects=True)
    assert "It waits for a second person to approve it" in text_of(response)

    def approve(session: Session) -> tuple[int, int, int]:
        for waiting in session.scalars(select(Request).where(Request.status == "pending")).all():
            approver = "finance" if waiting.entered_by == "officer" else "officer"
            ops.approve_request(session, request_id=waiting.id, approved_by=approver)
        pot = ops.find_pot(session, WFWF_POT)
        carried_in = ops.find_pot(session, "WFWF 2023-24").carried_in_pence
        return pot.carried_forward_pence, pot.handed_back_pence, carried_in

    assert run(app, approve) == (40_00, 50_00, 40_00)


def test_finance_reverses_a_wrong_payment_from_the_journal_and_an_officer_approves_it(
    database_url: str,
) -> None:
    """£25,000 paid to Aberlour twice: finance follows Reverse on the second payment's journal
    line, gives the reason, and the reversal waits; once an officer approves it, Aberlour's
    paid figure is £25,000 again and the original entry stays on record."""
    app = demo_app(database_url)

    def pay_twice(session: Session) -> int:
        for reference in ("PAY-1", "PAY-2"):
            ops.pay(
                session,
                reference=reference,
                allocation="WFWF-22-02",
                amount_pence=25_000_00,
                date=dt.date(2022, 11, 1),
                entered_by="finance",
                memo="Quarter 1",
                approved_by="officer",
            )
        return ops.find_entry(session, "PAY-2").id

    wrong = run(app, pay_twice)
    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    journal = text_of(finance.get(f"/pots/{pot_id(app, WFWF_POT)}/journal"))
    assert f'href="/entries/{wrong}/reverse"' in journal
    page = text_of(finance.get(f"/entries/{wrong}/reverse"))
    assert "This posts the mirror image of the payment of £25,000.00 dated 01/11/2022" in page
    blank = form_fields(finance, f"/entries/{wrong}/reverse", reason="")
    response = finance.post(f"/entries/{wrong}/reverse", data=blank)
    assert response.status_code == 422
    assert _error_for(text_of(response), "reason") == "Enter why the entry is reversed"
    data = form_fields(finance, f"/entries/{wrong}/reverse", reason="Paid twice in error")
    response = finance.post(f"/entries/{wrong}/reverse", data=data, follow_redirects=True)
    assert "It waits for a second person to approve it" in text_of(response)

    def approve(session: Session) -> tuple[int, int]:
        waiting = session.scalars(select(Request).where(Request.kind == "reverse")).one()
        ops.approve_request(session, request_id=waiting.id, approved_by="officer")
        paid = ops.find_allocation(session, "WFWF-22-02").paid_pence
        entries = session.scalars(select(Entry).where(Entry.allocation_id.is_not(None))).all()
        return paid, sum(1 for e in entries if e.reference == "PAY-2")

    assert run(app, approve) == (25_000_00, 1)


def test_a_pooled_contract_is_split_exactly_between_its_pots_and_waits_for_approval(
    database_url: str,
) -> None:
    """£10.00 in shares 1 and 2 of WFWF and the Promise Partnership is £3.33 and £6.67; shares
    that do not read as pots and shares are refused next to the field."""
    app = demo_app(database_url)

    def top_up(session: Session) -> None:
        ops.record_award(
            session,
            reference="TOP-UP",
            pot=WFWF_POT,
            funder="Scottish Government",
            amount_pence=100_00,
            award_date=dt.date(2022, 4, 2),
            entered_by="officer",
            memo="Top-up",
            approved_by="finance",
        )

    run(app, top_up)
    client = app.test_client()
    fast_sign_in(app, client, "officer")
    page = text_of(client.get("/pooled-contracts/new"))
    assert 'id="shares-split" aria-live="polite"' in page
    fields = {"recipient": "Home-Start", "amount": "10.00", "date": "01/11/2022"}
    data = form_fields(
        client, "/pooled-contracts/new", purpose="Befriending", shares="WFWF", **fields
    )
    response = client.post("/pooled-contracts/new", data=data)
    assert response.status_code == 422
    assert "as a pot and its share, such as WFWF 2022-23=3" in _error_for(
        text_of(response), "shares"
    )
    shares = f"{WFWF_POT}=1; Promise Partnership 2021-22=2"
    data = form_fields(
        client, "/pooled-contracts/new", purpose="Befriending", shares=shares, **fields
    )
    response = client.post("/pooled-contracts/new", data=data, follow_redirects=True)
    html = unescape(text_of(response))
    assert "£3.33 from WFWF 2022-23, £6.67 from Promise Partnership 2021-22" in html
    assert "It waits for a second person to approve it" in html

    def weights(session: Session) -> tuple[str, list[int]]:
        found = session.scalars(
            select(Allocation).where(Allocation.recipient.has(name="Home-Start"))
        ).one()
        return found.status, [s.weight_pence for s in found.shares]

    assert run(app, weights) == ("provisional", [333, 667])
