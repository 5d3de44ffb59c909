"""People and roles for the web app: hashing, roles, and the CLI that adds the first admin."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import users
from ledger.cli import main
from ledger.demo import CTSI, load_demo
from ledger.errors import InvalidInput
from ledger.models import AuditEvent, User
from ledger.passwords import check_new_password, common_passwords

Run = Callable[[Callable[[Session], Any]], Any]


def test_passwords_are_hashed_with_argon2id_and_salted() -> None:
    first = users.hash_password("correct horse battery")
    second = users.hash_password("correct horse battery")
    assert first.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert first != second  # a fresh salt each time
    assert users.verify_password("correct horse battery", first)
    assert not users.verify_password("correct horse batterz", first)
    assert not users.verify_password("anything", "not-a-hash")
    assert not users.needs_rehash(first)


def legacy_scrypt_hash(password: str) -> str:
    """A hash as commonpurse stored them before Argon2id: scrypt$n$r$p$salt_hex$hash_hex."""
    salt = bytes(range(16))
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**15, r=8, p=1, maxmem=2**26, dklen=32)
    return f"scrypt$32768$8$1${salt.hex()}${digest.hex()}"


def test_hashes_from_before_argon2_still_verify_and_are_marked_for_renewal() -> None:
    old = legacy_scrypt_hash("correct horse battery")
    assert users.verify_password("correct horse battery", old)
    assert not users.verify_password("correct horse batterz", old)
    assert not users.verify_password("correct horse battery", old[:-2] + "zz")  # not hex
    assert users.needs_rehash(old)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short pass", "at least 12 characters"),
        ("1qaz2wsx3edc", "most commonly used"),  # on the deny-list as it is
        ("Password123456", "most commonly used"),  # a common one with digits added
        ("!!iloveyou2024!!", "most commonly used"),  # ... or symbols, at either end
        ("monkeymonkey", "most commonly used"),  # a common one said twice
        ("xqjxqjxqjxqj", "a few characters repeated"),
        ("q9q9q9q9q9q9", "a few characters repeated"),
        ("m.stewart.2024", "cannot be your username"),
        ("M.STEWART", "at least 12 characters"),
        ("x" * 1001, "at most 1,000 characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        check_new_password(password, "m.stewart")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # long beats complex: no digit or capital needed
        "tablet lighthouse porridge",
        "k7qm-3xtp-9hfa-wz2c",
        "m.stewart's allotment",  # contains the username, but is not just the username
    ],
)
def test_long_uncommon_passwords_need_no_digits_capitals_or_symbols(password: str) -> None:
    check_new_password(password, "m.stewart")


def test_the_deny_list_is_a_few_thousand_lower_case_entries() -> None:
    common = common_passwords()
    assert 3_000 <= len(common) <= 5_000
    assert {"password", "123456", "qwertyuiop", "1q2w3e4r5t6y"} <= common
    assert all(entry == entry.lower() and entry.strip() == entry for entry in common)


def test_one_time_passwords_pass_the_rules_and_differ_each_time() -> None:
    made = {users.one_time_password() for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert len(password) == 19
        check_new_password(password, "m.stewart")


def test_an_intermediary_administrator_belongs_to_an_organisation(run: Run) -> None:
    run(load_demo)
    with pytest.raises(InvalidInput, match="belongs to an organisation"):
        run(
            lambda s: users.add_user(
                s,
                username="ctsi.admin",
                password="a long passphrase for tests",
                role="intermediary",
                added_by="admin",
            )
        )
    user = run(
        lambda s: users.add_user(
            s,
            username="ctsi.admin",
            password="a long passphrase for tests",
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
                s,
                username="bob",
                password="a long passphrase for tests",
                role="treasurer",
                added_by="admin",
            )
        )


def test_the_first_admin_is_added_from_the_command_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase for tests\n"))
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
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase for tests\n"))
    assert (
        main(
            ["--db", database_url, "user", "add", "admin", "--role", "admin", "--password-stdin"],
            out=io.StringIO(),
        )
        == 1
    )
    assert capsys.readouterr().err == "commonpurse: There is already a user called 'admin'\n"


def test_every_change_to_a_person_is_audited_without_any_password(run: Run) -> None:
    run(load_demo)
    run(
        lambda s: users.add_user(
            s,
            username="admin",
            password="the first admin's passphrase",
            role="admin",
            added_by="installer",
        )
    )
    run(
        lambda s: users.add_user(
            s,
            username="m.stewart",
            password="tablet lighthouse porridge",
            role="finance",
            display_name="Morag Stewart",
            added_by="admin",
            one_time=True,
        )
    )
    run(
        lambda s: users.set_role(
            s, username="m.stewart", role="intermediary", organisation=CTSI, changed_by="admin"
        )
    )
    given = run(lambda s: users.reset_password(s, username="m.stewart", changed_by="admin"))
    run(
        lambda s: users.change_own_password(
            s,
            username="m.stewart",
            current_password=given,
            new_password="harbour kettle meadow",
        )
    )
    run(lambda s: users.set_active(s, username="m.stewart", active=False, changed_by="admin"))

    def read(s: Session) -> tuple[list[tuple[str, str, str, str]], str, User]:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("user_")).order_by(AuditEvent.id)
        ).all()
        person = users.find_user(s, "m.stewart")
        return (
            [(e.actor, e.action, e.subject, e.detail) for e in events],
            person.password_hash,
            person,
        )

    events, password_hash, person = run(read)
    assert events[1:] == [
        ("admin", "user_add", "user m.stewart", "role finance; one-time password given"),
        ("admin", "user_role", "user m.stewart", f"role intermediary for {CTSI}"),
        ("admin", "user_password", "user m.stewart", "one-time password given"),
        ("m.stewart", "user_password_own", "user m.stewart", "changed their own password"),
        ("admin", "user_deactivate", "user m.stewart", "can no longer sign in"),
    ]
    secrets = ("tablet lighthouse porridge", given, "harbour kettle meadow", password_hash)
    assert not [e for e in events for secret in secrets if secret in " ".join(e)]
    assert not person.active and not person.must_change_password
    assert person.session_generation == 1  # deactivating ended every session


def test_changing_your_own_password_needs_the_current_one_and_a_new_one(run: Run) -> None:
    run(
        lambda s: users.add_user(
            s, username="viewer", password="tablet lighthouse porridge", role="viewer", added_by="a"
        )
    )
    with pytest.raises(InvalidInput, match="current password is not right"):
        run(
            lambda s: users.change_own_password(
                s, username="viewer", current_password="wrong", new_password="harbour kettle"
            )
        )
    with pytest.raises(InvalidInput, match="different from the current one"):
        run(
            lambda s: users.change_own_password(
                s,
                username="viewer",
                current_password="tablet lighthouse porridge",
                new_password="tablet lighthouse porridge",
            )
        )
    with pytest.raises(InvalidInput, match="cannot be your username"):
        run(
            lambda s: users.change_own_password(
                s,
                username="viewer",
                current_password="tablet lighthouse porridge",
                new_password="2024viewer!!2024",
            )
        )


def test_the_only_active_administrator_cannot_be_demoted_or_deactivated(run: Run) -> None:
    for name in ("admin", "deputy"):
        run(
            lambda s, name=name: users.add_user(
                s, username=name, password="tablet lighthouse porridge", role="admin", added_by="i"
            )
        )
    with pytest.raises(InvalidInput, match="your own account"):
        run(lambda s: users.set_active(s, username="admin", active=False, changed_by="admin"))
    run(lambda s: users.set_active(s, username="deputy", active=False, changed_by="admin"))
    with pytest.raises(InvalidInput, match="only active administrator"):
        run(lambda s: users.set_role(s, username="admin", role="viewer", changed_by="deputy"))
    with pytest.raises(InvalidInput, match="only active administrator"):
        run(lambda s: users.set_active(s, username="admin", active=False, changed_by="deputy"))


def test_the_command_line_applies_the_same_password_rules(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--db", database_url, "--user", "installer", "user"]
    monkeypatch.setattr("sys.stdin", io.StringIO("password123456\n"))
    add = [*base, "add", "m.stewart", "--role", "finance", "--password-stdin"]
    assert main(add, out=io.StringIO()) == 1
    assert "most commonly used passwords" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("tablet lighthouse porridge\n"))
    assert main(add, out=io.StringIO()) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("m.stewart-2024\n"))
    assert main([*base, "password", "m.stewart", "--password-stdin"], out=io.StringIO()) == 1
    assert capsys.readouterr().err == "commonpurse: A password cannot be your username\n"


def test_the_command_line_lists_deactivates_and_gives_one_time_passwords(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cli(*argv: str) -> str:
        out = io.StringIO()
        assert main(["--db", database_url, "--user", "admin", "user", *argv], out=out) == 0
        return out.getvalue()

    monkeypatch.setattr("sys.stdin", io.StringIO("tablet lighthouse porridge\n"))
    cli("add", "m.stewart", "--role", "finance", "--name", "Morag Stewart", "--password-stdin")
    given = cli("password", "m.stewart", "--one-time").splitlines()[-1]
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", given)
    assert cli("list").splitlines() == [
        "Username   Name           Role     Status",
        "m.stewart  Morag Stewart  finance  one-time password",
    ]
    assert cli("deactivate", "m.stewart") == (
        "m.stewart is deactivated: every session of theirs has ended.\n"
    )
    listed = json.loads(cli("list", "--json"))["users"]
    assert listed == [
        {
            "username": "m.stewart",
            "name": "Morag Stewart",
            "role": "finance",
            "organisation": None,
            "status": "deactivated",
            "last_signed_in": None,
        }
    ]
    assert cli("reactivate", "m.stewart") == "m.stewart can sign in again.\n"
    assert given not in " ".join(cli("list", "--json").split())
