"""The publisher checks that matter for this file (statements/exports/quality_360giving.py), over
the demo's export and over a generated ledger's, and proof that each check fires when it should.

The demo passes every check its data allows. The one finding left is Community House: CTSI's
line for it says only "Funding approved", so the documents give no period to publish.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger.demo import load_demo
from ledger.organisations import IdentifierChange, set_identifiers, set_publication
from statements.exports.export_360giving import build_export, to_json
from statements.exports.quality_360giving import CHECKS, Finding, check_package
from tests.test_exports import official_validator

Run = Callable[[Callable[[Session], Any]], Any]
PREFIX = "cpexample"


def published(run: Run) -> dict[str, Any]:
    """The package as a publisher's tools read it: the JSON text, parsed."""
    package = run(lambda s: build_export(s, prefix=PREFIX).package)
    parsed: dict[str, Any] = json.loads(to_json(package))
    assert official_validator().is_valid(parsed)
    return parsed


def test_the_demo_passes_every_check_its_documents_allow(run: Run) -> None:
    run(load_demo)
    package = published(run)
    assert check_package(package) == [
        Finding("planned dates", f"360G-{PREFIX}-CTSI-22-04", "No planned dates")
    ]
    grants = {g["id"].removeprefix(f"360G-{PREFIX}-"): g for g in package["grants"]}
    # Every registered charity is linked by its registered identifier...
    registered = {
        g["recipientOrganization"][0]["name"]: g["recipientOrganization"][0]["id"]
        for g in package["grants"]
        if not g["recipientOrganization"][0]["id"].startswith("360G-")
    }
    assert registered == {
        "Aberlour": "GB-SC-SC007991",
        "Action for Children": "GB-CHC-1097940",
        "Barnardo's": "GB-CHC-216250",
    }
    # ...the council's own post is not a grant, and every grant has a place and a source.
    assert "WFWF-22-01" not in grants
    assert all(g["beneficiaryLocation"][0]["geoCode"] == "S12000005" for g in grants.values())
    assert {g["dataSource"] for g in grants.values()} == {"https://www.clacks.gov.uk/"}
    assert grants["CTSI-22-01"]["plannedDates"] == [
        {"startDate": "2022-10-01", "endDate": "2023-09-30"}
    ]
    assert grants["WFWF-22-02"]["plannedDates"] == [
        {"startDate": "2022-04-01", "endDate": "2023-03-31"}
    ]
    assert "This file covers grants from 2 funders" in package["description"]


def test_each_check_fires_on_a_file_that_breaks_it(run: Run) -> None:
    run(load_demo)
    good = published(run)
    bad = copy.deepcopy(good)
    aberlour, afc, barnardos, ctsi, *_ = bad["grants"]
    aberlour["recipientOrganization"][0]["id"] = "360G-cpexample-org-aberlour"
    afc["beneficiaryLocation"] = [{"name": "Clackmannanshire"}]
    barnardos["description"] = barnardos["title"]
    del ctsi["dataSource"]
    ctsi["plannedDates"] = [{"startDate": "2023-04-01", "endDate": "2023-03-31"}]
    bad["grants"][5]["recipientOrganization"] = bad["grants"][5]["fundingOrganization"]
    bad["grants"].append({**copy.deepcopy(bad["grants"][4]), "id": "360G-cpexample-COPY"})
    bad["description"] = "Grants."

    findings = check_package(bad)
    assert {f.check for f in findings} == set(CHECKS)
    by_grant = {(f.check, f.grant.removeprefix("360G-cpexample-")) for f in findings}
    assert {
        ("registered identifiers", "WFWF-22-02"),
        ("locations", "WFWF-22-03"),
        ("titles and descriptions", "WFWF-22-04"),
        ("data source", "WFWF-22-05"),
        ("planned dates", "WFWF-22-05"),
        ("registered identifiers", "CTSI-22-02"),
        ("titles and descriptions", "COPY"),
        ("funders", ""),
    } <= by_grant
    assert "Aberlour is charity SC007991 but is identified as 360G-cpexample-org-aberlour" in {
        f.message for f in findings
    }


# A generated ledger ---------------------------------------------------------------------------

BODY = "Anytown Council"


def identifier_for(rng: random.Random, index: int) -> IdentifierChange:
    """A registered number of a random register (or none), in a form people type."""
    digits = "".join(rng.choice("0123456789") for _ in range(6))
    return rng.choice(
        [
            IdentifierChange(charity_numbers=[f"sc{digits}"]),
            IdentifierChange(charity_numbers=[f"1{digits}"]),
            IdentifierChange(charity_numbers=[f"2{digits}", f"SC{digits}"]),
            IdentifierChange(ni_charity_number=f"NIC1{digits[:5]}"),
            IdentifierChange(company_number=str(int(digits) + 1)),
            IdentifierChange(company_number=f"SC{digits}", location_code="S12000005"),
            IdentifierChange(other_identifier=f"GB-EDU-{digits}"),
            IdentifierChange(location_code=f"E0600000{index % 10}"),
            IdentifierChange(),
        ]
    )


