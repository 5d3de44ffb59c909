"""The distribution statement: one model, built once from the journal, rendered three ways.

Its shape follows Appendix 2 of the February 2024 report: a heading with the stream, financial
year(s) and award; the allocations as "recipient — purpose — amount" lines with status and paid
so far; each delegated pot as its own nested section headed by its delegation; totals; and a line
that says plainly whether the pot is over- or under-allocated.

Figures are "as at" a date: the journal entries dated on or before it are replayed through
``ledger.journal.Effects``, the same function that maintains the live figures, so a statement as
at today agrees with ``commonpurse balances`` to the penny. The database adds up the lines first
(one total per meaning and account), so the replay costs one query however long the journal.
A statement reads the same handful of queries for five lines or five thousand.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from ledger import timeline
from ledger.errors import InvalidInput
from ledger.journal import Effects, SessionLookups
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    AllocationTag,
    Award,
    Entry,
    FundingStream,
    Line,
    Organisation,
    Pot,
    utcnow,
)
from ledger.operations import find_pot, get_setting
from statements.render.formatting import financial_years, money


@dataclass(frozen=True)
class AwardRow:
    reference: str
    funder: str
    financial_year: int
    award_date: dt.date
    amount_pence: int
    received_pence: int
    is_assumption: bool
    description: str


@dataclass(frozen=True)
class AllocationRow:
    """One allocation as this pot sees it: for a pooled contract, this pot's share."""

    reference: str
    recipient: str
    purpose: str
    status: str
    allocated_pence: int
    paid_pence: int
    returned_pence: int
    tags: tuple[str, ...]
    pooled_with: tuple[str, ...]
    contract_total_pence: int
    sub_pot: PotSection | None

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class Totals:
    awarded_pence: int  # from named funders (or, for a delegated pot, its delegation)
    assumed_pence: int  # awarded from a source recorded as an assumption
    funded_pence: int
    allocated_pence: int
    paid_pence: int
    returned_pence: int
    received_pence: int
    carried_in_pence: int
    carried_forward_pence: int
    handed_back_pence: int

    @property
    def available_pence(self) -> int:
        return (
            self.funded_pence
            - self.allocated_pence
            + self.returned_pence
            - self.carried_forward_pence
            - self.handed_back_pence
        )

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class PotSection:
    pot: str
    administered_by: str
    stream: str | None
    financial_years: tuple[int, ...]
    heading: str
    awards: tuple[AwardRow, ...]
    allocations: tuple[AllocationRow, ...]
    totals: Totals
    balance_note: str
    delegated_from: str | None
    # The years of each award (phased or "phasing not stated") and any disagreement between the
    # documents about them, printed under the heading; expected funding is named apart.
    years_notes: tuple[str, ...] = ()

    def walk(self, depth: int = 0) -> Iterator[tuple[int, PotSection]]:
        """This section and every nested delegated section, depth first."""
        yield depth, self
        for row in self.allocations:
            if row.sub_pot is not None:
                yield from row.sub_pot.walk(depth + 1)


@dataclass(frozen=True)
class Movement:
    """What changed on a pot or an allocation after ``since`` up to the as-at date."""

    what: str  # the pot's name, or "reference: recipient"
    is_pot: bool
    funded_pence: int
    allocated_pence: int
    paid_pence: int
    returned_pence: int
    received_pence: int


@dataclass(frozen=True)
class SignoffFacts:
    """Finance's sign-off as the signed statement prints it."""

    signed_by: str
    signed_at: dt.datetime
    chain_seq: int
    chain_sha256: str
    superseded_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class DistributionStatement:
    title: str
    organisation: str
    as_at: dt.date
    generated_at: dt.datetime
    section: PotSection
    since: dt.date | None = None
    movements: tuple[Movement, ...] = ()
    signoff: SignoffFacts | None = None

    def sections(self) -> Iterator[tuple[int, PotSection]]:
        return self.section.walk()


