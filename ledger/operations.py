"""What people do with the money: award, receive, allocate, delegate, vary, pay, return, carry
forward, hand back, approve, reverse.

Each operation is a plain function over a Session. It checks its guard first and raises a typed
``LedgerError`` with the facts; otherwise it posts exactly one balanced journal entry. It never
commits: the caller runs it inside one transaction (``ledger.db.run_in_transaction``), so a
refusal writes nothing.

Every operation takes a ``reference`` chosen by the caller. Replaying the same reference with the
same content returns what was recorded the first time; with different content it is refused.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import promise
from ledger.errors import (
    AllocationClosed,
    AlreadyDecided,
    AlreadyReversed,
    InsufficientFunds,
    InvalidInput,
    NotConfirmed,
    NotFound,
    OverCommitted,
    OverReceived,
    OverReturned,
    ReferenceConflict,
    SelfApproval,
)
from ledger.fy import financial_year_of, label
from ledger.journal import Leg, account_of, content_sha256, open_account, post
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
from ledger.money import split_by_ratios

SELF_APPROVAL_LIMIT = "self_approval_limit_pence"
ACCOUNTABLE_BODY = "accountable_body"


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
    """The organisation called ``name``, created if new, with at least ``roles``."""
    name = check_name(name, "organisation", "counterparty")
    organisation = session.scalars(
        select(Organisation).where(Organisation.name == name)
    ).one_or_none()
    if organisation is None:
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
    if session.scalars(select(Pot.id).where(Pot.name == name)).first() is not None:
        raise InvalidInput(f"There is already a pot called '{name}'", field="to_pot")
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


def _replayed(session: Session, reference: str | None, content: str) -> Replay | None:
    if reference is None:
        return None
    entry = session.scalars(select(Entry).where(Entry.reference == reference)).one_or_none()
    if entry is not None:
        if entry.content_sha256 != content:
            raise ReferenceConflict(reference)
        return Replay(entry=entry)
    request = session.scalars(select(Request).where(Request.reference == reference)).one_or_none()
    if request is not None:
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


MAX_REFERENCE_CHARS = 100
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Control, format (zero-width, direction overrides) and line/paragraph separator characters:
a reference with one looks like another reference, or rewrites the line it is printed on."""
MAX_NAME_CHARS = 200


def check_reference(reference: str | None) -> None:
    if reference is None:
        return
    if not reference.strip():
        raise InvalidInput("A reference cannot be blank", field="reference")
    if not reference.isprintable() and any(
        unicodedata.category(c) in INVISIBLE_CATEGORIES for c in reference
    ):
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


def check_name(name: str, what: str, field: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput(f"A {what} needs a name", field=field)
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"A {what} name can be at most {MAX_NAME_CHARS} characters; this one has {len(name)}",
            field=field,
        )
    return name


def same_person(first: str, second: str) -> bool:
    """Names are compared as people read them: ``Alice`` and `` alice`` are one person."""
    return first.strip().casefold() == second.strip().casefold()


def _approval(
    session: Session, entered_by: str, approved_by: str | None, what: str, amount_pence: int
) -> str | None:
    """The approver to record, or None if the act waits for a second person."""
    if not entered_by.strip():
        raise InvalidInput("Every act needs the name of the person entering it")
    if approved_by is None:
        return None
    if not approved_by.strip():
        raise InvalidInput("The approver's name cannot be blank", field="approved_by")
    limit = self_approval_limit_pence(session)
    if same_person(approved_by, entered_by) and abs(amount_pence) > limit:
        raise SelfApproval(entered_by, what, abs(amount_pence), limit)
    return approved_by


def _audit(session: Session, actor: str, action: str, subject: str, detail: str = "") -> None:
    session.add(AuditEvent(actor=actor, action=action, subject=subject, detail=detail))


def require_positive(amount_pence: int) -> None:
    if amount_pence <= 0:
        raise InvalidInput("The amount must be more than £0.00", field="amount")


# Holds: money promised by requests awaiting approval ---------------------------------------


def pending_increase_on_pot(session: Session, pot: Pot, excluding: int | None = None) -> int:
    """Money held in ``pot`` by pending increases (other than request ``excluding``)."""
    return held_in_pot(session, pot.id, excluding)


