"""Many operations in one transaction, fast: the engine behind ``commonpurse import``.

``ledger.operations`` posts one operation at a time through the ORM, and is what the web app and
the API use. An import of years of history would spend almost all its time on the ORM's
bookkeeping, so ``Batch`` applies the same operations over a working set held in memory: the
pots, allocations, awards and accounts the file touches, with their maintained figures. Every
operation still

* checks the same guards in the same order and raises the same typed errors, with the same
  messages (available money after holds, unpaid commitment, what a funder still owes, the
  self-approval limit, idempotent references);
* posts exactly one balanced entry, whose accounts never cross their floors;
* moves the figures its lines move by the journal's one meaning of a line
  (``journal.Effects.moves_of``), applied to the working set, and checks them in the words of
  ``ledger.figures``, so ``commonpurse check`` proves them against the journal afterwards;
* links the entry into the journal's hash chain.

New rows are written in batches with the driver's ``executemany`` (inside the caller's
transaction, so a refusal anywhere still writes nothing) and the changed figures are written
back with each batch. Memory stays bounded: the entries of a batch are dropped once written,
and the allocations cache is emptied when it grows large.

On PostgreSQL, every pot the import touches is locked (``FOR UPDATE``) when it is first read, as
``operations.lock_pots`` does, so figures held in memory cannot go stale under another writer.

``tests/test_bulk.py`` runs random files through this engine and through ``ledger.operations``
row by row and requires identical ledgers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from ledger import chain, figures, rules, wording
from ledger.check import FIGURES
from ledger.errors import (
    InvalidInput,
    LedgerError,
    NotFound,
    OverReceived,
    ReferenceConflict,
)
from ledger.fy import financial_year_of
from ledger.journal import (
    FLOOR_OF_KIND,
    OWNER,
    SHARE_ALLOCATION,
    Effects,
    FigureInvariantBroken,
    FloorBreached,
    content_sha256,
    crosses_floor,
    floor_on_days,
    later_changes,
    require_balanced,
)
from ledger.models import Allocation, AllocationShare, Award, Pot, utcnow
from ledger.names import check_name, name_key
from ledger.operations import (
    ACCOUNTABLE_BODY,
    allocation_kind,
    check_reference,
    entered_allocation,
    held_in_pot,
    pending_reduction_by_allocation,
    pending_returns_by_allocation,
    require_one_pot_for_delegation,
    require_positive,
    self_approval_limit_pence,
    self_approved_pence,
)

ANALYZE_AFTER = 10_000
"""Entries posted by one import above which PostgreSQL's statistics are refreshed at its end."""

ALLOCATION_CACHE_LIMIT = 50_000
"""Allocations kept in memory between batches; past this the cache is emptied (and re-read)."""


# The working set ---------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class AccountState:
    id: int
    code: str
    kind: str
    floor: str
    balance: int
    owner: str  # how a refusal names it, e.g. "WFWF 2022-23's available balance"
    pot_id: int | None = None  # its owner: one of these three
    award_id: int | None = None
    share_id: int | None = None
    state: Any = None  # the owner's state, found on the first line posted to it
    inserted: bool = True
    dirty: bool = False
    latest: dt.date | None = None  # the last day anything moved it: later days need a look back


@dataclass(slots=True, eq=False)
class PotState:
    id: int
    name: str
    stream_id: int | None
    financial_year: int | None
    parent_allocation_id: int | None
    administered_by_id: int
    figures: dict[str, int]
    available_account: AccountState
    cash_account: AccountState
    due_in_account: AccountState | None
    held: int  # money held by requests awaiting approval (made before the import)
    delegation: DelegationFacts | None = None  # for a delegated pot: the delegation's state
    inserted: bool = True
    dirty: bool = False
    awards: list[AwardState] | None = None  # loaded on the first receipt

    @property
    def available(self) -> int:
        f = self.figures
        return rules.available(
            f["funded_pence"],
            f["allocated_pence"],
            f["returned_pence"],
            f["carried_forward_pence"],
            f["handed_back_pence"],
        )

    def problem(self) -> str | None:
        return figures.pot_problem(self.name, self.available)


POT_FIGURES = FIGURES[Pot]  # the pot's maintained figures, in check's order


@dataclass(slots=True)
class DelegationFacts:
    """What a delegated pot's rules need of the delegation that funds it."""

    reference: str
    status: str
    made_on: dt.date | None
    allows_advances: bool


@dataclass(slots=True, eq=False)
class AwardState:
    id: int
    reference: str
    funder_id: int
    award_date: dt.date
    amount: int
    received: int
    receivable: AccountState
    inserted: bool = True
    dirty: bool = False

    def problem(self) -> str | None:
        return figures.award_problem(self.reference, self.received, self.amount)


@dataclass(slots=True, eq=False)
class ShareState:
    id: int
    allocation_id: int
    pot: PotState
    weight: int
    allocated: int
    paid: int
    returned: int
    unpaid_account: AccountState
    allocation: AllocationState | None = None  # set when the allocation is remembered
    inserted: bool = True
    dirty: bool = False

    def problem(self) -> str | None:
        assert self.allocation is not None
        reference = self.allocation.reference
        return figures.allocation_problem(reference, self.allocated, self.paid, self.returned)


@dataclass(slots=True, eq=False)
class AllocationState:
    id: int
    reference: str
    recipient: str
    status: str
    allocated: int
    paid: int
    returned: int
    shares: list[ShareState]
    delegated: PotState | None
    pending_reduction: int
    made_on: dt.date | None = None
    latest: dt.date | None = None  # the last day anything was posted on it
    pending_returns: int = 0
    inserted: bool = True
    dirty: bool = False

    def problem(self) -> str | None:
        return figures.allocation_problem(self.reference, self.allocated, self.paid, self.returned)


@dataclass(slots=True, eq=False)
class OrganisationState:
    id: int
    name: str
    roles: set[str]


STATE_FIGURES: dict[tuple[type, str], str] = {
    (AwardState, "received_pence"): "received",
    **{
        (state, f"{name}_pence"): name
        for state in (AllocationState, ShareState)
        for name in ("allocated", "paid", "returned")
    },
}
"""Where a figure ``journal.Effects`` moves (named as on the model) lives in the working set: the
attribute of an award, allocation or share state. A pot's figures keep the model's names, in
``PotState.figures``."""
MODEL_OF: dict[type, type] = {
    PotState: Pot,
    AwardState: Award,
    AllocationState: Allocation,
    ShareState: AllocationShare,
}


@dataclass(slots=True)
class Meaning:
    """An entry as ``journal.Effects`` reads it (``journal.Meaning``)."""

    kind: str
    allocation_id: int | None
    to_pot_id: int | None


class States:
    """The working set by id: what ``journal.Effects`` asks of pots and allocation shares
    (``journal.Lookups``), and where the figures it moves are kept."""

    def __init__(self) -> None:
        self.pots: dict[int, PotState] = {}
        self.awards: dict[int, AwardState] = {}
        self.allocations: dict[int, AllocationState] = {}
        self.shares: dict[int, ShareState] = {}
        self.of_model: dict[type, dict[int, Any]] = {
            Pot: self.pots,
            Award: self.awards,
            Allocation: self.allocations,
            AllocationShare: self.shares,
        }

    def parent_allocation_of(self, pot_id: int) -> int | None:
        return self.pots[pot_id].parent_allocation_id

    def allocation_of_share(self, share_id: int) -> int:
        return self.shares[share_id].allocation_id

    def share_of(self, allocation_id: int | None, pot_id: int) -> int:
        if allocation_id is not None:
            for share in self.allocations[allocation_id].shares:
                if share.pot.id == pot_id:
                    return share.id
        raise KeyError((allocation_id, pot_id))

    def owner_of(self, account: AccountState) -> Any:
        """The pot, award or share whose account this is."""
        if account.pot_id is not None:
            return self.pots[account.pot_id]
        if account.share_id is not None:
            return self.shares[account.share_id]
        return self.awards[account.award_id or 0]

    def at(self, key: tuple[type, int]) -> Any:
        """The state of the object ``journal.Effects.whose`` names."""
        return self.of_model[key[0]][key[1]]


