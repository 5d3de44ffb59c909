"""The web app's security, item by item, and where each item is proved.

Proved by tests elsewhere (not repeated here):

* every route against every role, checked against ``app.url_map`` so that a new route without
  a rule fails, in tests/test_web_access.py:
  ``test_every_route_checks_the_role_and_the_pot_scope``, ``test_the_table_covers_every_route``
  and ``test_nobody_signed_in_is_sent_to_sign_in``;
* throttling of failed sign-ins (5 in a row lock the account for 15 minutes, with the same
  answer as a wrong password), in tests/test_web_auth.py:
  ``test_five_failures_lock_the_account_for_fifteen_minutes``;
* no open redirect after sign-in for ``https://evil.example/``, ``//evil.example/``,
  ``/\\evil.example`` and ``javascript:alert(1)``:
  tests/test_web_auth.py::test_after_sign_in_only_paths_on_this_site_are_followed.

Proved here: CSRF on every POST route in ``app.url_map``; the session cookie's attributes in the
production configuration; a new session at sign-in (no session fixation); the security headers
on every page and every error page; passwords in no log and no table; more open-redirect
variants. Each test that enumerates routes fails when a route appears that it has no sample
data for, so a new route is never skipped silently.

Signing out ends every session of that person, including a copy of the cookie taken before
(``test_a_signed_out_sessions_cookie_signs_nobody_in``; migration 0005).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from ledger import cli, second_person, timeline, users
from ledger import operations as ops
from ledger.demo import CTSI_POT, WFWF_POT, load_demo
from ledger.models import Base
from tests.web_helpers import (
    PASSWORD,
    add_people,
    demo_app,
    fast_sign_in,
    pot_id,
    run,
    sign_in,
    text_of,
)
from web import create_app
from web.db import ledger_of

COOKIE = "commonpurse_session"
CSRF_REFUSED = "The form had expired or did not come from this site, so nothing was recorded"
PROVISIONAL = "SEC-PROVISIONAL"
_CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _pending(session: Session) -> dict[str, int]:
    """A provisional allocation and a variation waiting for approval, both entered by the
    officer, so that an admin's forged approval would write something."""
    ops.allocate(
        session,
        reference=PROVISIONAL,
        pot="Promise Partnership 2021-22",
        recipient="Homestart",
        amount_pence=10_000,
        date=dt.date(2022, 10, 1),
        entered_by="officer",
        purpose="Befriending",
    )
    request = ops.vary(
        session,
        reference="SEC-VARY",
        allocation="WFWF-22-02",
        delta_pence=-10_000,
        date=dt.date(2022, 11, 1),
        reason="Start delayed",
        entered_by="officer",
    )
    signoff = timeline.sign_off(
        session, pot=WFWF_POT, as_at=dt.date(2024, 2, 8), signed_by="finance"
    )
    requirement = timeline.add_requirement(
        session,
        allocation="WFWF-22-02",
        kind="monitoring_return",
        title="Monitoring return",
        due_date=dt.date(2024, 1, 15),
        entered_by="officer",
    )
    # A waiver asked for by the officer: an admin's forged approval or decline would write.
    waiting = second_person.ask_waiver(
        session, requirement_id=requirement.id, reason="Service paused", entered_by="officer"
    )
    return {
        "request_id": request.id,
        "signoff_id": signoff.id,
        "requirement_id": requirement.id,
        "waiting_id": waiting.id,
    }


def _app(database_url: str, tmp: Path, **config: Any) -> tuple[Flask, dict[str, Any]]:
    app = demo_app(database_url, IMPORT_DIR=str(tmp / "imports"), **config)
    args: dict[str, Any] = run(app, _pending)
    args.update(
        pot_id=pot_id(app, WFWF_POT),
        reference=PROVISIONAL,
        filename="app.css",
        allocation_ref="WFWF-22-02",
        award_ref="WFWF-2022-23-AWARD",
    )
    args["organisation_id"] = run(app, lambda s: ops.find_organisation(s, "Homestart").id)
    # Someone other than the administrator making the requests, whose session must hold.
    args["user_id"] = run(app, lambda s: users.find_user(s, "viewer").id)
    args["entry_id"] = run(app, lambda s: ops.find_entry(s, "WFWF-2022-23-AWARD").id)
    return app, args


