"""The journal: balanced entries, account floors, and the figures they move.

Every operation ends here, in ``post``: its legs must balance to the penny, no account may cross
its floor, and the figures people read (a pot's funded, allocated, paid...) are moved by
``line_moves`` — the one place that says what each kind of line means. ``ledger.check``
replays the same function over the whole journal and compares.

Accounts (balance = debits − credits):

============  ========  =====================================================  =========
account       owner     holds                                                  floor
============  ========  =====================================================  =========
available     pot       money not yet allocated (credit)                       credit
cash          pot       cash held: received − paid + returned (may go < 0)     none
due_in        pot       what a delegated pot is still owed by its parent       debit
receivable    award     what the funder still owes on the award                debit
unpaid        share     committed to a recipient and not yet paid (credit)     credit
============  ========  =====================================================  =========
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import chain, figures, rules, wording
from ledger.errors import InvalidInput, LedgerError, UnbalancedEntry
from ledger.fy import financial_year_of
from ledger.models import (
    Account,
    Allocation,
    AllocationShare,
    Award,
    Entry,
    Line,
    Pot,
)
from ledger.money import format_pence

FLOOR_OF_KIND = {
    "available": "credit",
    "cash": "none",
    "due_in": "debit",
    "receivable": "debit",
    "unpaid": "credit",
}


class FloorBreached(LedgerError):
    """A generic guard: an account would cross its floor (for example through a reversal),
    today or, for a back-dated movement, on a later day (``as_at``)."""

    field = "amount"

    def __init__(self, description: str, balance_pence: int, as_at: dt.date | None = None) -> None:
        self.description = description
        self.balance_pence = balance_pence
        self.as_at = as_at
        when = f" on {as_at.strftime('%d/%m/%Y')}" if as_at is not None else ""
        super().__init__(
            f"This would leave {description} at {format_pence(balance_pence)}{when}; it cannot"
            " go below zero"
        )


def later_changes(
    session: Session, account_ids: Sequence[int], after: dt.date
) -> list[tuple[dt.date, int]]:
    """What moved these accounts on each day after ``after``: (day, debits − credits)."""
    if not account_ids:
        return []
    rows = session.execute(
        select(Entry.effective_date, func.sum(Line.amount_pence))
        .join(Line, Line.entry_id == Entry.id)
        .where(Line.account_id.in_(list(account_ids)), Entry.effective_date > after)
        .group_by(Entry.effective_date)
    ).all()
    return [(day, int(total)) for day, total in rows if total]


def hand_back_days(session: Session, pot_id: int, since: dt.date) -> list[dt.date]:
    """The days from ``since`` on when the pot handed money back to its funder."""
    return list(
        session.scalars(
            select(Entry.effective_date)
            .where(
                Entry.kind == "hand_back",
                Entry.pot_id == pot_id,
                Entry.effective_date >= since,
            )
            .distinct()
        )
    )


def floor_on_days(
    floor: str, balance_after: int, later: Sequence[tuple[dt.date, int]], since: dt.date
) -> tuple[dt.date, int] | None:
    """The first way an account with ``floor``, standing at ``balance_after`` today once a
    movement dated ``since`` is posted, crossed its floor on a day from ``since`` on: (day,
    balance), or None. The balance on a day is today's less what moved after that day."""
    if floor == "none" or not later:
        return None
    sign = -1 if floor == "credit" else 1  # a credit floor keeps the balance <= 0
    day, lowest = rules.lowest_from(sign * balance_after, [(d, sign * c) for d, c in later], since)
    return (day, sign * lowest) if lowest < 0 else None


def effective_floor(session: Session, account: Account) -> str:
    """An account's floor, with one rule on top of ``Account.floor``: an intermediary's pot
    holds no less than no cash, unless its delegation allows advances."""
    if account.kind == "cash" and account.pot_id is not None:
        parent = session.get_one(Pot, account.pot_id).parent_allocation_id
        if parent is not None and not session.get_one(Allocation, parent).allows_advances:
            return "debit"
    return account.floor


