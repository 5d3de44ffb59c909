"""The invariants of the ledger, stated once. ``ledger.rules`` keeps them on every write;
``commonpurse check`` proves them over the whole stored ledger and names the first breach of each
with its rule, pot, allocation or entry.

I1  Every entry balances: its lines add up to nothing. (``check``: entries balance)
I2  Every account's balance is the sum of its lines. (``check``: accounts match lines)
I3  Every maintained figure (a pot's funded, allocated, paid...; an award's received; an
    allocation's and share's allocated, paid, returned) is what replaying the journal gives.
I4  The journal's hash chain is whole. (``ledger.chain``)
I5  Available after holds is never below zero in any pot: a pot's available money less what
    requests awaiting approval would take from it (pending increases, by the exact split of
    the allocation's new total; for a delegated pot, pending reductions of and returns on its
    delegation; pending hand-backs and carry-forwards).
I6  Paid never exceeds committed, and returned never exceeds paid, per allocation and per
    funder's share; pending payments and reductions never exceed what is unpaid.
I7  The rules hold on every day, not only today: no account crosses its floor on any day
    (available and unpaid money never below zero, nothing received before it was awarded); an
    allocation never had more returned than paid on any day; an intermediary's pot never paid
    out more cash than it had been handed on any day, unless its delegation allows advances.
I8  A delegated pot is funded by its delegation alone: its funding equals the delegation's
    net amount, and it never commits more than that.
I9  Nothing is given out of a delegated pot while its delegation awaits approval, or after it
    was rejected, so a provisional delegation can always be rejected whole.
I10 Rejected and closed allocations have nothing unpaid and nothing awaiting approval, but for
    a return of money already paid: a closed allocation may still have an underspend sent
    back, and that return waits for its second person like any other.
I11 Two people: every act that changes what can be spent or paid records an approver (an
    allocation's own entry, by the allocation's approval), and what one person entered and
    approved alone adds up, per allocation (per pot for acts on a pot), to no more than the
    self-approval limit. Names are compared as ``ledger.names`` reads them.
I12 No two pots or organisations look the same: names carry no invisible characters and no
    mixed alphabets, and ``name_key`` is the name's key (unique in the database).
I13 Dates follow dependencies: nothing on an allocation is dated before it was made, no receipt
    before its award, and an award's financial year is its pot's.
I14 A pooled contract's commitment per funder is always the exact largest-remainder split of
    its total by the funders' agreed shares: no drift. The one exception: a share is never cut
    below what it has paid, so a contract reduced to about what was paid may hold a share there.
I15 Carry-forward only between pots the accountable body administers, of one named stream, into
    the next financial year; a hand-back never more than the cash the pot held on its day.
I16 An award's funding stream is its pot's: a pot is in one stream (named by the award that
    opens it), and no award in it names another, so carry-forward and the funder's reports
    read one stream per pot.

Spending is attributed to funders by the awards in force at each movement's date, pro rata to
what each had awarded by then (``statements.reports.funder_view``), so a closed year's figures per
funder never change when a later award arrives; that is a property of the report, proved by its
tests, not a stored figure.

The database itself refuses some breaches (CHECK constraints on figures and floors, the unique
``name_key`` indexes, append-only triggers on the journal); ``check`` proves all of them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ledger import rules
from ledger.errors import InvalidInput
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    Award,
    Entry,
    FundingStream,
    Line,
    Organisation,
    Pot,
    Request,
    Setting,
)
from ledger.money import format_pence, split_by_ratios
from ledger.names import has_invisible, mixes_scripts, name_key, same_person

NEEDS_APPROVER = (
    "award",
    "receive",
    "vary",
    "pay",
    "return",
    "carry_forward",
    "hand_back",
    "reversal",
)


@dataclass(frozen=True)
class Breach:
    rule: str
    where: str
    message: str


def breaches(session: Session) -> list[Breach]:
    """Every invariant from I5 on, over the stored ledger (I1 to I4 are ``check``'s own)."""
    found: list[Breach] = []
    for rule in (
        _available_after_holds,
        _paid_within_committed,
        _every_day,
        _delegated_pots,
        _provisional_delegations,
        _settled_allocations,
        _two_people,
        _names,
        _dates,
        _pooled_splits,
        _year_end,
        _streams,
    ):
        found += rule(session)
    return found


def _pot_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Pot.id, Pot.name)).tuples().all())


