"""The cash forecast: month by month, per pot and in total, cash expected in against scheduled
payments out, and the first month in which cash held goes negative.

* **Opening cash** is each pot's cash held today (its cash account in the journal: money
  received, less money paid out, plus money handed down to a delegated pot).
* **Receipts** are what funders still owe on their awards, when it is due: the award's receipt
  instalments if it has any; else its phasing, each year's part on 1 April; else the whole
  award on its award date. What has been received is matched against them oldest first. A
  delegated pot receives its delegation's scheduled payments.
* **Payments** are the unpaid parts of the allocations' instalments, each pot bearing its share
  of a pooled contract (split by the agreed weights, to the penny). Committed money with no
  instalments is shown apart as *unscheduled*: it has no month.
* **Expected funding** (a commitment with no award) is never counted in cash held: it has its
  own column and a second running total, "cash with expected".
* Anything due before the first month (overdue) falls into the first month.

The total is the sum of the pots, month by month; money handed from a pot to its delegated pot
leaves one and arrives in the other, so it cancels in the total.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from ledger import schedule as rules
from ledger import timeline
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    Award,
    AwardPhasing,
    ExpectedFunding,
    Instalment,
    Pot,
)
from ledger.money import split_by_ratios
from statements.render.csv_safe import Amount, write_csv
from statements.render.formatting import money

MONTHS = 24
CSV_HEADER = (
    "pot",
    "month",
    "receipts",
    "expected",
    "payments",
    "cash_held",
    "cash_with_expected",
)


@dataclass(frozen=True)
class Month:
    start: dt.date  # the first day of the month
    receipts_pence: int
    expected_pence: int
    payments_pence: int
    cash_pence: int  # cash held at the month's end, expected funding left out
    cash_with_expected_pence: int

    @property
    def label(self) -> str:
        return f"{self.start:%b %Y}"


@dataclass(frozen=True)
class PotForecast:
    pot: str
    opening_cash_pence: int
    months: tuple[Month, ...]
    unscheduled_pence: int

    @property
    def first_negative(self) -> Month | None:
        """The first month whose closing cash held is below zero."""
        return next((m for m in self.months if m.cash_pence < 0), None)

    def verdict(self) -> str:
        month = self.first_negative
        if month is None:
            return f"{self.pot}: cash held stays at or above £0.00 for {len(self.months)} months."
        return (
            f"{self.pot}: cash held first goes negative in {month.start:%B %Y}, by"
            f" {money(-month.cash_pence)}."
        )


@dataclass(frozen=True)
class Forecast:
    first_month: dt.date
    pots: tuple[PotForecast, ...]
    total: PotForecast


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def build_forecast(
    session: Session,
    *,
    today: dt.date,
    months: int = MONTHS,
    pots: ColumnElement[bool] | None = None,
) -> Forecast:
    """The forecast from ``today``'s month for ``months`` months over the pots ``pots``
    selects (all when None)."""
    first = month_start(today)
    chosen = list(
        session.scalars(select(Pot).where(pots if pots is not None else true()).order_by(Pot.id))
    )
    ids = [p.id for p in chosen]
    flows = _Flows(first, months)
    _receipts(session, ids, flows, today)
    _payments(session, ids, flows, today)
    _expected(session, ids, flows)
    cash = dict(
        session.execute(
            select(Account.pot_id, Account.balance_pence).where(
                Account.kind == "cash", Account.pot_id.in_(ids)
            )
        )
        .tuples()
        .all()
    )
    forecasts = tuple(flows.forecast(pot.name, pot.id, int(cash.get(pot.id, 0))) for pot in chosen)
    return Forecast(first, forecasts, total_of(forecasts, first, months))


def total_of(parts: Sequence[PotForecast], first: dt.date, months: int) -> PotForecast:
    """The sum of the pots' forecasts, month by month."""
    rows = []
    for index in range(months):
        of_month = [p.months[index] for p in parts]
        rows.append(
            Month(
                rules.add_months(first, index),
                sum(m.receipts_pence for m in of_month),
                sum(m.expected_pence for m in of_month),
                sum(m.payments_pence for m in of_month),
                sum(m.cash_pence for m in of_month),
                sum(m.cash_with_expected_pence for m in of_month),
            )
        )
    return PotForecast(
        "Total",
        sum(p.opening_cash_pence for p in parts),
        tuple(rows),
        sum(p.unscheduled_pence for p in parts),
    )


