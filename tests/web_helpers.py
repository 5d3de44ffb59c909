"""Shared set-up for the web tests: an app over a fresh ledger, people in every role, signing
in, and reading the hidden idempotency reference out of a rendered form."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import db, users
from ledger import operations as ops
from ledger.demo import APPENDIX_2, CTSI, SCOTTISH_GOVERNMENT, WFWF_POT, load_demo
from ledger.models import Allocation, Entry, Pot, Request, User
from web import create_app
from web.auth import session_fingerprint
from web.db import ledger

T = TypeVar("T")
PASSWORD = "correct horse battery staple"

# username -> (role, organisation)
PEOPLE: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", None),
    "officer": ("officer", None),
    "finance": ("finance", None),
    "ctsi": ("intermediary", CTSI),
    "viewer": ("viewer", None),
}
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


def make_app(database_url: str, **config: Any) -> Flask:
    settings: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test secret key that is only for the tests",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
    }
    settings.update(config)
    return create_app(settings)


def run(app: Flask, operation: Callable[[Session], T]) -> T:
    """One ledger operation in its own transaction, outside any request."""
    with app.app_context():
        return db.run_in_transaction(ledger().factory, operation)


@cache
def _password_hash() -> str:
    return users.hash_password(PASSWORD)  # scrypt once per test session, not per user


def add_people(app: Flask) -> None:
    def add(session: Session) -> None:
        for username, (role, organisation) in PEOPLE.items():
            session.add(
                User(
                    username=username,
                    display_name=username.capitalize(),
                    password_hash=_password_hash(),
                    role=role,
                    organisation=ops.find_organisation(session, organisation)
                    if organisation
                    else None,
                )
            )

    run(app, add)


def demo_app(database_url: str, **config: Any) -> Flask:
    """The Clackmannanshire demo and one person per role."""
    app = make_app(database_url, **config)
    run(app, load_demo)
    add_people(app)
    return app


def appendix_2_app(database_url: str) -> Flask:
    """Appendix 2 as printed, before CTSI's allocation: the £337,000 award and the four other
    allocations, confirmed, leaving £82,233.00 available in WFWF 2022-23."""
    app = make_app(database_url)

    def record(session: Session) -> None:
        ops.set_setting(session, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")
        ops.ensure_organisation(session, CTSI, ["intermediary"])
        ops.record_award(
            session,
            reference="WFWF-2022-23-AWARD",
            pot=WFWF_POT,
            funder=SCOTTISH_GOVERNMENT,
            amount_pence=33_700_000,
            award_date=dt.date(2022, 4, 1),
            entered_by="officer",
            memo="WFWF Year 1: Award £337,000",
            approved_by="finance",
        )
        for line in APPENDIX_2:
            ops.allocate(
                session,
                reference=line.reference,
                pot=WFWF_POT,
                recipient=line.recipient,
                amount_pence=line.amount_pence,
                date=dt.date(2022, 10, 1),
                entered_by="officer",
                approved_by="finance",
                purpose=line.purpose,
            )

    run(app, record)
    add_people(app)
    return app


def sign_in(client: FlaskClient, username: str) -> None:
    """Sign in through the form (so the whole log-in path runs)."""
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def fast_sign_in(app: Flask, client: FlaskClient, username: str) -> None:
    """Sign in by writing the session directly: for tests about something else."""

    def find(session: Session) -> tuple[int, str]:
        user = session.scalars(select(User).where(User.username == username)).one()
        return user.id, session_fingerprint(user)

    user_id, fingerprint = run(app, find)
    with client.session_transaction() as session:
        session["user_id"] = user_id
        session["pw"] = fingerprint


def signed_in(app: Flask, username: str) -> FlaskClient:
    """A test client already signed in as ``username`` (``fast_sign_in``)."""
    client = app.test_client()
    fast_sign_in(app, client, username)
    return client


def form_fields(client: FlaskClient, path: str, **fields: str) -> dict[str, str]:
    """What the browser would send: the rendered form's hidden reference and the fields."""
    page = client.get(path)
    assert page.status_code == 200, path
    return {"reference": hidden_reference(text_of(page)), **fields}


def hidden_reference(html: str) -> str:
    found = re.search(r'name="reference" type="hidden" value="([^"]+)"', html)
    assert found, "the form carries no hidden reference"
    return found.group(1)


def pot_id(app: Flask, name: str) -> int:
    return run(app, lambda s: s.scalars(select(Pot.id).where(Pot.name == name)).one())


@dataclass(frozen=True)
class Counts:
    entries: int
    allocations: int
    requests: int


def counts(app: Flask) -> Counts:
    def count(session: Session) -> Counts:
        return Counts(
            entries=session.scalar(select(func.count(Entry.id))) or 0,
            allocations=session.scalar(select(func.count(Allocation.id))) or 0,
            requests=session.scalar(select(func.count(Request.id))) or 0,
        )

    return run(app, count)


def text_of(response: Any) -> str:
    body: str = response.get_data(as_text=True)
    return body