def build_statement(
    session: Session,
    pot_name: str,
    *,
    as_at: dt.date | None = None,
    generated_at: dt.datetime | None = None,
    since: dt.date | None = None,
    upto: Upto | None = None,
    signoff: SignoffFacts | None = None,
) -> DistributionStatement:
    """The distribution statement of ``pot_name`` and its delegated pots, as at ``as_at``.

    With ``since``, it adds the movements after that date up to ``as_at`` ("progress since
    August 2023"). With ``upto``, it reads the journal as it stood at a sign-off: only entries up
    to that position in the hash chain and what was recorded by that moment, so a signed
    statement can be rebuilt byte for byte however many entries came later.

    It reads a fixed number of queries, however many allocations, payments or journal entries
    there are: the pot, the pots delegated from it, their awards, allocation shares, tags and
    first entries each in one query (``_Ledger``), and the journal in one (``_replay``)."""
    as_at = as_at or dt.date.today()
    if since is not None and since > as_at:
        raise InvalidInput("'since' must be on or before the as-at date", field="since")
    pot = find_pot(session, pot_name)
    ledger = _Ledger.load(session, pot.id, as_at, upto)
    figures = _replay(session, ledger, as_at, upto)
    notes = _years_notes(session, ledger, upto)
    section = _section(ledger, pot.id, figures, as_at, notes)
    movements: tuple[Movement, ...] = ()
    if since is not None:
        before = _Ledger.load(session, pot.id, since, upto)
        earlier = _section(before, pot.id, _replay(session, before, since, upto), since, notes)
        movements = tuple(_movements(earlier, section))
    organisation = get_setting(session, "accountable_body") or pot.administered_by.name
    return DistributionStatement(
        title=f"Distribution statement: {pot.name}",
        organisation=organisation,
        as_at=as_at,
        generated_at=generated_at or utcnow(),
        section=section,
        since=since,
        movements=movements,
        signoff=signoff,
    )


@dataclass(frozen=True)
class Upto:
    """The journal as it stood at a sign-off: entries up to ``chain_seq``, records up to
    ``moment``."""

    chain_seq: int
    moment: dt.datetime


def _years_notes(
    session: Session, ledger: _Ledger, upto: Upto | None
) -> dict[int, tuple[str, ...]]:
    """Each pot's lines on the years of its awards and its expected funding (four queries)."""
    moment = upto.moment if upto is not None else None
    notes: dict[int, list[str]] = defaultdict(list)
    known = {a.reference for awards in ledger.awards.values() for a in awards}
    for years in timeline.award_years(session, list(ledger.pots), recorded_by=moment):
        if years.reference in known:
            notes[years.pot_id].append(years.summary())
    for row in timeline.expected_funding(session, list(ledger.pots)):
        if row.pot_id is not None and (
            moment is None or timeline.as_utc(row.recorded_at) <= timeline.as_utc(moment)
        ):
            notes[row.pot_id].append(timeline.describe_expected(row))
    return {pot_id: tuple(lines) for pot_id, lines in notes.items()}


def _movements(before: PotSection, after: PotSection) -> Iterator[Movement]:
    """Pot by pot, the change in its totals and in each allocation's figures; unchanged lines
    are left out."""
    earlier = {section.pot: section for _, section in before.walk()}
    for _, section in after.walk():
        old = earlier.get(section.pot)
        t, o = section.totals, old.totals if old is not None else None
        pot_move = Movement(
            section.pot,
            True,
            t.funded_pence - (o.funded_pence if o else 0),
            t.allocated_pence - (o.allocated_pence if o else 0),
            t.paid_pence - (o.paid_pence if o else 0),
            t.returned_pence - (o.returned_pence if o else 0),
            t.received_pence - (o.received_pence if o else 0),
        )
        if any(_amounts(pot_move)):
            yield pot_move
        rows = {r.reference: r for r in old.allocations} if old is not None else {}
        for row in section.allocations:
            was = rows.get(row.reference)
            move = Movement(
                f"{row.reference}: {row.recipient}",
                False,
                0,
                row.allocated_pence - (was.allocated_pence if was else 0),
                row.paid_pence - (was.paid_pence if was else 0),
                row.returned_pence - (was.returned_pence if was else 0),
                0,
            )
            if any(_amounts(move)):
                yield move


