"""The dashboard of pots, a pot's page (its figures, awards, allocations, requests waiting for
approval and recent journal) and a pot's whole journal. Read-only: every role may look, an
intermediary administrator only at their organisation's pots.

Both pages read a fixed number of queries: the figures are maintained on the pots and allocation
shares, never summed from the journal, and a pot's allocations are shown a page at a time, each
page loaded with its recipients, tags, shares and delegated pots in one go. Neither grows with
the number of journal entries or payments.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flask import Blueprint, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager, joinedload, lazyload, selectinload

from ledger import timeline
from ledger.models import Allocation, AllocationShare, Award, Organisation, Pot, Request
from ledger.readout import award_reductions, balances_layout, pot_balances, pot_balances_by_id
from statements.render.formatting import money
from statements.reports.my_entries import unacknowledged_rejections
from web import db
from web.lookups import journal_for, pending_requests, pot_or_404, provisional_allocations
from web.permissions import pots_in_scope, requires, scope_organisation, signed_in_user

bp = Blueprint("pots", __name__)
RECENT_ENTRIES = 15
ALLOCATIONS_PER_PAGE = 50
_PAGE_NUMBER = re.compile(r"[0-9]{1,9}", re.ASCII)

# The long tables' amounts (``money`` in en_GB is ``ledger.money.format_pence``: no cache needed).
amount = money


@bp.context_processor
def _amounts() -> dict[str, object]:
    return {"amount": amount}


@bp.route("/")
@requires("view_pots")
def dashboard() -> str:
    user = signed_in_user()
    session = db.session()
    rows = pot_balances_by_id(session, administered_by=scope_organisation(user))
    ids = {balance.name: pot_id for pot_id, balance in rows}
    balances = [balance for _, balance in rows]
    waiting = (
        len(pending_requests(session, user)) + len(provisional_allocations(session, user))
        if user.may("approve")
        else 0
    )
    overdue = timeline.overdue(session, dt.date.today(), pots_in_scope(user))
    shown = {balance.name for balance in balances}
    # A delegated pot's money is already in its parent's Allocated: the totals count it once.
    counted = [b for b in balances if b.parent_pot not in shown]
    layout = balances_layout(balances)
    totals = {c.key: sum(c.of(b) for b in counted) for c in layout.columns}
    return render_template(
        "pots/dashboard.html",
        balances=balances,
        layout=layout,
        ids=ids,
        waiting=waiting,
        totals=totals,
        delegated_left_out=len(balances) - len(counted),
        rejected=unacknowledged_rejections(session, user.username),
        overdue=overdue,
    )


@dataclass(frozen=True)
class Pages:
    """Which slice of a long list a page shows: ``number`` of ``count``, items ``first`` to
    ``last`` (counting from 1) of ``total``."""

    number: int
    count: int
    total: int
    size: int

    @classmethod
    def of(cls, total: int, size: int, asked: str | None) -> Pages:
        count = max(1, -(-total // size))
        number = int(asked) if asked and _PAGE_NUMBER.fullmatch(asked) else 1
        return cls(min(max(number, 1), count), count, total, size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)


@bp.route("/pots/<id:pot_id>")
@requires("view_pots")
def pot(pot_id: int) -> str:
    user = signed_in_user()
    session = db.session()
    found = pot_or_404(session, user, pot_id)
    (balance,) = pot_balances(session, pot_id=found.id)
    awards = session.scalars(
        select(Award)
        .where(Award.pot_id == found.id)
        .order_by(Award.award_date, Award.id)
        .options(joinedload(Award.funder).lazyload(Organisation.roles))
    ).all()
    total = session.scalar(
        select(func.count()).select_from(AllocationShare).where(AllocationShare.pot_id == found.id)
    )
    pages = Pages.of(total or 0, ALLOCATIONS_PER_PAGE, request.args.get("page"))
    shares = session.scalars(
        select(AllocationShare)
        .join(AllocationShare.allocation)
        .where(AllocationShare.pot_id == found.id)
        .order_by(AllocationShare.allocation_id)
        .offset(pages.offset)
        .limit(pages.size)
        .options(
            contains_eager(AllocationShare.allocation).options(
                joinedload(Allocation.recipient).lazyload(Organisation.roles),
                joinedload(Allocation.delegated_pot),
                selectinload(Allocation.shares),
                selectinload(Allocation.tags),
            )
        )
    ).all()
    requests = session.scalars(
        select(Request)
        .join(AllocationShare, AllocationShare.allocation_id == Request.allocation_id)
        .where(AllocationShare.pot_id == found.id, Request.status == "pending")
        .order_by(Request.id)
        .options(
            joinedload(Request.allocation).options(
                lazyload(Allocation.shares), lazyload(Allocation.tags)
            )
        )
    ).all()
    parent: Allocation | None = found.parent_allocation
    return render_template(
        "pots/pot.html",
        pot=found,
        balance=balance,
        awards=awards,
        shares=shares,
        pages=pages,
        requests=requests,
        parent=parent,
        parent_pot=parent.shares[0].pot if parent is not None else None,
        recent=RECENT_ENTRIES,
        **_journal(session, found, RECENT_ENTRIES + 1),
    )


@bp.route("/pots/<id:pot_id>/journal")
@requires("view_pots")
def journal(pot_id: int) -> str:
    user = signed_in_user()
    session = db.session()
    found = pot_or_404(session, user, pot_id)
    return render_template("pots/journal.html", pot=found, **_journal(session, found))


def _journal(session: Session, pot: Pot, limit: int | None = None) -> dict[str, object]:
    """The pot's entries for ``pots/_entries.html``, with which of them are award reductions
    (shown as such, below zero) found in one query."""
    entries = journal_for(session, pot, limit)
    return {
        "entries": entries,
        "reductions": award_reductions(session, (e.id for e in entries)),
    }
