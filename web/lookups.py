"""Reads the views share: a pot or allocation by its URL key (404 if missing, 403 if out of the
person's scope) and the choices a form offers, limited to what the person may act on."""

from __future__ import annotations

from collections.abc import Sequence

from flask import abort
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from ledger.models import Allocation, AllocationShare, Entry, Pot, Request
from statements.formatting import money
from web.permissions import CurrentUser, pots_in_scope, require_allocation, require_pot

PURPOSE_CHARS = 50


def pot_or_404(session: Session, user: CurrentUser, pot_id: int) -> Pot:
    pot = session.get(Pot, pot_id)
    if pot is None:
        abort(404)
    require_pot(user, pot)
    return pot


def allocation_or_404(session: Session, user: CurrentUser, reference: str) -> Allocation:
    allocation = session.scalars(
        select(Allocation).where(Allocation.reference == reference)
    ).one_or_none()
    if allocation is None:
        abort(404)
    require_allocation(user, allocation)
    return allocation


def guard_submitted_pot(session: Session, user: CurrentUser, *raw: str | None) -> None:
    """403 when a pot id in the URL or the form names a pot outside the person's scope (an
    edited URL or form), rather than quietly ignoring it."""
    for value in raw:
        if value and value.isdigit():
            pot = session.get(Pot, int(value))
            if pot is not None:
                require_pot(user, pot)


def guard_submitted_allocation(session: Session, user: CurrentUser, *raw: str | None) -> None:
    """403 when an allocation reference in the URL or the form is outside the scope."""
    for value in raw:
        if value:
            allocation = session.scalars(
                select(Allocation).where(Allocation.reference == value)
            ).one_or_none()
            if allocation is not None:
                require_allocation(user, allocation)


def pot_choices(session: Session, user: CurrentUser, *, delegated: bool) -> list[tuple[str, str]]:
    """Pots to allocate from: top-level pots, or (``delegated``) pots opened by a delegation."""
    query = select(Pot).where(pots_in_scope(user))
    query = query.where(
        Pot.parent_allocation_id.is_not(None) if delegated else Pot.parent_allocation_id.is_(None)
    )
    return [
        (str(pot.id), f"{pot.name} ({money(pot.available_pence)} available)")
        for pot in session.scalars(query.order_by(Pot.name))
    ]


def pot_name(session: Session, pot_id: str) -> str:
    pot = session.get(Pot, int(pot_id))
    if pot is None:  # pragma: no cover - the choices came from the same table
        abort(404)
    return pot.name


def _allocations_in_scope(user: CurrentUser) -> Select[tuple[Allocation]]:
    query = select(Allocation).order_by(Allocation.reference)
    if user.scoped:
        mine = (
            select(AllocationShare.allocation_id)
            .join(Pot, Pot.id == AllocationShare.pot_id)
            .where(pots_in_scope(user))
        )
        query = query.where(Allocation.id.in_(mine))
    return query


def allocation_choices(session: Session, user: CurrentUser, purpose: str) -> list[tuple[str, str]]:
    """Allocations this person may vary, pay or take a return on (``purpose``)."""
    choices = []
    for allocation in session.scalars(_allocations_in_scope(user)):
        if not _fits(allocation, purpose):
            continue
        what = allocation.purpose or allocation.recipient.name
        if len(what) > PURPOSE_CHARS:
            what = what[: PURPOSE_CHARS - 1] + "…"
        figure = (
            f"{money(allocation.paid_pence - allocation.returned_pence)} paid"
            if purpose == "return"
            else f"{money(allocation.unpaid_pence)} unpaid"
        )
        label = f"{allocation.reference}: {allocation.recipient.name}, {what} ({figure})"
        choices.append((allocation.reference, label))
    return choices


def _fits(allocation: Allocation, purpose: str) -> bool:
    if purpose == "vary":
        return allocation.status != "closed"
    if purpose == "pay":
        return allocation.status == "confirmed" and allocation.unpaid_pence > 0
    return allocation.paid_pence > allocation.returned_pence


def pot_of_allocation(session: Session, reference: str) -> int:
    allocation = session.scalars(select(Allocation).where(Allocation.reference == reference)).one()
    return allocation.shares[0].pot_id


def journal_for(session: Session, pot: Pot, limit: int | None = None) -> Sequence[Entry]:
    query = (
        select(Entry)
        .where(or_(Entry.pot_id == pot.id, Entry.to_pot_id == pot.id))
        .order_by(Entry.effective_date.desc(), Entry.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return session.scalars(query).all()


def pending_requests(session: Session, user: CurrentUser) -> Sequence[Request]:
    query = select(Request).where(Request.status == "pending").order_by(Request.id)
    if user.scoped:
        query = query.where(
            Request.allocation_id.in_(_allocations_in_scope(user).with_only_columns(Allocation.id))
        )
    return session.scalars(query).all()


def provisional_allocations(session: Session, user: CurrentUser) -> Sequence[Allocation]:
    query = _allocations_in_scope(user).where(Allocation.status == "provisional")
    return session.scalars(query).all()
