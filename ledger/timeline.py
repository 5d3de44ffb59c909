"""Money over time, in the ledger: the years of awards, expected funding, payment schedules,
reporting requirements and signed statements.

These acts move no money and post no journal entry; each is recorded in its own table and, when
it changes something already recorded (a due date, a schedule, a waiver, an override), in the
append-only audit log with who and why. The rules themselves are pure functions in
``ledger.schedule``; this module reads their inputs from the database and writes their results.
Like ``ledger.operations`` it never commits: the caller runs it in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from ledger.errors import InvalidInput, NotFound, ReferenceConflict, SelfApproval
from ledger.lazy import lazy
from ledger.models import (
    REQUIREMENT_KINDS,
    Account,
    Allocation,
    AllocationShare,
    AuditEvent,
    Award,
    AwardPhasing,
    AwardReading,
    Entry,
    ExpectedFunding,
    Instalment,
    JournalHead,
    Line,
    Pot,
    Request,
    Requirement,
    StatementSignoff,
    utcnow,
)
from ledger.money import format_pence, split_by_ratios

# The read-outs of award years and expected funding live in ledger.years (no mapped classes,
# so read-only commands stay quick); they are named here too, where callers have found them.
from ledger.years import AwardYears as AwardYears
from ledger.years import Expected as Expected
from ledger.years import as_utc as as_utc
from ledger.years import award_years as award_years
from ledger.years import describe_expected as describe_expected
from ledger.years import describe_phasing as describe_phasing
from ledger.years import expected_funding as expected_funding
from ledger.years import years_json as years_json
from ledger.years import years_notes as years_notes

if TYPE_CHECKING:
    from ledger import operations as ops
    from ledger import schedule as rules
else:  # read-outs such as the years of each award need neither
    ops = lazy("ledger.operations")
    rules = lazy("ledger.schedule")


def _audit(session: Session, actor: str, action: str, subject: str, detail: str = "") -> None:
    session.add(AuditEvent(actor=actor, action=action, subject=subject, detail=detail))


def _need(text: str | None, what: str, field: str) -> str:
    if text is None or not text.strip():
        raise InvalidInput(f"{what} cannot be blank", field=field)
    return text.strip()


def find_award(session: Session, reference: str) -> Award:
    award = session.scalars(select(Award).where(Award.reference == reference)).one_or_none()
    if award is None:
        raise NotFound("award", reference, "award")
    return award


# The years of an award ----------------------------------------------------------------------


def set_phasing(
    session: Session,
    *,
    award: str,
    parts: Mapping[int, int],
    entered_by: str,
    approved_by: str,
) -> list[AwardPhasing]:
    """Phase ``award`` over financial years: one amount per year, adding up exactly. An approved
    act: the approver is a second person unless the award is within the self-approval limit.
    Phasing is stated once; recording the same phasing again changes nothing."""
    target = find_award(session, award)
    entered_by = _need(entered_by, "The name of the person entering the phasing", "entered_by")
    approved_by = _need(approved_by, "The approver's name", "approved_by")
    rules.check_phasing(target.reference, target.amount_pence, parts)
    existing = {p.financial_year: p.amount_pence for p in phasing_of(session, target.id)}
    if existing:
        if existing == dict(parts):
            return phasing_of(session, target.id)
        raise InvalidInput(
            f"Award {target.reference} is already phased ({describe_phasing(existing)});"
            " a phasing is stated once",
            field="phasing",
        )
    limit = ops.self_approval_limit_pence(session)
    if ops.same_person(entered_by, approved_by) and target.amount_pence > limit:
        raise SelfApproval(
            entered_by, f"the phasing of award {target.reference}", target.amount_pence, limit
        )
    rows = [
        AwardPhasing(
            award_id=target.id,
            financial_year=year,
            amount_pence=amount,
            entered_by=entered_by,
            approved_by=approved_by,
        )
        for year, amount in sorted(parts.items())
    ]
    session.add_all(rows)
    _audit(
        session, approved_by, "phase_award", f"award {target.reference}", describe_phasing(parts)
    )
    session.flush()
    return rows


def phasing_of(session: Session, award_id: int) -> list[AwardPhasing]:
    return list(
        session.scalars(
            select(AwardPhasing)
            .where(AwardPhasing.award_id == award_id)
            .order_by(AwardPhasing.financial_year)
        )
    )


def record_reading(
    session: Session,
    *,
    award: str,
    source: str,
    first_year: int,
    last_year: int,
    quote: str,
    entered_by: str,
) -> AwardReading:
    """What document ``source`` says about the years ``award`` covers (once per source)."""
    target = find_award(session, award)
    source = _need(source, "The document the reading comes from", "source")
    if last_year < first_year:
        raise InvalidInput("The last year of a reading cannot come before its first", "years")
    row = session.scalars(
        select(AwardReading).where(
            AwardReading.award_id == target.id, AwardReading.source == source
        )
    ).one_or_none()
    if row is not None:
        if (row.first_year, row.last_year, row.quote) != (first_year, last_year, quote):
            raise InvalidInput(
                f"{source} is already recorded as saying something else about award"
                f" {target.reference}",
                field="source",
            )
        return row
    row = AwardReading(
        award_id=target.id,
        source=source,
        first_year=first_year,
        last_year=last_year,
        quote=quote,
        entered_by=entered_by,
    )
    session.add(row)
    session.flush()
    return row


# Expected funding ---------------------------------------------------------------------------


def record_expected(
    session: Session,
    *,
    reference: str,
    funder: str,
    amount_pence: int,
    financial_year: int,
    expected_date: dt.date,
    entered_by: str,
    source: str,
    pot: str | None = None,
    amount_is_assumption: bool = False,
) -> ExpectedFunding:
    """A funder's stated commitment with no award yet. It is never funded, available or
    awarded; forecasts show it apart. Recording the same reference again changes nothing."""
    ops.check_reference(reference)
    ops.require_positive(amount_pence)
    existing = session.scalars(
        select(ExpectedFunding).where(ExpectedFunding.reference == reference)
    ).one_or_none()
    if existing is not None:
        if (existing.amount_pence, existing.financial_year) != (amount_pence, financial_year):
            raise ReferenceConflict(reference)
        return existing
    funder_org = ops.ensure_organisation(session, funder, ["funder"])
    target = ops.find_pot(session, pot) if pot else None
    row = ExpectedFunding(
        reference=reference,
        funder=funder_org,
        stream=target.stream if target else None,
        pot=target,
        financial_year=financial_year,
        expected_date=expected_date,
        amount_pence=amount_pence,
        amount_is_assumption=amount_is_assumption,
        source=source,
        entered_by=entered_by,
    )
    session.add(row)
    session.flush()
    return row


# Schedules ----------------------------------------------------------------------------------


def payments_on(session: Session, allocation_ids: Sequence[int]) -> dict[int, list[rules.Paid]]:
    """The payments on each allocation that stand (not reversed), oldest first: one query."""
    reversal = aliased(Entry)
    rows = session.execute(
        select(
            Entry.allocation_id, Entry.reference, Entry.id, Entry.effective_date, Entry.amount_pence
        )
        .outerjoin(reversal, reversal.reverses_id == Entry.id)
        .where(
            Entry.kind == "pay",
            Entry.allocation_id.in_(list(allocation_ids)),
            reversal.id.is_(None),
        )
        .order_by(Entry.effective_date, Entry.id)
    )
    paid: dict[int, list[rules.Paid]] = defaultdict(list)
    for allocation_id, reference, entry_id, date, amount in rows:
        paid[int(allocation_id)].append(
            rules.Paid(reference or f"entry {entry_id}", date, int(amount))
        )
    return paid


def _planned(row: Instalment) -> rules.Planned:
    return rules.Planned(row.id, row.due_date, row.amount_pence, row.requirement_id)


def instalments_of(session: Session, allocation_ids: Sequence[int]) -> dict[int, list[Instalment]]:
    rows = session.scalars(
        select(Instalment)
        .where(Instalment.allocation_id.in_(list(allocation_ids)))
        .order_by(Instalment.due_date, Instalment.id)
    )
    grouped: dict[int, list[Instalment]] = defaultdict(list)
    for row in rows:
        assert row.allocation_id is not None
        grouped[row.allocation_id].append(row)
    return grouped


def states_of(session: Session, allocation: Allocation, on: dt.date) -> list[rules.InstalmentState]:
    rows = instalments_of(session, [allocation.id]).get(allocation.id, [])
    payments = payments_on(session, [allocation.id]).get(allocation.id, [])
    return rules.instalment_states([_planned(r) for r in rows], payments, on)


def _schedulable(session: Session, reference: str) -> Allocation:
    allocation = ops.find_allocation(session, reference)
    if allocation.status in ("rejected", "closed"):
        raise InvalidInput(
            f"Allocation {reference} is {allocation.status}; it has no payments to schedule",
            field="allocation_ref",
        )
    return allocation


def set_schedule(
    session: Session,
    *,
    allocation: str,
    instalments: Sequence[tuple[dt.date, int]],
    entered_by: str,
    conditions: Mapping[int, int] | None = None,
) -> list[Instalment]:
    """Give ``allocation`` the dated instalments listed, replacing any it had. They must add up
    exactly to what it commits. ``conditions`` maps an instalment's position (0-based) to the id
    of the requirement it waits on. Setting the same schedule again changes nothing."""
    target = _schedulable(session, allocation)
    entered_by = _need(entered_by, "The name of the person entering the schedule", "entered_by")
    rules.check_schedule(target.reference, target.allocated_pence, [a for _, a in instalments])
    wanted = [
        (day, amount, (conditions or {}).get(i)) for i, (day, amount) in enumerate(instalments)
    ]
    old = instalments_of(session, [target.id]).get(target.id, [])
    if sorted((r.due_date, r.amount_pence, r.requirement_id) for r in old) == sorted(
        wanted, key=lambda w: (w[0], w[1], w[2] or 0)
    ):
        return old
    for requirement_id in {c for _, _, c in wanted if c is not None}:
        requirement = session.get(Requirement, requirement_id)
        if requirement is None or requirement.allocation_id != target.id:
            raise InvalidInput(
                f"Requirement {requirement_id} is not one of {target.reference}'s",
                field="condition",
            )
    for row in old:
        session.delete(row)
    rows = [
        Instalment(
            allocation_id=target.id,
            due_date=day,
            amount_pence=amount,
            requirement_id=condition,
            entered_by=entered_by,
        )
        for day, amount, condition in wanted
    ]
    session.add_all(rows)
    _audit(
        session,
        entered_by,
        "schedule" if not old else "reschedule",
        f"allocation {target.reference}",
        f"{len(rows)} instalments adding up to {format_pence(target.allocated_pence)}"
        + (f", replacing {len(old)}" if old else ""),
    )
    session.flush()
    return rows


def set_receipt_schedule(
    session: Session,
    *,
    award: str,
    instalments: Sequence[tuple[dt.date, int]],
    entered_by: str,
) -> list[Instalment]:
    """When a funder is to pay ``award``: dated receipt instalments adding up exactly to the
    award, replacing any it had. Forecasts expect the award's cash on these dates."""
    target = find_award(session, award)
    entered_by = _need(entered_by, "The name of the person entering the schedule", "entered_by")
    amounts = [a for _, a in instalments]
    if any(a <= 0 for a in amounts):
        raise InvalidInput("Every instalment must be more than £0.00", field="amount")
    if sum(amounts) != target.amount_pence:
        raise rules.ScheduleDoesNotAddUp(
            f"award {target.reference}", target.amount_pence, sum(amounts)
        )
    old = list(session.scalars(select(Instalment).where(Instalment.award_id == target.id)))
    for row in old:
        session.delete(row)
    rows = [
        Instalment(award_id=target.id, due_date=day, amount_pence=amount, entered_by=entered_by)
        for day, amount in instalments
    ]
    session.add_all(rows)
    _audit(
        session,
        entered_by,
        "schedule_receipts",
        f"award {target.reference}",
        f"{len(rows)} receipt instalments adding up to {format_pence(target.amount_pence)}"
        + (f", replacing {len(old)}" if old else ""),
    )
    session.flush()
    return rows


