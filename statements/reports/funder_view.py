"""Who paid for what: each funder's share of every allocation and payment.

A pooled contract (003, 4.5-4.7) is one allocation with a share in several pots, and the journal
already says, to the penny, how much of each allocation, variation, payment and return fell on
each pot (``AllocationShare``). This module takes the last step, from pot to funder, and is the
one place that rule lives; ``statements.reports.reconciliation`` uses the same rule for its
per-funder and per-source figures, so the reports agree with each other to the penny.

**The attribution rule.** A pot funded by one funder's awards: every penny moved through the pot
is that funder's. A pot funded by several awards: each movement of the pot's money (allocated,
paid, returned, carried forward or in, handed back) is attributed to the funders pro rata to
their awards into the pot *in force at the movement's date* (awarded on or before it), by
*cumulative* largest-remainder rounding over the pot's movements in journal order while those
awards stay the same: the parts of the first k such movements, added up, are exactly
``split_by_ratios`` of their sum. So every movement's parts add up to the movement, no penny is
created or lost however the movements are grouped (by contract, by year, by funder), and a
movement's attribution never changes when a later award arrives: a closed year's figures per
funder stay as they were reported. A delegated pot takes its parent pot's
funders; a pot with no award is attributed to its stream's funder (or shown as "No award
recorded"). A reversal is a movement like any other, with the opposite sign.

Journal entries are replayed up to an as-at date through ``ledger.journal.Effects``, the function
that maintains the live figures (the approach of ``statements.reports.distribution``), here one
entry at a time so that each movement can be shown and attributed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.journal import Effects
from ledger.models import Allocation, AllocationShare, Award, Entry, Pot
from ledger.money import split_by_ratios
from statements.render.formatting import day, money

NO_AWARD = "No award recorded"

# Pot figures that are attributed to funders. ``funded_pence`` from awards and ``received_pence``
# are exact per award and never split.
ATTRIBUTED = (
    "allocated_pence",
    "paid_pence",
    "returned_pence",
    "carried_in_pence",
    "carried_forward_pence",
    "handed_back_pence",
    "delegated_in_pence",
)
# What a change to an allocation share means, as the column it shows in.
SHARE_FIGURES = {"allocated_pence": "allocated", "paid_pence": "paid", "returned_pence": "returned"}


# Replaying the journal one entry at a time ---------------------------------------------------


@dataclass(frozen=True)
class EntryEffect:
    """What one journal entry did to the figures, in pence.

    ``meaning`` is the kind of act (a reversal means its target's kind, negated); ``award_id`` is
    the award an award entry (or its reversal) records. ``financial_year``
    is the year it counts in: the year of its effective date, except that an award (or its
    reversal) counts in the financial year the award is for. ``pots`` is keyed by (pot id,
    figure); besides ``ledger.journal.Effects``'s figures it carries ``delegated_in_pence``, a
    delegated pot's funding from its delegation (``funded_pence`` then means awards and carried-in
    money only).
    """

    entry_id: int
    reference: str | None
    kind: str
    meaning: str
    effective_date: dt.date
    financial_year: int
    allocation_id: int | None
    award_id: int | None
    reverses_id: int | None
    pots: Mapping[tuple[int, str], int]
    awards: Mapping[int, int]
    shares: Mapping[tuple[int, str], int]
    allocations: Mapping[tuple[int, str], int]


def replay(session: Session, as_at: dt.date) -> tuple[EntryEffect, ...]:
    """Every journal entry dated on or before ``as_at``, in journal order, with its effects."""
    entries = session.scalars(
        select(Entry).where(Entry.effective_date <= as_at).order_by(Entry.id)
    ).all()
    by_id = {e.id: e for e in entries}
    out: list[EntryEffect] = []
    for entry in entries:
        target = by_id.get(entry.reverses_id) if entry.reverses_id is not None else None
        if entry.reverses_id is not None and target is None:
            target = session.get_one(Entry, entry.reverses_id)
        effects = Effects()
        effects.add_entry(session, entry, target)
        meaning = target if target is not None else entry
        year = entry.financial_year
        if meaning.kind == "award" and meaning.award_id is not None:
            year = session.get_one(Award, meaning.award_id).financial_year
        pots: dict[tuple[int, str], int] = {}
        awards: dict[int, int] = {}
        shares: dict[tuple[int, str], int] = {}
        allocations: dict[tuple[int, str], int] = {}
        for (model, object_id, figure), delta in effects.deltas.items():
            if not delta:
                continue
            if model is Pot:
                if figure == "funded_pence" and meaning.kind in ("allocate", "delegate", "vary"):
                    figure = "delegated_in_pence"  # a delegated pot funded by its delegation
                pots[(object_id, figure)] = pots.get((object_id, figure), 0) + delta
            elif model is Award:
                awards[object_id] = awards.get(object_id, 0) + delta
            elif model is AllocationShare:
                shares[(object_id, figure)] = delta
            elif model is Allocation:
                allocations[(object_id, figure)] = delta
        out.append(
            EntryEffect(
                entry_id=entry.id,
                reference=entry.reference,
                kind=entry.kind,
                meaning=meaning.kind,
                effective_date=entry.effective_date,
                financial_year=year,
                allocation_id=entry.allocation_id,
                award_id=meaning.award_id,
                reverses_id=entry.reverses_id,
                pots=pots,
                awards=awards,
                shares=shares,
                allocations=allocations,
            )
        )
    return tuple(out)


# From pot to funder ------------------------------------------------------------------------


def funder_of(award: Award) -> str:
    return award.funder.name


def ultimate_source(award: Award) -> str:
    """Where an award's money ultimately comes from.

    An award made by its stream's own funder comes from the stream's ``source`` (the Promise
    Partnership is awarded by Corra Foundation from Scottish Government money, so its source is
    the Scottish Government). Money put into a stream's pot by anyone else, including a source
    recorded as an assumption, is that funder's own.
    """
    stream = award.stream
    if stream is not None and stream.funder_id == award.funder_id:
        return stream.source.name
    return award.funder.name


AwardKey = Callable[[Award], str]


class Attribution:
    """Each pot movement of each entry, split between funders (or sources) by the module's rule.

    ``key`` names the funder an award counts for: :func:`funder_of` or :func:`ultimate_source`.
    """

    def __init__(
        self,
        session: Session,
        effects: Sequence[EntryEffect],
        as_at: dt.date,
        key: AwardKey = funder_of,
    ) -> None:
        self._session = session
        self._as_at = as_at
        self._key = key
        self._awards: dict[int, list[tuple[dt.date, str, int]]] = {}
        self._parts: dict[tuple[int, int, str], dict[str, int]] = {}
        Segment = tuple[int, str, tuple[tuple[str, int], ...]]
        cumulative: dict[Segment, int] = defaultdict(int)
        attributed: dict[Segment, dict[str, int]] = defaultdict(dict)
        for effect in effects:
            for (pot_id, figure), delta in effect.pots.items():
                if figure not in ATTRIBUTED:
                    continue
                weights = self.weights(pot_id, effect.effective_date)
                segment = (pot_id, figure, tuple(weights.items()))
                cumulative[segment] += delta
                names = list(weights)
                split = split_by_ratios(cumulative[segment], list(weights.values()))
                before = attributed[segment]
                now = dict(zip(names, split, strict=True))
                parts = {n: now[n] - before.get(n, 0) for n in names}
                attributed[segment] = now
                self._parts[(effect.entry_id, pot_id, figure)] = {
                    n: p for n, p in parts.items() if p
                }

    def weights(self, pot_id: int, on: dt.date | None = None) -> dict[str, int]:
        """The funders of a pot and their awards into it (pence) in force on ``on`` (by default
        the report date), in award order."""
        return self._compute_weights(pot_id, min(on or self._as_at, self._as_at), depth=0)

    def _compute_weights(self, pot_id: int, on: dt.date, depth: int) -> dict[str, int]:
        if pot_id not in self._awards:
            self._awards[pot_id] = [
                (award.award_date, self._key(award), award.amount_pence)
                for award in self._session.scalars(
                    select(Award)
                    .where(Award.pot_id == pot_id, Award.award_date <= self._as_at)
                    .order_by(Award.award_date, Award.id)
                )
            ]
        weights: dict[str, int] = {}
        for awarded_on, name, amount in self._awards[pot_id]:
            if awarded_on <= on:
                weights[name] = weights.get(name, 0) + amount
        if weights:
            return weights
        pot = self._session.get_one(Pot, pot_id)
        parent = pot.parent_allocation
        if parent is not None and depth < 50:
            return self._compute_weights(parent.shares[0].pot_id, on, depth + 1)
        stream = pot.stream
        if stream is not None:
            name = stream.source.name if self._key is ultimate_source else stream.funder.name
            return {name: 1}
        if self._awards[pot_id]:  # money moved before any award: the first award's funder
            return {self._awards[pot_id][0][1]: 1}
        return {NO_AWARD: 1}

    def parts(self, entry_id: int, pot_id: int, figure: str) -> dict[str, int]:
        """How one entry's movement of ``figure`` in a pot falls on each funder (non-zero parts)."""
        return dict(self._parts.get((entry_id, pot_id, figure), {}))


