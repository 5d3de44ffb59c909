"""What the ledger knows about an organisation beyond its name, and what a pot cites.

Registered numbers and places are checked by ``ledger.identifiers`` before anything is written;
a refusal raises ``InvalidInput`` naming the field. Every change is recorded in the audit log,
with the values before and after. Nothing here moves money.

Internal spend. An organisation marked ``is_internal`` is part of the accountable body (the
council's Participation Development Officer post, an internal service). An allocation to it,
or to the accountable body itself, is internal spend: the statements show it as any other
allocation, and the 360Giving export leaves it out, because a body cannot give itself a grant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger import identifiers as ids
from ledger.errors import InvalidInput, LedgerError
from ledger.models import Allocation, AuditEvent, Organisation, Pot
from ledger.operations import find_organisation, find_pot


def identifiers_of(org: Organisation) -> ids.Identifiers:
    """The organisation's registered numbers as ``Identifiers``, each in its one form. Values
    stored before they were checked on entry are read through the same checks: a
    ``charity_number`` of digits is England and Wales, a company number ``61625`` is
    ``00061625``, and a value no register would accept is left out (the organisation then
    shows as having no registered number, and the 360Giving export names it)."""
    scheme, number = None, None
    if org.charity_number:
        scheme, number = _lenient_pair(ids.charity_number, org.charity_number)
    authority = None
    if org.local_authority_code:
        authority = _lenient(
            ids.local_authority_code,
            f"{org.local_authority_scheme or 'GB-LAS'}-{org.local_authority_code}",
        )
    return ids.Identifiers(
        england_wales_charity=org.ew_charity_number or (number if scheme == "GB-CHC" else None),
        scottish_charity=number if scheme == "GB-SC" else None,
        ni_charity=org.ni_charity_number or (number if scheme == "GB-NIC" else None),
        company=_lenient(ids.company_number, org.company_number) if org.company_number else None,
        local_authority=authority,
        other=org.other_identifier,
    )


def _lenient(check: Callable[[str], str], text: str) -> str | None:
    try:
        return check(text)
    except InvalidInput:
        return None


def _lenient_pair(
    check: Callable[[str], tuple[str, str]], text: str
) -> tuple[str, str] | tuple[None, None]:
    try:
        return check(text)
    except InvalidInput:
        return None, None


@dataclass(frozen=True)
class IdentifierChange:
    """What to change. ``None`` leaves a field as it is; ``""`` clears it."""

    charity_numbers: Sequence[str] = ()
    ni_charity_number: str | None = None
    company_number: str | None = None
    local_authority_code: str | None = None
    other_identifier: str | None = None
    location_code: str | None = None
    location_name: str | None = None
    is_internal: bool | None = None
    clear_charity_numbers: bool = False


def set_identifiers(
    session: Session, name: str, change: IdentifierChange, *, actor: str, reason: str = ""
) -> Organisation:
    """Check every value, then record them on the organisation called ``name``; the audit log
    keeps the values before and after, and ``reason`` when one is given."""
    org = find_organisation(session, name, field="organisation")
    before = describe(org)
    charities, values = _checked(change)
    if change.clear_charity_numbers:
        org.charity_number = org.ew_charity_number = org.ni_charity_number = None
    for scheme, number in charities:
        if scheme == "GB-SC":
            org.charity_number = number
        elif scheme == "GB-CHC":
            org.ew_charity_number = number
        else:
            org.ni_charity_number = number
    if "ni" in values:
        org.ni_charity_number = values["ni"]
    if "company" in values:
        org.company_number = values["company"]
    if "authority" in values:
        authority = values["authority"]
        scheme, _, code = (authority or "").rpartition("-")
        org.local_authority_scheme = scheme if authority and scheme != "GB-LAS" else None
        org.local_authority_code = code or None
    if "other" in values:
        org.other_identifier = values["other"]
    if "location" in values:
        org.location_code = values["location"]
    if change.location_name is not None:
        place = " ".join(change.location_name.split())
        if len(place) > 100:
            raise InvalidInput("Name the place in 100 characters or fewer", field="location")
        org.location_name = place or None
    if change.is_internal is not None:
        org.is_internal = change.is_internal
    session.flush()
    after = describe(org)
    if after != before:
        session.add(
            AuditEvent(
                actor=actor,
                action="organisation",
                subject=f"organisation {org.name}"[:200],
                detail=f"{before or 'nothing recorded'} → {after or 'nothing recorded'}"
                + (f" ({' '.join(reason.split())})" if reason.strip() else ""),
            )
        )
        session.flush()
    return org


IMPORT_HEADER = (
    "name",
    "charity_numbers",
    "ni_charity_number",
    "company_number",
    "local_authority_code",
    "other_identifier",
    "location_code",
    "location_name",
    "internal",
)
_YES, _NO = ("yes", "y", "true", "1"), ("no", "n", "false", "0")


def import_identifiers(
    session: Session, rows: Iterable[Sequence[str]], *, actor: str, reason: str
) -> int:
    """Apply a spreadsheet of registered numbers and places, the header row first
    (``IMPORT_HEADER``, in any case). A blank cell leaves that field as it is; several charity
    numbers in one cell are separated by semicolons. Each row is checked as the command line
    and the web form check it; the first bad cell stops the import with its spreadsheet row
    number and column, and the caller's transaction writes nothing. Returns the rows applied."""
    lines = iter(rows)
    header = [cell.strip().lower() for cell in next(lines, [])]
    if tuple(header) != IMPORT_HEADER:
        raise InvalidInput("The header must be exactly " + ",".join(IMPORT_HEADER))
    count = 0
    for number, row in enumerate(lines, start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) != len(IMPORT_HEADER):
            raise InvalidInput(f"Row {number}: expected {len(IMPORT_HEADER)} columns")
        values = dict(zip(IMPORT_HEADER, cells, strict=True))
        try:
            set_identifiers(
                session, values["name"], _row_change(values), actor=actor, reason=reason
            )
        except LedgerError as error:
            column = _column_of(error.field)
            raise InvalidInput(f"Row {number}, column {column}: {error}", field=column) from error
        count += 1
    return count