def rebalance_schedule(
    session: Session,
    *,
    allocation: str,
    instalment_ids: Sequence[int],
    entered_by: str,
    reason: str,
    on: dt.date,
) -> list[Instalment]:
    """After a variation, spread the change in what ``allocation`` commits over the unpaid
    instalments chosen, so its schedule adds up again."""
    target = _schedulable(session, allocation)
    reason = _need(reason, "A re-balance's reason", "reason")
    states = states_of(session, target, on)
    amounts = rules.rebalance(target.reference, states, instalment_ids, target.allocated_pence)
    rows = {r.id: r for r in instalments_of(session, [target.id]).get(target.id, [])}
    changes = []
    for instalment_id, amount in amounts.items():
        row = rows[instalment_id]
        changes.append(
            f"{row.due_date:%d/%m/%Y} {format_pence(row.amount_pence)} -> {format_pence(amount)}"
        )
        if amount == 0:
            session.delete(row)
        else:
            row.amount_pence = amount
    _audit(
        session,
        entered_by,
        "rebalance_schedule",
        f"allocation {target.reference}",
        f"{reason}: " + "; ".join(changes),
    )
    session.flush()
    return list(instalments_of(session, [target.id]).get(target.id, []))


def move_instalment(
    session: Session, *, instalment_id: int, due_date: dt.date, reason: str, moved_by: str
) -> Instalment:
    """Move an instalment's due date; the reason is journalled in the audit log."""
    row = session.get(Instalment, instalment_id)
    if row is None:
        raise NotFound("instalment", str(instalment_id), "instalment")
    reason = _need(reason, "Moving a due date needs a reason; it", "reason")
    allocation = session.get(Allocation, row.allocation_id) if row.allocation_id else None
    award = session.get(Award, row.award_id) if row.award_id else None
    owner = (
        f"allocation {allocation.reference}"
        if allocation is not None
        else f"award {award.reference if award else row.award_id}"
    )
    _audit(
        session,
        moved_by,
        "move_due_date",
        f"instalment {row.id} of {owner}",
        f"{row.due_date:%d/%m/%Y} -> {due_date:%d/%m/%Y}: {reason}",
    )
    row.due_date = due_date
    session.flush()
    return row


