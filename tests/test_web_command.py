"""``commonpurse serve``: the demo and the first users on first run, passwords printed once,
never a fixed default password."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ledger import db
from ledger.cli import main
from ledger.models import Pot, User
from ledger.users import verify_password


def _serve(database_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    started: dict[str, Any] = {}

    def fake_run(self: Flask, **kwargs: Any) -> None:
        started.update(kwargs, app=self)

    monkeypatch.setattr(Flask, "run", fake_run)
    out = io.StringIO()
    assert main(["--db", database_url, "serve", "--port", "5055"], out) == 0
    return out.getvalue(), started


def test_first_run_loads_the_demo_and_prints_random_passwords_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMMONPURSE_SECRET_KEY", raising=False)
    printed, started = _serve(database_url, monkeypatch)
    assert "loaded Clackmannanshire's demo figures" in printed
    assert "commonpurse is running at http://127.0.0.1:5055/" in printed
    assert started["host"] == "127.0.0.1" and started["port"] == 5055
    assert started["app"].config["SESSION_COOKIE_SECURE"] is False

    passwords = dict(
        re.findall(
            r"^  (admin|officer|finance|ctsi|viewer) +\S+(?: \(.*?\))? +(\S+)$", printed, re.M
        )
    )
    assert set(passwords) == {"admin", "officer", "finance", "ctsi", "viewer"}
    engine = db.make_engine(database_url)
    with db.session_factory(engine)() as session:
        assert session.scalars(select(Pot)).first() is not None
        for username, password in passwords.items():
            user = session.scalars(select(User).where(User.username == username)).one()
            assert verify_password(password, user.password_hash)
            assert len(password) >= 12
    engine.dispose()

    # The second run adds nothing and prints no password, only how to manage users.
    printed_again, _ = _serve(database_url, monkeypatch)
    assert "loaded" not in printed_again
    for password in passwords.values():
        assert password not in printed_again
    assert "commonpurse user add NAME --role ROLE" in printed_again


def test_two_first_runs_never_share_a_password(
    ledgers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = _serve(ledgers.new(), monkeypatch)
    second, _ = _serve(ledgers.new(), monkeypatch)
    pattern = r"^  admin +admin +(\S+)$"
    assert re.search(pattern, first, re.M).group(1) != re.search(pattern, second, re.M).group(1)  # type: ignore[union-attr]
