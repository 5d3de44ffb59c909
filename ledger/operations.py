"""What people do with the money, one act at a time: award, receive, allocate, delegate, vary,
pay, return, close, reject, approve, carry forward, hand back, reverse. The web app and the API
call these; ``commonpurse import`` applies the same acts in batches (``ledger.bulk``).

Each operation loads the state it touches, asks the rules (``ledger.rules``: every guard, split
and message lives there, once), and posts exactly one balanced journal entry, or raises a typed
``LedgerError`` with the facts. It never commits: the caller runs it inside one transaction
(``ledger.db.run_in_transaction``), so a refusal writes nothing. After posting, the invariants the
entry could touch are checked (``ledger.invariants``).

Every act that changes what can be spent or paid needs two people: without an approver it waits
as a ``Request`` (holding its money) until a second person approves it. One person may enter and
approve alone only within the self-approval limit, counted as a running total per allocation
(for awards, receipts, carry-forwards and hand-backs, per pot).

Every operation takes a ``reference`` chosen by the caller. Replaying the same reference with the
same content returns what was recorded the first time; with different content it is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ledger import promise, rules, wording
from ledger.errors import (
    AllocationClosed,
    AlreadyDecided,
    AlreadyReversed,
    InvalidInput,
    NotConfirmed,
    NotFound,
    OverReceived,
    ReferenceConflict,
)
from ledger.fy import financial_year_of
from ledger.holds import holds_by_pot as holds_by_pot
from ledger.journal import (
    Leg,
    account_of,
    content_sha256,
    hand_back_days,
    later_changes,
    open_account,
    post,
)
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    AllocationTag,
    AuditEvent,
    Award,
    Entry,
    FundingStream,
    Organisation,
    OrganisationRole,
    Pot,
    Request,
    Setting,
    utcnow,
)
from ledger.money import format_pence
from ledger.names import (
    INVISIBLE_CATEGORIES,
    MAX_NAME_CHARS,
    check_name,
    has_invisible,
    name_key,
    same_person,
)

__all__ = ["INVISIBLE_CATEGORIES", "MAX_NAME_CHARS", "check_name", "same_person"]

SELF_APPROVAL_LIMIT = "self_approval_limit_pence"
ACCOUNTABLE_BODY = "accountable_body"
MAX_REFERENCE_CHARS = 100


# Lookups and reference data ----------------------------------------------------------------


def find_pot(session: Session, name: str, field: str = "pot") -> Pot:
    pot = session.scalars(select(Pot).where(Pot.name == name)).one_or_none()
    if pot is None:
        raise NotFound("pot", name, field)
    return pot


def find_allocation(session: Session, reference: str, field: str = "allocation_ref") -> Allocation:
    allocation = session.scalars(
        select(Allocation).where(Allocation.reference == reference)
    ).one_or_none()
    if allocation is None:
        raise NotFound("allocation", reference, field)
    return allocation


def find_organisation(session: Session, name: str, field: str = "counterparty") -> Organisation:
    organisation = session.scalars(
        select(Organisation).where(Organisation.name == name)
    ).one_or_none()
    if organisation is None:
        raise NotFound("organisation", name, field)
    return organisation


def ensure_organisation(
    session: Session,
    name: str,
    roles: Sequence[str] = (),
    *,
    charity_number: str | None = None,
    company_number: str | None = None,
    local_authority_code: str | None = None,
) -> Organisation:
    """The organisation called ``name``, created if new, with at least ``roles``. A new name
    that looks like an existing one (``ledger.names``) is refused."""
    name = check_name(name, "organisation", "counterparty")
    organisation = session.scalars(
        select(Organisation).where(Organisation.name == name)
    ).one_or_none()
    if organisation is None:
        _refuse_look_alike(session, Organisation, name, "organisation", "counterparty")
        organisation = Organisation(
            name=name,
            charity_number=charity_number,
            company_number=company_number,
            local_authority_code=local_authority_code,
        )
        session.add(organisation)
    for role in roles:
        if role not in organisation.role_names:
            organisation.roles.append(OrganisationRole(role=role))
    session.flush()
    return organisation


def _refuse_look_alike(
    session: Session, model: type[Pot] | type[Organisation], name: str, what: str, field: str
) -> None:
    existing = session.scalars(
        select(model.name).where(model.name_key == name_key(name))
    ).one_or_none()
    rules.require_distinct_name(name, existing, what, field)


def ensure_stream(
    session: Session,
    name: str,
    funder: Organisation,
    *,
    source: Organisation | None = None,
    short_name: str | None = None,
) -> FundingStream:
    stream = session.scalars(select(FundingStream).where(FundingStream.name == name)).one_or_none()
    if stream is None:
        stream = FundingStream(
            name=name, short_name=short_name, funder=funder, source=source or funder
        )
        session.add(stream)
        session.flush()
    return stream


def get_setting(session: Session, key: str) -> str | None:
    setting = session.get(Setting, key)
    return setting.value if setting else None


def set_setting(session: Session, key: str, value: str) -> None:
    setting = session.get(Setting, key)
    if setting is None:
        session.add(Setting(key=key, value=value))
    else:
        setting.value = value
    session.flush()


def self_approval_limit_pence(session: Session) -> int:
    value = get_setting(session, SELF_APPROVAL_LIMIT)
    return int(value) if value else 0


def accountable_body(session: Session) -> Organisation:
    name = get_setting(session, ACCOUNTABLE_BODY)
    if not name:
        raise InvalidInput(
            "No accountable body is set: name it once with"
            " 'commonpurse init --accountable-body \"Clackmannanshire Council\"'"
        )
    return ensure_organisation(session, name, ["accountable_body"])


def open_pot(
    session: Session,
    name: str,
    administered_by: Organisation,
    *,
    stream: FundingStream | None = None,
    financial_year: int | None = None,
    parent_allocation: Allocation | None = None,
) -> Pot:
    name = check_name(name, "pot", "pot")
    wording.require_new_pot(
        name, session.scalars(select(Pot.id).where(Pot.name == name)).first() is not None
    )
    _refuse_look_alike(session, Pot, name, "pot", "to_pot" if parent_allocation else "pot")
    pot = Pot(
        name=name,
        administered_by=administered_by,
        stream=stream,
        financial_year=financial_year,
        parent_allocation_id=parent_allocation.id if parent_allocation else None,
    )
    session.add(pot)
    session.flush()
    open_account(session, "available", pot_id=pot.id)
    open_account(session, "cash", pot_id=pot.id)
    if parent_allocation is not None:
        open_account(session, "due_in", pot_id=pot.id)
    session.flush()
    return pot


def lock_pots(session: Session, pot_ids: Sequence[int]) -> None:
    """Serialise writers on these pots (PostgreSQL row locks, in id order to avoid deadlock).

    On SQLite every transaction already begins IMMEDIATE, so writers queue for the whole file.
    """
    if session.get_bind().dialect.name == "sqlite" or not pot_ids:
        return
    session.scalars(
        select(Pot)
        .where(Pot.id.in_(sorted(set(pot_ids))))
        .order_by(Pot.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


# Idempotency and approval ------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """What an operation found already recorded under its reference."""

    entry: Entry | None = None
    request: Request | None = None


def _replayed(
    session: Session, reference: str | None, content: str, approving: Request | None = None
) -> Replay | None:
    """What is already recorded under ``reference``; ``approving`` is the request being
    approved, which is not a replay of itself."""
    if reference is None:
        return None
    entry = session.scalars(select(Entry).where(Entry.reference == reference)).one_or_none()
    if entry is not None:
        if entry.content_sha256 != content:
            raise ReferenceConflict(reference)
        return Replay(entry=entry)
    request = session.scalars(select(Request).where(Request.reference == reference)).one_or_none()
    if request is not None and request is not approving:
        if request.content_sha256 != content:
            raise ReferenceConflict(reference)
        return Replay(request=request)
    clash = (
        session.scalars(select(Allocation.id).where(Allocation.reference == reference)).first()
        or session.scalars(select(Award.id).where(Award.reference == reference)).first()
    )
    if clash is not None:
        raise ReferenceConflict(reference)
    return None


def check_reference(reference: str | None) -> None:
    if reference is None:
        return
    if not reference.strip():
        raise InvalidInput("A reference cannot be blank", field="reference")
    if not reference.isprintable() and has_invisible(reference):
        raise InvalidInput(
            "A reference cannot contain control or invisible characters (line breaks, tabs,"
            " zero-width spaces, direction marks)",
            field="reference",
        )
    if len(reference) > MAX_REFERENCE_CHARS:
        raise InvalidInput(
            f"A reference can be at most {MAX_REFERENCE_CHARS} characters; this one has"
            f" {len(reference)}",
            field="reference",
        )


def self_approved_pence(
    session: Session, *, allocation_id: int | None = None, pot_id: int | None = None
) -> int:
    """What has been entered and approved by one person on this allocation (or, for acts on
    a pot itself, this pot): the running total the self-approval limit counts. An allocation
    made provisionally and confirmed later is approved by its confirmation, so its own entry
    counts under the allocation's approver."""
    if allocation_id is not None:
        where = Entry.allocation_id == allocation_id
    else:
        where = (Entry.allocation_id.is_(None)) & (Entry.pot_id == pot_id)
    approver = func.coalesce(
        Entry.approved_by,
        case((Entry.kind.in_(rules.MADE_BY_ALLOCATION), Allocation.approved_by), else_=None),
    )
    rows = session.execute(
        select(Entry.entered_by, approver, Entry.amount_pence)
        .outerjoin(Allocation, Allocation.id == Entry.allocation_id)
        .where(where, approver.is_not(None))
    ).all()
    return sum(
        amount for entered, approved, amount in rows if rules.self_approved(entered, approved)
    )