# Reporting requirements ------------------------------------------------------------------


def add_requirement(
    session: Session,
    *,
    allocation: str,
    kind: str,
    title: str,
    due_date: dt.date,
    entered_by: str,
    condition_for: Sequence[int] = (),
) -> Requirement:
    """A dated reporting requirement on an allocation or sub-grant; ``condition_for`` lists
    instalments (by id) that may not be paid until it is received or waived."""
    target = _schedulable(session, allocation)
    title = _need(title, "A requirement's title", "title")
    if kind not in REQUIREMENT_KINDS:
        raise InvalidInput(
            f"{kind!r} is not a kind of requirement; use one of {', '.join(REQUIREMENT_KINDS)}",
            field="kind",
        )
    existing = session.scalars(
        select(Requirement).where(
            Requirement.allocation_id == target.id, Requirement.title == title
        )
    ).one_or_none()
    requirement = existing or Requirement(
        allocation_id=target.id, kind=kind, title=title, due_date=due_date, entered_by=entered_by
    )
    if existing is None:
        session.add(requirement)
        session.flush()
    for instalment_id in condition_for:
        row = session.get(Instalment, instalment_id)
        if row is None or row.allocation_id != target.id:
            raise InvalidInput(
                f"Instalment {instalment_id} is not one of {target.reference}'s",
                field="condition_for",
            )
        row.requirement_id = requirement.id
    session.flush()
    return requirement


