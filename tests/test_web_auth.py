"""Signing in and out, the session cookie, throttling, CSRF, security headers and the app's
configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.models import User
from ledger.users import set_password
from tests.web_helpers import (
    PASSWORD,
    counts,
    demo_app,
    fast_sign_in,
    make_app,
    run,
    sign_in,
    text_of,
)
from web import ConfigError, create_app
from web.security import CONTENT_SECURITY_POLICY

REFUSED = "The username or password is not right"


def test_signing_in_and_out(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    assert client.get("/").headers["Location"] == "/login?next=/"
    page = client.get("/login")
    assert page.status_code == 200
    assert '<label class="ds_label" for="username">Username</label>' in text_of(page)
    sign_in(client, "officer")
    home = client.get("/")
    assert home.status_code == 200
    assert "Signed in as <strong>Officer</strong> (Commissioning officer)" in text_of(home)
    assert client.post("/logout").headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    wrong = client.post("/login", data={"username": "officer", "password": "not it at all"})
    unknown = client.post("/login", data={"username": "nobody", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 422
    assert REFUSED in text_of(wrong) and REFUSED in text_of(unknown)
    assert 'href="#username"' in text_of(wrong)  # the error summary links to the field
    assert "not it at all" not in text_of(wrong)  # the password is never echoed back


def test_five_failures_lock_the_account_for_fifteen_minutes(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    for _ in range(5):
        client.post("/login", data={"username": "finance", "password": "guess guess guess"})
    locked = client.post("/login", data={"username": "finance", "password": PASSWORD})
    assert locked.status_code == 422
    assert REFUSED in text_of(locked)  # the same words: no hint that the account exists
    user = run(app, lambda s: s.scalars(select(User).where(User.username == "finance")).one())
    assert user.locked_until is not None
    # An administrator's new password unlocks it (ledger.users.set_password).
    run(app, lambda s: set_password(s, username="finance", password=PASSWORD, changed_by="admin"))
    sign_in(client, "finance")


def test_signing_in_starts_a_fresh_session(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    sign_in(client, "viewer")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert isinstance(session["user_id"], int)


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_after_sign_in_only_paths_on_this_site_are_followed(database_url: str, target: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    response = client.post(
        "/login", query_string={"next": target}, data={"username": "viewer", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_after_sign_in_the_page_asked_for_is_shown(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    response = client.post(
        "/login",
        query_string={"next": "/audit?actor=officer"},
        data={"username": "viewer", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/audit?actor=officer"


def test_the_session_cookie_is_secure_httponly_and_samesite(database_url: str) -> None:
    app = demo_app(database_url, SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("commonpurse_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in cookie


def test_changing_a_password_signs_out_other_sessions(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    sign_in(client, "officer")
    run(
        app,
        lambda s: set_password(
            s, username="officer", password="another long passphrase", changed_by="admin"
        ),
    )
    assert client.get("/").status_code == 302


def test_a_post_without_its_csrf_token_is_refused_and_writes_nothing(database_url: str) -> None:
    app = demo_app(database_url, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    # Signing in needs the token too.
    assert (
        client.post("/login", data={"username": "officer", "password": PASSWORD}).status_code == 400
    )
    fast_sign_in(app, client, "officer")
    before = counts(app)
    form = {
        "pot": "1",
        "recipient": "Aberlour",
        "amount": "10.00",
        "date": "01/10/2022",
        "purpose": "Forged",
        "reference": "ALC-20221001-FFFFFFFF",
    }
    refused = client.post("/allocations/new", data=form)
    assert refused.status_code == 400
    assert "nothing was recorded" in text_of(refused)
    assert client.post("/logout").status_code == 400
    assert counts(app) == before

    # With the token from the rendered form the same request goes through.
    page = text_of(client.get("/allocations/new"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    form["csrf_token"] = token.group(1)
    form["pot"] = re.findall(r'<option value="(\d+)">Promise', page)[0]
    assert client.post("/allocations/new", data=form).status_code == 302
    assert counts(app).allocations == before.allocations + 1


def test_every_response_carries_the_security_headers(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    for response in (client.get("/login"), client.get("/nowhere"), client.get("/")):
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_no_page_has_inline_scripts_or_styles(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "admin")
    for path in ("/", "/pots/1", "/pots/1/statement", "/allocations/new", "/approvals", "/audit"):
        page = text_of(client.get(path))
        assert "<style" not in page, path
        assert " style=" not in page, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert " on" + "click=" not in page, path


def test_error_pages_are_in_the_design_systems_style(database_url: str) -> None:
    app = demo_app(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "viewer")
    missing = client.get("/pots/999")
    assert missing.status_code == 404
    assert '<h1 class="ds_page-header__title">Page not found</h1>' in text_of(missing)
    forbidden = client.get("/awards/new")
    assert forbidden.status_code == 403
    assert "You do not have access to this page" in text_of(forbidden)


def test_the_app_refuses_to_start_in_production_without_a_secret_key(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMMONPURSE_SECRET_KEY", raising=False)
    monkeypatch.delenv("COMMONPURSE_ENV", raising=False)
    monkeypatch.setenv("COMMONPURSE_DATABASE_URL", database_url)
    with pytest.raises(ConfigError, match="COMMONPURSE_SECRET_KEY is not set"):
        create_app()
    monkeypatch.setenv("COMMONPURSE_SECRET_KEY", "too short")
    with pytest.raises(ConfigError):
        create_app()
    monkeypatch.setenv("COMMONPURSE_SECRET_KEY", "k" * 64)
    app = create_app()
    assert app.config["DATABASE_URL"] == database_url
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_development_mode_still_needs_a_key_but_any_key_will_do(database_url: str) -> None:
    with pytest.raises(ConfigError):
        make_app(database_url, SECRET_KEY=None, TESTING=False, COMMONPURSE_ENV="development")
    make_app(database_url, SECRET_KEY="dev", TESTING=False, COMMONPURSE_ENV="development")


def test_the_app_refuses_a_database_without_the_ledgers_schema(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no schema yet: run 'commonpurse --db URL init'"):
        make_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
