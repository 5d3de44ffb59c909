"""Finance's reconciliation: awarded, received, allocated, paid, returned, available and unpaid,
per award and per financial year, per pot, per funder and per ultimate source, with grand totals
that add up exactly.

Financial years are UK public-sector years (1 April to 31 March), shown ``2022-23``. Each figure
counts in a year as follows:

* **awarded** in the financial year the award is *for* (``Award.financial_year``), so WFWF
  2022-23's £337,000 is 2022-23 money whatever day it was recorded. Awards recorded as an
  assumption (a gap in the source documents, such as Appendix 2's £103.18) are never mixed into
  awarded: they are shown separately as **assumed**.
* everything else (received, allocated, paid, returned, carried forward or in, handed back) in
  the year of the journal entry's effective date. A reversal counts, negated, in its own year.
* **available** and **unpaid** commitments are balances: a year's row shows them as at the end of
  that year (31 March), the total row as at the report date. available = awarded + assumed +
  delegated in + carried in − allocated + returned − carried forward − handed back; unpaid =
  allocated − paid; **owed** = awarded + assumed − received, what funders still owe.

**Per award, per pot.** An award is money *into a pot*; allocations and payments are made *from
pots* (through allocation shares), never from a particular award. So awarded and received are
shown per award, exactly, and allocated, paid, returned, available and unpaid are shown at pot
level, with the pot's awards listed under it. Per funder and per ultimate source, a pot's
allocated, paid and returned are attributed to its funders by the rule of
``statements.reports.funder_view`` (in proportion to their awards into the pot, rounded so that
nothing is created or lost); awarded, assumed and received are always exact per award.

**Ultimate source.** The Promise Partnership is awarded by Corra Foundation but is Scottish
Government money (``FundingStream.source``), so the report by ultimate source counts it once,
under the Scottish Government (noting that it came through Corra Foundation), never under both.

**Delegated pots** (CTSI's sub-grant pot) are listed under the pot they were delegated from. Their
money is already counted in that pot (as an allocation to the intermediary), so they are left out
of the per-funder, per-source and grand totals, which would otherwise count it twice.

The builder checks that pots, years, funders and sources each add up to the grand total and
raises :class:`ReconciliationMismatch` otherwise.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import Award, Pot
from statements.render.formatting import day, financial_year, money
from statements.reports.funder_view import (
    Attribution,
    AwardKey,
    EntryEffect,
    funder_of,
    replay,
    ultimate_source,
)

# Pot figures (``EntryEffect.pots``) and the Figures field each moves.
POT_FIGURES = {
    "received_pence": "received",
    "allocated_pence": "allocated",
    "paid_pence": "paid",
    "returned_pence": "returned",
    "carried_in_pence": "carried_in",
    "carried_forward_pence": "carried_forward",
    "handed_back_pence": "handed_back",
    "delegated_in_pence": "delegated_in",
}


@dataclass(frozen=True)
class Figures:
    """Money moved (in a year, or in all) in pence. Adding Figures adds every field."""

    awarded: int = 0
    assumed: int = 0
    delegated_in: int = 0
    carried_in: int = 0
    received: int = 0
    allocated: int = 0
    paid: int = 0
    returned: int = 0
    carried_forward: int = 0
    handed_back: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def with_(self, **changes: int) -> Figures:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, delta in changes.items():
            values[name] += delta
        return Figures(**values)

    @property
    def available(self) -> int:
        return (
            self.awarded
            + self.assumed
            + self.delegated_in
            + self.carried_in
            - self.allocated
            + self.returned
            - self.carried_forward
            - self.handed_back
        )

    @property
    def unpaid(self) -> int:
        return self.allocated - self.paid

    @property
    def owed(self) -> int:
        """What funders still owe on their awards."""
        return self.awarded + self.assumed - self.received

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


ZERO = Figures()


def total_of(items: Iterable[Figures]) -> Figures:
    result = ZERO
    for item in items:
        result = result + item
    return result


@dataclass(frozen=True)
class YearRow:
    """One financial year: what moved in it, and the balances at its end (``closing``, the
    cumulative figures up to 31 March; use ``closing.available`` and ``closing.unpaid``)."""

    financial_year: int
    moved: Figures
    closing: Figures

    @property
    def label(self) -> str:
        return financial_year(self.financial_year)


@dataclass(frozen=True)
class AwardLine:
    """One award into a pot: awarded exactly, and received from the funder, by year."""

    reference: str
    funder: str
    source: str
    stream: str | None
    financial_year: int
    awarded_pence: int
    is_assumption: bool
    received_pence: int
    received_by_year: tuple[tuple[int, int], ...]
    description: str

    @property
    def owed_pence(self) -> int:
        return self.awarded_pence - self.received_pence


@dataclass(frozen=True)
class PotReconciliation:
    pot: str
    stream: str | None
    administered_by: str
    delegated_from: str | None
    awards: tuple[AwardLine, ...]
    years: tuple[YearRow, ...]
    total: Figures
    delegated: tuple[PotReconciliation, ...]


@dataclass(frozen=True)
class GroupReconciliation:
    """One funder's (or one ultimate source's) money across the top-level pots.

    ``through``: for a source, the funders its money came through (``Corra Foundation`` for the
    Scottish Government's Promise Partnership money)."""

    name: str
    pots: tuple[str, ...]
    through: tuple[str, ...]
    years: tuple[YearRow, ...]
    total: Figures


@dataclass(frozen=True)
class Reconciliation:
    as_at: dt.date
    pots: tuple[PotReconciliation, ...]
    by_funder: tuple[GroupReconciliation, ...]
    by_source: tuple[GroupReconciliation, ...]
    years: tuple[YearRow, ...]
    total: Figures

    def pot(self, name: str) -> PotReconciliation:
        for top in self.pots:
            for found in _walk(top):
                if found.pot == name:
                    return found
        raise KeyError(name)

    def funder(self, name: str) -> GroupReconciliation:
        return _named(self.by_funder, name)

    def source(self, name: str) -> GroupReconciliation:
        return _named(self.by_source, name)


class ReconciliationMismatch(AssertionError):
    """Parts of the reconciliation do not add up to its total: a bug, never a data problem."""


def _walk(pot: PotReconciliation) -> Iterable[PotReconciliation]:
    yield pot
    for child in pot.delegated:
        yield from _walk(child)


def _named(groups: Sequence[GroupReconciliation], name: str) -> GroupReconciliation:
    for group in groups:
        if group.name == name:
            return group
    raise KeyError(name)


# Building ----------------------------------------------------------------------------------


def build_reconciliation(session: Session, *, as_at: dt.date | None = None) -> Reconciliation:
    """The reconciliation of every pot, funder and source, as at ``as_at`` (default today)."""
    as_at = as_at or dt.date.today()
    effects = replay(session, as_at)
    awards = {
        a.id: a
        for a in session.scalars(
            select(Award).where(Award.award_date <= as_at).order_by(Award.award_date, Award.id)
        )
    }
    pots = session.scalars(select(Pot).order_by(Pot.id)).all()
    moved = _pot_moves(effects, awards)
    received: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for effect in effects:
        for award_id, delta in effect.awards.items():
            received[award_id][effect.financial_year] += delta
    sections = {pot.id: _pot_section(pot, moved.get(pot.id, {}), awards, received) for pot in pots}
    tops = [_nest(pot, pots, sections) for pot in pots if pot.parent_allocation_id is None]
    tops = [t for t in tops if _has_anything(t)]
    top_ids = {pot.id for pot in pots if pot.parent_allocation_id is None}
    by_year_moves: dict[int, Figures] = defaultdict(Figures)
    for pot_id in top_ids:
        for year, figures in moved.get(pot_id, {}).items():
            by_year_moves[year] = by_year_moves[year] + figures
    total = total_of(t.total for t in tops)
    reconciliation = Reconciliation(
        as_at=as_at,
        pots=tuple(tops),
        by_funder=_groups(session, effects, awards, top_ids, as_at, funder_of),
        by_source=_groups(session, effects, awards, top_ids, as_at, ultimate_source),
        years=_years(by_year_moves),
        total=total,
    )
    _check(reconciliation)
    return reconciliation


def _pot_moves(
    effects: Sequence[EntryEffect], awards: Mapping[int, Award]
) -> dict[int, dict[int, Figures]]:
    """pot id → financial year → what moved."""
    moved: dict[int, dict[int, Figures]] = defaultdict(lambda: defaultdict(Figures))
    for effect in effects:
        year = effect.financial_year
        for (pot_id, figure), delta in effect.pots.items():
            if figure == "funded_pence":
                if effect.meaning != "award":
                    continue  # carried-in money is counted by carried_in_pence
                award = _award_of(effect, awards)
                column = "assumed" if award is not None and award.is_assumption else "awarded"
            else:
                column = POT_FIGURES.get(figure, "")
                if not column:
                    continue
            moved[pot_id][year] = moved[pot_id][year].with_(**{column: delta})
    return moved


def _award_of(effect: EntryEffect, awards: Mapping[int, Award]) -> Award | None:
    return awards.get(effect.award_id) if effect.award_id is not None else None


def _years(moves: Mapping[int, Figures]) -> tuple[YearRow, ...]:
    rows: list[YearRow] = []
    closing = ZERO
    for year in sorted(moves):
        closing = closing + moves[year]
        rows.append(YearRow(year, moves[year], closing))
    return tuple(rows)


def _pot_section(
    pot: Pot,
    moves: Mapping[int, Figures],
    awards: Mapping[int, Award],
    received: Mapping[int, Mapping[int, int]],
) -> PotReconciliation:
    lines = tuple(
        AwardLine(
            reference=a.reference,
            funder=a.funder.name,
            source=ultimate_source(a),
            stream=a.stream.name if a.stream else None,
            financial_year=a.financial_year,
            awarded_pence=a.amount_pence,
            is_assumption=a.is_assumption,
            received_pence=sum(received.get(a.id, {}).values()),
            received_by_year=tuple(sorted((y, p) for y, p in received.get(a.id, {}).items() if p)),
            description=a.description,
        )
        for a in awards.values()
        if a.pot_id == pot.id
    )
    years = _years(moves)
    parent = pot.parent_allocation
    return PotReconciliation(
        pot=pot.name,
        stream=pot.stream.name if pot.stream else None,
        administered_by=pot.administered_by.name,
        delegated_from=parent.shares[0].pot.name if parent is not None else None,
        awards=lines,
        years=years,
        total=total_of(r.moved for r in years),
        delegated=(),
    )


def _nest(
    pot: Pot, pots: Sequence[Pot], sections: Mapping[int, PotReconciliation]
) -> PotReconciliation:
    children = tuple(
        _nest(child, pots, sections)
        for child in pots
        if child.parent_allocation is not None
        and child.parent_allocation.shares[0].pot_id == pot.id
    )
    section = sections[pot.id]
    return PotReconciliation(
        pot=section.pot,
        stream=section.stream,
        administered_by=section.administered_by,
        delegated_from=section.delegated_from,
        awards=section.awards,
        years=section.years,
        total=section.total,
        delegated=tuple(c for c in children if _has_anything(c)),
    )


def _has_anything(pot: PotReconciliation) -> bool:
    return bool(pot.awards or pot.years)


def _groups(
    session: Session,
    effects: Sequence[EntryEffect],
    awards: Mapping[int, Award],
    top_ids: set[int],
    as_at: dt.date,
    key: AwardKey,
) -> tuple[GroupReconciliation, ...]:
    attribution = Attribution(session, effects, as_at, key)
    moves: dict[str, dict[int, Figures]] = defaultdict(lambda: defaultdict(Figures))
    pots: dict[str, list[str]] = defaultdict(list)
    through: dict[str, list[str]] = defaultdict(list)
    for award in awards.values():
        if award.pot_id not in top_ids:
            continue
        name = key(award)
        if award.pot.name not in pots[name]:
            pots[name].append(award.pot.name)
        if award.funder.name != name and award.funder.name not in through[name]:
            through[name].append(award.funder.name)
    for effect in effects:
        year = effect.financial_year
        for (pot_id, figure), delta in effect.pots.items():
            if pot_id not in top_ids:
                continue
            if figure == "funded_pence":
                recorded = _award_of(effect, awards) if effect.meaning == "award" else None
                if recorded is None:
                    continue
                column = "assumed" if recorded.is_assumption else "awarded"
                name = key(recorded)
                moves[name][year] = moves[name][year].with_(**{column: delta})
            elif figure == "received_pence":
                for award_id, part in effect.awards.items():
                    name = key(awards[award_id])
                    moves[name][year] = moves[name][year].with_(received=part)
            elif figure in POT_FIGURES:
                column = POT_FIGURES[figure]
                for name, part in attribution.parts(effect.entry_id, pot_id, figure).items():
                    moves[name][year] = moves[name][year].with_(**{column: part})
    groups = [
        GroupReconciliation(
            name=name,
            pots=tuple(pots.get(name, ())),
            through=tuple(through.get(name, ())),
            years=_years(by_year),
            total=total_of(by_year.values()),
        )
        for name, by_year in moves.items()
    ]
    return tuple(sorted(groups, key=lambda g: (-g.total.awarded - g.total.assumed, g.name)))


def _check(reconciliation: Reconciliation) -> None:
    total = reconciliation.total
    for what, parts in (
        ("pots", [p.total for p in reconciliation.pots]),
        ("financial years", [r.moved for r in reconciliation.years]),
        ("funders", [g.total for g in reconciliation.by_funder]),
        ("ultimate sources", [g.total for g in reconciliation.by_source]),
    ):
        got = total_of(parts)
        if got != total:
            raise ReconciliationMismatch(f"the {what} add up to {got}, not to {total}")
    for pot in reconciliation.pots:
        for section in _walk(pot):
            named = sum(a.awarded_pence for a in section.awards if not a.is_assumption)
            assumed = sum(a.awarded_pence for a in section.awards if a.is_assumption)
            received = sum(a.received_pence for a in section.awards)
            figures = (section.total.awarded, section.total.assumed, section.total.received)
            if (named, assumed, received) != figures:
                raise ReconciliationMismatch(
                    f"{section.pot}'s awards add up to {(named, assumed, received)}, not {figures}"
                )


# Rendering ----------------------------------------------------------------------------------

COLUMNS: tuple[tuple[str, Callable[[YearRow], int]], ...] = (
    ("Awarded", lambda r: r.moved.awarded),
    ("Assumed", lambda r: r.moved.assumed),
    ("Received", lambda r: r.moved.received),
    ("Allocated", lambda r: r.moved.allocated),
    ("Paid", lambda r: r.moved.paid),
    ("Returned", lambda r: r.moved.returned),
    ("Available", lambda r: r.closing.available),
    ("Unpaid", lambda r: r.closing.unpaid),
)
OPTIONAL_COLUMNS: tuple[tuple[str, Callable[[YearRow], int]], ...] = (
    ("Delegated in", lambda r: r.moved.delegated_in),
    ("Carried in", lambda r: r.moved.carried_in),
    ("Carried fwd", lambda r: r.moved.carried_forward),
    ("Handed back", lambda r: r.moved.handed_back),
)


def render_text(reconciliation: Reconciliation) -> str:
    """The reconciliation as plain text: amounts in pounds, years as ``2022-23``."""
    out = [f"Reconciliation as at {day(reconciliation.as_at)}", ""]
    out += textwrap.wrap(
        "Years are UK financial years (April to March). Awards count in the year they are for;"
        " other movements in the year they happened. Available and unpaid are balances at the"
        " end of each year; the total row's, at the report date.",
        width=100,
    )
    for pot in reconciliation.pots:
        out += _render_pot(pot, depth=0)
    out += [
        "",
        "By funder (allocated and paid attributed pro rata to the awards into each pot"
        " in force on each movement's date)",
    ]
    for group in reconciliation.by_funder:
        out += _render_group(group)
    out += ["", "By ultimate source (money passed on by an intermediary funder counted once)"]
    for group in reconciliation.by_source:
        out += _render_group(group)
    out += ["", "All pots by financial year (delegated pots are inside the pot they came from)"]
    out += _table(reconciliation.years, _total_row(reconciliation.total), indent="  ")
    return "\n".join(out) + "\n"


def _total_row(total: Figures) -> YearRow:
    return YearRow(0, total, total)


def _render_pot(pot: PotReconciliation, depth: int) -> list[str]:
    pad = "  " * depth
    out = [""]
    if pot.delegated_from:
        out.append(f"{pad}{pot.pot}: delegated from {pot.delegated_from} to {pot.administered_by}")
        out.append(f"{pad}  (already counted in {pot.delegated_from}; not added to the totals)")
    else:
        stream = f"{pot.stream}, " if pot.stream else ""
        out.append(f"{pad}{pot.pot} ({stream}administered by {pot.administered_by})")
    for award in pot.awards:
        what = " (recorded as an assumption)" if award.is_assumption else ""
        source = f" (source {award.source})" if award.source != award.funder else ""
        out.append(
            f"{pad}  Award {award.reference}: {award.funder}{source},"
            f" {financial_year(award.financial_year)}, {money(award.awarded_pence)}{what};"
            f" received {money(award.received_pence)}, owed {money(award.owed_pence)}"
        )
    out += _table(pot.years, _total_row(pot.total), indent=pad + "  ")
    if pot.total.assumed:
        out.append(
            f"{pad}  Note: {money(pot.total.assumed)} is recorded as an assumption, not from a"
            " named funder, and is shown apart from the awarded money."
        )
    for child in pot.delegated:
        out += _render_pot(child, depth + 1)
    return out


def _render_group(group: GroupReconciliation) -> list[str]:
    through = f" (including money through {', '.join(group.through)})" if group.through else ""
    out = ["", f"  {group.name}{through}: {', '.join(group.pots) or 'no awards'}"]
    out += _table(group.years, _total_row(group.total), indent="    ")
    return out


def _table(rows: Sequence[YearRow], total: YearRow, indent: str) -> list[str]:
    everything = [*rows, total]
    columns = list(COLUMNS)
    for name, getter in OPTIONAL_COLUMNS:
        if any(getter(r) for r in everything):
            columns.insert(6, (name, getter))
    head = ["Year", *(name for name, _ in columns)]
    body = [[r.label, *(money(g(r)) for _, g in columns)] for r in rows]
    body.append(["Total", *(money(g(total)) for _, g in columns)])
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    lines = []
    for row in (head, *body):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(cells).rstrip())
    return lines
