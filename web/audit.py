"""The audit log: who did what, when and why. It reads both records the ledger keeps: the
journal (every movement of money, with who entered and who approved it) and the audit events
(approvals, rejections, requests, imports, people).

Filters: who, what, words, the recipient, the date it was recorded and the transaction's own
date. Text filters ignore case. Acts with no transaction date (approvals, rejections, people) are
left out when a transaction date is asked for. The log is shown a page at a time, newest first,
and ``/audit.csv`` downloads every record the filters match. Actions are named in plain English.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, Select, String, cast, func, literal, or_, select
from sqlalchemy.orm import QueryableAttribute, Session, lazyload

from ledger.models import ENTRY_KINDS, Allocation, AuditEvent, Entry, Organisation, Pot
from ledger.models import Request as LedgerRequest
from ledger.readout import award_reductions, entry_words, signed_amount
from statements.render.csv_safe import Amount, write_csv
from web import db
from web.forms import AuditFilterForm
from web.permissions import requires
from web.pots import Pages

bp = Blueprint("audit", __name__)

ColumnText = QueryableAttribute[str] | QueryableAttribute[str | None]
PAGE_SIZE = 50
MAX_CSV_ROWS = 100_000
EVENT_WORDS = {
    "approve": "Approved",
    "reject": "Rejected",
    "close": "Allocation closed",
    "reverse": "Reversal recorded",
    "request_vary": "Variation requested",
    "request_pay": "Payment requested",
    "request_reduce_award": "Award reduction requested",
    "request_carry_forward": "Carry-forward requested",
    "request_hand_back": "Hand-back requested",
    "request_reverse": "Reversal requested",
    "request_close": "Closure requested",
    "import": "File imported",
    "user_add": "Person added",
    "user_role": "Role changed",
    "user_password": "Password changed",
}


def event_words(action: str) -> str:
    """``request_pay`` → ``Payment requested``; an action not listed reads as itself."""
    return EVENT_WORDS.get(action, action.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Record:
    at: dt.datetime
    who: str
    approved_by: str | None
    what: str
    subject: str
    why: str
    amount_pence: int | None
    transaction_date: dt.date | None = None


@dataclass(frozen=True)
class Filters:
    actor: str = ""
    action: str = ""
    words: str = ""
    recipient: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    txn_start: dt.date | None = None
    txn_end: dt.date | None = None

    @property
    def by_transaction_date(self) -> bool:
        return self.txn_start is not None or self.txn_end is not None


def _form_and_filters(session: Session) -> tuple[AuditFilterForm, Filters, bool]:
    form = AuditFilterForm(request.args)
    events = sorted(set(session.scalars(select(AuditEvent.action).distinct())))
    form.action.choices = [
        ("", "Anything"),
        *((f"entry:{k}", f"{entry_words(k)} (journal)") for k in ENTRY_KINDS),
        *((f"event:{a}", event_words(a)) for a in events),
    ]
    asked = {k for k in request.args if k != "page"}
    valid = form.validate() if asked else True
    if not valid:
        return form, Filters(), False
    return (
        form,
        Filters(
            actor=(form.actor.data or "").strip(),
            action=form.action.data or "",
            words=(form.words.data or "").strip(),
            recipient=(form.recipient.data or "").strip(),
            start=_start(form.date_from.day),
            end=_start(form.date_to.day + dt.timedelta(days=1)) if form.date_to.day else None,
            txn_start=form.txn_from.day,
            txn_end=form.txn_to.day,
        ),
        True,
    )


@bp.route("/audit")
@requires("view_audit")
def log() -> ResponseReturnValue:
    session = db.session()
    form, filters, valid = _form_and_filters(session)
    entries, events = _entries_query(filters), _events_query(filters)
    total = _count(session, entries) + _count(session, events)
    pages = Pages.of(total, PAGE_SIZE, request.args.get("page"))
    wanted = pages.offset + pages.size
    records = _records(session, entries, events, wanted)[pages.offset : wanted]
    query = {k: v for k, v in request.args.items() if k != "page"}
    page = render_template("audit/log.html", form=form, records=records, pages=pages, query=query)
    return page, 200 if valid else 422


@bp.route("/audit.csv")
@requires("view_audit")
def log_csv() -> Response:
    session = db.session()
    _form, filters, _valid = _form_and_filters(session)
    records = _records(session, _entries_query(filters), _events_query(filters), MAX_CSV_ROWS)
    out = io.StringIO()
    write_csv(
        out,
        (
            "recorded_at_utc",
            "transaction_date",
            "who",
            "approved_by",
            "what",
            "on",
            "why",
            "amount",
        ),
        (
            (
                _utc(r.at).isoformat(timespec="seconds"),
                r.transaction_date.isoformat() if r.transaction_date else "",
                r.who,
                r.approved_by or "",
                r.what,
                r.subject,
                r.why,
                Amount(r.amount_pence) if r.amount_pence is not None else "",
            )
            for r in records
        ),
    )
    response = Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv")
    stamp = dt.date.today().isoformat()
    response.headers["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _start(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _count(session: Session, query: Select[tuple[Entry]] | Select[tuple[AuditEvent]] | None) -> int:
    if query is None:
        return 0
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _records(
    session: Session,
    entries: Select[tuple[Entry]] | None,
    events: Select[tuple[AuditEvent]] | None,
    limit: int,
) -> list[Record]:
    """The newest ``limit`` records of both kinds, newest first."""
    found: list[Record] = []
    if entries is not None:
        found += _entry_records(session, entries.limit(limit))
    if events is not None:
        found += [_event_record(a) for a in session.scalars(events.limit(limit))]
    return sorted(found, key=lambda r: _utc(r.at), reverse=True)[:limit]


def _like(column: ColumnText, text: str) -> ColumnElement[bool]:
    """Case-insensitive "contains", with ``%`` and ``_`` taken literally."""
    return func.lower(column).contains(text.lower(), autoescape=True)


def _same(column: ColumnText, text: str) -> ColumnElement[bool]:
    return func.lower(column) == text.lower()


def _recipient_allocations(recipient: str) -> Select[tuple[int]]:
    return (
        select(Allocation.id)
        .join(Organisation, Organisation.id == Allocation.recipient_id)
        .where(_like(Organisation.name, recipient))
    )


def _entries_query(f: Filters) -> Select[tuple[Entry]] | None:
    if f.action and not f.action.startswith("entry:"):
        return None
    query: Select[tuple[Entry]] = select(Entry).order_by(Entry.posted_at.desc(), Entry.id.desc())
    if f.action:
        query = query.where(Entry.kind == f.action.removeprefix("entry:"))
    if f.actor:
        query = query.where(
            or_(_same(Entry.entered_by, f.actor), _same(Entry.approved_by, f.actor))
        )
    if f.words:
        query = query.where(or_(_like(Entry.memo, f.words), _like(Entry.reference, f.words)))
    if f.recipient:
        query = query.where(Entry.allocation_id.in_(_recipient_allocations(f.recipient)))
    if f.start:
        query = query.where(Entry.posted_at >= f.start)
    if f.end:
        query = query.where(Entry.posted_at < f.end)
    if f.txn_start:
        query = query.where(Entry.effective_date >= f.txn_start)
    if f.txn_end:
        query = query.where(Entry.effective_date <= f.txn_end)
    return query


def _events_query(f: Filters) -> Select[tuple[AuditEvent]] | None:
    if (f.action and not f.action.startswith("event:")) or f.by_transaction_date:
        return None
    query: Select[tuple[AuditEvent]] = select(AuditEvent).order_by(
        AuditEvent.at.desc(), AuditEvent.id.desc()
    )
    if f.action:
        query = query.where(AuditEvent.action == f.action.removeprefix("event:"))
    if f.actor:
        query = query.where(_same(AuditEvent.actor, f.actor))
    if f.words:
        query = query.where(
            or_(_like(AuditEvent.detail, f.words), _like(AuditEvent.subject, f.words))
        )
    if f.recipient:
        theirs = _recipient_allocations(f.recipient)
        allocations = select(literal("allocation ") + Allocation.reference).where(
            Allocation.id.in_(theirs)
        )
        requests = select(literal("request ") + cast(LedgerRequest.id, String)).where(
            LedgerRequest.allocation_id.in_(theirs)
        )
        query = query.where(
            or_(AuditEvent.subject.in_(allocations), AuditEvent.subject.in_(requests))
        )
    if f.start:
        query = query.where(AuditEvent.at >= f.start)
    if f.end:
        query = query.where(AuditEvent.at < f.end)
    return query


def _entry_records(session: Session, query: Select[tuple[Entry]]) -> list[Record]:
    names = dict(session.execute(select(Pot.id, Pot.name)).tuples().all())
    entries = session.scalars(query.options(lazyload(Entry.lines))).all()
    reductions = award_reductions(session, (e.id for e in entries))
    return [
        Record(
            at=e.posted_at,
            who=e.entered_by,
            approved_by=e.approved_by,
            what=entry_words(e.kind, e.id in reductions),
            subject=" → ".join(
                p for p in (names.get(e.pot_id or 0), names.get(e.to_pot_id or 0)) if p
            )
            + (f" ({e.reference})" if e.reference else ""),
            why=e.memo,
            amount_pence=signed_amount(e.amount_pence, e.id in reductions),
            transaction_date=e.effective_date,
        )
        for e in entries
    ]


def _event_record(a: AuditEvent) -> Record:
    return Record(
        at=a.at,
        who=a.actor,
        approved_by=None,
        what=event_words(a.action),
        subject=a.subject,
        why=a.detail,
        amount_pence=None,
    )