@dataclass
class Tables:
    """Rows waiting to be written, in the order foreign keys need them."""

    organisations: list[tuple[Any, ...]] = field(default_factory=list)
    organisation_roles: list[tuple[Any, ...]] = field(default_factory=list)
    # New allocations, awards and shares: the row's fixed columns and the state whose figures
    # complete it when it is written, so a row is inserted once with its figures at the flush,
    # never inserted with zeros and then updated.
    allocations: list[tuple[tuple[Any, ...], AllocationState]] = field(default_factory=list)
    awards: list[tuple[tuple[Any, ...], AwardState]] = field(default_factory=list)
    allocation_shares: list[tuple[tuple[Any, ...], ShareState]] = field(default_factory=list)
    allocation_tags: list[tuple[Any, ...]] = field(default_factory=list)
    accounts: list[AccountState] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    audit_events: list[tuple[Any, ...]] = field(default_factory=list)


COLUMNS: dict[str, tuple[str, ...]] = {
    "organisations": ("id", "name", "name_key"),
    "organisation_roles": ("id", "organisation_id", "role"),
    "allocations": (
        "id",
        "reference",
        "recipient_id",
        "purpose",
        "status",
        "entered_by",
        "approved_by",
        "approved_at",
        "created_at",
        "allocated_pence",
        "paid_pence",
        "returned_pence",
    ),
    "pots": (
        "id",
        "name",
        "name_key",
        "stream_id",
        "administered_by_id",
        "financial_year",
        "parent_allocation_id",
        "created_at",
        *POT_FIGURES,
    ),
    "awards": (
        "id",
        "reference",
        "funder_id",
        "stream_id",
        "pot_id",
        "financial_year",
        "award_date",
        "amount_pence",
        "is_assumption",
        "description",
        "received_pence",  # last: the state's figure, added at the flush
    ),
    "allocation_shares": (
        "id",
        "allocation_id",
        "pot_id",
        "weight_pence",
        "allocated_pence",
        "paid_pence",
        "returned_pence",
    ),
    "allocation_tags": ("id", "allocation_id", "kind", "value"),
    "accounts": ("id", "code", "kind", "floor", "pot_id", "award_id", "share_id", "balance_pence"),
    "entries": (
        "id",
        "kind",
        "reference",
        "content_sha256",
        "effective_date",
        "financial_year",
        "amount_pence",
        "memo",
        "entered_by",
        "approved_by",
        "posted_at",
        "pot_id",
        "to_pot_id",
        "award_id",
        "allocation_id",
        "reverses_id",
        "chain_seq",
        "chain_sha256",
    ),
    "lines": ("id", "entry_id", "account_id", "amount_pence"),
    "audit_events": ("id", "at", "actor", "action", "subject", "detail"),
}


class Ids:
    """New primary keys, handed out before rows are written (lines name their entry's id).

    SQLite: the transaction holds the write lock, so the next id is max(id) + 1. PostgreSQL:
    ids come from each table's own sequence, in blocks, so other writers never collide.
    """

    BLOCK = 2000

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.free: dict[str, list[int]] = {}
        self.next_id: dict[str, int] = {}

    def take_many(self, table: str, count: int) -> Sequence[int]:
        """``count`` new ids, as ``count`` calls of ``take`` would give them."""
        if self.postgres:
            return [self.take(table) for _ in range(count)]
        first = self.take(table)
        self.next_id[table] = first + count - 1
        return range(first, first + count)

    def take(self, table: str) -> int:
        if self.postgres:
            free = self.free.get(table)
            if not free:
                free = list(
                    self.connection.execute(
                        text(
                            "SELECT nextval(pg_get_serial_sequence(:t, 'id'))"
                            " FROM generate_series(1, :n)"
                        ),
                        {"t": table, "n": self.BLOCK},
                    ).scalars()
                )
                free.reverse()
                self.free[table] = free
            return free.pop()
        value = self.next_id.get(table)
        if value is None:
            value = int(
                self.connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar()
                or 0
            )
        value += 1
        self.next_id[table] = value
        return value


@dataclass(frozen=True)
class Outcome:
    """What one operation did: posted an entry, replayed one, or found a waiting request."""

    posted: bool = False
    awaiting: bool = False


REPLAYED = Outcome()
POSTED = Outcome(posted=True)
AWAITING = Outcome(awaiting=True)


