"""The forms that move money: award, receipt, allocation, delegation, sub-grant, variation,
payment and return. Each view offers only what the person may act on, checks the submitted pot
or allocation against their scope, and calls one ledger operation through ``db.write``. A ledger
refusal is shown next to its field (status 422); success redirects to the pot's page.

Nothing entered here is approved on entry: an allocation is provisional, and an award, receipt,
variation, payment or return waits as a request, until a second person approves it in the
approvals queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import timeline
from ledger.errors import LedgerError
from ledger.models import (
    Account,
    Allocation,
    Award,
    Entry,
    FundingStream,
    Organisation,
    OrganisationRole,
    Pot,
)
from ledger.money import split_by_ratios
from ledger.readout import award_reductions, entry_words
from ledger.schedule import PaymentConditionUnmet
from statements.render.formatting import money
from web import db
from web.forms import (
    AllocationForm,
    AwardForm,
    AwardReductionForm,
    CarryForwardForm,
    CloseForm,
    DelegationForm,
    HandBackForm,
    LedgerForm,
    PaymentForm,
    PooledContractForm,
    ReceiptForm,
    ReturnForm,
    ReversalForm,
    VariationForm,
    attach_ledger_error,
    parse_shares,
    with_choices,
)
from web.lookups import (
    allocation_choices,
    allocation_or_404,
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
    pot_id: int | None  # None: the pot does not exist until the act is approved


@dataclass(frozen=True)
class Page:
    title: str
    intro: str
    submit: str
    datalists: dict[str, list[str]] | None = None
    live_split: bool = False  # shows, as people type, how the amount splits between pots


def record(
    form: LedgerForm,
    page: Page,
    operation: Callable[[Session], Recorded],
    on_error: Callable[[LedgerError], None] | None = None,
) -> ResponseReturnValue:
    """Validate, run the operation in one transaction, and show the outcome. ``on_error``
    adds what a refusal needs beyond its message (the way forward)."""
    if form.validate_on_submit():
        try:
            done = _write_once(operation)
        except LedgerError as error:
            attach_ledger_error(form, error)
            if on_error is not None:
                on_error(error)
        else:
            flash(done.message, "success")
            if done.pot_id is None:
                return redirect(url_for("pots.dashboard"))
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
        result = ops.record_award(
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
        award = f"The award of {money(result.amount_pence)} from {form.funder.data} into"
        pot = s.scalars(select(Pot).where(Pot.name == form.pot.data)).one_or_none()
        return Recorded(
            _waiting(f"{award} {form.pot.data} is recorded as a request."),
            pot.id if pot is not None else None,
        )

    return record(form, page, run)


@bp.route("/awards/reduce", methods=["GET", "POST"])
@requires("record_award")
def award_reduction() -> ResponseReturnValue:
    """The funder withdraws part of an award it has not yet paid. Distinct from a hand-back of
    cash received; it waits for a second person like every act."""
    user = signed_in_user()
    session = db.session()
    form = AwardReductionForm()
    owed = session.execute(
        select(Award.reference, Organisation.name, Pot.name, Account.balance_pence)
        .join(Organisation, Organisation.id == Award.funder_id)
        .join(Pot, Pot.id == Award.pot_id)
        .join(Account, (Account.award_id == Award.id) & (Account.kind == "receivable"))
        .where(Account.balance_pence > 0)
        .order_by(Award.award_date, Award.reference)
    ).all()
    form.award.choices = [
        (ref, f"{ref}: {funder} into {pot}, {money(balance)} still owed")
        for ref, funder, pot, balance in owed
    ]
    form.award.data = _preselect(form.award.data, form.award.choices, request.args.get("award"))
    page = Page(
        "Reduce an award",
        "The funder withdraws money it has awarded but not yet paid: the award and the pot's"
        " funding go down. Cash already received goes back by a hand-back instead.",
        "Record the reduction",
    )

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        result = ops.reduce_award(
            s,
            reference=form.reference.data,
            award=form.award.data,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        award = ops.find_award(s, form.award.data)
        return Recorded(
            _waiting(
                f"The reduction of award {award.reference} by {money(result.amount_pence)}"
                " is recorded as a request."
            ),
            award.pot_id,
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
        result = ops.record_receipt(
            s,
            reference=form.reference.data,
            pot=name,
            funder=form.funder.data,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        received = f"{money(result.amount_pence)} received from {form.funder.data} into {name}"
        return Recorded(
            _waiting(f"The receipt of {received} is recorded as a request."),
            int(form.pot.data),
        )

    return record(form, page, run)


@bp.route("/hand-backs/new", methods=["GET", "POST"])
@requires("record_receipt")
def hand_back() -> ResponseReturnValue:
    """Unspent cash goes back to the funder; it waits for a second person."""
    user = signed_in_user()
    session = db.session()
    form = HandBackForm()
    choices = pot_choices(session, user, delegated=False)
    with_choices(form.pot, choices, "Choose a pot")
    form.pot.data = _preselect(form.pot.data, choices, request.args.get("pot"))
    page = Page(
        "Hand money back",
        "Unspent cash goes back to the funder and leaves the ledger: never more than the pot"
        " holds. Money the funder has not paid is withdrawn by reducing the award instead.",
        "Record the hand-back",
    )
    guard_submitted_pot(session, user, request.args.get("pot"), request.form.get("pot"))

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        name = pot_name(s, form.pot.data)
        result = ops.hand_back(
            s,
            reference=form.reference.data,
            pot=name,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        handed = f"{money(result.amount_pence)} handed back from {name}"
        return Recorded(
            _waiting(f"The hand-back of {handed} is recorded as a request."), int(form.pot.data)
        )

    return record(form, page, run)


@bp.route("/carry-forwards/new", methods=["GET", "POST"])
@requires("record_award")
def carry_forward() -> ResponseReturnValue:
    """A pot's unspent money moves into the same stream's pot for the next year."""
    user = signed_in_user()
    session = db.session()
    form = CarryForwardForm()
    choices = pot_choices(session, user, delegated=False)
    with_choices(form.pot, choices, "Choose a pot")
    with_choices(form.to_pot, choices, "Choose a pot")
    form.pot.data = _preselect(form.pot.data, choices, request.args.get("pot"))
    page = Page(
        "Carry money forward",
        "A pot's unspent money moves into the same funding stream's pot for the next financial"
        " year, as the funder allows.",
        "Record the carry-forward",
    )
    guard_submitted_pot(
        session, user, request.args.get("pot"), request.form.get("pot"), request.form.get("to_pot")
    )

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        source, target = pot_name(s, form.pot.data), pot_name(s, form.to_pot.data)
        result = ops.carry_forward(
            s,
            reference=form.reference.data,
            from_pot=source,
            to_pot=target,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        moved = f"{money(result.amount_pence)} from {source} into {target}"
        return Recorded(
            _waiting(f"The carry-forward of {moved} is recorded as a request."),
            int(form.pot.data),
        )

    return record(form, page, run)


@bp.route("/entries/<int:entry_id>/reverse", methods=["GET", "POST"])
@requires("reverse_entry")
def reversal(entry_id: int) -> ResponseReturnValue:
    """Correct a journal entry by its mirror image, with the reason; the original stays. It
    waits for a second person like every act."""
    user = signed_in_user()
    session = db.session()
    target = session.get(Entry, entry_id)
    if target is None:
        abort(404)
    guard_submitted_pot(session, user, str(target.pot_id) if target.pot_id else None)
    form = ReversalForm()
    reduction = target.id in award_reductions(session, [target.id])
    what = entry_words(target.kind, reduction).lower()
    page = Page(
        f"Reverse entry {target.reference or target.id}",
        f"This posts the mirror image of the {what} of {money(target.amount_pence)} dated"
        f" {target.effective_date:%d/%m/%Y} ({target.memo}). The original stays on record.",
        "Request the reversal",
    )

    def run(s: Session) -> Recorded:
        ops.reverse(
            s,
            entry_id=entry_id,
            reason=form.reason.data,
            entered_by=user.username,
            reference=form.reference.data,
        )
        return Recorded(
            _waiting(
                f"The reversal of entry {target.reference or entry_id} is recorded as a request."
            ),
            target.pot_id,
        )

    return record(form, page, run)


@bp.route("/allocations/<allocation_ref>/close", methods=["GET", "POST"])
@requires("close_allocation")
def close(allocation_ref: str) -> ResponseReturnValue:
    """Close a confirmed allocation once nothing is left unpaid, with the reason. It waits for
    a second person; approving it rejects whatever else still waits on the allocation."""
    user = signed_in_user()
    allocation = allocation_or_404(db.session(), user, allocation_ref)
    reference = allocation.reference
    form = CloseForm()
    unpaid = allocation.unpaid_pence
    first = (
        f" It still has {money(unpaid)} committed and unpaid, so it cannot close yet: vary it"
        " down to what was paid first."
        if unpaid
        else ""
    )
    page = Page(
        f"Close allocation {reference}",
        f"{allocation.recipient.name}: {allocation.purpose}. Committed"
        f" {money(allocation.allocated_pence)}, paid {money(allocation.paid_pence)}. Once"
        " closed it takes no payment, variation or reversal, and anything still waiting on it"
        f" is rejected.{first}",
        "Request the closure",
    )

    def run(s: Session) -> Recorded:
        ops.request_close(s, reference=reference, reason=form.reason.data, entered_by=user.username)
        return Recorded(
            _waiting(f"The closure of {reference} is recorded as a request."),
            pot_of_allocation(s, reference),
        )

    return record(form, page, run)


# Allocations, delegations and sub-grants ---------------------------------------------------


@bp.route("/pooled-contracts/new", methods=["GET", "POST"])
@requires("record_allocation")
def pooled_contract() -> ResponseReturnValue:
    """One contract paid from several pots in agreed shares: the amount is split exactly by
    largest remainder, as the page shows while it is typed, and the server splits it again."""
    user = signed_in_user()
    session = db.session()
    form = PooledContractForm()
    top_level = [label for _, label in pot_choices(session, user, delegated=False)]
    page = Page(
        "Record a pooled contract",
        "One contract funded from several pots, each in an agreed share. The amount is split"
        " exactly between them; variations, payments and returns follow the same shares. It is"
        " provisional until a second person approves it. Pots: " + "; ".join(top_level) + ".",
        "Record the pooled contract",
        live_split=True,
    )

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        pairs = parse_shares(form.shares.data)
        names = [name for name, _ in pairs]
        for name in names:
            found = s.scalars(select(Pot).where(Pot.name == name)).one_or_none()
            if found is not None:
                guard_submitted_pot(s, user, str(found.id))
        parts = split_by_ratios(form.amount.pence, [weight for _, weight in pairs])
        allocation = ops.allocate_pooled(
            s,
            reference=form.reference.data,
            shares=list(zip(names, parts, strict=True)),
            recipient=form.recipient.data,
            date=form.date.day,
            entered_by=user.username,
            purpose=form.purpose.data,
            tags=form.tag_list,
        )
        split = ", ".join(f"{money(p)} from {n}" for n, p in zip(names, parts, strict=True))
        message = _waiting(
            f"Recorded pooled contract {allocation.reference} with"
            f" {allocation.recipient.name}: {split}. It is provisional: its money is held, but"
            " it cannot be paid yet."
        )
        return Recorded(message, allocation.shares[0].pot_id)

    return record(form, page, run)


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
    on_error: Callable[[LedgerError], None] | None = None,
) -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    choices = allocation_choices(session, user, purpose)
    with_choices(form.allocation, choices, "Choose an allocation")
    form.allocation.data = _preselect(form.allocation.data, choices, request.args.get("allocation"))
    guard_submitted_allocation(
        session, user, request.args.get("allocation"), request.form.get("allocation")
    )
    return record(form, page, operation, on_error)


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
    may_override = user.may("approve")
    # Once offered, the override field stays on the form for an approver.
    form.show_override = may_override and "override_reason" in request.form
    reason = (form.override_reason.data or "").strip() if form.show_override else ""

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        # Refused, naming the requirement, while it reaches an instalment that waits on a
        # reporting requirement not yet received, unless an approver gives a reason to
        # override (the payment then waits for a second person); then ledger.operations.pay.
        result = timeline.pay_instalment(
            s,
            reference=form.reference.data,
            allocation=form.allocation.data,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
            override_reason=reason or None,
            override_by=user.username if reason else None,
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
    return _allocation_form_view(
        form, "pay", page, run, on_error=lambda e: _condition_unmet(form, e, may_override)
    )


def _condition_unmet(form: PaymentForm, error: LedgerError, may_override: bool) -> None:
    """A payment refused for a report not received: the way forward, next to the amount. An
    approver is offered the override, with its reason required."""
    if not isinstance(error, PaymentConditionUnmet):
        return
    title = error.requirement.title
    if may_override:
        form.show_override = True
        form.override_reason.errors = [
            *form.override_reason.errors,
            f"Enter the reason for paying before '{title}' is received, or record it as"
            " received first",
        ]
    else:
        form.amount.errors = [
            *form.amount.errors,
            f"To pay it now, record '{title}' as received on its requirement page, or ask an"
            " approver to record this payment with a reason for the override",
        ]


@bp.route("/returns/new", methods=["GET", "POST"])
@requires("record_return")
def money_return() -> ResponseReturnValue:
    user = signed_in_user()
    form = ReturnForm()

    def run(s: Session) -> Recorded:
        assert form.amount.pence is not None and form.date.day is not None
        result = ops.return_unspent(
            s,
            reference=form.reference.data,
            allocation=form.allocation.data,
            amount_pence=form.amount.pence,
            date=form.date.day,
            entered_by=user.username,
            memo=form.memo.data,
        )
        returned = money(result.amount_pence)
        return _outcome(
            result,
            f"Recorded {returned} returned on {form.allocation.data}.",
            f"The return of {returned} on {form.allocation.data} is recorded as a request.",
            form.allocation.data,
            s,
        )

    page = Page(
        "Record a return",
        "Money paid out has come back (underspend or clawback). Once approved it is available"
        " in its pot again.",
        "Record the return",
    )
    return _allocation_form_view(form, "return", page, run)