def made_pence(session: Session, allocation_id: int) -> int:
    """The amount an allocation was made for (before any variation)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Entry.amount_pence), 0)).where(
                Entry.allocation_id == allocation_id, Entry.kind.in_(rules.MADE_BY_ALLOCATION)
            )
        )
        or 0
    )


def _approval(
    session: Session,
    entered_by: str,
    approved_by: str | None,
    what: str,
    amount_pence: int,
    *,
    allocation_id: int | None = None,
    pot_id: int | None = None,
) -> str | None:
    """The approver to record, or None if the act waits for a second person."""
    earlier = 0
    subject = allocation_id is not None or pot_id is not None
    if approved_by is not None and subject and same_person(entered_by, approved_by):
        earlier = self_approved_pence(session, allocation_id=allocation_id, pot_id=pot_id)
    return rules.approver(
        entered_by,
        approved_by,
        what,
        amount_pence,
        self_approval_limit_pence(session),
        earlier,
    )


def _audit(session: Session, actor: str, action: str, subject: str, detail: str = "") -> None:
    session.add(AuditEvent(actor=actor, action=action, subject=subject, detail=detail))


def require_positive(amount_pence: int) -> None:
    if amount_pence <= 0:
        raise InvalidInput("The amount must be more than £0.00", field="amount")


# Holds: money promised by requests awaiting approval ---------------------------------------


def pending_increase_on_pot(session: Session, pot: Pot, excluding: int | None = None) -> int:
    """Money held in ``pot`` by requests awaiting approval (other than request ``excluding``)."""
    return held_in_pot(session, pot.id, excluding)


def held_in_pot(session: Session, pot_id: int, excluding: int | None = None) -> int:
    """Money that requests awaiting approval would take from the pot's available balance
    (``holds_by_pot``)."""
    return holds_by_pot(session, excluding).get(pot_id, 0)


def pending_reduction_on_allocation(
    session: Session, allocation: Allocation, excluding: int | None = None
) -> int:
    """Pending payments and reductions, which hold the allocation's unpaid commitment."""
    return pending_reduction_by_allocation(session, allocation.id, excluding)


def pending_reduction_by_allocation(
    session: Session, allocation_id: int, excluding: int | None = None
) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(func.abs(Request.amount_pence)), 0)).where(
            Request.allocation_id == allocation_id,
            Request.status == "pending",
            (Request.kind == "pay") | ((Request.kind == "vary") & (Request.amount_pence < 0)),
            Request.id != (excluding or 0),
        )
    )
    return int(total or 0)


def pending_reductions(session: Session) -> dict[int, int]:
    """For every allocation with any, the payments and reductions awaiting approval, which
    hold its unpaid commitment (one query)."""
    return {
        allocation_id: int(total)
        for allocation_id, total in session.execute(
            select(Request.allocation_id, func.sum(func.abs(Request.amount_pence)))
            .where(
                Request.status == "pending",
                (Request.kind == "pay") | ((Request.kind == "vary") & (Request.amount_pence < 0)),
            )
            .group_by(Request.allocation_id)
        )
        if allocation_id is not None
    }


def pending_returns_by_allocation(
    session: Session, allocation_id: int, excluding: int | None = None
) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Request.amount_pence), 0)).where(
            Request.allocation_id == allocation_id,
            Request.status == "pending",
            Request.kind == "return",
            Request.id != (excluding or 0),
        )
    )
    return int(total or 0)


def available_after_holds(session: Session, pot: Pot) -> int:
    """What the pot can give out now: the figure every screen shows and every guard uses."""
    return pot.available_pence - held_in_pot(session, pot.id)


def unpaid_after_holds(session: Session, allocation: Allocation) -> int:
    return allocation.unpaid_pence - pending_reduction_on_allocation(session, allocation)


def _guard_available(
    session: Session,
    pot: Pot,
    needed_pence: int,
    what: str,
    excluding: int | None = None,
    date: dt.date | None = None,
) -> None:
    held = held_in_pot(session, pot.id, excluding)
    lowest = _lowest_available(session, pot, date) if date is not None else None
    rules.require_available(pot.name, pot.available_pence, held, needed_pence, what, lowest=lowest)


# Dates: what each act depends on, and balances as they stood -------------------------------


def _lowest_available(session: Session, pot: Pot, date: dt.date) -> tuple[dt.date, int] | None:
    """The leanest day of the pot's available money from ``date`` on, if anything is dated
    after ``date`` (otherwise today's figure is the whole story)."""
    account = account_of(session, "available", pot_id=pot.id)
    changes = later_changes(session, [account.id], date)
    if not changes:
        return None
    return rules.lowest_from(pot.available_pence, [(d, -c) for d, c in changes], date)


def allocation_date(session: Session, allocation_id: int) -> dt.date | None:
    """The day an allocation (or delegation) was made: its first entry's date."""
    return session.scalar(
        select(func.min(Entry.effective_date)).where(
            Entry.allocation_id == allocation_id, Entry.kind.in_(("allocate", "delegate"))
        )
    )


def _require_after_allocation(
    session: Session, allocation: Allocation, date: dt.date, what: str
) -> None:
    kind = "delegation" if allocation.delegated_pot is not None else "allocation"
    made_on = allocation_date(session, allocation.id)
    rules.require_after_making(date, made_on, what, allocation.reference, kind)


def _delegation_of(session: Session, pot: Pot) -> Allocation | None:
    if pot.parent_allocation_id is None:
        return None
    return session.get_one(Allocation, pot.parent_allocation_id)


def _require_delegation_confirmed(session: Session, pot: Pot, what: str) -> None:
    delegation = _delegation_of(session, pot)
    if delegation is not None:
        rules.require_delegation_confirmed(pot.name, delegation.reference, delegation.status, what)


def _lowest_unpaid(
    session: Session, allocation: Allocation, date: dt.date
) -> tuple[dt.date, int] | None:
    accounts = [account_of(session, "unpaid", share_id=s.id).id for s in allocation.shares]
    changes = later_changes(session, accounts, date)
    if not changes:
        return None
    return rules.lowest_from(allocation.unpaid_pence, [(d, -c) for d, c in changes], date)


def _lowest_returnable(
    session: Session, allocation: Allocation, date: dt.date
) -> tuple[dt.date, int] | None:
    """The least that had been paid and not returned, on any day from ``date`` on."""
    target = Entry.__table__.alias("target")
    rows = session.execute(
        select(Entry.effective_date, Entry.kind, Entry.amount_pence, target.c.kind)
        .outerjoin(target, target.c.id == Entry.reverses_id)
        .where(Entry.allocation_id == allocation.id, Entry.effective_date > date)
    ).all()
    changes = rules.returnable_changes(tuple(row) for row in rows)
    if not changes:
        return None
    return rules.lowest_from(allocation.paid_pence - allocation.returned_pence, changes, date)


def _cash_on(session: Session, pot: Pot, date: dt.date, lowest: bool) -> int:
    """The pot's cash on ``date`` (or, with ``lowest``, on its leanest day from then on)."""
    account = account_of(session, "cash", pot_id=pot.id)
    changes = later_changes(session, [account.id], date)
    if lowest:
        return rules.lowest_from(account.balance_pence, changes, date)[1]
    return account.balance_pence - sum(c for _, c in changes)


