"""CSV import in the browser: upload, a preview checked against the ledger and rolled back,
then confirm. Appendix 2 as printed is refused at row 7, short by £103.18, and writes nothing."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import CTSI
from ledger.models import Entry, Request
from tests.web_helpers import add_people, counts, fast_sign_in, make_app, run, text_of

DATA = Path(__file__).parent / "data"


def _council(database_url: str, tmp_path: Path) -> Flask:
    app = make_app(database_url, IMPORT_DIR=str(tmp_path / "uploads"))

    def name_the_council(session: Session) -> None:
        ops.ensure_organisation(session, "Clackmannanshire Council", ["accountable_body"])
        ops.set_setting(session, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")
        ops.ensure_organisation(session, CTSI, ["intermediary"])  # for CTSI's administrator

    run(app, name_the_council)
    add_people(app)
    return app


def _upload(client: FlaskClient, path: Path, approved_by: str = "People Committee") -> str:
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), "approved_by": approved_by}
    response = client.post("/imports", data=data, content_type="multipart/form-data")
    html = text_of(response)
    return f"{response.status_code}\n{html}"


def _token(html: str) -> str:
    found = re.search(r'name="token" type="hidden" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_appendix_2_as_printed_is_refused_in_the_preview_at_row_7(
    database_url: str, tmp_path: Path
) -> None:
    app = _council(database_url, tmp_path)
    client = app.test_client()
    fast_sign_in(app, client, "admin")
    before = counts(app)
    result = _upload(client, DATA / "appendix2_as_printed.csv")
    status, html = result.split("\n", 1)
    assert status == "422"
    assert (
        "Row 7, column amount: WFWF 2022-23 has £82,233.00 available; this delegation needs"
        " £82,336.18 (short by £103.18)"
    ) in html
    assert 'href="#row-7"' in html and 'id="row-7"' in html
    assert "Import these rows" not in html
    assert counts(app) == before  # the preview ran in a transaction that was rolled back


def test_a_good_file_is_previewed_then_waits_for_a_second_person_who_applies_it(
    database_url: str, tmp_path: Path
) -> None:
    app = _council(database_url, tmp_path)
    client = app.test_client()
    fast_sign_in(app, client, "admin")
    before = counts(app)
    status, html = _upload(client, DATA / "appendix2_with_top_up.csv").split("\n", 1)
    assert status == "200"
    assert "The file can be imported" in html
    assert "Aberlour Sustain" in html
    assert counts(app) == before  # nothing yet
    token = _token(html)

    done = client.post("/imports/confirm", data={"token": token})
    assert done.status_code == 302
    page = text_of(client.get("/"))
    assert "appendix2_with_top_up.csv is waiting as request" in page
    waiting = counts(app)
    assert (waiting.entries, waiting.requests) == (before.entries, before.requests + 1)

    again = client.post("/imports/confirm", data={"token": token})
    assert again.status_code == 302
    assert "already been imported or cancelled" in text_of(client.get("/imports"))
    assert counts(app) == waiting
    assert not list((tmp_path / "uploads").glob("*.csv"))  # the upload is deleted

    request_id = run(
        app, lambda s: s.scalars(select(Request.id).where(Request.kind == "import")).one()
    )
    with app.test_client() as finance:
        fast_sign_in(app, finance, "finance")
        approved = finance.post(f"/approvals/requests/{request_id}/approve")
        assert approved.status_code == 302
    after = counts(app)
    assert after.entries > before.entries
    # Nobody is recorded as approving what they did not approve: the uploader entered each
    # row and the person who approved the file approved it.
    people = run(app, lambda s: set(s.execute(select(Entry.entered_by, Entry.approved_by))))
    assert people == {("admin", "finance")}


def test_another_session_cannot_confirm_someone_elses_upload(
    database_url: str, tmp_path: Path
) -> None:
    app = _council(database_url, tmp_path)
    first = app.test_client()
    fast_sign_in(app, first, "admin")
    _, html = _upload(first, DATA / "appendix2_with_top_up.csv").split("\n", 1)
    token = _token(html)
    second = app.test_client()
    fast_sign_in(app, second, "admin")
    before = counts(app)
    second.post("/imports/confirm", data={"token": token})
    assert counts(app) == before
    first.post("/imports/cancel", data={"token": token})
    assert not list((tmp_path / "uploads").glob("*.csv"))


def test_a_file_that_is_not_utf8_or_has_the_wrong_header(database_url: str, tmp_path: Path) -> None:
    app = _council(database_url, tmp_path)
    client = app.test_client()
    fast_sign_in(app, client, "admin")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("date,operation\n£".encode("latin-1"))
    status, html = _upload(client, latin1).split("\n", 1)
    assert status == "422" and "is not UTF-8 text" in html
    header = tmp_path / "header.csv"
    header.write_text("date,amount\n2022-04-01,5\n", encoding="utf-8")
    status, html = _upload(client, header).split("\n", 1)
    assert status == "422" and "Row 1: the header must be exactly" in html
    missing = client.post("/imports", data={"approved_by": ""}, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert "Choose a CSV file to upload" in text_of(missing)
