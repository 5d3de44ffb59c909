"""``commonpurse backup FILE`` and ``commonpurse balances --pot NAME``.

The backup is of a SQLite file, so its tests make their own SQLite ledgers and are skipped on the
PostgreSQL run (which checks instead that a PostgreSQL URL is refused, pointing to pg_dump). The
central test copies a ledger while another process keeps committing to it, and checks that the
copy is one of the states the writer actually committed. Others kill the backup before it has
finished and check that nothing appears under FILE's name.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from ledger import backup, cli, db
from tests.conftest import on_postgres
from tests.test_crash import CHECK_OK, WAIT, WRITE_MARKER, child, kill, run_cli, wait_for

COUNCIL = "Clackmannanshire Council"
BACKED_UP = re.compile(
    r"Backed up (?P<entries>[\d,]+) entries to (?P<path>.+) \((?P<size>[\d.,]+ (bytes|KB|MB))\);"
    r" check OK\n"
)
sqlite_only = pytest.mark.skipif(
    on_postgres(), reason="backup copies SQLite files; the SQLite run covers it"
)


def commonpurse(url: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(["--db", url, *argv], out=out)
    return code, out.getvalue()


def refused(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str]:
    """(exit status, the one line on stderr) of a command that must print nothing else."""
    capsys.readouterr()
    code, printed = commonpurse(url, *argv)
    captured = capsys.readouterr()
    assert printed == captured.out == ""
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and captured.err.startswith("commonpurse: "), captured
    return code, captured.err.rstrip("\n")


@pytest.fixture
def ledger_file(tmp_path: Path, sqlite_template: Path) -> Path:
    """A SQLite ledger with the demo's 13 entries, whatever the run's database."""
    path = tmp_path / "live" / "ledger.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    assert commonpurse(url, "init", "--accountable-body", COUNCIL)[0] == 0
    assert commonpurse(url, "demo")[0] == 0
    return path


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def entries_in(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT count(*) FROM entries").fetchone()[0])
    finally:
        connection.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


# --- A live ledger -----------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    \"\"\"Keep committing to the ledger at URL until STOP exists; after each commit, append the
    number of entries it left to LOG (the first line: the number before the first commit).

    It never checkpoints, so every commit stays in the -wal file beside the ledger, as recent
    commits do on a busy ledger: a copy of the ledger's main file alone would not have them.\"\"\"
    import datetime as dt, sys
    from pathlib import Path
    from sqlalchemy import event, func, select
    from ledger import db, operations as ops
    from ledger.models import Entry

    url, log_path, stop = sys.argv[1:4]
    engine = db.make_engine(url)
    event.listen(
        engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA wal_autocheckpoint = 0")
    )
    factory = db.session_factory(engine)


    def entries(session):
        return session.scalar(select(func.count(Entry.id))) or 0


    def three_entries(session, n):
        ops.record_award(
            session, reference=f"BUSY-AWARD-{n}", pot="Busy pot", funder="Scottish Government",
            amount_pence=10_000, award_date=dt.date(2022, 4, 1), entered_by="officer",
            memo="Busy year", approved_by="finance",
        )
        ops.allocate(
            session, reference=f"BUSY-ALLOC-{n}", pot="Busy pot", recipient="Aberlour",
            amount_pence=6_000, date=dt.date(2022, 10, 1), entered_by="officer",
            approved_by="finance", purpose="Family support",
        )
        ops.pay(
            session, reference=f"BUSY-PAY-{n}", allocation=f"BUSY-ALLOC-{n}",
            amount_pence=2_000, date=dt.date(2022, 10, 2), entered_by="officer",
            approved_by="finance", memo="Instalment",
        )
        return entries(session)


    with open(log_path, "a", buffering=1) as log:
        log.write(f"{db.run_in_transaction(factory, entries)}\\n")
        n = 0
        while not Path(stop).exists():
            n += 1
            log.write(f"{db.run_in_transaction(factory, lambda s: three_entries(s, n))}\\n")
    """
)


def committed(log: Path) -> list[int]:
    """The counts the writer has logged so far (a line still being written is left out)."""
    text = log.read_text() if log.exists() else ""
    return [int(line) for line in text.split("\n")[:-1]]


def wait_until_committed(log: Path, at_least: int, process: subprocess.Popen[bytes]) -> list[int]:
    deadline = time.monotonic() + WAIT
    while len(counts := committed(log)) < at_least:
        assert process.poll() is None, "the writer stopped"
        assert time.monotonic() < deadline, f"the writer committed only {counts}"
        time.sleep(0.02)
    return counts


