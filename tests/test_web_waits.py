"""Nothing entered in the web app is approved at once (review defect 12): an award, a receipt and
a return typed into their forms wait in the approvals queue with no one recorded as approving
them, move no money while they wait, cannot be approved by the person who entered them, and are
posted with the name of the second person who approved them."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import WFWF_POT
from ledger.models import Entry, Request
from tests.web_helpers import demo_app, form_fields, pot_id, run, signed_in, text_of


def _submit(client: FlaskClient, path: str, **fields: str) -> None:
    response = client.post(path, data=form_fields(client, path, **fields))
    assert response.status_code == 302, text_of(response)


def _requests(app: Flask) -> dict[str, tuple[int, str, str, str | None]]:
    """Each request by kind: (id, status, entered by, decided by)."""
    rows = run(
        app,
        lambda s: s.execute(
            select(Request.kind, Request.id, Request.status, Request.entered_by, Request.decided_by)
        ).all(),
    )
    return {kind: (rid, status, by, decided) for kind, rid, status, by, decided in rows}


def _entries(app: Flask) -> int:
    return run(app, lambda s: s.scalar(select(func.count(Entry.id))) or 0)


def _pay_aberlour(session: Session) -> None:
    ops.pay(
        session,
        reference="ABER-Q1",
        allocation="WFWF-22-02",
        amount_pence=1_000_000,
        date=dt.date(2022, 11, 1),
        entered_by="officer",
        approved_by="finance",
        memo="Quarter 1",
    )


def test_an_award_a_receipt_and_a_return_from_the_web_wait_for_a_second_person(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    run(app, _pay_aberlour)
    officer, finance = signed_in(app, "officer"), signed_in(app, "finance")
    entries = _entries(app)

    _submit(
        officer,
        "/awards/new",
        funder="Scottish Government",
        pot="WFWF 2023-24",
        amount="1,000",
        award_date="01/05/2023",
        memo="Year 2 instalment",
    )
    _submit(
        finance,
        f"/receipts/new?pot={pot_id(app, WFWF_POT)}",
        pot=str(pot_id(app, WFWF_POT)),
        funder="Scottish Government",
        amount="1,000",
        date="30/04/2022",
        memo="Grant payment",
    )
    _submit(
        finance,
        "/returns/new",
        allocation="WFWF-22-02",
        amount="100",
        date="01/12/2022",
        memo="Underspend",
    )

    waiting = _requests(app)
    assert {kind: facts[1:] for kind, facts in waiting.items()} == {
        "award": ("pending", "officer", None),
        "receive": ("pending", "finance", None),
        "return": ("pending", "finance", None),
    }
    assert _entries(app) == entries  # nothing moved while they wait

    # Whoever entered a request cannot approve it; it stays waiting.
    for client, kind in ((officer, "award"), (finance, "receive"), (finance, "return")):
        client.post(f"/approvals/requests/{waiting[kind][0]}/approve")
    assert {kind: facts[1] for kind, facts in _requests(app).items()} == {
        "award": "pending",
        "receive": "pending",
        "return": "pending",
    }
    assert _entries(app) == entries

    for client, kind in ((finance, "award"), (officer, "receive"), (officer, "return")):
        response = client.post(f"/approvals/requests/{waiting[kind][0]}/approve")
        assert response.status_code == 302, kind
    posted = run(
        app,
        lambda s: s.execute(
            select(Entry.kind, Entry.amount_pence, Entry.entered_by, Entry.approved_by)
            .where(Entry.kind.in_(("award", "receive", "return")))
            .order_by(Entry.id.desc())
            .limit(3)
        ).all(),
    )
    assert sorted(posted) == [
        ("award", 100_000, "officer", "finance"),
        ("receive", 100_000, "finance", "officer"),
        ("return", 10_000, "finance", "officer"),
    ]
    assert _entries(app) == entries + 3
