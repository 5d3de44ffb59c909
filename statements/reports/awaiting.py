"""What awaits a second person's approval, oldest first, and how long each has waited.

Two kinds of thing wait: a **provisional allocation** (entered without approval, its money held,
not yet payable) and a **request** (a variation or payment entered without approval). Each is
shown with who entered it, when, and how long it has waited, in words ("waited 3 days"), so the
oldest is dealt with first. ``key`` is what ``commonpurse approve KEY`` takes: the allocation's
reference, or the request's reference (its number when it has none).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import Allocation, Request, utcnow
from ledger.operations import REQUEST_WORDS

ALLOCATION = "allocation"
VARIATION = REQUEST_WORDS["vary"]
PAYMENT = REQUEST_WORDS["pay"]


def as_utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC; PostgreSQL an aware time."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def waited(since: dt.datetime, now: dt.datetime) -> str:
    """How long something has waited, as people say it: ``waited 3 days``, ``waited 5 hours``,
    ``waited 1 minute``, ``waited less than a minute``. Whole units, rounded down."""
    seconds = max(0, int((as_utc(now) - as_utc(since)).total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        count = seconds // size
        if count:
            return f"waited {count} {unit}{'' if count == 1 else 's'}"
    return "waited less than a minute"


@dataclass(frozen=True)
class Awaiting:
    kind: str  # ALLOCATION, VARIATION or PAYMENT
    key: str
    allocation: str
    recipient: str
    pots: tuple[str, ...]
    description: str
    amount_pence: int
    entered_by: str
    entered_at: dt.datetime
    waited: str

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "key": self.key,
            "allocation": self.allocation,
            "recipient": self.recipient,
            "pots": list(self.pots),
            "description": self.description,
            "amount": self.amount_pence,
            "entered_by": self.entered_by,
            "entered_at": as_utc(self.entered_at).isoformat(),
            "waited": self.waited,
        }


def request_key(request: Request) -> str:
    return request.reference or str(request.id)


def build_awaiting(
    session: Session, *, now: dt.datetime | None = None, administered_by: int | None = None
) -> list[Awaiting]:
    """Everything awaiting approval, oldest first. ``administered_by`` (an organisation id)
    keeps only what is in the pots that organisation administers."""
    now = now or utcnow()
    items: list[Awaiting] = []

    def in_scope(allocation: Allocation) -> bool:
        return administered_by is None or all(
            share.pot.administered_by_id == administered_by for share in allocation.shares
        )

    for allocation in session.scalars(
        select(Allocation).where(Allocation.status == "provisional").order_by(Allocation.id)
    ):
        if not in_scope(allocation):
            continue
        items.append(
            Awaiting(
                kind=ALLOCATION,
                key=allocation.reference,
                allocation=allocation.reference,
                recipient=allocation.recipient.name,
                pots=tuple(share.pot.name for share in allocation.shares),
                description=allocation.purpose,
                amount_pence=allocation.allocated_pence,
                entered_by=allocation.entered_by,
                entered_at=as_utc(allocation.created_at),
                waited=waited(allocation.created_at, now),
            )
        )
    for request in session.scalars(
        select(Request).where(Request.status == "pending").order_by(Request.id)
    ):
        if request.allocation is not None:
            if not in_scope(request.allocation):
                continue
            subject, recipient = request.allocation.reference, request.allocation.recipient.name
            pots = tuple(share.pot.name for share in request.allocation.shares)
        else:
            pot = request.pot
            if administered_by is not None and (
                pot is None or pot.administered_by_id != administered_by
            ):
                continue
            subject, recipient = request.reference or "", ""
            pots = (pot.name,) if pot is not None else ()
        items.append(
            Awaiting(
                kind=REQUEST_WORDS[request.kind],
                key=request_key(request),
                allocation=subject,
                recipient=recipient,
                pots=pots,
                description=request.memo,
                amount_pence=request.amount_pence,
                entered_by=request.entered_by,
                entered_at=as_utc(request.entered_at),
                waited=waited(request.entered_at, now),
            )
        )
    items.sort(key=lambda item: item.entered_at)
    return items
