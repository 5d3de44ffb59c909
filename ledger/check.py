"""``commonpurse check``: recompute everything from the journal and compare.

Every entry must balance; every account's balance must equal the sum of its lines and respect
its floor; every maintained figure (pots, awards, allocations, shares) must equal what replaying
the journal through ``journal.Effects`` gives; reversals must name an entry of a different kind
and mirror it exactly. Problems are returned as values, each with a readable message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.journal import Effects
from ledger.models import Account, Allocation, AllocationShare, Award, Entry, Line, Pot
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

    @property
    def ok(self) -> bool:
        return not self.problems


def check(session: Session) -> CheckReport:
    problems: list[Problem] = []
    problems += _entries_balance(session)
    accounts, account_problems = _accounts_match_lines(session)
    problems += account_problems
    figures, figure_problems = _figures_match_journal(session)
    problems += figure_problems
    problems += _reversals_mirror(session)
    return CheckReport(
        entries=session.scalar(select(func.count(Entry.id))) or 0,
        lines=session.scalar(select(func.count(Line.id))) or 0,
        accounts=accounts,
        figures=figures,
        problems=tuple(problems),
    )


def _entries_balance(session: Session) -> Iterator[Problem]:
    rows = session.execute(
        select(Line.entry_id, func.sum(Line.amount_pence), func.count(Line.id)).group_by(
            Line.entry_id
        )
    ).all()
    seen = set()
    for entry_id, total, count in rows:
        seen.add(entry_id)
        if total != 0:
            yield Problem(f"entry {entry_id}", f"debits and credits differ by {total}p")
        if count < 2:
            yield Problem(f"entry {entry_id}", "has fewer than two lines")
    for (entry_id,) in session.execute(select(Entry.id)):
        if entry_id not in seen:
            yield Problem(f"entry {entry_id}", "has no lines")


def _accounts_match_lines(session: Session) -> tuple[int, list[Problem]]:
    sums = {
        account_id: int(total)
        for account_id, total in session.execute(
            select(Line.account_id, func.sum(Line.amount_pence)).group_by(Line.account_id)
        )
    }
    problems = []
    accounts = session.scalars(select(Account)).all()
    for account in accounts:
        expected = int(sums.get(account.id, 0))
        if account.balance_pence != expected:
            problems.append(
                Problem(
                    f"account {account.code}",
                    f"balance {account.balance_pence}p but its lines add up to {expected}p",
                )
            )
        if (account.floor == "credit" and expected > 0) or (
            account.floor == "debit" and expected < 0
        ):
            problems.append(
                Problem(f"account {account.code}", f"has crossed its floor: {expected}p")
            )
    return len(accounts), problems


def _figures_match_journal(session: Session) -> tuple[int, list[Problem]]:
    effects = Effects()
    entries = session.scalars(select(Entry).order_by(Entry.id)).all()
    by_id = {e.id: e for e in entries}
    for entry in entries:
        effects.add_entry(session, entry, by_id.get(entry.reverses_id or -1))
    expected: dict[tuple[type, int, str], int] = defaultdict(int, effects.deltas)
    problems = []
    count = 0
    for model, names in FIGURES.items():
        objects: list[Any] = list(session.scalars(select(model)).all())
        for obj in objects:
            for name in names:
                count += 1
                stored = getattr(obj, name)
                want = expected[(model, obj.id, name)]
                if stored != want:
                    label = getattr(obj, "name", None) or getattr(obj, "reference", None)
                    problems.append(
                        Problem(
                            f"{model.__name__.lower()} {label or obj.id}",
                            f"{name.removesuffix('_pence')} is {format_pence(stored)} but the"
                            f" journal says {format_pence(want)}",
                        )
                    )
        if model is Pot:
            for pot in session.scalars(select(Pot)).all():
                if pot.available_pence < 0:
                    problems.append(Problem(f"pot {pot.name}", "is overspent"))
    return count, problems


def _reversals_mirror(session: Session) -> Iterator[Problem]:
    reversals = session.scalars(select(Entry).where(Entry.reverses_id.is_not(None))).all()
    for reversal in reversals:
        target = session.get_one(Entry, reversal.reverses_id)
        if target.kind == "reversal":
            yield Problem(f"entry {reversal.id}", "reverses another reversal")
        mine = sorted((ln.account_id, ln.amount_pence) for ln in reversal.lines)
        theirs = sorted((ln.account_id, -ln.amount_pence) for ln in target.lines)
        if mine != theirs:
            yield Problem(f"entry {reversal.id}", f"does not mirror entry {target.id}")
