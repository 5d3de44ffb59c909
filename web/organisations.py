"""Organisations for administrators: the registered numbers and places that 360Giving exports
publish, and which organisations are part of the accountable body (internal spend). The checks
are ledger.identifiers'; a refusal is shown next to the field it concerns."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ledger.errors import LedgerError
from ledger.models import Organisation
from ledger.organisations import IdentifierChange, identifiers_of, set_identifiers
from web import db
from web.forms import OrganisationForm
from web.permissions import requires, signed_in_user

bp = Blueprint("organisations", __name__)


@bp.route("/organisations")
@requires("manage_organisations")
def index() -> ResponseReturnValue:
    session = db.session()
    rows = [
        (org, identifiers_of(org).org_ids())
        for org in session.scalars(select(Organisation).order_by(Organisation.name))
    ]
    return render_template("organisations/index.html", rows=rows)


@bp.route("/organisations/<id:organisation_id>", methods=["GET", "POST"])
@requires("manage_organisations")
def edit(organisation_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    org = db.session().get(Organisation, organisation_id)
    if org is None:
        abort(404)
    form = OrganisationForm(data=None if request.method == "POST" else _current(org))
    if form.validate_on_submit():
        change = IdentifierChange(
            charity_numbers=[n for n in (form.charity_numbers.data or "").split(",") if n.strip()],
            clear_charity_numbers=True,
            ni_charity_number=form.ni_charity_number.data or "",
            company_number=form.company_number.data or "",
            local_authority_code=form.local_authority_code.data or "",
            other_identifier=form.other_identifier.data or "",
            location_code=form.location_code.data or "",
            location_name=form.location_name.data or "",
            is_internal=bool(form.is_internal.data),
        )
        name = org.name
        try:
            reason = form.reason.data or ""
            db.write(lambda s: set_identifiers(s, name, change, actor=user.username, reason=reason))
        except LedgerError as error:
            target = form._fields.get(form.LEDGER_FIELDS.get(error.field or "", ""))
            if target is not None:
                target.errors = [*target.errors, str(error)]
            else:
                form.form_errors.append(str(error))
        else:
            flash(f"Saved {name}.", "success")
            return redirect(url_for("organisations.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("organisations/edit.html", form=form, org=org), status


def _current(org: Organisation) -> dict[str, object]:
    numbers = identifiers_of(org)
    charities = [n for n in (numbers.england_wales_charity, numbers.scottish_charity) if n]
    authority = numbers.local_authority or ""
    return {
        "charity_numbers": ", ".join(charities),
        "ni_charity_number": numbers.ni_charity or "",
        "company_number": numbers.company or "",
        "local_authority_code": authority,
        "other_identifier": numbers.other or "",
        "location_code": org.location_code or "",
        "location_name": org.location_name or "",
        "is_internal": org.is_internal,
    }
