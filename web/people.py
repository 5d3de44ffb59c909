"""People who sign in, for administrators: add a person, change what they may do, give a new
one-time password, deactivate or reactivate. Nobody is deleted: the journal names them.

A one-time password is made by ``ledger.users.one_time_password`` and shown once, in the page
that answers the administrator's POST (never in a flash message, which would travel in the
session cookie, and never stored). The person must choose their own at next sign-in
(``web.auth``). Every change is an audit event recorded by ``ledger.users``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import users
from ledger.errors import LedgerError
from ledger.models import USER_ROLES, Organisation, OrganisationRole, User
from web import db
from web.forms import PersonForm, PersonRoleForm, attach_ledger_error, with_choices
from web.permissions import INTERMEDIARY, ROLE_NAMES, requires, signed_in_user

bp = Blueprint("people", __name__, url_prefix="/people")
ROLE_CHOICE_TEXT = "Choose a role"


@dataclass(frozen=True)
class OneTime:
    """What the administrator sees once after adding a person or resetting a password."""

    username: str
    display_name: str
    password: str
    added: bool


@bp.route("")
@requires("manage_people")
def people() -> ResponseReturnValue:
    session = db.session()
    everyone = session.scalars(select(User).order_by(User.active.desc(), User.username)).all()
    return render_template("people/list.html", people=everyone, role_names=ROLE_NAMES)


@bp.route("/new", methods=["GET", "POST"])
@requires("manage_people")
def add() -> ResponseReturnValue:
    admin = signed_in_user()
    form = PersonForm()
    _choices(db.session(), form)
    if form.validate_on_submit():
        username = form.username.data or ""
        password = users.one_time_password()
        try:
            person = db.write(
                lambda s: users.add_user(
                    s,
                    username=username,
                    password=password,
                    role=form.role.data,
                    organisation=_organisation(form),
                    display_name=form.display_name.data or "",
                    added_by=admin.username,
                    one_time=True,
                )
            )
        except LedgerError as error:
            attach_ledger_error(form, error)
        else:
            shown = OneTime(person.username, person.display_name, password, added=True)
            return render_template("people/one_time.html", shown=shown)
    status = 422 if request.method == "POST" else 200
    return render_template("people/new.html", form=form), status


@bp.route("/<id:user_id>", methods=["GET", "POST"])
@requires("manage_people")
def person(user_id: int) -> ResponseReturnValue:
    admin = signed_in_user()
    session = db.session()
    found = _person_or_404(session, user_id)
    form = PersonRoleForm(
        data=None
        if request.method == "POST"
        else {
            "display_name": found.display_name if found.display_name != found.username else "",
            "role": found.role,
            "organisation": str(found.organisation_id or ""),
        }
    )
    _choices(session, form)
    username = found.username
    if form.validate_on_submit():
        try:
            db.write(lambda s: _change(s, username, form, admin.username))
        except LedgerError as error:
            attach_ledger_error(form, error)
        else:
            flash(f"Saved {username}'s role and name.", "success")
            return redirect(url_for("people.people"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "people/person.html", form=form, person=found, actions=FlaskForm()
    ), status


@bp.route("/<id:user_id>/password", methods=["POST"])
@requires("manage_people")
def reset_password(user_id: int) -> ResponseReturnValue:
    admin = signed_in_user()
    found = _person_or_404(db.session(), user_id)
    username, name = found.username, found.display_name
    password = db.write(
        lambda s: users.reset_password(s, username=username, changed_by=admin.username)
    )
    return render_template(
        "people/one_time.html", shown=OneTime(username, name, password, added=False)
    )


@bp.route("/<id:user_id>/deactivate", methods=["POST"])
@requires("manage_people")
def deactivate(user_id: int) -> ResponseReturnValue:
    return _set_active(user_id, active=False)


@bp.route("/<id:user_id>/reactivate", methods=["POST"])
@requires("manage_people")
def reactivate(user_id: int) -> ResponseReturnValue:
    return _set_active(user_id, active=True)


def _set_active(user_id: int, *, active: bool) -> ResponseReturnValue:
    admin = signed_in_user()
    username = _person_or_404(db.session(), user_id).username
    try:
        db.write(
            lambda s: users.set_active(
                s, username=username, active=active, changed_by=admin.username
            )
        )
    except LedgerError as error:
        flash(str(error), "error")
        return redirect(url_for("people.person", user_id=user_id))
    if active:
        flash(f"{username} can sign in again, with the password they had.", "success")
    else:
        flash(f"{username} is deactivated: their sessions have ended.", "success")
    return redirect(url_for("people.people"))


def _person_or_404(session: Session, user_id: int) -> User:
    found = session.get(User, user_id)
    if found is None:
        abort(404)
    return found


def _change(s: Session, username: str, form: PersonRoleForm, changed_by: str) -> None:
    person = users.find_user(s, username)
    organisation = _organisation(form)
    current = person.organisation.name if person.organisation else None
    if form.role.data != person.role or organisation != current:
        users.set_role(
            s,
            username=username,
            role=form.role.data,
            organisation=organisation,
            changed_by=changed_by,
        )
    users.set_display_name(
        s, username=username, display_name=form.display_name.data or "", changed_by=changed_by
    )


def _organisation(form: PersonRoleForm) -> str | None:
    """The chosen organisation's name, kept only for an intermediary administrator."""
    if form.role.data != INTERMEDIARY or not form.organisation.data:
        return None
    return dict(form.organisation.choices or []).get(form.organisation.data)


def _choices(session: Session, form: PersonRoleForm) -> None:
    with_choices(form.role, [(r, ROLE_NAMES.get(r, r)) for r in USER_ROLES], ROLE_CHOICE_TEXT)
    intermediaries = session.execute(
        select(Organisation.id, Organisation.name)
        .join(OrganisationRole, OrganisationRole.organisation_id == Organisation.id)
        .where(OrganisationRole.role == INTERMEDIARY)
        .order_by(Organisation.name)
    ).all()
    with_choices(form.organisation, [(str(i), name) for i, name in intermediaries], "None")
