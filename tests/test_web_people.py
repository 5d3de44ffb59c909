"""People in the web app: an administrator adds a person, changes their role, gives a new
one-time password and deactivates them; everyone changes their own password. The person given
a one-time password can do nothing else until they have chosen their own."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import users
from ledger.demo import CTSI, CTSI_POT, WFWF_POT
from ledger.models import AuditEvent, Entry, User
from tests.test_users import legacy_scrypt_hash
from tests.web_helpers import (
    PASSWORD,
    demo_app,
    fast_sign_in,
    pot_id,
    run,
    sign_in,
    text_of,
)

ONE_TIME = re.compile(r'<code id="one-time-password">([a-z0-9-]+)</code>')


def _user(app: Flask, username: str) -> User:
    return run(app, lambda s: users.find_user(s, username))


def _user_id(app: Flask, username: str) -> int:
    return _user(app, username).id


def _events(app: Flask, username: str) -> list[tuple[str, str, str]]:
    def read(s: Session) -> list[tuple[str, str, str]]:
        rows = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject == f"user {username}")
            .order_by(AuditEvent.id)
        )
        return [(e.actor, e.action, e.detail) for e in rows]

    return run(app, read)


def _add_person(client: FlaskClient, **fields: str) -> str:
    """Add a person through the form; the one-time password the page shows once."""
    response = client.post("/people/new", data=fields)
    assert response.status_code == 200, text_of(response)
    found = ONE_TIME.search(text_of(response))
    assert found, "the page shows no one-time password"
    return found.group(1)


def _sign_in_with(client: FlaskClient, username: str, password: str) -> str:
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, text_of(response)
    return response.headers["Location"]


def test_a_person_added_by_an_administrator_must_change_the_one_time_password_first(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    admin = app.test_client()
    fast_sign_in(app, admin, "admin")
    assert 'href="/people"' in text_of(admin.get("/"))  # in the administrator's navigation
    one_time = _add_person(
        admin, username="m.stewart", display_name="Morag Stewart", role="finance"
    )
    listing = text_of(admin.get("/people"))
    assert "m.stewart" in listing and "one-time password" in listing
    assert one_time not in listing  # shown once, on the page that answered the form
    assert _events(app, "m.stewart") == [
        ("admin", "user_add", "role finance; one-time password given")
    ]

    person = app.test_client()
    _sign_in_with(person, "m.stewart", one_time)
    for path in ("/", "/reconciliation", f"/pots/{pot_id(app, WFWF_POT)}", "/audit"):
        response = person.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/password"
    page = text_of(person.get("/account/password"))
    assert "You signed in with a one-time password" in page

    refused = person.post(
        "/account/password",
        data={"current_password": one_time, "password": "hunter2", "confirm": "hunter2"},
    )
    assert refused.status_code == 422
    assert "at least 12 characters" in text_of(refused)
    refused = person.post(
        "/account/password",
        data={
            "current_password": one_time,
            "password": "qwertyuiop1234",
            "confirm": "qwertyuiop1234",
        },
    )
    assert "most commonly used passwords" in text_of(refused)
    own = "harbour kettle meadow lantern"
    changed = person.post(
        "/account/password", data={"current_password": one_time, "password": own, "confirm": own}
    )
    assert changed.status_code == 302 and changed.headers["Location"] == "/"
    dashboard = text_of(person.get("/"))
    assert "Your password has been changed" in dashboard
    assert "Morag Stewart" in dashboard and "Finance" in dashboard
    assert person.get("/reconciliation").status_code == 200

    stale = app.test_client().post("/login", data={"username": "m.stewart", "password": one_time})
    assert stale.status_code == 422  # the one-time password no longer signs anyone in
    assert not users.verify_password(one_time, _user(app, "m.stewart").password_hash)
    assert _user(app, "m.stewart").must_change_password is False


def test_an_administrator_changes_a_role_and_an_intermediary_needs_an_organisation(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    admin = app.test_client()
    fast_sign_in(app, admin, "admin")
    viewer = app.test_client()
    sign_in(viewer, "viewer")
    assert viewer.get(f"/pots/{pot_id(app, CTSI_POT)}").status_code == 200
    assert viewer.get("/receipts/new").status_code == 403
    page = f"/people/{_user_id(app, 'viewer')}"

    refused = admin.post(page, data={"role": "intermediary", "organisation": ""})
    assert refused.status_code == 422
    assert "An intermediary administrator belongs to an organisation" in text_of(refused)

    ctsi_id = re.search(
        rf'<option value="(\d+)">{re.escape(CTSI)}</option>', text_of(admin.get(page))
    )
    assert ctsi_id, "CTSI is offered as an organisation"
    saved = admin.post(
        page,
        data={
            "role": "intermediary",
            "organisation": ctsi_id.group(1),
            "display_name": "CTSI grants (Ann)",
        },
    )
    assert saved.status_code == 302
    # At once, in the session already open: CTSI's pot only, and its sub-grant form.
    assert viewer.get(f"/pots/{pot_id(app, WFWF_POT)}").status_code == 403
    assert viewer.get("/subgrants/new").status_code == 200
    assert "CTSI grants (Ann)" in text_of(viewer.get("/"))

    assert (
        admin.post(
            page, data={"role": "finance", "organisation": "", "display_name": "CTSI grants (Ann)"}
        ).status_code
        == 302
    )
    assert viewer.get("/receipts/new").status_code == 200
    assert _events(app, "viewer") == [
        ("admin", "user_role", f"role intermediary for {CTSI}"),
        ("admin", "user_name", "shown as CTSI grants (Ann)"),
        ("admin", "user_role", "role finance"),
    ]


def test_a_new_one_time_password_ends_the_persons_sessions_and_must_be_changed(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    admin = app.test_client()
    fast_sign_in(app, admin, "admin")
    officer = app.test_client()
    sign_in(officer, "officer")
    assert officer.get("/").status_code == 200

    response = admin.post(f"/people/{_user_id(app, 'officer')}/password")
    assert response.status_code == 200
    found = ONE_TIME.search(text_of(response))
    assert found
    assert officer.get("/").status_code == 302  # signed out at once
    assert _events(app, "officer") == [("admin", "user_password", "one-time password given")]

    fresh = app.test_client()
    _sign_in_with(fresh, "officer", found.group(1))
    assert fresh.get("/awards/new").headers["Location"] == "/account/password"
    assert fresh.post("/logout").status_code == 302  # signing out is still allowed


def test_a_deactivated_person_is_signed_out_at_once_and_stays_in_the_journal(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    admin = app.test_client()
    fast_sign_in(app, admin, "admin")
    officer = app.test_client()
    sign_in(officer, "officer")
    officer_id = _user_id(app, "officer")
    entries_before = run(
        app, lambda s: s.scalars(select(Entry.id).where(Entry.entered_by == "demo.officer")).all()
    )

    response = admin.post(f"/people/{officer_id}/deactivate")
    assert response.status_code == 302
    assert "officer is deactivated" in text_of(admin.get("/people"))
    assert officer.get("/").status_code == 302
    refused = officer.post("/login", data={"username": "officer", "password": PASSWORD})
    assert refused.status_code == 422
    assert run(app, lambda s: s.get(User, officer_id)) is not None  # never deleted
    assert entries_before == run(
        app, lambda s: s.scalars(select(Entry.id).where(Entry.entered_by == "demo.officer")).all()
    )

    assert admin.post(f"/people/{officer_id}/reactivate").status_code == 302
    sign_in(officer, "officer")
    assert [action for _, action, _ in _events(app, "officer")] == [
        "user_deactivate",
        "user_activate",
    ]


def test_an_administrator_cannot_deactivate_themselves(database_url: str) -> None:
    app = demo_app(database_url)
    admin = app.test_client()
    fast_sign_in(app, admin, "admin")
    response = admin.post(f"/people/{_user_id(app, 'admin')}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account" in text_of(response)
    assert _user(app, "admin").active


def test_a_username_already_taken_or_malformed_is_refused_next_to_the_field(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    admin = app.test_client()
    fast_sign_in(app, admin, "admin")
    taken = admin.post("/people/new", data={"username": "officer", "role": "viewer"})
    assert taken.status_code == 422
    assert 'id="username-error"' in text_of(taken)
    assert "There is already a user called &#39;officer&#39;" in text_of(taken)
    odd = admin.post("/people/new", data={"username": "m stewart", "role": "viewer"})
    assert odd.status_code == 422 and "A username is up to 100 letters" in text_of(odd)


def test_everyone_changes_their_own_password_with_the_current_one(database_url: str) -> None:
    app = demo_app(database_url)
    viewer = app.test_client()
    sign_in(viewer, "viewer")
    elsewhere = app.test_client()
    sign_in(elsewhere, "viewer")
    new = "tablet lighthouse porridge"

    wrong = viewer.post(
        "/account/password", data={"current_password": "guess", "password": new, "confirm": new}
    )
    assert wrong.status_code == 422
    assert "Your current password is not right" in text_of(wrong)
    differ = viewer.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": new, "confirm": new + "!"},
    )
    assert "The two new passwords differ" in text_of(differ)
    assert PASSWORD not in text_of(differ) and new not in text_of(differ)  # never echoed
    both = viewer.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": "viewer", "confirm": "viewr"},
    )
    assert "at least 12 characters" in text_of(both)  # every problem at once
    assert "The two new passwords differ" in text_of(both)

    done = viewer.post(
        "/account/password", data={"current_password": PASSWORD, "password": new, "confirm": new}
    )
    assert done.status_code == 302
    assert viewer.get("/").status_code == 200  # this session carries on
    assert elsewhere.get("/").status_code == 302  # every other one has ended
    assert _events(app, "viewer") == [("viewer", "user_password_own", "changed their own password")]


def test_an_old_scrypt_hash_signs_in_and_is_upgraded_to_argon2(database_url: str) -> None:
    app = demo_app(database_url)

    def downgrade(s: Session) -> None:
        users.find_user(s, "finance").password_hash = legacy_scrypt_hash(PASSWORD)

    run(app, downgrade)
    client = app.test_client()
    refused = client.post("/login", data={"username": "finance", "password": "wrong password"})
    assert refused.status_code == 422
    assert _user(app, "finance").password_hash.startswith("scrypt$")  # only a success upgrades
    sign_in(client, "finance")
    upgraded = _user(app, "finance").password_hash
    assert upgraded.startswith("$argon2id$")
    assert client.get("/").status_code == 200  # the session made at sign-in holds
    again = app.test_client()
    sign_in(again, "finance")
    assert _user(app, "finance").password_hash == upgraded  # upgraded once, not each time


def test_nobody_but_an_administrator_sees_people(database_url: str) -> None:
    app = demo_app(database_url)
    for username in ("officer", "finance", "ctsi", "viewer"):
        client = app.test_client()
        fast_sign_in(app, client, username)
        page = text_of(client.get("/"))
        assert 'href="/people"' not in page
        assert 'href="/account/password"' in page
