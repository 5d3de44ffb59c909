"""Exports, read back by the tools that consume them: the official 360Giving JSON Schema
(offline), beancount's own loader, and Python's csv module.

The ledger is Clackmannanshire's demo plus a year of activity recorded through
``ledger.operations``: a receipt from the Scottish Government, payments (including the cash
handed to CTSI and one of CTSI's sub-grants), a return, a payment reversed, a pooled contract
funded from two pots, and a recipient and memos written to attack a spreadsheet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core.data import Open, Transaction
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import cli, timeline
from ledger import operations as ops
from ledger.demo import (
    APPROVER,
    COUNCIL,
    CTSI,
    OFFICER,
    PROMISE_POT,
    SCOTTISH_GOVERNMENT,
    WFWF_POT,
    load_demo,
)
from ledger.errors import InvalidInput
from ledger.models import Account, Entry, Line
from ledger.money import parse_pence, pence_to_decimal
from ledger.schedule import split_instalments
from statements.exports.export_360giving import (
    PREFIX_SETTING,
    export_360giving,
    export_360giving_csv,
    slug,
    to_json,
)
from statements.exports.export_beancount import component, export_beancount
from statements.exports.export_journal import HEADER, export_journal_csv
from statements.exports.quality_360giving import check_package

Run = Callable[[Callable[[Session], Any]], Any]

# The official schemas and codelists (CC BY 4.0), kept unmodified in tests/data so the
# validation runs offline; SOURCE.txt there says where they come from.
SCHEMA_DIR = Path(
    os.environ.get("COMMONPURSE_360GIVING_SCHEMA", Path(__file__).parent / "data" / "360giving")
)
# The package schema (1.4.3) points its grants at this remote copy of the grant schema; the
# local, unmodified copy is registered under that address so nothing is fetched.
REMOTE_GRANT_SCHEMA = (
    "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2"
    "/schema/360-giving-schema.json"
)

COUNCIL_POT = "Council Family Support 2022-23"
HOSTILE_RECIPIENT = '=HYPERLINK("http://evil.example/x","Click me")'
HOSTILE_MEMOS = ("+1 instalment", "-1 adjustment", "@SUM(A1:A9)", "\tTabbed memo", "\rCR memo")
QUOTED_MEMO = 'He said "paid in full" \\ and left'


def busy_ledger(session: Session) -> None:
    """The demo plus receipts, payments, a return, a reversal, a pooled contract and hostile
    text, all through the ledger's own operations."""
    ops.ensure_organisation(session, "Aberlour", ["provider"], charity_number="SC012345")
    ops.ensure_organisation(session, "Barnardo's", ["provider"], company_number="61625")
    load_demo(session)
    day = dt.date(2022, 11, 1)
    ops.record_receipt(
        session,
        reference="SG-WFWF-RECEIPT-1",
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=20_000_000,
        date=dt.date(2022, 6, 30),
        entered_by=OFFICER,
        memo="First WFWF instalment from the Scottish Government",
        approved_by="finance",
    )

    def pay(reference: str, allocation: str, pence: int, memo: str) -> Entry:
        entry = ops.pay(
            session,
            reference=reference,
            allocation=allocation,
            amount_pence=pence,
            date=day,
            entered_by=OFFICER,
            approved_by=APPROVER,
            memo=memo,
        )
        assert isinstance(entry, Entry)
        return entry

    pay("PAY-ABERLOUR-1", "WFWF-22-02", 2_500_000, "Aberlour Sustain, first quarter")
    pay("PAY-CTSI-1", "WFWF-22-05", 8_233_618, QUOTED_MEMO)
    pay("PAY-HOMESTART-1", "CTSI-22-01", 905_800, "Homestart, full year")
    ops.return_unspent(
        session,
        reference="RETURN-ABERLOUR-1",
        allocation="WFWF-22-02",
        amount_pence=100_000,
        date=dt.date(2023, 3, 1),
        entered_by=OFFICER,
        memo="Underspend on staff costs",
        approved_by="finance",
    )
    mistake = pay("PAY-AFC-WRONG", "WFWF-22-03", 500_000, "Paid against the wrong allocation")
    ops.reverse(
        session,
        entry_id=mistake.id,
        reason="Paid against the wrong allocation",
        entered_by=APPROVER,
        reference="REVERSE-AFC-WRONG",
        approved_by="finance",
    )
    ops.record_award(
        session,
        reference="COUNCIL-FAMILY-2022",
        pot=COUNCIL_POT,
        funder=COUNCIL,
        amount_pence=3_000_000,
        award_date=dt.date(2022, 4, 1),
        entered_by=OFFICER,
        memo="Council core budget for family support",
        approved_by="finance",
    )
    ops.allocate_pooled(
        session,
        reference="POOL-22-01",
        shares=[(PROMISE_POT, 2_000_000), (COUNCIL_POT, 1_000_000)],
        recipient="Family Link Partnership",
        date=day,
        entered_by=OFFICER,
        approved_by=APPROVER,
        purpose="Pooled family link service",
        period_start=dt.date(2022, 11, 1),
        period_end=dt.date(2023, 10, 31),
        tags=["WFS 1", "2"],
    )
    pay("PAY-POOL-1", "POOL-22-01", 600_001, "Pooled contract, first instalment")
    ops.allocate(
        session,
        reference="HOSTILE-1",
        pot=PROMISE_POT,
        recipient=HOSTILE_RECIPIENT,
        amount_pence=100_000,
        date=day,
        entered_by=OFFICER,
        approved_by=APPROVER,
        purpose="@SUM(1+1)*cmd|' /C calc'!A0",
    )
    for number, memo in enumerate(HOSTILE_MEMOS, start=1):
        pay(f"PAY-HOSTILE-{number}", "HOSTILE-1", 1_000, memo)


