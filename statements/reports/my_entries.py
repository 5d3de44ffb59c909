"""What one person entered, and what became of it: "My entries".

Everything a person enters in the web app waits for a second person: an allocation is
provisional until approved, a variation or payment is a request until approved. This lists the
allocations and requests ``username`` entered, newest first, with their status (provisional,
confirmed, closed or rejected for an allocation; pending, approved or rejected for a request),
who decided and when, and for a rejection the reason given. ``unacknowledged_rejections`` is what
the dashboard shows them until they say they have seen it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, lazyload

from ledger.models import Acknowledgement, Allocation, AuditEvent, Entry, Request
from ledger.operations import REQUEST_WORDS
from statements.reports.awaiting import as_utc

ALLOCATION = "allocation"
REQUEST = "request"


@dataclass(frozen=True)
class MyEntry:
    kind: str  # ALLOCATION or REQUEST
    item: str  # the allocation's reference, or the request's id
    what: str  # "Allocation WFWF-22-03", "Payment 7 on CTSI-22-01"
    recipient: str
    description: str
    amount_pence: int
    entered_at: dt.datetime
    status: str
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str  # why it was rejected; empty otherwise
    acknowledged: bool

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"


def my_entries(session: Session, username: str, *, rejected_only: bool = False) -> list[MyEntry]:
    """Everything ``username`` entered (or only what was rejected), newest first."""
    acknowledged = {
        (a.kind, a.item)
        for a in session.scalars(
            select(Acknowledgement).where(Acknowledgement.username == username)
        )
    }
    rejections = _allocation_rejections(session, username)
    entered = _amounts_entered(session, username)
    found: list[MyEntry] = []
    allocations = (
        select(Allocation)
        .where(Allocation.entered_by == username)
        .order_by(Allocation.id)
        .options(joinedload(Allocation.recipient), lazyload(Allocation.shares))
    )
    requests = (
        select(Request)
        .where(Request.entered_by == username)
        .order_by(Request.id)
        .options(joinedload(Request.allocation).joinedload(Allocation.recipient))
    )
    if rejected_only:
        allocations = allocations.where(Allocation.status == "rejected")
        requests = requests.where(Request.status == "rejected")
    for allocation in session.scalars(allocations):
        rejection = rejections.get(allocation.reference)
        decided_by, decided_at, reason = (
            rejection
            if rejection and allocation.status == "rejected"
            else (allocation.approved_by, allocation.approved_at, "")
        )
        found.append(
            MyEntry(
                kind=ALLOCATION,
                item=allocation.reference,
                what=f"Allocation {allocation.reference}",
                recipient=allocation.recipient.name,
                description=allocation.purpose,
                # A rejected allocation holds nothing now: show what was entered.
                amount_pence=entered.get(allocation.id, allocation.allocated_pence)
                if allocation.status == "rejected"
                else allocation.allocated_pence,
                entered_at=as_utc(allocation.created_at),
                status=allocation.status,
                decided_by=decided_by,
                decided_at=as_utc(decided_at) if decided_at else None,
                reason=reason,
                acknowledged=(ALLOCATION, allocation.reference) in acknowledged,
            )
        )
    for request in session.scalars(requests):
        kind = REQUEST_WORDS[request.kind].capitalize()
        subject = request.allocation.reference if request.allocation else request.reference
        found.append(
            MyEntry(
                kind=REQUEST,
                item=str(request.id),
                what=f"{kind} {request.id}" + (f" on {subject}" if subject else ""),
                recipient=request.allocation.recipient.name if request.allocation else "",
                description=request.memo,
                amount_pence=request.amount_pence,
                entered_at=as_utc(request.entered_at),
                status=request.status,
                decided_by=request.decided_by,
                decided_at=as_utc(request.decided_at) if request.decided_at else None,
                reason=(request.decision_note or "") if request.status == "rejected" else "",
                acknowledged=(REQUEST, str(request.id)) in acknowledged,
            )
        )
    found.sort(key=lambda e: e.entered_at, reverse=True)
    return found


def unacknowledged_rejections(session: Session, username: str) -> list[MyEntry]:
    """What ``username`` entered that was rejected and they have not yet acknowledged."""
    return [e for e in my_entries(session, username, rejected_only=True) if not e.acknowledged]


def _amounts_entered(session: Session, username: str) -> dict[int, int]:
    """What each rejected allocation ``username`` entered was for: its allocating entry."""
    rejected = select(Allocation.id).where(
        Allocation.entered_by == username, Allocation.status == "rejected"
    )
    rows = session.execute(
        select(Entry.allocation_id, Entry.amount_pence)
        .where(Entry.kind.in_(("allocate", "delegate")), Entry.allocation_id.in_(rejected))
        .order_by(Entry.id)
    ).tuples()
    amounts: dict[int, int] = {}
    for allocation_id, pence in rows:
        if allocation_id is not None:
            amounts.setdefault(allocation_id, pence)
    return amounts


def _allocation_rejections(
    session: Session, username: str
) -> dict[str, tuple[str, dt.datetime, str]]:
    """For each allocation ``username`` entered that was rejected: who, when and why (the
    ledger records the reason in the audit events)."""
    mine = select(Allocation.reference).where(
        Allocation.entered_by == username, Allocation.status == "rejected"
    )
    subjects = {f"allocation {reference}": reference for reference in session.scalars(mine)}
    if not subjects:
        return {}
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "reject", AuditEvent.subject.in_(list(subjects)))
        .order_by(AuditEvent.id)
    )
    return {subjects[e.subject]: (e.actor, e.at, e.detail) for e in events}
