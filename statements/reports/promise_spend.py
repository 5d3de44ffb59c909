"""Spend by Promise priority: how much is allocated and paid, and on what (001 3.7, 004).

Allocations carry Promise Plan tags (``AllocationTag``): action codes (``WFS 1``) and
foundations (``1`` Voice ... ``5`` Scaffolding). This report totals allocated and paid money three
ways: **by pillar** (A Good Childhood, Whole Family Support, Supporting the Workforce, Planning,
Building Capacity), **by foundation** and **by action code**. Money with no tag of that kind is its
own **Untagged** line, never hidden.

What is counted:

* **Items** are allocation shares in the pots reported on (by default every top-level pot): a
  pooled contract contributes one item per pot, each with that pot's part.
* **Delegations are looked through.** Money delegated to an intermediary (CTSI) is spent through
  its sub-grants, so the sub-grants are the items, with their own tags; what the delegation holds
  beyond its sub-grants is one more item, "held by <intermediary>, not yet sub-granted", with the
  delegation's tags (untagged if it has none). So every penny of the pots' allocated and paid is
  counted exactly once in the grand total.
* **Foundations** of an item are its foundation tags plus the foundations the plan lists for each
  of its action codes (WFS 1 serves foundations 1, 4 and 5).

**Several tags.** An item tagged with several action codes (or whose codes fall in several
pillars, or which serves several foundations) is listed *in full under each* of its lines, and
*counted once* in the grand total. Each breakdown therefore shows a line "Counted under more than
one line" (minus the excess) so that its lines + Untagged − that excess = the total, and the total
equals the pots' own allocated and paid to the penny; the builder checks both and raises
:class:`PromiseSpendMismatch` otherwise. Lines that share money name the items concerned.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import promise
from ledger.models import Allocation, AllocationShare, Pot
from ledger.operations import find_pot
from statements.render.formatting import day, money
from statements.reports.funder_view import EntryEffect, replay

UNTAGGED = "Untagged"


@dataclass(frozen=True)
class Spend:
    allocated_pence: int = 0
    paid_pence: int = 0
    returned_pence: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.allocated_pence + other.allocated_pence,
            self.paid_pence + other.paid_pence,
            self.returned_pence + other.returned_pence,
        )

    def __sub__(self, other: Spend) -> Spend:
        return Spend(
            self.allocated_pence - other.allocated_pence,
            self.paid_pence - other.paid_pence,
            self.returned_pence - other.returned_pence,
        )

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


NOTHING = Spend()


def _total(items: Iterable[Spend]) -> Spend:
    result = NOTHING
    for item in items:
        result = result + item
    return result


@dataclass(frozen=True)
class SpendItem:
    """One allocation's part in one pot (or what a delegation holds beyond its sub-grants)."""

    reference: str
    recipient: str
    purpose: str
    pot: str
    actions: tuple[str, ...]
    foundations: tuple[int, ...]
    spend: Spend
    note: str = ""

    @property
    def pillars(self) -> tuple[str, ...]:
        seen: list[str] = []
        for code in self.actions:
            prefix = promise.pillar_of(code).prefix
            if prefix not in seen:
                seen.append(prefix)
        return tuple(seen)


@dataclass(frozen=True)
class SpendLine:
    key: str
    label: str
    spend: Spend
    items: tuple[str, ...]  # references of the items under this line
    shared: tuple[str, ...]  # of those, the ones also listed under another line


@dataclass(frozen=True)
class Breakdown:
    title: str
    lines: tuple[SpendLine, ...]
    untagged: SpendLine
    counted_more_than_once: Spend
    total: Spend


@dataclass(frozen=True)
class PromiseSpend:
    as_at: dt.date
    pots: tuple[str, ...]
    items: tuple[SpendItem, ...]
    by_pillar: Breakdown
    by_foundation: Breakdown
    by_action: Breakdown
    total: Spend
    pot_total: Spend  # the pots' own allocated, paid and returned, replayed from the journal