def _available_after_holds(session: Session) -> Iterator[Breach]:
    from ledger.operations import held_in_pot

    pots = session.scalars(select(Pot).order_by(Pot.id)).all()
    waiting = set(
        session.scalars(
            select(AllocationShare.pot_id)
            .join(Request, Request.allocation_id == AllocationShare.allocation_id)
            .where(Request.status == "pending")
        ).all()
    ) | set(session.scalars(select(Request.pot_id).where(Request.status == "pending")).all())
    for pot in pots:
        held = held_in_pot(session, pot.id) if pot.id in waiting or pot.parent_allocation_id else 0
        if pot.available_pence - held < 0:
            yield Breach(
                "I5 available after holds",
                f"pot {pot.name}",
                f"{format_pence(pot.available_pence)} available less {format_pence(held)} held"
                " for changes awaiting approval is below zero",
            )


def _paid_within_committed(session: Session) -> Iterator[Breach]:
    from ledger.operations import pending_reduction_by_allocation

    broken = (
        select(
            Allocation.reference,
            Allocation.allocated_pence,
            Allocation.paid_pence,
            Allocation.returned_pence,
        ).where(
            (Allocation.paid_pence > Allocation.allocated_pence)
            | (Allocation.returned_pence > Allocation.paid_pence)
            | (Allocation.returned_pence < 0)
        )
    ).union_all(
        select(
            Allocation.reference,
            AllocationShare.allocated_pence,
            AllocationShare.paid_pence,
            AllocationShare.returned_pence,
        )
        .join(Allocation, Allocation.id == AllocationShare.allocation_id)
        .where(
            (AllocationShare.paid_pence > AllocationShare.allocated_pence)
            | (AllocationShare.returned_pence > AllocationShare.paid_pence)
            | (AllocationShare.returned_pence < 0)
        )
    )
    for reference, allocated, paid, returned in session.execute(broken):
        yield Breach(
            "I6 paid within committed",
            f"allocation {reference}",
            f"{format_pence(allocated)} committed, {format_pence(paid)} paid,"
            f" {format_pence(returned)} returned",
        )
    pending = session.execute(
        select(Request.allocation_id).where(Request.status == "pending").distinct()
    ).scalars()
    for allocation_id in pending:
        if allocation_id is None:
            continue
        allocation = session.get_one(Allocation, allocation_id)
        held = pending_reduction_by_allocation(session, allocation_id)
        if held > allocation.unpaid_pence:
            yield Breach(
                "I6 paid within committed",
                f"allocation {allocation.reference}",
                f"{format_pence(held)} of payments and reductions await approval against"
                f" {format_pence(allocation.unpaid_pence)} unpaid",
            )