# The funder view of pooled contracts -------------------------------------------------------


@dataclass(frozen=True)
class FunderPart:
    pot: str
    funder: str
    pence: int


@dataclass(frozen=True)
class Movement:
    """One journal entry on a contract: what it moved (allocated, paid or returned) and whose
    money it was. A reversal has the opposite sign of what it reverses."""

    entry_id: int
    reference: str | None
    date: dt.date
    kind: str
    figure: str
    amount_pence: int
    parts: tuple[FunderPart, ...]


@dataclass(frozen=True)
class FunderShare:
    """One funder's part of a contract, through one pot."""

    pot: str
    funder: str
    allocated_pence: int
    paid_pence: int
    returned_pence: int

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class FunderTotal:
    funder: str
    allocated_pence: int
    paid_pence: int
    returned_pence: int

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class PooledContract:
    reference: str
    recipient: str
    purpose: str
    pots: tuple[str, ...]
    allocated_pence: int
    paid_pence: int
    returned_pence: int
    movements: tuple[Movement, ...]
    shares: tuple[FunderShare, ...]
    funders: tuple[FunderTotal, ...]

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class FunderView:
    as_at: dt.date
    contracts: tuple[PooledContract, ...]
    funders: tuple[FunderTotal, ...]
    allocated_pence: int
    paid_pence: int
    returned_pence: int


