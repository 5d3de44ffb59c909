"""Statement pages and downloads, the finance reconciliation upload and the audit log."""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import CTSI_POT, WFWF_POT
from tests.web_helpers import demo_app, fast_sign_in, pot_id, run, text_of


def test_the_statement_page_shows_appendix_2_with_the_gap_in_view(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "viewer")
    response = client.get(f"/pots/{pot_id(app, WFWF_POT)}/statement")
    assert response.status_code == 200
    html = text_of(response)
    assert "WFWF 2022-23: Award £337,000.00" in html
    assert "£82,336.18" in html and "£9,058.00" in html  # CTSI's pot nested, with its grants
    assert "£103.18" in html  # the assumption stays visible
    assert html.count("<h1") == 1
    assert f'href="/pots/{pot_id(app, WFWF_POT)}/statement.pdf"' in html


def test_statements_as_at_a_date(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    wfwf = pot_id(app, WFWF_POT)
    before = text_of(client.get(f"/pots/{wfwf}/statement?as_at=31/08/2022"))
    assert "31 August 2022" in before
    assert "Aberlour" not in before  # allocated on 1 October 2022
    unreadable = client.get(f"/pots/{wfwf}/statement?as_at=yesterday")
    assert unreadable.status_code == 422
    assert "is not a date; write it as 2023-10-01 or 01/10/2023" in text_of(unreadable)
    assert 'href="#as_at-day"' in text_of(unreadable)
    assert client.get(f"/pots/{wfwf}/statement.pdf?as_at=yesterday").status_code == 400


def test_the_as_at_and_since_dates_are_day_month_and_year_boxes(database_url: str) -> None:
    """The design system's date pattern: one fieldset per date, with a legend and a hint."""
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    wfwf = pot_id(app, WFWF_POT)
    page = text_of(client.get(f"/pots/{wfwf}/statement"))
    assert '<fieldset aria-describedby="as_at-hint">' in page
    assert "<legend>Figures as at</legend>" in page
    assert "<legend>Movements since (optional)</legend>" in page
    for name in ("as_at", "since"):
        for part in ("day", "month", "year"):
            assert f'<label class="ds_label" for="{name}-{part}">' in page
            assert f'id="{name}-{part}" name="{name}-{part}" value=""' in page

    boxes = "as_at-day=31&as_at-month=8&as_at-year=2022"
    before = text_of(client.get(f"/pots/{wfwf}/statement?{boxes}"))
    assert "31 August 2022" in before and "Aberlour" not in before
    assert 'id="as_at-day" name="as_at-day" value="31"' in before
    assert 'id="as_at-year" name="as_at-year" value="2022"' in before
    # The downloads and the links carry the same date, written once.
    assert f'href="/pots/{wfwf}/statement.pdf?as_at=31/08/2022"' in before
    # A link's single date fills the boxes.
    linked = text_of(client.get(f"/pots/{wfwf}/statement?as_at=2023-03-31"))
    assert 'id="as_at-month" name="as_at-month" value="3"' in linked

    no_year = client.get(f"/pots/{wfwf}/statement?as_at-day=31&as_at-month=8")
    assert no_year.status_code == 422
    assert "The as-at date must include a year" in text_of(no_year)
    assert 'href="#as_at-day"' in text_of(no_year)
    assert 'aria-describedby="as_at-hint as_at-error"' in text_of(no_year)
    words = client.get(f"/pots/{wfwf}/statement?since-day=1&since-month=Aug&since-year=2023")
    assert words.status_code == 422
    assert "The &#39;since&#39; date must be a day, month and year in numbers" in text_of(words)
    no_day = client.get(f"/pots/{wfwf}/statement?as_at-day=31&as_at-month=2&as_at-year=2023")
    assert no_day.status_code == 422


def test_pdf_and_csv_downloads(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "ctsi")
    ctsi = pot_id(app, CTSI_POT)
    pdf = client.get(f"/pots/{ctsi}/statement.pdf?as_at=2023-03-31")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == (
        'attachment; filename="statement-ctsi-managed-wfwf-grant-2022-23-2023-03-31.pdf"'
    )
    csv = client.get(f"/pots/{ctsi}/statement.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = csv.data.decode("utf-8-sig")
    assert body.startswith("record,")
    assert "Homestart" in body and "9058.00" in body


def _receipts(session: Session) -> None:
    ops.record_receipt(
        session,
        reference="SG-WFWF-1",
        pot=WFWF_POT,
        funder="Scottish Government",
        amount_pence=16_850_000,
        date=dt.date(2022, 5, 31),
        entered_by="finance",
        memo="Instalment 1",
        approved_by="officer",
    )


def _upload(client: object, content: str, name: str = "export.csv") -> object:
    data = {"file": (io.BytesIO(content.encode("utf-8")), name), "date_from": "", "date_to": ""}
    return client.post(  # type: ignore[attr-defined]
        "/reconciliation", data=data, content_type="multipart/form-data"
    )


def test_a_finance_export_that_matches_reconciles(database_url: str) -> None:
    app = demo_app(database_url)
    run(app, _receipts)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    assert client.get("/reconciliation").status_code == 200
    good = _upload(
        client, 'date,reference,amount,description\n31/05/2022,SG-WFWF-1,"£168,500.00",SG\n'
    )
    assert good.status_code == 200  # type: ignore[attr-defined]
    assert "It reconciles" in text_of(good)

    off = _upload(client, "date,reference,amount,description\n31/05/2022,SG-WFWF-1,168500.01,SG\n")
    html = text_of(off)
    assert "It does not reconcile" in html
    assert "Amounts differ (1)" in html and "£0.01" in html


def test_the_reconciliation_page_heads_with_control_totals_and_names_each_case(
    database_url: str,
) -> None:
    """One SG receipt, in the window; finance spells it in lower case, dates a second,
    unknown row twice, and shows a payment the ledger does not hold dated in the window."""
    app = demo_app(database_url)
    run(app, _receipts)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    data = {
        "file": (
            io.BytesIO(
                b"date,reference,amount,description\n"
                b"31/05/2022,sg-wfwf-1,168500.00,SG\n"
                b"01/06/2022,MISC-9,-10.00,Bank charge\n"
                b"01/06/2022,MISC-9,-10.00,Bank charge\n"
                b"01/04/2023,LATE-1,-1.00,After the year\n"
            ),
            "june.csv",
        ),
        "date_from": "01/04/2022",
        "date_to": "31/03/2023",
    }
    html = text_of(client.post("/reconciliation", data=data, content_type="multipart/form-data"))
    assert "Result for june.csv, from 01/04/2022 to 31/03/2023" in html
    assert "Control totals: 3 finance rows, 1 ledger receipt or payment" in html
    assert (
        '<tr><th scope="row">Money in</th><td class="app-num">£168,500.00</td>'
        '<td class="app-num">£168,500.00</td><td class="app-num">£0.00</td></tr>'
    ) in html
    assert (
        '<tr><th scope="row">Money out</th><td class="app-num">-£20.00</td>'
        '<td class="app-num">£0.00</td><td class="app-num">-£20.00</td></tr>'
    ) in html
    assert (
        "Note: written &#39;sg-wfwf-1&#39; in the finance export, SG-WFWF-1 in the ledger" in html
    )
    assert "0 amount differences, 1 only in the finance export, 0 only in the ledger" in html
    assert (
        "<strong>MISC-9</strong>: row 3, 1 June 2022, -£10.00; row 4, 1 June 2022, -£10.00."
        " Together -£20.00."
    ) in html
    assert "LATE-1" not in html  # dated outside the window, and nothing in the ledger


def test_a_finance_export_that_cannot_be_read_is_refused_next_to_the_file(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    bad = _upload(client, "date,ref,amount,memo\n31/05/2022,X,1,Y\n")
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert "must be date,reference,amount,description" in text_of(bad)
    assert 'href="#file"' in text_of(bad)
    latin1 = client.post(
        "/reconciliation",
        data={
            "file": (io.BytesIO("date,reference,amount,description\n£".encode("latin-1")), "x.csv")
        },
        content_type="multipart/form-data",
    )
    assert latin1.status_code == 422
    assert "is not UTF-8 text" in text_of(latin1)


def test_the_audit_log_says_who_did_what_when_and_why(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "viewer")
    everything = text_of(client.get("/audit"))
    assert "demo.officer" in everything and "approved by demo.finance" in everything
    assert "WFWF Year 1: Award £337,000" in everything

    only_awards = text_of(client.get("/audit?action=entry:award"))
    assert "Source not stated in Appendix 2" not in only_awards  # names the pot, not the funder
    assert only_awards.count('<td data-heading="What">Award</td>') == 3

    by_ctsi = text_of(client.get("/audit", query_string={"actor": "demo.ctsi"}))
    assert by_ctsi.count('<td data-heading="What">Allocation</td>') == 5
    assert "Crèche" in by_ctsi

    words = text_of(client.get("/audit", query_string={"words": "Crèche"}))
    assert words.count('<td data-heading="What">Allocation</td>') == 1

    later = text_of(client.get("/audit", query_string={"date_from": "01/01/2100"}))
    assert "Nothing matches these filters." in later

    bad = client.get("/audit", query_string={"date_from": "32/01/2024"})
    assert bad.status_code == 422
    assert "is not a real date" in text_of(bad)