class _Flows:
    """Money in and out of each pot, by month index (0 is the first month)."""

    def __init__(self, first: dt.date, months: int) -> None:
        self.first = first
        self.months = months
        self.receipts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.expected: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.payments: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.unscheduled: dict[int, int] = defaultdict(int)

    def index(self, day: dt.date) -> int | None:
        """The month a flow falls in; before the first month counts as the first."""
        offset = (day.year - self.first.year) * 12 + day.month - self.first.month
        offset = max(offset, 0)
        return offset if offset < self.months else None

    def add(self, table: dict[int, dict[int, int]], pot_id: int, day: dt.date, pence: int) -> None:
        index = self.index(day)
        if index is not None and pence:
            table[pot_id][index] += pence

    def forecast(self, name: str, pot_id: int, opening: int) -> PotForecast:
        cash = with_expected = opening
        rows = []
        for index in range(self.months):
            receipts = self.receipts[pot_id][index]
            expected = self.expected[pot_id][index]
            payments = self.payments[pot_id][index]
            cash += receipts - payments
            with_expected += receipts + expected - payments
            rows.append(
                Month(
                    rules.add_months(self.first, index),
                    receipts,
                    expected,
                    payments,
                    cash,
                    with_expected,
                )
            )
        return PotForecast(name, opening, tuple(rows), self.unscheduled[pot_id])


def _receipts(session: Session, pot_ids: list[int], flows: _Flows, today: dt.date) -> None:
    awards = list(session.scalars(select(Award).where(Award.pot_id.in_(pot_ids))))
    award_ids = [a.id for a in awards]
    planned: dict[int, list[rules.Planned]] = defaultdict(list)
    for row in session.scalars(select(Instalment).where(Instalment.award_id.in_(award_ids))):
        assert row.award_id is not None
        planned[row.award_id].append(rules.Planned(row.id, row.due_date, row.amount_pence))
    phased: dict[int, list[rules.Planned]] = defaultdict(list)
    for part in session.scalars(select(AwardPhasing).where(AwardPhasing.award_id.in_(award_ids))):
        phased[part.award_id].append(
            rules.Planned(part.id, dt.date(part.financial_year, 4, 1), part.amount_pence)
        )
    # What a funder still owes is the award's receivable balance, as for a receipt: a reversed
    # award owes nothing. What is no longer owed is matched against the earliest instalments.
    owed = dict(
        session.execute(
            select(Account.award_id, Account.balance_pence).where(
                Account.kind == "receivable", Account.award_id.in_(award_ids)
            )
        )
        .tuples()
        .all()
    )
    for award in awards:
        plan = (
            planned.get(award.id)
            or phased.get(award.id)
            or [rules.Planned(0, award.award_date, award.amount_pence)]
        )
        settled = award.amount_pence - int(owed.get(award.id, 0))
        received = [rules.Paid("received", award.award_date, settled)]
        for state in rules.instalment_states(plan, received, today):
            flows.add(flows.receipts, award.pot_id, state.instalment.due_date, state.unpaid_pence)