def _amounts(move: Movement) -> tuple[int, ...]:
    return (
        move.funded_pence,
        move.allocated_pence,
        move.paid_pence,
        move.returned_pence,
        move.received_pence,
    )


# What a statement reads, each kind in one query ---------------------------------------------


def _family(pot_id: int) -> Select[tuple[int]]:
    """The ids of the pot and every pot delegated from it, at any depth (a recursive query)."""
    family = select(Pot.id).where(Pot.id == pot_id).cte("family", recursive=True)
    child = aliased(Pot)
    family = family.union(
        select(child.id)
        .join(AllocationShare, AllocationShare.allocation_id == child.parent_allocation_id)
        .join(family, family.c.id == AllocationShare.pot_id)
    )
    return select(family.c.id)


@dataclass(frozen=True)
class _Delegation:
    """The allocation that opened a delegated pot, as its heading and note describe it."""

    purpose: str
    recipient: str
    from_pot: str


@dataclass(frozen=True)
class _PotFacts:
    id: int
    name: str
    administered_by: str
    stream: str | None
    stream_short_name: str | None
    financial_year: int | None
    delegation: _Delegation | None


@dataclass(frozen=True)
class _AwardFacts:
    id: int
    reference: str
    funder: str
    financial_year: int
    award_date: dt.date
    amount_pence: int
    is_assumption: bool
    description: str


@dataclass(frozen=True)
class _ShareFacts:
    """One pot's share of an allocation, with what the statement prints about the allocation."""

    id: int
    pot_id: int
    pot: str
    allocation_id: int
    reference: str
    recipient: str
    purpose: str
    status: str
    approved_at: dt.datetime | None


@dataclass(frozen=True)
class _FirstEntry:
    effective_date: dt.date
    approved: bool