@pytest.fixture
def busy(run: Run) -> None:
    run(busy_ledger)


# 360Giving -----------------------------------------------------------------------------------


def official_validator() -> Draft202012Validator:
    """The 360Giving package schema with the grant schema resolved locally (no network).

    Dates are ``oneOf`` a date-time format or a YYYY-MM-DD pattern, so the format must be
    checked or every plain date matches neither-or-both; jsonschema checks ``date-time`` only
    with an optional package installed, so an RFC 3339 check is registered here instead.
    """
    if not SCHEMA_DIR.is_dir():
        pytest.fail(f"the 360Giving schema is not at {SCHEMA_DIR}")
    package_schema = json.loads((SCHEMA_DIR / "360-giving-package-schema.json").read_text())
    grant_schema = json.loads((SCHEMA_DIR / "360-giving-schema.json").read_text())
    grant = DRAFT202012.create_resource(grant_schema)
    registry: Registry[Any] = Registry().with_resources(
        [(REMOTE_GRANT_SCHEMA, grant), (grant_schema["$id"], grant)]
    )
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
    def rfc3339(value: object) -> bool:
        if not isinstance(value, str):
            return True
        pattern = r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)"
        if not re.fullmatch(pattern, value):
            return False
        dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        return True

    return Draft202012Validator(package_schema, registry=registry, format_checker=checker)


def codelist(name: str) -> set[str]:
    with (SCHEMA_DIR / "codelists" / name).open(newline="", encoding="utf-8") as handle:
        return {row["Code"] for row in csv.DictReader(handle)}


def grants_by_reference(package: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    start = f"360G-{prefix}-"
    assert all(g["id"].startswith(start) for g in package["grants"])
    return {g["id"].removeprefix(start): g for g in package["grants"]}


def test_the_360giving_package_validates_against_the_official_schema_offline(
    run: Run, busy: None
) -> None:
    validator = official_validator()
    package = run(lambda s: export_360giving(s, prefix="cpexample"))
    published = json.loads(to_json(package))

    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(published)]
    assert errors == []
    assert validator.is_valid(package)  # the Decimal amounts are numbers too

    # The validator is not a rubber stamp: it refuses what the standard refuses.
    broken = json.loads(to_json(package))
    broken["grants"][0]["amountAwarded"] = "82336.18"
    del broken["grants"][1]["recipientOrganization"]
    broken["grants"][2]["awardDate"] = "01/10/2022"
    assert len(list(validator.iter_errors(broken))) == 3
    assert not validator.is_valid({"grants": []})