def held_in_pot(session: Session, pot_id: int, excluding: int | None = None) -> int:
    """``pending_increase_on_pot`` by the pot's id: each pending increase's part for this pot,
    split across the allocation's shares by weight."""
    rows = session.execute(
        select(Request.id, Request.amount_pence, Request.allocation_id)
        .join(AllocationShare, AllocationShare.allocation_id == Request.allocation_id)
        .where(
            Request.status == "pending",
            Request.kind == "vary",
            Request.amount_pence > 0,
            AllocationShare.pot_id == pot_id,
            Request.id != (excluding or 0),
        )
        .order_by(Request.id)
    ).all()
    held = 0
    for _, amount, allocation_id in rows:
        shares = session.execute(
            select(AllocationShare.pot_id, AllocationShare.weight_pence)
            .where(AllocationShare.allocation_id == allocation_id)
            .order_by(AllocationShare.id)
        ).all()
        parts = split_by_ratios(amount, [weight for _, weight in shares])
        held += sum(
            p for (share_pot, _), p in zip(shares, parts, strict=True) if share_pot == pot_id
        )
    return held


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
            (Request.kind == "pay") | (Request.amount_pence < 0),
            Request.id != (excluding or 0),
        )
    )
    return int(total or 0)


def _guard_available(
    session: Session, pot: Pot, needed_pence: int, what: str, excluding: int | None = None
) -> None:
    held = pending_increase_on_pot(session, pot, excluding)
    available = pot.available_pence - held
    if needed_pence > available:
        raise InsufficientFunds(pot.name, available, needed_pence, held_pence=held, what=what)


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
) -> Entry:
    """``funder`` awards ``amount_pence`` into ``pot`` (opened if new) for one financial year."""
    check_reference(reference)
    require_positive(amount_pence)
    year = financial_year if financial_year is not None else financial_year_of(award_date)
    content = content_sha256(
        "award",
        {
            "pot": pot,
            "funder": funder,
            "amount": amount_pence,
            "date": award_date,
            "fy": year,
            "stream": stream,
            "assumption": is_assumption,
            "memo": memo,
        },
    )
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return replay.entry
    approver = _approval(session, entered_by, approved_by, f"award {reference}", amount_pence)
    funder_org = ensure_organisation(session, funder, ["funder"])
    stream_row = None
    if stream is not None:
        stream_row = session.scalars(
            select(FundingStream).where(FundingStream.name == stream)
        ).one_or_none()
        if stream_row is None:
            raise NotFound("funding stream", stream, "stream")
    target = session.scalars(select(Pot).where(Pot.name == pot)).one_or_none()
    if target is None:
        target = open_pot(
            session, pot, accountable_body(session), stream=stream_row, financial_year=year
        )
    if target.parent_allocation_id is not None:
        raise InvalidInput(
            f"{target.name} is a delegated pot: it is funded by its delegation, not by awards",
            field="pot",
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
) -> Entry:
    """Cash arrives from ``funder`` against its awards into ``pot``, oldest award first."""
    check_reference(reference)
    require_positive(amount_pence)
    content = content_sha256(
        "receive",
        {"pot": pot, "funder": funder, "amount": amount_pence, "date": date, "memo": memo},
    )
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return replay.entry
    target = find_pot(session, pot)
    funder_org = find_organisation(session, funder)
    lock_pots(session, [target.id])
    awards = session.scalars(
        select(Award)
        .where(Award.pot_id == target.id, Award.funder_id == funder_org.id)
        .order_by(Award.award_date, Award.id)
    ).all()
    # What is still owed is the award's receivable balance: a reversed award owes nothing.
    outstanding = [
        (a, account_of(session, "receivable", award_id=a.id).balance_pence) for a in awards
    ]
    total_outstanding = sum(o for _, o in outstanding)
    if amount_pence > total_outstanding:
        raise OverReceived(funder_org.name, target.name, total_outstanding, amount_pence)
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
        approved_by=None,
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
    """One allocation funded from several pots: ``shares`` is (pot, pence) for each funder."""
    check_reference(reference)
    if not shares:
        raise InvalidInput("An allocation needs at least one pot", field="pot")
    pot_names = [name for name, _ in shares]
    if len(set(pot_names)) != len(pot_names):
        raise InvalidInput("Each pot can fund a pooled contract only once", field="pot")
    for _, part in shares:
        require_positive(part)
    total = sum(part for _, part in shares)
    normalised_tags = _normalise_tags(tags)
    kind = "delegate" if to_pot else "allocate"
    content = content_sha256(
        kind,
        {
            "shares": list(shares),
            "recipient": recipient,
            "date": date,
            "purpose": purpose,
            "period": [period_start, period_end],
            "tags": normalised_tags,
            "to_pot": to_pot,
            "memo": memo,
        },
    )
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return session.get_one(Allocation, replay.entry.allocation_id)
    if period_start and period_end and period_end < period_start:
        raise InvalidInput("The period must end on or after it starts", field="period_end")
    if to_pot and len(shares) > 1:
        raise InvalidInput("A delegation is funded from one pot", field="to_pot")
    pots = [find_pot(session, name) for name in pot_names]
    lock_pots(session, [p.id for p in pots])
    what = _allocation_word(pots, to_pot)
    for source, (_, part) in zip(pots, shares, strict=True):
        _guard_available(session, source, part, what)
    approver = _approval(session, entered_by, approved_by, f"{what} {reference}", total)
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
        kind=kind,
        legs=legs,
        effective_date=date,
        memo=memo or purpose or f"{what.capitalize()} to {recipient_org.name}",
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
        _audit(session, approver, "approve", f"allocation {reference}", "approved on entry")
    return allocation


