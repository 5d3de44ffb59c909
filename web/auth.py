# mypy: disallow-subclassing-any=False
"""Signing in and out.

Passwords are checked with ``ledger.users.verify_password`` (Argon2id; a hash from an earlier
version is renewed at the first sign-in that proves the password). After five failures in a
row an account is locked for 15 minutes (``User.failed_logins``, ``User.locked_until``). Every
refusal says the same thing, whether or not the username exists, and costs the same hashing work.
At sign-in the session is cleared and started afresh (no session fixation); ``next`` is followed
only when it is a path on this site. Passwords are never logged or echoed back.

Someone signed in with a one-time password (``User.must_change_password``) is sent to
``/account/password`` from every page until they have chosen their own. Everyone can change
their own password there, giving the current one.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField  # type: ignore[import-untyped, unused-ignore]
from wtforms.validators import InputRequired, Length  # type: ignore[import-untyped, unused-ignore]

from ledger.errors import LedgerError
from ledger.models import User, utcnow
from ledger.users import change_own_password, hash_password, upgrade_hash, verify_password
from web import db
from web.forms import ChangePasswordForm, attach_ledger_error
from web.permissions import CurrentUser, current_user, requires, signed_in_user

bp = Blueprint("auth", __name__)

MAX_FAILED_LOGINS = 5
LOCK_FOR = dt.timedelta(minutes=15)
SIGN_IN_REFUSED = (
    "The username or password is not right. After 5 failed attempts in a row an account is"
    " locked for 15 minutes."
)


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[InputRequired("Enter your username"), Length(max=100)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password"), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )


# Pages someone holding a one-time password may still open: this one, signing out, the styles.
OPEN_TO_ONE_TIME = frozenset({"auth.change_password", "auth.logout", "static"})


def init_app(app: Flask) -> None:
    app.before_request(load_user)
    app.before_request(_one_time_password_first)


def _one_time_password_first() -> Response | None:
    user = current_user()
    if user is None or not user.must_change_password or request.endpoint in OPEN_TO_ONE_TIME:
        return None
    return redirect(url_for("auth.change_password"))


def load_user() -> None:
    """Put the signed-in person (if any) in ``g.user`` as plain values."""
    g.user = None
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return
    with db.ledger().reader() as reader:
        user = reader.get(User, user_id)
        if user is None or not user.active or session.get("pw") != session_fingerprint(user):
            session.clear()
            return
        g.user = snapshot(user)


def _end_sessions(s: Session, user_id: int) -> None:
    user = s.get(User, user_id)
    if user is not None:
        user.session_generation += 1


def snapshot(user: User) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name or user.username,
        role=user.role,
        organisation_id=user.organisation_id,
        organisation_name=user.organisation.name if user.organisation else None,
        must_change_password=user.must_change_password,
    )


def session_fingerprint(user: User) -> str:
    """Changes when the password does, so changing it signs out every other session, and when
    the person signs out (their session generation moves on), so signing out ends them all."""
    return f"{user.password_hash[-16:]}:{user.session_generation}"


@cache
def _decoy_hash() -> str:
    return hash_password("not a real password, only for even timing")


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def attempt_sign_in(
    reader: Session, username: str, password: str
) -> tuple[CurrentUser, str] | None:
    """Check the password and keep count of failures; None when refused (for any reason)."""
    # A name with NUL in it cannot be anyone's (PostgreSQL would refuse even to look it up).
    user = (
        None
        if "\x00" in username
        else reader.scalars(select(User).where(User.username == username)).one_or_none()
    )
    now = utcnow()
    if user is None or not user.active:
        verify_password(password, _decoy_hash())
        return None
    if user.locked_until is not None and _as_utc(user.locked_until) > now:
        verify_password(password, _decoy_hash())
        return None
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins = 0
            user.locked_until = now + LOCK_FOR
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    upgrade_hash(user, password)  # before the fingerprint, which the hash is part of
    reader.flush()
    return snapshot(user), session_fingerprint(user)


def safe_next(target: str | None) -> str:
    """Only a path on this site; anything else (another host, a scheme, ``//``) goes home."""
    if not target:
        return url_for("pots.dashboard")
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return url_for("pots.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user() is not None and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        username = (form.username.data or "").strip()
        password = form.password.data or ""
        result = db.write(lambda s: attempt_sign_in(s, username, password))
        if result is not None:
            user, fingerprint = result
            session.clear()
            session.permanent = True
            session["user_id"] = user.id
            session["pw"] = fingerprint
            return redirect(safe_next(request.args.get("next")))
        form.form_errors.append(SIGN_IN_REFUSED)
    form.password.data = ""
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out everywhere: the person's session generation moves on, so any copy of this
    session cookie (another tab, another device, a stolen copy) stops signing anyone in."""
    user = current_user()
    if user is not None:
        db.write(lambda s: _end_sessions(s, user.id))
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("change_own_password")
def change_password() -> ResponseReturnValue:
    """Change your own password; this session stays signed in, every other one ends."""
    user = signed_in_user()
    form = ChangePasswordForm()
    form.username = user.username
    if form.validate_on_submit():
        try:
            fingerprint = db.write(lambda s: _change(s, user.username, form))
        except LedgerError as error:
            attach_ledger_error(form, error)
        else:
            session["pw"] = fingerprint
            flash("Your password has been changed. Other sessions of yours have ended.", "success")
            return redirect(url_for("pots.dashboard"))
    for field in (form.current_password, form.password, form.confirm):
        field.data = ""
    status = 422 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status


def _change(s: Session, username: str, form: ChangePasswordForm) -> str:
    change_own_password(
        s,
        username=username,
        current_password=form.current_password.data or "",
        new_password=form.password.data or "",
    )
    user = s.scalars(select(User).where(User.username == username)).one()
    return session_fingerprint(user)