def _aberlour_quarterly_half_paid(session: Session) -> None:
    """The demo, Aberlour's £100,000 scheduled quarterly from 1 October 2022, the Scottish
    Government's first £200,000 received, and two quarters paid (one payment reversed)."""
    load_demo(session)
    timeline.set_schedule(
        session,
        allocation="WFWF-22-02",
        instalments=split_instalments(10_000_000, dt.date(2022, 10, 1), 4, "quarterly"),
        entered_by=OFFICER,
    )
    ops.record_receipt(
        session,
        reference="SG-WFWF-RECEIPT-1",
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=20_000_000,
        date=dt.date(2022, 6, 30),
        entered_by=OFFICER,
        memo="First WFWF instalment from the Scottish Government",
        approved_by="finance",
    )
    for reference, day in (("PAY-AB-1", dt.date(2022, 10, 3)), ("PAY-AB-2", dt.date(2023, 1, 4))):
        entry = ops.pay(
            session,
            reference=reference,
            allocation="WFWF-22-02",
            amount_pence=2_500_000,
            date=day,
            entered_by=OFFICER,
            approved_by=APPROVER,
            memo="Aberlour Sustain, a quarter",
        )
    assert isinstance(entry, Entry)
    ops.reverse(
        session,
        entry_id=entry.id,
        reason="Paid twice from the bank; paid again below",
        entered_by=APPROVER,
        reference="REVERSE-AB-2",
        approved_by="finance",
    )
    ops.pay(
        session,
        reference="PAY-AB-2B",
        allocation="WFWF-22-02",
        amount_pence=2_500_000,
        date=dt.date(2023, 1, 5),
        entered_by=OFFICER,
        approved_by=APPROVER,
        memo="Aberlour Sustain, second quarter",
    )


def test_aberlours_quarterly_schedule_and_payments_are_published_and_still_validate(
    run: Run,
) -> None:
    run(_aberlour_quarterly_half_paid)
    package = run(lambda s: export_360giving(s, prefix="cpexample"))
    published = json.loads(to_json(package))
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in official_validator().iter_errors(published)
    ]
    assert errors == []

    aberlour = grants_by_reference(published, "cpexample")["WFWF-22-02"]
    period, *instalments = aberlour["plannedDates"]
    assert period == {"startDate": "2022-04-01", "endDate": "2023-03-31"}  # "WFWF Year 1"
    assert instalments == [
        {
            "title": f"Instalment {n} of 4",
            "startDate": day,
            "endDate": day,
            "description": f"Instalment of £25,000.00 due to be paid on {words}",
        }
        for n, (day, words) in enumerate(
            (
                ("2022-10-01", "1 October 2022"),
                ("2023-01-01", "1 January 2023"),
                ("2023-04-01", "1 April 2023"),
                ("2023-07-01", "1 July 2023"),
            ),
            start=1,
        )
    ]
    # The reversed payment is not a disbursement; the two that stand are.
    assert aberlour["disbursementTransaction"] == [
        {
            "id": f"360G-cpexample-WFWF-22-02-{reference}",
            "transactionDate": day,
            "currency": "GBP",
            "value": 25000,
            "description": f"Payment {reference}",
            "recipient": "GB-SC-SC007991",
            "provider": "GB-LAS-CLK",
        }
        for reference, day in (("PAY-AB-1", "2022-10-03"), ("PAY-AB-2B", "2023-01-05"))
    ]
    assert aberlour["amountDisbursed"] == sum(
        t["value"] for t in aberlour["disbursementTransaction"]
    )
    # An unscheduled, unpaid grant carries neither.
    barnardos = grants_by_reference(published, "cpexample")["WFWF-22-04"]
    assert "disbursementTransaction" not in barnardos
    assert len(barnardos["plannedDates"]) == 1
    # The instalments are payment dates, not the grant's period: the publisher checks still
    # find only Community House's missing period, and no other.
    findings = [f for f in check_package(published) if f.check == "planned dates"]
    assert [f.message for f in findings] == ["No planned dates"]

    buffer = io.StringIO()
    run(lambda s: export_360giving_csv(s, buffer, prefix="cpexample"))
    rows = {r["Identifier"]: r for r in csv.DictReader(io.StringIO(buffer.getvalue()))}
    flat = rows["360G-cpexample-WFWF-22-02"]
    assert flat["Planned Dates:4:Title"] == "Instalment 4 of 4"
    assert flat["Planned Dates:4:Start Date"] == "2023-07-01"
    assert flat["Disbursement Transaction:1:Identifier"].endswith("PAY-AB-2B")
    assert flat["Disbursement Transaction:1:Value"] == "25000.00"