@sqlite_only
def test_a_backup_taken_while_another_process_writes_is_a_state_it_committed(
    ledger_file: Path, tmp_path: Path
) -> None:
    script, log, stop = tmp_path / "writer.py", tmp_path / "committed.log", tmp_path / "stop"
    script.write_text(WRITER)
    copy = tmp_path / "backups" / "ledger-copy.sqlite3"
    copy.parent.mkdir()

    with child(script, url_of(ledger_file), str(log), str(stop), log=tmp_path / "w.out") as w:
        before_backup = wait_until_committed(log, 4, w)  # the writer is well under way
        finished = run_cli(url_of(ledger_file), "backup", str(copy))
        after_backup = len(committed(log))
        wait_until_committed(log, after_backup + 3, w)  # and it carried on afterwards
        stop.touch()
        assert w.wait(timeout=WAIT) == 0, (tmp_path / "w.out").read_text()

    assert (finished.returncode, finished.stderr) == (0, ""), finished.stderr
    reported = BACKED_UP.fullmatch(finished.stdout)
    assert reported, finished.stdout
    assert reported["path"] == str(copy)
    counts = committed(log)
    copied = entries_in(copy)
    assert int(reported["entries"].replace(",", "")) == copied
    # Each commit adds three entries: a copy torn between commits would show another number.
    assert copied in counts, (copied, counts)
    # Every commit made before the backup started is in it (they were all in the -wal file)...
    assert copied >= before_backup[-1], (copied, before_backup)
    # ...and the writer went on committing after the copy was taken.
    assert copied < counts[-1], (copied, counts)
    checked = run_cli(url_of(copy), "check")
    assert checked.returncode == 0 and checked.stdout.endswith(CHECK_OK), checked.stdout
    assert leftovers(copy.parent) == []


@sqlite_only
def test_the_backup_is_one_self_contained_file_with_the_ledgers_permissions(
    ledger_file: Path, tmp_path: Path
) -> None:
    ledger_file.chmod(0o640)
    copy = tmp_path / "copy.sqlite3"

    code, printed = commonpurse(url_of(ledger_file), "backup", str(copy))

    assert code == 0
    size = backup.human_size(copy.stat().st_size)
    assert printed == f"Backed up 13 entries to {copy} ({size}); check OK\n"
    assert BACKED_UP.fullmatch(printed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite3", "live"]
    connection = sqlite3.connect(copy)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        connection.close()
    assert copy.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1023, "1,023 bytes"),
        (1024, "1.0 KB"),
        (2_202_010, "2.1 MB"),
        (5 * 1024**4, "5,120.0 GB"),
    ],
)
def test_sizes_are_shown_as_people_read_them(size: int, shown: str) -> None:
    assert backup.human_size(size) == shown


# --- Crashes and interruptions -----------------------------------------------------------------

PAUSED_BACKUP = (
    '"""commonpurse, pausing its backup once the copy is made but not yet named: MARKER ARGV"""'
    + WRITE_MARKER
    + textwrap.dedent(
        """
        import sys, time
        import ledger.backup, ledger.cli

        marker = sys.argv[1]
        real_copy_database = ledger.backup.copy_database


        def copy_database(source, destination):
            real_copy_database(source, destination)
            write_marker(marker, {"temporary": str(destination)})
            while True:
                time.sleep(60)  # until the test kills us


        ledger.backup.copy_database = copy_database
        sys.exit(ledger.cli.main(sys.argv[2:]))
        """
    )
)


@sqlite_only
def test_a_backup_killed_after_copying_leaves_nothing_under_the_files_name(
    ledger_file: Path, tmp_path: Path
) -> None:
    script, marker, log = tmp_path / "paused.py", tmp_path / "copied.json", tmp_path / "b.out"
    script.write_text(PAUSED_BACKUP)
    folder = tmp_path / "backups"
    folder.mkdir()
    copy = folder / "ledger.sqlite3"

    argv = [str(marker), "--db", url_of(ledger_file), "backup", str(copy)]
    with child(script, *argv, log=log) as process:
        temporary = Path(wait_for(marker, process, log)["temporary"])
        assert temporary.parent == folder and entries_in(temporary) == 13  # all copied...
        assert not copy.exists()  # ...but not yet named
        kill(process)

    assert not copy.exists()
    assert leftovers(folder) == [temporary.name]  # SIGKILL leaves the hidden partial file
    finished = run_cli(url_of(ledger_file), "backup", str(copy))
    assert finished.returncode == 0, finished.stderr
    assert entries_in(copy) == 13


