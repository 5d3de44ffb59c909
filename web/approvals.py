"""The approvals queue: provisional allocations and everything else awaiting a second person
(variations, payments, awards, receipts, returns, carry-forwards, hand-backs, reversals and whole
imports), each approved or rejected with a reason. The ledger refuses anyone approving their own
entry above the self-approval limit; the queue shows why."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import second_person, timeline
from ledger.errors import LedgerError
from ledger.models import Request, SecondPersonRequest
from statements.render.formatting import money
from web import db
from web.forms import RejectAllocationForm, RejectForm
from web.lookups import allocation_or_404, pending_requests, provisional_allocations
from web.permissions import (
    CurrentUser,
    allocation_in_scope,
    pot_in_scope,
    require_allocation,
    require_pot,
    requires,
    signed_in_user,
)

bp = Blueprint("approvals", __name__, url_prefix="/approvals")


def _queue(user: CurrentUser, problem: tuple[str, str] | None = None) -> ResponseReturnValue:
    session = db.session()
    page = render_template(
        "approvals/queue.html",
        allocations=provisional_allocations(session, user),
        requests=pending_requests(session, user),
        limit_pence=ops.self_approval_limit_pence(session),
        request_words=ops.REQUEST_WORDS,
        waivers_and_phasings=[
            row for row in second_person.pending(session) if _in_scope(user, row)
        ],
        phasing_text=lambda row: timeline.describe_phasing(second_person.parts_of(row)),
        override_of=_override,
        problem=problem,
    )
    return page, 422 if problem else 200


def _override(request: Request) -> str | None:
    """A payment entered with an approver's override of a reporting condition: who gave it
    and why, so the second person sees what they approve."""
    params = json.loads(request.params or "{}")
    if request.kind != "pay" or not params.get("override_reason"):
        return None
    return (
        f"Paid before a reporting requirement was received: overridden by"
        f" {params['override_by']}: {params['override_reason']}"
    )


def _in_scope(user: CurrentUser, row: SecondPersonRequest) -> bool:
    if row.requirement is not None:
        return allocation_in_scope(user, row.requirement.allocation)
    return row.award is not None and pot_in_scope(user, row.award.pot)


def _request_or_404(session: Session, user: CurrentUser, request_id: int) -> Request:
    found = session.get(Request, request_id)
    if found is None:
        abort(404)
    if found.allocation is not None:
        require_allocation(user, found.allocation)
    elif found.pot is not None:
        require_pot(user, found.pot)
    elif user.scoped:
        abort(403)
    return found


@bp.route("")
@requires("approve")
def queue() -> ResponseReturnValue:
    return _queue(signed_in_user())


@bp.route("/allocations/<path:reference>/approve", methods=["POST"])
@requires("approve")
def approve_allocation(reference: str) -> ResponseReturnValue:
    user = signed_in_user()
    allocation_or_404(db.session(), user, reference)
    try:
        db.write(
            lambda s: ops.approve_allocation(s, reference=reference, approved_by=user.username)
        )
    except LedgerError as error:
        return _queue(user, (str(error), f"#allocation-{reference}"))
    flash(f"Approved allocation {reference}: it is confirmed and can be paid.", "success")
    return redirect(url_for("approvals.queue"))


@bp.route("/requests/<id:request_id>/approve", methods=["POST"])
@requires("approve")
def approve_request(request_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    found = _request_or_404(db.session(), user, request_id)
    closing = found.allocation.reference if found.kind == "close" and found.allocation else None
    try:
        entry = db.write(
            lambda s: ops.approve_request(s, request_id=request_id, approved_by=user.username)
        )
    except LedgerError as error:
        return _queue(user, (str(error), f"#request-{request_id}"))
    if closing is not None:
        flash(
            f"Approved request {request_id}: allocation {closing} is closed, and anything else"
            " that waited on it is rejected.",
            "success",
        )
    elif entry is None:
        flash(f"Approved request {request_id}: the import's rows are recorded.", "success")
    else:
        flash(f"Approved request {request_id}: {money(entry.amount_pence)} is recorded.", "success")
    return redirect(url_for("approvals.queue"))


@bp.route("/requests/<id:request_id>/reject", methods=["GET", "POST"])
@requires("approve")
def reject_request(request_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    found = _request_or_404(db.session(), user, request_id)
    form = RejectForm()
    if form.validate_on_submit():
        note = form.note.data or ""
        try:
            db.write(
                lambda s: ops.reject_request(
                    s, request_id=request_id, rejected_by=user.username, note=note
                )
            )
        except LedgerError as error:
            form.note.errors = [*form.note.errors, str(error)]
        else:
            flash(f"Rejected request {request_id}. Its money is no longer held.", "success")
            return redirect(url_for("approvals.queue"))
        found = _request_or_404(db.session(), user, request_id)
    status = 422 if request.method == "POST" else 200
    return render_template("approvals/reject.html", form=form, item=found), status


@bp.route("/allocations/<path:reference>/reject", methods=["GET", "POST"])
@requires("approve")
def reject_allocation(reference: str) -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    allocation = allocation_or_404(session, user, reference)
    form = RejectAllocationForm()
    if request.method == "GET":
        made = ops.allocation_date(session, allocation.id)
        form.date.data = f"{ops.rejection_date(made):%d/%m/%Y}"
    if form.validate_on_submit():
        note = form.note.data or ""
        try:
            db.write(
                lambda s: ops.reject_allocation(
                    s, reference=reference, rejected_by=user.username, note=note, date=form.date.day
                )
            )
        except LedgerError as error:
            field = form.date if error.field == "date" else form.note
            field.errors = [*field.errors, str(error)]
        else:
            flash(
                f"Rejected allocation {reference}. Its money is available in the pot again.",
                "success",
            )
            return redirect(url_for("approvals.queue"))
        allocation = allocation_or_404(db.session(), user, reference)
    status = 422 if request.method == "POST" else 200
    return render_template("approvals/reject_allocation.html", form=form, item=allocation), status
