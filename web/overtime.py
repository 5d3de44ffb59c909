"""Money over time in the web app: the cash forecast (chart, table and CSV), an allocation's
payment schedule, reporting requirements (received, moved, waived), the years and phasing of an
award, and finance's sign-off of statements.

A waiver or a phasing is asked for by one person and approved by a second
(``ledger.second_person``): on the requirement's or the award's page, where an approver who
did not ask (nor, for a waiver, enter the requirement) approves or declines it.

Views are thin: they check the role and the pot scope (``web.permissions``), call
``ledger.timeline`` or a statement builder through ``web.db`` and render a template. An
intermediary administrator sees the forecast, schedules and signed statements of their own pots
only.
"""

from __future__ import annotations

import datetime as dt
import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm  # type: ignore[import-untyped, unused-ignore]
from markupsafe import Markup
from sqlalchemy import select
from wtforms import StringField  # type: ignore[import-untyped, unused-ignore]
from wtforms.validators import (  # type: ignore[import-untyped, unused-ignore]
    InputRequired,
    ValidationError,
)

from ledger import schedule as rules
from ledger import second_person, timeline
from ledger.errors import LedgerError
from ledger.fy import label, parse_financial_year
from ledger.models import Allocation, Award, Pot, Requirement, SecondPersonRequest, StatementSignoff
from ledger.money import AmountError, parse_pence
from statements.render.forecast_chart import forecast_svg
from statements.reports.forecast import Forecast, PotForecast, build_forecast, write_forecast_csv
from statements.reports.signoff import signed_statement
from web import db
from web.forms import ChoiceField, DayField, long_text, strip, with_choices
from web.lookups import allocation_or_404, pot_or_404, row_id
from web.permissions import pots_in_scope, requires, signed_in_user

bp = Blueprint("overtime", __name__)
FREQUENCY_CHOICES = [("quarterly", "Quarterly"), ("monthly", "Monthly")]


class ScheduleForm(FlaskForm):  # type: ignore[misc]
    frequency = ChoiceField("How often", required="Choose monthly or quarterly")
    first_due = DayField("First instalment due", required="Enter the first due date")
    count = StringField(
        "Number of instalments",
        validators=[InputRequired("Enter the number of instalments")],
        filters=[strip],
        description="For example, 4 for a year of quarters",
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )

    def validate_count(self, field: StringField) -> None:
        if not (field.data or "").isdigit() or not 1 <= int(field.data) <= rules.MAX_INSTALMENTS:
            raise ValidationError(
                f"Enter the number of instalments as a whole number from 1 to"
                f" {rules.MAX_INSTALMENTS}"
            )


SIGNOFF_PREFIX = "signoff"


class SignoffForm(FlaskForm):  # type: ignore[misc]
    """Fields named ``signoff-as_at``, ``signoff-since``: the statement page's own date fields
    are ``as_at`` and ``since``."""

    as_at = DayField("Sign off as at", required="Enter the date the statement is as at")
    since = DayField(
        "Movements since (optional)", description="For example, 01/08/2023. Leave blank for none"
    )


class RebalanceForm(FlaskForm):  # type: ignore[misc]
    """The instalments chosen come as ``rebalance-instalment`` checkboxes, one per unpaid
    instalment, which the template draws."""

    reason = long_text("Reason", "Enter the reason for the re-balance")


class ReceivedForm(FlaskForm):  # type: ignore[misc]
    received_on = DayField("Date received", required="Enter the date it was received")


class MoveDueForm(FlaskForm):  # type: ignore[misc]
    due_date = DayField("New due date", required="Enter the new due date")
    reason = long_text("Reason for the move", "Enter why the due date moves")


class WaiverForm(FlaskForm):  # type: ignore[misc]
    reason = long_text(
        "Reason for the waiver",
        "Enter why the requirement is waived",
        description="An approver who did not ask for it, and did not enter the requirement,"
        " approves it",
    )


class DecisionForm(FlaskForm):  # type: ignore[misc]
    """Approve or decline a waiver or phasing: the CSRF token is all it carries."""


class PhasingForm(FlaskForm):  # type: ignore[misc]
    parts = long_text(
        "Amount for each financial year",
        "Enter one line for each financial year, such as 2022-23 = 200,000.00",
        description="One line for each year, such as 2022-23 = 200,000.00. The amounts must add"
        " up exactly to the award",
    )

    def validate_parts(self, field: StringField) -> None:
        self.parsed = parse_phasing(field.data or "")


