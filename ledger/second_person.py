"""Waivers and phasings that wait for a second person.

On the command line one act names both people (``requirement waive ID --approved-by NAME``,
``phasing AWARD … --approved-by NAME``). In the web app only one person is signed in, so the act
is asked for first and approved later by someone else, exactly as the command line would record
it then:

- a **waiver** of a reporting requirement is asked for with a reason; an approver who neither
  asked for it nor entered the requirement approves it, and ``timeline.waive_requirement``
  records it with both names;
- a **phasing** of an award (one amount per financial year, adding up exactly) is asked for;
  within the self-approval limit it takes effect at once, as on the command line, otherwise a
  second person approves it and ``timeline.set_phasing`` records it with both names.

Either may be declined instead, which frees the requirement or award for another request. Like
``ledger.timeline`` this never commits: the caller runs it in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import schedule as rules
from ledger import timeline
from ledger.errors import InvalidInput, NotFound
from ledger.models import AuditEvent, Requirement, SecondPersonRequest, utcnow


def _need(text: str | None, what: str, field: str) -> str:
    if text is None or not text.strip():
        raise InvalidInput(f"{what} cannot be blank", field=field)
    return text.strip()


def _audit(session: Session, actor: str, action: str, subject: str, detail: str) -> None:
    session.add(AuditEvent(actor=actor, action=action, subject=subject, detail=detail))


def _open_requirement(session: Session, requirement_id: int) -> Requirement:
    row = session.get(Requirement, requirement_id)
    if row is None:
        raise NotFound("requirement", str(requirement_id), "requirement")
    if row.received_by is not None or row.waived_by is not None:
        state = "received" if row.received_by is not None else "waived"
        raise InvalidInput(f"'{row.title}' is already {state}", field="requirement")
    return row


def pending_for_requirement(session: Session, requirement_id: int) -> SecondPersonRequest | None:
    return session.scalars(
        select(SecondPersonRequest).where(
            SecondPersonRequest.requirement_id == requirement_id,
            SecondPersonRequest.status == "pending",
        )
    ).one_or_none()


def pending_for_award(session: Session, award_id: int) -> SecondPersonRequest | None:
    return session.scalars(
        select(SecondPersonRequest).where(
            SecondPersonRequest.award_id == award_id, SecondPersonRequest.status == "pending"
        )
    ).one_or_none()


def pending(session: Session) -> list[SecondPersonRequest]:
    """Everything waiting, oldest first."""
    return list(
        session.scalars(
            select(SecondPersonRequest)
            .where(SecondPersonRequest.status == "pending")
            .order_by(SecondPersonRequest.id)
        )
    )


def parts_of(row: SecondPersonRequest) -> dict[int, int]:
    """A phasing request's parts: financial year (its first calendar year) to pence."""
    return {int(year): int(pence) for year, pence in json.loads(row.parts or "{}").items()}


def ask_waiver(
    session: Session, *, requirement_id: int, reason: str, entered_by: str
) -> SecondPersonRequest:
    """Ask for a requirement to be waived; it waits for an approver."""
    requirement = _open_requirement(session, requirement_id)
    reason = _need(reason, "A waiver's reason", "reason")
    if pending_for_requirement(session, requirement.id) is not None:
        raise InvalidInput(
            f"A waiver of '{requirement.title}' is already waiting for approval", field="reason"
        )
    row = SecondPersonRequest(
        kind="waive_requirement",
        requirement_id=requirement.id,
        reason=reason,
        entered_by=_need(entered_by, "The name of the person asking", "entered_by"),
    )
    session.add(row)
    _audit(
        session,
        entered_by,
        "request_waiver",
        f"requirement {requirement.id} of allocation {requirement.allocation.reference}",
        f"'{requirement.title}': {reason}",
    )
    session.flush()
    return row


def ask_phasing(
    session: Session, *, award: str, parts: Mapping[int, int], entered_by: str
) -> SecondPersonRequest | None:
    """Ask for ``award`` to be phased. Within the self-approval limit it is phased at once (and
    None is returned); otherwise the request waits for a second person."""
    target = timeline.find_award(session, award)
    entered_by = _need(entered_by, "The name of the person asking", "entered_by")
    rules.check_phasing(target.reference, target.amount_pence, parts)
    if timeline.phasing_of(session, target.id):
        raise InvalidInput(
            f"Award {target.reference} is already phased; a phasing is stated once",
            field="phasing",
        )
    if pending_for_award(session, target.id) is not None:
        raise InvalidInput(
            f"A phasing of award {target.reference} is already waiting for approval",
            field="phasing",
        )
    if target.amount_pence <= ops.self_approval_limit_pence(session):
        timeline.set_phasing(
            session,
            award=target.reference,
            parts=parts,
            entered_by=entered_by,
            approved_by=entered_by,
        )
        return None
    row = SecondPersonRequest(
        kind="phase_award",
        award_id=target.id,
        parts=json.dumps({str(y): p for y, p in sorted(parts.items())}),
        entered_by=entered_by,
    )
    session.add(row)
    _audit(
        session,
        entered_by,
        "request_phasing",
        f"award {target.reference}",
        timeline.describe_phasing(parts),
    )
    session.flush()
    return row


def _waiting(session: Session, request_id: int) -> SecondPersonRequest:
    row = session.get(SecondPersonRequest, request_id)
    if row is None:
        raise NotFound("request", str(request_id), "request")
    if row.status != "pending":
        raise InvalidInput(f"This request was already {row.status} by {row.decided_by}")
    return row


def approve(session: Session, *, request_id: int, approved_by: str) -> SecondPersonRequest:
    """A second person approves: the waiver or the phasing is recorded with both names. Neither
    the person who asked nor (for a waiver) the person who entered the requirement may."""
    row = _waiting(session, request_id)
    approved_by = _need(approved_by, "The approver's name", "approved_by")
    if ops.same_person(row.entered_by, approved_by):
        raise InvalidInput(
            f"{approved_by} asked for this and cannot also approve it; a second person must",
            field="approved_by",
        )
    if row.kind == "waive_requirement":
        assert row.requirement is not None and row.reason is not None
        if ops.same_person(row.requirement.entered_by, approved_by):
            raise InvalidInput(
                f"{approved_by} entered '{row.requirement.title}' and cannot also approve its"
                " waiver; a second person must",
                field="approved_by",
            )
        timeline.waive_requirement(
            session,
            requirement_id=row.requirement.id,
            reason=row.reason,
            entered_by=row.entered_by,
            approved_by=approved_by,
        )
    else:
        assert row.award is not None
        timeline.set_phasing(
            session,
            award=row.award.reference,
            parts=parts_of(row),
            entered_by=row.entered_by,
            approved_by=approved_by,
        )
    row.status, row.decided_by, row.decided_at = "approved", approved_by, utcnow()
    session.flush()
    return row


def decline(session: Session, *, request_id: int, declined_by: str) -> SecondPersonRequest:
    """Decline a request (the person who asked may withdraw their own)."""
    row = _waiting(session, request_id)
    declined_by = _need(declined_by, "The name of the person declining", "declined_by")
    row.status, row.decided_by, row.decided_at = "declined", declined_by, utcnow()
    subject = (
        f"requirement {row.requirement_id}"
        if row.kind == "waive_requirement"
        else f"award {row.award.reference if row.award else row.award_id}"
    )
    _audit(session, declined_by, f"decline_{row.kind}", subject, f"asked by {row.entered_by}")
    session.flush()
    return row