@dataclass
class _Ledger:
    """Everything a statement prints about a pot and its delegated pots except the figures,
    and what replaying their journal needs to know about pots and shares."""

    family: Select[tuple[int]]
    pots: dict[int, _PotFacts] = field(default_factory=dict)
    awards: dict[int, list[_AwardFacts]] = field(default_factory=lambda: defaultdict(list))
    shares_by_pot: dict[int, list[_ShareFacts]] = field(default_factory=lambda: defaultdict(list))
    shares_by_allocation: dict[int, list[_ShareFacts]] = field(
        default_factory=lambda: defaultdict(list)
    )
    tags: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    first_entries: dict[int, _FirstEntry] = field(default_factory=dict)
    delegated_pots: dict[int, int] = field(default_factory=dict)  # allocation id -> its pot
    parents: dict[int, int | None] = field(default_factory=dict)  # pot id -> allocation id
    upto: Upto | None = None

    @classmethod
    def load(
        cls, session: Session, pot_id: int, as_at: dt.date, upto: Upto | None = None
    ) -> _Ledger:
        ledger = cls(family=_family(pot_id), upto=upto)
        ledger._load_pots(session)
        ledger._load_awards(session, as_at)
        ledger._load_shares(session)
        ledger._load_tags(session)
        ledger._load_first_entries(session)
        return ledger

    def _posted(self) -> ColumnElement[bool]:
        """Entries in the journal as it stood at the sign-off (every entry without one)."""
        return Entry.chain_seq <= self.upto.chain_seq if self.upto is not None else true()

    def _allocations_here(self) -> Select[tuple[int]]:
        return select(AllocationShare.allocation_id).where(AllocationShare.pot_id.in_(self.family))

    def _load_pots(self, session: Session) -> None:
        administrator = aliased(Organisation)
        recipient = aliased(Organisation)
        parent = aliased(Allocation)
        from_pot = aliased(Pot)
        first = aliased(AllocationShare)
        # A delegation is made from one pot: its first (and only) share's.
        first_share = (
            select(func.min(first.id))
            .where(first.allocation_id == parent.id)
            .correlate(parent)
            .scalar_subquery()
        )
        rows = session.execute(
            select(
                Pot.id,
                Pot.name,
                Pot.financial_year,
                administrator.name,
                FundingStream.name,
                FundingStream.short_name,
                parent.id,
                parent.purpose,
                recipient.name,
                from_pot.name,
            )
            .join(administrator, administrator.id == Pot.administered_by_id)
            .outerjoin(FundingStream, FundingStream.id == Pot.stream_id)
            .outerjoin(parent, parent.id == Pot.parent_allocation_id)
            .outerjoin(recipient, recipient.id == parent.recipient_id)
            .outerjoin(AllocationShare, AllocationShare.id == first_share)
            .outerjoin(from_pot, from_pot.id == AllocationShare.pot_id)
            .where(Pot.id.in_(self.family))
        )
        for (
            pot_id,
            name,
            year,
            administered_by,
            stream,
            short_name,
            parent_id,
            purpose,
            recipient_name,
            from_pot_name,
        ) in rows:
            delegation = None
            if parent_id is not None:
                delegation = _Delegation(purpose, recipient_name, from_pot_name)
                self.delegated_pots[parent_id] = pot_id
            self.parents[pot_id] = parent_id
            self.pots[pot_id] = _PotFacts(
                pot_id, name, administered_by, stream, short_name, year, delegation
            )

    def _load_awards(self, session: Session, as_at: dt.date) -> None:
        rows = session.execute(
            select(
                Award.pot_id,
                Award.id,
                Award.reference,
                Organisation.name,
                Award.financial_year,
                Award.award_date,
                Award.amount_pence,
                Award.is_assumption,
                Award.description,
            )
            .join(Organisation, Organisation.id == Award.funder_id)
            .where(
                Award.pot_id.in_(self.family),
                Award.award_date <= as_at,
                Award.id.in_(select(Entry.award_id).where(Entry.kind == "award", self._posted())),
            )
            .order_by(Award.award_date, Award.id)
        )
        for pot_id, *facts in rows:
            self.awards[pot_id].append(_AwardFacts(*facts))

    def _load_shares(self, session: Session) -> None:
        """Every share of an allocation made from one of these pots or of the delegation that
        opened one of them: every share the entries on these pots' accounts can touch."""
        opened = select(Pot.parent_allocation_id).where(
            Pot.id.in_(self.family), Pot.parent_allocation_id.is_not(None)
        )
        rows = session.execute(
            select(
                AllocationShare.id,
                AllocationShare.pot_id,
                Pot.name,
                Pot.parent_allocation_id,
                AllocationShare.allocation_id,
                Allocation.reference,
                Organisation.name,
                Allocation.purpose,
                Allocation.status,
                Allocation.approved_at,
            )
            .join(Pot, Pot.id == AllocationShare.pot_id)
            .join(Allocation, Allocation.id == AllocationShare.allocation_id)
            .join(Organisation, Organisation.id == Allocation.recipient_id)
            .where(
                or_(
                    AllocationShare.allocation_id.in_(self._allocations_here()),
                    AllocationShare.allocation_id.in_(opened),
                )
            )
            .order_by(AllocationShare.id)
        )
        for share_id, pot_id, pot, parent_id, allocation_id, *facts in rows:
            share = _ShareFacts(share_id, pot_id, pot, allocation_id, *facts)
            self.shares_by_pot[pot_id].append(share)
            self.shares_by_allocation[allocation_id].append(share)
            self.parents[pot_id] = parent_id
        for shares in self.shares_by_pot.values():
            shares.sort(key=lambda s: s.allocation_id)

    def _load_tags(self, session: Session) -> None:
        rows = session.execute(
            select(AllocationTag.allocation_id, AllocationTag.kind, AllocationTag.value)
            .where(AllocationTag.allocation_id.in_(self._allocations_here()))
            .order_by(AllocationTag.id)
        )
        for allocation_id, kind, value in rows:
            self.tags[allocation_id].append(value if kind == "action" else f"Foundation {value}")

    def _load_first_entries(self, session: Session) -> None:
        """Each allocation's first journal entry (by date, then id): whether the allocation
        existed as at a date, and whether it was approved as it was entered."""
        ranked = (
            select(
                Entry.allocation_id,
                Entry.effective_date,
                Entry.approved_by,
                func.row_number()
                .over(partition_by=Entry.allocation_id, order_by=(Entry.effective_date, Entry.id))
                .label("rank"),
            )
            .where(Entry.allocation_id.in_(self._allocations_here()), self._posted())
            .subquery()
        )
        rows = session.execute(
            select(ranked.c.allocation_id, ranked.c.effective_date, ranked.c.approved_by).where(
                ranked.c.rank == 1
            )
        )
        for allocation_id, effective_date, approved_by in rows:
            self.first_entries[allocation_id] = _FirstEntry(effective_date, approved_by is not None)