def parse_phasing(text: str) -> dict[int, int]:
    """``2022-23 = 200,000`` lines (as ``commonpurse phasing`` takes ``2022-23=200000``) to
    financial year → pence; a bad line is refused with its number."""
    parts: dict[int, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        year_text, equals, amount_text = line.partition("=")
        try:
            if not equals:
                raise ValueError("it is not a year = an amount")
            year = parse_financial_year(year_text.strip())
            pence = parse_pence(amount_text.strip())
        except (LedgerError, AmountError, ValueError) as error:
            raise ValidationError(
                f"Line {number} ({line.strip()}): {error}. Write each line as 2022-23 = 200,000.00"
            ) from error
        if year in parts:
            raise ValidationError(f"Line {number}: {label(year)} is given twice")
        parts[year] = pence
    if not parts:
        raise ValidationError(
            "Enter one line for each financial year, such as 2022-23 = 200,000.00"
        )
    return parts


# The forecast ---------------------------------------------------------------------------


def _forecast_in_scope() -> tuple[Forecast, PotForecast]:
    user = signed_in_user()
    session = db.session()
    found = build_forecast(session, today=dt.date.today(), pots=pots_in_scope(user))
    shown = found.total
    wanted = row_id(request.args.get("pot"))
    if request.args.get("pot") is not None:
        if wanted is None:
            abort(404)
        pot = pot_or_404(session, user, wanted)
        shown = next(p for p in found.pots if p.pot == pot.name)
    return found, shown


@bp.route("/forecast")
@requires("view_pots")
def forecast() -> ResponseReturnValue:
    found, shown = _forecast_in_scope()
    user = signed_in_user()
    pots = db.session().execute(
        select(Pot.id, Pot.name).where(pots_in_scope(user)).order_by(Pot.id)
    )
    return render_template(
        "overtime/forecast.html",
        forecast=found,
        shown=shown,
        chart=Markup(forecast_svg(shown)),
        pots=list(pots),
        chosen=request.args.get("pot", ""),
    )


@bp.route("/forecast.csv")
@requires("view_pots")
def forecast_csv() -> Response:
    found, _ = _forecast_in_scope()
    out = io.StringIO()
    write_forecast_csv(found, out)
    response = Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv")
    name = f"cash-forecast-{dt.date.today().isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# Payment schedules ------------------------------------------------------------------------


@bp.route("/allocations/<allocation_ref>/schedule", methods=["GET", "POST"])
@requires("view_pots")
def schedule(allocation_ref: str) -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    allocation = allocation_or_404(session, user, allocation_ref)
    may_schedule = user.may("schedule_payments")
    if request.method == "POST" and not may_schedule:
        abort(403)
    form = ScheduleForm()
    with_choices(form.frequency, FREQUENCY_CHOICES, "Choose")
    if may_schedule and form.validate_on_submit():
        assert form.first_due.day is not None
        reference, committed = allocation.reference, allocation.allocated_pence
        try:
            split = rules.split_instalments(
                committed, form.first_due.day, int(form.count.data), form.frequency.data
            )
            db.write(
                lambda s: timeline.set_schedule(
                    s, allocation=reference, instalments=split, entered_by=user.username
                )
            )
        except LedgerError as error:
            form.count.errors = [*form.count.errors, str(error)]
        else:
            flash(f"Scheduled {len(split)} {form.frequency.data} instalments on {reference}.")
            return redirect(url_for("overtime.schedule", allocation_ref=reference))
        allocation = allocation_or_404(db.session(), user, allocation_ref)
    status = 422 if request.method == "POST" else 200
    return _schedule_page(allocation, form if may_schedule else None, None, None, status)


def _schedule_page(
    allocation: Allocation,
    form: ScheduleForm | None,
    rebalance_form: RebalanceForm | None,
    rebalance_problem: str | None,
    status: int,
) -> ResponseReturnValue:
    user = signed_in_user()
    session = db.session()
    today = dt.date.today()
    states = timeline.states_of(session, allocation, today)
    requirements = timeline.requirement_views(session, [allocation.id])
    figures = rules.schedule_figures(allocation.allocated_pence, allocation.paid_pence, states)
    may_schedule = user.may("schedule_payments")
    if form is None and may_schedule:
        form = ScheduleForm(formdata=None)
        with_choices(form.frequency, FREQUENCY_CHOICES, "Choose")
    unbalanced = bool(states) and figures.unscheduled_pence != 0
    if rebalance_form is None and may_schedule and unbalanced:
        rebalance_form = RebalanceForm(prefix="rebalance", formdata=None)
    return render_template(
        "overtime/schedule.html",
        allocation=allocation,
        pot=allocation.shares[0].pot,
        states=states,
        requirements=requirements,
        requirement_status=lambda r: rules.requirement_status(r, today),
        figures=figures,
        quarter_label=rules.quarter_label,
        form=form if may_schedule else None,
        rebalance_form=rebalance_form if may_schedule and unbalanced else None,
        rebalance_problem=rebalance_problem,
        chosen={int(i) for i in request.form.getlist("rebalance-instalment") if i.isdigit()},
    ), status


@bp.route("/allocations/<allocation_ref>/rebalance", methods=["POST"])
@requires("schedule_payments")
def rebalance(allocation_ref: str) -> ResponseReturnValue:
    """After a variation: spread the change over the unpaid instalments chosen."""
    user = signed_in_user()
    allocation = allocation_or_404(db.session(), user, allocation_ref)
    form = RebalanceForm(prefix="rebalance")
    chosen = [int(i) for i in request.form.getlist("rebalance-instalment") if i.isdigit()]
    problem = None if chosen else "Choose the unpaid instalments to re-balance"
    if form.validate_on_submit() and chosen:
        reference, reason = allocation.reference, form.reason.data
        try:
            db.write(
                lambda s: timeline.rebalance_schedule(
                    s,
                    allocation=reference,
                    instalment_ids=chosen,
                    entered_by=user.username,
                    reason=reason,
                    on=dt.date.today(),
                )
            )
        except LedgerError as error:
            problem = str(error)
        else:
            flash(f"Re-balanced the instalments of {reference}: they add up again.")
            return redirect(url_for("overtime.schedule", allocation_ref=reference))
        allocation = allocation_or_404(db.session(), user, allocation_ref)
    return _schedule_page(allocation, None, form, problem, 422)


# Signed statements ------------------------------------------------------------------------


@bp.route("/pots/<id:pot_id>/signoffs", methods=["POST"])
@requires("sign_statement")
def sign(pot_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    pot = pot_or_404(db.session(), user, pot_id)
    form = SignoffForm(prefix=SIGNOFF_PREFIX)
    if form.validate_on_submit():
        assert form.as_at.day is not None
        name, as_at, since = pot.name, form.as_at.day, form.since.day
        try:
            signoff_id = db.write(
                lambda s: (
                    timeline.sign_off(
                        s, pot=name, as_at=as_at, since=since, signed_by=user.username
                    ).id
                )
            )
        except LedgerError as error:
            form.since.errors = [*form.since.errors, str(error)]
        else:
            flash(f"Signed off the statement of {name} as at {as_at:%d/%m/%Y}.")
            return redirect(url_for("overtime.signoff", signoff_id=signoff_id))
    action = url_for("overtime.sign", pot_id=pot.id)
    return render_template("overtime/sign.html", form=form, pot=pot, sign_action=action), 422


def _signoff_or_404(signoff_id: int) -> StatementSignoff:
    user = signed_in_user()
    session = db.session()
    row = session.get(StatementSignoff, signoff_id)
    if row is None:
        abort(404)
    pot_or_404(session, user, row.pot_id)
    return row


@bp.route("/signoffs/<id:signoff_id>")
@requires("view_statement")
def signoff(signoff_id: int) -> ResponseReturnValue:
    from statements.render.render_html import render_html

    row = _signoff_or_404(signoff_id)
    statement = signed_statement(db.session(), signoff_id, mark_superseded=True)
    return render_template(
        "overtime/signoff.html",
        signoff=row,
        statement=statement,
        fragment=Markup(render_html(statement, standalone=False)),
    )


@bp.route("/signoffs/<id:signoff_id>.pdf")
@requires("view_statement")
def signoff_pdf(signoff_id: int) -> Response:
    from statements.render.render_pdf import render_pdf

    row = _signoff_or_404(signoff_id)
    body = render_pdf(signed_statement(db.session(), signoff_id))
    response = Response(body, mimetype="application/pdf")
    name = f"signed-statement-{row.id}-{row.as_at.isoformat()}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# Reporting requirements -------------------------------------------------------------------


def _requirement_or_404(requirement_id: int) -> Requirement:
    user = signed_in_user()
    session = db.session()
    row = session.get(Requirement, requirement_id)
    if row is None:
        abort(404)
    allocation_or_404(session, user, row.allocation.reference)
    return row


def _requirement_page(
    requirement_id: int,
    received: ReceivedForm,
    move: MoveDueForm,
    status: int,
    waiver: WaiverForm | None = None,
    problem: str | None = None,
) -> ResponseReturnValue:
    user = signed_in_user()
    row = _requirement_or_404(requirement_id)
    session = db.session()
    view = timeline.requirement_views(session, [row.allocation_id])[row.id]
    open_ = row.received_by is None and row.waived_by is None
    may = user.may("schedule_payments") and open_
    waiting = second_person.pending_for_requirement(session, row.id) if open_ else None
    if waiver is None:
        waiver = WaiverForm(prefix="waiver", formdata=None)
    return render_template(
        "overtime/requirement.html",
        requirement=row,
        state=rules.requirement_status(view, dt.date.today()),
        received_form=received if may else None,
        move_form=move if may else None,
        waiver_form=waiver if may and waiting is None else None,
        waiting=waiting,
        decision_form=DecisionForm() if waiting is not None else None,
        may_decide=_may_decide(waiting),
        problem=problem,
    ), status


def _may_decide(waiting: SecondPersonRequest | None) -> bool:
    """Approvers decide; the person who asked may withdraw (decline) their own request."""
    if waiting is None:
        return False
    user = signed_in_user()
    return user.may("approve") or waiting.entered_by == user.username


@bp.route("/requirements/<id:requirement_id>")
@requires("view_pots")
def requirement(requirement_id: int) -> ResponseReturnValue:
    return _requirement_page(
        requirement_id, ReceivedForm(prefix="received"), MoveDueForm(prefix="move"), 200
    )


@bp.route("/requirements/<id:requirement_id>/received", methods=["POST"])
@requires("schedule_payments")
def requirement_received(requirement_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    _requirement_or_404(requirement_id)
    form = ReceivedForm(prefix="received")
    if form.validate_on_submit():
        day = form.received_on.day
        assert day is not None
        try:
            db.write(
                lambda s: timeline.receive_requirement(
                    s, requirement_id=requirement_id, received_by=user.username, received_on=day
                )
            )
        except LedgerError as error:
            form.received_on.errors = [*form.received_on.errors, str(error)]
        else:
            flash(f"Recorded as received on {day:%d/%m/%Y}.")
            return redirect(url_for("overtime.requirement", requirement_id=requirement_id))
    return _requirement_page(requirement_id, form, MoveDueForm(prefix="move", formdata=None), 422)


@bp.route("/requirements/<id:requirement_id>/due-date", methods=["POST"])
@requires("schedule_payments")
def requirement_due_date(requirement_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    _requirement_or_404(requirement_id)
    form = MoveDueForm(prefix="move")
    if form.validate_on_submit():
        day, reason = form.due_date.day, form.reason.data
        assert day is not None
        try:
            db.write(
                lambda s: timeline.move_requirement(
                    s,
                    requirement_id=requirement_id,
                    due_date=day,
                    reason=reason,
                    moved_by=user.username,
                )
            )
        except LedgerError as error:
            form.reason.errors = [*form.reason.errors, str(error)]
        else:
            flash(f"The due date is now {day:%d/%m/%Y}; the reason is in the audit log.")
            return redirect(url_for("overtime.requirement", requirement_id=requirement_id))
    return _requirement_page(
        requirement_id, ReceivedForm(prefix="received", formdata=None), form, 422
    )


@bp.route("/requirements/<id:requirement_id>/waiver", methods=["POST"])
@requires("schedule_payments")
def requirement_waiver(requirement_id: int) -> ResponseReturnValue:
    """Ask for the requirement to be waived; an approver (a second person) approves it."""
    user = signed_in_user()
    _requirement_or_404(requirement_id)
    form = WaiverForm(prefix="waiver")
    if form.validate_on_submit():
        reason = form.reason.data
        try:
            db.write(
                lambda s: second_person.ask_waiver(
                    s, requirement_id=requirement_id, reason=reason, entered_by=user.username
                )
            )
        except LedgerError as error:
            form.reason.errors = [*form.reason.errors, str(error)]
        else:
            flash("The waiver waits for a second person to approve it.")
            return redirect(url_for("overtime.requirement", requirement_id=requirement_id))
    return _requirement_page(
        requirement_id,
        ReceivedForm(prefix="received", formdata=None),
        MoveDueForm(prefix="move", formdata=None),
        422,
        waiver=form,
    )


# Waivers and phasings waiting for a second person -----------------------------------------


def _waiting_or_404(request_id: int) -> SecondPersonRequest:
    """The request, if the signed-in person may see its requirement or award."""
    user = signed_in_user()
    session = db.session()
    row = session.get(SecondPersonRequest, request_id)
    if row is None:
        abort(404)
    if row.requirement is not None:
        allocation_or_404(session, user, row.requirement.allocation.reference)
    elif row.award is not None:
        pot_or_404(session, user, row.award.pot_id)
    return row


def _decided_page(row: SecondPersonRequest, problem: str | None) -> ResponseReturnValue:
    if problem is None:
        if row.requirement_id is not None:
            return redirect(url_for("overtime.requirement", requirement_id=row.requirement_id))
        assert row.award is not None
        return redirect(url_for("overtime.phasing", award_ref=row.award.reference))
    if row.requirement_id is not None:
        return _requirement_page(
            row.requirement_id,
            ReceivedForm(prefix="received", formdata=None),
            MoveDueForm(prefix="move", formdata=None),
            422,
            problem=problem,
        )
    assert row.award is not None
    return _phasing_page(row.award.reference, None, 422, problem=problem)


@bp.route("/second-approvals/<id:waiting_id>/approve", methods=["POST"])
@requires("approve")
def second_approve(waiting_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    row = _waiting_or_404(waiting_id)
    if not DecisionForm().validate_on_submit():
        abort(400)
    try:
        db.write(
            lambda s: second_person.approve(s, request_id=waiting_id, approved_by=user.username)
        )
    except LedgerError as error:
        return _decided_page(_waiting_or_404(waiting_id), str(error))
    what = "waiver" if row.kind == "waive_requirement" else "phasing"
    flash(f"Approved the {what}; it is recorded with both names.")
    return _decided_page(row, None)


@bp.route("/second-approvals/<id:waiting_id>/decline", methods=["POST"])
@requires("view_pots")
def second_decline(waiting_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    row = _waiting_or_404(waiting_id)
    if not _may_decide(row):
        abort(403)
    if not DecisionForm().validate_on_submit():
        abort(400)
    try:
        db.write(
            lambda s: second_person.decline(s, request_id=waiting_id, declined_by=user.username)
        )
    except LedgerError as error:
        return _decided_page(_waiting_or_404(waiting_id), str(error))
    flash("Declined: it can be asked for again.")
    return _decided_page(row, None)


# The years and phasing of an award ----------------------------------------------------------


def _award_or_404(reference: str) -> Award:
    user = signed_in_user()
    session = db.session()
    award = session.scalars(select(Award).where(Award.reference == reference)).one_or_none()
    if award is None or award.is_assumption:
        abort(404)
    pot_or_404(session, user, award.pot_id)
    return award


def _phasing_page(
    reference: str, form: PhasingForm | None, status: int, problem: str | None = None
) -> ResponseReturnValue:
    user = signed_in_user()
    award = _award_or_404(reference)
    session = db.session()
    years = next(
        y for y in timeline.award_years(session, [award.pot_id]) if y.reference == reference
    )
    waiting = second_person.pending_for_award(session, award.id)
    may = user.may("record_award") and not years.phasing and waiting is None
    if form is None and may:
        form = PhasingForm(formdata=None)
    return render_template(
        "overtime/phasing.html",
        award=award,
        years=years,
        describe=timeline.describe_phasing,
        fy=label,
        waiting=waiting,
        waiting_parts=second_person.parts_of(waiting) if waiting is not None else {},
        form=form if may else None,
        decision_form=DecisionForm() if waiting is not None else None,
        may_decide=_may_decide(waiting),
        problem=problem,
    ), status


@bp.route("/awards/<award_ref>/phasing", methods=["GET", "POST"])
@requires("view_pots")
def phasing(award_ref: str) -> ResponseReturnValue:
    """The years of an award, as phased or "phasing not stated", what the documents say, and
    (for an officer) the form that phases it: an approved act."""
    user = signed_in_user()
    award = _award_or_404(award_ref)
    if request.method == "GET":
        return _phasing_page(award_ref, None, 200)
    if not user.may("record_award"):
        abort(403)
    form = PhasingForm()
    if form.validate_on_submit():
        reference, parts = award.reference, form.parsed
        try:
            waiting = db.write(
                lambda s: (
                    second_person.ask_phasing(
                        s, award=reference, parts=parts, entered_by=user.username
                    )
                    is not None
                )
            )
        except LedgerError as error:
            form.parts.errors = [*form.parts.errors, str(error)]
        else:
            flash(
                f"The phasing of {reference} waits for a second person to approve it."
                if waiting
                else f"Award {reference} is phased: {timeline.describe_phasing(parts)}."
            )
            return redirect(url_for("overtime.phasing", award_ref=reference))
    return _phasing_page(award_ref, form, 422)