def _guard_cash(
    session: Session, pot: Pot, needed: int, what: str, date: dt.date, *, handing_back: bool = False
) -> None:
    """Cash leaving ``pot`` on ``date``: an intermediary's pot pays only from cash handed over
    (unless its delegation allows advances), and no pot is left, on a day it handed money back,
    holding less than nothing. ``handing_back``: the movement is itself a hand-back."""
    if _pays_from_cash_held(session, pot):
        rules.require_cash(pot.name, _cash_on(session, pot, date, lowest=True), needed, what, date)
    _guard_hand_backs(session, pot, needed, what, date, handing_back=handing_back)


def _guard_hand_backs(
    session: Session, pot: Pot, needed: int, what: str, date: dt.date, *, handing_back: bool = False
) -> None:
    """Cash leaving ``pot`` on ``date`` leaves it holding no less than nothing on every day from
    then on when it handed money back (``rules.require_cash_at_hand_backs``)."""
    days = hand_back_days(session, pot.id, date)
    if handing_back:
        days.append(date)
    if days:
        account = account_of(session, "cash", pot_id=pot.id)
        rules.require_cash_at_hand_backs(
            pot.name,
            account.balance_pence,
            later_changes(session, [account.id], date),
            date,
            days,
            needed,
            what,
        )


def _pays_from_cash_held(session: Session, pot: Pot) -> bool:
    """An intermediary's pot pays only from cash handed over, unless its delegation allows
    advances; the accountable body's own pots may pay before the funder's cash arrives."""
    delegation = _delegation_of(session, pot)
    return delegation is not None and not delegation.allows_advances


# Awards and receipts -----------------------------------------------------------------------


def record_award(
    session: Session,
    *,
    reference: str,
    pot: str,
    funder: str,
    amount_pence: int,
    award_date: dt.date,
    entered_by: str,
    memo: str,
    financial_year: int | None = None,
    stream: str | None = None,
    is_assumption: bool = False,
    approved_by: str | None = None,
    _approving: Request | None = None,
) -> Entry | Request:
    """``funder`` awards ``amount_pence`` into ``pot`` (opened if new) for its financial year.
    ``stream`` names the pot's funding stream: the award that opens a pot names it (a stream not
    yet in the ledger opens too, funded by ``funder``); a later award may repeat it, not change
    it. Without an approver the award waits for a second person."""
    check_reference(reference)
    require_positive(amount_pence)
    year = financial_year if financial_year is not None else financial_year_of(award_date)
    params: dict[str, Any] = {
        "pot": pot,
        "funder": funder,
        "amount": amount_pence,
        "date": award_date,
        "fy": year,
        "stream": stream,
        "assumption": is_assumption,
        "memo": memo,
    }
    content = content_sha256("award", params)
    replay = _replayed(session, reference, content, _approving)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    check_name(funder, "organisation", "counterparty")
    target = session.scalars(select(Pot).where(Pot.name == pot)).one_or_none()
    if target is not None:
        wording.require_awardable(target.name, target.parent_allocation_id is not None)
        rules.require_award_year(target.name, target.financial_year, year)
        rules.require_pot_stream(target.name, target.stream.name if target.stream else None, stream)
    if stream is not None:
        check_name(stream, "funding stream", "stream")
    approver = _approval(
        session,
        entered_by,
        approved_by,
        wording.act("award", reference),
        amount_pence,
        pot_id=target.id if target is not None else None,
    )
    if approver is None:
        return _request(
            session,
            "award",
            reference,
            content,
            amount_pence=amount_pence,
            date=award_date,
            memo=memo,
            entered_by=entered_by,
            pot=target,
            params={**params, "date": award_date.isoformat()},
        )
    funder_org = ensure_organisation(session, funder, ["funder"])
    # A stream not yet in the ledger opens with this award, funded by its funder.
    stream_row = ensure_stream(session, stream, funder_org) if stream is not None else None
    if target is None:
        target = open_pot(
            session, pot, accountable_body(session), stream=stream_row, financial_year=year
        )
    lock_pots(session, [target.id])
    award = Award(
        reference=reference,
        funder=funder_org,
        stream=stream_row or target.stream,
        pot=target,
        financial_year=year,
        award_date=award_date,
        amount_pence=amount_pence,
        is_assumption=is_assumption,
        description=memo,
    )
    session.add(award)
    session.flush()
    receivable = open_account(session, "receivable", award_id=award.id)
    session.flush()
    available = account_of(session, "available", pot_id=target.id)
    return post(
        session,
        kind="award",
        legs=[Leg(receivable, amount_pence), Leg(available, -amount_pence)],
        effective_date=award_date,
        memo=memo,
        entered_by=entered_by,
        approved_by=approver,
        reference=reference,
        content=content,
        amount_pence=amount_pence,
        pot_id=target.id,
        award_id=award.id,
    )


def record_receipt(
    session: Session,
    *,
    reference: str,
    pot: str,
    funder: str,
    amount_pence: int,
    date: dt.date,
    entered_by: str,
    memo: str,
    approved_by: str | None = None,
    _approving: Request | None = None,
) -> Entry | Request:
    """Cash arrives from ``funder`` against its awards into ``pot``, oldest award first."""
    check_reference(reference)
    require_positive(amount_pence)
    params: dict[str, Any] = {
        "pot": pot,
        "funder": funder,
        "amount": amount_pence,
        "date": date,
        "memo": memo,
    }
    content = content_sha256("receive", params)
    replay = _replayed(session, reference, content, _approving)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    target = find_pot(session, pot)
    funder_org = find_organisation(session, funder)
    lock_pots(session, [target.id])
    awards = session.scalars(
        select(Award)
        .where(Award.pot_id == target.id, Award.funder_id == funder_org.id)
        .order_by(Award.award_date, Award.id)
    ).all()
    rules.require_not_before(
        date,
        min((a.award_date for a in awards), default=None),
        "receipt",
        wording.first_award(funder_org.name, target.name),
    )
    # What is still owed is the award's receivable balance: a reversed award owes nothing.
    outstanding = [
        (a, account_of(session, "receivable", award_id=a.id).balance_pence)
        for a in awards
        if a.award_date <= date
    ]
    total_outstanding = sum(o for _, o in outstanding)
    if amount_pence > total_outstanding:
        raise OverReceived(funder_org.name, target.name, total_outstanding, amount_pence)
    approver = _approval(
        session,
        entered_by,
        approved_by,
        wording.act("receive", reference),
        amount_pence,
        pot_id=target.id,
    )
    if approver is None:
        return _request(
            session,
            "receive",
            reference,
            content,
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            entered_by=entered_by,
            pot=target,
            params={**params, "date": date.isoformat()},
        )
    legs = [Leg(account_of(session, "cash", pot_id=target.id), amount_pence)]
    remaining = amount_pence
    first_award: Award | None = None
    for award, owed in outstanding:
        part = min(owed, remaining)
        if part > 0:
            first_award = first_award or award
            legs.append(Leg(account_of(session, "receivable", award_id=award.id), -part))
            remaining -= part
    return post(
        session,
        kind="receive",
        legs=legs,
        effective_date=date,
        memo=memo,
        entered_by=entered_by,
        approved_by=approver,
        reference=reference,
        content=content,
        amount_pence=amount_pence,
        pot_id=target.id,
        award_id=first_award.id if first_award else None,
    )


# Allocations, delegations and pooled contracts ---------------------------------------------


def allocate(
    session: Session,
    *,
    reference: str,
    pot: str,
    recipient: str,
    amount_pence: int,
    date: dt.date,
    entered_by: str,
    purpose: str = "",
    memo: str | None = None,
    approved_by: str | None = None,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    tags: Sequence[str] = (),
    to_pot: str | None = None,
) -> Allocation:
    """Promise ``amount_pence`` from ``pot`` to ``recipient``; with ``to_pot``, a delegation to
    an intermediary that opens the pot it will administer."""
    return allocate_pooled(
        session,
        reference=reference,
        shares=[(pot, amount_pence)],
        recipient=recipient,
        date=date,
        entered_by=entered_by,
        purpose=purpose,
        memo=memo,
        approved_by=approved_by,
        period_start=period_start,
        period_end=period_end,
        tags=tags,
        to_pot=to_pot,
    )


