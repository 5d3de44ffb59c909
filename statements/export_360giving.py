"""The ledger's grants as a 360Giving Data Standard package (JSON), and its flat CSV form.

One grant per allocation that has been confirmed (or since closed): plain allocations, pooled
contracts, delegations to an intermediary and the intermediary's sub-grants from its delegated
pot. Provisional allocations are left out: nobody has approved them, so they are not awards yet.

Identifiers
    A grant is ``360G-<prefix>-<allocation reference>``. The prefix is the ``prefix`` argument,
    else the ledger setting ``360giving_prefix``, else a slug of the accountable body's name
    (``clackmannanshire-council``). The fallback only keeps the file well-formed: **a publisher
    must register its own prefix with 360Giving (support@threesixtygiving.org) and use it**,
    because grant identifiers are meant to be unique across every publisher. A prefix given as
    ``360G-abc`` is used as ``abc``.

    An organisation is identified by the Organisation Identifier scheme (org-id.guide): a
    Scottish charity number ``SC012345`` gives ``GB-SC-SC012345`` (an England and Wales number
    of digits only, ``GB-CHC-…``), else a company number gives ``GB-COH-`` and the number (digits
    padded to 8), else a local authority code gives ``GB-LAS-<code>`` (Scottish local authorities,
    ``GB-LAS-CLK`` for Clackmannanshire), else ``360G-<prefix>-org-<slug of its name>``. If two
    names make the same slug, the organisation added later gets its database id appended, so
    published identifiers do not change when an organisation is added.

Fields
    ``title`` is the purpose (cut to 140 characters at a word), ``description`` the purpose with
    a sentence on delegation or pooling. ``amountAwarded`` is what is allocated now (after
    variations); ``amountDisbursed`` what was paid less what came back, when anything was paid.
    ``awardDate`` is the date of the allocation's first journal entry. ``plannedDates`` is the
    allocation's period when one is set. ``fundingOrganization`` is whoever administers the pots
    the money comes from: the accountable body for its own pots, the intermediary for sub-grants
    from a delegated pot (a pooled contract across both lists both). ``grantProgramme`` is the
    funding stream. Promise Plan action codes and foundations become ``classifications``.
    Sub-grants name their delegation's grant in ``relatedActivity``.

Regrant types (the closed ``regrantType`` codelist, 360Giving 1.4)
    A delegation, money passed to an intermediary to re-grant, is ``FRG020`` (Transfer to
    intermediary). A pooled contract is ``FRG040`` (Funder collaboration). Note that the codelist
    defines FRG040 as money from several funders to a grant-making organisation *for onward
    grants*; a pooled contract for a service delivered by the recipient itself is not a regrant,
    so publishers should check this before they publish (``REGRANT_TYPES`` holds the mapping).

Amounts are exact: they are ``decimal.Decimal`` pounds with two places, made from integer pence,
never floats. :func:`to_json` writes them as JSON numbers exactly as they read (``82336.18``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, TextIO, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import promise
from ledger.errors import InvalidInput
from ledger.models import Allocation, Entry, Organisation, Pot
from ledger.money import pence_to_decimal
from ledger.operations import ACCOUNTABLE_BODY, get_setting
from statements.csv_safe import Amount, write_csv

PREFIX_SETTING = "360giving_prefix"
STANDARD_VERSION = "1.4"
CURRENCY = "GBP"
TITLE_LIMIT = 140

REGRANT_DELEGATION = "FRG020"  # Transfer to intermediary
REGRANT_POOLED = "FRG040"  # Funder collaboration
REGRANT_TYPES = {"delegation": REGRANT_DELEGATION, "pooled": REGRANT_POOLED}

ACTION_VOCABULARY = "Keeping The Promise Plan 2023-2026: action"
FOUNDATION_VOCABULARY = "The Promise: foundation"

Json = dict[str, Any]
T = TypeVar("T")


# Identifiers ---------------------------------------------------------------------------------


def slug(text: str) -> str:
    """``Clackmannanshire Council`` → ``clackmannanshire-council``; ``Barnardo's`` → ``barnardos``.

    ASCII letters and digits in lower case, words joined by single hyphens; accents are dropped
    (``Crèche`` → ``creche``) and other characters separate words.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    ascii_text = re.sub(r"['’]", "", ascii_text)
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))


