"""Feedback to the person who entered it: "My entries" (each allocation and request they
entered, with its status, who decided and, for a rejection, why) and acknowledging a rejection,
which stops the dashboard showing it to them. The models are ``statements.reports.my_entries``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from ledger.acknowledgements import acknowledge as record_acknowledgement
from ledger.errors import LedgerError
from statements.reports.my_entries import my_entries
from web import db
from web.forms import AcknowledgeForm
from web.permissions import requires, signed_in_user

bp = Blueprint("entries", __name__)


@bp.route("/my-entries")
@requires("view_own_entries")
def mine() -> ResponseReturnValue:
    user = signed_in_user()
    return render_template("entries/mine.html", entries=my_entries(db.session(), user.username))


@bp.route("/my-entries/acknowledge", methods=["POST"])
@requires("view_own_entries")
def acknowledge() -> ResponseReturnValue:
    user = signed_in_user()
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        abort(400)
    kind, item = form.kind.data or "", form.item.data or ""
    try:
        db.write(lambda s: record_acknowledgement(s, username=user.username, kind=kind, item=item))
    except LedgerError:
        abort(404)  # not theirs, not rejected, or not there: nothing to acknowledge
    flash(f"Noted: you have seen that {kind} {item} was rejected.", "success")
    back = "entries.mine" if form.back.data == "entries" else "pots.dashboard"
    return redirect(url_for(back))