def _allocation_word(pots: Sequence[Pot], to_pot: str | None) -> str:
    if to_pot:
        return "delegation"
    if any(p.parent_allocation_id is not None for p in pots):
        return "sub-grant"
    return "pooled contract" if len(pots) > 1 else "allocation"


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
    """A second person confirms a provisional allocation."""
    allocation = find_allocation(session, reference)
    if allocation.status != "provisional":
        raise AlreadyDecided(f"Allocation {reference}", allocation.status)
    _approval(
        session,
        allocation.entered_by,
        approved_by,
        f"allocation {reference}",
        allocation.allocated_pence,
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
    as rejected."""
    if not note.strip():
        raise InvalidInput("Say why the allocation is rejected", field="note")
    allocation = find_allocation(session, reference)
    if allocation.status != "provisional":
        raise AlreadyDecided(f"Allocation {reference}", allocation.status)
    _lock_allocation(session, allocation)
    for pending in session.scalars(
        select(Request).where(Request.allocation_id == allocation.id, Request.status == "pending")
    ).all():
        reject_request(session, request_id=pending.id, rejected_by=rejected_by, note=note)
    release = allocation.unpaid_pence
    if release:
        _guard_variation(session, allocation, -release)
        _post_variation(
            session,
            allocation,
            -release,
            date or dt.date.today(),
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


def close_allocation(session: Session, *, reference: str, closed_by: str, reason: str) -> None:
    allocation = find_allocation(session, reference)
    if allocation.status == "closed":
        raise AllocationClosed(reference)
    if allocation.status != "confirmed":
        raise NotConfirmed(reference, allocation.status)
    if allocation.unpaid_pence or pending_reduction_on_allocation(session, allocation):
        raise InvalidInput(
            f"Allocation {reference} still has money committed or awaiting approval; vary it"
            " down to what was paid before closing it"
        )
    allocation.status = "closed"
    _audit(session, closed_by, "close", f"allocation {reference}", reason)
    session.flush()


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
    _guard_variation(session, target, delta_pence)
    approver = _approval(
        session, entered_by, approved_by, f"a variation of {allocation}", delta_pence
    )
    if approver is None:
        return _request(
            session, "vary", reference, content, target, delta_pence, date, reason, entered_by
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
    session: Session, allocation: Allocation, delta_pence: int, excluding: int | None = None
) -> None:
    if allocation.status == "closed":
        raise AllocationClosed(allocation.reference)
    if delta_pence > 0:
        parts = _split_by_weight(allocation, delta_pence)
        for share, part in zip(allocation.shares, parts, strict=True):
            _guard_available(session, share.pot, part, "variation", excluding)
        return
    reduction = -delta_pence
    unpaid = allocation.unpaid_pence - pending_reduction_on_allocation(
        session, allocation, excluding
    )
    if reduction > unpaid:
        raise OverCommitted(allocation.reference, unpaid, reduction, "reduction")
    child = allocation.delegated_pot
    if child is not None:
        _guard_available(session, child, reduction, "reduction")


def _split_by_weight(allocation: Allocation, amount_pence: int) -> list[int]:
    return split_by_ratios(amount_pence, [s.weight_pence for s in allocation.shares])


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
    if delta_pence > 0:
        parts = _split_by_weight(allocation, delta_pence)
    else:
        parts = [
            -p
            for p in split_by_ratios(
                -delta_pence, [max(s.allocated_pence - s.paid_pence, 0) for s in allocation.shares]
            )
        ]
    return _post_on_allocation(
        session,
        allocation,
        kind="vary",
        parts=parts,
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
) -> Entry | Request:
    """Pay an instalment against a confirmed allocation; for a delegation, the cash handed to
    the intermediary. A pooled payment splits across funders in proportion to what each still
    owes, so the last instalment clears every funder's share exactly."""
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
    _guard_payment(session, target, amount_pence)
    approver = _approval(
        session, entered_by, approved_by, f"a payment on {allocation}", amount_pence
    )
    if approver is None:
        return _request(
            session, "pay", reference, content, target, amount_pence, date, memo, entered_by
        )
    return _post_payment(
        session, target, amount_pence, date, memo, entered_by, approver, reference, content
    )


def _guard_payment(
    session: Session, allocation: Allocation, amount_pence: int, excluding: int | None = None
) -> None:
    if allocation.status == "closed":
        raise AllocationClosed(allocation.reference)
    if allocation.status != "confirmed":
        raise NotConfirmed(allocation.reference, allocation.status)
    unpaid = allocation.unpaid_pence - pending_reduction_on_allocation(
        session, allocation, excluding
    )
    if amount_pence > unpaid:
        raise OverCommitted(allocation.reference, unpaid, amount_pence, "payment")


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
    owed = [s.allocated_pence - s.paid_pence for s in allocation.shares]
    parts = split_by_ratios(amount_pence, owed)
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
) -> Entry:
    """Money paid out comes back (underspend, clawback) and is available in its pot again.
    For a delegation, the intermediary gives back money it has not sub-granted."""
    check_reference(reference)
    require_positive(amount_pence)
    content = content_sha256(
        "return", {"allocation": allocation, "amount": amount_pence, "date": date, "memo": memo}
    )
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return replay.entry
    target = find_allocation(session, allocation)
    _lock_allocation(session, target)
    returnable = target.paid_pence - target.returned_pence
    if amount_pence > returnable:
        raise OverReturned(target.reference, returnable, amount_pence)
    child = target.delegated_pot
    if child is not None:
        _guard_available(session, child, amount_pence, "return")
    parts = split_by_ratios(amount_pence, [s.paid_pence - s.returned_pence for s in target.shares])
    return _post_on_allocation(
        session,
        target,
        kind="return",
        parts=parts,
        shares_move=("cash", "available"),
        child_move=("available", "cash"),
        child_pence=amount_pence,
        amount_pence=amount_pence,
        record=Record(date, memo, entered_by, None, reference, content),
    )