def _every_day(session: Session) -> Iterator[Breach]:
    """I7: replay each floored account's balance day by day."""
    advances = aliased(Allocation)
    accounts: dict[int, tuple[str, str]] = {}
    for account_id, code, floor, kind, parent, allows in session.execute(
        select(
            Account.id,
            Account.code,
            Account.floor,
            Account.kind,
            Pot.parent_allocation_id,
            advances.allows_advances,
        )
        .outerjoin(Pot, Pot.id == Account.pot_id)
        .outerjoin(advances, advances.id == Pot.parent_allocation_id)
    ):
        if kind == "cash" and parent is not None and not allows:
            floor = "debit"
        if floor != "none":
            accounts[account_id] = (code, floor)
    rows = session.execute(
        select(Line.account_id, Entry.effective_date, func.sum(Line.amount_pence))
        .join(Entry, Entry.id == Line.entry_id)
        .group_by(Line.account_id, Entry.effective_date)
        .order_by(Line.account_id, Entry.effective_date)
    )
    current: int | None = None
    balance = 0
    reported: set[int] = set()
    for account_id, day, amount in rows:
        if account_id != current:
            current, balance = account_id, 0
        balance += int(amount)
        known = accounts.get(account_id)
        if known is None or account_id in reported:
            continue
        code, floor = known
        if (floor == "credit" and balance > 0) or (floor == "debit" and balance < 0):
            reported.add(account_id)
            yield Breach(
                "I7 rules hold on every day",
                f"account {code}",
                f"crossed its floor on {day:%d/%m/%Y}: {format_pence(balance)}",
            )
    target = aliased(Entry)
    movements: dict[int, list[tuple[dt.date, str, int, str | None]]] = defaultdict(list)
    for allocation_id, day, kind, amount, reversed_kind in session.execute(
        select(
            Entry.allocation_id, Entry.effective_date, Entry.kind, Entry.amount_pence, target.kind
        )
        .outerjoin(target, target.id == Entry.reverses_id)
        .where(Entry.allocation_id.is_not(None))
        .order_by(Entry.allocation_id, Entry.effective_date, Entry.id)
    ):
        movements[allocation_id].append((day, kind, int(amount), reversed_kind))
    for allocation_id, moves in movements.items():
        by_day: dict[dt.date, int] = defaultdict(int)
        for day, change in rules.returnable_changes(moves):
            by_day[day] += change
        returnable = 0
        for day in sorted(by_day):
            returnable += by_day[day]
            if returnable < 0:
                reference = session.get_one(Allocation, allocation_id).reference
                yield Breach(
                    "I7 rules hold on every day",
                    f"allocation {reference}",
                    f"had {format_pence(-returnable)} more returned than paid on {day:%d/%m/%Y}",
                )
                break


def _delegated_pots(session: Session) -> Iterator[Breach]:
    rows = session.execute(
        select(Pot, Allocation).join(Allocation, Allocation.id == Pot.parent_allocation_id)
    ).all()
    for pot, delegation in rows:
        if pot.funded_pence != delegation.allocated_pence:
            yield Breach(
                "I8 delegated pot funded by its delegation",
                f"pot {pot.name}",
                f"funded {format_pence(pot.funded_pence)}, but delegation"
                f" {delegation.reference} is {format_pence(delegation.allocated_pence)}",
            )
        elif pot.allocated_pence > pot.funded_pence:
            yield Breach(
                "I8 delegated pot funded by its delegation",
                f"pot {pot.name}",
                f"commits {format_pence(pot.allocated_pence)} of {format_pence(pot.funded_pence)}",
            )


def _provisional_delegations(session: Session) -> Iterator[Breach]:
    rows = session.execute(
        select(Pot.name, Allocation.reference, Allocation.status, func.count(AllocationShare.id))
        .join(Allocation, Allocation.id == Pot.parent_allocation_id)
        .join(AllocationShare, AllocationShare.pot_id == Pot.id)
        .where(Allocation.status.in_(("provisional", "rejected")))
        .group_by(Pot.name, Allocation.reference, Allocation.status)
    ).all()
    for pot, reference, status, count in rows:
        yield Breach(
            "I9 nothing given out of an unapproved delegation",
            f"pot {pot}",
            f"{count} allocation(s) draw on it while delegation {reference} is {status}",
        )


def _settled_allocations(session: Session) -> Iterator[Breach]:
    settled = Allocation.status.in_(rules.SETTLED)
    for allocation in session.scalars(
        select(Allocation).where(settled, Allocation.allocated_pence > Allocation.paid_pence)
    ):
        yield Breach(
            "I10 settled allocations hold nothing",
            f"allocation {allocation.reference}",
            f"is {allocation.status} with {format_pence(allocation.unpaid_pence)} unpaid",
        )
    for reference, status, kind in session.execute(
        select(Allocation.reference, Allocation.status, Request.kind)
        .join(Request, Request.allocation_id == Allocation.id)
        .where(
            settled,
            Request.status == "pending",
            ~((Allocation.status == "closed") & (Request.kind == "return")),
        )
    ):
        yield Breach(
            "I10 settled allocations hold nothing",
            f"allocation {reference}",
            f"is {status} with a {kind} request still awaiting approval",
        )


