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

    An organisation is identified by its registered number, by org-id.guide's prefixes and the
    precedence in ``ledger.identifiers`` (England and Wales charity, Scottish charity, Northern
    Ireland charity, local authority, any other register, Companies House): Action for
    Children, registered in England and Wales and in Scotland, is ``GB-CHC-1097940``. Only an
    organisation with no registered number gets a minted ``360G-<prefix>-org-<slug of its
    name>``; the export names each one (``Export.minted``) so its numbers can be added with
    ``commonpurse organisation set``. If two names make the same slug, the organisation added
    later gets its database id appended, so published identifiers do not change when an
    organisation is added.

Internal spend
    An allocation to the accountable body itself, or to an organisation marked as part of it
    (the council's Participation Development Officer post), is internal spend, not a grant: it
    is left out, and ``Export.internal`` lists what was left out so the summary can say so.

Fields
    ``title`` is the purpose (cut to 140 characters at a word), ``description`` the purpose with
    a sentence on delegation or pooling and one naming the pot, its funding stream and the
    document the figures come from, so a title is never the whole description.
    ``amountAwarded`` is what is allocated now (after variations); ``amountDisbursed`` what was
    paid less what came back, when anything was paid.
    ``awardDate`` is the date of the allocation's first journal entry. ``plannedDates`` is the
    allocation's period when one is set, then one event per scheduled instalment (titled
    ``Instalment 2 of 4``, its due date as start and end, its amount in the description).
    ``disbursementTransaction`` lists the payments that stand (a reversed payment is left out),
    each with its date, amount, provider and recipient; money that came back is not a
    disbursement, so after a return ``amountDisbursed`` is less than their sum.
    ``dateModified`` is when the grant's last journal entry was posted (the allocation, a
    variation, a payment, a return or a reversal).
    ``dataSource`` is the web address recorded on the pot (a delegated pot without one cites its
    parent's). ``beneficiaryLocation`` is the pot's area, else the accountable body's place;
    ``recipientOrganization.location`` is the recipient's place, where known. Places are ONS/GSS
    codes with their 360Giving geoCodeType (``S12000005``, ``CA``). ``fundingOrganization`` is
    whoever administers the pots the money comes from: the accountable body for its own pots,
    the intermediary for sub-grants from a delegated pot (a pooled contract across both lists
    both); a file with more than one funder says so in its description. ``grantProgramme`` is the
    funding stream. Promise Plan action codes and foundations become ``classifications``.
    Sub-grants name their delegation's grant in ``relatedActivity``.

Regrant types (the closed ``regrantType`` codelist, 360Giving 1.4)
    A delegation is money handed to one grant-making organisation (CTSI) for onward grants to
    end recipients: ``FRG010`` (Common regrant), as the codelist defines it. ``FRG020``
    (Transfer to intermediary) is for an intermediary that passes money to other organisations
    to re-grant, which a delegation in this ledger does not do. A pooled contract pays the
    recipient for a service it delivers itself, not for onward grants, so it has no regrant
    type (``FRG040``, Funder collaboration, is a fund that several funders give to a
    grant-maker). ``REGRANT_TYPES`` holds the mapping.

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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import identifiers, promise, timeline
from ledger.errors import InvalidInput
from ledger.models import Allocation, Entry, Instalment, Organisation, Pot
from ledger.money import format_pence, pence_to_decimal
from ledger.operations import ACCOUNTABLE_BODY, get_setting
from ledger.organisations import identifiers_of, is_internal_spend
from ledger.schedule import Paid
from statements.render.csv_safe import Amount, write_csv

PREFIX_SETTING = "360giving_prefix"
STANDARD_VERSION = "1.4"
CURRENCY = "GBP"
TITLE_LIMIT = 140
INSTALMENT_TITLE = "Instalment"  # plannedDates events for instalments: "Instalment 2 of 4"

REGRANT_DELEGATION = "FRG010"  # Common regrant
REGRANT_TYPES: dict[str, str | None] = {"delegation": REGRANT_DELEGATION, "pooled": None}

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
        self.minted: dict[int, str] = {}  # id → name of each organisation given a 360G id
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
        self.minted[org.id] = org.name
        return f"360G-{self.prefix}-org-{self._fallback.get(org.id) or slug(org.name)}"

    def describe(self, org: Organisation) -> Json:
        out: Json = {"id": self.identifier(org), "name": org.name}
        numbers = identifiers_of(org)
        charity = numbers.charity_number()
        if charity:
            out["charityNumber"] = charity
        if numbers.company:
            out["companyNumber"] = numbers.company
        if org.location_code:
            out["location"] = [place(org.location_code, org.location_name)]
        return out


def registered_identifier(org: Organisation) -> str | None:
    """The org-id.guide identifier that comes first by precedence, or None if the ledger has
    no registered number for the organisation."""
    found = identifiers_of(org).org_ids()
    return found[0] if found else None


def place(code: str, name: str | None) -> Json:
    """A 360Giving Location for an ONS/GSS code: ``S12000005`` is a council area (``CA``)."""
    out: Json = {"geoCode": code}
    kind = identifiers.geo_code_type(code)
    if kind:
        out["geoCodeType"] = kind
    if name:
        out["name"] = name
    out["countryCode"] = "GB"
    return out


# The package ---------------------------------------------------------------------------------


@dataclass
class Export:
    """A package and what a publisher should be told about it."""

    package: Json
    internal: list[str] = field(default_factory=list)  # "WFWF-22-01 (Participation …)"
    minted: list[str] = field(default_factory=list)  # organisations with only a 360G id

    def summary(self) -> list[str]:
        """The lines ``commonpurse export 360giving`` prints after it writes the file."""
        lines: list[str] = []
        if self.internal:
            count = len(self.internal)
            lines.append(
                f"Left out {count} internal spend allocation{'s' if count > 1 else ''} (money"
                " the accountable body spends itself is not a grant): " + "; ".join(self.internal)
            )
        if self.minted:
            lines.append(
                f"Warning: {len(self.minted)} organisation{'s' if len(self.minted) > 1 else ''}"
                " have only a minted 360G identifier, so GrantNav cannot link their grants to"
                " other funders' (add a registered number with 'commonpurse organisation set'): "
                + "; ".join(self.minted)
            )
        return lines


def export_360giving(session: Session, *, prefix: str | None = None) -> Json:
    """A 360Giving grants package: ``{"version": "1.4", "publisher": …, "grants": […]}``.

    Amounts are ``Decimal``; serialise with :func:`to_json`. Raises ``InvalidInput`` when no
    accountable body is set or nothing is left to publish (a package needs at least one grant).
    """
    return build_export(session, prefix=prefix).package


def build_export(session: Session, *, prefix: str | None = None) -> Export:
    """The package, the internal spend left out of it and the organisations with minted ids."""
    chosen = resolve_prefix(session, prefix)
    body = _accountable_body(session)
    orgs = OrgIds(session, chosen)
    allocations = session.scalars(
        select(Allocation).where(Allocation.status != "provisional").order_by(Allocation.id)
    ).all()
    internal = [a for a in allocations if is_internal_spend(a, body)]
    grants_from = [a for a in allocations if not is_internal_spend(a, body)]
    if not grants_from:
        raise InvalidInput(
            "There are no confirmed allocations to publish"
            + (" (only internal spend, which is not a grant)" if internal else "")
            + "; a 360Giving file needs at least one grant"
        )
    ids = [a.id for a in grants_from]
    context = _Context(
        prefix=chosen,
        orgs=orgs,
        award_dates=_first_dates(session),
        modified=_last_posted(session),
        area=_body_area(body),
        instalments=timeline.instalments_of(session, ids),
        payments=timeline.payments_on(session, ids),
    )
    grants = [_grant(allocation, context) for allocation in grants_from]
    package: Json = {
        "version": STANDARD_VERSION,
        "title": f"Grants and allocations recorded by {body.name}",
        "description": _package_description(grants),
        "publisher": {"name": body.name, "identifier": orgs.identifier(body)},
        "grants": grants,
    }
    stamps = [g["dateModified"] for g in grants if "dateModified" in g]
    if stamps:
        package["modified"] = max(stamps)
    return Export(
        package=package,
        internal=[
            f"{a.reference} ({' '.join(a.purpose.split()) or a.recipient.name})" for a in internal
        ],
        minted=sorted(orgs.minted.values()),
    )


def _package_description(grants: Sequence[Json]) -> str:
    text = (
        "Allocations, delegations to intermediaries, their sub-grants and pooled contracts,"
        " exported from the commonpurse ledger. Amounts are in pounds sterling as allocated"
        " after variations. Internal spend (money the accountable body spends itself) is not"
        " included."
    )
    funders = _distinct(org["name"] for g in grants for org in g["fundingOrganization"])
    if len(funders) > 1:
        text += (
            f" This file covers grants from {len(funders)} funders: {_and(funders)}; grants made"
            " by an intermediary from money delegated to it name the delegation in"
            " relatedActivity."
        )
    return text


@dataclass(frozen=True)
class _Context:
    prefix: str
    orgs: OrgIds
    award_dates: dict[int, dt.date]
    modified: dict[int, dt.datetime]
    area: Json | None
    instalments: dict[int, list[Instalment]]
    payments: dict[int, list[Paid]]


def _body_area(body: Organisation) -> Json | None:
    return place(body.location_code, body.location_name) if body.location_code else None


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


def _grant(allocation: Allocation, context: _Context) -> Json:
    prefix, orgs = context.prefix, context.orgs
    pots = [share.pot for share in allocation.shares]
    funders = _distinct(pot.administered_by for pot in pots)
    purpose = " ".join(allocation.purpose.split())
    delegated = allocation.delegated_pot
    award_date = context.award_dates.get(allocation.id) or allocation.created_at.date()
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
    instalments = _instalment_events(context.instalments.get(allocation.id, []))
    if instalments:
        grant["plannedDates"] = grant.get("plannedDates", []) + instalments
    payments = context.payments.get(allocation.id, [])
    if payments:
        grant["disbursementTransaction"] = [
            _disbursement(grant, payment, allocation, funders, orgs) for payment in payments
        ]
    areas = _distinct(_area(pot) or context.area for pot in pots)
    if any(areas):
        grant["beneficiaryLocation"] = [a for a in areas if a]
    streams = _distinct(pot.stream for pot in pots if pot.stream is not None)
    if streams:
        grant["grantProgramme"] = [
            {"code": slug(s.short_name or s.name) or f"stream-{s.id}", "title": s.name}
            for s in streams
        ]
    classifications = list(_classifications(allocation))
    if classifications:
        grant["classifications"] = classifications
    regrant = REGRANT_TYPES["delegation"] if delegated is not None else None
    if regrant is None and allocation.is_pooled:
        regrant = REGRANT_TYPES["pooled"]
    if regrant:
        grant["regrantType"] = regrant
    parents = [
        grant_id(prefix, pot.parent_allocation.reference)
        for pot in pots
        if pot.parent_allocation is not None
    ]
    if parents:
        grant["relatedActivity"] = parents
    last = context.modified.get(allocation.id)
    if last is not None:
        grant["dateModified"] = utc_iso(last)
    sources = _distinct(source for pot in pots if (source := _cited(pot, "data_source")))
    if sources:
        grant["dataSource"] = sources[0]
    return grant


def _instalment_events(rows: Sequence[Instalment]) -> list[Json]:
    """One plannedDates event per instalment, in due order: the payment plan of the grant."""
    return [
        {
            "title": f"{INSTALMENT_TITLE} {number} of {len(rows)}",
            "startDate": row.due_date.isoformat(),
            "endDate": row.due_date.isoformat(),
            "description": (
                f"Instalment of {format_pence(row.amount_pence)} due to be paid on"
                f" {row.due_date.day} {row.due_date:%B %Y}"
            ),
        }
        for number, row in enumerate(rows, start=1)
    ]


def _disbursement(
    grant: Json,
    payment: Paid,
    allocation: Allocation,
    funders: Sequence[Organisation],
    orgs: OrgIds,
) -> Json:
    """A payment that stands, as a 360Giving Transaction. A pooled contract's payment comes
    from several funders at once, so it names no single provider."""
    out: Json = {
        "id": f"{grant['id']}-{'-'.join(payment.reference.split())}",
        "transactionDate": payment.date.isoformat(),
        "currency": CURRENCY,
        "value": pounds(payment.amount_pence),
        "description": f"Payment {payment.reference}",
        "recipient": orgs.identifier(allocation.recipient),
    }
    if len(funders) == 1:
        out["provider"] = orgs.identifier(funders[0])
    return out


def _cited(pot: Pot, attribute: str) -> str | None:
    """The pot's own value, else (for a delegated pot) its parent pot's."""
    value: str | None = getattr(pot, attribute)
    if value or pot.parent_allocation is None:
        return value
    parents = [share.pot for share in pot.parent_allocation.shares]
    return next((v for p in parents if (v := _cited(p, attribute))), None)


def _area(pot: Pot) -> Json | None:
    if pot.area_code:
        return place(pot.area_code, pot.area_name)
    if pot.parent_allocation is not None:
        return next((a for share in pot.parent_allocation.shares if (a := _area(share.pot))), None)
    return None


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
    for pot in pots:
        stream = f" ({pot.stream.name})" if pot.stream is not None else ""
        document = _cited(pot, "source_document")
        cited = f", as recorded in {document}" if document else ""
        parts.append(f"Funded from {pot.name}{stream}{cited}.")
    return " ".join(parts)


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
    (
        "plannedDates",
        "Planned Dates",
        (("title", "Title"), ("startDate", "Start Date"), ("endDate", "End Date")),
    ),
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
    (
        "beneficiaryLocation",
        "Beneficiary Location",
        (
            ("name", "Name"),
            ("geoCode", "Geographic Code"),
            ("geoCodeType", "Geographic Code Type"),
            ("countryCode", "Country Code"),
        ),
    ),
    ("grantProgramme", "Grant Programme", (("code", "Code"), ("title", "Title"))),
    (
        "classifications",
        "Classifications",
        (("vocabulary", "Vocabulary"), ("code", "Code"), ("title", "Title")),
    ),
    (
        "disbursementTransaction",
        "Disbursement Transaction",
        (
            ("id", "Identifier"),
            ("transactionDate", "Transaction Date"),
            ("value", "Value"),
            ("provider", "Provider"),
            ("recipient", "Recipient"),
        ),
    ),
)
_TRAILING = (
    ("regrantType", "For Regrant Type"),
    ("relatedActivity", "Related Activity"),
    ("dateModified", "Last Modified"),
    ("dataSource", "Data Source"),
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