def _requirement(session: Session, requirement_id: int) -> Requirement:
    row = session.get(Requirement, requirement_id)
    if row is None:
        raise NotFound("requirement", str(requirement_id), "requirement")
    if row.received_by is not None or row.waived_by is not None:
        state = "received" if row.received_by is not None else "waived"
        raise InvalidInput(f"'{row.title}' is already {state}", field="requirement")
    return row


def receive_requirement(
    session: Session, *, requirement_id: int, received_by: str, received_on: dt.date
) -> Requirement:
    row = _requirement(session, requirement_id)
    row.received_by = _need(received_by, "Who received it", "received_by")
    row.received_on = received_on
    _audit(
        session,
        received_by,
        "receive_requirement",
        f"requirement {row.id} of allocation {row.allocation.reference}",
        f"'{row.title}' received on {received_on:%d/%m/%Y}",
    )
    session.flush()
    return row


def waive_requirement(
    session: Session, *, requirement_id: int, reason: str, entered_by: str, approved_by: str
) -> Requirement:
    """Waive a requirement: an approver, who is not the person asking, gives the reason."""
    row = _requirement(session, requirement_id)
    reason = _need(reason, "A waiver's reason", "reason")
    approved_by = _need(approved_by, "The approver's name", "approved_by")
    if ops.same_person(entered_by, approved_by):
        raise InvalidInput(
            f"{entered_by} asked for '{row.title}' to be waived and cannot also approve it",
            field="approved_by",
        )
    row.waived_by = approved_by
    row.waive_reason = reason
    _audit(
        session,
        approved_by,
        "waive_requirement",
        f"requirement {row.id} of allocation {row.allocation.reference}",
        f"'{row.title}' waived at the request of {entered_by}: {reason}",
    )
    session.flush()
    return row