@dataclass(frozen=True)
class Leg:
    """One side of an entry before it is posted: positive pence debit, negative credit."""

    account: Account
    amount_pence: int


_CANONICAL = json.JSONEncoder(sort_keys=True, default=str)
"""``json.dumps(..., sort_keys=True, default=str)``, made once: ``dumps`` builds a new encoder
on every call that passes options, and this runs once per imported row."""


def content_sha256(kind: str, params: Mapping[str, object]) -> str:
    """A stable fingerprint of what an operation asked for, for idempotent replays."""
    asked = {"kind": kind, **params}
    if _FLAT_TYPES.issuperset(map(type, asked.values())):
        canonical = _flat_canonical(asked)
    else:
        canonical = _CANONICAL.encode(asked)
    return hashlib.sha256(canonical.encode()).hexdigest()


_FLAT_TYPES = frozenset({str, int, dt.date, type(None)})


def _flat_canonical(asked: Mapping[str, object]) -> str:
    """``_CANONICAL.encode(asked)``, character for character, when every value is text, a whole
    number, a date or blank (``_FLAT_TYPES``, exactly: not a subclass). A payment's fingerprint
    is one of these, made once per imported row, and the encoder's call back for its date is
    most of the encoder's cost."""
    out = []
    for key, value in sorted(asked.items()):
        if type(value) is str:
            shown = _json_text(value)
        elif type(value) is int:
            shown = int.__repr__(value)
        elif type(value) is dt.date:
            shown = f'"{value.isoformat()}"'
        else:
            shown = "null"
        out.append(f"{_json_text(key)}: {shown}")
    return "{" + ", ".join(out) + "}"


_json_text = json.encoder.encode_basestring_ascii  # how the encoder writes a str (ensure_ascii)


def open_account(session: Session, kind: str, **owner: int) -> Account:
    ((owner_kind, owner_id),) = owner.items()
    owner_name = owner_kind.removesuffix("_id")
    account = Account(
        code=f"{owner_name}:{owner_id}:{kind}",
        kind=kind,
        floor=FLOOR_OF_KIND[kind],
        balance_pence=0,
        **owner,
    )
    session.add(account)
    return account


def account_of(session: Session, kind: str, **owner: int) -> Account:
    ((owner_kind, owner_id),) = owner.items()
    code = f"{owner_kind.removesuffix('_id')}:{owner_id}:{kind}"
    account = session.scalars(select(Account).where(Account.code == code)).one_or_none()
    if account is None:  # pragma: no cover - accounts are opened with their owners
        raise LookupError(f"account {code} is missing")
    return account


def describe_account(session: Session, account: Account) -> str:
    if account.pot_id is not None:
        return wording.pot_account(account.kind, session.get_one(Pot, account.pot_id).name)
    if account.award_id is not None:
        award = session.get_one(Award, account.award_id)
        return wording.award_account(award.funder.name, award.reference)
    share = session.get_one(AllocationShare, account.share_id)
    return wording.share_account(share.allocation.reference, share.pot.name)