def test_the_ctsi_delegation_is_a_transfer_to_an_intermediary_and_the_pool_a_collaboration(
    run: Run, busy: None
) -> None:
    if not SCHEMA_DIR.is_dir():
        pytest.fail(f"the 360Giving schema is not at {SCHEMA_DIR}")
    package = run(lambda s: export_360giving(s, prefix="cpexample"))
    grants = grants_by_reference(package, "cpexample")
    regrant_codes = codelist("regrantType.csv")

    ctsi = grants["WFWF-22-05"]
    assert ctsi["regrantType"] == "FRG010" and "FRG010" in regrant_codes
    assert ctsi["amountAwarded"] == Decimal("82336.18")
    assert ctsi["amountDisbursed"] == Decimal("82336.18")
    assert ctsi["currency"] == "GBP"
    assert ctsi["awardDate"] == "2022-10-01"
    assert ctsi["recipientOrganization"] == [
        {"id": "360G-cpexample-org-clackmannanshire-third-sector-interface-ctsi", "name": CTSI}
    ]
    assert ctsi["fundingOrganization"] == [
        {
            "id": "GB-LAS-CLK",
            "name": COUNCIL,
            "location": [
                {
                    "geoCode": "S12000005",
                    "geoCodeType": "CA",
                    "name": "Clackmannanshire",
                    "countryCode": "GB",
                }
            ],
        }
    ]
    assert "re-grant through its pot CTSI managed WFWF Grant 2022-23" in ctsi["description"]
    text = to_json(package)
    assert '"amountAwarded": 82336.18,' in text
    assert json.loads(text, parse_float=Decimal)["grants"][3]["amountAwarded"] == Decimal(
        "82336.18"
    )
    assert json.loads(text)["grants"][3]["amountAwarded"] == 82336.18

    # CTSI's sub-grants: funded by CTSI, linked back to the delegation, not regrants themselves.
    homestart = grants["CTSI-22-01"]
    assert homestart["fundingOrganization"][0]["name"] == CTSI
    assert homestart["relatedActivity"] == ["360G-cpexample-WFWF-22-05"]
    assert "regrantType" not in homestart
    assert homestart["amountAwarded"] == Decimal("9058.00")

    # A pooled contract pays for a service the recipient delivers: not a regrant.
    pool = grants["POOL-22-01"]
    assert "regrantType" not in pool
    assert pool["amountAwarded"] == Decimal("30000.00")
    assert pool["amountDisbursed"] == Decimal("6000.01")
    assert pool["plannedDates"] == [{"startDate": "2022-11-01", "endDate": "2023-10-31"}]
    assert {(c["code"], c["title"]) for c in pool["classifications"]} == {
        ("WFS 1", "High quality family support for Care Experienced Children and Young People"),
        ("2", "Family"),
    }
    assert pool["grantProgramme"] == [
        {"code": "promise-partnership", "title": "Promise Partnership"}
    ]
    assert [g.get("regrantType") for g in package["grants"]].count(None) == len(grants) - 1

    # Aberlour: paid £25,000, £1,000 came back; the award stands, the disbursement is net.
    aberlour = grants["WFWF-22-02"]
    assert (aberlour["amountAwarded"], aberlour["amountDisbursed"]) == (
        Decimal("100000.00"),
        Decimal("24000.00"),
    )
    # Left out the regrant to CTSI, the grants count every pound once: Appendix 2's
    # £337,103.18 less the council's own £39,000 post (internal spend, not a grant), with
    # CTSI's £82,336.18 through its sub-grants, and the £30,000 pool and £1,000.
    end_grants = [g for g in package["grants"] if g.get("regrantType") != "FRG010"]
    assert sum(g["amountAwarded"] for g in end_grants) == Decimal("329103.18")
    assert "WFWF-22-01" not in grants