def move_requirement(
    session: Session, *, requirement_id: int, due_date: dt.date, reason: str, moved_by: str
) -> Requirement:
    row = _requirement(session, requirement_id)
    reason = _need(reason, "Moving a due date needs a reason; it", "reason")
    _audit(
        session,
        moved_by,
        "move_due_date",
        f"requirement {row.id} of allocation {row.allocation.reference}",
        f"'{row.title}' {row.due_date:%d/%m/%Y} -> {due_date:%d/%m/%Y}: {reason}",
    )
    row.due_date = due_date
    session.flush()
    return row


def requirement_views(
    session: Session, allocation_ids: Sequence[int]
) -> dict[int, rules.RequirementView]:
    return {
        r.id: rules.RequirementView(
            r.id, r.title, r.due_date, r.received_on, r.waived_by is not None
        )
        for r in session.scalars(
            select(Requirement).where(Requirement.allocation_id.in_(list(allocation_ids)))
        )
    }


def pay_instalment(
    session: Session,
    *,
    reference: str,
    allocation: str,
    amount_pence: int,
    date: dt.date,
    entered_by: str,
    memo: str,
    approved_by: str | None = None,
    override_reason: str | None = None,
    override_by: str | None = None,
) -> Entry | Request:
    """A payment on a scheduled allocation: ``ledger.operations.pay``, which refuses it while it
    reaches an instalment waiting on a requirement not yet received, unless an approver
    overrides with a reason (the payment's approver, or ``override_by`` when the payment then
    waits for a second person); an override is audited here."""
    target = ops.find_allocation(session, allocation)
    states = states_of(session, target, date)
    requirements = requirement_views(session, [target.id])
    result = ops.pay(
        session,
        reference=reference,
        allocation=allocation,
        amount_pence=amount_pence,
        date=date,
        entered_by=entered_by,
        memo=memo,
        approved_by=approved_by,
        override_reason=override_reason,
        override_by=override_by,
    )
    overridden = rules.unmet_conditions(states, requirements, amount_pence)
    overrider = approved_by or override_by
    if overridden and overrider:
        waits = "" if isinstance(result, Entry) else "; the payment waits for a second person"
        _audit(
            session,
            overrider,
            "override_payment_condition",
            f"allocation {target.reference}",
            f"payment {reference} of {format_pence(amount_pence)} made before "
            + ", ".join(f"'{r.title}'" for _, r in overridden)
            + f" was received: {override_reason}{waits}",
        )
    return result


