"""Acknowledging a rejection: the person who entered an allocation or a request has seen that it
was rejected, and why, so it no longer needs their attention. Moves no money; repeating it is
harmless."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput, NotFound
from ledger.models import ACKNOWLEDGED_KINDS, Acknowledgement, Allocation, Request


def acknowledge(session: Session, *, username: str, kind: str, item: str) -> None:
    """Record that ``username`` has seen the rejection of the allocation (reference ``item``)
    or the request (id ``item``) they entered. Only its own rejected entries can be
    acknowledged."""
    if kind not in ACKNOWLEDGED_KINDS:
        raise InvalidInput(f"Only an allocation or a request can be acknowledged, not {kind!r}")
    entered_by, status = _item(session, kind, item)
    if entered_by != username:
        raise InvalidInput(f"{username} did not enter {kind} {item}: only its author acknowledges")
    if status != "rejected":
        raise InvalidInput(f"The {kind} {item} was not rejected: there is nothing to acknowledge")
    known = session.scalars(
        select(Acknowledgement).where(
            Acknowledgement.username == username,
            Acknowledgement.kind == kind,
            Acknowledgement.item == item,
        )
    ).one_or_none()
    if known is None:
        session.add(Acknowledgement(username=username, kind=kind, item=item))
        session.flush()


def _item(session: Session, kind: str, item: str) -> tuple[str, str]:
    if kind == "allocation":
        allocation = session.scalars(
            select(Allocation).where(Allocation.reference == item)
        ).one_or_none()
        if allocation is None:
            raise NotFound("allocation", item)
        return allocation.entered_by, allocation.status
    request = session.get(Request, int(item)) if item.isdigit() and len(item) < 10 else None
    if request is None:
        raise NotFound("request", item)
    return request.entered_by, request.status
