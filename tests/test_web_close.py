"""Closing an allocation from the web app: asked for on the allocation's page with a reason,
decided in the approvals queue by a second person, like every other act.

The worked example is the Participation Development Officer post (WFWF-22-01, £39,000 in
Appendix 2): once the council has received the Scottish Government's cash and paid the £39,000,
the post's allocation is finished and can be closed."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import SCOTTISH_GOVERNMENT, WFWF_POT
from ledger.models import Allocation, AuditEvent, Request
from tests.web_helpers import counts, demo_app, run, signed_in, text_of

POST = "WFWF-22-01"


def _paid_in_full(session: Session) -> None:
    ops.record_receipt(
        session,
        reference="SG-CASH-1",
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=3_900_000,
        date=dt.date(2022, 11, 1),
        entered_by="finance",
        approved_by="admin",
        memo="First WFWF instalment",
    )
    ops.pay(
        session,
        reference="PAY-PDO-1",
        allocation=POST,
        amount_pence=3_900_000,
        date=dt.date(2022, 11, 2),
        entered_by="finance",
        approved_by="admin",
        memo="Participation Development Officer, year 1",
    )


@pytest.fixture
def app(database_url: str) -> Flask:
    app = demo_app(database_url)
    run(app, _paid_in_full)
    return app


def _status(app: Flask, reference: str) -> str:
    return run(
        app,
        lambda s: s.scalars(
            select(Allocation.status).where(Allocation.reference == reference)
        ).one(),
    )


def _close_requests(app: Flask) -> list[tuple[int, str, str]]:
    return run(
        app,
        lambda s: [
            (r.id, r.status, r.entered_by)
            for r in s.scalars(select(Request).where(Request.kind == "close").order_by(Request.id))
        ],
    )


def test_the_paid_up_post_offers_close_on_its_page_and_its_pots_page(app: Flask) -> None:
    officer = signed_in(app, "officer")
    page = text_of(officer.get(f"/allocations/{POST}/schedule"))
    assert f'href="/allocations/{POST}/close"' in page
    # Aberlour's £100,000 is still unpaid: its page says how to get to a closure instead.
    aberlour = text_of(officer.get("/allocations/WFWF-22-02/schedule"))
    assert "/allocations/WFWF-22-02/close" not in aberlour
    assert "£100,000.00 is committed and not yet paid" in aberlour
    viewer = text_of(signed_in(app, "viewer").get(f"/allocations/{POST}/schedule"))
    assert "/close" not in viewer


def test_a_closure_waits_for_a_second_person_then_closes_the_post(app: Flask) -> None:
    officer = signed_in(app, "officer")
    form = officer.get(f"/allocations/{POST}/close")
    assert form.status_code == 200
    assert "Reason for closing" in text_of(form)
    before = counts(app)
    sent = officer.post(f"/allocations/{POST}/close", data={"reason": "Post filled for the year"})
    assert sent.status_code == 302
    assert "waits for a second person" in text_of(officer.get(sent.headers["Location"]))
    assert _status(app, POST) == "confirmed"
    after = counts(app)
    assert (after.requests, after.entries) == (before.requests + 1, before.entries)
    [(request_id, status, entered_by)] = _close_requests(app)
    assert (status, entered_by) == ("pending", "officer")

    queue = text_of(officer.get("/approvals"))
    assert "Closure " in queue and "No money moves" in queue
    # The officer who asked cannot approve it, whatever the self-approval limit.
    refused = officer.post(f"/approvals/requests/{request_id}/approve")
    assert refused.status_code == 422
    assert "officer asked for a closure of WFWF-22-01 and cannot also approve it" in text_of(
        refused
    )
    assert _status(app, POST) == "confirmed"

    approved = signed_in(app, "finance").post(f"/approvals/requests/{request_id}/approve")
    assert approved.status_code == 302
    assert _status(app, POST) == "closed"
    assert _close_requests(app) == [(request_id, "approved", "officer")]
    assert counts(app).entries == before.entries  # a closure moves no money
    actions = run(
        app, lambda s: [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    )
    assert actions[-3:] == ["request_close", "close", "approve"]


def test_closing_rejects_what_still_waits_on_the_post(app: Flask) -> None:
    pending_return = run(
        app,
        lambda s: ops.return_unspent(
            s,
            reference="RET-PDO-1",
            allocation=POST,
            amount_pence=50_000,
            date=dt.date(2023, 3, 1),
            memo="Vacancy in March",
            entered_by="finance",
        ),
    )
    assert isinstance(pending_return, Request)
    signed_in(app, "officer").post(f"/allocations/{POST}/close", data={"reason": "Year ended"})
    [(request_id, _, _)] = _close_requests(app)
    assert (
        signed_in(app, "admin").post(f"/approvals/requests/{request_id}/approve").status_code == 302
    )
    decided = run(app, lambda s: s.get_one(Request, pending_return.id))
    assert decided.status == "rejected"
    assert decided.decision_note == "Allocation closed: Year ended"


def test_a_closure_without_a_reason_is_a_form_error(app: Flask) -> None:
    response = signed_in(app, "officer").post(f"/allocations/{POST}/close", data={"reason": "  "})
    assert response.status_code == 422
    assert "Say why the allocation is closed" in text_of(response)
    empty = signed_in(app, "officer").post(f"/allocations/{POST}/close", data={})
    assert empty.status_code == 422
    assert "Enter why the allocation is closed" in text_of(empty)
    assert _close_requests(app) == []


def test_an_unpaid_allocation_is_refused_with_the_way_forward(app: Flask) -> None:
    form = text_of(signed_in(app, "officer").get("/allocations/WFWF-22-02/close"))
    assert (
        "It still has £100,000.00 committed and unpaid, so it cannot close yet: vary it down to"
        " what was paid first."
    ) in form
    paid_up = text_of(signed_in(app, "officer").get(f"/allocations/{POST}/close"))
    assert "cannot close yet" not in paid_up
    response = signed_in(app, "officer").post(
        "/allocations/WFWF-22-02/close", data={"reason": "Project finished"}
    )
    assert response.status_code == 422
    assert (
        "Allocation WFWF-22-02 still has £100,000.00 committed and unpaid; vary it down to what"
        " was paid before closing it"
    ) in text_of(response)
    assert _close_requests(app) == []


def test_a_second_closure_of_the_same_post_is_refused_while_one_waits(app: Flask) -> None:
    officer = signed_in(app, "officer")
    officer.post(f"/allocations/{POST}/close", data={"reason": "Post filled"})
    again = signed_in(app, "finance").post(f"/allocations/{POST}/close", data={"reason": "Done"})
    assert again.status_code == 422
    assert "awaiting closure" in text_of(again)
    assert len(_close_requests(app)) == 1


def test_a_closed_post_cannot_be_closed_again(app: Flask) -> None:
    run(app, lambda s: ops.close_allocation(s, reference=POST, closed_by="finance", reason="Done"))
    response = signed_in(app, "officer").post(f"/allocations/{POST}/close", data={"reason": "x"})
    assert response.status_code == 422
    assert f"Allocation {POST} is closed" in text_of(response)


def test_ctsi_cannot_close_the_councils_allocations(app: Flask) -> None:
    assert signed_in(app, "ctsi").get(f"/allocations/{POST}/close").status_code == 403
    assert signed_in(app, "viewer").post(f"/allocations/{POST}/close").status_code == 403