@sqlite_only
def test_ctrl_c_during_a_backup_leaves_no_file_at_all(
    ledger_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(path: Path, *, label: str) -> None:
        assert path.exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(backup, "verify_copy", interrupted)
    copy = tmp_path / "copy.sqlite3"

    code, line = refused(capsys, url_of(ledger_file), "backup", str(copy))

    assert code == 130
    assert line == "commonpurse: Interrupted; nothing from the unfinished operation was written."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live"]


# --- Refusals and exit codes -------------------------------------------------------------------


@sqlite_only
def test_an_existing_file_is_replaced_only_with_force(
    ledger_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.sqlite3"
    copy.write_text("last week's notes, not a ledger")

    code, line = refused(capsys, url_of(ledger_file), "backup", str(copy))

    assert (code, line) == (1, f"commonpurse: {copy} already exists; use --force to replace it")
    assert copy.read_text() == "last week's notes, not a ledger"
    assert leftovers(tmp_path) == []

    code, printed = commonpurse(url_of(ledger_file), "backup", str(copy), "--force")
    assert code == 0 and printed.endswith("; check OK\n")
    assert entries_in(copy) == 13


@sqlite_only
def test_the_ledger_is_never_backed_up_onto_itself(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ledger_file.read_bytes()
    for target in (ledger_file, ledger_file.with_name(ledger_file.name + "-wal")):
        code, line = refused(capsys, url_of(ledger_file), "backup", str(target), "--force")
        assert (code, line) == (
            1,
            f"commonpurse: {target} is part of the ledger itself; back it up to another file",
        )
    assert ledger_file.read_bytes() == before
    assert commonpurse(url_of(ledger_file), "check")[0] == 0


def test_a_postgresql_ledger_is_refused_pointing_to_pg_dump(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url if on_postgres() else "postgresql+psycopg://nobody@127.0.0.1:1/none"
    folder = tmp_path / "backups"
    folder.mkdir()

    code, line = refused(capsys, url, "backup", str(folder / "copy.dump"))

    assert code == cli.EXIT_REFUSED == 1
    assert line == (
        "commonpurse: backup copies SQLite ledgers; for PostgreSQL use pg_dump"
        " (pg_dump -Fc -f FILE DBNAME), see Backups in the README"
    )
    assert list(folder.iterdir()) == []


@sqlite_only
@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("no ledger", 1, "There is no ledger at {ledger}; nothing to back up"),
        ("no folder", 1, "The folder {folder} does not exist"),
        ("a folder", 1, "{target} is a folder; give the name of the backup file"),
        ("in memory", 1, "An in-memory SQLite database has no file to back up"),
        ("not a ledger", 1, "{ledger} is not a commonpurse ledger (it has no schema version);"),
        ("not a database", 4, "The database refused the request: file is not a database"),
    ],
)
def test_backup_refusals_say_why_with_the_clis_exit_codes(
    tmp_path: Path,
    sqlite_template: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    code: int,
    message: str,
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    folder = tmp_path / "backups"
    target = folder / "copy.sqlite3"
    url = url_of(ledger)
    shutil.copyfile(sqlite_template, ledger)
    folder.mkdir()
    if case == "no ledger":
        ledger.unlink()
    elif case == "no folder":
        folder.rmdir()
    elif case == "a folder":
        target.mkdir()
    elif case == "in memory":
        url = "sqlite://"
    elif case == "not a ledger":
        ledger.unlink()
        connection = sqlite3.connect(ledger)
        connection.execute("CREATE TABLE notes (text)")
        connection.commit()
        connection.close()
    elif case == "not a database":
        ledger.write_text("date,operation,reference\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))

    status, line = refused(capsys, url, "backup", str(target))

    expected = message.format(ledger=ledger, folder=folder, target=target)
    assert status == code
    assert line.startswith(f"commonpurse: {expected}"), line
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing new, nothing left


@sqlite_only
def test_a_ledger_with_problems_is_still_copied_and_exits_3(
    ledger_file: Path, tmp_path: Path
) -> None:
    connection = sqlite3.connect(ledger_file)
    connection.execute(
        "UPDATE pots SET funded_pence = funded_pence + 1 WHERE name = 'Promise Partnership 2021-22'"
    )
    connection.commit()
    connection.close()
    copy = tmp_path / "copy.sqlite3"

    code, printed = commonpurse(url_of(ledger_file), "backup", str(copy))

    assert code == cli.EXIT_CHECK_FAILED == 3
    size = backup.human_size(copy.stat().st_size)
    assert printed == (
        f"Backed up 13 entries to {copy} ({size}); check found 1 problem(s):\n"
        "PROBLEM pot Promise Partnership 2021-22: funded is £50,000.01 but the journal says"
        " £50,000.00\n"
    )
    assert entries_in(copy) == 13


@sqlite_only
def test_a_ledger_at_an_older_schema_is_copied_but_not_checked(tmp_path: Path) -> None:
    older = ScriptDirectory(str(db.MIGRATIONS_DIR)).get_revision(db.head_revision())
    assert older is not None and isinstance(older.down_revision, str)
    ledger = tmp_path / "old.sqlite3"
    engine = db.make_engine(url_of(ledger))
    db.upgrade(engine, older.down_revision)
    engine.dispose()
    copy = tmp_path / "copy.sqlite3"

    code, printed = commonpurse(url_of(ledger), "backup", str(copy))

    assert code == 0
    size = backup.human_size(copy.stat().st_size)
    assert printed == (
        f"Backed up 0 entries to {copy} ({size}); not checked: its schema is at revision"
        f" {older.down_revision} and this commonpurse checks revision {db.head_revision()}\n"
    )


def test_backup_without_a_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["backup"], out=io.StringIO())
    assert exited.value.code == 2
    assert "the following arguments are required: FILE" in capsys.readouterr().err


# --- balances --pot ----------------------------------------------------------------------------


def test_balances_of_one_pot_show_only_that_pot(database_url: str) -> None:
    assert commonpurse(database_url, "demo")[0] == 0
    ctsi = "CTSI managed WFWF Grant 2022-23"

    code, printed = commonpurse(database_url, "balances", "--pot", ctsi)

    assert code == 0
    assert printed == (
        "Pot                              Administered by                                  "
        "   Funded   Allocated  Returned  Available   Paid  Received\n"
        "CTSI managed WFWF Grant 2022-23  Clackmannanshire Third Sector Interface (CTSI)"
        "  £82,336.18  £82,336.18     £0.00      £0.00  £0.00     £0.00\n"
        "Nothing is carried forward, handed back, held for approval or held as cash in these"
        " pots, so those columns are left out.\n"
        "CTSI managed WFWF Grant 2022-23 is delegated from WFWF 2022-23.\n"
    )
    _, everything = commonpurse(database_url, "balances", "--json")
    _, one = commonpurse(database_url, "balances", "--json", "--pot", ctsi)
    pots = json.loads(everything)["pots"]
    assert len(pots) == 3
    assert json.loads(one) == {
        "pots": [pot for pot in pots if pot["name"] == ctsi],
        "award_years": [],  # a delegated pot has no awards of its own
        "expected": [],
    }


def test_balances_of_a_pot_with_an_assumption_keep_the_note(database_url: str) -> None:
    assert commonpurse(database_url, "demo")[0] == 0

    code, printed = commonpurse(database_url, "balances", "--pot", "WFWF 2022-23")

    assert code == 0
    assert printed == (
        "Pot           Administered by                Funded    Allocated  Returned  Available"
        "   Paid  Received\n"
        "WFWF 2022-23  Clackmannanshire Council  £337,103.18  £337,103.18     £0.00      £0.00"
        "  £0.00     £0.00\n"
        "Nothing is carried forward, handed back, held for approval or held as cash in these"
        " pots, so those columns are left out.\n"
        "\n"
        "Note: WFWF 2022-23 includes £103.18 recorded as an assumption, not from a named funder:"
        " its allocations exceed what the documents show was awarded by £103.18.\n"
        "\n"
        "Award years and expected funding:\n"
        "- Award WFWF-2022-23-AWARD £337,000.00: phasing not stated. The documents disagree on"
        " the years of the £337,000.00 award WFWF-2022-23-AWARD: Appendix 2 (report of 8"
        " February 2024) says 2022-23; Paragraph 7.1 (report of 8 February 2024) says 2022-23"
        " and 2023-24.\n"
        "- Expected, not awarded: WFWF-YEAR-3-EXPECTED £337,000.00 (amount assumed: the"
        " documents state none) from Scottish Government for 2024-25 into WFWF 2022-23,"
        " expected 01/04/2024. Not counted as funded, available or awarded.\n"
    )


def test_balances_of_an_unknown_pot_are_refused(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commonpurse(database_url, "demo")[0] == 0

    code, line = refused(capsys, database_url, "balances", "--pot", "WFWF 2023-24")

    assert (code, line) == (1, "commonpurse: There is no pot called 'WFWF 2023-24'.")
