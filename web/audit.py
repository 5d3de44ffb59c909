"""The audit log: who did what, when and why. It reads both records the ledger keeps: the
journal (every movement of money, with who entered and who approved it) and the audit events
(approvals, rejections, requests, users). Filters: who, what, words and dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from ledger.models import ENTRY_KINDS, AuditEvent, Entry, Pot
from web import db
from web.forms import AuditFilterForm
from web.permissions import requires

bp = Blueprint("audit", __name__)

MAX_ROWS = 500
ENTRY_WORDS = {
    "award": "Award",
    "receive": "Receipt",
    "allocate": "Allocation",
    "delegate": "Delegation",
    "vary": "Variation",
    "pay": "Payment",
    "return": "Return",
    "carry_forward": "Carry-forward",
    "hand_back": "Hand-back",
    "reversal": "Reversal",
}


@dataclass(frozen=True)
class Record:
    at: dt.datetime
    who: str
    approved_by: str | None
    what: str
    subject: str
    why: str
    amount_pence: int | None


@dataclass(frozen=True)
class Filters:
    actor: str
    action: str
    words: str
    start: dt.datetime | None
    end: dt.datetime | None


@bp.route("/audit")
@requires("view_audit")
def log() -> ResponseReturnValue:
    session = db.session()
    form = AuditFilterForm(request.args)
    events = sorted(set(session.scalars(select(AuditEvent.action).distinct())))
    form.action.choices = [
        ("", "Anything"),
        *((f"entry:{k}", f"{ENTRY_WORDS[k]} (journal)") for k in ENTRY_KINDS),
        *((f"event:{a}", a.replace("_", " ").capitalize()) for a in events),
    ]
    valid = form.validate() if request.args else True
    filters = Filters(
        actor=(form.actor.data or "") if valid else "",
        action=(form.action.data or "") if valid else "",
        words=(form.words.data or "") if valid else "",
        start=_start(form.date_from.day) if valid else None,
        end=_start(form.date_to.day + dt.timedelta(days=1)) if valid and form.date_to.day else None,
    )
    records = sorted(
        [*_entries(session, filters), *_events(session, filters)],
        key=lambda r: _utc(r.at),
        reverse=True,
    )[:MAX_ROWS]
    status = 200 if valid else 422
    return render_template("audit/log.html", form=form, records=records, limit=MAX_ROWS), status


def _start(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _entries(session: Session, f: Filters) -> list[Record]:
    if f.action and not f.action.startswith("entry:"):
        return []
    query: Select[tuple[Entry]] = select(Entry).order_by(Entry.posted_at.desc()).limit(MAX_ROWS)
    if f.action:
        query = query.where(Entry.kind == f.action.removeprefix("entry:"))
    if f.actor:
        query = query.where(or_(Entry.entered_by == f.actor, Entry.approved_by == f.actor))
    if f.words:
        query = query.where(
            or_(
                Entry.memo.contains(f.words, autoescape=True),
                Entry.reference.contains(f.words, autoescape=True),
            )
        )
    if f.start:
        query = query.where(Entry.posted_at >= f.start)
    if f.end:
        query = query.where(Entry.posted_at < f.end)
    names = dict(session.execute(select(Pot.id, Pot.name)).tuples().all())
    return [
        Record(
            at=e.posted_at,
            who=e.entered_by,
            approved_by=e.approved_by,
            what=ENTRY_WORDS.get(e.kind, e.kind),
            subject=" → ".join(
                p for p in (names.get(e.pot_id or 0), names.get(e.to_pot_id or 0)) if p
            )
            + (f" ({e.reference})" if e.reference else ""),
            why=e.memo,
            amount_pence=e.amount_pence,
        )
        for e in session.scalars(query)
    ]


def _events(session: Session, f: Filters) -> list[Record]:
    if f.action and not f.action.startswith("event:"):
        return []
    query: Select[tuple[AuditEvent]] = (
        select(AuditEvent).order_by(AuditEvent.at.desc()).limit(MAX_ROWS)
    )
    if f.action:
        query = query.where(AuditEvent.action == f.action.removeprefix("event:"))
    if f.actor:
        query = query.where(AuditEvent.actor == f.actor)
    if f.words:
        query = query.where(
            or_(
                AuditEvent.detail.contains(f.words, autoescape=True),
                AuditEvent.subject.contains(f.words, autoescape=True),
            )
        )
    if f.start:
        query = query.where(AuditEvent.at >= f.start)
    if f.end:
        query = query.where(AuditEvent.at < f.end)
    return [
        Record(
            at=a.at,
            who=a.actor,
            approved_by=None,
            what=a.action.replace("_", " ").capitalize(),
            subject=a.subject,
            why=a.detail,
            amount_pence=None,
        )
        for a in session.scalars(query)
    ]