def generated_ledger(session: Session, seed: int) -> tuple[int, int]:
    """A council with two funders' pots, providers of every register, internal spend, a
    delegation with sub-grants and a pooled contract. Returns (grants, internal) expected."""
    rng = random.Random(seed)
    officer, approver = "gen.officer", "gen.approver"
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, BODY)
    ops.ensure_organisation(session, BODY, ["accountable_body"])
    set_identifiers(
        session,
        BODY,
        IdentifierChange(local_authority_code="GB-LAE-ANY", location_code="E06000001"),
        actor=officer,
    )
    pots = []
    for number, funder in enumerate(("Anytown Trust", "Department for Places"), start=1):
        org = ops.ensure_organisation(session, funder, ["funder"])
        stream = ops.ensure_stream(session, f"{funder} fund", org)
        pot = f"{funder} 2024-25"
        ops.open_pot(
            session, pot, ops.accountable_body(session), stream=stream, financial_year=2024
        )
        ops.record_award(
            session,
            reference=f"AWARD-{number}",
            pot=pot,
            funder=funder,
            amount_pence=100_000_000,
            award_date=dt.date(2024, 4, 1),
            entered_by=officer,
            approved_by=approver,
            memo=f"Award from {funder}",
        )
        set_publication(
            session,
            pot,
            actor=officer,
            data_source=f"https://example.org/reports/{number}",
            area_code="E05000026" if number == 2 else None,
        )
        pots.append(pot)
    ops.ensure_organisation(session, "Anytown Council (Youth Service)", ["provider"])
    set_identifiers(
        session,
        "Anytown Council (Youth Service)",
        IdentifierChange(is_internal=True),
        actor=officer,
    )
    grants = internal = 0

    def allocate(
        reference: str,
        pot: str,
        recipient: str,
        to_pot: str | None = None,
        most: int = 2_000_000,
        start: dt.date | None = None,
    ) -> None:
        start = start or dt.date(2024, 4, 1) + dt.timedelta(days=rng.randrange(300))
        ops.allocate(
            session,
            reference=reference,
            pot=pot,
            recipient=recipient,
            amount_pence=5_000_000 if to_pot else rng.randrange(1_000, most),
            date=start,
            entered_by=officer,
            approved_by=approver,
            purpose=f"Service {reference} run by {recipient}",
            period_start=start,
            period_end=start + dt.timedelta(days=rng.choice((90, 364, 729))),
            to_pot=to_pot,
        )

    for index in range(rng.randrange(8, 16)):
        name = f"Provider {index}"
        ops.ensure_organisation(session, name, ["provider"])
        set_identifiers(session, name, identifier_for(rng, index), actor=officer)
        allocate(f"GEN-{index}", rng.choice(pots), name)
        grants += 1
    for index, recipient in enumerate((BODY, "Anytown Council (Youth Service)")):
        allocate(f"OWN-{index}", pots[index], recipient)
        internal += 1
    ops.ensure_organisation(session, "Anytown Voluntary Action", ["intermediary"])
    set_identifiers(
        session,
        "Anytown Voluntary Action",
        IdentifierChange(charity_numbers=["1123456"]),
        actor=officer,
    )
    # Sub-grants follow their delegation: it is made on the first day of the year.
    allocate(
        "DELEGATION",
        pots[0],
        "Anytown Voluntary Action",
        to_pot="AVA small grants",
        start=dt.date(2024, 4, 1),
    )
    grants += 1
    for index in range(rng.randrange(1, 4)):
        allocate(f"SMALL-{index}", "AVA small grants", f"Provider {index}", most=1_000_000)
        grants += 1
    ops.allocate_pooled(
        session,
        reference="POOLED",
        shares=[(pots[0], 50_000), (pots[1], 70_000)],
        recipient="Provider 0",
        date=dt.date(2024, 6, 1),
        entered_by=officer,
        approved_by=approver,
        purpose="Pooled family service",
        period_start=dt.date(2024, 6, 1),
        period_end=dt.date(2025, 5, 31),
    )
    return grants + 1, internal


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_generated_ledgers_export_is_valid_and_passes_every_check(run: Run, seed: int) -> None:
    grants, internal = run(lambda s: generated_ledger(s, seed))
    export = run(lambda s: build_export(s, prefix=PREFIX))
    package = published(run)
    assert check_package(package) == []
    assert len(package["grants"]) == grants
    assert len(export.internal) == internal
    assert not any("OWN-" in g["id"] for g in package["grants"])
    # Minted identifiers only where the ledger knows no registered number.
    for grant in package["grants"]:
        for org in grant["recipientOrganization"]:
            if org["id"].startswith("360G-"):
                assert org["name"] in export.minted
                assert "charityNumber" not in org and "companyNumber" not in org
    places = {p["geoCode"] for g in package["grants"] for p in g["beneficiaryLocation"]}
    assert places <= {"E06000001", "E05000026"}
