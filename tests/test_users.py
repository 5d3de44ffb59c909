"""People and roles for the web app: hashing, roles, and the CLI that adds the first admin."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ledger import users
from ledger.cli import main
from ledger.demo import CTSI, load_demo
from ledger.errors import InvalidInput

Run = Callable[[Callable[[Session], Any]], Any]


def test_passwords_are_hashed_with_scrypt_and_salted() -> None:
    first = users.hash_password("correct horse battery")
    second = users.hash_password("correct horse battery")
    assert first.startswith("scrypt$32768$8$1$")
    assert first != second  # a fresh salt each time
    assert users.verify_password("correct horse battery", first)
    assert not users.verify_password("correct horse batterz", first)
    assert not users.verify_password("anything", "not-a-hash")


def test_an_intermediary_administrator_belongs_to_an_organisation(run: Run) -> None:
    run(load_demo)
    with pytest.raises(InvalidInput, match="belongs to an organisation"):
        run(
            lambda s: users.add_user(
                s,
                username="ctsi.admin",
                password="a long passphrase",
                role="intermediary",
                added_by="admin",
            )
        )
    user = run(
        lambda s: users.add_user(
            s,
            username="ctsi.admin",
            password="a long passphrase",
            role="intermediary",
            organisation=CTSI,
            added_by="admin",
        )
    )
    assert user.organisation_id is not None


def test_short_passwords_and_unknown_roles_are_refused(run: Run) -> None:
    with pytest.raises(InvalidInput, match="at least 12 characters"):
        run(
            lambda s: users.add_user(
                s, username="bob", password="short", role="finance", added_by="admin"
            )
        )
    with pytest.raises(InvalidInput, match="'treasurer' is not a role"):
        run(
            lambda s: users.add_user(
                s, username="bob", password="a long passphrase", role="treasurer", added_by="admin"
            )
        )


def test_the_first_admin_is_added_from_the_command_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    out = io.StringIO()
    code = main(
        [
            "--db",
            database_url,
            "--user",
            "installer",
            "user",
            "add",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
        ],
        out=out,
    )
    assert code == 0
    assert out.getvalue() == "Added admin as admin.\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    assert (
        main(
            ["--db", database_url, "user", "add", "admin", "--role", "admin", "--password-stdin"],
            out=io.StringIO(),
        )
        == 1
    )
    assert capsys.readouterr().err == "commonpurse: There is already a user called 'admin'\n"