def post(
    session: Session,
    *,
    kind: str,
    legs: Sequence[Leg],
    effective_date: dt.date,
    memo: str,
    entered_by: str,
    approved_by: str | None,
    reference: str | None,
    content: str,
    amount_pence: int,
    pot_id: int | None = None,
    to_pot_id: int | None = None,
    award_id: int | None = None,
    allocation_id: int | None = None,
    reverses: Entry | None = None,
) -> Entry:
    """Write one balanced entry, move its accounts and figures, or raise and write nothing."""
    legs = [leg for leg in legs if leg.amount_pence != 0]
    require_balanced(memo, [leg.amount_pence for leg in legs])
    for account, delta in _net_by_account(legs).items():
        new_balance = account.balance_pence + delta
        floor = effective_floor(session, account) if delta else account.floor
        if crosses_floor(floor, new_balance):
            raise FloorBreached(describe_account(session, account), -abs(new_balance))
        toward_floor = (floor == "credit" and delta > 0) or (floor == "debit" and delta < 0)
        if toward_floor and account.id is not None:
            breach = floor_on_days(
                floor,
                new_balance,
                later_changes(session, [account.id], effective_date),
                effective_date,
            )
            if breach is not None:
                raise FloorBreached(describe_account(session, account), -abs(breach[1]), breach[0])
    # The entry is hashed into the chain before it is written (it can never be updated after):
    # its lines need their accounts' ids, and its position needs the head, locked after the
    # pots the operation locked.
    session.flush()
    last_seq, last_sha256 = chain.lock_head(session)
    seq = last_seq + 1
    year = financial_year_of(effective_date)
    reverses_id = reverses.id if reverses is not None else None
    digest = chain.entry_digest(
        seq=seq,
        kind=kind,
        reference=reference,
        content_sha256=content,
        effective_date=effective_date,
        financial_year=year,
        amount_pence=amount_pence,
        memo=memo,
        entered_by=entered_by,
        approved_by=approved_by,
        pot_id=pot_id,
        to_pot_id=to_pot_id,
        award_id=award_id,
        allocation_id=allocation_id,
        reverses_id=reverses_id,
        lines=[(leg.account.id, leg.amount_pence) for leg in legs],
    )
    entry = Entry(
        kind=kind,
        reference=reference,
        content_sha256=content,
        effective_date=effective_date,
        financial_year=year,
        amount_pence=amount_pence,
        memo=memo,
        entered_by=entered_by,
        approved_by=approved_by,
        pot_id=pot_id,
        to_pot_id=to_pot_id,
        award_id=award_id,
        allocation_id=allocation_id,
        reverses_id=reverses_id,
        chain_seq=seq,
        chain_sha256=chain.link(last_sha256, digest),
    )
    entry.lines = [Line(account=leg.account, amount_pence=leg.amount_pence) for leg in legs]
    for leg in legs:
        leg.account.balance_pence += leg.amount_pence
    session.add(entry)
    effects = Effects(SessionLookups(session))
    effects.add_entry(session, entry, reverses)
    effects.apply(session)
    chain.advance(session, entry.chain_seq, entry.chain_sha256)
    session.flush()
    return entry


def require_balanced(memo: str, amounts: Sequence[int]) -> None:
    """What every entry needs, whoever writes it: a reason, and two or more non-zero lines that
    add up to nothing."""
    if not memo.strip():
        raise InvalidInput("Say why: every entry records its reason", field="description")
    total = sum(amounts)
    if total != 0 or len(amounts) < 2:
        raise UnbalancedEntry(total)


def crosses_floor(floor: str, balance_pence: int) -> bool:
    """Whether an account with this floor may not hold this balance."""
    return (floor == "credit" and balance_pence > 0) or (floor == "debit" and balance_pence < 0)


def _net_by_account(legs: Iterable[Leg]) -> dict[Account, int]:
    net: dict[Account, int] = defaultdict(int)
    for leg in legs:
        net[leg.account] += leg.amount_pence
    return net


# The figures each kind of line moves -------------------------------------------------------

FigureKey = tuple[type, int, str]


class Meaning(Protocol):
    """What a line's figures depend on: the kind, allocation and target pot of its entry or,
    for a reversal, of the entry it reverses. An ``Entry`` is one; ``check`` passes rows."""

    @property
    def kind(self) -> str: ...

    @property
    def allocation_id(self) -> int | None: ...

    @property
    def to_pot_id(self) -> int | None: ...


class AccountView(Protocol):
    """The parts of an account a line's meaning depends on."""

    @property
    def kind(self) -> str: ...

    @property
    def pot_id(self) -> int | None: ...

    @property
    def award_id(self) -> int | None: ...

    @property
    def share_id(self) -> int | None: ...


class Lookups(Protocol):
    """What replaying lines needs to know about pots and allocation shares."""

    def parent_allocation_of(self, pot_id: int) -> int | None:
        """The allocation that opened this (delegated) pot, if any."""
        ...

    def allocation_of_share(self, share_id: int) -> int: ...

    def share_of(self, allocation_id: int | None, pot_id: int) -> int:
        """The id of the allocation's share in this pot."""
        ...


