"""The checks a 360Giving publisher runs before GrantNav takes a file, over the package itself.

The schema says whether a file is well-formed; these say whether it is useful. Each check
follows 360Giving's guidance for publishers and reads only the JSON, so it judges any package,
not just this ledger's:

``registered identifiers``
    An organisation whose charity or company number the file gives is identified by it
    (``GB-CHC-``, ``GB-SC-``, ``GB-NIC-``, ``GB-COH-`` and that number), not by a minted
    ``360G-`` identifier, and no grant is made by an organisation to itself.
``funders``
    One funding organisation per file, or a package description that names every funder, so a
    reader knows the file covers several.
``locations``
    Every grant says where its beneficiaries are, as a geographic code and its type.
``planned dates``
    Every grant has a planned start and end, the end not before the start (instalment events,
    which are payment dates, do not count as the grant's period).
``data source``
    Every grant has a ``dataSource`` web address.
``titles and descriptions``
    A grant's description says more than its title, and no two grants share both.

:func:`check_package` returns every finding; an empty list means the file passes them all.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from statements.exports.export_360giving import INSTALMENT_TITLE

Json = dict[str, Any]

CHECKS = (
    "registered identifiers",
    "funders",
    "locations",
    "planned dates",
    "data source",
    "titles and descriptions",
)
_CHARITY_PREFIXES = ("GB-CHC", "GB-SC", "GB-NIC")


@dataclass(frozen=True)
class Finding:
    check: str  # one of CHECKS
    grant: str  # the grant's id, or "" for the file as a whole
    message: str


def check_package(package: Json) -> list[Finding]:
    """Every finding of every check, in file order."""
    grants: list[Json] = package.get("grants", [])
    findings: list[Finding] = []
    for grant in grants:
        findings += _identifiers(grant)
        findings += _location(grant)
        findings += _planned_dates(grant)
        findings += _data_source(grant)
        findings += _title(grant)
    findings += _funders(package, grants)
    findings += _repeated(grants)
    return findings


def _identifiers(grant: Json) -> list[Finding]:
    out = []
    orgs = grant.get("recipientOrganization", []) + grant.get("fundingOrganization", [])
    for org in orgs:
        identifier, name = str(org["id"]), org.get("name")
        charity = str(org.get("charityNumber") or "").removeprefix("NIC")
        if charity and identifier not in {f"{p}-{charity}" for p in _CHARITY_PREFIXES}:
            out.append(
                Finding(
                    "registered identifiers",
                    grant["id"],
                    f"{name} is charity {charity} but is identified as {identifier}",
                )
            )
        elif org.get("companyNumber") and identifier.startswith("360G-"):
            out.append(
                Finding(
                    "registered identifiers",
                    grant["id"],
                    f"{name} is company {org['companyNumber']} but is identified as {identifier}",
                )
            )
    recipients = {org["id"] for org in grant.get("recipientOrganization", [])}
    funders = {org["id"] for org in grant.get("fundingOrganization", [])}
    for same in sorted(recipients & funders):
        out.append(Finding("registered identifiers", grant["id"], f"{same} funds itself"))
    return out


def _funders(package: Json, grants: list[Json]) -> list[Finding]:
    names: dict[str, str] = {}
    for grant in grants:
        for org in grant.get("fundingOrganization", []):
            names.setdefault(org["id"], str(org.get("name", "")))
    if len(names) <= 1:
        return []
    description = str(package.get("description", ""))
    missing = [name for name in names.values() if name not in description]
    if f"{len(names)} funders" in description and not missing:
        return []
    return [
        Finding(
            "funders",
            "",
            f"The file has {len(names)} funders but its description does not say so and name"
            f" them all (missing: {', '.join(missing) or 'the count'})",
        )
    ]


def _location(grant: Json) -> list[Finding]:
    places = grant.get("beneficiaryLocation", [])
    if any(p.get("geoCode") and p.get("geoCodeType") for p in places):
        return []
    return [Finding("locations", grant["id"], "No beneficiary location with a geographic code")]


def _planned_dates(grant: Json) -> list[Finding]:
    # An instalment's event is a payment date, not the activity's period.
    periods = [
        p
        for p in grant.get("plannedDates", [])
        if not str(p.get("title", "")).startswith(INSTALMENT_TITLE + " ")
    ]
    if not periods:
        return [Finding("planned dates", grant["id"], "No planned dates")]
    out = []
    for period in periods:
        start, end = period.get("startDate"), period.get("endDate")
        if not start or not end:
            out.append(Finding("planned dates", grant["id"], "A planned start or end is missing"))
        elif end[:10] < start[:10]:
            out.append(Finding("planned dates", grant["id"], "The planned end is before the start"))
    return out


def _data_source(grant: Json) -> list[Finding]:
    source = grant.get("dataSource")
    if isinstance(source, str) and re.match(r"https?://\S+\.\S+", source):
        return []
    return [Finding("data source", grant["id"], "No dataSource web address")]


def _title(grant: Json) -> list[Finding]:
    title = " ".join(str(grant.get("title", "")).split()).casefold()
    description = " ".join(str(grant.get("description", "")).split()).casefold()
    if title and description and title != description:
        return []
    return [Finding("titles and descriptions", grant["id"], "The description is the title again")]


def _repeated(grants: list[Json]) -> list[Finding]:
    pairs = Counter((g.get("title"), g.get("description")) for g in grants)
    return [
        Finding("titles and descriptions", g["id"], "Another grant has the same title and text")
        for g in grants
        if pairs[(g.get("title"), g.get("description"))] > 1
    ]
