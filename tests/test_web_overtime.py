"""Money over time in the web app: an officer schedules Aberlour's £100,000 quarterly, the
dashboard lists what is overdue, finance sees the forecast and signs the statement."""

from __future__ import annotations

import datetime as dt
import io
import re

import pypdf
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import second_person, timeline
from ledger.demo import CTSI_POT, WFWF_AWARD, WFWF_POT
from ledger.models import AuditEvent, Instalment, Request
from tests.web_helpers import demo_app, fast_sign_in, hidden_reference, pot_id, run, text_of

ABERLOUR = "WFWF-22-02"


def test_an_officer_schedules_aberlour_quarterly_and_finance_signs_the_statement(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    officer = app.test_client()
    fast_sign_in(app, officer, "officer")
    page = officer.get(f"/allocations/{ABERLOUR}/schedule")
    assert page.status_code == 200
    assert "all £100,000.00 is not yet scheduled" in text_of(page)
    done = officer.post(
        f"/allocations/{ABERLOUR}/schedule",
        data={"frequency": "quarterly", "first_due": "01/10/2023", "count": "4"},
    )
    assert done.status_code == 302
    page = text_of(officer.get(done.headers["Location"]))
    assert "Scheduled 4 quarterly instalments on WFWF-22-02." in page
    assert page.count("£25,000.00") >= 4 and "2023-24 Q3" in page

    # Instalments from October 2023 are overdue today, and the dashboard says so.
    dashboard = text_of(officer.get("/"))
    assert "Overdue" in dashboard and "Instalment of £25,000.00" in dashboard

    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    forecast = text_of(finance.get("/forecast"))
    assert '<title id="forecast-chart-title">Cash forecast: Total</title>' in forecast
    assert 'role="img"' in forecast and '<desc id="forecast-chart-desc">' in forecast
    assert "<caption>Cash forecast for all pots together, month by month</caption>" in forecast
    csv = finance.get("/forecast.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).startswith(
        "\ufeffpot,month,receipts,expected,payments,cash_held,cash_with_expected"
    )

    wfwf = pot_id(app, WFWF_POT)
    signed = finance.post(f"/pots/{wfwf}/signoffs", data={"signoff-as_at": "08/02/2024"})
    assert signed.status_code == 302
    page = text_of(finance.get(signed.headers["Location"]))
    assert "Signed off by finance on" in page and "Journal at sign-off: entry" in page
    pdf_link = re.search(r'href="(/signoffs/\d+\.pdf)"', page)
    assert pdf_link is not None
    pdf = finance.get(pdf_link.group(1))
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Signed off by finance on" in text and "chain tip" in text
    assert finance.get(pdf_link.group(1)).data == pdf.data  # the same bytes each time


def test_a_web_payment_before_the_monitoring_return_is_refused_naming_it(
    database_url: str,
) -> None:
    app = demo_app(database_url)

    def conditional(session: Session) -> None:
        timeline.set_schedule(
            session,
            allocation=ABERLOUR,
            instalments=[(dt.date(2023, 10, 1), 5_000_000), (dt.date(2024, 1, 1), 5_000_000)],
            entered_by="officer",
        )
        second = session.scalars(
            select(Instalment.id).where(Instalment.due_date == dt.date(2024, 1, 1))
        ).one()
        timeline.add_requirement(
            session,
            allocation=ABERLOUR,
            kind="monitoring_return",
            title="Monitoring return, October to December 2023",
            due_date=dt.date(2024, 1, 15),
            entered_by="officer",
            condition_for=[second],
        )

    run(app, conditional)
    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    form = text_of(finance.get(f"/payments/new?allocation={ABERLOUR}"))
    response = finance.post(
        "/payments/new",
        data={
            "allocation": ABERLOUR,
            "amount": "60,000.00",
            "date": "02/01/2024",
            "memo": "Two quarters",
            "reference": hidden_reference(form),
        },
    )
    assert response.status_code == 422
    assert (
        "waits for &#39;Monitoring return, October to December 2023&#39; (due 15/01/2024),"
        " which has not been received" in text_of(response)
    )


def test_ctsi_sees_only_its_own_pots_in_the_forecast(database_url: str) -> None:
    app = demo_app(database_url)
    ctsi = app.test_client()
    fast_sign_in(app, ctsi, "ctsi")
    page = text_of(ctsi.get("/forecast"))
    assert CTSI_POT in page and WFWF_POT not in page
    assert ctsi.get(f"/forecast?pot={pot_id(app, WFWF_POT)}").status_code == 403
    assert ctsi.get(f"/allocations/{ABERLOUR}/schedule").status_code == 403


def test_a_requirement_is_received_and_its_due_date_moved_with_a_reason(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    requirement = run(
        app,
        lambda s: (
            timeline.add_requirement(
                s,
                allocation="CTSI-22-01",
                kind="end_of_grant_report",
                title="End-of-grant report",
                due_date=dt.date(2024, 4, 30),
                entered_by="ctsi",
            ).id
        ),
    )
    ctsi = app.test_client()
    fast_sign_in(app, ctsi, "ctsi")
    refused = ctsi.post(
        f"/requirements/{requirement}/due-date", data={"move-due_date": "31/05/2024"}
    )
    assert refused.status_code == 422 and "Enter why the due date moves" in text_of(refused)
    moved = ctsi.post(
        f"/requirements/{requirement}/due-date",
        data={"move-due_date": "31/05/2024", "move-reason": "Funder agreed a month's extension"},
    )
    assert moved.status_code == 302
    received = ctsi.post(
        f"/requirements/{requirement}/received", data={"received-received_on": "20/05/2024"}
    )
    assert received.status_code == 302
    page = text_of(ctsi.get(received.headers["Location"]))
    assert "20/05/2024, recorded by ctsi" in page
    details = run(
        app,
        lambda s: [
            e.detail
            for e in s.scalars(select(AuditEvent).where(AuditEvent.subject.like("requirement %")))
        ],
    )
    assert details == [
        "'End-of-grant report' 30/04/2024 -> 31/05/2024: Funder agreed a month's extension",
        "'End-of-grant report' received on 20/05/2024",
    ]


def test_after_a_variation_the_officer_rebalances_the_unpaid_quarters_chosen(
    database_url: str,
) -> None:
    app = demo_app(database_url)

    def scheduled_then_varied(session: Session) -> None:
        timeline.set_schedule(
            session,
            allocation=ABERLOUR,
            instalments=[(dt.date(2024, m, 1), 2_500_000) for m in (1, 4, 7, 10)],
            entered_by="officer",
        )
        ops.vary(
            session,
            reference="VAR-AB-1",
            allocation=ABERLOUR,
            delta_pence=-1_000_001,
            date=dt.date(2024, 2, 1),
            reason="Fewer families referred",
            entered_by="officer",
            approved_by="finance",
        )

    run(app, scheduled_then_varied)
    ids = run(app, lambda s: list(s.scalars(select(Instalment.id).order_by(Instalment.due_date))))
    officer = app.test_client()
    fast_sign_in(app, officer, "officer")
    page = text_of(officer.get(f"/allocations/{ABERLOUR}/schedule"))
    assert "Choose the unpaid instalments that take up the difference of -£10,000.01" in page
    refused = officer.post(
        f"/allocations/{ABERLOUR}/rebalance", data={"rebalance-reason": "Variation VAR-AB-1"}
    )
    assert refused.status_code == 422
    assert "Choose the unpaid instalments to re-balance" in text_of(refused)
    done = officer.post(
        f"/allocations/{ABERLOUR}/rebalance",
        data={
            "rebalance-instalment": [str(ids[2]), str(ids[3])],
            "rebalance-reason": "Variation VAR-AB-1",
        },
    )
    assert done.status_code == 302
    amounts = run(
        app,
        lambda s: list(s.scalars(select(Instalment.amount_pence).order_by(Instalment.due_date))),
    )
    assert amounts == [2_500_000, 2_500_000, 1_999_999, 2_000_000]


def test_a_waiver_asked_for_by_ctsi_is_approved_by_a_second_person_who_did_not_enter_it(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    requirement = run(
        app,
        lambda s: (
            timeline.add_requirement(
                s,
                allocation="CTSI-22-01",
                kind="monitoring_return",
                title="Homestart monitoring return",
                due_date=dt.date(2023, 4, 30),
                entered_by="officer",
            ).id
        ),
    )
    ctsi = app.test_client()
    fast_sign_in(app, ctsi, "ctsi")
    refused = ctsi.post(f"/requirements/{requirement}/waiver", data={"waiver-reason": ""})
    assert refused.status_code == 422 and "Enter why the requirement is waived" in text_of(refused)
    asked = ctsi.post(
        f"/requirements/{requirement}/waiver",
        data={"waiver-reason": "Homestart reported the year in its annual report instead"},
    )
    assert asked.status_code == 302
    page = text_of(ctsi.get(asked.headers["Location"]))
    assert "The waiver waits for a second person to approve it." in page
    assert "Waiver waiting for approval" in page and "Ask for the waiver" not in page
    waiting = run(app, lambda s: second_person.pending_for_requirement(s, requirement))
    assert waiting is not None

    # Neither the person who asked nor the person who entered the requirement may approve.
    own = ctsi.post(f"/second-approvals/{waiting.id}/approve")
    assert own.status_code == 422
    assert "ctsi asked for this and cannot also approve it" in text_of(own)
    officer = app.test_client()
    fast_sign_in(app, officer, "officer")
    entered = officer.post(f"/second-approvals/{waiting.id}/approve")
    assert entered.status_code == 422
    assert (
        "officer entered &#39;Homestart monitoring return&#39; and cannot also approve its waiver"
        in text_of(entered)
    )

    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    assert "Waive 'Homestart monitoring return' on CTSI-22-01" in text_of(finance.get("/approvals"))
    approved = finance.post(f"/second-approvals/{waiting.id}/approve")
    assert approved.status_code == 302
    page = text_of(finance.get(approved.headers["Location"]))
    assert "by finance: Homestart reported the year in its annual report instead" in page
    assert "Waived" in page and "Waiver waiting for approval" not in page
    details = run(
        app,
        lambda s: [
            (e.actor, e.action)
            for e in s.scalars(select(AuditEvent).where(AuditEvent.subject.like("requirement %")))
        ],
    )
    assert details == [("ctsi", "request_waiver"), ("finance", "waive_requirement")]


def test_an_officer_phases_the_337000_over_two_years_and_finance_approves(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    officer = app.test_client()
    fast_sign_in(app, officer, "officer")
    pot_page = text_of(officer.get(f"/pots/{pot_id(app, WFWF_POT)}"))
    assert f'href="/awards/{WFWF_AWARD}/phasing"' in pot_page
    page = text_of(officer.get(f"/awards/{WFWF_AWARD}/phasing"))
    assert "Phasing not stated" in page
    assert "The documents disagree on the years of the £337,000.00 award" in page
    assert "Paragraph 7.1 (report of 8 February 2024) says 2022-23 and 2023-24" in page

    short = officer.post(
        f"/awards/{WFWF_AWARD}/phasing",
        data={"parts": "2022-23 = 200,000.00\n2023-24 = 136,999.99"},
    )
    assert short.status_code == 422
    assert "adds up to £336,999.99, but the award is £337,000.00 (short by £0.01)" in text_of(short)
    garbled = officer.post(f"/awards/{WFWF_AWARD}/phasing", data={"parts": "2022-23 200000"})
    assert garbled.status_code == 422 and "Line 1 (2022-23 200000)" in text_of(garbled)

    asked = officer.post(
        f"/awards/{WFWF_AWARD}/phasing",
        data={"parts": "2022-23 = 200,000.00\n2023-24 = 137,000"},
    )
    assert asked.status_code == 302
    page = text_of(officer.get(asked.headers["Location"]))
    assert f"The phasing of {WFWF_AWARD} waits for a second person to approve it." in page
    assert "2022-23 £200,000.00, 2023-24 £137,000.00" in page
    waiting = run(app, lambda s: second_person.pending(s))
    assert [w.kind for w in waiting] == ["phase_award"]
    assert officer.post(f"/second-approvals/{waiting[0].id}/approve").status_code == 422

    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    approved = finance.post(f"/second-approvals/{waiting[0].id}/approve")
    assert approved.status_code == 302
    page = text_of(finance.get(approved.headers["Location"]))
    assert "Phased: 2022-23 £200,000.00, 2023-24 £137,000.00" in page
    rows = run(
        app,
        lambda s: [
            (p.financial_year, p.amount_pence, p.entered_by, p.approved_by)
            for p in timeline.phasing_of(s, timeline.find_award(s, WFWF_AWARD).id)
        ],
    )
    assert rows == [
        (2022, 20_000_000, "officer", "finance"),
        (2023, 13_700_000, "officer", "finance"),
    ]
    # A phasing is stated once: the form is gone.
    assert "Ask for the phasing" not in text_of(officer.get(f"/awards/{WFWF_AWARD}/phasing"))


def test_finance_overrides_the_monitoring_return_with_a_reason_and_a_second_person_approves(
    database_url: str,
) -> None:
    app = demo_app(database_url)

    def conditional(session: Session) -> None:
        ops.record_receipt(
            session,
            reference="SG-WFWF-RECEIPT-1",
            pot=WFWF_POT,
            funder="Scottish Government",
            amount_pence=20_000_000,
            date=dt.date(2022, 6, 30),
            entered_by="finance",
            memo="First WFWF instalment",
            approved_by="officer",
        )
        timeline.set_schedule(
            session,
            allocation=ABERLOUR,
            instalments=[(dt.date(2023, 10, 1), 5_000_000), (dt.date(2024, 1, 1), 5_000_000)],
            entered_by="officer",
        )
        second = session.scalars(
            select(Instalment.id).where(Instalment.due_date == dt.date(2024, 1, 1))
        ).one()
        timeline.add_requirement(
            session,
            allocation=ABERLOUR,
            kind="monitoring_return",
            title="Monitoring return, October to December 2023",
            due_date=dt.date(2024, 1, 15),
            entered_by="officer",
            condition_for=[second],
        )

    run(app, conditional)
    finance = app.test_client()
    fast_sign_in(app, finance, "finance")
    form = text_of(finance.get(f"/payments/new?allocation={ABERLOUR}"))
    assert 'name="override_reason"' not in form  # offered only once a payment is refused
    payment = {
        "allocation": ABERLOUR,
        "amount": "60,000.00",
        "date": "02/01/2024",
        "memo": "Two quarters",
        "reference": hidden_reference(form),
    }
    refused = text_of(finance.post("/payments/new", data=payment))
    assert "which has not been received; an approver may override this with a reason" in refused
    assert 'name="override_reason"' in refused
    assert (
        "Enter the reason for paying before &#39;Monitoring return, October to December"
        " 2023&#39; is received, or record it as received first" in refused
    )
    # Offered but left blank: still refused, with the same way forward.
    blank = finance.post("/payments/new", data={**payment, "override_reason": ""})
    assert blank.status_code == 422 and "Enter the reason for paying before" in text_of(blank)

    done = finance.post(
        "/payments/new",
        data={**payment, "override_reason": "Return delayed by illness; service running"},
    )
    assert done.status_code == 302
    assert "is recorded as a request" in text_of(finance.get(done.headers["Location"]))
    audit = run(
        app,
        lambda s: [
            (e.actor, e.detail)
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.action == "override_payment_condition")
            )
        ],
    )
    assert audit == [
        (
            "finance",
            f"payment {payment['reference']} of £60,000.00 made before 'Monitoring return,"
            " October to December 2023' was received: Return delayed by illness; service"
            " running; the payment waits for a second person",
        )
    ]
    # The officer, a second person, approves the payment in the queue: it is posted.
    request_id = run(
        app, lambda s: s.scalars(select(Request.id).where(Request.kind == "pay")).one()
    )
    officer = app.test_client()
    fast_sign_in(app, officer, "officer")
    queue = text_of(officer.get("/approvals"))
    assert (
        "Paid before a reporting requirement was received: overridden by finance: Return"
        " delayed by illness; service running" in queue
    )
    assert officer.post(f"/approvals/requests/{request_id}/approve").status_code == 302
    paid = run(app, lambda s: ops.find_allocation(s, ABERLOUR).paid_pence)
    assert paid == 6_000_000