class SessionLookups:
    """Lookups through the session (and its identity map), for posting one entry."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def parent_allocation_of(self, pot_id: int) -> int | None:
        return self.session.get_one(Pot, pot_id).parent_allocation_id

    def allocation_of_share(self, share_id: int) -> int:
        return self.session.get_one(AllocationShare, share_id).allocation_id

    def share_of(self, allocation_id: int | None, pot_id: int) -> int:
        return self.session.scalars(
            select(AllocationShare.id).where(
                AllocationShare.allocation_id == allocation_id, AllocationShare.pot_id == pot_id
            )
        ).one()


OWNER = "owner"
"""The pot, award or allocation share whose account the line is on."""
SHARE_ALLOCATION = "share's allocation"
"""The allocation of the share whose account the line is on."""
RETURNING_SHARE = "returning share"
"""The entry's allocation's share in the pot whose account the line is on."""
RETURNING_ALLOCATION = "returning share's allocation"

Move = tuple[str, str, int]
"""(whose figure, which figure, sign): the figure moves by sign × the line's amount."""

POT_ACCOUNTS = ("available", "cash", "due_in")
COMMITTING = ("allocate", "delegate", "vary")


@functools.cache
def line_moves(kind: str, account_kind: str, delegated: bool, carried_in: bool) -> tuple[Move, ...]:
    """The one meaning of a journal line for the maintained figures.

    ``kind`` is the kind of the line's entry (for a reversal, of the entry it reverses: the
    moves are then negated by the reversal's own amounts); ``account_kind`` the kind of its
    account; ``delegated`` whether that account is a pot's that the entry's allocation
    delegated to (it is funded, not spent); ``carried_in`` whether the pot is the target of a
    carry-forward. Amounts are debits positive, so money leaving ``available`` (a credit) funds.
    """
    if account_kind == "available":
        if kind == "award":
            return ((OWNER, "funded_pence", -1),)
        if kind in COMMITTING:
            if delegated:
                return ((OWNER, "funded_pence", -1),)
            return ((OWNER, "allocated_pence", 1),)
        if kind == "return":
            if delegated:
                return ((OWNER, "handed_back_pence", 1),)
            return (
                (OWNER, "returned_pence", -1),
                (RETURNING_SHARE, "returned_pence", -1),
                (RETURNING_ALLOCATION, "returned_pence", -1),
            )
        if kind == "carry_forward":
            if carried_in:
                return ((OWNER, "funded_pence", -1), (OWNER, "carried_in_pence", -1))
            return ((OWNER, "carried_forward_pence", 1),)
        if kind == "hand_back":
            return ((OWNER, "handed_back_pence", 1),)
    elif account_kind == "cash":
        if kind == "receive":
            return ((OWNER, "received_pence", 1),)
        if kind == "pay" and not delegated:
            return ((OWNER, "paid_pence", -1),)
    elif account_kind == "receivable":
        if kind == "receive":
            return ((OWNER, "received_pence", -1),)
    elif account_kind == "unpaid":
        if kind in COMMITTING:
            return ((OWNER, "allocated_pence", -1), (SHARE_ALLOCATION, "allocated_pence", -1))
        if kind == "pay":
            return ((OWNER, "paid_pence", 1), (SHARE_ALLOCATION, "paid_pence", 1))
    return ()