def table_dump(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as text (as tests/test_hostile_inputs.py compares them)."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                repr(tuple(row))
                for row in connection.exec_driver_sql(f'SELECT * FROM "{table.name}"')
            )
            for table in Base.metadata.sorted_tables
        }


def _dump(app: Flask) -> dict[str, list[str]]:
    return table_dump(ledger_of(app).engine)


def _token(client: FlaskClient, path: str = "/awards/new") -> str:
    found = _CSRF_TOKEN.search(text_of(client.get(path)))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def _csv(text: str) -> Callable[[], tuple[io.BytesIO, str]]:
    return lambda: (io.BytesIO(text.encode()), "upload.csv")


IMPORT_CSV = (
    "date,operation,reference,pot,counterparty,amount,description,allocation_ref,to_pot\n"
    "2022-04-01,award,SEC-IMPORT,WFWF 2022-23,Scottish Government,1.00,Forged,,\n"
)
# What each POST route would accept from a signed-in administrator: a request that would write
# something, were it not for the missing token. A new POST route fails the test until it is here.
POST_DATA: dict[str, dict[str, Any]] = {
    "auth.login": {"username": "viewer", "password": PASSWORD},
    "auth.logout": {},
    "money.award": {
        "funder": "Scottish Government",
        "pot": "Forged pot",
        "amount": "1.00",
        "award_date": "01/04/2022",
        "memo": "Forged",
        "reference": "AWD-20220401-AAAAAAAA",
    },
    "money.award_reduction": {
        "award": "WFWF-2022-23-AWARD",
        "amount": "1.00",
        "date": "01/05/2022",
        "memo": "Forged",
        "reference": "RED-20220501-AAAAAAAA",
    },
    "money.hand_back": {
        "pot": "{pot_id}",
        "amount": "1.00",
        "date": "01/05/2022",
        "memo": "Forged",
        "reference": "HBK-20220501-AAAAAAAA",
    },
    "money.carry_forward": {
        "pot": "{pot_id}",
        "to_pot": "{pot_id}",
        "amount": "1.00",
        "date": "01/05/2022",
        "memo": "Forged",
        "reference": "CFW-20220501-AAAAAAAA",
    },
    "money.reversal": {"reason": "Forged", "reference": "REV-20221101-AAAAAAAA"},
    "money.pooled_contract": {
        "recipient": "Forged",
        "amount": "1.00",
        "shares": "WFWF 2022-23=1;Promise Partnership 2021-22=1",
        "date": "01/11/2022",
        "purpose": "Forged",
        "reference": "POO-20221101-AAAAAAAA",
    },
    "money.receipt": {
        "pot": "{pot_id}",
        "funder": "Scottish Government",
        "amount": "1.00",
        "date": "01/05/2022",
        "memo": "Forged",
        "reference": "RCP-20220501-AAAAAAAA",
    },
    "money.allocation": {
        "pot": "{promise}",
        "recipient": "Homestart",
        "amount": "1.00",
        "date": "01/10/2022",
        "purpose": "Forged",
        "reference": "ALC-20221001-AAAAAAAA",
    },
    "money.delegation": {
        "pot": "{promise}",
        "recipient": "Forged Ltd",
        "to_pot": "Forged pot",
        "amount": "1.00",
        "date": "01/10/2022",
        "purpose": "Forged",
        "reference": "DLG-20221001-AAAAAAAA",
    },
    "money.subgrant": {
        "pot": "{ctsi}",
        "recipient": "Homestart",
        "amount": "1.00",
        "date": "01/10/2022",
        "purpose": "Forged",
        "reference": "ALC-20221001-BBBBBBBB",
    },
    "money.variation": {
        "allocation": "WFWF-22-02",
        "amount": "-1.00",
        "date": "01/11/2022",
        "reason": "Forged",
        "reference": "VAR-20221101-AAAAAAAA",
    },
    "money.payment": {
        "allocation": "WFWF-22-02",
        "amount": "1.00",
        "date": "01/11/2022",
        "memo": "Forged",
        "reference": "PAY-20221101-AAAAAAAA",
    },
    "money.money_return": {
        "allocation": "WFWF-22-02",
        "amount": "1.00",
        "date": "01/11/2022",
        "memo": "Forged",
        "reference": "RET-20221101-AAAAAAAA",
    },
    "money.close": {"reason": "Forged"},
    "approvals.approve_allocation": {},
    "approvals.reject_allocation": {"note": "Forged"},
    "approvals.approve_request": {},
    "approvals.reject_request": {"note": "Forged"},
    "statements.reconciliation": {"file": _csv("date,reference,amount,description\n")},
    "imports.upload": {"file": _csv(IMPORT_CSV), "approved_by": "Forged committee"},
    "imports.confirm": {"token": "A" * 32},
    "imports.cancel": {"token": "A" * 32},
    "entries.acknowledge": {"kind": "allocation", "item": "WFWF-22-03"},
    "organisations.edit": {"charity_numbers": "SC012345", "reason": "Forged"},
    "auth.change_password": {
        "current_password": PASSWORD,
        "password": "harbour kettle meadow",
        "confirm": "harbour kettle meadow",
    },
    "people.add": {"username": "forged", "role": "viewer"},
    "people.person": {"role": "finance", "display_name": "Forged"},
    "people.reset_password": {},
    "people.deactivate": {},
    "people.reactivate": {},
    "overtime.schedule": {"frequency": "quarterly", "first_due": "01/10/2023", "count": "4"},
    "overtime.sign": {"signoff-as_at": "08/02/2024"},
    "overtime.rebalance": {"rebalance-instalment": "1", "rebalance-reason": "Forged"},
    "overtime.requirement_received": {"received-received_on": "10/01/2024"},
    "overtime.requirement_due_date": {"move-due_date": "31/01/2024", "move-reason": "Forged"},
    "overtime.requirement_waiver": {"waiver-reason": "Forged"},
    "overtime.second_approve": {},
    "overtime.second_decline": {},
    "overtime.phasing": {"parts": "2022-23 = 337,000"},
}