def require_payment_conditions(
    session: Session,
    allocation: Allocation,
    reference: str,
    amount_pence: int,
    date: dt.date,
    override_reason: str | None,
    approved_by: str | None,
) -> None:
    """The payment-condition rule (``ledger.schedule.check_payment_conditions``) over the
    allocation's instalments and requirements as they stand: called by ``operations.pay``."""
    if _recorded(session, reference):  # a replay: ops.pay answers with what was recorded
        return
    rules.check_payment_conditions(
        allocation.reference,
        states_of(session, allocation, date),
        requirement_views(session, [allocation.id]),
        amount_pence,
        date,
        override_reason,
        approved_by=approved_by,
    )


def _recorded(session: Session, reference: str) -> bool:
    return (
        session.scalar(select(Entry.id).where(Entry.reference == reference)) is not None
        or session.scalar(select(Request.id).where(Request.reference == reference)) is not None
    )


# What is overdue, in a person's scope -----------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    kind: str  # "instalment" or "requirement"
    allocation: str
    recipient: str
    pot: str
    due_date: dt.date
    what: str
    amount_pence: int | None


def overdue(
    session: Session, on: dt.date, pots: ColumnElement[bool] | None = None
) -> list[Overdue]:
    """Overdue instalments and requirements on allocations from the pots ``pots`` selects
    (everything when None), earliest first."""
    in_scope: Select[tuple[int]] = (
        select(AllocationShare.allocation_id)
        .join(Pot, Pot.id == AllocationShare.pot_id)
        .where(pots if pots is not None else true())
    )
    # Only allocations with a schedule or a requirement can have anything overdue: the others,
    # however many, are never read.
    dated = select(Instalment.allocation_id).union(select(Requirement.allocation_id))
    allocations = {
        a.id: a
        for a in session.scalars(
            select(Allocation)
            .options(
                joinedload(Allocation.recipient),
                selectinload(Allocation.shares).joinedload(AllocationShare.pot),
            )
            .where(
                Allocation.id.in_(dated),
                Allocation.id.in_(in_scope),
                Allocation.status.in_(("confirmed", "provisional")),
            )
        )
    }
    ids = list(allocations)
    found: list[Overdue] = []
    rows = instalments_of(session, ids)
    payments = payments_on(session, list(rows))
    for allocation_id, instalments in rows.items():
        allocation = allocations[allocation_id]
        for state in rules.instalment_states(
            [_planned(r) for r in instalments], payments.get(allocation_id, []), on
        ):
            if state.status == "overdue":
                found.append(
                    Overdue(
                        "instalment",
                        allocation.reference,
                        allocation.recipient.name,
                        allocation.shares[0].pot.name,
                        state.instalment.due_date,
                        f"Instalment of {format_pence(state.instalment.amount_pence)}",
                        state.unpaid_pence,
                    )
                )
    for requirement in session.scalars(
        select(Requirement).where(
            Requirement.allocation_id.in_(ids),
            Requirement.received_by.is_(None),
            Requirement.waived_by.is_(None),
            Requirement.due_date < on,
        )
    ):
        allocation = allocations[requirement.allocation_id]
        found.append(
            Overdue(
                "requirement",
                allocation.reference,
                allocation.recipient.name,
                allocation.shares[0].pot.name,
                requirement.due_date,
                requirement.title,
                None,
            )
        )
    return sorted(found, key=lambda o: (o.due_date, o.allocation, o.kind))


