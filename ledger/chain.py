"""The journal's hash chain: evidence that posted entries were not altered behind commonpurse.

Every entry carries its position in the chain (``chain_seq``, 1, 2, 3...) and a hash
(``chain_sha256``) that covers its own contents, its lines and the hash of the entry before it.
The single row of ``journal_head`` records the last position and hash. Changing an entry's
amount, memo or lines, deleting an entry from the middle or from the end, or reordering entries
all leave a hash that no longer matches, a gap in the positions or a head that does not match the
last entry; ``commonpurse check`` walks the chain and names the first bad entry.

The chain is evidence, not a lock: anyone who can rewrite the database can also recompute every
hash. Together with the database's triggers (which refuse UPDATE and DELETE on the journal and
the audit log) it catches alterations made without the effort of recomputing the whole chain,
and a tip hash written down elsewhere (a board paper, an auditor's file) pins the journal as it
stood then.

The functions here take plain values, not ORM objects, so that ``journal.post`` and a bulk writer
that inserts rows with ``executemany`` compute identical hashes. The database id of an entry is
not hashed: on PostgreSQL ids come from a sequence and need not follow commit order; positions
are handed out under the head's row lock, so they do.

Writers take the head's lock with ``lock_head`` *after* locking the pots they touch
(``operations.lock_pots``), never before, so that two writers cannot wait on each other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.errors import LedgerError
from ledger.models import JournalHead

DIGEST_VERSION = "commonpurse-entry-1"
GENESIS: str = hashlib.sha256(b"commonpurse journal genesis").hexdigest()
"""The hash the first entry links to: the tip of an empty journal."""

HEAD_ID = 1


class JournalHeadMissing(LedgerError):
    def __init__(self) -> None:
        super().__init__(
            "The record of the journal's last entry is missing, so nothing can be posted; the"
            " ledger was altered outside commonpurse. Run 'commonpurse check' and restore from a"
            " backup"
        )


def entry_digest(
    *,
    seq: int,
    kind: str,
    reference: str | None,
    content_sha256: str,
    effective_date: dt.date,
    financial_year: int,
    amount_pence: int,
    memo: str,
    entered_by: str,
    approved_by: str | None,
    pot_id: int | None,
    to_pot_id: int | None,
    award_id: int | None,
    allocation_id: int | None,
    reverses_id: int | None,
    lines: Sequence[tuple[int, int]],
) -> str:
    """The SHA-256 (hex) of one entry's contents and its ``(account_id, amount_pence)`` lines.

    The encoding is one string: fields in a fixed order separated by ``|``, text fields prefixed
    with their length (``None`` is ``-``), numbers in decimal, the date in ISO form, then the
    number of lines and each line as ``account:amount``. Lines are hashed in sorted order, so
    the digest does not depend on the order in which the database hands out line ids. Only the
    date of ``effective_date`` counts, as only the date is stored.
    """
    # One f-string and one hash: this runs once per entry, a million times in a large import.
    ref = "-" if reference is None else f"{len(reference)}:{reference}"
    approver = "-" if approved_by is None else f"{len(approved_by)}:{approved_by}"
    text = (
        f"{DIGEST_VERSION}|{seq}|{len(kind)}:{kind}|{ref}"
        f"|{len(content_sha256)}:{content_sha256}|{effective_date.isoformat()[:10]}"
        f"|{financial_year}|{amount_pence}|{len(memo)}:{memo}"
        f"|{len(entered_by)}:{entered_by}|{approver}"
        f"|{'-' if pot_id is None else pot_id}|{'-' if to_pot_id is None else to_pot_id}"
        f"|{'-' if award_id is None else award_id}"
        f"|{'-' if allocation_id is None else allocation_id}"
        f"|{'-' if reverses_id is None else reverses_id}|{len(lines)}"
    )
    if lines:
        shown = [f"{account_id}:{amount}" for account_id, amount in sorted(lines)]
        text = f"{text}|{'|'.join(shown)}"
    return hashlib.sha256(text.encode()).hexdigest()


def link(prev_sha256: str, digest: str) -> str:
    """The chain hash of an entry: its digest bound to the chain hash of the entry before it."""
    return hashlib.sha256(f"{prev_sha256}{digest}".encode("ascii")).hexdigest()


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain's head until the transaction ends; return ``(last_seq, last_sha256)``.

    On PostgreSQL this is ``SELECT ... FOR UPDATE``, so writers take positions one at a time
    and in commit order. On SQLite every writing transaction already holds the database's
    write lock (``BEGIN IMMEDIATE``). Call it after locking pots, never before.
    """
    row = session.execute(
        select(JournalHead.last_seq, JournalHead.last_sha256)
        .where(JournalHead.id == HEAD_ID)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise JournalHeadMissing()
    return int(row.last_seq), str(row.last_sha256)


def advance(session: Session, seq: int, sha256: str) -> None:
    """Record ``seq`` and its chain hash as the journal's last entry (the head must be locked)."""
    session.execute(
        update(JournalHead)
        .where(JournalHead.id == HEAD_ID)
        .values(last_seq=seq, last_sha256=sha256)
        .execution_options(synchronize_session=False)
    )