def test_organisations_are_identified_by_the_org_id_rules(run: Run, busy: None) -> None:
    package = run(lambda s: export_360giving(s, prefix="cpexample"))
    grants = grants_by_reference(package, "cpexample")
    # The demo records the registered numbers (Aberlour's replaces the one set before it).
    assert grants["WFWF-22-02"]["recipientOrganization"] == [
        {"id": "GB-SC-SC007991", "name": "Aberlour", "charityNumber": "SC007991"}
    ]
    # A charity that is also a company is named by its charity number, England and Wales first.
    assert grants["WFWF-22-04"]["recipientOrganization"] == [
        {
            "id": "GB-CHC-216250",
            "name": "Barnardo's",
            "charityNumber": "216250",
            "companyNumber": "00061625",
        }
    ]
    assert package["publisher"] == {"name": COUNCIL, "identifier": "GB-LAS-CLK"}
    assert grants["WFWF-22-03"]["recipientOrganization"][0]["id"] == "GB-CHC-1097940"
    assert grants["CTSI-22-02"]["recipientOrganization"][0]["id"] == (
        "360G-cpexample-org-barnardos-and-volunteering-matters"
    )
    ids = [g["id"] for g in package["grants"]]
    assert len(ids) == len(set(ids)) == 11


def test_the_prefix_comes_from_the_argument_the_setting_or_the_accountable_body(
    run: Run, busy: None
) -> None:
    fallback = run(export_360giving)
    assert fallback["grants"][0]["id"] == "360G-clackmannanshire-council-WFWF-22-02"
    run(lambda s: ops.set_setting(s, PREFIX_SETTING, "360G-clacks"))
    assert run(export_360giving)["grants"][0]["id"] == "360G-clacks-WFWF-22-02"
    assert run(lambda s: export_360giving(s, prefix="abc"))["grants"][0]["id"] == (
        "360G-abc-WFWF-22-02"
    )
    with pytest.raises(InvalidInput, match="prefix"):
        run(lambda s: export_360giving(s, prefix="my prefix"))


def test_provisional_allocations_are_not_published_and_an_empty_ledger_is_refused(
    run: Run,
) -> None:
    run(load_demo)
    run(
        lambda s: ops.allocate(
            s,
            reference="PROMISE-DRAFT",
            pot=PROMISE_POT,
            recipient="Who Cares? Scotland",
            amount_pence=500_000,
            date=dt.date(2022, 1, 10),
            entered_by=OFFICER,
            purpose="Awaiting a second signature",
        )
    )
    ids = [g["id"] for g in run(export_360giving)["grants"]]
    assert len(ids) == 9 and not any(i.endswith("PROMISE-DRAFT") for i in ids)


def test_a_ledger_with_nothing_to_publish_is_refused(run: Run) -> None:
    run(lambda s: ops.set_setting(s, ops.ACCOUNTABLE_BODY, COUNCIL))
    run(lambda s: ops.ensure_organisation(s, COUNCIL, ["accountable_body"]))
    with pytest.raises(InvalidInput, match="at least one grant"):
        run(export_360giving)


def test_amounts_are_written_exactly_from_pence() -> None:
    package = {"grants": [{"a": pence_to_decimal(p)} for p in (1, 10, 8233618, 99_999_999_999)]}
    text = to_json(package, indent=None)
    assert text == (
        '{"grants": [{"a": 0.01}, {"a": 0.10}, {"a": 82336.18}, {"a": 999999999.99}]}\n'
    )
    with pytest.raises(TypeError):
        to_json({"a": 0.1})
    assert slug("Crèche – Barnardo's & Co.") == "creche-barnardos-co"


def test_the_flat_360giving_csv_uses_the_standard_titles(run: Run, busy: None) -> None:
    buffer = io.StringIO()
    count = run(lambda s: export_360giving_csv(s, buffer, prefix="cpexample"))
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))
    assert count == len(rows) == 11
    ctsi = next(r for r in rows if r["Identifier"] == "360G-cpexample-WFWF-22-05")
    assert ctsi["Amount Awarded"] == "82336.18"
    assert ctsi["For Regrant Type"] == "FRG010"
    assert ctsi["Beneficiary Location:Geographic Code"] == "S12000005"
    assert ctsi["Data Source"] == "https://www.clacks.gov.uk/"
    assert ctsi["Recipient Org:Name"] == CTSI
    assert ctsi["Funding Org:Identifier"] == "GB-LAS-CLK"
    pool = next(r for r in rows if r["Identifier"] == "360G-cpexample-POOL-22-01")
    assert (pool["For Regrant Type"], pool["Planned Dates:Start Date"]) == ("", "2022-11-01")
    assert {pool["Classifications:0:Code"], pool["Classifications:1:Code"]} == {"WFS 1", "2"}
    hostile = next(r for r in rows if r["Identifier"] == "360G-cpexample-HOSTILE-1")
    assert hostile["Recipient Org:Name"] == "'" + HOSTILE_RECIPIENT
    assert hostile["Title"].startswith("'@SUM")
    assert (
        hostile["Recipient Org:Identifier"]
        == "360G-cpexample-org-hyperlink-http-evil-example-x-click-me"
    )


