"""Signed statements: finance's sign-off of a pot's statement, rebuilt exactly as signed.

A sign-off (``ledger.timeline.sign_off``) records the signer, the moment, the as-at date and the
journal's chain tip. :func:`signed_statement` rebuilds the statement from the journal as it stood
then (entries up to the recorded chain position, records up to the recorded moment) and stamps it
with the sign-off; its PDF is therefore the same bytes however much is recorded later. Entries
dated on or before the as-at date that were recorded after the sign-off supersede it: the page
says so, naming them, while the signed PDF itself stays as signed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import timeline
from ledger.errors import NotFound
from ledger.models import StatementSignoff
from statements.reports.distribution import (
    DistributionStatement,
    SignoffFacts,
    Upto,
    build_statement,
)


@dataclass(frozen=True)
class SignoffSummary:
    id: int
    pot: str
    as_at_text: str
    signed_by: str
    signed_at_text: str
    chain_seq: int
    chain_sha256: str
    superseded_by: tuple[str, ...]


def find_signoff(session: Session, signoff_id: int) -> StatementSignoff:
    row = session.get(StatementSignoff, signoff_id)
    if row is None:
        raise NotFound("signed statement", str(signoff_id), "signoff")
    return row


def signed_statement(
    session: Session, signoff_id: int, *, mark_superseded: bool = False
) -> DistributionStatement:
    """The statement exactly as signed. ``mark_superseded`` adds the names of the entries that
    have since changed it (for the page; the signed PDF is made without them)."""
    row = find_signoff(session, signoff_id)
    later = timeline.later_entries(session, row) if mark_superseded else []
    facts = SignoffFacts(
        signed_by=row.signed_by,
        signed_at=timeline.as_utc(row.signed_at),
        chain_seq=row.chain_seq,
        chain_sha256=row.chain_sha256,
        superseded_by=tuple(entry.describe() for entry in later),
    )
    return build_statement(
        session,
        row.pot.name,
        as_at=row.as_at,
        since=row.since,
        generated_at=facts.signed_at,
        upto=Upto(row.chain_seq, facts.signed_at),
        signoff=facts,
    )


def signoffs(session: Session, pot_id: int | None = None) -> list[SignoffSummary]:
    """Every sign-off (or a pot's), newest first, each with the entries that superseded it."""
    query = select(StatementSignoff).order_by(StatementSignoff.id.desc())
    if pot_id is not None:
        query = query.where(StatementSignoff.pot_id == pot_id)
    found = []
    for row in session.scalars(query):
        later = timeline.later_entries(session, row)
        found.append(
            SignoffSummary(
                row.id,
                row.pot.name,
                f"{row.as_at:%d/%m/%Y}",
                row.signed_by,
                f"{timeline.as_utc(row.signed_at):%d/%m/%Y %H:%M} UTC",
                row.chain_seq,
                row.chain_sha256,
                tuple(entry.describe() for entry in later),
            )
        )
    return found