class FunderViewMismatch(AssertionError):
    """The funders' parts do not add up to the contract: a bug, never a data problem."""


def build_funder_view(
    session: Session,
    *,
    as_at: dt.date | None = None,
    references: Iterable[str] | None = None,
    pooled_only: bool = True,
    key: AwardKey = funder_of,
) -> FunderView:
    """Each funder's share of every allocation and payment on pooled contracts, as at ``as_at``.

    ``references`` limits it to those allocations; ``pooled_only=False`` includes allocations
    funded from one pot too. The builder checks that the funders' parts add up exactly to each
    movement, to each contract's allocated, paid and returned, and to the totals, and raises
    :class:`FunderViewMismatch` otherwise. ``key`` (:func:`funder_of` or
    :func:`ultimate_source`) says whom an award's money counts for.
    """
    as_at = as_at or dt.date.today()
    effects = replay(session, as_at)
    attribution = Attribution(session, effects, as_at, key)
    wanted = set(references) if references is not None else None
    by_allocation: dict[int, list[EntryEffect]] = defaultdict(list)
    for effect in effects:
        if effect.allocation_id is not None:
            by_allocation[effect.allocation_id].append(effect)
    query = select(Allocation).order_by(Allocation.id)
    contracts: list[PooledContract] = []
    for allocation in session.scalars(query):
        if wanted is not None and allocation.reference not in wanted:
            continue
        if pooled_only and not allocation.is_pooled:
            continue
        contract = _contract(allocation, by_allocation[allocation.id], attribution)
        if contract is not None:
            contracts.append(contract)
    funders = _funder_totals(s for c in contracts for s in c.shares)
    view = FunderView(
        as_at=as_at,
        contracts=tuple(contracts),
        funders=funders,
        allocated_pence=sum(c.allocated_pence for c in contracts),
        paid_pence=sum(c.paid_pence for c in contracts),
        returned_pence=sum(c.returned_pence for c in contracts),
    )
    _require_equal(
        "all contracts",
        (view.allocated_pence, view.paid_pence, view.returned_pence),
        _sums(view.funders),
    )
    return view