# Requests awaiting approval ----------------------------------------------------------------


def _request(
    session: Session,
    kind: str,
    reference: str | None,
    content: str,
    allocation: Allocation,
    amount_pence: int,
    date: dt.date,
    memo: str,
    entered_by: str,
) -> Request:
    request = Request(
        kind=kind,
        reference=reference,
        content_sha256=content,
        allocation_id=allocation.id,
        amount_pence=amount_pence,
        effective_date=date,
        memo=memo,
        entered_by=entered_by,
    )
    session.add(request)
    session.flush()
    _audit(session, entered_by, f"request_{kind}", f"allocation {allocation.reference}", memo)
    return request


def approve_request(session: Session, *, request_id: int, approved_by: str) -> Entry:
    """A second person approves a pending variation or payment, which posts it."""
    request = _pending(session, request_id)
    allocation = request.allocation
    what = f"a {'variation' if request.kind == 'vary' else 'payment'} of {allocation.reference}"
    approver = _approval(session, request.entered_by, approved_by, what, request.amount_pence)
    assert approver is not None
    _lock_allocation(session, allocation)
    if request.kind == "vary":
        _guard_variation(session, allocation, request.amount_pence, excluding=request.id)
    else:
        _guard_payment(session, allocation, request.amount_pence, excluding=request.id)
    post_args = (
        request.effective_date,
        request.memo,
        request.entered_by,
        approver,
        request.reference,
        request.content_sha256,
    )
    if request.kind == "vary":
        entry = _post_variation(session, allocation, request.amount_pence, *post_args)
    else:
        entry = _post_payment(session, allocation, request.amount_pence, *post_args)
    request.status = "approved"
    request.decided_by = approver
    request.decided_at = utcnow()
    request.entry_id = entry.id
    _audit(session, approver, "approve", f"request {request.id}", what)
    session.flush()
    return entry


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
) -> Entry:
    """Move a pot's unspent balance into the same stream's pot for a later financial year, as
    funders allow (Year 1 underspend into Year 2). Distinct from handing money back."""
    check_reference(reference)
    require_positive(amount_pence)
    content = content_sha256(
        "carry_forward",
        {"from": from_pot, "to": to_pot, "amount": amount_pence, "date": date, "memo": memo},
    )
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return replay.entry
    source, target = find_pot(session, from_pot), find_pot(session, to_pot, "to_pot")
    if source.financial_year is None or target.financial_year is None:
        raise InvalidInput("Both pots need a financial year to carry money forward", "to_pot")
    if target.financial_year <= source.financial_year:
        raise InvalidInput(
            f"{target.name} ({label(target.financial_year)}) is not a later year than"
            f" {source.name} ({label(source.financial_year)})",
            field="to_pot",
        )
    if source.stream_id != target.stream_id:
        raise InvalidInput(
            f"{source.name} and {target.name} are different funding streams; carry-forward"
            " stays within one stream",
            field="to_pot",
        )
    lock_pots(session, [source.id, target.id])
    _guard_available(session, source, amount_pence, "carry-forward")
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
        approved_by=approved_by,
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
) -> Entry:
    """Unspent money handed back to the funder: it leaves the ledger."""
    check_reference(reference)
    require_positive(amount_pence)
    content = content_sha256(
        "hand_back", {"pot": pot, "amount": amount_pence, "date": date, "memo": memo}
    )
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return replay.entry
    source = find_pot(session, pot)
    if source.parent_allocation_id is not None:
        raise InvalidInput(
            f"{source.name} is a delegated pot: its unspent money goes back through a return"
            " on its delegation",
            field="pot",
        )
    lock_pots(session, [source.id])
    _guard_available(session, source, amount_pence, "hand-back")
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
        approved_by=None,
        reference=reference,
        content=content,
        amount_pence=amount_pence,
        pot_id=source.id,
    )