def _payments(session: Session, pot_ids: list[int], flows: _Flows, today: dt.date) -> None:
    shares = list(
        session.scalars(
            select(AllocationShare)
            .join(Allocation, Allocation.id == AllocationShare.allocation_id)
            .where(
                Allocation.id.in_(
                    select(AllocationShare.allocation_id).where(AllocationShare.pot_id.in_(pot_ids))
                ),
                Allocation.status.in_(("confirmed", "provisional")),
            )
            .order_by(AllocationShare.id)
        )
    )
    by_allocation: dict[int, list[AllocationShare]] = defaultdict(list)
    for share in shares:
        by_allocation[share.allocation_id].append(share)
    allocation_ids = list(by_allocation)
    instalments = timeline.instalments_of(session, allocation_ids)
    paid = timeline.payments_on(session, allocation_ids)
    delegated_pots = dict(
        session.execute(
            select(Pot.parent_allocation_id, Pot.id).where(
                Pot.parent_allocation_id.in_(allocation_ids)
            )
        )
        .tuples()
        .all()
    )
    wanted = set(pot_ids)
    for allocation_id, its_shares in by_allocation.items():
        allocation = its_shares[0].allocation
        rows = instalments.get(allocation_id, [])
        states = rules.instalment_states(
            [rules.Planned(r.id, r.due_date, r.amount_pence) for r in rows],
            paid.get(allocation_id, []),
            today,
        )
        weights = [s.weight_pence for s in its_shares]
        unscheduled = max(allocation.allocated_pence - sum(r.amount_pence for r in rows), 0)
        for share, part in zip(its_shares, split_by_ratios(unscheduled, weights), strict=True):
            if share.pot_id in wanted:
                flows.unscheduled[share.pot_id] += part
        child = delegated_pots.get(allocation_id)
        for state in states:
            if state.unpaid_pence <= 0:
                continue
            day = state.instalment.due_date
            parts = split_by_ratios(state.unpaid_pence, weights)
            for share, part in zip(its_shares, parts, strict=True):
                if share.pot_id in wanted:
                    flows.add(flows.payments, share.pot_id, day, part)
            if child is not None and child in wanted:
                flows.add(flows.receipts, child, day, state.unpaid_pence)


def _expected(session: Session, pot_ids: Iterable[int], flows: _Flows) -> None:
    for row in session.scalars(
        select(ExpectedFunding).where(ExpectedFunding.pot_id.in_(list(pot_ids)))
    ):
        assert row.pot_id is not None
        flows.add(flows.expected, row.pot_id, row.expected_date, row.amount_pence)


# Renderings -------------------------------------------------------------------------------


def write_forecast_csv(forecast: Forecast, out: TextIO) -> None:
    """Every pot's months, then the total's: amounts as plain decimals."""
    rows: list[list[object]] = []
    for part in (*forecast.pots, forecast.total):
        for month in part.months:
            rows.append(
                [
                    part.pot,
                    f"{month.start:%Y-%m}",
                    Amount(month.receipts_pence),
                    Amount(month.expected_pence),
                    Amount(month.payments_pence),
                    Amount(month.cash_pence),
                    Amount(month.cash_with_expected_pence),
                ]
            )
    write_csv(out, CSV_HEADER, rows)


def render_text(forecast: Forecast, part: PotForecast | None = None) -> str:
    """One pot's (or the total's) months as a table, with the verdict and what is unscheduled."""
    shown = part or forecast.total
    heads = ("Month", "Receipts", "Expected", "Payments", "Cash held", "With expected")
    rows = [
        (
            m.label,
            money(m.receipts_pence),
            money(m.expected_pence),
            money(m.payments_pence),
            money(m.cash_pence),
            money(m.cash_with_expected_pence),
        )
        for m in shown.months
    ]
    widths = [max(len(r[i]) for r in (heads, *rows)) for i in range(len(heads))]
    lines = [
        f"Cash forecast: {shown.pot}, from {forecast.first_month:%B %Y};"
        f" cash held now {money(shown.opening_cash_pence)}"
    ]
    for row in (heads, *rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    lines.append(shown.verdict())
    if shown.unscheduled_pence:
        lines.append(
            f"{money(shown.unscheduled_pence)} is committed but not scheduled, so it is in no"
            " month above."
        )
    lines.append("Expected funding is not counted in cash held; see 'With expected'.")
    return "\n".join(lines) + "\n"