class PromiseSpendMismatch(AssertionError):
    """The report does not add up to the pots' totals: a bug, never a data problem."""


def build_promise_spend(
    session: Session, *, pots: Sequence[str] | None = None, as_at: dt.date | None = None
) -> PromiseSpend:
    """Spend by pillar, foundation and action code over ``pots`` (default: every top-level
    pot), as at ``as_at`` (default today)."""
    as_at = as_at or dt.date.today()
    if pots is None:
        chosen = list(
            session.scalars(select(Pot).where(Pot.parent_allocation_id.is_(None)).order_by(Pot.id))
        )
    else:
        chosen = [find_pot(session, name) for name in pots]
    effects = replay(session, as_at)
    figures = _share_figures(effects)
    items: list[SpendItem] = []
    for pot in chosen:
        items += _items(session, pot, figures, depth=0)
    pot_total = _total(_pot_spend(effects, pot.id) for pot in chosen)
    total = _total(item.spend for item in items)
    if total != pot_total:
        raise PromiseSpendMismatch(f"items add up to {total}, the pots to {pot_total}")
    result = PromiseSpend(
        as_at=as_at,
        pots=tuple(pot.name for pot in chosen),
        items=tuple(items),
        by_pillar=_breakdown(
            "By Promise pillar",
            items,
            lambda item: item.pillars,
            [(p.prefix, p.name) for p in promise.PILLARS],
            show_empty=True,
        ),
        by_foundation=_breakdown(
            "By Promise foundation",
            items,
            lambda item: tuple(str(n) for n in item.foundations),
            [(str(f.number), f"{f.number} {f.name}") for f in promise.FOUNDATIONS],
            show_empty=True,
        ),
        by_action=_breakdown(
            "By action code",
            items,
            lambda item: item.actions,
            [(a.code, f"{a.code}: {a.outcome}") for a in promise.ACTIONS],
            show_empty=False,
        ),
        total=total,
        pot_total=pot_total,
    )
    return result


def _share_figures(effects: Sequence[EntryEffect]) -> dict[int, Spend]:
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    index = {"allocated_pence": 0, "paid_pence": 1, "returned_pence": 2}
    for effect in effects:
        for (share_id, figure), delta in effect.shares.items():
            if figure in index:
                sums[share_id][index[figure]] += delta
    return {share_id: Spend(*values) for share_id, values in sums.items()}


def _pot_spend(effects: Sequence[EntryEffect], pot_id: int) -> Spend:
    def figure(name: str) -> int:
        return sum(e.pots.get((pot_id, name), 0) for e in effects)

    return Spend(figure("allocated_pence"), figure("paid_pence"), figure("returned_pence"))


def _items(session: Session, pot: Pot, figures: dict[int, Spend], depth: int) -> list[SpendItem]:
    shares = session.scalars(
        select(AllocationShare)
        .where(AllocationShare.pot_id == pot.id)
        .order_by(AllocationShare.allocation_id)
    ).all()
    items: list[SpendItem] = []
    for share in shares:
        spend = figures.get(share.id)
        if spend is None:
            continue
        allocation = share.allocation
        actions, foundations = _tags(allocation)
        child = allocation.delegated_pot
        if child is not None and depth < 20:
            inside = _items(session, child, figures, depth + 1)
            items += inside
            held = spend - _total(item.spend for item in inside)
            if held != NOTHING:
                items.append(
                    SpendItem(
                        reference=allocation.reference,
                        recipient=allocation.recipient.name,
                        purpose=allocation.purpose,
                        pot=pot.name,
                        actions=actions,
                        foundations=foundations,
                        spend=held,
                        note=f"held by {allocation.recipient.name}, not yet sub-granted",
                    )
                )
            continue
        items.append(
            SpendItem(
                reference=allocation.reference,
                recipient=allocation.recipient.name,
                purpose=allocation.purpose,
                pot=pot.name,
                actions=actions,
                foundations=foundations,
                spend=spend,
            )
        )
    return items