def allocate_pooled(
    session: Session,
    *,
    reference: str,
    shares: Sequence[tuple[str, int]],
    recipient: str,
    date: dt.date,
    entered_by: str,
    purpose: str = "",
    memo: str | None = None,
    approved_by: str | None = None,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    tags: Sequence[str] = (),
    to_pot: str | None = None,
) -> Allocation:
    """One allocation funded from several pots: ``shares`` is (pot, pence) for each funder.
    Without an approver it is provisional: its money is held until a second person decides."""
    pot_names, total, normalised_tags, content = entered_allocation(
        reference,
        shares,
        recipient=recipient,
        date=date,
        purpose=purpose,
        period=(period_start, period_end),
        tags=tags,
        to_pot=to_pot,
        memo=memo,
    )
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return session.get_one(Allocation, replay.entry.allocation_id)
    if period_start and period_end and period_end < period_start:
        raise InvalidInput("The period must end on or after it starts", field="period_end")
    require_one_pot_for_delegation(to_pot, shares)
    pots = [find_pot(session, name) for name in pot_names]
    lock_pots(session, [p.id for p in pots])
    what = wording.allocation_word([p.parent_allocation_id is not None for p in pots], to_pot)
    for source in pots:
        _require_delegation_confirmed(session, source, what)
        delegation = _delegation_of(session, source)
        if delegation is not None:
            _require_after_allocation(session, delegation, date, what)
    for source, (_, part) in zip(pots, shares, strict=True):
        _guard_available(session, source, part, what, date=date)
    approver = _approval(session, entered_by, approved_by, wording.act(what, reference), total)
    recipient_org = ensure_organisation(
        session, recipient, ["intermediary"] if to_pot else ["provider"]
    )
    allocation = Allocation(
        reference=reference,
        recipient=recipient_org,
        purpose=purpose,
        period_start=period_start,
        period_end=period_end,
        status="confirmed" if approver else "provisional",
        entered_by=entered_by,
        approved_by=approver,
        approved_at=utcnow() if approver else None,
    )
    session.add(allocation)
    session.flush()
    for kind_value in normalised_tags:
        tag_kind, value = kind_value.split(":", 1)
        session.add(AllocationTag(allocation_id=allocation.id, kind=tag_kind, value=value))
    legs: list[Leg] = []
    for source, (_, part) in zip(pots, shares, strict=True):
        share = AllocationShare(allocation_id=allocation.id, pot_id=source.id, weight_pence=part)
        session.add(share)
        session.flush()
        unpaid = open_account(session, "unpaid", share_id=share.id)
        session.flush()
        legs += [Leg(account_of(session, "available", pot_id=source.id), part), Leg(unpaid, -part)]
    child_id = None
    if to_pot:
        child = open_pot(
            session,
            to_pot,
            recipient_org,
            stream=pots[0].stream,
            financial_year=pots[0].financial_year,
            parent_allocation=allocation,
        )
        child_id = child.id
        legs += [
            Leg(account_of(session, "due_in", pot_id=child.id), total),
            Leg(account_of(session, "available", pot_id=child.id), -total),
        ]
    session.refresh(allocation)
    post(
        session,
        kind=allocation_kind(to_pot),
        legs=legs,
        effective_date=date,
        memo=memo or purpose or wording.default_memo(what, recipient_org.name),
        entered_by=entered_by,
        approved_by=approver,
        reference=reference,
        content=content,
        amount_pence=total,
        pot_id=pots[0].id,
        to_pot_id=child_id,
        allocation_id=allocation.id,
    )
    if approver:
        _audit(session, approver, *wording.approved_on_entry(reference))
    return allocation


class EnteredAllocation(NamedTuple):
    pot_names: list[str]
    total: int
    tags: list[str]
    content: str


def entered_allocation(
    reference: str,
    shares: Sequence[tuple[str, int]],
    *,
    recipient: str,
    date: dt.date,
    purpose: str,
    period: tuple[dt.date | None, dt.date | None],
    tags: Sequence[str],
    to_pot: str | None,
    memo: str | None,
) -> EnteredAllocation:
    """What both writers make first of an allocation, delegation or pooled contract as entered,
    before they look anything up: the reference, at least one pot, each pot once and every part
    above £0.00 checked; the pots' names, the total and the tags read; and the fingerprint by
    which a row imported again is recognised."""
    check_reference(reference)
    if not shares:
        raise InvalidInput("An allocation needs at least one pot", field="pot")
    pot_names = [name for name, _ in shares]
    if len(set(pot_names)) != len(pot_names):
        raise InvalidInput("Each pot can fund a pooled contract only once", field="pot")
    for _, part in shares:
        require_positive(part)
    normalised_tags = _normalise_tags(tags)
    content = content_sha256(
        allocation_kind(to_pot),
        {
            "shares": list(shares),
            "recipient": recipient,
            "date": date,
            "purpose": purpose,
            "period": list(period),
            "tags": normalised_tags,
            "to_pot": to_pot,
            "memo": memo,
        },
    )
    return EnteredAllocation(pot_names, sum(part for _, part in shares), normalised_tags, content)


def require_one_pot_for_delegation(to_pot: str | None, shares: Sequence[tuple[str, int]]) -> None:
    if to_pot and len(shares) > 1:
        raise InvalidInput("A delegation is funded from one pot", field="to_pot")


def allocation_kind(to_pot: str | None) -> str:
    """The journal's kind for an allocation's entry: a delegation opens the pot it funds."""
    return "delegate" if to_pot else "allocate"


def _normalise_tags(tags: Sequence[str]) -> list[str]:
    """``WFS 1`` → ``action:WFS 1``; ``foundation 2`` or ``Family`` → ``foundation:2``."""
    out: list[str] = []
    for raw in tags:
        text = raw.strip()
        if not text:
            continue
        try:
            tag = f"action:{promise.normalise_code(text)}"
        except promise.UnknownActionCode:
            try:
                tag = f"foundation:{promise.parse_foundation(text)}"
            except promise.UnknownFoundation as error:
                raise InvalidInput(
                    f"'{text}' is neither a Promise Plan action code (such as WFS 1) nor a"
                    " foundation (1 Voice, 2 Family, 3 Care, 4 People, 5 Scaffolding)",
                    field="tags",
                ) from error
        if tag not in out:
            out.append(tag)
    return out


def approve_allocation(session: Session, *, reference: str, approved_by: str) -> Allocation:
    """A second person confirms a provisional allocation (a sub-grant only once its
    delegation is confirmed)."""
    allocation = find_allocation(session, reference)
    if allocation.status != "provisional":
        raise AlreadyDecided(f"Allocation {reference}", allocation.status)
    for share in allocation.shares:
        _require_delegation_confirmed(session, share.pot, "sub-grant")
    _approval(
        session,
        allocation.entered_by,
        approved_by,
        f"allocation {reference}",
        made_pence(session, allocation.id),
        allocation_id=allocation.id,
    )
    allocation.status = "confirmed"
    allocation.approved_by = approved_by
    allocation.approved_at = utcnow()
    _audit(session, approved_by, "approve", f"allocation {reference}")
    session.flush()
    return allocation


def reject_allocation(
    session: Session, *, reference: str, rejected_by: str, note: str, date: dt.date | None = None
) -> Allocation:
    """A second person turns down a provisional allocation: its held money goes back to the pot
    in one balanced entry, its pending requests are rejected with it, and it stays on record
    as rejected. The release is dated ``date``, by default today or, if the allocation is
    dated later, the allocation's date."""
    if not note.strip():
        raise InvalidInput("Say why the allocation is rejected", field="note")
    allocation = find_allocation(session, reference)
    if allocation.status != "provisional":
        raise AlreadyDecided(f"Allocation {reference}", allocation.status)
    _lock_allocation(session, allocation)
    made = allocation_date(session, allocation.id)
    if date is None:
        date = rejection_date(made)
    rules.require_after_making(date, made, "rejection", reference)
    _reject_pending(session, allocation, rejected_by, note)
    release = allocation.unpaid_pence
    if release:
        child = allocation.delegated_pot
        if child is not None:
            # A provisional delegation's pot has given nothing out (``rules``): all of it goes.
            rules.require_available(child.name, child.available_pence, 0, release, "rejection")
        _post_variation(
            session,
            allocation,
            -release,
            date,
            f"Rejected: {note}",
            rejected_by,
            rejected_by,
            None,
            content_sha256("reject", {"allocation": reference, "note": note}),
        )
    allocation.status = "rejected"
    _audit(session, rejected_by, "reject", f"allocation {reference}", note)
    session.flush()
    return allocation


def rejection_date(made: dt.date | None) -> dt.date:
    """The day a rejection is dated unless another is chosen: today, or the allocation's own
    date if that is later (an allocation entered ahead of its start)."""
    today = dt.date.today()
    return max(today, made) if made else today


def _reject_pending(
    session: Session, allocation: Allocation, by: str, note: str, excluding: int | None = None
) -> None:
    for pending in session.scalars(
        select(Request).where(
            Request.allocation_id == allocation.id,
            Request.status == "pending",
            Request.id != (excluding or 0),
        )
    ).all():
        reject_request(session, request_id=pending.id, rejected_by=by, note=note)