def _two_people(session: Session) -> Iterator[Breach]:
    limit_text = session.scalar(
        select(Setting.value).where(Setting.key == "self_approval_limit_pence")
    )
    limit = int(limit_text) if limit_text else 0
    rejected = set(
        session.scalars(select(Allocation.id).where(Allocation.status == "rejected")).all()
    )
    confirmed_by: dict[int, str | None] = {
        allocation_id: approved
        for allocation_id, approved in session.execute(
            select(Allocation.id, Allocation.approved_by).where(Allocation.approved_by.is_not(None))
        )
    }
    running: dict[tuple[str, int], int] = defaultdict(int)
    rows = session.execute(
        select(
            Entry.id,
            Entry.reference,
            Entry.kind,
            Entry.entered_by,
            Entry.approved_by,
            Entry.amount_pence,
            Entry.allocation_id,
            Entry.pot_id,
        ).order_by(Entry.chain_seq)
    )
    for entry_id, reference, kind, entered, approved, amount, allocation_id, pot_id in rows:
        if allocation_id in rejected:
            continue  # a rejected allocation's money all went back: nothing was given
        where = f"entry {entry_id}" + (f" ({reference})" if reference else "")
        if approved is None and kind in rules.MADE_BY_ALLOCATION:
            approved = confirmed_by.get(allocation_id)  # approved by confirming the allocation
        if kind in NEEDS_APPROVER and approved is None:
            yield Breach("I11 two people", where, f"a {kind} with no approver")
            continue
        if approved is None or not same_person(entered, approved):
            continue
        subject = ("allocation", allocation_id) if allocation_id else ("pot", pot_id or 0)
        running[subject] += int(amount)
        if running[subject] > limit:
            yield Breach(
                "I11 two people",
                where,
                f"{entered} entered and approved {format_pence(running[subject])} alone on"
                f" this {subject[0]}, over the {format_pence(limit)} self-approval limit",
            )
    for reference, status, approved in session.execute(
        select(Allocation.reference, Allocation.status, Allocation.approved_by).where(
            Allocation.status.in_(("confirmed", "closed"))
        )
    ):
        if approved is None:
            yield Breach("I11 two people", f"allocation {reference}", f"{status} with no approver")


def _names(session: Session) -> Iterator[Breach]:
    for model, what in ((Pot, "pot"), (Organisation, "organisation")):
        seen: dict[str, str] = {}
        for name, key in session.execute(select(model.name, model.name_key)):
            problem = None
            if has_invisible(name):
                problem = "contains an invisible or control character"
            elif mixes_scripts(name):
                problem = "mixes letters of different alphabets"
            elif key != name_key(name):
                problem = f"is stored with the key '{key}', not its own"
            elif name_key(name) in seen:
                problem = f"looks the same as {what} '{seen[name_key(name)]}'"
            seen.setdefault(name_key(name), name)
            if problem:
                yield Breach("I12 names cannot pass for one another", f"{what} {name!r}", problem)