# Beancount -----------------------------------------------------------------------------------


def beancount_totals(text: str) -> tuple[dict[str, Decimal], list[Any], dict[str, Any]]:
    """Load the file with beancount's own loader: the total of each account's postings, the
    directives and the options. Fails on any error the loader (bean-check) reports."""
    entries, errors, options = loader.load_string(text)
    assert errors == []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for transaction in (e for e in entries if isinstance(e, Transaction)):
        for posting in transaction.postings:
            assert posting.units is not None and posting.units.currency == "GBP"
            totals[posting.account] += posting.units.number or Decimal(0)
    return totals, entries, options


def assert_balances_match_the_ledger(run: Run, text: str) -> dict[str, str]:
    """Each ledger account's beancount accounts (named in their open's ``ledger_account``) add
    up to its balance, to the penny; returns beancount account → ledger account code."""
    totals, entries, _ = beancount_totals(text)
    opens = {e.account: e for e in entries if isinstance(e, Open)}
    assert set(opens) == set(totals)  # an account opens only if something posts to it
    code_of = {name: o.meta["ledger_account"] for name, o in opens.items()}
    by_code: dict[str, Decimal] = defaultdict(Decimal)
    for name, total in totals.items():
        by_code[code_of[name]] += total
    ledger_accounts: dict[str, int] = run(
        lambda s: {a.code: a.balance_pence for a in s.scalars(select(Account))}
    )
    for code, balance_pence in ledger_accounts.items():
        assert by_code.get(code, Decimal(0)) == pence_to_decimal(balance_pence), code
    assert set(by_code) <= set(ledger_accounts)
    return code_of


def test_the_beancount_file_loads_cleanly_and_every_balance_matches_the_ledger(
    run: Run, busy: None
) -> None:
    text = run(export_beancount)
    code_of = assert_balances_match_the_ledger(run, text)
    _, entries, options = beancount_totals(text)
    assert options["operating_currency"] == ["GBP"]
    transactions = [e for e in entries if isinstance(e, Transaction)]

    by_code: dict[str, set[str]] = defaultdict(set)
    for name, code in code_of.items():
        by_code[code].add(name)
    assert by_code["pot:1:cash"] == {"Assets:Cash:WFWF-2022-23"}
    assert by_code["award:1:receivable"] == {
        "Assets:Receivable:Scottish-Government:WFWF-2022-23-AWARD"
    }
    assert by_code["share:5:unpaid"] == {
        "Liabilities:Delegations:Clackmannanshire-Third-Sector-Interface-CTSI:WFWF-22-05:Owed"
    }
    assert by_code["pot:2:due_in"] == {
        "Liabilities:Delegations:Clackmannanshire-Third-Sector-Interface-CTSI:WFWF-22-05:DueIn"
    }
    assert by_code["pot:2:cash"] == {"Assets:Delegated:CTSI-Managed-WFWF-Grant-2022-23:Cash"}
    # The WFWF pot's available balance, shown as the flows that made it.
    assert {
        "Income:Awards:Scottish-Government:WFWF-2022-23",
        "Expenses:Internal:Clackmannanshire-Council-Post:WFWF-22-01",
        "Expenses:Grants:Aberlour:WFWF-22-02",
        "Expenses:Delegated:Clackmannanshire-Third-Sector-Interface-CTSI:WFWF-22-05",
    } <= by_code["pot:1:available"]
    pooled = sorted(n for n in code_of if n.startswith("Liabilities:Commitments:Family-Link"))
    assert pooled == [
        "Liabilities:Commitments:Family-Link-Partnership:POOL-22-01:Council-Family-Support-2022-23",
        "Liabilities:Commitments:Family-Link-Partnership:POOL-22-01:Promise-Partnership-2021-22",
    ]

    ledger_entries = run(lambda s: s.scalars(select(Entry).order_by(Entry.id)).all())
    assert len(transactions) == len(ledger_entries)
    narrations = {t.meta["entry"]: t.narration for t in transactions}
    for entry in ledger_entries:
        assert narrations[str(entry.id)] == entry.memo
    reversal = next(t for t in transactions if t.meta.get("kind") == "reversal")
    assert reversal.meta["reverses"] in {t.meta["entry"] for t in transactions}
    assert "reversal" in reversal.tags and len(reversal.links) == 2
    # A reversal posts to the very accounts of the entry it reverses.
    original = next(t for t in transactions if t.meta["entry"] == reversal.meta["reverses"])
    assert {p.account for p in reversal.postings} == {p.account for p in original.postings}
    delegation = next(t for t in transactions if t.meta.get("reference") == "PAY-CTSI-1")
    assert delegation.narration == QUOTED_MEMO
    assert (delegation.meta["entered_by"], delegation.meta["approved_by"]) == (OFFICER, APPROVER)
    assert delegation.meta["financial_year"] == "2022-23"


