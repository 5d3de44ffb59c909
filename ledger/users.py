"""People who use the web app: accounts, roles and password hashing.

Passwords are hashed with scrypt (``hashlib.scrypt``, memory-hard, in the standard library) with
a random 16-byte salt per password; the stored form names its parameters so they can be raised
later without invalidating old hashes: ``scrypt$n$r$p$salt_hex$hash_hex``. Verification compares
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput, NotFound
from ledger.models import USER_ROLES, AuditEvent, User
from ledger.operations import find_organisation

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSWORD_CHARS = 12


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=32
    )


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(
            f"A password needs at least {MIN_PASSWORD_CHARS} characters", field="password"
        )


def find_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise NotFound("user", username, "username")
    return user


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    added_by: str,
    organisation: str | None = None,
    display_name: str = "",
) -> User:
    username = username.strip()
    if not username:
        raise InvalidInput("A user needs a username", field="username")
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise InvalidInput(f"There is already a user called '{username}'", field="username")
    _check_role(role, organisation)
    check_password_strength(password)
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        organisation=find_organisation(session, organisation, "organisation")
        if organisation
        else None,
    )
    session.add(user)
    session.add(
        AuditEvent(
            actor=added_by, action="user_add", subject=f"user {username}", detail=f"role {role}"
        )
    )
    session.flush()
    return user


def set_role(
    session: Session,
    *,
    username: str,
    role: str,
    changed_by: str,
    organisation: str | None = None,
) -> User:
    user = find_user(session, username)
    _check_role(role, organisation)
    user.role = role
    user.organisation = (
        find_organisation(session, organisation, "organisation") if organisation else None
    )
    session.add(
        AuditEvent(
            actor=changed_by,
            action="user_role",
            subject=f"user {username}",
            detail=f"role {role}" + (f" for {organisation}" if organisation else ""),
        )
    )
    session.flush()
    return user


def set_password(session: Session, *, username: str, password: str, changed_by: str) -> None:
    user = find_user(session, username)
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(AuditEvent(actor=changed_by, action="user_password", subject=f"user {username}"))
    session.flush()


def _check_role(role: str, organisation: str | None) -> None:
    if role not in USER_ROLES:
        raise InvalidInput(
            f"'{role}' is not a role; use one of {', '.join(USER_ROLES)}", field="role"
        )
    if role == "intermediary" and not organisation:
        raise InvalidInput(
            "An intermediary administrator belongs to an organisation (--organisation)",
            field="organisation",
        )