def _dates(session: Session) -> Iterator[Breach]:
    made = (
        select(Entry.allocation_id, func.min(Entry.effective_date).label("made_on"))
        .where(Entry.kind.in_(("allocate", "delegate")))
        .group_by(Entry.allocation_id)
        .subquery()
    )
    for entry_id, reference, kind, day, made_on in session.execute(
        select(Entry.id, Entry.reference, Entry.kind, Entry.effective_date, made.c.made_on)
        .join(made, made.c.allocation_id == Entry.allocation_id)
        .where(Entry.effective_date < made.c.made_on)
    ):
        yield Breach(
            "I13 dates follow dependencies",
            f"entry {entry_id} ({reference or kind})",
            f"a {kind} dated {day:%d/%m/%Y}, before its allocation was made ({made_on:%d/%m/%Y})",
        )
    for entry_id, reference, day, award_day in session.execute(
        select(Entry.id, Entry.reference, Entry.effective_date, Award.award_date)
        .join(Award, Award.id == Entry.award_id)
        .where(Entry.kind == "receive", Entry.effective_date < Award.award_date)
    ):
        yield Breach(
            "I13 dates follow dependencies",
            f"entry {entry_id} ({reference})",
            f"a receipt dated {day:%d/%m/%Y}, before its award ({award_day:%d/%m/%Y})",
        )
    for reference, year, pot, pot_year in session.execute(
        select(Award.reference, Award.financial_year, Pot.name, Pot.financial_year)
        .join(Pot, Pot.id == Award.pot_id)
        .where(Pot.financial_year.is_not(None), Award.financial_year != Pot.financial_year)
    ):
        yield Breach(
            "I13 dates follow dependencies",
            f"award {reference}",
            f"is for financial year {year}, but its pot {pot} is {pot_year}",
        )


def _pooled_splits(session: Session) -> Iterator[Breach]:
    shares: dict[int, list[Any]] = defaultdict(list)
    for share in session.scalars(select(AllocationShare).order_by(AllocationShare.id)):
        shares[share.allocation_id].append(share)
    for parts in shares.values():
        if len(parts) < 2:
            continue
        total = sum(p.allocated_pence for p in parts)
        exact = split_by_ratios(total, [p.weight_pence for p in parts])
        if not rules.pooled_split_holds(
            [p.weight_pence for p in parts],
            [p.allocated_pence for p in parts],
            [p.paid_pence for p in parts],
        ):
            yield Breach(
                "I14 pooled splits do not drift",
                f"allocation {parts[0].allocation.reference}",
                f"funders' commitments {[p.allocated_pence for p in parts]} are not the exact"
                f" split {exact} of {format_pence(total)}",
            )


def _year_end(session: Session) -> Iterator[Breach]:
    pots = {pot.id: pot for pot in session.scalars(select(Pot))}
    for entry in session.scalars(select(Entry).where(Entry.kind == "carry_forward")):
        source, target = pots[entry.pot_id or 0], pots[entry.to_pot_id or 0]
        try:
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
        except InvalidInput as refusal:
            yield Breach(
                "I15 year-end moves", f"entry {entry.id} ({entry.reference})", str(refusal)
            )
    for entry in session.scalars(select(Entry).where(Entry.kind == "hand_back")):
        cash = session.scalar(
            select(func.coalesce(func.sum(Line.amount_pence), 0))
            .join(Entry, Entry.id == Line.entry_id)
            .join(Account, Account.id == Line.account_id)
            .where(
                Account.pot_id == entry.pot_id,
                Account.kind == "cash",
                Entry.effective_date <= entry.effective_date,
            )
        )
        if int(cash or 0) < 0:
            yield Breach(
                "I15 year-end moves",
                f"entry {entry.id} ({entry.reference})",
                f"handed back more than the {pots[entry.pot_id or 0].name} held on"
                f" {entry.effective_date:%d/%m/%Y}",
            )


def _streams(session: Session) -> Iterator[Breach]:
    award_stream = aliased(FundingStream)
    pot_stream = aliased(FundingStream)
    for reference, named, pot, pot_named in session.execute(
        select(Award.reference, award_stream.name, Pot.name, pot_stream.name)
        .join(Pot, Pot.id == Award.pot_id)
        .join(award_stream, award_stream.id == Award.stream_id)
        .outerjoin(pot_stream, pot_stream.id == Pot.stream_id)
        .where((Pot.stream_id.is_(None)) | (Pot.stream_id != Award.stream_id))
    ):
        yield Breach(
            "I16 one stream per pot",
            f"award {reference}",
            f"names the funding stream {named}, but its pot {pot} is in"
            + (f" {pot_named}" if pot_named else " no funding stream"),
        )


__all__ = ["Breach", "breaches", "same_person"]
