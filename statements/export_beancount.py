"""The whole journal as a beancount file, for plain-text accounting tools (bean-check, Fava).

Account names. Every ledger account becomes one beancount account:

===========================  ===================================================================
ledger account (code)        beancount account
===========================  ===================================================================
``pot:N:cash``               ``Assets:Pots:<Pot>:Cash``
``pot:N:due_in``             ``Assets:Pots:<Pot>:DueIn`` (a delegated pot's claim on its parent)
``pot:N:available``          ``Equity:Pots:<Pot>:Available``
``award:N:receivable``       ``Assets:Awards:<Award reference>:Receivable``
``share:N:unpaid``           ``Liabilities:Commitments:<Allocation reference>:Unpaid``, or for a
                             pooled contract, one per funding pot:
                             ``Liabilities:Commitments:<Allocation reference>:<Pot>:Unpaid``
===========================  ===================================================================

``<Pot>`` is the pot's name and the references are the ledger's, made into valid beancount
components: accents dropped, apostrophes removed, every other run of characters that are not
ASCII letters or digits becomes one hyphen, and each word starts with a capital
(``CTSI managed WFWF Grant 2022-23`` → ``CTSI-Managed-WFWF-Grant-2022-23``, ``Barnardo's`` →
``Barnardos``). A name that leaves nothing becomes ``Pot-<id>`` (or ``Award-``/``Allocation-``);
if two names make the same component, the later one (by id) gets ``-<id>`` appended. Each open
directive carries the ledger's own code and description as metadata (``code``,
``description``), so the mapping can always be read back from the file.

Signs are the ledger's: positive is a debit. ``Equity`` and ``Liabilities`` accounts therefore
carry negative (credit) balances, as in any beancount file.

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.fy import label
from ledger.journal import describe_account
from ledger.models import Account, AllocationShare, Award, Entry, Pot
from ledger.money import format_plain
from statements.export_360giving import utc_iso

CURRENCY = "GBP"


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


def account_names(session: Session) -> dict[int, str]:
    """Ledger account id → beancount account name, for every account."""
    pots = {p.id: p for p in session.scalars(select(Pot))}
    awards = {a.id: a for a in session.scalars(select(Award))}
    shares = {s.id: s for s in session.scalars(select(AllocationShare))}
    pot_part = _unique(((p.id, p.name) for p in pots.values()), "Pot")
    award_part = _unique(((a.id, a.reference) for a in awards.values()), "Award")
    allocations = {s.allocation.id: s.allocation for s in shares.values()}
    allocation_part = _unique(((a.id, a.reference) for a in allocations.values()), "Allocation")
    names: dict[int, str] = {}
    for account in session.scalars(select(Account).order_by(Account.id)):
        if account.pot_id is not None:
            pot = pot_part[account.pot_id]
            names[account.id] = {
                "cash": f"Assets:Pots:{pot}:Cash",
                "due_in": f"Assets:Pots:{pot}:DueIn",
                "available": f"Equity:Pots:{pot}:Available",
            }[account.kind]
        elif account.award_id is not None:
            names[account.id] = f"Assets:Awards:{award_part[account.award_id]}:Receivable"
        else:
            assert account.share_id is not None
            share = shares[account.share_id]
            allocation = share.allocation
            head = f"Liabilities:Commitments:{allocation_part[allocation.id]}"
            if allocation.is_pooled:
                head += f":{pot_part[share.pot_id]}"
            names[account.id] = f"{head}:Unpaid"
    return names


def quote(text: str) -> str:
    """A beancount string literal: backslashes and double quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def export_beancount(session: Session) -> str:
    """The journal as beancount text: options, one open per account, one transaction per entry.

    ``beancount.loader.load_string`` reads it with no errors, and each account's postings add up
    to the ledger's ``Account.balance_pence``.
    """
    names = account_names(session)
    accounts = session.scalars(select(Account).order_by(Account.id)).all()
    entries = session.scalars(select(Entry).order_by(Entry.effective_date, Entry.id)).all()
    first_use: dict[int, dt.date] = {}
    for entry in entries:
        for line in entry.lines:
            first_use.setdefault(line.account_id, entry.effective_date)
    default_open = min((e.effective_date for e in entries), default=dt.date.today())

    out = [
        "; The commonpurse journal as beancount. Generated: edit the ledger, not this file.",
        "; Accounts: Assets:Pots:<Pot>:Cash|DueIn, Equity:Pots:<Pot>:Available,",
        ";   Assets:Awards:<Award>:Receivable, Liabilities:Commitments:<Allocation>[:<Pot>]:Unpaid",
        ";   (each open directive names the ledger account in its 'code' metadata).",
        "",
        'option "title" "commonpurse journal"',
        f'option "operating_currency" "{CURRENCY}"',
        "",
    ]
    for account in sorted(accounts, key=lambda a: names[a.id]):
        opened = first_use.get(account.id, default_open)
        out += [
            f"{opened.isoformat()} open {names[account.id]} {CURRENCY}",
            f"  code: {quote(account.code)}",
            f"  description: {quote(describe_account(session, account))}",
        ]
    out.append("")
    width = max((len(n) for n in names.values()), default=0) + 2
    for entry in entries:
        out += _transaction(entry, names, width)
    return "\n".join(out) + "\n"


def _transaction(entry: Entry, names: dict[int, str], width: int) -> list[str]:
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
    for line in entry.lines:
        amount = format_plain(line.amount_pence)
        lines.append(f"  {names[line.account_id].ljust(width)}{amount.rjust(14)} {CURRENCY}")
    lines.append("")
    return lines