def _row_change(values: dict[str, str]) -> IdentifierChange:
    internal = values["internal"].lower()
    if internal and internal not in (*_YES, *_NO):
        raise InvalidInput(f"'{values['internal']}' is not yes or no", field="internal")
    return IdentifierChange(
        charity_numbers=[n for n in re.split(r"[;,]", values["charity_numbers"]) if n.strip()],
        ni_charity_number=values["ni_charity_number"] or None,
        company_number=values["company_number"] or None,
        local_authority_code=values["local_authority_code"] or None,
        other_identifier=values["other_identifier"] or None,
        location_code=values["location_code"] or None,
        location_name=values["location_name"] or None,
        is_internal=(internal in _YES) if internal else None,
    )


def _column_of(field: str | None) -> str:
    columns = {
        "organisation": "name",
        "charity_number": "charity_numbers",
        "scottish_charity_number": "charity_numbers",
        "location": "location_code",
    }
    return columns.get(field or "", field or "name")


def _checked(change: IdentifierChange) -> tuple[list[tuple[str, str]], dict[str, str | None]]:
    """Every value in its stored form (``None`` to clear), or ``InvalidInput`` before any write:
    the charity numbers as (prefix, number), and the other fields given, by name."""
    out: dict[str, str | None] = {}
    charities = [ids.charity_number(text) for text in change.charity_numbers if text.strip()]
    schemes = [scheme for scheme, _ in charities]
    for scheme in set(schemes):
        if schemes.count(scheme) > 1:
            raise InvalidInput(
                f"Give one {scheme} number: an organisation is registered once in each register",
                field="charity_number",
            )
    checks = (
        ("ni", change.ni_charity_number, ids.northern_ireland_charity_number),
        ("company", change.company_number, ids.company_number),
        ("authority", change.local_authority_code, ids.local_authority_code),
        ("other", change.other_identifier, ids.other_identifier),
        ("location", change.location_code, ids.gss_code),
    )
    for key, text, check in checks:
        if text is not None:
            out[key] = check(text) if text.strip() else None
    return charities, out


def describe(org: Organisation) -> str:
    """``GB-CHC-1097940, GB-SC-SC038092; in S12000005; internal`` (what the audit log shows)."""
    parts = [", ".join(identifiers_of(org).org_ids())]
    if org.location_code:
        parts.append(f"in {org.location_code}")
    if org.is_internal:
        parts.append("part of the accountable body")
    return "; ".join(part for part in parts if part)


def set_publication(
    session: Session,
    pot_name: str,
    *,
    actor: str,
    data_source: str | None = None,
    source_document: str | None = None,
    area_code: str | None = None,
    area_name: str | None = None,
) -> Pot:
    """Record where a pot's figures can be checked and the area its money is for."""
    pot = find_pot(session, pot_name)
    before = (pot.data_source, pot.source_document, pot.area_code, pot.area_name)
    if data_source is not None:
        pot.data_source = ids.data_source_url(data_source) if data_source.strip() else None
    if area_code is not None:
        pot.area_code = ids.gss_code(area_code) if area_code.strip() else None
    if source_document is not None:
        text = " ".join(source_document.split())
        if len(text) > 300:
            raise InvalidInput(
                "Name the document in 300 characters or fewer", field="source_document"
            )
        pot.source_document = text or None
    if area_name is not None:
        pot.area_name = " ".join(area_name.split()) or None
    after = (pot.data_source, pot.source_document, pot.area_code, pot.area_name)
    if after != before:
        session.add(
            AuditEvent(
                actor=actor,
                action="pot publication",
                subject=f"pot {pot.name}"[:200],
                detail="; ".join(v or "-" for v in after),
            )
        )
    session.flush()
    return pot


def is_internal_spend(allocation: Allocation, accountable_body: Organisation) -> bool:
    """Money kept inside the accountable body: its recipient is the body itself or part of it."""
    recipient = allocation.recipient
    return recipient.id == accountable_body.id or recipient.is_internal