def resolve_prefix(session: Session, prefix: str | None = None) -> str:
    """The publisher prefix without its ``360G-``: the argument, the setting, or a slug of the
    accountable body (a stand-in: register a prefix with 360Giving before publishing)."""
    chosen = prefix if prefix is not None else get_setting(session, PREFIX_SETTING)
    if chosen is None:
        chosen = slug(_accountable_body(session).name)
    chosen = re.sub(r"^360G-", "", chosen.strip(), flags=re.IGNORECASE).strip("-")
    if not chosen or re.search(r"\s", chosen):
        raise InvalidInput(
            "A 360Giving prefix is the short code 360Giving registered for you, such as 'abc'"
            " (without spaces)",
            field="prefix",
        )
    return chosen


def _accountable_body(session: Session) -> Organisation:
    """The accountable body, read without creating anything (an export never writes)."""
    name = get_setting(session, ACCOUNTABLE_BODY)
    body = (
        session.scalars(select(Organisation).where(Organisation.name == name)).one_or_none()
        if name
        else None
    )
    if body is None:
        raise InvalidInput(
            "No accountable body is set, so there is no publisher for a 360Giving file: name it"
            " once with 'commonpurse init --accountable-body \"Clackmannanshire Council\"'"
        )
    return body


class OrgIds:
    """Organisation identifiers for one export (see the module docstring for the rules)."""

    def __init__(self, session: Session, prefix: str) -> None:
        self.prefix = prefix
        self._fallback: dict[int, str] = {}
        used: set[str] = set()
        for org in session.scalars(select(Organisation).order_by(Organisation.id)):
            base = slug(org.name) or f"organisation-{org.id}"
            candidate = base if base not in used else f"{base}-{org.id}"
            while candidate in used:  # pragma: no cover - needs a name ending in another's id
                candidate += f"-{org.id}"
            used.add(candidate)
            self._fallback[org.id] = candidate

    def identifier(self, org: Organisation) -> str:
        registered = registered_identifier(org)
        if registered is not None:
            return registered
        return f"360G-{self.prefix}-org-{self._fallback.get(org.id) or slug(org.name)}"

    def describe(self, org: Organisation) -> Json:
        out: Json = {"id": self.identifier(org), "name": org.name}
        if org.charity_number and org.charity_number.strip():
            out["charityNumber"] = _compact(org.charity_number)
        if org.company_number and org.company_number.strip():
            out["companyNumber"] = _company_number(org.company_number)
        return out


def registered_identifier(org: Organisation) -> str | None:
    """The org-id.guide identifier from a register number, or None if the ledger has none."""
    charity = _compact(org.charity_number or "")
    if re.fullmatch(r"SC\d{6}", charity):
        return f"GB-SC-{charity}"
    if re.fullmatch(r"\d{6,8}", charity):
        return f"GB-CHC-{charity}"
    company = _company_number(org.company_number or "")
    if company:
        return f"GB-COH-{company}"
    authority = _compact(org.local_authority_code or "")
    if authority:
        return f"GB-LAS-{authority}"
    return None


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def _company_number(text: str) -> str:
    number = _compact(text)
    return number.zfill(8) if number.isdigit() else number


# The package ---------------------------------------------------------------------------------


def export_360giving(session: Session, *, prefix: str | None = None) -> Json:
    """A 360Giving grants package: ``{"version": "1.4", "publisher": …, "grants": […]}``.

    Amounts are ``Decimal``; serialise with :func:`to_json`. Raises ``InvalidInput`` when no
    accountable body is set or no allocation is confirmed (a package needs at least one grant).
    """
    chosen = resolve_prefix(session, prefix)
    body = _accountable_body(session)
    orgs = OrgIds(session, chosen)
    allocations = session.scalars(
        select(Allocation).where(Allocation.status != "provisional").order_by(Allocation.id)
    ).all()
    if not allocations:
        raise InvalidInput(
            "There are no confirmed allocations to publish; a 360Giving file needs at least one"
            " grant"
        )
    award_dates = _first_dates(session)
    modified = _last_posted(session)
    grants = [_grant(allocation, chosen, orgs, award_dates, modified) for allocation in allocations]
    package: Json = {
        "version": STANDARD_VERSION,
        "title": f"Grants and allocations recorded by {body.name}",
        "description": (
            "Allocations, delegations to intermediaries, their sub-grants and pooled contracts,"
            " exported from the commonpurse ledger. Amounts are in pounds sterling as allocated"
            " after variations."
        ),
        "publisher": {"name": body.name, "identifier": orgs.identifier(body)},
        "grants": grants,
    }
    stamps = [g["dateModified"] for g in grants if "dateModified" in g]
    if stamps:
        package["modified"] = max(stamps)
    return package


