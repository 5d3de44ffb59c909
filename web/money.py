"""The forms that move money: award, receipt, allocation, delegation, sub-grant, variation,
payment and return. Each view offers only what the person may act on, checks the submitted pot
or allocation against their scope, and calls one ledger operation through ``db.write``. A ledger
refusal is shown next to its field (status 422); success redirects to the pot's page.

Nothing entered here is approved on entry: an allocation is provisional, and a variation or
payment waits as a request, until a second person approves it in the approvals queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import timeline
from ledger.errors import LedgerError
from ledger.models import Allocation, Entry, FundingStream, Organisation, OrganisationRole, Pot
from statements.formatting import money
from web import db
from web.forms import (
    AllocationForm,
    AwardForm,
    DelegationForm,
    LedgerForm,
    PaymentForm,
    ReceiptForm,
    ReturnForm,
    VariationForm,
    attach_ledger_error,
    with_choices,
)
from web.lookups import (
    allocation_choices,
    guard_submitted_allocation,
    guard_submitted_pot,
    pot_choices,
    pot_name,
    pot_of_allocation,
)
from web.permissions import requires, signed_in_user

bp = Blueprint("money", __name__)


@dataclass(frozen=True)
class Recorded:
    """What a successful operation tells the person, and which pot page to show next."""

    message: str
    pot_id: int


@dataclass(frozen=True)
class Page:
    title: str
    intro: str
    submit: str
    datalists: dict[str, list[str]] | None = None


def record(
    form: LedgerForm, page: Page, operation: Callable[[Session], Recorded]
) -> ResponseReturnValue:
    """Validate, run the operation in one transaction, and show the outcome."""
    if form.validate_on_submit():
        try:
            done = _write_once(operation)
        except LedgerError as error:
            attach_ledger_error(form, error)
        else:
            flash(done.message, "success")
            return redirect(url_for("pots.pot", pot_id=done.pot_id))
    status = 422 if request.method == "POST" else 200
    return render_template("money/form.html", form=form, page=page), status


def _write_once(operation: Callable[[Session], Recorded]) -> Recorded:
    """Run the operation; if the same form was submitted twice at the same moment and the other
    submission won the race to insert the reference, run it again: it then replays the record
    the other one made."""
    try:
        return db.write(operation)
    except IntegrityError:
        return db.write(operation)


def _preselect(
    field_data: str | None, choices: list[tuple[str, str]], wanted: str | None
) -> str | None:
    if request.method == "GET" and wanted and any(value == wanted for value, _ in choices):
        return wanted
    return field_data


def _by_name(session: Session, name: str) -> Pot:
    return session.scalars(select(Pot).where(Pot.name == name)).one()


def _names(session: Session, role: str) -> list[str]:
    query = (
        select(Organisation.name)
        .join(OrganisationRole, OrganisationRole.organisation_id == Organisation.id)
        .where(OrganisationRole.role == role)
        .order_by(Organisation.name)
    )
    return list(session.scalars(query))


def _waiting(what: str) -> str:
    return f"{what} It waits for a second person to approve it (see Approvals)."


# Awards and receipts -----------------------------------------------------------------------


@bp.route("/awards/new", methods=["GET", "POST"])
@requires("record_award")
def award() -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    form = AwardForm()
    streams = list(session.scalars(select(FundingStream.name).order_by(FundingStream.name)))
    form.stream.choices = [("", "None"), *((s, s) for s in streams)]
    top_level = list(
        session.scalars(
            select(Pot.name).where(Pot.parent_allocation_id.is_(None)).order_by(Pot.name)
        )
    )
    page = Page(
        "Record an award",
        "A funder awards money into a pot for one financial year. A new pot name opens a pot"
        " administered by the accountable body.",
        "Record the award",
        {"funder": _names(session, "funder"), "pot": top_level},
    )

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.award_date.day is not None
        entry = ops.record_award(
            s,
            reference=form.reference.data,
            pot=form.pot.data,
            funder=form.funder.data,
            amount_pence=form.amount.pence,
            award_date=form.award_date.day,
            entered_by=user.username,
            memo=form.memo.data,
            financial_year=form.year,
            stream=form.stream.data or None,
            is_assumption=form.is_assumption.data,
        )
        return Recorded(
            f"Recorded the award of {money(entry.amount_pence)} from {form.funder.data} into"
            f" {form.pot.data}.",
            _by_name(s, form.pot.data).id,
        )

    return record(form, page, run)


@bp.route("/receipts/new", methods=["GET", "POST"])
@requires("record_receipt")
def receipt() -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    form = ReceiptForm()
    choices = pot_choices(session, user, delegated=False)
    with_choices(form.pot, choices, "Choose a pot")
    form.pot.data = _preselect(form.pot.data, choices, request.args.get("pot"))
    page = Page(
        "Record a receipt",
        "Cash has arrived from a funder against its awards into a pot.",
        "Record the receipt",
        {"funder": _names(session, "funder")},
    )
    guard_submitted_pot(session, user, request.args.get("pot"), request.form.get("pot"))

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        name = pot_name(s, form.pot.data)
        entry = ops.record_receipt(
            s,
            reference=form.reference.data,
            pot=name,
            funder=form.funder.data,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        return Recorded(
            f"Recorded {money(entry.amount_pence)} received from {form.funder.data} into {name}.",
            int(form.pot.data),
        )

    return record(form, page, run)


# Allocations, delegations and sub-grants ---------------------------------------------------


def _allocate(
    form: AllocationForm | DelegationForm, word: str, username: str, s: Session
) -> Recorded:
    assert form.amount.pence is not None and form.date.day is not None
    name = pot_name(s, form.pot.data)
    details: dict[str, Any]
    if isinstance(form, DelegationForm):
        details = {"to_pot": form.to_pot.data}
    else:
        details = {
            "period_start": form.period_start.day,
            "period_end": form.period_end.day,
            "tags": form.tag_list,
        }
    allocation: Allocation = ops.allocate(
        s,
        reference=form.reference.data,
        pot=name,
        recipient=form.recipient.data,
        amount_pence=form.amount.pence,
        date=form.date.day,
        entered_by=username,
        purpose=form.purpose.data,
        **details,
    )
    message = (
        f"Recorded {word} {allocation.reference} of {money(allocation.allocated_pence)} from"
        f" {name} to {allocation.recipient.name}."
    )
    if allocation.status == "provisional":
        message = _waiting(
            message + " It is provisional: its money is held, but it cannot be paid yet."
        )
    return Recorded(message, int(form.pot.data))


def _allocation_view(
    form: AllocationForm | DelegationForm, page: Page, word: str, *, delegated: bool
) -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    choices = pot_choices(session, user, delegated=delegated)
    with_choices(form.pot, choices, "Choose a pot")
    form.pot.data = _preselect(form.pot.data, choices, request.args.get("pot"))
    guard_submitted_pot(session, user, request.args.get("pot"), request.form.get("pot"))
    return record(form, page, lambda s: _allocate(form, word, user.username, s))


@bp.route("/allocations/new", methods=["GET", "POST"])
@requires("record_allocation")
def allocation() -> ResponseReturnValue:
    page = Page(
        "Record an allocation",
        "Promise money from a pot to a provider or a post. It stays provisional, with its money"
        " held, until a second person approves it.",
        "Record the allocation",
        {"recipient": _names(db.session(), "provider")},
    )
    return _allocation_view(AllocationForm(), page, "allocation", delegated=False)


@bp.route("/delegations/new", methods=["GET", "POST"])
@requires("record_delegation")
def delegation() -> ResponseReturnValue:
    page = Page(
        "Record a delegation",
        "Hand part of a pot to an intermediary, which opens a pot they administer and"
        " sub-grant from. They can never give out more than they were given.",
        "Record the delegation",
        {"recipient": _names(db.session(), "intermediary")},
    )
    return _allocation_view(DelegationForm(), page, "delegation", delegated=False)


@bp.route("/subgrants/new", methods=["GET", "POST"])
@requires("record_subgrant")
def subgrant() -> ResponseReturnValue:
    page = Page(
        "Record a sub-grant",
        "A grant from a delegated pot that your organisation administers.",
        "Record the sub-grant",
        {"recipient": _names(db.session(), "provider")},
    )
    return _allocation_view(AllocationForm(), page, "sub-grant", delegated=True)


# Variations, payments and returns ----------------------------------------------------------


def _allocation_form_view(
    form: VariationForm | PaymentForm | ReturnForm,
    purpose: str,
    page: Page,
    operation: Callable[[Session], Recorded],
) -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    choices = allocation_choices(session, user, purpose)
    with_choices(form.allocation, choices, "Choose an allocation")
    form.allocation.data = _preselect(form.allocation.data, choices, request.args.get("allocation"))
    guard_submitted_allocation(
        session, user, request.args.get("allocation"), request.form.get("allocation")
    )
    return record(form, page, operation)


def _outcome(
    result: Entry | object, done: str, waiting: str, reference: str, s: Session
) -> Recorded:
    message = done if isinstance(result, Entry) else _waiting(waiting)
    return Recorded(message, pot_of_allocation(s, reference))


@bp.route("/variations/new", methods=["GET", "POST"])
@requires("record_variation")
def variation() -> ResponseReturnValue:
    user = signed_in_user()
    form = VariationForm()

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        result = ops.vary(
            s,
            reference=form.reference.data,
            allocation=form.allocation.data,
            delta_pence=form.amount.pence,
            date=form.date.day,
            reason=form.reason.data,
            entered_by=user.username,
        )
        change = money(form.amount.pence)
        return _outcome(
            result,
            f"Recorded a variation of {change} on {form.allocation.data}.",
            f"The variation of {change} on {form.allocation.data} is recorded as a request.",
            form.allocation.data,
            s,
        )

    page = Page(
        "Record a variation",
        "Change an allocation or delegation by an amount, with the reason. An increase holds"
        " money in its pot until it is approved.",
        "Record the variation",
    )
    return _allocation_form_view(form, "vary", page, run)


@bp.route("/payments/new", methods=["GET", "POST"])
@requires("record_payment")
def payment() -> ResponseReturnValue:
    user = signed_in_user()
    form = PaymentForm()

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        # Refused, naming the requirement, while it reaches an instalment that waits on a
        # reporting requirement not yet received; then ledger.operations.pay.
        result = timeline.pay_instalment(
            s,
            reference=form.reference.data,
            allocation=form.allocation.data,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        paid = money(form.amount.pence)
        return _outcome(
            result,
            f"Recorded a payment of {paid} on {form.allocation.data}.",
            f"The payment of {paid} on {form.allocation.data} is recorded as a request.",
            form.allocation.data,
            s,
        )

    page = Page(
        "Record a payment",
        "An instalment paid against a confirmed allocation; for a delegation, the cash handed"
        " to the intermediary.",
        "Record the payment",
    )
    return _allocation_form_view(form, "pay", page, run)


@bp.route("/returns/new", methods=["GET", "POST"])
@requires("record_return")
def money_return() -> ResponseReturnValue:
    user = signed_in_user()
    form = ReturnForm()

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        entry = ops.return_unspent(
            s,
            reference=form.reference.data,
            allocation=form.allocation.data,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        return Recorded(
            f"Recorded {money(entry.amount_pence)} returned on {form.allocation.data}; it is"
            " available in its pot again.",
            pot_of_allocation(s, form.allocation.data),
        )

    page = Page(
        "Record a return",
        "Money paid out has come back (underspend or clawback) and is available in its pot again.",
        "Record the return",
    )
    return _allocation_form_view(form, "return", page, run)