def _closable(session: Session, reference: str, reason: str) -> Allocation:
    """The allocation, once every guard on closing it has passed (it is locked)."""
    if not reason.strip():
        raise InvalidInput("Say why the allocation is closed", field="description")
    allocation = find_allocation(session, reference)
    if allocation.status == "closed":
        raise AllocationClosed(reference)
    if allocation.status != "confirmed":
        raise NotConfirmed(
            reference,
            allocation.status,
            f"Allocation {reference} is {allocation.status}; only a confirmed allocation can be"
            " closed (approve it first, or reject it instead)",
        )
    _lock_allocation(session, allocation)
    if allocation.unpaid_pence:
        raise InvalidInput(
            f"Allocation {reference} still has {format_pence(allocation.unpaid_pence)} committed"
            " and unpaid; vary it down to what was paid before closing it"
        )
    return allocation


def close_allocation(
    session: Session,
    *,
    reference: str,
    closed_by: str,
    reason: str,
    _approving: Request | None = None,
) -> None:
    """Close a confirmed allocation once nothing is left unpaid. Requests still waiting on it
    are rejected with it, so nothing stays held for ever."""
    allocation = _closable(session, reference, reason)
    _reject_pending(
        session,
        allocation,
        closed_by,
        f"Allocation closed: {reason}",
        _approving.id if _approving is not None else None,
    )
    allocation.status = "closed"
    _audit(session, closed_by, "close", f"allocation {reference}", reason)
    session.flush()


def allow_advances(
    session: Session, *, reference: str, allowed: bool, entered_by: str, approved_by: str
) -> Allocation:
    """Let a delegation's intermediary pay ahead of the cash handed over (or stop it). A
    setting that changes what can be paid, so it needs a second person, whatever the amount."""
    delegation = find_allocation(session, reference)
    if delegation.delegated_pot is None:
        raise InvalidInput(f"Allocation {reference} is not a delegation", field="allocation_ref")
    rules.approver(entered_by, approved_by, f"advances on {reference}", 1, 0)
    delegation.allows_advances = allowed
    word = "allows" if allowed else "no longer allows"
    _audit(session, approved_by, "advances", f"allocation {reference}", f"{word} advances")
    session.flush()
    return delegation


# Variations, payments and returns ----------------------------------------------------------


def vary(
    session: Session,
    *,
    reference: str,
    allocation: str,
    delta_pence: int,
    date: dt.date,
    reason: str,
    entered_by: str,
    approved_by: str | None = None,
) -> Entry | Request:
    """Change an allocation (or delegation) by a signed amount, with a reason.

    Approved on entry it posts at once; otherwise it waits as a Request, holding its money.
    """
    check_reference(reference)
    if delta_pence == 0:
        raise InvalidInput("A variation must change the amount", field="amount")
    if not reason.strip():
        raise InvalidInput("A variation needs a reason", field="description")
    content = content_sha256(
        "vary", {"allocation": allocation, "delta": delta_pence, "date": date, "reason": reason}
    )
    replay = _replayed(session, reference, content)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    target = find_allocation(session, allocation)
    _lock_allocation(session, target)
    _guard_variation(session, target, delta_pence, date=date)
    approver = _approval(
        session,
        entered_by,
        approved_by,
        wording.act("vary", allocation),
        delta_pence,
        allocation_id=target.id,
    )
    if approver is None:
        return _request(
            session,
            "vary",
            reference,
            content,
            allocation=target,
            amount_pence=delta_pence,
            date=date,
            memo=reason,
            entered_by=entered_by,
        )
    return _post_variation(
        session, target, delta_pence, date, reason, entered_by, approver, reference, content
    )


def _lock_allocation(session: Session, allocation: Allocation) -> None:
    pot_ids = [s.pot_id for s in allocation.shares]
    if allocation.delegated_pot is not None:
        pot_ids.append(allocation.delegated_pot.id)
    lock_pots(session, pot_ids)
    session.refresh(allocation)


def _guard_variation(
    session: Session,
    allocation: Allocation,
    delta_pence: int,
    excluding: int | None = None,
    date: dt.date | None = None,
) -> None:
    rules.require_open(allocation.reference, allocation.status, "variation")
    if date is not None:
        _require_after_allocation(session, allocation, date, "variation")
    if delta_pence > 0:
        parts = _variation_parts(allocation, delta_pence)
        for share, part in zip(allocation.shares, parts, strict=True):
            if part > 0:
                _guard_available(session, share.pot, part, "variation", excluding, date)
        return
    reduction = -delta_pence
    rules.require_unpaid(
        allocation.reference,
        allocation.unpaid_pence,
        pending_reduction_on_allocation(session, allocation, excluding),
        reduction,
        "reduction",
    )
    if date is not None:
        lowest = _lowest_unpaid(session, allocation, date)
        if lowest is not None:
            rules.require_unpaid(allocation.reference, lowest[1], 0, reduction, "reduction")
    child = allocation.delegated_pot
    if child is not None:
        _guard_available(session, child, reduction, "reduction", excluding, date)


def _variation_parts(allocation: Allocation, delta_pence: int) -> list[int]:
    return rules.split_to_weights(
        allocation.allocated_pence + delta_pence,
        [s.weight_pence for s in allocation.shares],
        [s.allocated_pence for s in allocation.shares],
        [s.paid_pence for s in allocation.shares],
    )


@dataclass(frozen=True)
class Record:
    """Who, when and why, for an entry about to be posted."""

    date: dt.date
    memo: str
    entered_by: str
    approved_by: str | None
    reference: str | None
    content: str


def _share_account(session: Session, kind: str, share: AllocationShare) -> Account:
    """A share's own unpaid commitment, or the named account of the pot it draws on."""
    if kind == "unpaid":
        return account_of(session, kind, share_id=share.id)
    return account_of(session, kind, pot_id=share.pot_id)


def _post_on_allocation(
    session: Session,
    allocation: Allocation,
    *,
    kind: str,
    parts: Sequence[int],
    shares_move: tuple[str, str],
    child_move: tuple[str, str],
    child_pence: int,
    amount_pence: int,
    record: Record,
) -> Entry:
    """Post one entry on an allocation: each share's part moves from the debit to the credit
    account named in ``shares_move``; for a delegation, ``child_pence`` moves likewise in the
    delegated pot per ``child_move``."""
    debit, credit = shares_move
    legs: list[Leg] = []
    for share, part in zip(allocation.shares, parts, strict=True):
        legs += [
            Leg(_share_account(session, debit, share), part),
            Leg(_share_account(session, credit, share), -part),
        ]
    child = allocation.delegated_pot
    if child is not None:
        debit, credit = child_move
        legs += [
            Leg(account_of(session, debit, pot_id=child.id), child_pence),
            Leg(account_of(session, credit, pot_id=child.id), -child_pence),
        ]
    return post(
        session,
        kind=kind,
        legs=legs,
        effective_date=record.date,
        memo=record.memo,
        entered_by=record.entered_by,
        approved_by=record.approved_by,
        reference=record.reference,
        content=record.content,
        amount_pence=amount_pence,
        pot_id=allocation.shares[0].pot_id,
        to_pot_id=child.id if child else None,
        allocation_id=allocation.id,
    )


def _post_variation(
    session: Session,
    allocation: Allocation,
    delta_pence: int,
    date: dt.date,
    reason: str,
    entered_by: str,
    approved_by: str,
    reference: str | None,
    content: str,
) -> Entry:
    return _post_on_allocation(
        session,
        allocation,
        kind="vary",
        parts=_variation_parts(allocation, delta_pence),
        shares_move=("available", "unpaid"),
        child_move=("due_in", "available"),
        child_pence=delta_pence,
        amount_pence=abs(delta_pence),
        record=Record(date, reason, entered_by, approved_by, reference, content),
    )