def test_an_empty_ledger_is_still_a_valid_beancount_file(run: Run) -> None:
    _, errors, _ = loader.load_string(run(export_beancount))
    assert errors == []


def test_beancount_components_are_valid_names() -> None:
    assert component("CTSI managed WFWF Grant 2022-23") == "CTSI-Managed-WFWF-Grant-2022-23"
    assert component("Barnardo's") == "Barnardos"
    assert component("crèche (0-5)") == "Creche-0-5"
    assert component("東京") == ""
    for name in ("a b", "x_y", "-1", "ü"):
        assert re.fullmatch(r"([A-Z0-9][A-Za-z0-9-]*)?", component(name))


# The journal CSV -----------------------------------------------------------------------------


def read_journal(run: Run) -> list[dict[str, str]]:
    buffer = io.StringIO()
    run(lambda s: export_journal_csv(s, buffer))
    text = buffer.getvalue()
    assert text.startswith(",".join(HEADER) + "\r\n")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_journal_csv_has_every_line_and_each_entry_balances(run: Run, busy: None) -> None:
    rows = read_journal(run)
    assert len(rows) == run(lambda s: len(s.scalars(select(Line)).all()))
    debits: dict[str, int] = defaultdict(int)
    credits: dict[str, int] = defaultdict(int)
    for row in rows:
        assert (row["debit"] == "") != (row["credit"] == "")
        debits[row["entry_id"]] += parse_pence(row["debit"] or "0")
        credits[row["entry_id"]] += parse_pence(row["credit"] or "0")
        assert row["posted_at"].endswith("+00:00")
        assert re.fullmatch(r"\d{4}-\d\d", row["financial_year"])
    assert debits == credits
    assert len(debits) == run(lambda s: len(s.scalars(select(Entry)).all()))

    delegation = [r for r in rows if r["reference"] == "WFWF-22-05"]
    assert {(r["account"], r["debit"], r["credit"]) for r in delegation} == {
        ("pot:1:available", "82336.18", ""),
        ("share:5:unpaid", "", "82336.18"),
        ("pot:2:due_in", "82336.18", ""),
        ("pot:2:available", "", "82336.18"),
    }
    reversal = next(r for r in rows if r["kind"] == "reversal")
    original = next(r for r in rows if r["entry_id"] == reversal["reverses"])
    assert original["reference"] == "PAY-AFC-WRONG"
    assert reversal["financial_year"] == "2022-23" and reversal["date"] == "2022-11-01"
    receipt = [r for r in rows if r["kind"] == "receive"]
    assert {r["debit"] or r["credit"] for r in receipt} == {"200000.00"}


def test_formulas_in_the_csv_exports_are_neutralised(run: Run, busy: None) -> None:
    rows = read_journal(run)
    memos = {r["memo"] for r in rows if r["reference"].startswith("PAY-HOSTILE-")}
    assert memos == {"'" + memo for memo in HOSTILE_MEMOS}
    purposes = {r["memo"] for r in rows if r["reference"] == "HOSTILE-1"}
    assert purposes == {"'@SUM(1+1)*cmd|' /C calc'!A0"}
    for row in rows:
        for column, cell in row.items():
            if column not in ("debit", "credit"):
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)


