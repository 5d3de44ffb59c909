"""The ``commonpurse`` command, as a finance officer would use it on Clackmannanshire's figures.

Commands run in-process through ``ledger.cli.main(argv, out)`` against the test database
(``--db``); refusals must end with exactly one line on stderr, ``commonpurse: ...``, and a
non-zero exit status, never a traceback. Two tests run the real console script.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from ledger import cli, db
from tests.conftest import on_postgres

DATA = Path(__file__).parent / "data"
AS_PRINTED = DATA / "appendix2_as_printed.csv"
WITH_TOP_UP = DATA / "appendix2_with_top_up.csv"
ROOT = Path(__file__).resolve().parent.parent
COMMONPURSE = (
    ROOT / ".venv" / "bin" / "commonpurse"
    if (ROOT / ".venv" / "bin" / "commonpurse").exists()
    else Path(sys.executable).with_name("commonpurse")
)

COUNCIL = "Clackmannanshire Council"
HEADER = "date,operation,reference,pot,counterparty,amount,description,allocation_ref,to_pot\n"
CORE_COMMANDS = ("init", "demo", "import", "balances", "check")
AMOUNTS = (
    "funded",
    "allocated",
    "paid",
    "returned",
    "available",
    "received",
    "carried_forward",
    "carried_in",
    "handed_back",
    "assumed",
)
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none"
SHORT_BY_103_18 = (
    "commonpurse: Row 7, column amount: WFWF 2022-23 has £82,233.00 available; this delegation"
    " needs £82,336.18 (short by £103.18)"
)


# --- Helpers -----------------------------------------------------------------------------------


def commonpurse(url: str, *argv: str) -> tuple[int, str]:
    """Run ``commonpurse --db URL ARGV...`` in-process: (exit status, stdout)."""
    out = io.StringIO()
    code = cli.main(["--db", url, *argv], out=out)
    return code, out.getvalue()


def succeeds(url: str, *argv: str) -> str:
    code, printed = commonpurse(url, *argv)
    assert code == 0, printed
    return printed


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    """Run a command that must be refused: (exit status, its one line on stderr)."""
    capsys.readouterr()
    out = io.StringIO()
    code = cli.main(argv, out=out)
    captured = capsys.readouterr()
    assert out.getvalue() == ""
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("commonpurse: ")
    assert captured.err == lines[0] + "\n"
    return code, lines[0]


def council(url: str, *options: str) -> None:
    """``commonpurse init --accountable-body "Clackmannanshire Council"``."""
    printed = succeeds(url, "init", "--accountable-body", COUNCIL, *options)
    assert printed.startswith("Ledger ready at ")


def pots_json(url: str) -> dict[str, dict[str, Any]]:
    def no_floats(number: str) -> NoReturn:
        raise AssertionError(f"balances --json printed a float: {number}")

    printed = succeeds(url, "balances", "--json")
    document = json.loads(printed, parse_float=no_floats)
    assert list(document) == ["pots", "award_years", "expected"]
    return {pot["name"]: pot for pot in document["pots"]}


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COMMONPURSE_DATABASE_URL", None)
    return env


# --- Help --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", CORE_COMMANDS)
def test_help_works_for_each_command(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"], out=io.StringIO())

    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: commonpurse {command}")


def commands_of(parser: argparse.ArgumentParser, *path: str) -> list[tuple[str, ...]]:
    """Every command path the parser knows, nested ones included (``user add``)."""
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append((*path, name))
                found += commands_of(child, *path, name)
    return found


def test_help_works_for_every_registered_command(capsys: pytest.CaptureFixture[str]) -> None:
    commands = commands_of(cli.build_parser())
    assert {(name,) for name in CORE_COMMANDS} <= set(commands)

    for command in [(), *commands]:
        with pytest.raises(SystemExit) as exited:
            cli.main([*command, "--help"], out=io.StringIO())
        assert exited.value.code == 0, command
        usage = " ".join(("usage: commonpurse", *command))
        assert capsys.readouterr().out.startswith(usage), command


def test_the_installed_console_script_prints_help() -> None:
    finished = subprocess.run(
        [str(COMMONPURSE), "--help"],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("usage: commonpurse")
    for command in CORE_COMMANDS:
        assert command in finished.stdout
    assert finished.stderr == ""


# --- The demo: Appendix 2 with the £103.18 in view ---------------------------------------------


def test_demo_balances_json_gives_whole_pence_for_appendix_2_and_the_promise_award(
    database_url: str,
) -> None:
    printed = succeeds(database_url, "demo")
    assert "WFWF 2022-23 includes £103.18 recorded as an assumption" in printed

    pots = pots_json(database_url)

    assert list(pots) == [
        "WFWF 2022-23",
        "CTSI managed WFWF Grant 2022-23",
        "Promise Partnership 2021-22",
    ]
    wfwf = pots["WFWF 2022-23"]
    assert (wfwf["funded"], wfwf["allocated"], wfwf["available"]) == (33_710_318, 33_710_318, 0)
    assert wfwf["assumed"] == 10_318
    ctsi = pots["CTSI managed WFWF Grant 2022-23"]
    assert (ctsi["funded"], ctsi["allocated"], ctsi["available"]) == (8_233_618, 8_233_618, 0)
    assert ctsi["parent_pot"] == "WFWF 2022-23"
    promise = pots["Promise Partnership 2021-22"]
    assert (promise["funded"], promise["available"], promise["assumed"]) == (
        5_000_000,
        5_000_000,
        0,
    )
    for pot in pots.values():
        for name in AMOUNTS:
            assert type(pot[name]) is int, (pot["name"], name, pot[name])


def test_demo_twice_changes_nothing_and_check_says_ok(database_url: str, engine: Engine) -> None:
    first = succeeds(database_url, "demo")
    entries, pots = count(engine, "entries"), pots_json(database_url)

    second = succeeds(database_url, "demo")

    assert second == first
    assert count(engine, "entries") == entries == 13
    assert pots_json(database_url) == pots
    checked = succeeds(database_url, "check")
    assert re.fullmatch(
        r"Checked 13 entries, 28 lines, 20 accounts and 87 figures\.\n"
        r"Journal hash chain tip: [0-9a-f]{64}\n"
        r"OK: every entry balances and every balance matches the journal\.\n",
        checked,
    ), checked


@pytest.mark.parametrize("tampered", ["an account balance", "a pot's funded figure"])
def test_check_finds_a_balance_altered_behind_the_ledgers_back(
    database_url: str, engine: Engine, tampered: str
) -> None:
    succeeds(database_url, "demo")
    with engine.begin() as connection:
        wfwf_id = connection.execute(
            text("SELECT id FROM pots WHERE name = 'WFWF 2022-23'")
        ).scalar_one()
        if tampered == "an account balance":
            connection.execute(
                text("UPDATE accounts SET balance_pence = balance_pence + 1 WHERE code = :code"),
                {"code": f"pot:{wfwf_id}:cash"},
            )
            problem = f"PROBLEM account pot:{wfwf_id}:cash: balance 1p but its lines add up to 0p"
        else:
            connection.execute(
                text("UPDATE pots SET funded_pence = funded_pence + 1 WHERE name = :name"),
                {"name": "Promise Partnership 2021-22"},
            )
            problem = (
                "PROBLEM pot Promise Partnership 2021-22: funded is £50,000.01 but the journal"
                " says £50,000.00"
            )

    code, printed = commonpurse(database_url, "check")

    assert code == cli.EXIT_CHECK_FAILED == 3
    assert printed.splitlines()[1:] == [problem, "1 problem(s) found."]


# --- Refusals: one line on stderr, no traceback ------------------------------------------------


def test_importing_appendix_2_as_printed_is_refused_in_one_line_and_writes_nothing(
    database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    council(database_url)

    code, line = refused(
        capsys,
        [
            "--db",
            database_url,
            "--user",
            "officer",
            "import",
            str(AS_PRINTED),
            "--approved-by",
            "finance",
        ],
    )

    assert code == cli.EXIT_REFUSED == 1
    assert line == SHORT_BY_103_18
    for table in ("entries", "pots", "awards", "allocations"):
        assert count(engine, table) == 0, table
    assert succeeds(database_url, "balances") == "No pots yet.\n"


def test_an_import_runs_the_garbage_collector_seldom_and_puts_its_setting_back(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An import raises the collector's threshold while it runs (a large import otherwise
    spends about 3% of its time in the collector); afterwards, accepted or refused, the
    process has its own setting back."""
    import gc

    from ledger import importer

    council(database_url)
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    real_import_rows = importer.import_rows

    def watching(*args: Any, **kwargs: Any) -> importer.ImportResult:
        seen.append(gc.get_threshold())
        return real_import_rows(*args, **kwargs)

    monkeypatch.setattr(importer, "import_rows", watching)

    code, _ = refused(
        capsys, ["--db", database_url, "import", str(AS_PRINTED), "--approved-by", "finance"]
    )
    assert code == cli.EXIT_REFUSED
    assert seen[-1][0] == cli.IMPORT_COLLECTION_THRESHOLD > before[0]
    assert seen[-1][1:] == before[1:]
    assert gc.get_threshold() == before

    succeeds(database_url, "import", str(WITH_TOP_UP), "--approved-by", "finance")
    assert len(seen) == 2
    assert seen[-1][0] == cli.IMPORT_COLLECTION_THRESHOLD
    assert gc.get_threshold() == before