class _Lookups:
    """``journal.Lookups`` answered from what the statement has read, asking the session only
    about a pot or share it has not (which the entries on these pots' accounts never need)."""

    def __init__(self, session: Session, ledger: _Ledger) -> None:
        self.fallback = SessionLookups(session)
        self.parents = ledger.parents
        self.allocations = {
            share.id: share.allocation_id
            for shares in ledger.shares_by_allocation.values()
            for share in shares
        }
        self.shares = {
            (share.allocation_id, share.pot_id): share.id
            for shares in ledger.shares_by_allocation.values()
            for share in shares
        }

    def parent_allocation_of(self, pot_id: int) -> int | None:
        if pot_id in self.parents:
            return self.parents[pot_id]
        return self.fallback.parent_allocation_of(pot_id)

    def allocation_of_share(self, share_id: int) -> int:
        found = self.allocations.get(share_id)
        return found if found is not None else self.fallback.allocation_of_share(share_id)

    def share_of(self, allocation_id: int | None, pot_id: int) -> int:
        found = self.shares.get((allocation_id, pot_id)) if allocation_id is not None else None
        return found if found is not None else self.fallback.share_of(allocation_id, pot_id)


class _Meaning(NamedTuple):
    kind: str
    allocation_id: int | None
    to_pot_id: int | None


class _AccountView(NamedTuple):
    kind: str
    pot_id: int | None
    award_id: int | None
    share_id: int | None


class Figures:
    """Figures replayed from the journal up to a date."""

    def __init__(self, effects: Effects) -> None:
        self.deltas = effects.deltas

    def of(self, model: type, object_id: int, figure: str) -> int:
        return self.deltas.get((model, object_id, figure), 0)


