"""``commonpurse check``: recompute everything from the journal and compare, and prove every
invariant of ``ledger.invariants`` over the stored ledger, naming the rule each breach breaks.

The journal's hash chain must be whole: every entry's recorded hash must match its contents and
the entry before it, positions must run 1, 2, 3... without a gap, and the journal's head must
name the last entry (``ledger.chain``); the first bad entry is named. Every entry must balance;
every account's balance must equal the sum of its lines and respect its floor; every maintained
figure (pots, awards, allocations, shares) must equal what replaying the journal through
``journal.Effects`` gives; reversals must name an entry of a different kind and mirror it
exactly. Problems are returned as values, each with a readable message.

It reads a consistent snapshot (on PostgreSQL, a REPEATABLE READ transaction when it starts
one), streams the journal rather than loading it, and lets the database add up lines: replaying
figures feeds ``Effects`` one total per meaning and account, not one call per line, so a ledger
of a million entries checks in reasonable time and memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from ledger import chain, invariants
from ledger.journal import Effects
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    Award,
    Entry,
    JournalHead,
    Line,
    Pot,
)
from ledger.money import format_pence

FIGURES: dict[type, tuple[str, ...]] = {
    Pot: (
        "funded_pence",
        "allocated_pence",
        "paid_pence",
        "returned_pence",
        "received_pence",
        "carried_forward_pence",
        "carried_in_pence",
        "handed_back_pence",
    ),
    Award: ("received_pence",),
    Allocation: ("allocated_pence", "paid_pence", "returned_pence"),
    AllocationShare: ("allocated_pence", "paid_pence", "returned_pence"),
}
LABELS: dict[type, Any] = {Pot: Pot.name, Award: Award.reference, Allocation: Allocation.reference}
STREAM_ROWS = 5_000
"""Rows fetched at a time while walking the hash chain."""
REVERSAL_BATCH = 500

ALTERED = "the journal was altered outside commonpurse"


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class CheckReport:
    entries: int
    lines: int
    accounts: int
    figures: int
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...] = ()
    """What is not wrong with the ledger but someone should know, such as a signed statement
    that a back-dated entry has since changed (``ledger.timeline.superseded_signoffs``)."""
    chain_tip: str = chain.GENESIS
    """The hash of the last entry that checked out: written down elsewhere (a board paper, an
    auditor's file), it pins the journal as it stood."""

    @property
    def ok(self) -> bool:
        return not self.problems


def check(session: Session) -> CheckReport:
    _consistent_snapshot(session)
    walk = _Walk()
    problems: list[Problem] = []
    problems += _chain_intact(session, walk)
    problems += _entries_balance(session)
    accounts, account_problems = _accounts_match_lines(session)
    problems += account_problems
    figures, figure_problems = _figures_match_journal(session)
    problems += figure_problems
    problems += _reversals_mirror(session)
    problems += [
        Problem(breach.where, f"{breach.rule}: {breach.message}")
        for breach in invariants.breaches(session)
    ]
    from ledger.timeline import superseded_signoffs  # it reads through the operations

    warnings = tuple(str(item) for item in superseded_signoffs(session))
    return CheckReport(
        entries=session.scalar(select(func.count(Entry.id))) or 0,
        lines=session.scalar(select(func.count(Line.id))) or 0,
        accounts=accounts,
        figures=figures,
        problems=tuple(problems),
        warnings=warnings,
        chain_tip=walk.tip,
    )


def _consistent_snapshot(session: Session) -> None:
    """On PostgreSQL, read every table as of one moment, so that entries posted while the check
    runs cannot look like a mismatch. (SQLite transactions are snapshots already.)"""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


# The hash chain ----------------------------------------------------------------------------

CHAINED = (
    Entry.id,
    Entry.reference,
    Entry.chain_seq,
    Entry.chain_sha256,
    Entry.kind,
    Entry.content_sha256,
    Entry.effective_date,
    Entry.financial_year,
    Entry.amount_pence,
    Entry.memo,
    Entry.entered_by,
    Entry.approved_by,
    Entry.pot_id,
    Entry.to_pot_id,
    Entry.award_id,
    Entry.allocation_id,
    Entry.reverses_id,
)


def entry_label(entry_id: int, reference: str | None) -> str:
    return f"Entry {entry_id}" + (f" (reference {reference})" if reference else "")


@dataclass
class _Walk:
    """How far the chain held: the last good position, its hash and which entry it is."""

    seq: int = 0
    tip: str = chain.GENESIS
    last: str = "no entry"


def _chain_intact(session: Session, walk: _Walk) -> list[Problem]:
    """Walk the chain in order; report the first entry where it breaks, or a head that does
    not match the last entry. One problem at most: after a break, later hashes prove nothing."""
    head = session.execute(
        select(JournalHead.last_seq, JournalHead.last_sha256).where(JournalHead.id == chain.HEAD_ID)
    ).one_or_none()
    with closing(_entries_in_chain_order(session)) as entries:
        for entry, lines in entries:
            broken = _entry_breaks_chain(walk, entry, lines)
            if broken is not None:
                return [broken]
    if head is None:
        return [Problem("Journal", f"the record of its last entry is missing; {ALTERED}")]
    if head.last_seq > walk.seq:
        missing = (
            f"number {head.last_seq} was"
            if head.last_seq == walk.seq + 1
            else f"numbers {walk.seq + 1} to {head.last_seq} were"
        )
        return [
            Problem(
                "Journal",
                f"its last entry should be number {head.last_seq} of the hash chain, but the last"
                f" one is number {walk.seq} ({walk.last}); {missing} deleted outside commonpurse",
            )
        ]
    if head.last_seq < walk.seq:
        return [
            Problem(
                "Journal",
                f"the record of its last entry says number {head.last_seq} of the hash chain, but"
                f" entries run to number {walk.seq} ({walk.last}); {ALTERED}",
            )
        ]
    if head.last_sha256 != walk.tip:
        return [
            Problem(
                "Journal",
                f"the record of its last entry does not match the hash of {walk.last}; {ALTERED}",
            )
        ]
    return []


def _entry_breaks_chain(
    walk: _Walk, entry: Sequence[Any], lines: list[tuple[int, int]]
) -> Problem | None:
    """The problem with the next entry of the chain, or None after moving ``walk`` past it."""
    (entry_id, reference, seq, sha, kind, content, date, year, amount, memo, *rest) = entry
    (entered_by, approved_by, pot_id, to_pot_id, award_id, allocation_id, reverses_id) = rest
    where = entry_label(entry_id, reference)
    if seq > walk.seq + 1:
        missing = (
            f"number {walk.seq + 1} is missing"
            if seq == walk.seq + 2
            else f"numbers {walk.seq + 1} to {seq - 1} are missing"
        )
        return Problem(
            where,
            f"it is number {seq} in the journal's hash chain but {missing}; entries were deleted"
            " outside commonpurse",
        )
    if seq != walk.seq + 1:
        return Problem(where, f"it repeats number {seq} of the journal's hash chain; {ALTERED}")
    digest = chain.entry_digest(
        seq=seq,
        kind=kind,
        reference=reference,
        content_sha256=content,
        effective_date=date,
        financial_year=year,
        amount_pence=amount,
        memo=memo,
        entered_by=entered_by,
        approved_by=approved_by,
        pot_id=pot_id,
        to_pot_id=to_pot_id,
        award_id=award_id,
        allocation_id=allocation_id,
        reverses_id=reverses_id,
        lines=lines,
    )
    if chain.link(walk.tip, digest) != sha:
        return Problem(where, f"its recorded hash does not match its contents; {ALTERED}")
    walk.seq, walk.tip = seq, sha
    walk.last = f"entry {entry_id}" + (f", reference {reference}" if reference else "")
    return None


def _entries_in_chain_order(
    session: Session,
) -> Generator[tuple[Sequence[Any], list[tuple[int, int]]], None, None]:
    """Each entry's chained columns with its ``(account_id, amount_pence)`` lines, streamed in
    chain order: one query, rows of one entry adjacent because ``chain_seq`` is unique."""
    rows = session.connection().execute(  # Core rows: no ORM bookkeeping per row
        select(*CHAINED, Line.account_id, Line.amount_pence)
        .outerjoin(Line, Line.entry_id == Entry.id)
        .order_by(Entry.chain_seq)
        .execution_options(yield_per=STREAM_ROWS)
    )
    try:
        current: Sequence[Any] | None = None
        lines: list[tuple[int, int]] = []
        for row in rows:
            if current is None or row[0] != current[0]:
                if current is not None:
                    yield current, lines
                current, lines = row[:-2], []
            if row[-2] is not None:
                lines.append((row[-2], row[-1]))
        if current is not None:
            yield current, lines
    finally:
        rows.close()  # on PostgreSQL, a server-side cursor


# Balances and figures ----------------------------------------------------------------------


def _entries_balance(session: Session) -> Iterator[Problem]:
    total = func.sum(Line.amount_pence)
    count = func.count(Line.id)
    rows = session.connection().execute(
        select(Line.entry_id, total, count)
        .group_by(Line.entry_id)
        .having(or_(total != 0, count < 2))
        .order_by(Line.entry_id)
    )
    for entry_id, entry_total, entry_count in rows:
        if entry_total != 0:
            yield Problem(f"entry {entry_id}", f"debits and credits differ by {int(entry_total)}p")
        if entry_count < 2:
            yield Problem(f"entry {entry_id}", "has fewer than two lines")
    lineless = select(Entry.id).where(~exists().where(Line.entry_id == Entry.id))
    for entry_id in session.scalars(lineless.order_by(Entry.id)):
        yield Problem(f"entry {entry_id}", "has no lines")


def _accounts_match_lines(session: Session) -> tuple[int, list[Problem]]:
    sums = (
        select(Line.account_id, func.sum(Line.amount_pence).label("total"))
        .group_by(Line.account_id)
        .subquery()
    )
    rows = session.connection().execute(
        select(Account.code, Account.floor, Account.balance_pence, sums.c.total)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .order_by(Account.id)
    )
    problems = []
    accounts = 0
    for code, floor, balance, total in rows:
        accounts += 1
        expected = int(total or 0)
        if balance != expected:
            problems.append(
                Problem(
                    f"account {code}",
                    f"balance {balance}p but its lines add up to {expected}p",
                )
            )
        if (floor == "credit" and expected > 0) or (floor == "debit" and expected < 0):
            problems.append(Problem(f"account {code}", f"has crossed its floor: {expected}p"))
    return accounts, problems


class _Meaning(NamedTuple):
    kind: str
    allocation_id: int | None
    to_pot_id: int | None


class _AccountRow(NamedTuple):
    code: str
    kind: str
    pot_id: int | None
    award_id: int | None
    share_id: int | None


class _Preloaded:
    """``journal.Lookups`` answered from memory: pots' parents and allocation shares, read once."""

    def __init__(self, session: Session) -> None:
        self.parents = dict(
            session.connection().execute(select(Pot.id, Pot.parent_allocation_id)).tuples().all()
        )
        self.share_allocation: dict[int, int] = {}
        self.shares: dict[tuple[int, int], int] = {}
        rows = (
            session.connection()
            .execute(
                select(AllocationShare.id, AllocationShare.allocation_id, AllocationShare.pot_id)
            )
            .tuples()
        )
        for share_id, allocation_id, pot_id in rows:
            self.share_allocation[share_id] = allocation_id
            self.shares[(allocation_id, pot_id)] = share_id

    def parent_allocation_of(self, pot_id: int) -> int | None:
        return self.parents[pot_id]

    def allocation_of_share(self, share_id: int) -> int:
        return self.share_allocation[share_id]

    def share_of(self, allocation_id: int | None, pot_id: int) -> int:
        if allocation_id is None:
            raise KeyError((allocation_id, pot_id))
        return self.shares[(allocation_id, pot_id)]


def _replay(session: Session) -> tuple[Effects, list[Problem]]:
    """What the journal says every figure should be. The database adds up lines that share a
    meaning (the kind, allocation and target pot of their entry or, for a reversal, of the entry
    it reverses) and an account; each total is fed to ``Effects`` once."""
    effects = Effects(_Preloaded(session))
    accounts = {
        row[0]: _AccountRow(*row[1:])
        for row in session.connection().execute(
            select(
                Account.id,
                Account.code,
                Account.kind,
                Account.pot_id,
                Account.award_id,
                Account.share_id,
            ).order_by(Account.id)
        )
    }
    meaning = aliased(Entry)
    totals = session.connection().execute(
        select(
            meaning.kind,
            meaning.allocation_id,
            meaning.to_pot_id,
            Line.account_id,
            func.sum(Line.amount_pence),
        )
        .select_from(Line)
        .join(Entry, Entry.id == Line.entry_id)
        .join(meaning, meaning.id == func.coalesce(Entry.reverses_id, Entry.id))
        .group_by(meaning.kind, meaning.allocation_id, meaning.to_pot_id, Line.account_id)
        .order_by(Line.account_id, meaning.kind, meaning.allocation_id, meaning.to_pot_id)
    )
    problems = []
    for kind, allocation_id, to_pot_id, account_id, total in totals:
        if not total:
            continue
        account = accounts[account_id]
        try:
            effects.add_line(_Meaning(kind, allocation_id, to_pot_id), account, int(total))
        except KeyError:
            problems.append(
                Problem(
                    f"account {account.code}",
                    f"has lines of {kind} entries that no allocation share accounts for; {ALTERED}",
                )
            )
    return effects, problems


def _figures_match_journal(session: Session) -> tuple[int, list[Problem]]:
    effects, problems = _replay(session)
    expected: dict[tuple[type, int, str], int] = defaultdict(int, effects.deltas)
    count = 0
    for model, names in FIGURES.items():
        entity: Any = model
        columns = [getattr(entity, name) for name in names]
        rows = session.connection().execute(
            select(entity.id, LABELS.get(model, entity.id), *columns).order_by(entity.id)
        )
        overspent = []
        for object_id, object_label, *stored_figures in rows:
            for name, stored in zip(names, stored_figures, strict=True):
                count += 1
                want = expected[(model, object_id, name)]
                if stored != want:
                    problems.append(
                        Problem(
                            f"{model.__name__.lower()} {object_label or object_id}",
                            f"{name.removesuffix('_pence')} is {format_pence(stored)} but the"
                            f" journal says {format_pence(want)}",
                        )
                    )
            if model is Pot and _available(dict(zip(names, stored_figures, strict=True))) < 0:
                overspent.append(Problem(f"pot {object_label}", "is overspent"))
        problems += overspent
    return count, problems


def _available(figures: dict[str, int]) -> int:
    return (
        figures["funded_pence"]
        - figures["allocated_pence"]
        + figures["returned_pence"]
        - figures["carried_forward_pence"]
        - figures["handed_back_pence"]
    )


# Reversals ---------------------------------------------------------------------------------


def _reversals_mirror(session: Session) -> Iterator[Problem]:
    target = aliased(Entry)
    pairs = session.execute(
        select(Entry.id, Entry.reverses_id, target.kind)
        .outerjoin(target, target.id == Entry.reverses_id)
        .where(Entry.reverses_id.is_not(None))
        .order_by(Entry.id)
    ).all()
    for start in range(0, len(pairs), REVERSAL_BATCH):
        batch = pairs[start : start + REVERSAL_BATCH]
        lines = _lines_of(session, {i for pair in batch for i in pair[:2]})
        for reversal_id, target_id, target_kind in batch:
            if target_kind is None:
                yield Problem(
                    f"entry {reversal_id}", f"reverses entry {target_id}, which is missing"
                )
                continue
            if target_kind == "reversal":
                yield Problem(f"entry {reversal_id}", "reverses another reversal")
            mine = sorted(lines[reversal_id])
            theirs = sorted((account, -amount) for account, amount in lines[target_id])
            if mine != theirs:
                yield Problem(f"entry {reversal_id}", f"does not mirror entry {target_id}")


def _lines_of(session: Session, entry_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    lines: dict[int, list[tuple[int, int]]] = defaultdict(list)
    rows = session.connection().execute(
        select(Line.entry_id, Line.account_id, Line.amount_pence).where(
            Line.entry_id.in_(sorted(entry_ids))
        )
    )
    for entry_id, account_id, amount in rows:
        lines[entry_id].append((account_id, amount))
    return lines
