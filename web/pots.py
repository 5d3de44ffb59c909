"""The dashboard of pots, a pot's page (its figures, awards, allocations, sub-pots and recent
journal) and a pot's whole journal. Read-only: every role may look, an intermediary
administrator only at their organisation's pots."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from ledger.models import Allocation, AllocationShare, Award, Pot, Request
from ledger.readout import pot_balance, pot_balances
from web import db
from web.lookups import journal_for, pending_requests, pot_or_404, provisional_allocations
from web.permissions import pot_in_scope, requires, signed_in_user

bp = Blueprint("pots", __name__)
RECENT_ENTRIES = 15


@bp.route("/")
@requires("view_pots")
def dashboard() -> str:
    user = signed_in_user()
    session = db.session()
    pots = session.scalars(select(Pot).order_by(Pot.id)).all()
    ids = {pot.name: pot.id for pot in pots if pot_in_scope(user, pot)}
    balances = [b for b in pot_balances(session) if b.name in ids]
    waiting = (
        len(pending_requests(session, user)) + len(provisional_allocations(session, user))
        if user.may("approve")
        else 0
    )
    return render_template("pots/dashboard.html", balances=balances, ids=ids, waiting=waiting)


@bp.route("/pots/<int:pot_id>")
@requires("view_pots")
def pot(pot_id: int) -> str:
    user = signed_in_user()
    session = db.session()
    found = pot_or_404(session, user, pot_id)
    assumed = sum(
        a.amount_pence
        for a in session.scalars(
            select(Award).where(Award.pot_id == found.id, Award.is_assumption.is_(True))
        )
    )
    shares = session.scalars(
        select(AllocationShare)
        .where(AllocationShare.pot_id == found.id)
        .order_by(AllocationShare.allocation_id)
    ).all()
    awards = session.scalars(
        select(Award).where(Award.pot_id == found.id).order_by(Award.award_date, Award.id)
    ).all()
    sub_pots = [s.allocation.delegated_pot for s in shares if s.allocation.delegated_pot]
    requests = session.scalars(
        select(Request)
        .join(AllocationShare, AllocationShare.allocation_id == Request.allocation_id)
        .where(AllocationShare.pot_id == found.id, Request.status == "pending")
        .order_by(Request.id)
    ).all()
    parent: Allocation | None = found.parent_allocation
    return render_template(
        "pots/pot.html",
        pot=found,
        balance=pot_balance(found, assumed),
        awards=awards,
        shares=shares,
        sub_pots=sub_pots,
        requests=requests,
        parent=parent,
        parent_pot=parent.shares[0].pot if parent is not None else None,
        entries=journal_for(session, found, RECENT_ENTRIES + 1),
        recent=RECENT_ENTRIES,
    )


@bp.route("/pots/<int:pot_id>/journal")
@requires("view_pots")
def journal(pot_id: int) -> str:
    user = signed_in_user()
    session = db.session()
    found = pot_or_404(session, user, pot_id)
    return render_template("pots/journal.html", pot=found, entries=journal_for(session, found))