def reverse(
    session: Session,
    *,
    entry_id: int,
    reason: str,
    entered_by: str,
    date: dt.date | None = None,
    reference: str | None = None,
) -> Entry:
    """Correct a posted entry by posting its mirror image; the original stays as it was."""
    if not reason.strip():
        raise InvalidInput("A reversal needs a reason", field="description")
    content = content_sha256("reversal", {"entry": entry_id, "reason": reason})
    replay = _replayed(session, reference, content)
    if replay and replay.entry:
        return replay.entry
    target = session.get(Entry, entry_id)
    if target is None:
        raise NotFound("journal entry", str(entry_id), "entry")
    if target.kind == "reversal":
        raise InvalidInput("A reversal cannot itself be reversed; post the entry again instead")
    existing = session.scalars(select(Entry).where(Entry.reverses_id == entry_id)).one_or_none()
    if existing is not None:
        raise AlreadyReversed(entry_id, existing.id)
    pot_ids = {line.account.pot_id for line in target.lines if line.account.pot_id}
    lock_pots(session, [pid for pid in pot_ids if pid is not None])
    legs = [Leg(line.account, -line.amount_pence) for line in target.lines]
    entry = post(
        session,
        kind="reversal",
        legs=legs,
        effective_date=date or target.effective_date,
        memo=f"Reverses entry {entry_id}: {reason}",
        entered_by=entered_by,
        approved_by=None,
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