def _replay(session: Session, ledger: _Ledger, as_at: dt.date, upto: Upto | None = None) -> Figures:
    """The figures as at ``as_at``: every line of every entry dated on or before it that has a
    line on one of these pots' accounts (their own, their awards' and their allocation
    shares'), fed to ``Effects``, the function that maintains the live figures. Each line's
    effect is linear in its amount, so the database first adds up the lines that share a
    meaning (the kind, allocation and target pot of their entry or, for a reversal, of the
    entry it reverses) and an account: one query, and one ``add_line`` per total."""
    family = ledger.family
    accounts = select(Account.id).where(
        or_(
            Account.pot_id.in_(family),
            Account.share_id.in_(
                select(AllocationShare.id).where(AllocationShare.pot_id.in_(family))
            ),
            Account.award_id.in_(select(Award.id).where(Award.pot_id.in_(family))),
        )
    )
    entries = select(Line.entry_id).where(Line.account_id.in_(accounts))
    meaning = aliased(Entry)
    totals = session.execute(
        select(
            meaning.kind,
            meaning.allocation_id,
            meaning.to_pot_id,
            Account.kind,
            Account.pot_id,
            Account.award_id,
            Account.share_id,
            func.sum(Line.amount_pence),
        )
        .select_from(Line)
        .join(Entry, Entry.id == Line.entry_id)
        .join(meaning, meaning.id == func.coalesce(Entry.reverses_id, Entry.id))
        .join(Account, Account.id == Line.account_id)
        .where(Entry.id.in_(entries), Entry.effective_date <= as_at, ledger._posted())
        .group_by(
            meaning.kind,
            meaning.allocation_id,
            meaning.to_pot_id,
            Account.id,
            Account.kind,
            Account.pot_id,
            Account.award_id,
            Account.share_id,
        )
    )
    effects = Effects(_Lookups(session, ledger))
    for kind, allocation_id, to_pot_id, account_kind, pot_id, award_id, share_id, total in totals:
        if total:
            effects.add_line(
                _Meaning(kind, allocation_id, to_pot_id),
                _AccountView(account_kind, pot_id, award_id, share_id),
                int(total),
            )
    return Figures(effects)


# The statement's sections --------------------------------------------------------------------


def _section(
    ledger: _Ledger,
    pot_id: int,
    figures: Figures,
    as_at: dt.date,
    notes: dict[int, tuple[str, ...]] | None = None,
) -> PotSection:
    pot = ledger.pots[pot_id]
    awards = tuple(
        AwardRow(
            reference=a.reference,
            funder=a.funder,
            financial_year=a.financial_year,
            award_date=a.award_date,
            amount_pence=a.amount_pence,
            received_pence=figures.of(Award, a.id, "received_pence"),
            is_assumption=a.is_assumption,
            description=a.description,
        )
        for a in ledger.awards.get(pot_id, ())
    )
    rows = tuple(_allocation_rows(ledger, pot_id, figures, as_at, notes or {}))

    def pot_figure(name: str) -> int:
        return figures.of(Pot, pot_id, name)

    assumed = sum(a.amount_pence for a in awards if a.is_assumption)
    totals = Totals(
        awarded_pence=pot_figure("funded_pence") - pot_figure("carried_in_pence") - assumed,
        assumed_pence=assumed,
        funded_pence=pot_figure("funded_pence"),
        allocated_pence=pot_figure("allocated_pence"),
        paid_pence=pot_figure("paid_pence"),
        returned_pence=pot_figure("returned_pence"),
        received_pence=pot_figure("received_pence"),
        carried_in_pence=pot_figure("carried_in_pence"),
        carried_forward_pence=pot_figure("carried_forward_pence"),
        handed_back_pence=pot_figure("handed_back_pence"),
    )
    years = tuple(sorted({a.financial_year for a in awards} or _pot_years(pot)))
    delegation = pot.delegation
    return PotSection(
        pot=pot.name,
        administered_by=pot.administered_by,
        stream=pot.stream,
        financial_years=years,
        heading=_heading(pot, years, totals),
        awards=awards,
        allocations=rows,
        totals=totals,
        balance_note=balance_note(totals, delegated=delegation is not None),
        delegated_from=delegation.from_pot if delegation is not None else None,
        years_notes=(notes or {}).get(pot_id, ()),
    )


def _pot_years(pot: _PotFacts) -> set[int]:
    return {pot.financial_year} if pot.financial_year is not None else set()


def _heading(pot: _PotFacts, years: tuple[int, ...], totals: Totals) -> str:
    delegation = pot.delegation
    if delegation is not None:
        purpose = delegation.purpose or f"Delegation to {delegation.recipient}"
        return f"{purpose} {money(totals.funded_pence)} ({pot.name})"
    award = money(totals.awarded_pence)
    period = financial_years(years)
    if pot.stream is None:
        # Pots are usually named with their year ("Small Grants 2023-24"): say it once.
        named = pot.name if period in pot.name else f"{pot.name} {period}"
        return f"{named}: Award {award}"
    stream = pot.stream_short_name or pot.stream
    return f"{stream} {period}: Award {award}"


