"""What each funder's money paid for: every allocation a funder's money went to, with its part.

Built on ``statements.reports.funder_view`` (the one place the attribution rule lives): each
movement of a pot's money is split between the pot's funders in proportion to their awards, so a
pooled contract shows each funder's share of it, to the penny.

**Counted once.** Money the council delegates to an intermediary (CTSI) is counted once, as the
delegation; the intermediary's sub-grants from it are listed under it ("through CTSI") to show
what the money paid for, but not added again. **By ultimate source** (``by_source=True``) money is
counted for the body it ultimately comes from: the Promise Partnership is awarded by Corra
Foundation from Scottish Government money, so by source it is the Scottish Government's, and a
report by source adds every stream up once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import NotFound
from ledger.models import Allocation, Organisation
from statements.render.formatting import day, money
from statements.reports.funder_view import (
    FunderTotal,
    build_funder_view,
    funder_of,
    ultimate_source,
)
from statements.reports.recipient_view import name_key

DIRECT = "direct"
DELEGATION = "delegation"
THROUGH = "through an intermediary"


@dataclass(frozen=True)
class FunderRow:
    funder: str
    reference: str
    recipient: str
    purpose: str
    pot: str
    pooled: bool  # the allocation is paid from several pots
    way: str  # DIRECT, DELEGATION or THROUGH
    intermediary: str | None
    counted: bool  # False for sub-grants, already counted in their delegation
    allocated_pence: int
    paid_pence: int
    returned_pence: int

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class FunderReport:
    as_at: dt.date
    by_source: bool
    funder: str | None  # the funder asked for, or None for every funder
    rows: tuple[FunderRow, ...]
    totals: tuple[FunderTotal, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "as_at": self.as_at.isoformat(),
            "by": "ultimate source" if self.by_source else "funder",
            "funder": self.funder,
            "rows": [
                {
                    "funder": r.funder,
                    "reference": r.reference,
                    "recipient": r.recipient,
                    "purpose": r.purpose,
                    "pot": r.pot,
                    "pooled": r.pooled,
                    "way": r.way,
                    "intermediary": r.intermediary,
                    "counted_in_total": r.counted,
                    "allocated": r.allocated_pence,
                    "paid": r.paid_pence,
                    "returned": r.returned_pence,
                    "unpaid": r.unpaid_pence,
                }
                for r in self.rows
            ],
            "totals": [
                {
                    "funder": t.funder,
                    "allocated": t.allocated_pence,
                    "paid": t.paid_pence,
                    "returned": t.returned_pence,
                    "unpaid": t.unpaid_pence,
                }
                for t in self.totals
            ],
        }


def build_funder_report(
    session: Session,
    *,
    funder: str | None = None,
    as_at: dt.date | None = None,
    by_source: bool = False,
) -> FunderReport:
    """What ``funder``'s money (or every funder's) paid for, as at ``as_at`` (default today)."""
    as_at = as_at or dt.date.today()
    view = build_funder_view(
        session,
        as_at=as_at,
        pooled_only=False,
        key=ultimate_source if by_source else funder_of,
    )
    allocations = {a.reference: a for a in session.scalars(select(Allocation))}
    rows: list[FunderRow] = []
    for contract in view.contracts:
        allocation = allocations[contract.reference]
        intermediary = _intermediary(allocation)
        way = (
            DELEGATION
            if allocation.delegated_pot is not None
            else THROUGH
            if intermediary
            else DIRECT
        )
        for share in contract.shares:
            if not (share.allocated_pence or share.paid_pence or share.returned_pence):
                continue  # a rejected or reversed allocation: nothing of this funder's moved
            rows.append(
                FunderRow(
                    funder=share.funder,
                    reference=contract.reference,
                    recipient=contract.recipient,
                    purpose=contract.purpose,
                    pot=share.pot,
                    pooled=len(contract.pots) > 1,
                    way=way,
                    intermediary=intermediary,
                    counted=way != THROUGH,
                    allocated_pence=share.allocated_pence,
                    paid_pence=share.paid_pence,
                    returned_pence=share.returned_pence,
                )
            )
    name: str | None = None
    if funder is not None:
        wanted = name_key(funder)
        rows = [r for r in rows if name_key(r.funder) == wanted]
        known = [n for n in session.scalars(select(Organisation.name)) if name_key(n) == wanted]
        if not rows and not known:
            raise NotFound("funder" if not by_source else "source", funder.strip(), "funder")
        name = rows[0].funder if rows else known[0]
    return FunderReport(
        as_at=as_at,
        by_source=by_source,
        funder=name,
        rows=tuple(rows),
        totals=_totals(rows),
    )


def _intermediary(allocation: Allocation) -> str | None:
    for share in allocation.shares:
        if share.pot.parent_allocation_id is not None:
            return share.pot.administered_by.name
    return None


def _totals(rows: Iterable[FunderRow]) -> tuple[FunderTotal, ...]:
    sums: dict[str, list[int]] = {}
    for row in rows:
        figures = sums.setdefault(row.funder, [0, 0, 0])
        if row.counted:
            figures[0] += row.allocated_pence
            figures[1] += row.paid_pence
            figures[2] += row.returned_pence
    return tuple(FunderTotal(name, *figures) for name, figures in sums.items())


def render_text(report: FunderReport) -> str:
    """The report as plain text, amounts in pounds."""
    whose = report.funder or ("every source" if report.by_source else "every funder")
    out = [f"What {whose}'s money paid for, as at {day(report.as_at)}"]
    if report.by_source:
        out.append("Counted by ultimate source.")
    out.append("Sub-grants made through an intermediary are counted in its delegation, once.")
    for total in report.totals:
        out += ["", total.funder]
        for r in (r for r in report.rows if r.funder == total.funder):
            marks = []
            if r.pooled:
                marks.append("pooled")
            if r.way == THROUGH:
                marks.append(f"through {r.intermediary}; in the delegation's figure")
            note = f" [{'; '.join(marks)}]" if marks else ""
            out.append(
                f"  {r.reference}  {r.recipient}: {r.purpose} ({r.pot}){note}:"
                f" allocated {money(r.allocated_pence)}, paid {money(r.paid_pence)}"
            )
        out.append(
            f"  Total: allocated {money(total.allocated_pence)}, paid {money(total.paid_pence)},"
            f" returned {money(total.returned_pence)}"
        )
    if not report.totals:
        out += ["", "Nothing allocated yet."]
    return "\n".join(out) + "\n"
