"""An administrator records an organisation's registered numbers and place in the web app:
each number is checked against its register, a refusal shows next to its field, and nothing is
written until every field is right."""

from __future__ import annotations

from ledger import operations as ops
from ledger.organisations import describe
from tests.web_helpers import demo_app, fast_sign_in, run, text_of


def test_an_admin_records_a_charitys_numbers_and_sees_a_refusal_by_its_field(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "admin")
    homestart = run(app, lambda s: ops.find_organisation(s, "Homestart").id)

    listing = text_of(client.get("/organisations"))
    assert "GB-CHC-1097940" in listing and "GB-SC-SC038092" in listing  # Action for Children
    page = text_of(client.get(f"/organisations/{homestart}"))
    assert "Charity numbers" in page and 'value=""' in page

    form = {
        "charity_numbers": "SC012345, 1234567",
        "company_number": "SC1234",
        "location_code": "S12000005",
        "location_name": "Clackmannanshire",
        "reason": "Checked on the registers",
    }
    refused = client.post(f"/organisations/{homestart}", data=form)
    assert refused.status_code == 422
    assert "is not a Companies House number" in text_of(refused)
    assert 'aria-invalid="true"' in text_of(refused)
    assert run(app, lambda s: describe(ops.find_organisation(s, "Homestart"))) == ""

    form["company_number"] = "SC123456"
    saved = client.post(f"/organisations/{homestart}", data=form)
    assert saved.status_code == 302 and saved.headers["Location"] == "/organisations"
    assert run(app, lambda s: describe(ops.find_organisation(s, "Homestart"))) == (
        "GB-CHC-1234567, GB-SC-SC012345, GB-COH-SC123456; in S12000005"
    )
    again = text_of(client.get(f"/organisations/{homestart}"))
    assert 'value="1234567, SC012345"' in again

    # Unticking the box clears the internal mark; an empty field clears its number.
    post = run(app, lambda s: ops.find_organisation(s, "Clackmannanshire Council (post)").id)
    assert "checked" in text_of(client.get(f"/organisations/{post}"))
    assert client.post(f"/organisations/{post}", data={"charity_numbers": ""}).status_code == 422
    client.post(f"/organisations/{post}", data={"reason": "Not a council post after all"})
    assert not run(
        app, lambda s: ops.find_organisation(s, "Clackmannanshire Council (post)").is_internal
    )
    assert client.get("/organisations/999999").status_code == 404
    audit = text_of(client.get("/audit?words=Homestart"))
    assert "GB-CHC-1234567, GB-SC-SC012345, GB-COH-SC123456; in S12000005" in audit
    assert "(Checked on the registers)" in audit