def _allocation_rows(
    ledger: _Ledger,
    pot_id: int,
    figures: Figures,
    as_at: dt.date,
    notes: dict[int, tuple[str, ...]],
) -> Iterator[AllocationRow]:
    for share in ledger.shares_by_pot.get(pot_id, ()):
        allocation_id = share.allocation_id
        first_entry = ledger.first_entries.get(allocation_id)
        if first_entry is None or first_entry.effective_date > as_at:
            continue
        sub_pot = ledger.delegated_pots.get(allocation_id)
        yield AllocationRow(
            reference=share.reference,
            recipient=share.recipient,
            purpose=share.purpose,
            status=_status_as_at(
                share.status, share.approved_at, first_entry.approved, as_at, ledger.upto
            ),
            allocated_pence=figures.of(AllocationShare, share.id, "allocated_pence"),
            paid_pence=figures.of(AllocationShare, share.id, "paid_pence"),
            returned_pence=figures.of(AllocationShare, share.id, "returned_pence"),
            tags=tuple(ledger.tags.get(allocation_id, ())),
            pooled_with=tuple(
                s.pot for s in ledger.shares_by_allocation[allocation_id] if s.pot_id != pot_id
            ),
            contract_total_pence=figures.of(Allocation, allocation_id, "allocated_pence"),
            sub_pot=(
                _section(ledger, sub_pot, figures, as_at, notes) if sub_pot is not None else None
            ),
        )


def _status_as_at(
    status: str,
    approved_at: dt.datetime | None,
    approved_on_entry: bool,
    as_at: dt.date,
    upto: Upto | None = None,
) -> str:
    """An allocation approved as it was entered (an import, or a second person at the same
    sitting: its journal entry records the approver) has been confirmed since its own date; one
    approved later was provisional until the day of its approval (and, for a signed statement,
    until the moment of the sign-off)."""
    if approved_at is None or approved_on_entry:
        return status
    if upto is not None and _aware(approved_at) > _aware(upto.moment):
        return "provisional"
    return "provisional" if approved_at.date() > as_at else status


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones: compare them as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def balance_note(totals: Totals, *, delegated: bool) -> str:
    """Say plainly whether the pot is over- or under-allocated, and by how much."""
    source = "the delegation" if delegated else "the award"
    committed = totals.allocated_pence - totals.returned_pence
    named = totals.awarded_pence + totals.carried_in_pence
    parts: list[str] = []
    if totals.assumed_pence:
        parts.append(
            f"Allocations exceed {source} by {money(committed - named)}:"
            f" {money(totals.assumed_pence)} is recorded as coming from a source the documents"
            " do not name (an assumption)."
            if committed > named
            else f"{money(totals.assumed_pence)} is recorded as coming from a source the"
            " documents do not name (an assumption)."
        )
    available = totals.available_pence
    free_returned = min(max(totals.returned_pence, 0), max(available, 0))
    never_allocated = available - free_returned
    if totals.funded_pence == 0 and available == 0 and not parts:
        parts.append(
            "Nothing has been delegated to this pot by this date."
            if delegated
            else "No award has been made into this pot by this date."
        )
    elif available < 0:
        parts.append(f"Allocations exceed {source} by {money(-available)}.")
    else:
        if never_allocated > 0:
            parts.append(f"{money(never_allocated)} of {source} is not yet allocated.")
        if free_returned > 0:
            parts.append(f"{money(free_returned)} returned and free to re-allocate.")
        if available == 0 and not parts:
            parts.append(f"{source.capitalize()} is fully allocated.")
    if totals.carried_forward_pence:
        parts.append(f"{money(totals.carried_forward_pence)} carried forward to a later year.")
    if totals.handed_back_pence:
        parts.append(f"{money(totals.handed_back_pence)} handed back.")
    return " ".join(parts)