# The command ---------------------------------------------------------------------------------


@pytest.fixture
def only_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load just this module's entry point, so the test does not depend on other commands."""
    ours = [ep for ep in entry_points(group=cli.PLUGIN_GROUP) if ep.name == "export"]
    assert [ep.value for ep in ours] == ["statements.commands.export_command:register"]

    def chosen(group: str) -> list[EntryPoint]:
        return ours if group == cli.PLUGIN_GROUP else list(entry_points(group=group))

    monkeypatch.setattr(cli, "entry_points", chosen)


def test_the_export_command_writes_each_format(
    run: Run, busy: None, database_url: str, tmp_path: Path, only_export: None
) -> None:
    entries = run(lambda s: len(s.scalars(select(Entry)).all()))
    assert entries == 29
    out = io.StringIO()
    for fmt, name in (
        ("360giving", "grants.json"),
        ("360giving-csv", "grants.csv"),
        ("beancount", "journal.beancount"),
        ("csv", "journal.csv"),
    ):
        args = ["--db", database_url, "export", fmt, "-o", str(tmp_path / name)]
        if fmt.startswith("360"):
            args += ["--prefix", "cpexample"]
        assert cli.main(args, out=out) == 0
    left_out = (
        "Left out 1 internal spend allocation (money the accountable body spends itself is not"
        " a grant): WFWF-22-01 (Participation Development Officer)"
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == f"Wrote 11 grants to {tmp_path / 'grants.json'}"
    assert lines[1] == left_out
    assert lines[2].startswith("Warning: 7 organisations have only a minted 360G identifier")
    assert lines[2].endswith(
        f": {HOSTILE_RECIPIENT}; Barnardos and Action for Children; Barnardos and Volunteering"
        " Matters; Clackmannanshire Third Sector Interface (CTSI); Community House; Family Link"
        " Partnership; Homestart"
    )
    assert lines[3:6] == [f"Wrote 11 grants to {tmp_path / 'grants.csv'}", left_out, lines[2]]
    assert lines[6:] == [
        f"Wrote {entries} transactions to {tmp_path / 'journal.beancount'}",
        # Income: the demo's £387,103.18 and the council's £30,000; expenses: Appendix 2's
        # £337,103.18 (CTSI's once), the £30,000 pool and £1,000, less the £1,000 returned.
        "Income Statement: income £417,103.18, expenses £367,103.18, net £50,000.00 (not yet"
        " allocated)",
        f"Wrote {len(read_journal(run))} journal lines to {tmp_path / 'journal.csv'}",
    ]

    package = json.loads((tmp_path / "grants.json").read_text(encoding="utf-8"))
    assert package["grants"][3]["id"] == "360G-cpexample-WFWF-22-05"
    if SCHEMA_DIR.is_dir():
        assert official_validator().is_valid(package)
    _, errors, _ = loader.load_file(str(tmp_path / "journal.beancount"))
    assert errors == []
    raw = (tmp_path / "journal.csv").read_bytes()
    assert raw.startswith(b"entry_id,date,") and b"\r\n" in raw
    assert "Crèche" in (tmp_path / "grants.csv").read_text(encoding="utf-8")
    assert list(tmp_path.glob(".*")) == []  # no temporary files left behind

    stdout = io.StringIO()
    assert cli.main(["--db", database_url, "export", "beancount"], out=stdout) == 0
    assert stdout.getvalue() == (tmp_path / "journal.beancount").read_bytes().decode("utf-8")


def test_the_export_command_refuses_plainly(
    database_url: str, tmp_path: Path, only_export: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", database_url, "export", "csv", "--prefix", "x"]) == 1
    assert "--prefix applies only to the 360giving formats" in capsys.readouterr().err
    target = tmp_path / "missing" / "grants.json"
    assert cli.main(["--db", database_url, "export", "360giving", "-o", str(target)]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main(["--db", database_url, "export", "360giving"], out=io.StringIO()) == 1
    assert "No accountable body is set" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--db", database_url, "export", "xml"])