# Signed statements ------------------------------------------------------------------------


def family_ids(session: Session, pot_id: int) -> list[int]:
    """The pot and every pot delegated from it, at any depth."""
    family = select(Pot.id).where(Pot.id == pot_id).cte("signoff_family", recursive=True)
    child = aliased(Pot)
    family = family.union(
        select(child.id)
        .join(AllocationShare, AllocationShare.allocation_id == child.parent_allocation_id)
        .join(family, family.c.id == AllocationShare.pot_id)
    )
    return [int(i) for i in session.scalars(select(family.c.id))]


def sign_off(
    session: Session,
    *,
    pot: str,
    as_at: dt.date,
    signed_by: str,
    since: dt.date | None = None,
    note: str = "",
    signed_at: dt.datetime | None = None,
) -> StatementSignoff:
    """Finance signs ``pot``'s statement as at ``as_at``: the signer, the moment and the
    journal's chain tip are recorded, so the signed statement can be rebuilt byte for byte."""
    target = ops.find_pot(session, pot)
    signed_by = _need(signed_by, "The signer's name", "signed_by")
    if since is not None and since > as_at:
        raise InvalidInput("'since' must be on or before the as-at date", field="since")
    head = session.get(JournalHead, 1)
    seq, sha = (head.last_seq, head.last_sha256) if head is not None else (0, "0" * 64)
    moment = (signed_at or utcnow()).replace(microsecond=0)
    row = StatementSignoff(
        pot_id=target.id,
        as_at=as_at,
        since=since,
        signed_by=signed_by,
        signed_at=moment,
        chain_seq=seq,
        chain_sha256=sha,
        note=note,
    )
    session.add(row)
    _audit(
        session,
        signed_by,
        "sign_statement",
        f"pot {target.name}",
        f"as at {as_at:%d/%m/%Y}, journal entry {seq}, chain tip {sha}",
    )
    session.flush()
    return row


@dataclass(frozen=True)
class LaterEntry:
    chain_seq: int
    reference: str | None
    kind: str
    effective_date: dt.date
    amount_pence: int

    def describe(self) -> str:
        name = self.reference or f"entry {self.chain_seq}"
        return (
            f"{name} ({self.kind} of {format_pence(self.amount_pence)} dated"
            f" {self.effective_date:%d/%m/%Y}, recorded after the sign-off)"
        )


@dataclass(frozen=True)
class Superseded:
    signoff_id: int
    pot: str
    as_at: dt.date
    signed_by: str
    signed_at: dt.datetime
    entries: tuple[LaterEntry, ...]

    def __str__(self) -> str:
        return (
            f"The statement of {self.pot} as at {self.as_at:%d/%m/%Y}, signed by"
            f" {self.signed_by} on {self.signed_at:%d/%m/%Y}, is superseded by "
            + ", ".join(e.describe() for e in self.entries)
        )


def later_entries(session: Session, signoff: StatementSignoff) -> list[LaterEntry]:
    """Entries recorded after the sign-off (later in the chain) but dated on or before its
    as-at date, with a line on the signed pot or a pot delegated from it."""
    family = family_ids(session, signoff.pot_id)
    accounts = select(Account.id).where(
        (Account.pot_id.in_(family))
        | Account.share_id.in_(select(AllocationShare.id).where(AllocationShare.pot_id.in_(family)))
        | Account.award_id.in_(select(Award.id).where(Award.pot_id.in_(family)))
    )
    rows = session.execute(
        select(
            Entry.chain_seq, Entry.reference, Entry.kind, Entry.effective_date, Entry.amount_pence
        )
        .where(
            Entry.chain_seq > signoff.chain_seq,
            Entry.effective_date <= signoff.as_at,
            Entry.id.in_(select(Line.entry_id).where(Line.account_id.in_(accounts))),
        )
        .order_by(Entry.chain_seq)
    )
    return [LaterEntry(int(s), r, k, d, int(a)) for s, r, k, d, a in rows]


