"""Money over time, as pure rules: phasing, instalments, their state, and payment conditions.

Nothing here reads or writes the database. Each function takes plain values and returns plain
values or raises a ``LedgerError`` with a message a finance officer understands, so the same
rule serves the CLI, an import, the web and the rules core.

* **Phasing.** A multi-year award is either phased, one amount per financial year adding up
  exactly to the award, or "phasing not stated" (no parts at all): :func:`check_phasing`.
* **Instalments.** An allocation's instalments add up exactly to what it commits
  (:func:`check_schedule`). :func:`split_instalments` proposes equal monthly or quarterly
  instalments, the pennies going by largest remainder (``ledger.money.split_by_ratios``).
  After a variation, :func:`rebalance` spreads the change over the unpaid instalments the user
  chooses, so the schedule adds up again.
* **State.** Whether an instalment is paid is derived, never stored: payments are matched to
  instalments oldest first against the earliest due (:func:`instalment_states`). An unpaid
  instalment is *overdue* after its due date, *due* on it or within :data:`DUE_SOON_DAYS`, and
  otherwise *scheduled*.
* **Conditions.** An instalment may wait on a reporting requirement. A payment that would reach
  such an instalment before the requirement is received (or waived) is refused, naming it,
  unless an approver overrides it with a reason: :func:`check_payment_conditions`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import InvalidInput, LedgerError
from ledger.fy import financial_year_of, label
from ledger.money import format_pence, split_by_ratios

REQUIREMENT_KINDS = ("monitoring_return", "end_of_grant_report", "other")
"""What a reporting requirement can be (``ledger.models.Requirement.kind``)."""

__all__ = [
    "DUE_SOON_DAYS",
    "FREQUENCIES",
    "InstalmentState",
    "Paid",
    "PaymentConditionUnmet",
    "PhasingDoesNotAddUp",
    "Planned",
    "RequirementView",
    "ScheduleDoesNotAddUp",
    "ScheduleFigures",
    "add_months",
    "check_payment_conditions",
    "check_phasing",
    "check_schedule",
    "instalment_states",
    "quarter_label",
    "quarter_of",
    "rebalance",
    "requirement_status",
    "schedule_figures",
    "split_instalments",
    "unmet_conditions",
]

DUE_SOON_DAYS = 14
"""An unpaid instalment or requirement falling due within this many days is shown as *due*."""
FREQUENCIES = {"monthly": 1, "quarterly": 3}
MAX_INSTALMENTS = 600


class PhasingDoesNotAddUp(LedgerError):
    field = "phasing"

    def __init__(self, award: str, award_pence: int, phased_pence: int) -> None:
        self.award = award
        self.award_pence = award_pence
        self.phased_pence = phased_pence
        gap = award_pence - phased_pence
        side = f"short by {format_pence(gap)}" if gap > 0 else f"over by {format_pence(-gap)}"
        super().__init__(
            f"The phasing of award {award} adds up to {format_pence(phased_pence)}, but the award"
            f" is {format_pence(award_pence)} ({side}); a phasing must add up exactly"
        )


class ScheduleDoesNotAddUp(LedgerError):
    field = "amount"

    def __init__(
        self, allocation: str, committed_pence: int, scheduled_pence: int, verb: str = "commits"
    ) -> None:
        self.allocation = allocation
        self.committed_pence = committed_pence
        self.scheduled_pence = scheduled_pence
        gap = committed_pence - scheduled_pence
        side = f"short by {format_pence(gap)}" if gap > 0 else f"over by {format_pence(-gap)}"
        super().__init__(
            f"The instalments of {allocation} add up to {format_pence(scheduled_pence)}, but it"
            f" {verb} {format_pence(committed_pence)} ({side}); instalments must add up exactly"
        )


class PaymentConditionUnmet(LedgerError):
    """A payment would reach an instalment whose reporting requirement is not yet received."""

    field = "amount"

    def __init__(self, allocation: str, requirement: RequirementView, instalment: Planned) -> None:
        self.allocation = allocation
        self.requirement = requirement
        self.instalment = instalment
        super().__init__(
            f"The instalment of {format_pence(instalment.amount_pence)} due"
            f" {instalment.due_date:%d/%m/%Y} on {allocation} waits for '{requirement.title}'"
            f" (due {requirement.due_date:%d/%m/%Y}), which has not been received; an approver"
            " may override this with a reason"
        )


@dataclass(frozen=True)
class Planned:
    """An instalment as plain values. ``requirement_id`` names the requirement it waits on."""

    id: int
    due_date: dt.date
    amount_pence: int
    requirement_id: int | None = None


@dataclass(frozen=True)
class Paid:
    """A payment (or receipt) that counts against the schedule: not reversed."""

    reference: str
    date: dt.date
    amount_pence: int


@dataclass(frozen=True)
class RequirementView:
    id: int
    title: str
    due_date: dt.date
    received_on: dt.date | None = None
    waived: bool = False

    @property
    def met(self) -> bool:
        return self.received_on is not None or self.waived


@dataclass(frozen=True)
class InstalmentState:
    instalment: Planned
    paid_pence: int
    paid_by: tuple[str, ...]
    status: str  # scheduled, due, overdue or paid

    @property
    def unpaid_pence(self) -> int:
        return self.instalment.amount_pence - self.paid_pence


# Phasing and schedules that add up ----------------------------------------------------------


def check_phasing(award: str, award_pence: int, parts: Mapping[int, int]) -> None:
    """A phasing is one positive amount per financial year, adding up exactly to the award."""
    for year, amount in parts.items():
        if amount <= 0:
            raise InvalidInput(
                f"The phasing for {label(year)} must be more than £0.00", field="phasing"
            )
    total = sum(parts.values())
    if total != award_pence:
        raise PhasingDoesNotAddUp(award, award_pence, total)


def check_schedule(allocation: str, committed_pence: int, amounts: Iterable[int]) -> None:
    """Instalments are each more than £0.00 and add up exactly to what is committed."""
    listed = list(amounts)
    if any(amount <= 0 for amount in listed):
        raise InvalidInput("Every instalment must be more than £0.00", field="amount")
    if sum(listed) != committed_pence:
        raise ScheduleDoesNotAddUp(allocation, committed_pence, sum(listed))


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day: 31 Jan + 1 month = 28/29 Feb."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def split_instalments(
    total_pence: int, first_due: dt.date, count: int, frequency: str
) -> list[tuple[dt.date, int]]:
    """Equal ``monthly`` or ``quarterly`` instalments from ``first_due``, adding up exactly.

    £100,000 quarterly in 3 is £33,333.34, £33,333.33, £33,333.33: the pennies left over go
    one each to the earliest instalments (largest remainder, ties to the earlier).
    """
    if frequency not in FREQUENCIES:
        raise InvalidInput(
            f"{frequency!r} is not a frequency; use monthly or quarterly", field="frequency"
        )
    if not 1 <= count <= MAX_INSTALMENTS:
        raise InvalidInput(
            f"The number of instalments must be from 1 to {MAX_INSTALMENTS}", field="count"
        )
    if total_pence < count:
        raise InvalidInput(
            f"{format_pence(total_pence)} cannot be split into {count} instalments of at least"
            " 1p each",
            field="count",
        )
    step = FREQUENCIES[frequency]
    amounts = split_by_ratios(total_pence, [1] * count)
    return [(add_months(first_due, step * i), amount) for i, amount in enumerate(amounts)]


def rebalance(
    allocation: str,
    states: Sequence[InstalmentState],
    chosen_ids: Iterable[int],
    committed_pence: int,
) -> dict[int, int]:
    """New amounts for the chosen unpaid instalments so the schedule adds up to
    ``committed_pence`` again (after a variation). The change is split across the chosen
    instalments by largest remainder, in proportion to their unpaid parts; none goes below what
    has been paid on it. An instalment whose new amount is 0 is to be removed."""
    chosen = set(chosen_ids)
    by_id = {state.instalment.id: state for state in states}
    unknown = chosen - by_id.keys()
    if unknown:
        raise InvalidInput(f"{allocation} has no instalment {min(unknown)}", field="instalments")
    picked = [by_id[i] for i in sorted(chosen, key=lambda i: _order(by_id[i].instalment))]
    paid_off = [s for s in picked if s.unpaid_pence == 0]
    if paid_off:
        raise InvalidInput(
            f"The instalment due {paid_off[0].instalment.due_date:%d/%m/%Y} on {allocation} is"
            " paid; only unpaid instalments can be re-balanced",
            field="instalments",
        )
    if not picked:
        raise InvalidInput(
            "Choose at least one unpaid instalment to re-balance", field="instalments"
        )
    delta = committed_pence - sum(s.instalment.amount_pence for s in states)
    unpaid = [s.unpaid_pence for s in picked]
    if delta < 0 and -delta > sum(unpaid):
        raise InvalidInput(
            f"The chosen instalments of {allocation} have {format_pence(sum(unpaid))} unpaid;"
            f" the variation takes away {format_pence(-delta)}: choose more instalments",
            field="instalments",
        )
    parts = split_by_ratios(delta, unpaid)
    return {
        s.instalment.id: s.instalment.amount_pence + part
        for s, part in zip(picked, parts, strict=True)
    }


# State: paid, overdue, due, scheduled --------------------------------------------------------


def _order(instalment: Planned) -> tuple[dt.date, int]:
    return (instalment.due_date, instalment.id)


def instalment_states(
    instalments: Iterable[Planned], payments: Iterable[Paid], on: dt.date
) -> list[InstalmentState]:
    """Each instalment with what has been paid on it and by which payments, in due order.

    Payments are matched oldest first to the earliest instalments; a payment larger than one
    instalment runs on into the next. Money paid beyond the whole schedule is not shown here.
    """
    ordered = sorted(instalments, key=_order)
    queue = sorted(payments, key=lambda p: p.date)
    left = [p.amount_pence for p in queue]
    states: list[InstalmentState] = []
    position = 0
    for instalment in ordered:
        paid, paid_by = 0, []
        while paid < instalment.amount_pence and position < len(queue):
            take = min(left[position], instalment.amount_pence - paid)
            paid += take
            paid_by.append(queue[position].reference)
            left[position] -= take
            if left[position] == 0:
                position += 1
        states.append(
            InstalmentState(instalment, paid, tuple(paid_by), _status(instalment, paid, on))
        )
    return states


def _status(instalment: Planned, paid_pence: int, on: dt.date) -> str:
    if paid_pence >= instalment.amount_pence:
        return "paid"
    if instalment.due_date < on:
        return "overdue"
    if instalment.due_date <= on + dt.timedelta(days=DUE_SOON_DAYS):
        return "due"
    return "scheduled"


def requirement_status(requirement: RequirementView, on: dt.date) -> str:
    """received, waived, overdue (past its date), due (within :data:`DUE_SOON_DAYS`) or
    upcoming."""
    if requirement.received_on is not None:
        return "received"
    if requirement.waived:
        return "waived"
    if requirement.due_date < on:
        return "overdue"
    if requirement.due_date <= on + dt.timedelta(days=DUE_SOON_DAYS):
        return "due"
    return "upcoming"


# Conditional payments ---------------------------------------------------------------------------


def unmet_conditions(
    states: Sequence[InstalmentState],
    requirements: Mapping[int, RequirementView],
    amount_pence: int,
) -> list[tuple[Planned, RequirementView]]:
    """The instalments a payment of ``amount_pence`` would reach (the earliest unpaid first, as
    payments are matched) that wait on a requirement not yet received or waived."""
    unmet: list[tuple[Planned, RequirementView]] = []
    left = amount_pence
    for state in sorted(states, key=lambda s: _order(s.instalment)):
        if left <= 0:
            break
        if state.unpaid_pence <= 0:
            continue
        left -= state.unpaid_pence
        requirement_id = state.instalment.requirement_id
        if requirement_id is None:
            continue
        requirement = requirements[requirement_id]
        if not requirement.met:
            unmet.append((state.instalment, requirement))
    return unmet


def check_payment_conditions(
    allocation: str,
    states: Sequence[InstalmentState],
    requirements: Mapping[int, RequirementView],
    amount_pence: int,
    date: dt.date,
    override_reason: str | None,
    *,
    approved_by: str | None = None,
) -> None:
    """Refuse a payment that reaches an instalment waiting on an unmet requirement, naming it
    (:class:`PaymentConditionUnmet`), unless an approver overrides with a reason.

    ``states`` are the allocation's instalments as they stand before this payment
    (:func:`instalment_states`); ``date`` is the payment's date, checked against the ledger's
    years. An override needs both a reason and the approver who gives it.
    """
    financial_year_of(date)
    unmet = unmet_conditions(states, requirements, amount_pence)
    if not unmet:
        return
    reason = (override_reason or "").strip()
    if not reason:
        instalment, requirement = unmet[0]
        raise PaymentConditionUnmet(allocation, requirement, instalment)
    if not (approved_by or "").strip():
        raise InvalidInput(
            "Overriding a payment condition needs an approver: the payment must be approved"
            " by a second person, who gives the reason",
            field="approved_by",
        )


# Figures by financial year and quarter ----------------------------------------------------------


def quarter_of(day: dt.date) -> tuple[int, int]:
    """(financial year, quarter): April-June is Q1, January-March is Q4."""
    return financial_year_of(day), (day.month - 4) % 12 // 3 + 1


def quarter_label(year: int, quarter: int) -> str:
    return f"{label(year)} Q{quarter}"


@dataclass(frozen=True)
class QuarterFigures:
    scheduled_pence: int
    paid_pence: int
    overdue_pence: int


@dataclass(frozen=True)
class ScheduleFigures:
    """An allocation's (or a pot's) figures: committed, scheduled, paid, unscheduled, overdue,
    and the instalments' part of them by financial year and quarter."""

    committed_pence: int
    scheduled_pence: int
    paid_pence: int
    overdue_pence: int
    by_quarter: dict[tuple[int, int], QuarterFigures]

    @property
    def unscheduled_pence(self) -> int:
        return self.committed_pence - self.scheduled_pence

    def __add__(self, other: ScheduleFigures) -> ScheduleFigures:
        quarters = dict(self.by_quarter)
        for key, q in other.by_quarter.items():
            mine = quarters.get(key, QuarterFigures(0, 0, 0))
            quarters[key] = QuarterFigures(
                mine.scheduled_pence + q.scheduled_pence,
                mine.paid_pence + q.paid_pence,
                mine.overdue_pence + q.overdue_pence,
            )
        return ScheduleFigures(
            self.committed_pence + other.committed_pence,
            self.scheduled_pence + other.scheduled_pence,
            self.paid_pence + other.paid_pence,
            self.overdue_pence + other.overdue_pence,
            dict(sorted(quarters.items())),
        )


EMPTY_FIGURES = ScheduleFigures(0, 0, 0, 0, {})


def schedule_figures(
    committed_pence: int, paid_pence: int, states: Sequence[InstalmentState]
) -> ScheduleFigures:
    """``paid_pence`` is everything paid on the allocation (the journal's figure); the quarters
    show the instalments falling due in each and what of them is paid or overdue."""
    quarters: dict[tuple[int, int], QuarterFigures] = {}
    for state in states:
        key = quarter_of(state.instalment.due_date)
        mine = quarters.get(key, QuarterFigures(0, 0, 0))
        overdue = state.unpaid_pence if state.status == "overdue" else 0
        quarters[key] = QuarterFigures(
            mine.scheduled_pence + state.instalment.amount_pence,
            mine.paid_pence + state.paid_pence,
            mine.overdue_pence + overdue,
        )
    return ScheduleFigures(
        committed_pence=committed_pence,
        scheduled_pence=sum(s.instalment.amount_pence for s in states),
        paid_pence=paid_pence,
        overdue_pence=sum(q.overdue_pence for q in quarters.values()),
        by_quarter=dict(sorted(quarters.items())),
    )