def _first_dates(session: Session) -> dict[int, dt.date]:
    rows = session.execute(
        select(Entry.allocation_id, func.min(Entry.effective_date))
        .where(Entry.allocation_id.is_not(None), Entry.kind.in_(("allocate", "delegate")))
        .group_by(Entry.allocation_id)
    ).all()
    return {allocation_id: day for allocation_id, day in rows if allocation_id is not None}


def _last_posted(session: Session) -> dict[int, dt.datetime]:
    rows = session.execute(
        select(Entry.allocation_id, func.max(Entry.posted_at))
        .where(Entry.allocation_id.is_not(None))
        .group_by(Entry.allocation_id)
    ).all()
    return {allocation_id: at for allocation_id, at in rows if allocation_id is not None}


def utc_iso(moment: dt.datetime) -> str:
    """A stored timestamp as RFC 3339 UTC; SQLite hands back naive datetimes, which are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def pounds(pence: int) -> Decimal:
    """``8233618`` → ``Decimal('82336.18')``, exactly (no float on the way)."""
    return pence_to_decimal(pence)


def grant_id(prefix: str, reference: str) -> str:
    return f"360G-{prefix}-{reference}"


def _grant(
    allocation: Allocation,
    prefix: str,
    orgs: OrgIds,
    award_dates: dict[int, dt.date],
    modified: dict[int, dt.datetime],
) -> Json:
    pots = [share.pot for share in allocation.shares]
    funders = _distinct(pot.administered_by for pot in pots)
    purpose = " ".join(allocation.purpose.split())
    delegated = allocation.delegated_pot
    award_date = award_dates.get(allocation.id) or allocation.created_at.date()
    grant: Json = {
        "id": grant_id(prefix, allocation.reference),
        "title": _title(purpose or f"{_kind(allocation)} to {allocation.recipient.name}"),
        "description": _description(allocation, purpose, pots),
        "currency": CURRENCY,
        "amountAwarded": pounds(allocation.allocated_pence),
        "awardDate": award_date.isoformat(),
        "recipientOrganization": [orgs.describe(allocation.recipient)],
        "fundingOrganization": [orgs.describe(org) for org in funders],
    }
    if allocation.paid_pence:
        grant["amountDisbursed"] = pounds(allocation.paid_pence - allocation.returned_pence)
    if allocation.period_start or allocation.period_end:
        event: Json = {}
        if allocation.period_start:
            event["startDate"] = allocation.period_start.isoformat()
        if allocation.period_end:
            event["endDate"] = allocation.period_end.isoformat()
        grant["plannedDates"] = [event]
    streams = _distinct(pot.stream for pot in pots if pot.stream is not None)
    if streams:
        grant["grantProgramme"] = [
            {"code": slug(s.short_name or s.name) or f"stream-{s.id}", "title": s.name}
            for s in streams
        ]
    classifications = list(_classifications(allocation))
    if classifications:
        grant["classifications"] = classifications
    if delegated is not None:
        grant["regrantType"] = REGRANT_TYPES["delegation"]
    elif allocation.is_pooled:
        grant["regrantType"] = REGRANT_TYPES["pooled"]
    parents = [
        grant_id(prefix, pot.parent_allocation.reference)
        for pot in pots
        if pot.parent_allocation is not None
    ]
    if parents:
        grant["relatedActivity"] = parents
    last = modified.get(allocation.id)
    if last is not None:
        grant["dateModified"] = utc_iso(last)
    return grant


def _kind(allocation: Allocation) -> str:
    if allocation.delegated_pot is not None:
        return "Delegation"
    if any(share.pot.parent_allocation_id is not None for share in allocation.shares):
        return "Sub-grant"
    return "Pooled contract" if allocation.is_pooled else "Allocation"


def _title(text: str) -> str:
    if len(text) <= TITLE_LIMIT:
        return text
    cut = text[: TITLE_LIMIT - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.–-") + "…"


def _description(allocation: Allocation, purpose: str, pots: Sequence[Pot]) -> str:
    parts = [purpose if purpose.endswith((".", "!", "?")) else f"{purpose}."] if purpose else []
    delegated = allocation.delegated_pot
    if delegated is not None:
        parts.append(
            f"Delegated to {allocation.recipient.name} to re-grant through its pot"
            f" {delegated.name}."
        )
    if allocation.is_pooled:
        parts.append("Pooled contract funded from " + _and([p.name for p in pots]) + ".")
    for pot in pots:
        if pot.parent_allocation is not None:
            parts.append(
                f"Sub-grant from {pot.name}, delegated to {pot.administered_by.name} by"
                f" {pot.parent_allocation.reference}."
            )
    if len(parts) == 1 and purpose:
        return purpose  # nothing to add: the description is the purpose as entered
    return " ".join(parts) or f"{_kind(allocation)} to {allocation.recipient.name}"


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _classifications(allocation: Allocation) -> Iterator[Json]:
    for tag in allocation.tags:
        if tag.kind == "action":
            try:
                outcome: str | None = promise.action(tag.value).outcome
            except promise.UnknownActionCode:  # pragma: no cover - tags are checked on entry
                outcome = None
            yield {"vocabulary": ACTION_VOCABULARY, "code": tag.value, "title": outcome}
        else:
            try:
                name: str | None = promise.foundation(int(tag.value)).name
            except (ValueError, promise.UnknownFoundation):  # pragma: no cover
                name = None
            yield {"vocabulary": FOUNDATION_VOCABULARY, "code": tag.value, "title": name}


def _distinct(items: Iterable[T]) -> list[T]:
    seen: list[T] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


# JSON with exact amounts ---------------------------------------------------------------------


def to_json(package: Json, *, indent: int | None = 2) -> str:
    """The package as JSON text, each ``Decimal`` written as the exact number it holds
    (``82336.18``, ``39000.00``). Floats are refused: they have no place near money."""
    token = f"decimal-{uuid.uuid4().hex}-"
    numbers: list[str] = []

    def swap(value: object) -> object:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(f"{value} is not an amount")
            numbers.append(format(value, "f"))
            return f"{token}{len(numbers) - 1}"
        if isinstance(value, float):
            raise TypeError("amounts must be Decimal, not float")
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [swap(item) for item in value]
        return value

    text = json.dumps(swap(package), indent=indent, ensure_ascii=False)
    return re.sub(f'"{re.escape(token)}(\\d+)"', lambda m: numbers[int(m[1])], text) + "\n"


# The flat (spreadsheet) form -------------------------------------------------------------------

# Column titles as in the 360Giving schema (the standard's spreadsheet template).
_SCALARS = (
    ("id", "Identifier"),
    ("title", "Title"),
    ("description", "Description"),
    ("currency", "Currency"),
    ("amountAwarded", "Amount Awarded"),
    ("amountDisbursed", "Amount Disbursed"),
    ("awardDate", "Award Date"),
)
_ARRAYS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("plannedDates", "Planned Dates", (("startDate", "Start Date"), ("endDate", "End Date"))),
    (
        "recipientOrganization",
        "Recipient Org",
        (
            ("id", "Identifier"),
            ("name", "Name"),
            ("charityNumber", "Charity Number"),
            ("companyNumber", "Company Number"),
        ),
    ),
    ("fundingOrganization", "Funding Org", (("id", "Identifier"), ("name", "Name"))),
    ("grantProgramme", "Grant Programme", (("code", "Code"), ("title", "Title"))),
    (
        "classifications",
        "Classifications",
        (("vocabulary", "Vocabulary"), ("code", "Code"), ("title", "Title")),
    ),
)
_TRAILING = (
    ("regrantType", "For Regrant Type"),
    ("relatedActivity", "Related Activity"),
    ("dateModified", "Last Modified"),
)


def export_360giving_csv(session: Session, out: TextIO, *, prefix: str | None = None) -> int:
    """The same grants as one CSV row each, under the standard's column titles
    (``Recipient Org:Identifier``…). When some grant has several items in a list (a pooled
    contract with two funders, several classifications) that list's columns are numbered
    (``Funding Org:0:Identifier``, ``Funding Org:1:Identifier``). Returns the number of grants."""
    grants: list[Json] = export_360giving(session, prefix=prefix)["grants"]
    widths: dict[str, int] = defaultdict(int)
    for grant in grants:
        for key, _, _ in _ARRAYS:
            widths[key] = max(widths[key], len(grant.get(key, [])))
    header: list[str] = [title for _, title in _SCALARS]
    for key, title, fields in _ARRAYS:
        for index in range(widths[key]):
            number = f"{index}:" if widths[key] > 1 else ""
            header += [f"{title}:{number}{field_title}" for _, field_title in fields]
    header += [title for _, title in _TRAILING]

    def row(grant: Json) -> list[object]:
        cells: list[object] = [_cell(grant.get(key)) for key, _ in _SCALARS]
        for key, _, fields in _ARRAYS:
            items: list[Json] = grant.get(key, [])
            for index in range(widths[key]):
                item = items[index] if index < len(items) else {}
                cells += [_cell(item.get(name)) for name, _ in fields]
        cells += [_cell(grant.get(key)) for key, _ in _TRAILING]
        return cells

    write_csv(out, header, (row(grant) for grant in grants))
    return len(grants)


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return Amount(int(value * 100))
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else value