def _tags(allocation: Allocation) -> tuple[tuple[str, ...], tuple[int, ...]]:
    actions = [t.value for t in allocation.tags if t.kind == "action"]
    foundations = {int(t.value) for t in allocation.tags if t.kind == "foundation"}
    for code in actions:
        foundations.update(promise.action(code).foundations)
    order = {a.code: i for i, a in enumerate(promise.ACTIONS)}
    return tuple(sorted(actions, key=lambda c: order.get(c, len(order)))), tuple(
        sorted(foundations)
    )


def _breakdown(
    title: str,
    items: Sequence[SpendItem],
    keys_of: Callable[[SpendItem], tuple[str, ...]],
    catalogue: Sequence[tuple[str, str]],
    *,
    show_empty: bool,
) -> Breakdown:
    under: dict[str, list[SpendItem]] = defaultdict(list)
    untagged: list[SpendItem] = []
    for item in items:
        keys = keys_of(item)
        if not keys:
            untagged.append(item)
        for key in keys:
            under[key].append(item)
    lines = []
    known = {key for key, _ in catalogue}
    extra = [(key, key) for key in under if key not in known]  # tags the catalogue lacks
    for key, label in [*catalogue, *extra]:
        found = under.get(key, [])
        if not found and not show_empty:
            continue
        lines.append(
            SpendLine(
                key=key,
                label=label,
                spend=_total(i.spend for i in found),
                items=tuple(i.reference for i in found),
                shared=tuple(i.reference for i in found if len(keys_of(i)) > 1),
            )
        )
    untagged_line = SpendLine(
        key=UNTAGGED.lower(),
        label=UNTAGGED,
        spend=_total(i.spend for i in untagged),
        items=tuple(i.reference for i in untagged),
        shared=(),
    )
    total = _total(i.spend for i in items)
    listed = _total(line.spend for line in lines) + untagged_line.spend
    excess = _total(
        Spend(
            i.spend.allocated_pence * (len(keys_of(i)) - 1),
            i.spend.paid_pence * (len(keys_of(i)) - 1),
            i.spend.returned_pence * (len(keys_of(i)) - 1),
        )
        for i in items
        if len(keys_of(i)) > 1
    )
    if listed - excess != total:
        raise PromiseSpendMismatch(f"{title}: lines {listed} less {excess} is not {total}")
    return Breakdown(
        title=title,
        lines=tuple(lines),
        untagged=untagged_line,
        counted_more_than_once=excess,
        total=total,
    )


# Rendering ----------------------------------------------------------------------------------


def render_text(report: PromiseSpend) -> str:
    out = [
        f"Spend by Promise priority, as at {day(report.as_at)}",
        f"Pots: {', '.join(report.pots)} (delegated money is shown through its sub-grants)",
        "An allocation with several tags is listed in full under each and counted once in the"
        " total.",
    ]
    for breakdown in (report.by_pillar, report.by_foundation, report.by_action):
        out += ["", breakdown.title]
        rows = [(line.label, line.spend, line.shared) for line in breakdown.lines]
        rows.append((UNTAGGED, breakdown.untagged.spend, ()))
        if breakdown.counted_more_than_once != NOTHING:
            rows.append(
                ("Counted under more than one line", NOTHING - breakdown.counted_more_than_once, ())
            )
        rows.append(("Total", breakdown.total, ()))
        width = min(60, max(len(label) for label, _, _ in rows))
        out.append(f"  {'':<{width}}  {'Allocated':>15}  {'Paid':>15}")
        for label, spend, shared in rows:
            shown = label if len(label) <= width else label[: width - 1] + "…"
            also = f"  (also elsewhere: {', '.join(shared)})" if shared else ""
            out.append(
                f"  {shown:<{width}}  {money(spend.allocated_pence):>15}"
                f"  {money(spend.paid_pence):>15}{also}"
            )
    return "\n".join(out) + "\n"