class Batch:
    """The operations of ``ledger.operations`` over an in-memory working set, written in
    batches. Use inside one transaction; call ``finish()`` before it commits."""

    def __init__(self, session: Session, *, entered_by: str) -> None:
        if not entered_by.strip():
            raise InvalidInput("Every act needs the name of the person entering it")
        self.session = session
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        raw: Any = self.connection.connection.driver_connection
        self.raw = raw  # sqlite3 or psycopg: rows go straight to the driver
        self.entered_by = entered_by
        self.ids = Ids(self.connection)
        self.out = Tables()
        self.limit = self_approval_limit_pence(session)
        self.accountable_body_name = _setting(self.connection, ACCOUNTABLE_BODY)
        # Dates and times as the database stores them: SQLite keeps ISO text (as SQLAlchemy
        # writes it), PostgreSQL takes the objects.
        now = utcnow()
        self.now: Any = now if self.postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f")
        self.days: dict[dt.date, tuple[Any, int]] = {}  # day -> (as stored, financial year)
        self.organisations: dict[str, OrganisationState] = {}
        self.pots: dict[str, PotState] = {}
        self.states = States()
        self.effects = Effects(self.states)  # what each posted line means for the figures
        self.meaning = Meaning("", None, None)
        self.touched: list[Any] = []  # the states an entry moved, see _replay_lines
        self.pots_by_id = self.states.pots
        self.allocations: dict[str, AllocationState] = {}
        self.dirty: list[Any] = []
        self.known: dict[str, tuple[str, str]] = {}  # reference -> (where, content)
        self.looked_up: set[str] = set()  # references whose records are in ``known``
        self.absent_pots: set[str] = set()  # names known not to be in the database
        self.absent_organisations: set[str] = set()
        self.absent_allocations: set[str] = set()
        self.new_names: dict[tuple[str, str], str] = {}  # (table, name_key) -> name
        # Keys looked for ahead by ``expect``: held in the database (-> its name) or free.
        self.taken_keys: dict[tuple[str, str], str] = {}
        self.free_keys: dict[str, set[str]] = {}
        self.self_approved: dict[tuple[str, int], int] = {}  # running totals, see _approval
        self.alone: dict[str, bool] = {}  # approver -> entered and approved by one person
        self.hand_backs: dict[int, list[dt.date]] | None = None  # pot id -> days it handed back
        self.posted = 0
        self.chain_seq: int | None = None
        self.chain_tip = ""

    # References and idempotency -----------------------------------------------------------

    def expect(
        self,
        references: Iterable[str],
        *,
        pots: Iterable[str] = (),
        organisations: Iterable[str] = (),
        allocations: Iterable[str] = (),
    ) -> None:
        """Read in a few queries what the next rows will ask about: what is already recorded
        under their references, and which of the pots, organisations and allocations they
        name do not exist yet (so each is not looked for one query at a time)."""
        wanted = sorted({r for r in references if r and r not in self.looked_up})
        self.looked_up.update(wanted)
        for table, where in (
            ("entries", "entry"),
            ("requests", "request"),
            ("allocations", "other"),
            ("awards", "other"),
        ):
            content = "content_sha256" if where != "other" else "''"
            for reference, digest in self._select_in(
                f"SELECT reference, {content} FROM {table} WHERE reference", wanted
            ):
                self.known.setdefault(reference, (where, digest))
        lookups: tuple[tuple[Iterable[str], Any, set[str], str | None, str], ...] = (
            (pots, self.pots, self.absent_pots, "pots", "SELECT name FROM pots WHERE name"),
            (
                organisations,
                self.organisations,
                self.absent_organisations,
                "organisations",
                "SELECT name FROM organisations WHERE name",
            ),
            (
                allocations,
                self.allocations,
                self.absent_allocations,
                None,
                "SELECT reference FROM allocations WHERE reference",
            ),
        )
        for names, cache, absent, keyed, query in lookups:
            unknown = sorted({n for n in names if n and n not in cache and n not in absent})
            found = {row[0] for row in self._select_in(query, unknown)}
            absent.update(n for n in unknown if n not in found)
            if keyed is not None:  # names new to the ledger: are they look-alikes?
                self._expect_keys(keyed, [n for n in unknown if n not in found])

    def _select_in(self, query: str, values: Sequence[str]) -> list[tuple[Any, ...]]:
        """``query IN (values)``, a few hundred values at a time."""
        mark = "%s" if self.postgres else "?"
        rows: list[tuple[Any, ...]] = []
        cursor = self.raw.cursor()
        try:
            for start in range(0, len(values), 500):
                part = list(values[start : start + 500])
                cursor.execute(f"{query} IN ({', '.join([mark] * len(part))})", part)
                rows += cursor.fetchall()
        finally:
            cursor.close()
        return rows

    def _replayed(self, reference: str, content: str) -> Outcome | None:
        if reference not in self.looked_up:
            self.expect([reference])
        found = self.known.get(reference)
        if found is None:
            return None
        where, digest = found
        if where == "other" or digest != content:
            raise ReferenceConflict(reference)
        return AWAITING if where == "request" else REPLAYED

    def forget_references(self) -> None:
        """Entries written to the database are found by ``expect`` from now on."""
        self.known.clear()
        self.looked_up.clear()

    # Operations ---------------------------------------------------------------------------

    def award(
        self,
        *,
        reference: str,
        pot: str,
        funder: str,
        amount_pence: int,
        award_date: dt.date,
        memo: str,
        approved_by: str | None,
    ) -> Outcome:
        check_reference(reference)
        require_positive(amount_pence)
        year = financial_year_of(award_date)
        content = content_sha256(
            "award",
            {
                "pot": pot,
                "funder": funder,
                "amount": amount_pence,
                "date": award_date,
                "fy": year,
                "stream": None,
                "assumption": False,
                "memo": memo,
            },
        )
        replay = self._replayed(reference, content)
        if replay is not None:
            return replay
        check_name(funder, "organisation", "counterparty")
        target = self._find_pot(pot)
        if target is not None:
            wording.require_awardable(target.name, target.parent_allocation_id is not None)
            rules.require_award_year(target.name, target.financial_year, year)
        approver = self._approval(
            approved_by,
            wording.act("award", reference),
            amount_pence,
            ("pot", target.id) if target is not None else None,
        )
        funder_org = self._organisation(funder, "funder")
        if target is None:
            body = self._accountable_body()
            target = self._open_pot(
                pot, body.id, stream_id=None, financial_year=year, parent_allocation_id=None
            )
        award_id = self.ids.take("awards")
        receivable = self._open_account(
            "receivable", "award", award_id, wording.award_account(funder_org.name, reference)
        )
        award = AwardState(
            award_id,
            reference,
            funder_org.id,
            award_date,
            amount_pence,
            0,
            receivable,
            inserted=False,
        )
        self.out.awards.append(
            (
                (
                    award_id,
                    reference,
                    funder_org.id,
                    target.stream_id,
                    target.id,
                    year,
                    self._day(award_date),
                    amount_pence,
                    False,
                    memo,
                ),
                award,
            )
        )
        self._awards_of(target).append(award)
        self.states.awards[award_id] = award
        self._post(
            "award",
            [(receivable, amount_pence), (target.available_account, -amount_pence)],
            date=award_date,
            memo=memo,
            approved_by=approver,
            reference=reference,
            content=content,
            amount_pence=amount_pence,
            pot_id=target.id,
            award_id=award_id,
        )
        self._counted(approver, ("pot", target.id), amount_pence)
        return POSTED

    def receive(
        self,
        *,
        reference: str,
        pot: str,
        funder: str,
        amount_pence: int,
        date: dt.date,
        memo: str,
        approved_by: str | None,
    ) -> Outcome:
        check_reference(reference)
        require_positive(amount_pence)
        content = content_sha256(
            "receive",
            {"pot": pot, "funder": funder, "amount": amount_pence, "date": date, "memo": memo},
        )
        replay = self._replayed(reference, content)
        if replay is not None:
            return replay
        target = self._find_pot(pot)
        if target is None:
            raise NotFound("pot", pot, "pot")
        funder_org = self._find_organisation(funder)
        if funder_org is None:
            raise NotFound("organisation", funder, "counterparty")
        awards = sorted(
            (a for a in self._awards_of(target) if a.funder_id == funder_org.id),
            key=lambda a: (a.award_date, a.id),
        )
        rules.require_not_before(
            date,
            min((a.award_date for a in awards), default=None),
            "receipt",
            wording.first_award(funder_org.name, target.name),
        )
        awards = [a for a in awards if a.award_date <= date]
        outstanding = sum(a.receivable.balance for a in awards)
        if amount_pence > outstanding:
            raise OverReceived(funder_org.name, target.name, outstanding, amount_pence)
        approver = self._approval(
            approved_by, wording.act("receive", reference), amount_pence, ("pot", target.id)
        )
        legs: list[tuple[AccountState, int]] = [(target.cash_account, amount_pence)]
        remaining = amount_pence
        parts: list[tuple[AwardState, int]] = []
        for award in awards:
            part = min(award.receivable.balance, remaining)
            if part > 0:
                parts.append((award, part))
                legs.append((award.receivable, -part))
                remaining -= part
        self._post(
            "receive",
            legs,
            date=date,
            memo=memo,
            approved_by=approver,
            reference=reference,
            content=content,
            amount_pence=amount_pence,
            pot_id=target.id,
            award_id=parts[0][0].id if parts else None,
        )
        self._counted(approver, ("pot", target.id), amount_pence)
        return POSTED

    def allocate(
        self,
        *,
        reference: str,
        pot: str,
        recipient: str,
        amount_pence: int,
        date: dt.date,
        purpose: str,
        memo: str,
        approved_by: str | None,
        to_pot: str | None,
    ) -> Outcome:
        """An allocation (or delegation) from one pot with no tags: a pooled contract of one
        share, as ``operations.allocate`` is."""
        return self.allocate_pooled(
            reference=reference,
            shares=[(pot, amount_pence)],
            recipient=recipient,
            date=date,
            purpose=purpose,
            memo=memo,
            approved_by=approved_by,
            tags=(),
            to_pot=to_pot,
        )

    def vary(
        self,
        *,
        reference: str,
        allocation: str,
        delta_pence: int,
        date: dt.date,
        reason: str,
        approved_by: str | None,
    ) -> Outcome:
        check_reference(reference)
        if delta_pence == 0:
            raise InvalidInput("A variation must change the amount", field="amount")
        if not reason.strip():
            raise InvalidInput("A variation needs a reason", field="description")
        content = content_sha256(
            "vary",
            {"allocation": allocation, "delta": delta_pence, "date": date, "reason": reason},
        )
        replay = self._replayed(reference, content)
        if replay is not None:
            return replay
        target = self.find_allocation(allocation)
        rules.require_open(target.reference, target.status, "variation")
        self._after_making(target, date, "variation")
        child = target.delegated
        if delta_pence < 0:  # guarded before it is split: nothing unpaid cannot be split
            self._guard_unpaid(target, -delta_pence, "reduction", date)
            if child is not None:
                self._guard_available(child, -delta_pence, "reduction", date)
        parts = rules.split_to_weights(
            target.allocated + delta_pence,
            [s.weight for s in target.shares],
            [s.allocated for s in target.shares],
            [s.paid for s in target.shares],
        )
        if delta_pence > 0:
            for share, part in zip(target.shares, parts, strict=True):
                if part > 0:
                    self._guard_available(share.pot, part, "variation", date)
        approver = self._approval(
            approved_by, wording.act("vary", allocation), delta_pence, ("allocation", target.id)
        )
        self._post_on_allocation(
            target,
            kind="vary",
            parts=parts,
            shares_move=("available", "unpaid"),
            child_move=("due_in", "available"),
            child_pence=delta_pence,
            amount_pence=abs(delta_pence),
            record=Record(date, reason, approver, reference, content),
        )
        self._counted(approver, ("allocation", target.id), abs(delta_pence))
        return POSTED

    def pay(
        self,
        *,
        reference: str,
        allocation: str,
        amount_pence: int,
        date: dt.date,
        memo: str,
        approved_by: str | None,
    ) -> Outcome:
        check_reference(reference)
        require_positive(amount_pence)
        content = content_sha256(
            "pay", {"allocation": allocation, "amount": amount_pence, "date": date, "memo": memo}
        )
        replay = self._replayed(reference, content)
        if replay is not None:
            return replay
        target = self.find_allocation(allocation)
        rules.require_confirmed(target.reference, target.status)
        for share in target.shares:
            self._require_delegation_confirmed(share.pot, "payment", None)
        self._after_making(target, date, "payment")
        self._guard_unpaid(target, amount_pence, "payment", date)
        parts = rules.split_payment(amount_pence, [s.allocated - s.paid for s in target.shares])
        for share, part in zip(target.shares, parts, strict=True):
            self._guard_cash(share.pot, part, "payment", date)
        approver = self._approval(
            approved_by, wording.act("pay", allocation), amount_pence, ("allocation", target.id)
        )
        self._post_on_allocation(
            target,
            kind="pay",
            parts=parts,
            shares_move=("unpaid", "cash"),
            child_move=("cash", "due_in"),
            child_pence=amount_pence,
            amount_pence=amount_pence,
            record=Record(date, memo, approver, reference, content),
        )
        self._counted(approver, ("allocation", target.id), amount_pence)
        return POSTED

    def return_unspent(
        self,
        *,
        reference: str,
        allocation: str,
        amount_pence: int,
        date: dt.date,
        memo: str,
        approved_by: str | None,
    ) -> Outcome:
        check_reference(reference)
        require_positive(amount_pence)
        content = content_sha256(
            "return",
            {"allocation": allocation, "amount": amount_pence, "date": date, "memo": memo},
        )
        replay = self._replayed(reference, content)
        if replay is not None:
            return replay
        target = self.find_allocation(allocation)
        self._after_making(target, date, "return")
        rules.require_returnable(
            target.reference, target.paid, target.returned + target.pending_returns, amount_pence
        )
        lowest = self._lowest_returnable(target, date)
        if lowest is not None:
            rules.require_returnable(target.reference, lowest[1], 0, amount_pence)
        child = target.delegated
        if child is not None:
            self._guard_available(child, amount_pence, "return", date)
            self._guard_cash(child, amount_pence, "return", date)
        approver = self._approval(
            approved_by, wording.act("return", allocation), amount_pence, ("allocation", target.id)
        )
        parts = rules.split_return(amount_pence, [s.paid - s.returned for s in target.shares])
        self._post_on_allocation(
            target,
            kind="return",
            parts=parts,
            shares_move=("cash", "available"),
            child_move=("available", "cash"),
            child_pence=amount_pence,
            amount_pence=amount_pence,
            record=Record(date, memo, approver, reference, content),
        )
        self._counted(approver, ("allocation", target.id), amount_pence)
        return POSTED

    def allocate_pooled(
        self,
        *,
        reference: str,
        shares: Sequence[tuple[str, int]],
        recipient: str,
        date: dt.date,
        purpose: str,
        memo: str,
        approved_by: str | None,
        tags: Sequence[str],
        to_pot: str | None,
    ) -> Outcome:
        """``operations.allocate_pooled`` for the batch: an allocation (or delegation) with
        Promise tags, or a pooled contract funded from several pots, each share (pot, pence)
        already split exactly by the caller. The same checks in the same order as there."""
        pot_names, total, normalised_tags, content = entered_allocation(
            reference,
            shares,
            recipient=recipient,
            date=date,
            purpose=purpose,
            period=(None, None),
            tags=tags,
            to_pot=to_pot,
            memo=memo,
        )
        replay = self._replayed(reference, content)
        if replay is not None:
            return REPLAYED if not replay.awaiting else replay
        require_one_pot_for_delegation(to_pot, shares)
        pots: list[PotState] = []
        for name in pot_names:
            found = self._find_pot(name)
            if found is None:
                raise NotFound("pot", name, "pot")
            pots.append(found)
        what = wording.allocation_word([p.parent_allocation_id is not None for p in pots], to_pot)
        for source in pots:
            self._require_delegation_confirmed(source, what, date)
        for source, (_, part) in zip(pots, shares, strict=True):
            self._guard_available(source, part, what, date)
        approver = self._approval(approved_by, wording.act(what, reference), total, None)
        recipient_org = self._organisation(recipient, "intermediary" if to_pot else "provider")
        allocation_id = self.ids.take("allocations")
        status = "confirmed" if approver else "provisional"
        allocation = AllocationState(
            allocation_id,
            reference,
            recipient_org.name,
            status,
            0,
            0,
            0,
            [],
            None,
            0,
            made_on=date,
            latest=date,
            inserted=False,
        )
        self.out.allocations.append(
            (
                (
                    allocation_id,
                    reference,
                    recipient_org.id,
                    purpose,
                    status,
                    self.entered_by,
                    approver,
                    self.now if approver else None,
                    self.now,
                ),
                allocation,
            )
        )
        for kind_value in normalised_tags:
            tag_kind, value = kind_value.split(":", 1)
            self.out.allocation_tags.append(
                (self.ids.take("allocation_tags"), allocation_id, tag_kind, value)
            )
        legs: list[tuple[AccountState, int]] = []
        for source, (_, part) in zip(pots, shares, strict=True):
            share_id = self.ids.take("allocation_shares")
            unpaid = self._open_account(
                "unpaid",
                "share",
                share_id,
                wording.share_account(reference, source.name),
            )
            share = ShareState(
                share_id, allocation_id, source, part, 0, 0, 0, unpaid, inserted=False
            )
            allocation.shares.append(share)
            self.out.allocation_shares.append(((share_id, allocation_id, source.id, part), share))
            legs += [(source.available_account, part), (unpaid, -part)]
        child: PotState | None = None
        if to_pot:
            child = self._open_pot(
                to_pot,
                recipient_org.id,
                stream_id=pots[0].stream_id,
                financial_year=pots[0].financial_year,
                parent_allocation_id=allocation_id,
            )
            child.delegation = DelegationFacts(reference, status, date, False)
            allocation.delegated = child
            assert child.due_in_account is not None
            legs += [(child.due_in_account, total), (child.available_account, -total)]
        self._remember(allocation)
        self.absent_allocations.discard(reference)
        self._post(
            allocation_kind(to_pot),
            legs,
            date=date,
            memo=memo or purpose or wording.default_memo(what, recipient_org.name),
            approved_by=approver,
            reference=reference,
            content=content,
            amount_pence=total,
            pot_id=pots[0].id,
            to_pot_id=child.id if child else None,
            allocation_id=allocation_id,
        )
        self._counted(approver, ("allocation", allocation_id), total)
        if approver:
            self._audit(approver, *wording.approved_on_entry(reference))
        return POSTED

    @contextmanager
    def through_operations(self) -> Iterator[Session]:
        """The session, for one act applied by ``ledger.operations`` itself (year-end and
        correction rows: carry-forward, hand-back, award reduction, close, reverse), so its
        rules, messages and entry are exactly the one-at-a-time writer's. What the batch holds
        is written first, with the journal's head; the working set is forgotten after, since
        the act may have moved any of it, and is read again as the next rows need it."""
        self.flush()
        if self.chain_seq is not None:
            chain.advance(self.session, self.chain_seq, self.chain_tip)
            self.chain_seq = None
        self.session.expire_all()
        last = int(
            self.connection.execute(text("SELECT coalesce(max(id), 0) FROM entries")).scalar() or 0
        )
        yield self.session
        self.session.flush()
        self.posted += int(
            self.connection.execute(
                text("SELECT count(*) FROM entries WHERE id > :last"), {"last": last}
            ).scalar()
            or 0
        )
        self.pots.clear()
        self.pots_by_id.clear()  # the same dict as ``self.states.pots``
        self.allocations.clear()
        # The figures ``journal.Effects`` moves live in ``self.states``: the act may have moved
        # any of them, so they are read again with their pot or allocation.
        self.states.allocations.clear()
        self.states.shares.clear()
        self.states.awards.clear()
        self.self_approved.clear()
        self.hand_backs = None  # the act may have been a hand-back
        # The act may have opened pots and organisations, or given one a role (an award naming
        # its stream does).
        self.organisations.clear()
        self.absent_pots.clear()
        self.absent_organisations.clear()
        self.absent_allocations.clear()
        self.ids.next_id.clear()  # the act's rows took the next ids (SQLite)
        self.ids.free.clear()  # ids from here on come after the act's (PostgreSQL)
        self.forget_references()

    # Guards: the state this batch holds, put to ``ledger.rules`` ----------------------------

    def _approval(
        self,
        approved_by: str | None,
        what: str,
        amount_pence: int,
        subject: tuple[str, int] | None,
    ) -> str:
        """``operations._approval`` for the batch: an import is always approved under its
        authority, and what one person enters and approves alone counts towards the limit by
        running total per allocation (per pot for awards and receipts)."""
        earlier = 0
        if approved_by is not None and subject is not None and self._alone(approved_by):
            earlier = self.self_approved.get(subject, -1)
            if earlier < 0:
                self.flush()  # what this batch wrote already is counted from the database
                kind, subject_id = subject
                earlier = self.self_approved[subject] = self_approved_pence(
                    self.session,
                    allocation_id=subject_id if kind == "allocation" else None,
                    pot_id=subject_id if kind == "pot" else None,
                )
        approver = rules.approver(
            self.entered_by, approved_by, what, amount_pence, self.limit, earlier
        )
        if approver is None:
            raise InvalidInput("An import needs the authority it is approved under")
        return approver

    def _counted(self, approver: str, subject: tuple[str, int], amount_pence: int) -> None:
        """Add an act to its subject's running total, if one person entered and approved it."""
        if self._alone(approver):
            self.self_approved[subject] = self.self_approved.get(subject, 0) + amount_pence

    def _alone(self, approver: str) -> bool:
        """``rules.self_approved`` for this batch's operator, worked out once per approver."""
        alone = self.alone.get(approver)
        if alone is None:
            alone = self.alone[approver] = rules.self_approved(self.entered_by, approver)
        return alone

    def _require_delegation_confirmed(self, pot: PotState, what: str, date: dt.date | None) -> None:
        facts = pot.delegation
        if facts is None:
            return
        rules.require_delegation_confirmed(pot.name, facts.reference, facts.status, what)
        if date is not None:
            rules.require_after_making(date, facts.made_on, what, facts.reference, "delegation")

    def _after_making(self, allocation: AllocationState, date: dt.date, what: str) -> None:
        kind = "delegation" if allocation.delegated is not None else "allocation"
        rules.require_after_making(date, allocation.made_on, what, allocation.reference, kind)

    def _later(self, account: AccountState, date: dt.date) -> list[tuple[dt.date, int]]:
        """What moved ``account`` after ``date``: nothing, unless the movement is back-dated
        behind others (then what this batch holds is written first and the journal asked)."""
        if account.latest is None or date >= account.latest:
            return []
        self.flush()
        return later_changes(self.session, [account.id], date)

    def _guard_available(self, pot: PotState, needed: int, what: str, date: dt.date) -> None:
        later = self._later(pot.available_account, date)
        lowest = (
            rules.lowest_from(pot.available, [(d, -c) for d, c in later], date) if later else None
        )
        rules.require_available(pot.name, pot.available, pot.held, needed, what, lowest=lowest)

    def _guard_unpaid(
        self, allocation: AllocationState, needed: int, what: str, date: dt.date
    ) -> None:
        unpaid = allocation.allocated - allocation.paid
        rules.require_unpaid(
            allocation.reference, unpaid, allocation.pending_reduction, needed, what
        )
        later: list[tuple[dt.date, int]] = []
        for share in allocation.shares:
            later += self._later(share.unpaid_account, date)
        if later:
            lowest = rules.lowest_from(unpaid, [(d, -c) for d, c in later], date)
            rules.require_unpaid(allocation.reference, lowest[1], 0, needed, what)

    def _guard_cash(self, pot: PotState, needed: int, what: str, date: dt.date) -> None:
        """An intermediary pays only from cash handed over, unless its delegation allows
        advances, and no pot is left holding less than nothing on a day it handed money back
        (``operations._guard_cash``)."""
        cash = pot.cash_account
        if pot.delegation is not None and not pot.delegation.allows_advances:
            later = self._later(cash, date)
            lowest = rules.lowest_from(cash.balance, later, date)[1] if later else cash.balance
            rules.require_cash(pot.name, lowest, needed, what, date)
        if self.hand_backs is None:
            self.hand_backs = {}
            for pot_id, day in self.connection.execute(
                text("SELECT DISTINCT pot_id, effective_date FROM entries WHERE kind = 'hand_back'")
            ):
                handed_back_on = _as_date(day)
                if handed_back_on is not None:
                    self.hand_backs.setdefault(int(pot_id), []).append(handed_back_on)
        handed_back = self.hand_backs.get(pot.id)
        days = [day for day in handed_back if day >= date] if handed_back else None
        if days:
            rules.require_cash_at_hand_backs(
                pot.name, cash.balance, self._later(cash, date), date, days, needed, what
            )

    def _lowest_returnable(
        self, allocation: AllocationState, date: dt.date
    ) -> tuple[dt.date, int] | None:
        if allocation.latest is None or date >= allocation.latest:
            return None
        self.flush()
        rows = self.connection.execute(
            text(
                "SELECT e.effective_date, e.kind, e.amount_pence, t.kind FROM entries e"
                " LEFT JOIN entries t ON t.id = e.reverses_id"
                " WHERE e.allocation_id = :a AND e.effective_date > :d"
            ),
            {"a": allocation.id, "d": self._day(date)},
        ).all()
        changes = rules.returnable_changes(
            (_as_date(day) or date, kind, int(amount), reversed_kind)
            for day, kind, amount, reversed_kind in rows
        )
        if not changes:
            return None
        return rules.lowest_from(allocation.paid - allocation.returned, changes, date)

    # Posting -------------------------------------------------------------------------------

    def _post_on_allocation(
        self,
        allocation: AllocationState,
        *,
        kind: str,
        parts: Sequence[int],
        shares_move: tuple[str, str],
        child_move: tuple[str, str],
        child_pence: int,
        amount_pence: int,
        record: Record,
    ) -> None:
        """``operations._post_on_allocation`` for the batch: each share's part moves from the
        debit to the credit account named in ``shares_move``; for a delegation, ``child_pence``
        moves likewise in the delegated pot per ``child_move``."""
        if allocation.latest is None or record.date > allocation.latest:
            allocation.latest = record.date
        debit, credit = shares_move
        legs: list[tuple[AccountState, int]] = []
        for share, part in zip(allocation.shares, parts, strict=True):
            legs += [(_share_account(share, debit), part), (_share_account(share, credit), -part)]
        child = allocation.delegated
        if child is not None:
            debit, credit = child_move
            legs += [
                (_pot_account(child, debit), child_pence),
                (_pot_account(child, credit), -child_pence),
            ]
        self._post(
            kind,
            legs,
            date=record.date,
            memo=record.memo,
            approved_by=record.approved_by,
            reference=record.reference,
            content=record.content,
            amount_pence=amount_pence,
            pot_id=allocation.shares[0].pot.id,
            to_pot_id=child.id if child else None,
            allocation_id=allocation.id,
        )

    def _post(
        self,
        kind: str,
        legs: Sequence[tuple[AccountState, int]],
        *,
        date: dt.date,
        memo: str,
        approved_by: str | None,
        reference: str,
        content: str,
        amount_pence: int,
        pot_id: int | None = None,
        to_pot_id: int | None = None,
        award_id: int | None = None,
        allocation_id: int | None = None,
    ) -> None:
        """``journal.post`` for the batch: one balanced entry, floors kept, chain extended."""
        legs = [leg for leg in legs if leg[1] != 0]
        require_balanced(memo, [amount for _, amount in legs])
        net: dict[AccountState, int] = {}
        for account, amount in legs:
            net[account] = net.get(account, 0) + amount
        for account, delta in net.items():
            floor = account.floor
            balance = account.balance + delta
            if crosses_floor(floor, balance):
                raise FloorBreached(account.owner, -abs(balance))
            latest = account.latest
            if (
                latest is not None
                and date < latest
                and ((floor == "credit" and delta > 0) or (floor == "debit" and delta < 0))
            ):  # back-dated, toward the floor: was it crossed on a later day?
                breach = floor_on_days(floor, balance, self._later(account, date), date)
                if breach is not None:
                    raise FloorBreached(account.owner, -abs(breach[1]), breach[0])
        dirty = self.dirty
        for account, delta in net.items():
            account.balance += delta
            if account.latest is None or date > account.latest:
                account.latest = date
            if account.inserted and not account.dirty:  # a written row whose figure moved
                account.dirty = True
                dirty.append(account)
        if self.chain_seq is None:
            self.chain_seq, self.chain_tip = chain.lock_head(self.session)
        entry_id = self.ids.take("entries")
        stored_day, year = self._day_and_year(date)
        lines = [(account.id, amount) for account, amount in legs]
        self.out.lines.extend(
            [
                (line_id, entry_id, account_id, amount)
                for line_id, (account_id, amount) in zip(
                    self.ids.take_many("lines", len(lines)), lines, strict=True
                )
            ]
        )
        self.chain_seq += 1
        digest = chain.entry_digest(
            seq=self.chain_seq,
            kind=kind,
            reference=reference,
            content_sha256=content,
            effective_date=date,
            financial_year=year,
            amount_pence=amount_pence,
            memo=memo,
            entered_by=self.entered_by,
            approved_by=approved_by,
            pot_id=pot_id,
            to_pot_id=to_pot_id,
            award_id=award_id,
            allocation_id=allocation_id,
            reverses_id=None,
            lines=lines,
        )
        self.chain_tip = chain.link(self.chain_tip, digest)
        self.out.entries.append(
            (
                entry_id,
                kind,
                reference,
                content,
                stored_day,
                year,
                amount_pence,
                memo,
                self.entered_by,
                approved_by,
                self.now,
                pot_id,
                to_pot_id,
                award_id,
                allocation_id,
                None,
                self.chain_seq,
                self.chain_tip,
            )
        )
        self.known[reference] = ("entry", content)
        self.looked_up.add(reference)
        self.posted += 1
        meaning = self.meaning  # one, reused: this runs once per entry
        meaning.kind, meaning.allocation_id, meaning.to_pot_id = kind, allocation_id, to_pot_id
        self._replay_lines(meaning, legs)

    def _day(self, date: dt.date) -> Any:
        return self._day_and_year(date)[0]

    def _day_and_year(self, date: dt.date) -> tuple[Any, int]:
        """A day as the database stores it, and its financial year, worked out once per day."""
        found = self.days.get(date)
        if found is None:
            stored = date if self.postgres else date.isoformat()
            found = self.days[date] = (stored, financial_year_of(date))
        return found

    def _replay_lines(self, meaning: Meaning, legs: Sequence[tuple[AccountState, int]]) -> None:
        """Move the figures an entry's lines move, as ``journal.post`` does: what each line
        means is ``journal.Effects.moves_of``'s, applied to the working set, then checked in
        the words (and, on a refusal, the order) of ``journal.Effects.apply``."""
        effects = self.effects
        touched = self.touched  # one list, reused: this runs once per entry
        touched.clear()
        for account, amount in legs:
            for whose, figure, sign in effects.moves_of(meaning, account):
                state = account.state
                if state is None:  # the owner's state, found once
                    state = account.state = self.states.owner_of(account)
                if whose == SHARE_ALLOCATION:
                    state = state.allocation
                elif whose != OWNER:
                    state = self.states.at(effects.whose(whose, meaning, account))
                if state.__class__ is PotState:
                    state.figures[figure] += sign * amount
                else:
                    name = STATE_FIGURES[state.__class__, figure]
                    setattr(state, name, getattr(state, name) + sign * amount)
                if state not in touched:
                    touched.append(state)
        dirty = self.dirty
        for state in touched:
            if state.inserted and not state.dirty:
                state.dirty = True
                dirty.append(state)
            if state.problem() is not None:
                raise FigureInvariantBroken(_first_problem(touched))

    def _remember(self, allocation: AllocationState) -> None:
        self.allocations[allocation.reference] = allocation
        self.states.allocations[allocation.id] = allocation
        for share in allocation.shares:
            share.allocation = allocation
            self.states.shares[share.id] = share

    def _audit(self, actor: str, action: str, subject: str, detail: str) -> None:
        self.out.audit_events.append(
            (self.ids.take("audit_events"), self.now, actor, action, subject, detail)
        )

    def audit(self, actor: str, action: str, subject: str, detail: str) -> None:
        self._audit(actor, action, subject, detail)

    # Reading and opening -------------------------------------------------------------------

    def _find_organisation(self, name: str) -> OrganisationState | None:
        found = self.organisations.get(name)
        if found is not None or name in self.absent_organisations:
            return found
        row = self.connection.execute(
            text("SELECT id FROM organisations WHERE name = :n"), {"n": name}
        ).first()
        if row is None:
            return None
        roles = set(
            self.connection.execute(
                text("SELECT role FROM organisation_roles WHERE organisation_id = :o"),
                {"o": row[0]},
            ).scalars()
        )
        found = OrganisationState(row[0], name, roles)
        self.organisations[name] = found
        return found

    def _organisation(self, name: str, role: str) -> OrganisationState:
        """``ensure_organisation``: the organisation called ``name``, created if new."""
        name = check_name(name, "organisation", "counterparty")
        found = self._find_organisation(name)
        if found is None:
            self._refuse_look_alike("organisations", name, "organisation", "counterparty")
            found = OrganisationState(self.ids.take("organisations"), name, set())
            self.absent_organisations.discard(name)
            self.out.organisations.append((found.id, name, name_key(name)))
            self.organisations[name] = found
        if role not in found.roles:
            found.roles.add(role)
            self.out.organisation_roles.append(
                (self.ids.take("organisation_roles"), found.id, role)
            )
        return found

    def _expect_keys(self, table: str, names: Sequence[str]) -> None:
        """Which of these new names' keys the database already holds, in one query, so a new
        pot or organisation is checked against look-alikes without a query of its own."""
        keys = sorted({name_key(n) for n in names if n.strip()} - self.free_keys.get(table, set()))
        taken = dict(self._select_in(f"SELECT name_key, name FROM {table} WHERE name_key", keys))
        self.taken_keys.update(((table, k), str(v)) for k, v in taken.items())
        self.free_keys.setdefault(table, set()).update(k for k in keys if k not in taken)

    def _refuse_look_alike(self, table: str, name: str, what: str, field: str) -> None:
        """``operations._refuse_look_alike`` over the database and this batch's new names."""
        key = name_key(name)
        existing = self.new_names.get((table, key)) or self.taken_keys.get((table, key))
        if existing is None and key not in self.free_keys.get(table, ()):
            row = self.connection.execute(
                text(f"SELECT name FROM {table} WHERE name_key = :k"), {"k": key}
            ).first()
            existing = None if row is None else str(row[0])
        rules.require_distinct_name(name, existing, what, field)
        self.new_names[(table, key)] = name

    def _accountable_body(self) -> OrganisationState:
        if not self.accountable_body_name:
            raise InvalidInput(
                "No accountable body is set: name it once with"
                " 'commonpurse init --accountable-body \"Clackmannanshire Council\"'"
            )
        return self._organisation(self.accountable_body_name, "accountable_body")

    def _find_pot(self, name: str) -> PotState | None:
        found = self.pots.get(name)
        if found is not None or name in self.absent_pots:
            return found
        row = self.connection.execute(
            text("SELECT id FROM pots WHERE name = :n"), {"n": name}
        ).first()
        return None if row is None else self._load_pot(row[0])

    def _load_pot(self, pot_id: int) -> PotState:
        found = self.pots_by_id.get(pot_id)
        if found is not None:
            return found
        lock = " FOR UPDATE" if self.postgres else ""
        row = (
            self.connection.execute(
                text(
                    "SELECT id, name, stream_id, financial_year, parent_allocation_id,"
                    f" administered_by_id, {', '.join(POT_FIGURES)} FROM pots WHERE id = :p{lock}"
                ),
                {"p": pot_id},
            )
            .mappings()
            .one()
        )
        accounts = {a.kind: a for a in self._load_accounts("pot_id", [pot_id]).values()}
        pot = PotState(
            row["id"],
            row["name"],
            row["stream_id"],
            row["financial_year"],
            row["parent_allocation_id"],
            row["administered_by_id"],
            {name: int(row[name]) for name in POT_FIGURES},
            accounts["available"],
            accounts["cash"],
            accounts.get("due_in"),
            held_in_pot(self.session, pot_id),
            self._delegation_facts(row["parent_allocation_id"]),
        )
        for account in accounts.values():
            account.owner = wording.pot_account(account.kind, pot.name)
        self.pots[pot.name] = pot
        self.pots_by_id[pot.id] = pot
        return pot

    def _delegation_facts(self, allocation_id: int | None) -> DelegationFacts | None:
        if allocation_id is None:
            return None
        row = self.connection.execute(
            text(
                "SELECT reference, status, allows_advances, (SELECT min(effective_date) FROM"
                " entries WHERE allocation_id = :a AND kind = 'delegate') FROM allocations"
                " WHERE id = :a"
            ),
            {"a": allocation_id},
        ).one()
        return DelegationFacts(row[0], row[1], _as_date(row[3]), bool(row[2]))

    def _load_accounts(self, column: str, owners: Sequence[int]) -> dict[int, Any]:
        """The accounts of these owners; the caller names each (``AccountState.owner``)."""
        marks = ", ".join(str(int(o)) for o in owners)
        found: dict[int, AccountState] = {}
        for row in self.connection.execute(
            text(
                "SELECT id, code, kind, floor, balance_pence, pot_id, award_id, share_id"
                f" FROM accounts WHERE {column} IN ({marks})"
            )
        ):
            found[row[0]] = AccountState(
                row[0],
                row[1],
                row[2],
                row[3],
                int(row[4]),
                "",
                pot_id=row[5],
                award_id=row[6],
                share_id=row[7],
            )
        if found:
            ids = ", ".join(str(i) for i in found)
            for account_id, latest in self.connection.execute(
                text(
                    "SELECT l.account_id, max(e.effective_date) FROM lines l JOIN entries e"
                    f" ON e.id = l.entry_id WHERE l.account_id IN ({ids}) GROUP BY l.account_id"
                )
            ):
                found[account_id].latest = _as_date(latest)
        return found

    def _open_pot(
        self,
        name: str,
        administered_by_id: int,
        *,
        stream_id: int | None,
        financial_year: int | None,
        parent_allocation_id: int | None,
    ) -> PotState:
        name = check_name(name, "pot", "pot")
        wording.require_new_pot(name, name in self.pots or self._find_pot(name) is not None)
        self._refuse_look_alike(
            "pots", name, "pot", "to_pot" if parent_allocation_id is not None else "pot"
        )
        pot_id = self.ids.take("pots")
        available = self._open_account(
            "available", "pot", pot_id, wording.pot_account("available", name)
        )
        cash = self._open_account("cash", "pot", pot_id, wording.pot_account("cash", name))
        due_in = None
        if parent_allocation_id is not None:
            due_in = self._open_account(
                "due_in", "pot", pot_id, wording.pot_account("due_in", name)
            )
        pot = PotState(
            pot_id,
            name,
            stream_id,
            financial_year,
            parent_allocation_id,
            administered_by_id,
            dict.fromkeys(POT_FIGURES, 0),
            available,
            cash,
            due_in,
            0,
            inserted=False,
            awards=[],
        )
        self.pots[name] = pot
        self.pots_by_id[pot_id] = pot
        self.absent_pots.discard(name)
        return pot

    def _open_account(self, kind: str, owner_kind: str, owner_id: int, owner: str) -> AccountState:
        account = AccountState(
            self.ids.take("accounts"),
            f"{owner_kind}:{owner_id}:{kind}",
            kind,
            FLOOR_OF_KIND[kind],
            0,
            owner,
            pot_id=owner_id if owner_kind == "pot" else None,
            award_id=owner_id if owner_kind == "award" else None,
            share_id=owner_id if owner_kind == "share" else None,
            inserted=False,
        )
        self.out.accounts.append(account)
        return account

    def _awards_of(self, pot: PotState) -> list[AwardState]:
        if pot.awards is None:
            rows = self.connection.execute(
                text(
                    "SELECT id, reference, funder_id, award_date, amount_pence, received_pence"
                    " FROM awards WHERE pot_id = :p"
                ),
                {"p": pot.id},
            ).all()
            accounts = {
                a.code: a
                for a in self._load_accounts("award_id", [r[0] for r in rows] or [0]).values()
            }
            pot.awards = []
            for award_id, reference, funder_id, award_date, amount, received in rows:
                if isinstance(award_date, str):
                    award_date = dt.date.fromisoformat(award_date)
                receivable = accounts[f"award:{award_id}:receivable"]
                award = AwardState(
                    award_id, reference, funder_id, award_date, amount, received, receivable
                )
                pot.awards.append(award)
                self.states.awards[award_id] = award
        return pot.awards

    def find_allocation(self, reference: str) -> AllocationState:
        found = self.allocations.get(reference)
        if found is not None:
            return found
        if reference in self.absent_allocations:
            raise NotFound("allocation", reference, "allocation_ref")
        row = self.connection.execute(
            text("SELECT id FROM allocations WHERE reference = :r"), {"r": reference}
        ).first()
        if row is None:
            raise NotFound("allocation", reference, "allocation_ref")
        allocation_id = row[0]
        # Lock the pots first (as operations._lock_allocation does), then read the figures.
        share_rows = self.connection.execute(
            text("SELECT id, pot_id FROM allocation_shares WHERE allocation_id = :a ORDER BY id"),
            {"a": allocation_id},
        ).all()
        for _, pot_id in sorted(share_rows, key=lambda r: r[1]):
            self._load_pot(pot_id)
        child_row = self.connection.execute(
            text("SELECT id FROM pots WHERE parent_allocation_id = :a"), {"a": allocation_id}
        ).first()
        child = self._load_pot(child_row[0]) if child_row else None
        head = self.connection.execute(
            text(
                "SELECT a.status, a.allocated_pence, a.paid_pence, a.returned_pence, o.name"
                " FROM allocations a JOIN organisations o ON o.id = a.recipient_id"
                " WHERE a.id = :a"
            ),
            {"a": allocation_id},
        ).one()
        share_ids = [r[0] for r in share_rows]
        accounts = {a.code: a for a in self._load_accounts("share_id", share_ids).values()}
        shares = []
        for share in self.connection.execute(
            text(
                "SELECT id, pot_id, weight_pence, allocated_pence, paid_pence, returned_pence"
                " FROM allocation_shares WHERE allocation_id = :a ORDER BY id"
            ),
            {"a": allocation_id},
        ):
            pot = self.pots_by_id[share[1]]
            unpaid = accounts[f"share:{share[0]}:unpaid"]
            unpaid.owner = wording.share_account(reference, pot.name)
            shares.append(
                ShareState(
                    share[0], allocation_id, pot, share[2], share[3], share[4], share[5], unpaid
                )
            )
        found = AllocationState(
            allocation_id,
            reference,
            head[4],
            head[0],
            head[1],
            head[2],
            head[3],
            shares,
            child,
            pending_reduction_by_allocation(self.session, allocation_id),
        )
        dates = self.connection.execute(
            text(
                "SELECT min(CASE WHEN kind IN ('allocate', 'delegate') THEN effective_date END),"
                " max(effective_date) FROM entries WHERE allocation_id = :a"
            ),
            {"a": allocation_id},
        ).one()
        found.made_on, found.latest = _as_date(dates[0]), _as_date(dates[1])
        found.pending_returns = pending_returns_by_allocation(self.session, allocation_id)
        self._remember(found)
        return found

    # Writing -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the rows gathered so far and the figures that moved; forget the entries."""
        out = self.out
        self._insert("organisations", out.organisations)
        self._insert("organisation_roles", out.organisation_roles)
        self._insert(
            "allocations",
            [(*row, a.allocated, a.paid, a.returned) for row, a in out.allocations],
        )
        new_pots = [p for p in self.pots.values() if not p.inserted]
        self._insert(
            "pots",
            [
                (
                    p.id,
                    p.name,
                    name_key(p.name),
                    p.stream_id,
                    p.administered_by_id,
                    p.financial_year,
                    p.parent_allocation_id,
                    self.now,
                    *(p.figures[name] for name in POT_FIGURES),
                )
                for p in new_pots
            ],
        )
        for pot in new_pots:
            pot.inserted = True
            pot.dirty = False
        self._insert("awards", [(*row, a.received) for row, a in out.awards])
        self._insert(
            "allocation_shares",
            [(*row, s.allocated, s.paid, s.returned) for row, s in out.allocation_shares],
        )
        written: list[AllocationState | AwardState | ShareState] = [
            *(a for _, a in out.allocations),
            *(a for _, a in out.awards),
            *(s for _, s in out.allocation_shares),
        ]
        for state in written:
            state.inserted = True
            state.dirty = False
        self._insert("allocation_tags", out.allocation_tags)
        accounts = out.accounts
        self._insert(
            "accounts",
            [
                (
                    a.id,
                    a.code,
                    a.kind,
                    a.floor,
                    a.pot_id,
                    a.award_id,
                    a.share_id,
                    a.balance,
                )
                for a in accounts
            ],
        )
        for account in accounts:
            account.inserted = True
            account.dirty = False
        self._insert("entries", out.entries)
        self._insert("lines", out.lines)
        self._insert("audit_events", out.audit_events)
        self.out = Tables()
        self._write_changes()
        self.forget_references()
        if len(self.allocations) > ALLOCATION_CACHE_LIMIT:
            self.allocations.clear()
            self.states.allocations.clear()
            self.states.shares.clear()

    def _write_changes(self) -> None:
        pots = []
        accounts = []
        allocations = []
        shares = []
        awards = []
        for obj in self.dirty:
            obj.dirty = False
            if isinstance(obj, AccountState):
                accounts.append((obj.balance, obj.id))
            elif isinstance(obj, PotState):
                pots.append((*(obj.figures[name] for name in POT_FIGURES), obj.id))
            elif isinstance(obj, AllocationState):
                allocations.append((obj.allocated, obj.paid, obj.returned, obj.id))
            elif isinstance(obj, ShareState):
                shares.append((obj.allocated, obj.paid, obj.returned, obj.id))
            else:
                awards.append((obj.received, obj.id))
        self.dirty = []
        columns = ("allocated_pence", "paid_pence", "returned_pence")
        self._update("accounts", ("balance_pence",), accounts)
        self._update("pots", POT_FIGURES, pots)
        self._update("allocations", columns, allocations)
        self._update("allocation_shares", columns, shares)
        self._update("awards", ("received_pence",), awards)

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = ", ".join(COLUMNS[table])
        cursor = self.raw.cursor()
        try:
            if self.postgres:  # COPY: one round trip for the lot
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in COLUMNS[table])
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        finally:
            cursor.close()

    def _update(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cursor = self.raw.cursor()
        try:
            if self.postgres:  # one statement per few thousand rows, not a round trip per row
                names = ", ".join((*columns, "id"))
                sets = ", ".join(f"{c} = v.{c}" for c in columns)
                width = len(columns) + 1
                for start in range(0, len(rows), 4000):
                    part = rows[start : start + 4000]
                    values = ", ".join(
                        "(" + ", ".join("%s::bigint" for _ in range(width)) + ")" for _ in part
                    )
                    cursor.execute(
                        f"UPDATE {table} SET {sets} FROM (VALUES {values}) AS v({names})"
                        f" WHERE {table}.id = v.id",
                        [value for row in part for value in row],
                    )
            else:
                sets = ", ".join(f"{c} = ?" for c in columns)
                cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = ?", rows)
        finally:
            cursor.close()

    def finish(self) -> None:
        self.flush()
        if self.chain_seq is not None:
            chain.advance(self.session, self.chain_seq, self.chain_tip)
        if self.postgres and self.posted >= ANALYZE_AFTER:
            # Fresh statistics, in the same transaction: without them PostgreSQL plans the
            # first page views after a large import as if the journal were empty, until
            # autovacuum gets round to it (seconds per page were seen).
            self.connection.execute(
                text(
                    "ANALYZE entries, lines, accounts, allocations, allocation_shares, pots,"
                    " awards, organisations, audit_events"
                )
            )


# Helpers -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """Who approved, when and why, for an entry about to be posted (``entered_by`` is the
    batch's). Not frozen: a frozen dataclass costs about a microsecond to make, once a row."""

    date: dt.date
    memo: str
    approved_by: str | None
    reference: str
    content: str


_POT_ACCOUNTS = {kind: f"{kind}_account" for kind in ("available", "cash", "due_in")}


def _pot_account(pot: PotState, kind: str) -> AccountState:
    account: AccountState | None = getattr(pot, _POT_ACCOUNTS[kind])
    if account is None:  # pragma: no cover - only delegated pots are moved on due_in
        raise LookupError(f"{pot.name} has no {kind} account")
    return account


def _share_account(share: ShareState, kind: str) -> AccountState:
    """A share's own unpaid commitment, or the named account of the pot it draws on."""
    if kind == "unpaid":
        return share.unpaid_account
    account: AccountState | None = getattr(share.pot, _POT_ACCOUNTS[kind])
    return account if account is not None else _pot_account(share.pot, kind)  # which raises


def _first_problem(touched: Sequence[Any]) -> str:
    """The refusal ``journal.Effects.apply`` would give for these states: the first
    problem in ``journal.Effects.objects``' order (by model name, then id)."""
    found = [(MODEL_OF[s.__class__].__name__, s.id, s.problem()) for s in touched]
    return min((f for f in found if f[2] is not None), key=lambda f: f[:2])[2] or ""


def _as_date(value: Any) -> dt.date | None:
    """A date as the driver returns it (SQLite: ISO text)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _setting(connection: Connection, key: str) -> str | None:
    row = connection.execute(text("SELECT value FROM settings WHERE key = :k"), {"k": key}).first()
    return None if row is None else str(row[0])


__all__ = ["Batch", "LedgerError", "Outcome"]