class Effects:
    """Accumulates figure changes (class, id, attribute) → pence, from journal lines.

    Every line's effect is linear in its amount, so the lines of many entries that share a
    meaning and an account can be added up first and fed in once (``check`` does).
    """

    def __init__(self, lookups: Lookups | None = None) -> None:
        self._lookups = lookups
        self.deltas: dict[FigureKey, int] = defaultdict(int)

    @property
    def lookups(self) -> Lookups:
        if self._lookups is None:
            raise RuntimeError("Effects needs lookups: pass them, or replay through add_entry")
        return self._lookups

    def add(self, model: type, object_id: int, figure: str, delta: int) -> None:
        self.deltas[(model, object_id, figure)] += delta

    def add_entry(self, session: Session, entry: Entry, reverses: Entry | None = None) -> None:
        """What ``entry``'s lines mean for the figures. A reversal means its target, negated."""
        if self._lookups is None:
            self._lookups = SessionLookups(session)
        meaning = reverses if reverses is not None else entry
        if entry.kind == "reversal" and reverses is None:
            meaning = session.get_one(Entry, entry.reverses_id)
        for line in entry.lines:
            self.add_line(meaning, line.account, line.amount_pence)

    def add_line(self, meaning: Meaning, account: AccountView, amount: int) -> None:
        for whose, figure, sign in self.moves_of(meaning, account):
            model, object_id = self.whose(whose, meaning, account)
            self.add(model, object_id, figure, sign * amount)

    def moves_of(self, meaning: Meaning, account: AccountView) -> tuple[Move, ...]:
        """What a line of ``meaning`` on ``account`` moves (``line_moves``), asking the lookups
        only whether the account's pot is the one the entry's allocation delegated to."""
        kind = meaning.kind
        account_kind = account.kind
        pot_id = account.pot_id
        delegated = carried_in = False
        if pot_id is not None:
            if account_kind == "available" or (account_kind == "cash" and kind == "pay"):
                allocation_id = meaning.allocation_id
                if allocation_id is not None:
                    lookups = self._lookups or self.lookups  # the property raises if none
                    delegated = lookups.parent_allocation_of(pot_id) == allocation_id
            carried_in = kind == "carry_forward" and pot_id == meaning.to_pot_id
        elif (
            account_kind in POT_ACCOUNTS
            or (account.award_id if account_kind == "receivable" else account.share_id) is None
        ):
            return ()
        return line_moves(kind, account_kind, delegated, carried_in)

    def whose(self, whose: str, meaning: Meaning, account: AccountView) -> tuple[type, int]:
        """The object (class, id) whose figure a move names, for a line on ``account``."""
        if whose == OWNER:
            if account.pot_id is not None:
                return Pot, account.pot_id
            if account.award_id is not None:
                return Award, account.award_id
            assert account.share_id is not None
            return AllocationShare, account.share_id
        if whose == SHARE_ALLOCATION:
            assert account.share_id is not None
            return Allocation, self.lookups.allocation_of_share(account.share_id)
        assert account.pot_id is not None
        share_id = self.lookups.share_of(meaning.allocation_id, account.pot_id)
        if whose == RETURNING_SHARE:
            return AllocationShare, share_id
        return Allocation, self.lookups.allocation_of_share(share_id)

    def apply(self, session: Session) -> None:
        # No flush until every figure has moved and been checked: a half-applied entry would
        # meet the database's CHECKs as a raw error instead of a refusal in plain words.
        with session.no_autoflush:
            for (model, object_id, figure), delta in self.deltas.items():
                if delta:
                    target: object = session.get_one(model, object_id)
                    setattr(target, figure, getattr(target, figure) + delta)
            validate_figures(session, self.touched(session))

    def touched(self, session: Session) -> list[object]:
        return [session.get_one(model, object_id) for model, object_id in self.objects()]

    def objects(self) -> list[tuple[type, int]]:
        return sorted({(m, i) for m, i, _ in self.deltas}, key=lambda k: (k[0].__name__, k[1]))


class FigureInvariantBroken(LedgerError):
    field = "amount"


def validate_figures(session: Session, objects: Iterable[object]) -> None:
    """The rules the figures obey (``ledger.figures``), checked in code with a plain message
    before the database's CHECK constraints would refuse them."""
    for obj in objects:
        problem: str | None = None
        if isinstance(obj, Pot):
            problem = figures.pot_problem(obj.name, obj.available_pence)
        elif isinstance(obj, (Allocation, AllocationShare)):
            ref = obj.reference if isinstance(obj, Allocation) else obj.allocation.reference
            problem = figures.allocation_problem(
                ref, obj.allocated_pence, obj.paid_pence, obj.returned_pence
            )
        elif isinstance(obj, Award):
            problem = figures.award_problem(obj.reference, obj.received_pence, obj.amount_pence)
        if problem is not None:
            raise FigureInvariantBroken(problem)
