"""``commonpurse organisation set|show`` and ``commonpurse pot set``: numbers checked on entry,
one line on refusal and nothing written, and the 360Giving export uses what was recorded."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ledger import cli


def commonpurse(database_url: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    return cli.main(["--db", database_url, "--user", "demo.admin", *args], out=out), out.getvalue()


def test_an_officer_records_a_charitys_numbers_and_the_export_links_it(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commonpurse(database_url, "demo")[0] == 0
    status, shown = commonpurse(
        database_url,
        "organisation",
        "set",
        "Homestart",
        "--charity-number",
        "sc 012345",
        "--charity-number",
        "1234567",
        "--company-number",
        "61625",
        "--location",
        "S12000005",
        "--location-name",
        "Clackmannanshire",
    )
    assert status == 0
    assert shown.splitlines() == [
        "Homestart",
        "  360Giving identifier: GB-CHC-1234567",
        "  also registered as:   GB-SC-SC012345, GB-COH-00061625",
        "  place:                S12000005 Clackmannanshire",
    ]
    assert commonpurse(database_url, "organisation", "show", "Homestart")[1] == shown

    status, written = commonpurse(database_url, "export", "360giving", "-o", "/dev/null")
    assert status == 0
    assert "Homestart" not in written.splitlines()[-1]  # no longer only minted
    assert "Community House" in written.splitlines()[-1]


def test_a_bad_number_is_refused_in_one_line_and_nothing_is_written(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    commonpurse(database_url, "demo")
    capsys.readouterr()
    status, _ = commonpurse(
        database_url,
        "organisation",
        "set",
        "Homestart",
        "--location",
        "S12000005",
        "--company-number",
        "SC1234",
    )
    assert status == 1
    assert capsys.readouterr().err == (
        "commonpurse: 'SC1234' is not a Companies House number: it is 8 characters, either 8"
        " digits (such as 00061625) or 2 letters and 6 digits (such as SC123456)\n"
    )
    _, shown = commonpurse(database_url, "organisation", "show", "Homestart")
    assert "place:                not recorded" in shown
    assert commonpurse(database_url, "organisation", "show", "Nobody")[0] == 1
    assert "There is no organisation called 'Nobody'" in capsys.readouterr().err


def test_a_post_marked_internal_is_left_out_of_360giving_and_a_pot_cites_its_report(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    commonpurse(database_url, "demo")
    status, shown = commonpurse(
        database_url, "organisation", "set", "Clackmannanshire Council (post)", "--not-internal"
    )
    assert status == 0 and "internal spend" not in shown
    _, written = commonpurse(database_url, "export", "360giving", "-o", "/dev/null")
    assert written.splitlines()[0] == "Wrote 10 grants to /dev/null"
    commonpurse(
        database_url, "organisation", "set", "Clackmannanshire Council (post)", "--internal"
    )
    _, written = commonpurse(database_url, "export", "360giving", "-o", "/dev/null")
    assert written.splitlines()[:2] == [
        "Wrote 9 grants to /dev/null",
        "Left out 1 internal spend allocation (money the accountable body spends itself is not a"
        " grant): WFWF-22-01 (Participation Development Officer)",
    ]

    status, shown = commonpurse(
        database_url,
        "pot",
        "set",
        "Promise Partnership 2021-22",
        "--data-source",
        "https://www.clacks.gov.uk/council/",
        "--area",
        "S12000005",
    )
    assert status == 0
    assert shown.splitlines()[1:] == [
        "  data source:     https://www.clacks.gov.uk/council/",
        "  source document: Clackmannanshire Council, People Committee report of 16 September"
        " 2021, paragraph 3.6",
        "  area:            S12000005",
    ]
    assert (
        commonpurse(database_url, "pot", "set", "Promise Partnership 2021-22", "--area", "S1")[0]
        == 1
    )
    assert "not an ONS/GSS area code" in capsys.readouterr().err


def test_a_spreadsheet_of_numbers_is_applied_whole_or_refused_by_row_and_column(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commonpurse(database_url, "demo")
    sheet = tmp_path / "organisations.csv"
    header = (
        "name,charity_numbers,ni_charity_number,company_number,local_authority_code,"
        "other_identifier,location_code,location_name,internal\n"
    )
    sheet.write_text(
        "\ufeff"
        + header
        + "Homestart,SC012345;1234567,,,,,S12000005,Clackmannanshire,\n"
        + "Community House,,,SC1234,,,,,no\n",
        encoding="utf-8",
    )
    args = ("organisation", "import", str(sheet), "--reason", "Checked on the registers")
    assert commonpurse(database_url, *args)[0] == 1
    assert capsys.readouterr().err == (
        "commonpurse: Row 3, column company_number: 'SC1234' is not a Companies House number:"
        " it is 8 characters, either 8 digits (such as 00061625) or 2 letters and 6 digits"
        " (such as SC123456)\n"
    )
    assert "not recorded" in commonpurse(database_url, "organisation", "show", "Homestart")[1]

    sheet.write_text(
        header
        + "Homestart,SC012345;1234567,,,,,S12000005,Clackmannanshire,\n"
        + "\n"
        + "Community House,,,SC123456,,,,,no\n",
        encoding="utf-8",
    )
    status, written = commonpurse(database_url, *args)
    assert (status, written) == (0, f"Updated 2 organisations from {sheet}\n")
    shown = commonpurse(database_url, "organisation", "show", "Homestart")[1]
    assert "360Giving identifier: GB-CHC-1234567" in shown
    assert (
        "GB-COH-SC123456" in commonpurse(database_url, "organisation", "show", "Community House")[1]
    )

    sheet.write_text(header + "Nobody,SC012345,,,,,,,\n", encoding="utf-8")
    assert commonpurse(database_url, *args)[0] == 1
    assert "Row 2, column name: There is no organisation called 'Nobody'" in capsys.readouterr().err
    sheet.write_text("name,charity\nHomestart,SC012345\n", encoding="utf-8")
    assert commonpurse(database_url, *args)[0] == 1
    assert "The header must be exactly name,charity_numbers," in capsys.readouterr().err


def test_the_commands_import_header_is_the_ledgers() -> None:
    from ledger import organisation_command, organisations

    assert organisation_command.IMPORT_HEADER == organisations.IMPORT_HEADER