def pay(
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
    """Pay an instalment against a confirmed allocation; for a delegation, the cash handed to
    the intermediary. A pooled payment splits across funders in proportion to what each still
    owes, so the last instalment clears every funder's share exactly. A payment that reaches an
    instalment waiting on a reporting requirement not yet received is refused, naming it,
    unless an approver overrides it with ``override_reason``: the payment's approver, or
    ``override_by`` (an approver entering a payment that then waits for a second person, as the
    web app's payment form does)."""
    check_reference(reference)
    require_positive(amount_pence)
    content = content_sha256(
        "pay", {"allocation": allocation, "amount": amount_pence, "date": date, "memo": memo}
    )
    replay = _replayed(session, reference, content)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    target = find_allocation(session, allocation)
    _lock_allocation(session, target)
    _guard_payment(session, target, amount_pence, date=date)
    from ledger.timeline import require_payment_conditions  # it reads through this module

    require_payment_conditions(
        session, target, reference, amount_pence, date, override_reason, approved_by or override_by
    )
    approver = _approval(
        session,
        entered_by,
        approved_by,
        wording.act("pay", allocation),
        amount_pence,
        allocation_id=target.id,
    )
    if approver is None:
        override = (override_reason or "").strip()
        return _request(
            session,
            "pay",
            reference,
            content,
            allocation=target,
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            entered_by=entered_by,
            # The second person sees the override they are approving with the payment.
            params={"override_reason": override, "override_by": override_by}
            if override and override_by
            else None,
        )
    return _post_payment(
        session, target, amount_pence, date, memo, entered_by, approver, reference, content
    )


def _guard_payment(
    session: Session,
    allocation: Allocation,
    amount_pence: int,
    excluding: int | None = None,
    date: dt.date | None = None,
) -> None:
    rules.require_confirmed(allocation.reference, allocation.status)
    for share in allocation.shares:
        _require_delegation_confirmed(session, share.pot, "payment")
    if date is not None:
        _require_after_allocation(session, allocation, date, "payment")
    rules.require_unpaid(
        allocation.reference,
        allocation.unpaid_pence,
        pending_reduction_on_allocation(session, allocation, excluding),
        amount_pence,
        "payment",
    )
    if date is None:
        return
    lowest = _lowest_unpaid(session, allocation, date)
    if lowest is not None:
        rules.require_unpaid(allocation.reference, lowest[1], 0, amount_pence, "payment")
    parts = rules.split_payment(
        amount_pence, [s.allocated_pence - s.paid_pence for s in allocation.shares]
    )
    for share, part in zip(allocation.shares, parts, strict=True):
        _guard_cash(session, share.pot, part, "payment", date)


def _post_payment(
    session: Session,
    allocation: Allocation,
    amount_pence: int,
    date: dt.date,
    memo: str,
    entered_by: str,
    approved_by: str,
    reference: str | None,
    content: str,
) -> Entry:
    parts = rules.split_payment(
        amount_pence, [s.allocated_pence - s.paid_pence for s in allocation.shares]
    )
    return _post_on_allocation(
        session,
        allocation,
        kind="pay",
        parts=parts,
        shares_move=("unpaid", "cash"),
        child_move=("cash", "due_in"),
        child_pence=amount_pence,
        amount_pence=amount_pence,
        record=Record(date, memo, entered_by, approved_by, reference, content),
    )


def return_unspent(
    session: Session,
    *,
    reference: str,
    allocation: str,
    amount_pence: int,
    date: dt.date,
    entered_by: str,
    memo: str,
    approved_by: str | None = None,
    _approving: Request | None = None,
) -> Entry | Request:
    """Money paid out comes back (underspend, clawback) and is available in its pot again.
    For a delegation, the intermediary gives back money it has not sub-granted."""
    check_reference(reference)
    require_positive(amount_pence)
    content = content_sha256(
        "return", {"allocation": allocation, "amount": amount_pence, "date": date, "memo": memo}
    )
    replay = _replayed(session, reference, content, _approving)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    target = find_allocation(session, allocation)
    _lock_allocation(session, target)
    excluding = _approving.id if _approving is not None else None
    _require_after_allocation(session, target, date, "return")
    rules.require_returnable(
        target.reference,
        target.paid_pence,
        target.returned_pence + pending_returns_by_allocation(session, target.id, excluding),
        amount_pence,
    )
    lowest = _lowest_returnable(session, target, date)
    if lowest is not None:
        rules.require_returnable(target.reference, lowest[1], 0, amount_pence)
    child = target.delegated_pot
    if child is not None:
        _guard_available(session, child, amount_pence, "return", excluding, date)
        _guard_cash(session, child, amount_pence, "return", date)
    approver = _approval(
        session,
        entered_by,
        approved_by,
        wording.act("return", allocation),
        amount_pence,
        allocation_id=target.id,
    )
    if approver is None:
        return _request(
            session,
            "return",
            reference,
            content,
            allocation=target,
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            entered_by=entered_by,
        )
    parts = rules.split_return(
        amount_pence, [s.paid_pence - s.returned_pence for s in target.shares]
    )
    return _post_on_allocation(
        session,
        target,
        kind="return",
        parts=parts,
        shares_move=("cash", "available"),
        child_move=("available", "cash"),
        child_pence=amount_pence,
        amount_pence=amount_pence,
        record=Record(date, memo, entered_by, approver, reference, content),
    )


# Requests awaiting approval ----------------------------------------------------------------


def _request(
    session: Session,
    kind: str,
    reference: str | None,
    content: str,
    *,
    amount_pence: int,
    date: dt.date,
    memo: str,
    entered_by: str,
    allocation: Allocation | None = None,
    pot: Pot | None = None,
    params: dict[str, Any] | None = None,
) -> Request:
    request = Request(
        kind=kind,
        reference=reference,
        content_sha256=content,
        allocation_id=allocation.id if allocation is not None else None,
        pot_id=pot.id if pot is not None else None,
        amount_pence=amount_pence,
        effective_date=date,
        memo=memo,
        entered_by=entered_by,
        params=json.dumps(params or {}, sort_keys=True, default=str),
    )
    session.add(request)
    session.flush()
    subject = (
        f"allocation {allocation.reference}"
        if allocation is not None
        else f"pot {pot.name}"
        if pot is not None
        else f"{kind} {reference or ''}".strip()
    )
    _audit(session, entered_by, f"request_{kind}", subject[:200], memo)
    return request


def request_close(session: Session, *, reference: str, reason: str, entered_by: str) -> Request:
    """Ask for a confirmed, fully paid (or varied down) allocation to be closed. It waits for a
    second person; on approval ``close_allocation`` runs with that day's guards, and whatever
    else still waits on the allocation is rejected with it."""
    if not entered_by.strip():
        raise InvalidInput("Every act needs the name of the person entering it")
    allocation = _closable(session, reference, reason)
    waiting = session.scalars(
        select(Request.id).where(
            Request.allocation_id == allocation.id,
            Request.kind == "close",
            Request.status == "pending",
        )
    ).first()
    if waiting is not None:
        raise AlreadyDecided(
            f"Allocation {reference}",
            f"awaiting closure (request {waiting}); approve or reject that request instead",
        )
    return _request(
        session,
        "close",
        None,
        content_sha256("close", {"allocation": reference, "reason": reason}),
        amount_pence=0,
        date=dt.date.today(),
        memo=f"Close: {reason}"[:2000],
        entered_by=entered_by,
        allocation=allocation,
        params={"reason": reason},
    )


def request_import(session: Session, *, csv: str, source_name: str, entered_by: str) -> Request:
    """A whole import file entered by one person, waiting for a second to approve it: then it
    is applied at once, with that day's guards (``approve_request``)."""
    rows = max(len(csv.splitlines()) - 1, 0)
    return _request(
        session,
        "import",
        None,
        content_sha256("import", {"csv": csv, "source": source_name}),
        amount_pence=0,
        date=dt.date.today(),
        memo=f"Import of {source_name} ({rows} lines)"[:2000],
        entered_by=entered_by,
        params={"csv": csv, "source_name": source_name},
    )


REQUEST_WORDS = {
    "vary": "variation",
    "pay": "payment",
    "award": "award",
    "receive": "receipt",
    "return": "return",
    "carry_forward": "carry-forward",
    "hand_back": "hand-back",
    "reverse": "reversal",
    "import": "import",
    "reduce_award": "award reduction",
    "close": "closure",
}


def request_subject(request: Request) -> str:
    """How a request is named in messages: "a payment on WFWF-22-02", "an award AW-1"."""
    word = REQUEST_WORDS[request.kind]
    article = "an" if word[0] in "aeiou" else "a"
    if request.allocation is not None:
        preposition = "of" if request.kind in ("vary", "close") else "on"
        return f"{article} {word} {preposition} {request.allocation.reference}"
    return f"{article} {word} {request.reference or request.id}"


def approve_request(session: Session, *, request_id: int, approved_by: str) -> Entry | None:
    """A second person approves what waits, which posts it with today's guards. A whole import
    returns None (its entries are many), and so does a closure (it posts nothing); a closure
    is never approved by the person who asked for it."""
    request = _pending(session, request_id)
    what = request_subject(request)
    if request.kind == "close" and same_person(request.entered_by, approved_by):
        raise InvalidInput(
            f"{approved_by} asked for {what} and cannot also approve it; someone else who may"
            " approve must decide it"
        )
    amount = abs(request.amount_pence)
    approver = rules.approver(
        request.entered_by,
        approved_by,
        what,
        amount,
        self_approval_limit_pence(session),
        self_approved_pence(session, allocation_id=request.allocation_id, pot_id=request.pot_id)
        if same_person(request.entered_by, approved_by)
        else 0,
    )
    assert approver is not None
    entry = _carry_out(session, request, approver)
    request.status = "approved"
    request.decided_by = approver
    request.decided_at = utcnow()
    request.entry_id = entry.id if entry is not None else None
    _audit(session, approver, "approve", f"request {request.id}", what)
    session.flush()
    return entry


def _carry_out(session: Session, request: Request, approver: str) -> Entry | None:
    params = json.loads(request.params or "{}")
    common: dict[str, Any] = {"entered_by": request.entered_by, "approved_by": approver}
    if request.kind in ("vary", "pay"):
        allocation = request.allocation
        assert allocation is not None
        _lock_allocation(session, allocation)
        args = (
            request.effective_date,
            request.memo,
            request.entered_by,
            approver,
            request.reference,
            request.content_sha256,
        )
        if request.kind == "vary":
            _guard_variation(
                session, allocation, request.amount_pence, request.id, request.effective_date
            )
            return _post_variation(session, allocation, request.amount_pence, *args)
        _guard_payment(
            session, allocation, request.amount_pence, request.id, request.effective_date
        )
        return _post_payment(session, allocation, request.amount_pence, *args)
    if request.kind == "close":
        assert request.allocation is not None
        close_allocation(
            session,
            reference=request.allocation.reference,
            closed_by=approver,
            reason=params["reason"],
            _approving=request,
        )
        return None
    if request.kind == "import":
        from ledger.importer import import_rows

        import_rows(
            session,
            params["csv"].splitlines(keepends=True),
            source_name=params["source_name"],
            entered_by=request.entered_by,
            approved_by=approver,
        )
        return None
    done: Entry | Request | Allocation
    reference = request.reference or ""
    if request.kind == "award":
        done = record_award(
            session,
            reference=reference,
            pot=params["pot"],
            funder=params["funder"],
            amount_pence=params["amount"],
            award_date=dt.date.fromisoformat(params["date"]),
            memo=params["memo"],
            financial_year=params["fy"],
            stream=params["stream"],
            is_assumption=params["assumption"],
            _approving=request,
            **common,
        )
    elif request.kind == "receive":
        done = record_receipt(
            session,
            reference=reference,
            pot=params["pot"],
            funder=params["funder"],
            amount_pence=params["amount"],
            date=dt.date.fromisoformat(params["date"]),
            memo=params["memo"],
            _approving=request,
            **common,
        )
    elif request.kind == "return":
        assert request.allocation is not None
        done = return_unspent(
            session,
            reference=reference,
            allocation=request.allocation.reference,
            amount_pence=request.amount_pence,
            date=request.effective_date,
            memo=request.memo,
            _approving=request,
            **common,
        )
    elif request.kind == "carry_forward":
        done = carry_forward(
            session,
            reference=reference,
            from_pot=params["from"],
            to_pot=params["to"],
            amount_pence=request.amount_pence,
            date=request.effective_date,
            memo=request.memo,
            _approving=request,
            **common,
        )
    elif request.kind == "hand_back":
        done = hand_back(
            session,
            reference=reference,
            pot=params["pot"],
            amount_pence=request.amount_pence,
            date=request.effective_date,
            memo=request.memo,
            _approving=request,
            **common,
        )
    elif request.kind == "reduce_award":
        done = reduce_award(
            session,
            reference=reference,
            award=params["award"],
            amount_pence=request.amount_pence,
            date=request.effective_date,
            memo=request.memo,
            _approving=request,
            **common,
        )
    else:
        done = reverse(
            session,
            entry_id=params["entry"],
            reason=params["reason"],
            date=request.effective_date,
            reference=request.reference,
            _approving=request,
            **common,
        )
    assert isinstance(done, Entry)
    return done


def reject_request(session: Session, *, request_id: int, rejected_by: str, note: str) -> Request:
    request = _pending(session, request_id)
    if not note.strip():
        raise InvalidInput("Say why the request is rejected", field="note")
    request.status = "rejected"
    request.decided_by = rejected_by
    request.decided_at = utcnow()
    request.decision_note = note
    _audit(session, rejected_by, "reject", f"request {request.id}", note)
    session.flush()
    return request


def _pending(session: Session, request_id: int) -> Request:
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound("request", str(request_id))
    if request.status != "pending":
        raise AlreadyDecided(f"Request {request_id}", request.status)
    return request


# Year end and corrections ------------------------------------------------------------------


def carry_forward(
    session: Session,
    *,
    reference: str,
    from_pot: str,
    to_pot: str,
    amount_pence: int,
    date: dt.date,
    entered_by: str,
    memo: str,
    approved_by: str | None = None,
    _approving: Request | None = None,
) -> Entry | Request:
    """Move a pot's unspent balance into the same stream's pot for the next financial year, as
    funders allow (Year 1 underspend into Year 2). Distinct from handing money back."""
    check_reference(reference)
    require_positive(amount_pence)
    params = {"from": from_pot, "to": to_pot, "amount": amount_pence, "date": date, "memo": memo}
    content = content_sha256("carry_forward", params)
    replay = _replayed(session, reference, content, _approving)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    source, target = find_pot(session, from_pot), find_pot(session, to_pot, "to_pot")
    rules.require_carry_forward(
        source.name,
        target.name,
        source_year=source.financial_year,
        target_year=target.financial_year,
        source_stream=source.stream.name if source.stream else None,
        target_stream=target.stream.name if target.stream else None,
        source_delegated=source.parent_allocation_id is not None,
        target_delegated=target.parent_allocation_id is not None,
    )
    lock_pots(session, [source.id, target.id])
    excluding = _approving.id if _approving is not None else None
    _guard_available(session, source, amount_pence, "carry-forward", excluding, date)
    _guard_hand_backs(session, source, amount_pence, "carry-forward", date)
    approver = _approval(
        session,
        entered_by,
        approved_by,
        f"carry-forward {reference}",
        amount_pence,
        pot_id=source.id,
    )
    if approver is None:
        return _request(
            session,
            "carry_forward",
            reference,
            content,
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            entered_by=entered_by,
            pot=source,
            params={"from": from_pot, "to": to_pot},
        )
    legs = [
        Leg(account_of(session, "available", pot_id=source.id), amount_pence),
        Leg(account_of(session, "cash", pot_id=source.id), -amount_pence),
        Leg(account_of(session, "cash", pot_id=target.id), amount_pence),
        Leg(account_of(session, "available", pot_id=target.id), -amount_pence),
    ]
    return post(
        session,
        kind="carry_forward",
        legs=legs,
        effective_date=date,
        memo=memo,
        entered_by=entered_by,
        approved_by=approver,
        reference=reference,
        content=content,
        amount_pence=amount_pence,
        pot_id=source.id,
        to_pot_id=target.id,
    )


def hand_back(
    session: Session,
    *,
    reference: str,
    pot: str,
    amount_pence: int,
    date: dt.date,
    entered_by: str,
    memo: str,
    approved_by: str | None = None,
    _approving: Request | None = None,
) -> Entry | Request:
    """Unspent cash handed back to the funder: it leaves the ledger. Never more than the pot
    has available, nor more than the cash it holds on the day."""
    check_reference(reference)
    require_positive(amount_pence)
    content = content_sha256(
        "hand_back", {"pot": pot, "amount": amount_pence, "date": date, "memo": memo}
    )
    replay = _replayed(session, reference, content, _approving)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    source = find_pot(session, pot)
    rules.require_hand_back(source.name, source.parent_allocation_id is not None)
    lock_pots(session, [source.id])
    excluding = _approving.id if _approving is not None else None
    _guard_available(session, source, amount_pence, "hand-back", excluding, date)
    rules.require_cash(
        source.name, _cash_on(session, source, date, lowest=False), amount_pence, "hand-back", date
    )
    _guard_cash(session, source, amount_pence, "hand-back", date, handing_back=True)
    approver = _approval(
        session, entered_by, approved_by, f"hand-back {reference}", amount_pence, pot_id=source.id
    )
    if approver is None:
        return _request(
            session,
            "hand_back",
            reference,
            content,
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            entered_by=entered_by,
            pot=source,
            params={"pot": pot},
        )
    legs = [
        Leg(account_of(session, "available", pot_id=source.id), amount_pence),
        Leg(account_of(session, "cash", pot_id=source.id), -amount_pence),
    ]
    return post(
        session,
        kind="hand_back",
        legs=legs,
        effective_date=date,
        memo=memo,
        entered_by=entered_by,
        approved_by=approver,
        reference=reference,
        content=content,
        amount_pence=amount_pence,
        pot_id=source.id,
    )


def find_award(session: Session, reference: str, field: str = "allocation_ref") -> Award:
    award = session.scalars(select(Award).where(Award.reference == reference)).one_or_none()
    if award is None:
        raise NotFound("award", reference, field)
    return award


def find_entry(session: Session, reference: str, field: str = "allocation_ref") -> Entry:
    """The journal entry recorded under ``reference``."""
    entry = session.scalars(select(Entry).where(Entry.reference == reference)).one_or_none()
    if entry is None:
        raise NotFound("journal entry", reference, field)
    return entry


def funders_of_pot(session: Session, pot: Pot) -> list[str]:
    """The funders that have awarded money into ``pot``, by name."""
    return sorted(
        set(
            session.scalars(
                select(Organisation.name)
                .join(Award, Award.funder_id == Organisation.id)
                .where(Award.pot_id == pot.id)
            )
        )
    )


def _pending_award_reductions(session: Session, award: Award, excluding: int | None) -> int:
    """Award reductions of ``award`` awaiting approval: they hold what the funder still owes."""
    return sum(
        request.amount_pence
        for request in session.scalars(
            select(Request).where(
                Request.kind == "reduce_award",
                Request.status == "pending",
                Request.pot_id == award.pot_id,
                Request.id != (excluding or 0),
            )
        )
        if json.loads(request.params or "{}").get("award") == award.reference
    )


def reduce_award(
    session: Session,
    *,
    reference: str,
    award: str,
    amount_pence: int,
    date: dt.date,
    entered_by: str,
    memo: str,
    approved_by: str | None = None,
    _approving: Request | None = None,
) -> Entry | Request:
    """The funder withdraws ``amount_pence`` of award ``award`` that it has not yet paid: the
    award and the pot's funding go down by that much.

    Distinct from a hand-back, which gives back cash already received. The entry is an award
    entry whose legs run the other way (the pot's available money back to the award's
    receivable), so every figure and report that reads awards counts it as a smaller award.
    Never more than the funder still owes on the award, nor more than the pot has available
    after holds, on the day and on every later day."""
    check_reference(reference)
    require_positive(amount_pence)
    params = {"award": award, "amount": amount_pence, "date": date, "memo": memo}
    content = content_sha256("reduce_award", params)
    replay = _replayed(session, reference, content, _approving)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    target = find_award(session, award)
    pot = target.pot
    lock_pots(session, [pot.id])
    rules.require_not_before(date, target.award_date, "award reduction", f"award {award}")
    excluding = _approving.id if _approving is not None else None
    receivable = account_of(session, "receivable", award_id=target.id)
    rules.require_award_owed(
        award,
        target.funder.name,
        receivable.balance_pence,
        _pending_award_reductions(session, target, excluding),
        amount_pence,
    )
    _guard_available(session, pot, amount_pence, "award reduction", excluding, date)
    approver = _approval(
        session,
        entered_by,
        approved_by,
        f"award reduction {reference}",
        amount_pence,
        pot_id=pot.id,
    )
    if approver is None:
        return _request(
            session,
            "reduce_award",
            reference,
            content,
            amount_pence=amount_pence,
            date=date,
            memo=memo,
            entered_by=entered_by,
            pot=pot,
            params={"award": award},
        )
    return post(
        session,
        kind="award",
        legs=[
            Leg(account_of(session, "available", pot_id=pot.id), amount_pence),
            Leg(receivable, -amount_pence),
        ],
        effective_date=date,
        memo=memo,
        entered_by=entered_by,
        approved_by=approver,
        reference=reference,
        content=content,
        amount_pence=amount_pence,
        pot_id=pot.id,
        award_id=target.id,
    )


def _guard_reversal(
    session: Session,
    target: Entry,
    allocation: Allocation | None,
    excluding: int | None,
    date: dt.date,
) -> None:
    """A reversal may not take money that is held for changes awaiting approval: what it takes
    from each pot's available money, and from the allocation's unpaid commitment, must be
    free after holds. Cash it takes from a pot must not leave the pot holding less than
    nothing on a day it handed money back."""
    taken: dict[int, int] = {}
    cash_taken: dict[int, int] = {}
    unpaid_taken = 0
    for line in target.lines:
        account = line.account
        if account.kind == "available" and account.pot_id is not None:
            taken[account.pot_id] = taken.get(account.pot_id, 0) - line.amount_pence
        elif account.kind == "cash" and account.pot_id is not None:
            cash_taken[account.pot_id] = cash_taken.get(account.pot_id, 0) + line.amount_pence
        elif account.kind == "unpaid":
            unpaid_taken -= line.amount_pence
    for pot_id, needed in sorted(taken.items()):
        if needed > 0:
            pot = session.get_one(Pot, pot_id)
            held = held_in_pot(session, pot_id, excluding)
            rules.require_available(pot.name, pot.available_pence, held, needed, "reversal")
    if allocation is not None and unpaid_taken > 0:
        rules.require_unpaid(
            allocation.reference,
            allocation.unpaid_pence,
            pending_reduction_on_allocation(session, allocation, excluding),
            unpaid_taken,
            "reversal",
        )
    for pot_id, needed in sorted(cash_taken.items()):
        if needed > 0:
            _guard_hand_backs(session, session.get_one(Pot, pot_id), needed, "reversal", date)


def reverse(
    session: Session,
    *,
    entry_id: int,
    reason: str,
    entered_by: str,
    date: dt.date | None = None,
    reference: str | None = None,
    approved_by: str | None = None,
    _approving: Request | None = None,
) -> Entry | Request:
    """Correct a posted entry by posting its mirror image; the original stays as it was.

    A reversal is an act like any other: it needs a second person (or waits for one), it is
    refused on a rejected or closed allocation, and it may not take money that changes
    awaiting approval hold."""
    if not reason.strip():
        raise InvalidInput("A reversal needs a reason", field="description")
    content = content_sha256("reversal", {"entry": entry_id, "reason": reason})
    replay = _replayed(session, reference, content, _approving)
    if replay:
        return replay.entry or replay.request  # type: ignore[return-value]
    target = session.get(Entry, entry_id)
    if target is None:
        raise NotFound("journal entry", str(entry_id), "entry")
    if target.kind == "reversal":
        raise InvalidInput("A reversal cannot itself be reversed; post the entry again instead")
    existing = session.scalars(select(Entry).where(Entry.reverses_id == entry_id)).one_or_none()
    if existing is not None:
        raise AlreadyReversed(entry_id, existing.id)
    for waiting in session.scalars(
        select(Request).where(Request.kind == "reverse", Request.status == "pending")
    ):
        if waiting is not _approving and json.loads(waiting.params).get("entry") == entry_id:
            raise AlreadyDecided(
                f"Entry {entry_id}",
                f"awaiting reversal (request {waiting.id}); approve or reject that first",
            )
    allocation = session.get_one(Allocation, target.allocation_id) if target.allocation_id else None
    if allocation is not None:
        rules.require_open(allocation.reference, allocation.status, "reversal")
    when = date or target.effective_date
    rules.require_not_before(when, target.effective_date, "reversal", "the entry it reverses")
    approver = _approval(
        session,
        entered_by,
        approved_by,
        f"a reversal of entry {entry_id}",
        target.amount_pence,
        allocation_id=target.allocation_id,
        pot_id=target.pot_id,
    )
    if approver is None:
        return _request(
            session,
            "reverse",
            reference,
            content,
            amount_pence=target.amount_pence,
            date=when,
            memo=f"Reverses entry {entry_id}: {reason}",
            entered_by=entered_by,
            allocation=allocation,
            pot=None if allocation is not None else session.get(Pot, target.pot_id),
            params={"entry": entry_id, "reason": reason},
        )
    pot_ids = {line.account.pot_id for line in target.lines if line.account.pot_id}
    lock_pots(session, [pid for pid in pot_ids if pid is not None])
    _guard_reversal(session, target, allocation, _approving.id if _approving else None, when)
    legs = [Leg(line.account, -line.amount_pence) for line in target.lines]
    entry = post(
        session,
        kind="reversal",
        legs=legs,
        effective_date=when,
        memo=f"Reverses entry {entry_id}: {reason}",
        entered_by=entered_by,
        approved_by=approver,
        reference=reference,
        content=content,
        amount_pence=target.amount_pence,
        pot_id=target.pot_id,
        to_pot_id=target.to_pot_id,
        award_id=target.award_id,
        allocation_id=target.allocation_id,
        reverses=target,
    )
    _audit(session, entered_by, "reverse", f"entry {entry_id}", reason)
    return entry
