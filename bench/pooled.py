"""Pooled contracts for the benchmark's ledger, through the Python API.

The import CSV has no way to fund one allocation from several pots, so the few regional
contracts the generator plans (``Programme.pooled``) are recorded after the import with
``ledger.operations.allocate_pooled`` and paid with ``ledger.operations.pay``, in one
transaction. They are not part of the timed import.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bench.generate import Programme
from ledger import db
from ledger import operations as ops

ENTERED_BY = "bench-operator"
APPROVED_BY = "Bench"


def record_pooled(url: str, programme: Programme) -> int:
    """Record the programme's pooled contracts and their payments; returns entries posted."""
    if not programme.pooled:
        return 0

    def work(session: Session) -> int:
        posted = 0
        for contract in programme.pooled:
            ops.allocate_pooled(
                session,
                reference=contract.reference,
                shares=contract.shares,
                recipient=contract.recipient,
                date=dt.date.fromisoformat(contract.date),
                entered_by=ENTERED_BY,
                purpose=contract.purpose,
                approved_by=APPROVED_BY,
            )
            posted += 1
            for payment in contract.payments:
                ops.pay(
                    session,
                    reference=payment.reference,
                    allocation=contract.reference,
                    amount_pence=payment.amount_pence,
                    date=dt.date.fromisoformat(payment.date),
                    entered_by=ENTERED_BY,
                    memo=f"{contract.purpose}: instalment",
                    approved_by=APPROVED_BY,
                )
                posted += 1
        return posted

    engine = db.make_engine(url)
    try:
        return db.run_in_transaction(db.session_factory(engine), work)
    finally:
        engine.dispose()