def _contract(
    allocation: Allocation,
    effects: Sequence[EntryEffect],
    attribution: Attribution,
) -> PooledContract | None:
    share_pot = {share.id: share.pot for share in allocation.shares}
    movements: list[Movement] = []
    totals: dict[str, int] = defaultdict(int)
    by_share: dict[tuple[str, str], dict[str, int]] = {}
    for effect in effects:
        for figure, column in SHARE_FIGURES.items():
            amount = effect.allocations.get((allocation.id, figure), 0)
            parts: list[FunderPart] = []
            for share_id, pot in share_pot.items():
                share_delta = effect.shares.get((share_id, figure), 0)
                split = attribution.parts(effect.entry_id, pot.id, figure)
                if sum(split.values()) != share_delta:
                    raise FunderViewMismatch(
                        f"entry {effect.entry_id}: {pot.name}'s part of {allocation.reference}"
                        f" is {share_delta}p but its funders' parts add up to"
                        f" {sum(split.values())}p"
                    )
                for funder, pence in split.items():
                    parts.append(FunderPart(pot.name, funder, pence))
                    key = (pot.name, funder)
                    by_share.setdefault(key, defaultdict(int))[column] += pence
            if amount == 0 and not parts:
                continue
            _require_equal(
                f"entry {effect.entry_id} on {allocation.reference}",
                (amount,),
                (sum(p.pence for p in parts),),
            )
            totals[column] += amount
            kind = effect.meaning if effect.kind != "reversal" else f"reversal of {effect.meaning}"
            movements.append(
                Movement(
                    entry_id=effect.entry_id,
                    reference=effect.reference,
                    date=effect.effective_date,
                    kind=kind,
                    figure=column,
                    amount_pence=amount,
                    parts=tuple(parts),
                )
            )
    if not movements:
        return None
    shares = tuple(
        FunderShare(
            pot=pot,
            funder=funder,
            allocated_pence=figures["allocated"],
            paid_pence=figures["paid"],
            returned_pence=figures["returned"],
        )
        for (pot, funder), figures in by_share.items()
    )
    funders = _funder_totals(shares)
    contract = PooledContract(
        reference=allocation.reference,
        recipient=allocation.recipient.name,
        purpose=allocation.purpose,
        pots=tuple(pot.name for pot in share_pot.values()),
        allocated_pence=totals["allocated"],
        paid_pence=totals["paid"],
        returned_pence=totals["returned"],
        movements=tuple(movements),
        shares=shares,
        funders=funders,
    )
    contract_figures = (contract.allocated_pence, contract.paid_pence, contract.returned_pence)
    _require_equal(allocation.reference, contract_figures, _sums(shares))
    _require_equal(allocation.reference, contract_figures, _sums(funders))
    return contract


def _funder_totals(shares: Iterable[FunderShare | FunderTotal]) -> tuple[FunderTotal, ...]:
    totals: dict[str, list[int]] = {}
    for share in shares:
        row = totals.setdefault(share.funder, [0, 0, 0])
        row[0] += share.allocated_pence
        row[1] += share.paid_pence
        row[2] += share.returned_pence
    return tuple(FunderTotal(name, *figures) for name, figures in totals.items())


def _sums(rows: Iterable[FunderShare | FunderTotal]) -> tuple[int, int, int]:
    listed = list(rows)
    return (
        sum(r.allocated_pence for r in listed),
        sum(r.paid_pence for r in listed),
        sum(r.returned_pence for r in listed),
    )


def _require_equal(what: str, expected: tuple[int, ...], got: tuple[int, ...]) -> None:
    if expected != got:
        raise FunderViewMismatch(f"{what}: figures {expected} but funders' parts add up to {got}")


# Rendering ----------------------------------------------------------------------------------


def render_text(view: FunderView) -> str:
    """The funder view as plain text, amounts in pounds."""
    lines = [f"Funders' shares of pooled contracts, as at {day(view.as_at)}", ""]
    if not view.contracts:
        lines.append("No pooled contracts.")
    for contract in view.contracts:
        lines.append(
            f"{contract.reference}  {contract.recipient}: {contract.purpose}"
            f" (from {', '.join(contract.pots)})"
        )
        lines.append(
            f"  Allocated {money(contract.allocated_pence)}, paid {money(contract.paid_pence)},"
            f" returned {money(contract.returned_pence)}, unpaid {money(contract.unpaid_pence)}"
        )
        for movement in contract.movements:
            split = "; ".join(f"{p.funder} {money(p.pence)}" for p in movement.parts)
            lines.append(
                f"    {movement.date.isoformat()}  {movement.kind:<20} {movement.figure:<9}"
                f" {money(movement.amount_pence):>14}  = {split}"
            )
        for share in contract.shares:
            lines.append(
                f"  {share.funder} through {share.pot}: allocated {money(share.allocated_pence)},"
                f" paid {money(share.paid_pence)}, returned {money(share.returned_pence)},"
                f" unpaid {money(share.unpaid_pence)}"
            )
        lines.append("")
    if view.funders:
        lines.append("Totals by funder")
        for total in view.funders:
            lines.append(
                f"  {total.funder}: allocated {money(total.allocated_pence)},"
                f" paid {money(total.paid_pence)}, returned {money(total.returned_pence)}"
            )
        lines.append(
            f"  All funders: allocated {money(view.allocated_pence)},"
            f" paid {money(view.paid_pence)}, returned {money(view.returned_pence)}"
        )
    return "\n".join(lines) + "\n"
