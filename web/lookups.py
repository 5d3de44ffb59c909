"""Reads the views share: a pot or allocation by its URL key (404 if missing, 403 if out of the
person's scope) and the choices a form offers, limited to what the person may act on.

Keys typed into a URL or a form are checked before they reach the database: a row id is 1 to
``MAX_ROW_ID`` in ASCII digits (the ``id`` URL converter), and an allocation reference is at most
``MAX_REFERENCE_CHARS`` characters without NUL. Anything else is simply not found, rather than an
integer overflow or a driver error (PostgreSQL refuses NUL in text) and a 500.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask import abort
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, lazyload
from werkzeug.routing import IntegerConverter, Map

from ledger.models import Allocation, AllocationShare, Entry, Pot, Request
from ledger.operations import MAX_REFERENCE_CHARS, holds_by_pot, pending_reductions
from statements.render.formatting import money
from web.permissions import CurrentUser, pots_in_scope, require_allocation, require_pot

PURPOSE_CHARS = 50
MAX_ROW_ID = 2**31 - 1
"""The largest id an ``INTEGER`` primary key holds on PostgreSQL."""
_ROW_ID = re.compile(r"[0-9]{1,10}", re.ASCII)


class RowIdConverter(IntegerConverter):
    """``<id:pot_id>``: a row id in a URL, 1 to ``MAX_ROW_ID`` in ASCII digits; anything else
    (``0``, ``-1``, ``99999999999999999999``, other scripts' digits) does not match: 404."""

    regex = r"[0-9]{1,10}"

    def __init__(self, url_map: Map, *_args: Any, **_kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


def row_id(value: str | None) -> int | None:
    """A row id typed into a form or a query string, or None if it cannot be one."""
    if value is None or not _ROW_ID.fullmatch(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ROW_ID else None


def plausible_reference(value: str | None) -> bool:
    """Could ``value`` be an allocation's reference? (Not blank, not too long, no NUL.)"""
    return value is not None and 0 < len(value) <= MAX_REFERENCE_CHARS and "\x00" not in value


def pot_or_404(session: Session, user: CurrentUser, pot_id: int) -> Pot:
    pot = session.get(Pot, pot_id) if 1 <= pot_id <= MAX_ROW_ID else None
    if pot is None:
        abort(404)
    require_pot(user, pot)
    return pot


def allocation_or_404(session: Session, user: CurrentUser, reference: str) -> Allocation:
    allocation = _allocation(session, reference)
    if allocation is None:
        abort(404)
    require_allocation(user, allocation)
    return allocation


def _allocation(session: Session, reference: str | None) -> Allocation | None:
    if not plausible_reference(reference):
        return None
    return session.scalars(
        select(Allocation).where(Allocation.reference == reference)
    ).one_or_none()


def guard_submitted_pot(session: Session, user: CurrentUser, *raw: str | None) -> None:
    """403 when a pot id in the URL or the form names a pot outside the person's scope (an
    edited URL or form), rather than quietly ignoring it."""
    for value in raw:
        number = row_id(value)
        if number is not None:
            pot = session.get(Pot, number)
            if pot is not None:
                require_pot(user, pot)


def guard_submitted_allocation(session: Session, user: CurrentUser, *raw: str | None) -> None:
    """403 when an allocation reference in the URL or the form is outside the scope."""
    for value in raw:
        allocation = _allocation(session, value)
        if allocation is not None:
            require_allocation(user, allocation)


def pot_choices(session: Session, user: CurrentUser, *, delegated: bool) -> list[tuple[str, str]]:
    """Pots to allocate from: top-level pots, or (``delegated``) pots opened by a delegation."""
    query = select(Pot).where(pots_in_scope(user))
    query = query.where(
        Pot.parent_allocation_id.is_not(None) if delegated else Pot.parent_allocation_id.is_(None)
    )
    pots = session.scalars(query.order_by(Pot.name)).all()
    held = holds_by_pot(session) if pots else {}
    return [
        (str(pot.id), f"{pot.name} ({money(pot.available_pence - held.get(pot.id, 0))} available)")
        for pot in pots
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
    waiting = pending_reductions(session)
    for allocation in session.scalars(_allocations_in_scope(user)):
        if not _fits(allocation, purpose):
            continue
        what = allocation.purpose or allocation.recipient.name
        if len(what) > PURPOSE_CHARS:
            what = what[: PURPOSE_CHARS - 1] + "…"
        figure = (
            f"{money(allocation.paid_pence - allocation.returned_pence)} paid"
            if purpose == "return"
            else f"{money(allocation.unpaid_pence - waiting.get(allocation.id, 0))} unpaid"
        )
        label = f"{allocation.reference}: {allocation.recipient.name}, {what} ({figure})"
        choices.append((allocation.reference, label))
    return choices


def _fits(allocation: Allocation, purpose: str) -> bool:
    if purpose == "vary":
        return allocation.status not in ("closed", "rejected")
    if purpose == "pay":
        return allocation.status == "confirmed" and allocation.unpaid_pence > 0
    return allocation.paid_pence > allocation.returned_pence


def pot_of_allocation(session: Session, reference: str) -> int:
    allocation = session.scalars(select(Allocation).where(Allocation.reference == reference)).one()
    return allocation.shares[0].pot_id


def journal_for(session: Session, pot: Pot, limit: int | None = None) -> Sequence[Entry]:
    """The pot's entries, newest first: those posted from it and those delegating to it."""
    order = (Entry.effective_date.desc(), Entry.id.desc())
    if not limit:
        return session.scalars(
            select(Entry)
            .where(or_(Entry.pot_id == pot.id, Entry.to_pot_id == pot.id))
            .order_by(*order)
        ).all()
    # Two limited queries, each read straight off its index, rather than one OR that scans the
    # whole journal: the page stays as fast at a million entries as at a hundred.
    found: dict[int, Entry] = {}
    for column in (Entry.pot_id, Entry.to_pot_id):
        for entry in session.scalars(
            select(Entry)
            .where(column == pot.id)
            .order_by(*order)
            .limit(limit)
            .options(lazyload(Entry.lines))  # the page lists entries, not their lines
        ):
            found[entry.id] = entry
    newest = sorted(found.values(), key=lambda e: (e.effective_date, e.id), reverse=True)
    return newest[:limit]


def pending_requests(session: Session, user: CurrentUser) -> Sequence[Request]:
    query = select(Request).where(Request.status == "pending").order_by(Request.id)
    if user.scoped:
        query = query.where(
            Request.allocation_id.in_(_allocations_in_scope(user).with_only_columns(Allocation.id))
            | Request.pot_id.in_(select(Pot.id).where(pots_in_scope(user)))
        )
    return session.scalars(query).all()


def provisional_allocations(session: Session, user: CurrentUser) -> Sequence[Allocation]:
    query = _allocations_in_scope(user).where(Allocation.status == "provisional")
    return session.scalars(query).all()