def superseded_signoffs(session: Session) -> list[Superseded]:
    """Every signed statement that a back-dated entry has since changed, naming the entries.
    A warning for ``check``'s report, not a failure: the journal is sound, the paper is old."""
    found = []
    for signoff in session.scalars(select(StatementSignoff).order_by(StatementSignoff.id)):
        entries = later_entries(session, signoff)
        if entries:
            found.append(
                Superseded(
                    signoff.id,
                    signoff.pot.name,
                    signoff.as_at,
                    signoff.signed_by,
                    signoff.signed_at,
                    tuple(entries),
                )
            )
    return found


# Read-outs for balances and reconcile --figures ---------------------------------------------


def pot_schedule_figures(session: Session, pot: str, on: dt.date) -> rules.ScheduleFigures:
    """A pot's committed, scheduled, paid, unscheduled and overdue money, by financial year and
    quarter: the sum over the allocations made from it. A pooled contract counts for its share,
    each instalment split by the agreed weights to the penny, as the forecast splits it."""
    target = ops.find_pot(session, pot)
    shares = list(
        session.scalars(
            select(AllocationShare)
            .join(Allocation, Allocation.id == AllocationShare.allocation_id)
            .where(
                AllocationShare.pot_id == target.id,
                Allocation.status.in_(("confirmed", "provisional")),
            )
            .order_by(AllocationShare.id)
        )
    )
    ids = [s.allocation_id for s in shares]
    rows = instalments_of(session, ids)
    payments = payments_on(session, ids)
    total = rules.EMPTY_FIGURES
    for share in shares:
        allocation = share.allocation
        weights = [s.weight_pence for s in allocation.shares]
        mine = [s.id for s in allocation.shares].index(share.id)
        states = rules.instalment_states(
            [_planned(r) for r in rows.get(allocation.id, [])],
            payments.get(allocation.id, []),
            on,
        )

        def part(pence: int, weights: list[int] = weights, mine: int = mine) -> int:
            return split_by_ratios(pence, weights)[mine] if pence else 0

        scaled = [
            rules.InstalmentState(
                rules.Planned(
                    s.instalment.id,
                    s.instalment.due_date,
                    part(s.instalment.amount_pence),
                    s.instalment.requirement_id,
                ),
                part(s.paid_pence),
                s.paid_by,
                s.status,
            )
            for s in states
        ]
        total = total + rules.schedule_figures(share.allocated_pence, share.paid_pence, scaled)
    return total


class PaymentGate:
    """The payment-condition rule for many payments at once (an import): each payment is
    refused, naming the requirement, if it reaches an instalment that waits on a requirement
    not yet received or waived. Payments earlier in the same batch count.

    Only allocations with a conditional instalment are ever read (one query to find them), so
    a large import of payments on unconditional allocations costs nothing more.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.gated = dict(
            session.execute(
                select(Allocation.reference, Allocation.id)
                .join(Instalment, Instalment.allocation_id == Allocation.id)
                .where(Instalment.requirement_id.is_not(None))
                .distinct()
            )
            .tuples()
            .all()
        )
        self.paid: dict[int, list[rules.Paid]] = {}

    def check(self, *, reference: str, allocation: str, amount_pence: int, date: dt.date) -> None:
        allocation_id = self.gated.get(allocation)
        if allocation_id is None or _recorded(self.session, reference):
            return
        if allocation_id not in self.paid:  # what was paid before the batch began
            self.paid[allocation_id] = list(
                payments_on(self.session, [allocation_id]).get(allocation_id, [])
            )
        rows = instalments_of(self.session, [allocation_id]).get(allocation_id, [])
        states = rules.instalment_states(
            [_planned(r) for r in rows], self.paid[allocation_id], date
        )
        requirements = requirement_views(self.session, [allocation_id])
        rules.check_payment_conditions(allocation, states, requirements, amount_pence, date, None)
        self.paid[allocation_id].append(rules.Paid(reference, date, amount_pence))
