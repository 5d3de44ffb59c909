"""An allocation's instalments and payments as plain data, for exports (360Giving's
``plannedDates`` and ``disbursementTransaction``) and anything else that needs them.

Amounts are integer pence, dates ``datetime.date``; nothing here formats or writes a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import timeline


@dataclass(frozen=True)
class PlannedInstalment:
    due_date: dt.date
    amount_pence: int
    status: str  # scheduled, due, overdue or paid
    paid_pence: int
    paid_by: tuple[str, ...]  # references of the payments matched to it


@dataclass(frozen=True)
class Disbursement:
    reference: str
    date: dt.date
    amount_pence: int


@dataclass(frozen=True)
class AllocationSchedule:
    reference: str
    period_start: dt.date | None
    period_end: dt.date | None
    committed_pence: int
    instalments: tuple[PlannedInstalment, ...]
    payments: tuple[Disbursement, ...]  # payments that stand (reversed ones left out)


def allocation_schedule(session: Session, reference: str, on: dt.date) -> AllocationSchedule:
    """``reference``'s instalments (with their state as on ``on``) and its payments."""
    allocation = ops.find_allocation(session, reference)
    states = timeline.states_of(session, allocation, on)
    payments = timeline.payments_on(session, [allocation.id]).get(allocation.id, [])
    return AllocationSchedule(
        reference=allocation.reference,
        period_start=allocation.period_start,
        period_end=allocation.period_end,
        committed_pence=allocation.allocated_pence,
        instalments=tuple(
            PlannedInstalment(
                s.instalment.due_date, s.instalment.amount_pence, s.status, s.paid_pence, s.paid_by
            )
            for s in states
        ),
        payments=tuple(Disbursement(p.reference, p.date, p.amount_pence) for p in payments),
    )
