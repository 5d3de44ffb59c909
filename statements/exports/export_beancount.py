"""The journal as a beancount book an accountant reads in fava as it is.

The accountable body's books, consolidated: awards are its Income, by funder; what it allocates
is its Expenses, by recipient; what it still owes is a Liability, by recipient. Money delegated
to an intermediary (CTSI) is the council's expense once. The intermediary's pot, its sub-grants
and its cash sit in their own ``Delegated:<Pot>`` tree, outside Income and Expenses, so the
Income Statement counts every pound once and the Balance Sheet shows what the outside world is
owed, without the council's debt to CTSI and CTSI's claim on the council both in it.

Every posting is one journal line; each beancount account belongs to exactly one ledger account
(its ``open`` carries the ledger's code in ``ledger_account``), so the postings of the beancount
accounts of a ledger account add up to its balance, to the penny. A pot's ``available`` account
is shown as the flows that made it: its Income, its Expenses and its fund movements.

=====================================  ============================================================
ledger line                            beancount account
=====================================  ============================================================
award into a pot                       ``Income:Awards:<Funder>:<Pot>``
allocation, variation, return          ``Expenses:Grants:<Recipient>:<Reference>`` (``:<Pot>`` for
                                       each pot of a pooled contract)
same, to the accountable body itself   ``Expenses:Internal:<Recipient>:<Reference>``
or a part of it (a council post)
delegation, its variations, returns    ``Expenses:Delegated:<Intermediary>:<Reference>``
money handed back to a funder          ``Income:HandedBack:<Pot>``
carry-forward between years            ``Equity:Funds:<Pot>:CarriedForward`` / ``:CarriedIn``
pot cash                               ``Assets:Cash:<Pot>``
award receivable                       ``Assets:Receivable:<Funder>:<Award reference>``
unpaid commitment                      ``Liabilities:Commitments:<Recipient>:<Reference>``
a delegation's unpaid commitment       ``Liabilities:Delegations:<Intermediary>:<Reference>:Owed``
the delegated pot's claim on it        ``Liabilities:Delegations:<Intermediary>:<Reference>:DueIn``
                                       (the two always cancel: one debt inside the consolidation)
delegated pot: funding received        ``Equity:Delegated:<Pot>:Funding``
delegated pot: sub-grants              ``Equity:Delegated:<Pot>:Grants:<Recipient>:<Reference>``
delegated pot: cash                    ``Assets:Delegated:<Pot>:Cash``
delegated pot: unpaid sub-grants       ``Liabilities:Delegated:<Pot>:<Recipient>:<Reference>``
=====================================  ============================================================

A pot's fund balance (what is not yet allocated) is its Income less its Expenses: in fava,
filter by the pot's name. A delegated pot's fund balance is its ``Equity:Delegated:<Pot>`` tree.

Names. Pots, organisations and references become valid beancount components: accents dropped,
apostrophes removed, every other run of characters that are not ASCII letters or digits becomes
one hyphen, and each word starts with a capital (``CTSI managed WFWF Grant 2022-23`` →
``CTSI-Managed-WFWF-Grant-2022-23``). A name that leaves nothing becomes ``Pot-<id>`` (or
``Org-``/``Award-``/``Allocation-``); if two names make the same component, the later one (by id)
gets ``-<id>`` appended.

Options. ``operating_currency`` is GBP; fava's ``invert-income-liabilities-equity`` is on, so
Income, Liabilities and Equity read positive in its reports, and its ``fiscal-year-end`` is 31
March, the end of the UK financial year. Each account opens on the date of its first posting.

Transactions. One per journal entry, dated its effective date, flagged ``*``, the memo as
narration, tagged with its kind (``#pay``, ``#carry-forward``) and linked ``^entry-<id>`` (a
reversal also links the entry it reverses). Metadata: ``entry``, ``kind``, ``reference``,
``financial_year`` (``2022-23``), ``entered_by``, ``approved_by``, ``posted_at`` (UTC) and
``reverses``, each omitted when empty. Amounts are exact decimals in GBP made from integer pence.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.fy import FIRST_YEAR, label
from ledger.journal import describe_account
from ledger.models import Account, Allocation, AllocationShare, Award, Entry, Organisation, Pot
from ledger.money import format_pence, format_plain
from ledger.operations import ACCOUNTABLE_BODY, get_setting
from ledger.organisations import is_internal_spend
from statements.exports.export_360giving import utc_iso

CURRENCY = "GBP"
FAVA_OPTIONS = (
    ("invert-income-liabilities-equity", "true"),
    ("fiscal-year-end", "03-31"),
)


def component(text: str) -> str:
    """Text as one beancount account component, or ``""`` if nothing usable is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[A-Za-z0-9]+", re.sub(r"['’]", "", ascii_text))
    return "-".join(word[0].upper() + word[1:] for word in words)


def _unique(items: Iterable[tuple[int, str]], fallback: str) -> dict[int, str]:
    """id → component, in id order; later clashes get ``-<id>`` appended."""
    out: dict[int, str] = {}
    used: set[str] = set()
    for item_id, text in sorted(items):
        candidate = component(text) or f"{fallback}-{item_id}"
        if candidate in used:
            candidate = f"{candidate}-{item_id}"
        while candidate in used:  # pragma: no cover - needs a name ending in another's id
            candidate += f"-{item_id}"
        used.add(candidate)
        out[item_id] = candidate
    return out


@dataclass(frozen=True)
class _Context:
    """What an entry is about: its kind and its award, allocation and pots (a reversal is
    about what it reverses, so its lines land in the same beancount accounts)."""

    kind: str
    award_id: int | None
    allocation_id: int | None
    pot_id: int | None


class Book:
    """The names of one export: every journal line's beancount account."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pots = {p.id: p for p in session.scalars(select(Pot))}
        self.awards = {a.id: a for a in session.scalars(select(Award))}
        self.shares = {s.id: s for s in session.scalars(select(AllocationShare))}
        self.allocations = {a.id: a for a in session.scalars(select(Allocation))}
        orgs = {o.id: o for o in session.scalars(select(Organisation))}
        self.pot = _unique(((p.id, p.name) for p in self.pots.values()), "Pot")
        self.org = _unique(((o.id, o.name) for o in orgs.values()), "Org")
        self.award = _unique(((a.id, a.reference) for a in self.awards.values()), "Award")
        self.ref = _unique(((a.id, a.reference) for a in self.allocations.values()), "Allocation")
        name = get_setting(session, ACCOUNTABLE_BODY)
        self.body = next((o for o in orgs.values() if o.name == name), None)
        self.ledger_code: dict[str, str] = {}  # beancount account → ledger account code

    def account(self, account: Account, context: _Context) -> str:
        name = self._name(account, context)
        known = self.ledger_code.setdefault(name, account.code)
        if known != account.code:  # pragma: no cover - names are unique by construction
            raise AssertionError(f"{name} would hold both {known} and {account.code}")
        return name

    def _name(self, account: Account, context: _Context) -> str:
        if account.award_id is not None:
            award = self.awards[account.award_id]
            return f"Assets:Receivable:{self.org[award.funder_id]}:{self.award[award.id]}"
        if account.share_id is not None:
            return self._commitment(self.shares[account.share_id])
        assert account.pot_id is not None
        pot = self.pots[account.pot_id]
        if account.kind == "cash":
            if pot.parent_allocation_id is not None:
                return f"Assets:Delegated:{self.pot[pot.id]}:Cash"
            return f"Assets:Cash:{self.pot[pot.id]}"
        if account.kind == "due_in":
            assert pot.parent_allocation_id is not None
            delegation = self.allocations[pot.parent_allocation_id]
            return f"{self._delegation(delegation)}:DueIn"
        return self._available(pot, context)

    def _commitment(self, share: AllocationShare) -> str:
        allocation = self.allocations[share.allocation_id]
        pot = self.pots[share.pot_id]
        if allocation.delegated_pot is not None:
            return f"{self._delegation(allocation)}:Owed"
        tail = f"{self.org[allocation.recipient_id]}:{self.ref[allocation.id]}"
        if allocation.is_pooled:
            tail += f":{self.pot[pot.id]}"
        if pot.parent_allocation_id is not None:
            return f"Liabilities:Delegated:{self.pot[pot.id]}:{tail}"
        return f"Liabilities:Commitments:{tail}"

    def _delegation(self, delegation: Allocation) -> str:
        return (
            f"Liabilities:Delegations:{self.org[delegation.recipient_id]}:{self.ref[delegation.id]}"
        )

    def _available(self, pot: Pot, context: _Context) -> str:
        """Where a line on a pot's available balance goes: income, expense or fund movement."""
        fund = (
            f"Equity:Delegated:{self.pot[pot.id]}"
            if pot.parent_allocation_id is not None
            else f"Equity:Funds:{self.pot[pot.id]}"
        )
        if context.kind == "award" and context.award_id is not None:
            award = self.awards[context.award_id]
            return f"Income:Awards:{self.org[award.funder_id]}:{self.pot[pot.id]}"
        if context.kind == "hand_back":
            return f"Income:HandedBack:{self.pot[pot.id]}"
        if context.kind == "carry_forward":
            return f"{fund}:{'CarriedForward' if pot.id == context.pot_id else 'CarriedIn'}"
        if context.allocation_id is None:  # pragma: no cover - every other kind names one
            return f"{fund}:{component(context.kind)}"
        allocation = self.allocations[context.allocation_id]
        if allocation.delegated_pot is not None and allocation.delegated_pot.id == pot.id:
            return f"{fund}:Funding"
        tail = f"{self.org[allocation.recipient_id]}:{self.ref[allocation.id]}"
        if allocation.is_pooled:
            tail += f":{self.pot[pot.id]}"
        if pot.parent_allocation_id is not None:
            return f"{fund}:Grants:{tail}"
        if allocation.delegated_pot is not None:
            return f"Expenses:Delegated:{tail}"
        if self.body is not None and is_internal_spend(allocation, self.body):
            return f"Expenses:Internal:{tail}"
        return f"Expenses:Grants:{tail}"


def context_of(entry: Entry) -> _Context:
    source = entry.reverses if entry.reverses is not None else entry
    return _Context(source.kind, source.award_id, source.allocation_id, source.pot_id)


def quote(text: str) -> str:
    """A beancount string literal: backslashes and double quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Exported:
    """The beancount text and its Income Statement, in pence as fava shows them (positive)."""

    text: str
    income_pence: int
    expenses_pence: int

    def summary(self) -> list[str]:
        net = self.income_pence - self.expenses_pence
        return [
            f"Income Statement: income {format_pence(self.income_pence)}, expenses"
            f" {format_pence(self.expenses_pence)}, net {format_pence(net)} (not yet allocated)"
        ]


def export_beancount(session: Session) -> str:
    """The journal as beancount text: options, one open per account used, one transaction per
    entry. ``beancount.loader.load_string`` reads it with no errors, and the postings of each
    ledger account's beancount accounts add up to its ``Account.balance_pence``."""
    return build_book(session).text


def build_book(session: Session) -> Exported:
    """The beancount text with its Income Statement totals."""
    book = Book(session)
    entries = session.scalars(select(Entry).order_by(Entry.effective_date, Entry.id)).all()
    postings: list[list[tuple[str, int]]] = []
    first_use: dict[str, dt.date] = {}
    descriptions: dict[str, str] = {}
    for entry in entries:
        context = context_of(entry)
        lines = []
        for line in entry.lines:
            name = book.account(line.account, context)
            first_use.setdefault(name, entry.effective_date)
            if name not in descriptions:
                part = "part of " if line.account.kind == "available" else ""
                descriptions[name] = part + describe_account(session, line.account)
            lines.append((name, line.amount_pence))
        postings.append(lines)
    start = entries[0].effective_date if entries else dt.date(FIRST_YEAR, 4, 1)

    out = [
        "; The commonpurse journal as beancount. Generated: edit the ledger, not this file.",
        "; Income: awards by funder. Expenses: grants, internal spend and delegations by",
        ";   recipient. Liabilities: what is still owed. Delegated:<Pot>: an intermediary's pot",
        ";   and sub-grants, outside Income and Expenses so nothing is counted twice.",
        ";   Each open directive names its ledger account in 'ledger_account'.",
        "",
        'option "title" "commonpurse journal"',
        f'option "operating_currency" "{CURRENCY}"',
    ]
    out += [f'{start.isoformat()} custom "fava-option" "{k}" "{v}"' for k, v in FAVA_OPTIONS]
    out.append("")
    for name in sorted(first_use):
        out += [
            f"{first_use[name].isoformat()} open {name} {CURRENCY}",
            f"  ledger_account: {quote(book.ledger_code[name])}",
            f"  description: {quote(descriptions[name])}",
        ]
    out.append("")
    width = max((len(n) for n in first_use), default=0) + 2
    for entry, lines in zip(entries, postings, strict=True):
        out += _transaction(entry, lines, width)
    flows = [(name, pence) for lines in postings for name, pence in lines]
    return Exported(
        text="\n".join(out) + "\n",
        income_pence=-sum(p for name, p in flows if name.startswith("Income:")),
        expenses_pence=sum(p for name, p in flows if name.startswith("Expenses:")),
    )


def _transaction(entry: Entry, postings: list[tuple[str, int]], width: int) -> list[str]:
    links = f"^entry-{entry.id}"
    if entry.reverses_id is not None:
        links += f" ^entry-{entry.reverses_id}"
    lines = [
        f"{entry.effective_date.isoformat()} * {quote(entry.memo)}"
        f" #{entry.kind.replace('_', '-')} {links}"
    ]
    meta: list[tuple[str, str | None]] = [
        ("entry", str(entry.id)),
        ("kind", entry.kind),
        ("reference", entry.reference),
        ("financial_year", label(entry.financial_year)),
        ("entered_by", entry.entered_by),
        ("approved_by", entry.approved_by),
        ("posted_at", utc_iso(entry.posted_at)),
        ("reverses", str(entry.reverses_id) if entry.reverses_id is not None else None),
    ]
    lines += [f"  {key}: {quote(value)}" for key, value in meta if value]
    for name, pence in postings:
        lines.append(f"  {name.ljust(width)}{format_plain(pence).rjust(14)} {CURRENCY}")
    lines.append("")
    return lines