def test_importing_a_file_that_is_not_there_is_refused(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "appendix2 final FINAL.csv"

    code, line = refused(
        capsys, ["--db", database_url, "import", str(missing), "--approved-by", "finance"]
    )

    assert (code, line) == (1, f"commonpurse: {missing} is not a file")


def test_a_csv_saved_as_windows_1252_is_refused_naming_the_byte(
    database_url: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    council(database_url)
    legacy = tmp_path / "wfwf-award.csv"
    legacy.write_bytes(
        (
            HEADER + "2022-04-01,award,WFWF-2022-23-AWARD,WFWF 2022-23,Scottish Government,"
            '"£337,000",WFWF Year 1,,\n'
        ).encode("cp1252")
    )
    pound = legacy.read_bytes().index(b"\xa3")  # cp1252's £; UTF-8 would be C2 A3

    code, line = refused(
        capsys, ["--db", database_url, "import", str(legacy), "--approved-by", "finance"]
    )

    assert code == 1
    assert line == (
        f"commonpurse: wfwf-award.csv is not UTF-8 text (line 2, byte {pound}); save it as"
        " 'CSV UTF-8'."
        " Nothing was imported."
    )
    assert count(engine, "entries") == count(engine, "pots") == 0


def long_windows_1252_file(path: Path) -> tuple[int, int]:
    """400 good award rows, then a £ in Windows-1252: (the £'s byte offset, its row number)."""
    rows = "".join(
        f"2022-04-01,award,WFWF-PART-{n:03d},WFWF 2022-23,Scottish Government,1.00,,,\n"
        for n in range(400)
    )
    last = "2022-04-01,award,WFWF-PART-400,WFWF 2022-23,Scottish Government,£1.00,,,\n"
    data = (HEADER + rows + last).encode("cp1252")
    path.write_bytes(data)
    return data.index(b"\xa3"), 402


def test_a_long_windows_1252_file_is_refused_and_the_400_good_rows_before_it_are_not_kept(
    database_url: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    council(database_url)
    long_windows_1252_file(tmp_path / "wfwf-parts.csv")

    code, line = refused(
        capsys,
        ["--db", database_url, "import", str(tmp_path / "wfwf-parts.csv"), "--approved-by", "x"],
    )

    assert code == 1
    assert line.startswith("commonpurse: wfwf-parts.csv is not UTF-8 text (line ")
    assert count(engine, "entries") == count(engine, "pots") == count(engine, "awards") == 0


def test_a_long_windows_1252_file_is_refused_naming_where_the_bad_byte_really_is(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    council(database_url)
    offset, row = long_windows_1252_file(tmp_path / "wfwf-parts.csv")

    _, line = refused(
        capsys,
        ["--db", database_url, "import", str(tmp_path / "wfwf-parts.csv"), "--approved-by", "x"],
    )

    assert f"byte {offset}" in line or f"row {row}" in line.lower()


def test_an_unreachable_postgresql_server_gives_one_line_and_a_non_zero_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (["balances"], ["check"], ["init"], ["demo"]):
        code, line = refused(capsys, ["--db", UNREACHABLE, *command])
        assert code == cli.EXIT_DATABASE == 4, command
        assert line.startswith("commonpurse: The database could not be reached: "), line


# Alembic's configuration reads "%(name)s" as interpolation: a URL's %-escapes (a socket folder,
# a password with "@" or "%" in it) once ended in a traceback before the server was even asked.
PERCENT_ESCAPED = (
    "postgresql+psycopg://nobody@/none?host=%2Fnonexistent%2Fpostgresql",
    "postgresql+psycopg://nobody:p%40ss%25word@127.0.0.1:1/none",
)


def test_alembic_is_given_a_percent_escaped_url_as_typed() -> None:
    for typed in PERCENT_ESCAPED:
        engine = create_engine(typed)  # nothing connects
        config = db.alembic_config(engine)
        assert config.get_main_option("sqlalchemy.url") == typed
        engine.dispose()


def test_a_percent_escaped_postgresql_url_gives_one_line_and_status_4_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for url in PERCENT_ESCAPED:
        code, line = refused(capsys, ["--db", url, "init"])
        assert code == cli.EXIT_DATABASE == 4, url
        assert line.startswith("commonpurse: The database could not be reached: "), line


@pytest.mark.skipif(not on_postgres(), reason="needs the PostgreSQL server the suite starts")
def test_init_reaches_postgresql_through_a_url_whose_password_is_percent_escaped(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The throwaway server trusts local connections, so any password reaches it: what is tested
    # is that the escaped URL gets through Alembic to the server and back.
    url = make_url(database_url).set(password="p@ss%word").render_as_string(hide_password=False)
    assert "p%40ss%25word" in url
    code = cli.main(["--db", url, "init"], out=io.StringIO())
    assert code == 0, capsys.readouterr().err


def test_a_refusal_through_the_real_console_script_is_one_line_without_a_traceback(
    database_url: str,
) -> None:
    council(database_url)

    finished = subprocess.run(
        [
            str(COMMONPURSE),
            "--db",
            database_url,
            "--user",
            "officer",
            "import",
            str(AS_PRINTED),
            "--approved-by",
            "finance",
        ],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
        check=False,
    )

    assert finished.returncode == 1
    assert finished.stdout == ""
    assert "Traceback" not in finished.stderr
    assert finished.stderr == SHORT_BY_103_18 + "\n"


# --- Segregation of duties ---------------------------------------------------------------------


@pytest.fixture
def aberlour(database_url: str, tmp_path: Path) -> str:
    """A £500 self-approval limit; the £337,000 award and Aberlour's £100,000, entered by an
    officer and approved by finance."""
    council(database_url, "--self-approval-limit", "500")
    setup = write_csv(
        tmp_path / "setup.csv",
        '2022-04-01,award,WFWF-2022-23-AWARD,WFWF 2022-23,Scottish Government,"£337,000",,,',
        '01/10/2022,allocate,WFWF-22-02,WFWF 2022-23,Aberlour,"£100,000",Aberlour Sustain,,',
    )
    succeeds(database_url, "--user", "officer", "import", str(setup), "--approved-by", "finance")
    return database_url


@pytest.mark.parametrize(
    ("row", "refusal"),
    [
        pytest.param(
            "01/10/2022,allocate,ALICE-ALLOC-2,WFWF 2022-23,Homestart,£750.00,,,",
            "alice entered allocation ALICE-ALLOC-2 (£750.00)",
            id="allocation of £750",
        ),
        pytest.param(
            "01/10/2022,allocate,ALICE-ALLOC-2,WFWF 2022-23,Homestart,£500.01,,,",
            "alice entered allocation ALICE-ALLOC-2 (£500.01)",
            id="allocation of £500.01",
        ),
        pytest.param(
            "31/10/2022,pay,ALICE-PAY-2,,,£600.00,,WFWF-22-02,",
            "alice entered a payment on WFWF-22-02 (£600.00)",
            id="payment of £600",
        ),
        pytest.param(
            "2023-01-15,vary,ALICE-VARY-2,,,-£600.00,Fewer sessions,WFWF-22-02,",
            "alice entered a variation of WFWF-22-02 (£600.00)",
            id="reduction of £600",
        ),
    ],
)
def test_one_person_cannot_enter_and_approve_more_than_500(
    aberlour: str,
    engine: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    row: str,
    refusal: str,
) -> None:
    entries = count(engine, "entries")
    mine = write_csv(
        tmp_path / "alice.csv",
        "01/10/2022,allocate,ALICE-ALLOC-1,WFWF 2022-23,Homestart,£450.00,,,",
        row,
    )

    code, line = refused(
        capsys,
        ["--db", aberlour, "--user", "alice", "import", str(mine), "--approved-by", "alice"],
    )

    assert code == 1
    assert line == (
        f"commonpurse: Row 3: {refusal} and cannot also approve it: only amounts up to £500.00"
        " may be entered and approved by one person"
    )
    assert count(engine, "entries") == entries  # not even the £450 in row 2
    assert count(engine, "allocations") == 1


def test_one_person_may_enter_and_approve_up_to_500(
    aberlour: str, engine: Engine, tmp_path: Path
) -> None:
    mine = write_csv(
        tmp_path / "alice.csv",
        "01/10/2022,allocate,ALICE-ALLOC-1,WFWF 2022-23,Homestart,£450.00,,,",
        "01/10/2022,allocate,ALICE-ALLOC-2,WFWF 2022-23,Community House,£500.00,,,",
        "31/10/2022,pay,ALICE-PAY-1,,,£450.00,,WFWF-22-02,",
        "2023-01-15,vary,ALICE-VARY-1,,,-£50.00,Fewer sessions,WFWF-22-02,",
    )

    printed = succeeds(aberlour, "--user", "alice", "import", str(mine), "--approved-by", "alice")

    assert printed == (
        "Imported alice.csv: 4 rows, 4 new journal entries, 0 awaiting approval,"
        " 0 already recorded.\n"
    )
    with engine.connect() as connection:
        confirmed = connection.execute(
            text(
                "SELECT reference, status, entered_by, approved_by, allocated_pence"
                " FROM allocations WHERE reference LIKE 'ALICE-%' ORDER BY reference"
            )
        ).all()
    assert [tuple(r) for r in confirmed] == [
        ("ALICE-ALLOC-1", "confirmed", "alice", "alice", 45_000),
        ("ALICE-ALLOC-2", "confirmed", "alice", "alice", 50_000),
    ]
    wfwf = pots_json(aberlour)["WFWF 2022-23"]
    assert (wfwf["allocated"], wfwf["paid"]) == (10_000_000 + 45_000 + 50_000 - 5_000, 45_000)
    assert succeeds(aberlour, "check").endswith(
        "OK: every entry balances and every balance matches the journal.\n"
    )


def test_one_person_cannot_enter_and_approve_a_337000_award(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    council(database_url, "--self-approval-limit", "500")
    award = write_csv(
        tmp_path / "award.csv",
        '2022-04-01,award,WFWF-2022-23-AWARD,WFWF 2022-23,Scottish Government,"£337,000",,,',
    )

    code, line = refused(
        capsys,
        ["--db", database_url, "--user", "alice", "import", str(award), "--approved-by", "alice"],
    )

    assert code == 1
    assert "alice" in line and "cannot also approve" in line