def _url(app: Flask, endpoint: str, arguments: set[str], args: dict[str, Any]) -> str:
    missing = arguments - set(args)
    assert not missing, f"{endpoint}: no sample value for {sorted(missing)}"
    adapter = app.url_map.bind("localhost")
    return adapter.build(endpoint, {name: args[name] for name in arguments})


def _post_routes(app: Flask, args: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (rule.endpoint, _url(app, rule.endpoint, set(rule.arguments), args))
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set())
    )


def _data(endpoint: str, keys: dict[str, str]) -> dict[str, Any]:
    assert endpoint in POST_DATA, f"POST {endpoint} is new: add what it takes to POST_DATA"
    return {
        name: value() if callable(value) else value.format(**keys)
        for name, value in POST_DATA[endpoint].items()
    }


def _keys(app: Flask) -> dict[str, str]:
    return {
        "pot_id": str(pot_id(app, WFWF_POT)),
        "promise": str(pot_id(app, "Promise Partnership 2021-22")),
        "ctsi": str(pot_id(app, CTSI_POT)),
    }


# --- CSRF --------------------------------------------------------------------------------------


def test_every_post_route_refuses_a_request_without_its_csrf_token(
    database_url: str, tmp_path: Path
) -> None:
    app, args = _app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    keys = _keys(app)
    routes = _post_routes(app, args)
    assert {endpoint for endpoint, _ in routes} == set(POST_DATA)  # nothing new, nothing stale
    client = app.test_client()
    fast_sign_in(app, client, "admin")
    before = _dump(app)

    wrong = []
    for endpoint, url in routes:
        response = client.post(url, data=_data(endpoint, keys))
        if response.status_code != 400 or CSRF_REFUSED not in text_of(response):
            wrong.append(f"POST {url} ({endpoint}) without a token: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert _dump(app) == before

    # The control: with the session's token the same requests get past the check (so the 400s
    # above were the missing token's doing). Signing in and out would end the session: skipped.
    token = _token(client)
    for endpoint, url in routes:
        if endpoint.startswith("auth."):
            continue
        response = client.post(url, data={**_data(endpoint, keys), "csrf_token": token})
        assert response.status_code != 400, f"POST {url} with its token: {text_of(response)}"
    assert _dump(app) != before


def test_a_csrf_token_from_another_session_is_refused(database_url: str, tmp_path: Path) -> None:
    app, _ = _app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    keys = _keys(app)
    other = app.test_client()
    fast_sign_in(app, other, "officer")
    stolen = _token(other, "/allocations/new")
    client = app.test_client()
    fast_sign_in(app, client, "officer")
    before = _dump(app)

    forged = {**_data("money.allocation", keys), "csrf_token": stolen}
    response = client.post("/allocations/new", data=forged)

    assert response.status_code == 400 and CSRF_REFUSED in text_of(response)
    assert _dump(app) == before


# --- The session -------------------------------------------------------------------------------


def _cookie_attributes(response: TestResponse, name: str = COOKIE) -> dict[str, str]:
    """The attributes of the Set-Cookie header for ``name`` (names in lower case)."""
    for header in response.headers.getlist("Set-Cookie"):
        first, *rest = (part.strip() for part in header.split(";"))
        if first.startswith(f"{name}="):
            pairs = (part.partition("=") for part in rest)
            return {key.lower(): value for key, _, value in pairs}
    raise AssertionError(f"no {name} cookie in {response.headers.getlist('Set-Cookie')}")


def test_the_production_session_cookie_is_secure_httponly_and_samesite(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``create_app()`` as gunicorn calls it, configured only by the environment."""
    monkeypatch.setenv("COMMONPURSE_DATABASE_URL", database_url)
    monkeypatch.setenv("COMMONPURSE_SECRET_KEY", "production secret " * 4)
    for name in ("COMMONPURSE_ENV", "COMMONPURSE_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    assert not app.testing and not app.debug
    run(app, load_demo)
    add_people(app)
    client = app.test_client()
    https = {"base_url": "https://commonpurse.example"}

    page = client.get("/login", **https)  # the form's token lives in the session already
    token = _CSRF_TOKEN.search(text_of(page))
    assert token is not None
    signed_in = client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token.group(1)},
        # Over https Flask-WTF also wants the request to come from this site; a browser says so
        # under the app's Referrer-Policy: same-origin.
        headers={"Referer": "https://commonpurse.example/login"},
        **https,
    )
    assert signed_in.status_code == 302, text_of(signed_in)

    for response in (page, signed_in):
        attributes = _cookie_attributes(response)
        assert "secure" in attributes and "httponly" in attributes, attributes
        assert attributes["samesite"] == "Lax"
        assert attributes["path"] == "/"
        assert "domain" not in attributes  # this host only
    assert "expires" in _cookie_attributes(signed_in)  # 8 hours, then sign in again


def test_signing_in_issues_a_new_session_and_the_old_one_is_no_use(database_url: str) -> None:
    app = demo_app(database_url, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = _token(client, "/login")
    before = client.get_cookie(COOKIE)
    assert before is not None

    response = client.post(
        "/login", data={"username": "officer", "password": PASSWORD, "csrf_token": token}
    )

    assert response.status_code == 302
    after = client.get_cookie(COOKIE)
    assert after is not None and after.value != before.value
    assert client.get("/").status_code == 200
    # Whoever held the cookie from before sign-in is still not signed in...
    planted = app.test_client()
    planted.set_cookie(COOKIE, before.value)
    refused = planted.get("/")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
    # ...and the form token of that session does not work in the new one.
    keys = _keys(app)
    forged = {**_data("money.allocation", keys), "csrf_token": token}
    assert client.post("/allocations/new", data=forged).status_code == 400


def test_a_signed_out_sessions_cookie_signs_nobody_in(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    sign_in(client, "officer")
    copied = client.get_cookie(COOKIE)
    assert copied is not None
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302

    replayed = app.test_client()
    replayed.set_cookie(COOKIE, copied.value)
    assert replayed.get("/").status_code == 302


# --- Security headers --------------------------------------------------------------------------


def _directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        if name:
            out[name.lower()] = values
    return out


def assert_security_headers(response: TestResponse, where: str) -> None:
    headers = response.headers
    policy = _directives(headers.get("Content-Security-Policy", ""))
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts, f"{where}: no script-src or default-src in the CSP"
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, where
    assert "*" not in scripts and "data:" not in scripts, where
    assert policy.get("frame-ancestors") == ["'none'"], where
    assert policy.get("object-src", policy.get("default-src")) in (["'self'"], ["'none'"]), where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin"), where
    assert headers.get("X-Frame-Options") == "DENY", where
    if response.mimetype == "text/html":
        assert "no-store" in headers.get("Cache-Control", ""), where


def test_every_page_and_every_error_carries_the_security_headers(
    database_url: str, tmp_path: Path
) -> None:
    app, args = _app(database_url, tmp_path, WTF_CSRF_ENABLED=True, PROPAGATE_EXCEPTIONS=False)

    def fails() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/test-only/fails", "test_only_fails", fails)
    admin = app.test_client()
    fast_sign_in(app, admin, "admin")
    before = _dump(app)

    pages = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        url = _url(app, rule.endpoint, set(rule.arguments), args)
        response = admin.get(url)
        if rule.endpoint == "test_only_fails":
            assert response.status_code == 500
            assert "Traceback" not in text_of(response) and "a bug" not in text_of(response)
        else:
            assert response.status_code in (200, 302), f"GET {url}: {response.status_code}"
        assert_security_headers(response, f"GET {url} ({response.status_code})")
        pages += 1
    assert pages >= 15
    assert _dump(app) == before  # and no GET wrote anything

    viewer = app.test_client()
    fast_sign_in(app, viewer, "viewer")
    errors = {
        "signed out": app.test_client().get("/"),
        "400 (no CSRF token)": admin.post("/allocations/new", data={}),
        "403": viewer.get("/awards/new"),
        "404": admin.get("/pots/999999"),
        "405": admin.get("/logout"),
        "413": admin.post(
            "/imports",
            data={
                "csrf_token": _token(admin),
                "file": (io.BytesIO(b"x" * (6 * 1024 * 1024)), "big.csv"),
            },
        ),
    }
    for name, response in errors.items():
        if name != "signed out":
            assert response.status_code == int(name[:3]), (name, response.status_code)
        assert_security_headers(response, name)


# --- Passwords ---------------------------------------------------------------------------------

KNOWN = "Known-passphrase-7c1e9d"
WRONG = "Wrong-passphrase-4b2f8a"


def test_passwords_never_reach_the_logs_or_the_database(
    database_url: str,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the database's statements included
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    app = demo_app(database_url)  # its engine is made after the levels are set
    run(app, lambda s: users.set_password(s, username="viewer", password=KNOWN, changed_by="t"))

    signed_in = app.test_client().post("/login", data={"username": "viewer", "password": KNOWN})
    wrong = app.test_client().post("/login", data={"username": "viewer", "password": WRONG})
    unknown = app.test_client().post("/login", data={"username": "nobody", "password": WRONG})
    monkeypatch.setattr("sys.stdin", io.StringIO(KNOWN + "\n"))
    added = cli.main(
        ["--db", database_url, "user", "add", "newcomer", "--role", "viewer", "--password-stdin"],
        out=io.StringIO(),
    )

    assert (signed_in.status_code, wrong.status_code, unknown.status_code, added) == (
        302,
        422,
        422,
        0,
    )
    logged = caplog.text
    assert "viewer" in logged and "newcomer" in logged  # the capture sees statement parameters
    printed = capsys.readouterr()
    tables = table_dump(engine)
    assert any("newcomer" in row for row in tables["audit_events"])  # adding a user is audited
    stored = repr(tables)
    for password in (KNOWN, WRONG):
        assert password not in logged
        assert password not in printed.out and password not in printed.err
        assert password not in stored
        for response in (signed_in, wrong, unknown):
            assert password not in text_of(response)


# --- Open redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "///evil.example/",
        "/\t/evil.example/",
        " //evil.example/",
        "https:evil.example",
        "HTTPS://evil.example",
        "//evil.example@commonpurse.example/",
        "javascript://%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/\x00//evil.example",
    ],
)
def test_no_other_spelling_of_another_site_is_followed_after_sign_in(
    database_url: str, target: str
) -> None:
    """More spellings than tests/test_web_auth.py tries, on the form and when already signed
    in (``GET /login?next=`` redirects at once)."""
    app = demo_app(database_url)
    client = app.test_client()
    response = client.post(
        "/login", query_string={"next": target}, data={"username": "viewer", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"
    again = client.get("/login", query_string={"next": target})
    assert again.headers["Location"] == "/"
