"""People who use the web app: accounts, roles, passwords, and the audit of every change.

Passwords are hashed with Argon2id (argon2-cffi, its RFC 9106 low-memory profile: 64 MiB, three
passes, a random salt per password); the stored string names its parameters, so raising them
later leaves old hashes valid and ``needs_rehash`` says which to renew. Hashes from earlier
versions of commonpurse (``scrypt$n$r$p$salt_hex$hash_hex``) still verify, in constant time, and
are replaced with Argon2id at the person's next successful sign-in.

What a new password must be is ``ledger.passwords.check_new_password``; the web app and
``commonpurse user`` both come through here. A person is never deleted (the journal names them):
they are deactivated, which ends their sessions at once. Every change is an ``AuditEvent`` naming
who acted and on whom; no password or hash is ever written to it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput, NotFound
from ledger.models import USER_ROLES, AuditEvent, User
from ledger.operations import find_organisation
from ledger.passwords import check_new_password

LEGACY_SCRYPT = "scrypt$"
# Letters and digits that cannot be mistaken for one another when read out or copied by hand.
ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
ONE_TIME_GROUPS = 4
ONE_TIME_GROUP_CHARS = 4


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith(LEGACY_SCRYPT):
        return _verify_scrypt(password, stored)
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a legacy scrypt hash or an Argon2 hash made with weaker parameters."""
    if stored.startswith(LEGACY_SCRYPT):
        return True
    try:
        return _hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2**26,
            dklen=32,
        )
        expected = bytes.fromhex(digest_hex)
    except ValueError:  # a damaged hash matches no password
        return False
    return hmac.compare_digest(digest, expected)


def one_time_password() -> str:
    """A random password to hand over once, e.g. ``k7qm-3xtp-9hfa-wz2c`` (about 79 bits)."""
    return "-".join(
        "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(ONE_TIME_GROUP_CHARS))
        for _ in range(ONE_TIME_GROUPS)
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
    one_time: bool = False,
) -> User:
    """Add a person. With ``one_time`` they must choose their own password at first sign-in."""
    username = username.strip()
    if not username:
        raise InvalidInput("A user needs a username", field="username")
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise InvalidInput(f"There is already a user called '{username}'", field="username")
    _check_role(role, organisation)
    check_new_password(password, username)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=hash_password(password),
        role=role,
        organisation=find_organisation(session, organisation, "organisation")
        if organisation
        else None,
        must_change_password=one_time,
    )
    session.add(user)
    session.add(
        AuditEvent(
            actor=added_by,
            action="user_add",
            subject=f"user {username}",
            detail=f"role {role}"
            + (f" for {organisation}" if organisation else "")
            + ("; one-time password given" if one_time else ""),
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
    if user.role == "admin" and role != "admin":
        _keep_an_admin(session, user, "change the role of")
    found = find_organisation(session, organisation, "organisation") if organisation else None
    user.role = role
    user.organisation = found
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


def set_password(
    session: Session,
    *,
    username: str,
    password: str,
    changed_by: str,
    one_time: bool = False,
) -> None:
    """An administrator sets a person's password (and so unlocks the account). With
    ``one_time`` the person must choose their own at next sign-in. Every session of theirs
    ends, because the session is tied to the password hash."""
    user = find_user(session, username)
    check_new_password(password, username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.must_change_password = one_time
    session.add(
        AuditEvent(
            actor=changed_by,
            action="user_password",
            subject=f"user {username}",
            detail="one-time password given" if one_time else "password set",
        )
    )
    session.flush()


def reset_password(session: Session, *, username: str, changed_by: str) -> str:
    """Give a person a new one-time password; it is returned to be shown once, never stored."""
    password = one_time_password()
    set_password(
        session, username=username, password=password, changed_by=changed_by, one_time=True
    )
    return password


def change_own_password(
    session: Session, *, username: str, current_password: str, new_password: str
) -> None:
    """A person changes their own password: the current one is required, the new one must
    differ from it and pass the rules."""
    user = find_user(session, username)
    if not verify_password(current_password, user.password_hash):
        raise InvalidInput("Your current password is not right", field="current_password")
    if new_password == current_password:
        raise InvalidInput(
            "Choose a new password that is different from the current one", field="password"
        )
    check_new_password(new_password, username)
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    session.add(
        AuditEvent(
            actor=username,
            action="user_password_own",
            subject=f"user {username}",
            detail="changed their own password",
        )
    )
    session.flush()


def upgrade_hash(user: User, password: str) -> bool:
    """After a successful sign-in: renew a legacy or weaker hash. True when it was renewed."""
    if not needs_rehash(user.password_hash):
        return False
    user.password_hash = hash_password(password)
    return True


def set_display_name(
    session: Session, *, username: str, display_name: str, changed_by: str
) -> None:
    user = find_user(session, username)
    name = display_name.strip() or username
    if name == user.display_name:
        return
    user.display_name = name
    session.add(
        AuditEvent(
            actor=changed_by,
            action="user_name",
            subject=f"user {username}",
            detail=f"shown as {name}",
        )
    )
    session.flush()


def set_active(session: Session, *, username: str, active: bool, changed_by: str) -> User:
    """Deactivate (every session ends at once; the journal keeps the name) or reactivate."""
    user = find_user(session, username)
    if user.active == active:
        return user
    if not active:
        if username == changed_by:
            raise InvalidInput("You cannot deactivate your own account", field="username")
        if user.role == "admin":
            _keep_an_admin(session, user, "deactivate")
        user.session_generation += 1
    user.active = active
    session.add(
        AuditEvent(
            actor=changed_by,
            action="user_activate" if active else "user_deactivate",
            subject=f"user {username}",
            detail="can sign in again" if active else "can no longer sign in",
        )
    )
    session.flush()
    return user


def _keep_an_admin(session: Session, user: User, doing: str) -> None:
    others = session.scalar(
        select(func.count(User.id)).where(
            User.role == "admin", User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise InvalidInput(
            f"Cannot {doing} {user.username}: they are the only active administrator",
            field="role",
        )


def _check_role(role: str, organisation: str | None) -> None:
    if role not in USER_ROLES:
        raise InvalidInput(
            f"'{role}' is not a role; use one of {', '.join(USER_ROLES)}", field="role"
        )
    if role == "intermediary" and not organisation:
        raise InvalidInput(
            "An intermediary administrator belongs to an organisation: name it",
            field="organisation",
        )
