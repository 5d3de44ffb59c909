"""Organisation identifiers as people type them: each register's good forms are kept in one
stored form, its bad forms are refused with a message naming the register, and an organisation
registered in several places is named by the one 360Giving's tools read first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import identifiers as ids
from ledger import operations as ops
from ledger.demo import COUNCIL, COUNCIL_POST, load_demo
from ledger.errors import InvalidInput, NotFound
from ledger.models import AuditEvent, Organisation
from ledger.organisations import (
    IdentifierChange,
    describe,
    identifiers_of,
    is_internal_spend,
    set_identifiers,
    set_publication,
)

Run = Callable[[Callable[[Session], Any]], Any]


@pytest.mark.parametrize(
    ("check", "typed", "stored"),
    [
        (ids.scottish_charity_number, "SC007991", "SC007991"),
        (ids.scottish_charity_number, " sc 038092 ", "SC038092"),
        (ids.england_wales_charity_number, "1097940", "1097940"),
        (ids.england_wales_charity_number, "216250", "216250"),
        (ids.england_wales_charity_number, "12345678", "12345678"),
        (ids.northern_ireland_charity_number, "NIC100002", "100002"),
        (ids.northern_ireland_charity_number, "nic 104950", "104950"),
        (ids.northern_ireland_charity_number, "10295", "10295"),
        (ids.company_number, "61625", "00061625"),
        (ids.company_number, "00061625", "00061625"),
        (ids.company_number, "sc123456", "SC123456"),
        (ids.company_number, "NI 012345", "NI012345"),
        (ids.local_authority_code, "CLK", "GB-LAS-CLK"),
        (ids.local_authority_code, "gb-lae-bir", "GB-LAE-BIR"),
        (ids.local_authority_code, "GB-PLA-CRF", "GB-PLA-CRF"),
        (ids.local_authority_code, "GB-LANI-BFS", "GB-LANI-BFS"),
        (ids.other_identifier, "GB-EDU-123456", "GB-EDU-123456"),
        (ids.other_identifier, "GB-GOR-PB188", "GB-GOR-PB188"),
        (ids.other_identifier, "US-EIN-12-3456789", "US-EIN-12-3456789"),
        (ids.gss_code, "S12000005", "S12000005"),
        (ids.gss_code, "e06000001", "E06000001"),
        (ids.data_source_url, " https://www.clacks.gov.uk/ ", "https://www.clacks.gov.uk/"),
    ],
)
def test_each_register_keeps_its_good_forms_in_one_stored_form(
    check: Callable[[str], str], typed: str, stored: str
) -> None:
    assert check(typed) == stored


@pytest.mark.parametrize(
    ("check", "typed", "register"),
    [
        (ids.scottish_charity_number, "SC07991", "Scottish charity number"),
        (ids.scottish_charity_number, "SO007991", "Scottish charity number"),
        (ids.scottish_charity_number, "007991", "Scottish charity number"),
        (ids.scottish_charity_number, "SC0079911", "Scottish charity number"),
        (ids.england_wales_charity_number, "12345", "England and Wales charity number"),
        (ids.england_wales_charity_number, "123456789", "England and Wales charity number"),
        (ids.england_wales_charity_number, "SC007991", "England and Wales charity number"),
        (ids.england_wales_charity_number, "１０９７９４０", "England and Wales charity number"),
        (ids.northern_ireland_charity_number, "NIC1234", "Northern Ireland charity number"),
        (ids.northern_ireland_charity_number, "XN12345", "Northern Ireland charity number"),
        (ids.northern_ireland_charity_number, "1000023", "Northern Ireland charity number"),
        (ids.company_number, "123456789", "Companies House number"),
        (ids.company_number, "SC12345", "Companies House number"),
        (ids.company_number, "00000000", "Companies House number"),
        (ids.company_number, "S1234567", "Companies House number"),
        (ids.local_authority_code, "GB-XYZ-CLK", "local authority code"),
        (ids.local_authority_code, "CL", "local authority code"),
        (ids.local_authority_code, "Clackmannanshire", "local authority code"),
        (ids.other_identifier, "EDU-123456", "organisation identifier"),
        (ids.other_identifier, "GB-EDU-", "organisation identifier"),
        (ids.other_identifier, "gb-edu-123456", "organisation identifier"),
        (ids.other_identifier, "360G-abc-org-aberlour", "organisation identifier"),
        (ids.gss_code, "S1200005", "ONS/GSS area code"),
        (ids.gss_code, "X12000005", "ONS/GSS area code"),
        (ids.data_source_url, "Audit and Scrutiny report", "web address"),
        (ids.data_source_url, "ftp://example.org/x", "web address"),
    ],
)
def test_each_register_refuses_its_bad_forms_and_says_what_it_expects(
    check: Callable[[str], str], typed: str, register: str
) -> None:
    with pytest.raises(InvalidInput, match=register) as refused:
        check(typed)
    assert "such as" in str(refused.value) or "starting https://" in str(refused.value)


def test_a_charity_number_says_its_register_by_its_form() -> None:
    assert ids.charity_number("SC038092") == ("GB-SC", "SC038092")
    assert ids.charity_number("1097940") == ("GB-CHC", "1097940")
    assert ids.charity_number("NIC100002") == ("GB-NIC", "100002")
    with pytest.raises(InvalidInput, match="not a charity number"):
        ids.charity_number("CH12345")


def test_a_number_of_another_register_belongs_in_that_registers_field() -> None:
    with pytest.raises(InvalidInput, match="GB-SC numbers have their own field"):
        ids.other_identifier("GB-SC-SC007991")
    with pytest.raises(InvalidInput, match="GB-COH numbers have their own field"):
        ids.other_identifier("GB-COH-00061625")


def test_charity_numbers_come_first_england_and_wales_before_scotland_companies_last() -> None:
    action_for_children = ids.Identifiers(
        england_wales_charity="1097940", scottish_charity="SC038092", company="04764232"
    )
    assert action_for_children.org_ids() == [
        "GB-CHC-1097940",
        "GB-SC-SC038092",
        "GB-COH-04764232",
    ]
    assert action_for_children.charity_number() == "1097940"
    council = ids.Identifiers(local_authority="GB-LAS-CLK", company="SC123456")
    assert council.org_ids() == ["GB-LAS-CLK", "GB-COH-SC123456"]
    school = ids.Identifiers(other="GB-EDU-123456", company="00061625")
    assert school.org_ids()[0] == "GB-EDU-123456"
    assert ids.Identifiers(ni_charity="100002", scottish_charity="SC007991").org_ids()[0] == (
        "GB-SC-SC007991"
    )
    assert ids.Identifiers().org_ids() == []


def test_places_have_the_360giving_geocode_type_of_their_kind_of_area() -> None:
    assert ids.geo_code_type("S12000005") == "CA"
    assert ids.geo_code_type("E06000001") == "UA"
    assert ids.geo_code_type("K04000001") is None


def test_the_demo_records_the_registered_numbers_the_charities_hold(run: Run) -> None:
    run(load_demo)

    def numbers(session: Session) -> dict[str, list[str]]:
        return {
            org.name: identifiers_of(org).org_ids() for org in session.scalars(select(Organisation))
        }

    found = run(numbers)
    assert found["Aberlour"] == ["GB-SC-SC007991"]
    assert found["Action for Children"] == ["GB-CHC-1097940", "GB-SC-SC038092"]
    assert found["Barnardo's"] == ["GB-CHC-216250", "GB-SC-SC037605"]
    assert found[COUNCIL] == ["GB-LAS-CLK"]
    assert found["Homestart"] == []


def test_setting_identifiers_checks_every_value_before_writing_and_is_audited(run: Run) -> None:
    run(load_demo)
    change = IdentifierChange(
        charity_numbers=["SC 000001"],
        company_number="SC123456",
        location_code="S12000005",
        location_name="Clackmannanshire",
    )
    run(lambda s: set_identifiers(s, "Community House", change, actor="demo.admin"))
    assert run(lambda s: describe(ops.find_organisation(s, "Community House"))) == (
        "GB-SC-SC000001, GB-COH-SC123456; in S12000005"
    )

    # One bad value refuses the whole change: nothing is written.
    bad = IdentifierChange(charity_numbers=["1234567"], company_number="SC1234")
    with pytest.raises(InvalidInput, match="Companies House") as refused:
        run(lambda s: set_identifiers(s, "Community House", bad, actor="demo.admin"))
    assert refused.value.field == "company_number"
    assert run(lambda s: ops.find_organisation(s, "Community House").ew_charity_number) is None
    twice = IdentifierChange(charity_numbers=["SC000001", "SC000002"])
    with pytest.raises(InvalidInput, match="Give one GB-SC number"):
        run(lambda s: set_identifiers(s, "Community House", twice, actor="demo.admin"))

    # An empty value clears a field; clearing the charity numbers clears them all.
    cleared = IdentifierChange(company_number="", clear_charity_numbers=True)
    run(lambda s: set_identifiers(s, "Community House", cleared, actor="demo.admin"))
    assert run(lambda s: describe(ops.find_organisation(s, "Community House"))) == ("in S12000005")
    events = run(
        lambda s: [
            (e.actor, e.detail)
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.subject == "organisation Community House")
            )
        ]
    )
    assert events == [
        ("demo.admin", "nothing recorded → GB-SC-SC000001, GB-COH-SC123456; in S12000005"),
        ("demo.admin", "GB-SC-SC000001, GB-COH-SC123456; in S12000005 → in S12000005"),
    ]
    with pytest.raises(NotFound, match="no organisation called"):
        run(lambda s: set_identifiers(s, "Nobody", change, actor="demo.admin"))


def test_a_stored_number_that_no_register_accepts_is_not_published(run: Run) -> None:
    run(lambda s: ops.ensure_organisation(s, "Old Record", ["provider"], company_number="XYZ"))
    assert run(lambda s: identifiers_of(ops.find_organisation(s, "Old Record")).org_ids()) == []


def test_the_council_post_is_internal_spend_and_a_provider_is_not(run: Run) -> None:
    run(load_demo)

    def verdicts(session: Session) -> dict[str, bool]:
        body = ops.accountable_body(session)
        return {
            reference: is_internal_spend(ops.find_allocation(session, reference), body)
            for reference in ("WFWF-22-01", "WFWF-22-02", "WFWF-22-05", "CTSI-22-01")
        }

    assert run(verdicts) == {
        "WFWF-22-01": True,
        "WFWF-22-02": False,
        "WFWF-22-05": False,
        "CTSI-22-01": False,
    }
    assert run(lambda s: ops.find_organisation(s, COUNCIL_POST).is_internal)


def test_a_pot_cites_a_web_address_and_a_document(run: Run) -> None:
    run(load_demo)
    with pytest.raises(InvalidInput, match="not a web address"):
        run(lambda s: set_publication(s, "WFWF 2022-23", actor="x", data_source="the report"))
    with pytest.raises(InvalidInput, match="ONS/GSS"):
        run(lambda s: set_publication(s, "WFWF 2022-23", actor="x", area_code="Clacks"))
    pot = run(
        lambda s: set_publication(
            s, "WFWF 2022-23", actor="x", area_code="s12000005", area_name=" Clackmannanshire "
        )
    )
    assert (pot.area_code, pot.area_name, pot.data_source) == (
        "S12000005",
        "Clackmannanshire",
        "https://www.clacks.gov.uk/",
    )
