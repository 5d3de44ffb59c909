"""Crashes: a process killed in the middle of a transaction leaves the ledger exactly as it was.

Each test runs the real thing in a child process (the ``commonpurse`` CLI, or the web app behind
werkzeug's server) through a small wrapper script written into the test's folder. The wrapper
patches one function so that, part-way through the work and with rows written but not committed,
the child writes a marker file and sleeps. The test waits for the marker (never for a fixed time),
confirms from another connection that nothing is visible yet, kills the child with SIGKILL (no
clean-up of any kind runs), and then compares a dump of every table with the dump taken before.
Nothing in the product knows about these hooks.

They run on SQLite and, with ``COMMONPURSE_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import html
import http.client
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import MetaData, create_engine, make_url, select

from ledger import cli, importer

ROOT = Path(__file__).resolve().parent.parent
WAIT = 120.0  # seconds to wait for a child on a loaded machine before failing the test
COUNCIL = "Clackmannanshire Council"
HEADER = "date,operation,reference,pot,counterparty,amount,description,allocation_ref,to_pot\n"
CHECK_OK = "OK: every entry balances and every balance matches the journal.\n"

# The import: one award, then allocations, payments and receipts, one journal entry per row.
# The child pauses once it has read ARM rows and some of them are written but not committed.
# An importer that writes its rows in batches (``CHUNK_ROWS`` of them) first writes at the end of
# a batch, so the file is 300 rows longer than one batch: the pause then comes after the first
# batch is written and before the last row. (Should the importer hold every row back to the end,
# the child pauses just before the commit instead: still mid-transaction.)
ARM = 100
IMPORT_ROWS = getattr(importer, "CHUNK_ROWS", 0) + 300


# --- Children, markers and dumps ---------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment for a child: this checkout first on the path, no ledger from outside."""
    env = dict(os.environ)
    env.pop("COMMONPURSE_DATABASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The real console command in its own process: ``python -m ledger.cli --db URL ARGV``."""
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", "--db", url, *argv],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=ROOT,
        timeout=WAIT,
        check=False,
    )


@contextmanager
def child(script: Path, *argv: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python SCRIPT ARGV`` with its output in ``log``; never let it outlive the test."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(script), *argv],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=child_env(),
            cwd=ROOT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=WAIT)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no exception handler, ``finally`` or atexit runs in the child."""
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=WAIT) == -signal.SIGKILL


def wait_for(marker: Path, process: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    """The JSON the child wrote to ``marker``; fails the test if the child ends first."""
    deadline = time.monotonic() + WAIT
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(
                f"The child ended (status {process.returncode}) before writing {marker.name}:\n"
                + log.read_text(errors="replace")
            )
        if time.monotonic() > deadline:
            pytest.fail(f"No {marker.name} within {WAIT:.0f}s:\n" + log.read_text(errors="replace"))
        time.sleep(0.02)
    found: dict[str, Any] = json.loads(marker.read_text())
    return found


# Written by the children: JSON to a temporary name, then renamed, so a reader never sees half.
WRITE_MARKER = """
def write_marker(path, facts):
    import json, os
    with open(path + ".tmp", "w") as handle:
        json.dump(facts, handle)
    os.replace(path + ".tmp", path)
"""

Dump = dict[str, list[tuple[Any, ...]]]


def dump(url: str) -> Dump:
    """Every row of every table in the database, in a canonical order."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {
                name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
                for name, table in sorted(metadata.tables.items())
            }
    finally:
        engine.dispose()


def entries(url: str) -> int:
    return len(dump(url)["entries"])


def assert_sqlite_file_intact(url: str) -> None:
    if make_url(url).get_backend_name() != "sqlite":
        return
    path = make_url(url).database
    assert path is not None
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()


def in_process(url: str, *argv: str) -> str:
    """``commonpurse --db URL ARGV`` in this process; it must succeed."""
    out = io.StringIO()
    code = cli.main(["--db", url, *argv], out=out)
    assert code == 0, out.getvalue()
    return out.getvalue()


def assert_check_passes(url: str) -> None:
    assert in_process(url, "check").endswith(CHECK_OK)


# --- A bulk import killed part-way -------------------------------------------------------------

IMPORT_WRAPPER = (
    '"""commonpurse, pausing its import part-way: MARKER ARM ARGV..."""\n'
    + WRITE_MARKER
    + textwrap.dedent(
        """
        import sys, time
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        import ledger.cli
        import ledger.importer  # the CLI imports it when the command runs

        marker, arm = sys.argv[1], int(sys.argv[2])
        real_import_rows = ledger.importer.import_rows
        seen = {"rows": 0, "before": None}


        def count_entries(dbapi_connection):
            # On the import's own connection, so it sees what the import wrote but has not
            # committed; a driver cursor runs no SQLAlchemy events and flushes nothing.
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT count(*) FROM entries")
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()


        def pause_if_written(via, dbapi_connection):
            written = count_entries(dbapi_connection)
            if written <= seen["before"]:
                return  # nothing of this import is in the database yet: keep going
            facts = {"via": via, "rows": seen["rows"], "before": seen["before"]}
            write_marker(marker, dict(facts, written=written))
            while True:
                time.sleep(60)  # until the test kills us


        def import_rows(session, *args, **kwargs):
            dbapi_connection = session.connection().connection.dbapi_connection
            seen["before"] = count_entries(dbapi_connection)
            report = kwargs.get("progress")

            def progress(rows):
                if report is not None:
                    report(rows)
                seen["rows"] = rows
                if rows >= arm:
                    pause_if_written("progress", dbapi_connection)

            kwargs["progress"] = progress
            return real_import_rows(session, *args, **kwargs)


        @event.listens_for(Engine, "commit")
        def before_commit(connection):
            # Should the import hold every row back until the end, pause just before it commits.
            if seen["before"] is not None and seen["rows"] >= arm:
                pause_if_written("commit", connection.connection.dbapi_connection)


        ledger.importer.import_rows = import_rows
        sys.exit(ledger.cli.main(sys.argv[3:]))
        """
    )
)


def import_csv(path: Path, rows: int) -> Path:
    """``rows`` rows of a busy year in one new pot, each posting exactly one journal entry."""
    lines = [
        HEADER,
        '2022-04-01,award,CRASH-AWARD,Crash pot,Scottish Government,"£1,000,000",Year 1,,\n',
    ]
    for n in range(1, rows):
        kind = n % 3
        if kind == 1:
            lines.append(
                f"2022-10-01,allocate,CRASH-ALLOC-{n},Crash pot,Provider {n % 7},"
                f"£{10 + n % 50}.00,Family support {n},,\n"
            )
        elif kind == 2:
            lines.append(f"2022-10-15,pay,CRASH-PAY-{n},,,£4.00,Instalment,CRASH-ALLOC-{n - 1},\n")
        else:
            lines.append(
                f"2022-06-01,receive,CRASH-CASH-{n},Crash pot,Scottish Government,£1.00,,,\n"
            )
    path.write_text("".join(lines), encoding="utf-8")
    return path


def imported(rows: int, new: int) -> str:
    return (
        f"Imported crash.csv: {rows} rows, {new} new journal entries, 0 awaiting approval,"
        f" {rows - new} already recorded.\n"
    )


def test_an_import_killed_part_way_leaves_the_ledger_exactly_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    in_process(database_url, "init", "--accountable-body", COUNCIL)
    in_process(database_url, "demo")  # something already there, which must stay as it is
    csv_file = import_csv(tmp_path / "crash.csv", IMPORT_ROWS)
    before = dump(database_url)
    wrapper = tmp_path / "import_then_pause.py"
    wrapper.write_text(IMPORT_WRAPPER)
    marker, log = tmp_path / "paused.json", tmp_path / "import.log"
    argv = ["--user", "officer", "import", str(csv_file), "--approved-by", "finance"]

    with child(wrapper, str(marker), str(ARM), "--db", database_url, *argv, log=log) as cp:
        paused = wait_for(marker, cp, log)
        print(f"paused: {paused}")
        # Part-way, with some of the import written inside the open transaction...
        assert paused["before"] == len(before["entries"]) == 13
        assert paused["written"] > paused["before"]
        if paused["via"] == "progress":
            assert paused["rows"] < IMPORT_ROWS
        # ...and none of it visible to anyone else.
        assert dump(database_url) == before
        kill(cp)

    assert dump(database_url) == before
    assert_sqlite_file_intact(database_url)
    assert_check_passes(database_url)

    again = run_cli(database_url, *argv)
    assert (again.returncode, again.stderr) == (0, ""), again.stderr
    assert again.stdout == imported(IMPORT_ROWS, IMPORT_ROWS)
    assert entries(database_url) == len(before["entries"]) + IMPORT_ROWS

    third = run_cli(database_url, *argv)
    assert third.stdout == imported(IMPORT_ROWS, 0), third.stderr
    assert entries(database_url) == len(before["entries"]) + IMPORT_ROWS
    assert_check_passes(database_url)


# --- A web request killed mid-transaction ------------------------------------------------------

SERVER_WRAPPER = (
    '"""The web app on 127.0.0.1: URL SECRET READY MARKER (MARKER "-": no pause)."""\n'
    + WRITE_MARKER
    + textwrap.dedent(
        """
        import sys, time
        from werkzeug.serving import make_server
        import ledger.journal
        from web import create_app

        url, secret, ready, marker = sys.argv[1:5]
        real_post = ledger.journal.post


        def post(*args, **kwargs):
            entry = real_post(*args, **kwargs)  # the entry, its lines and figures, flushed
            write_marker(marker, {"reference": kwargs.get("reference"), "entry": entry.id})
            while True:
                time.sleep(60)  # until the test kills us


        if marker != "-":
            patched = []
            for name, module in list(sys.modules.items()):
                if name.startswith("ledger") and getattr(module, "post", None) is real_post:
                    module.post = post
                    patched.append(name)
            assert "ledger.journal" in patched, patched
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": secret,
                "COMMONPURSE_ENV": "development",
                "SESSION_COOKIE_SECURE": False,
            }
        )
        server = make_server("127.0.0.1", 0, app)
        write_marker(ready, {"port": server.server_port})
        server.serve_forever()
        """
    )
)
SECRET = "a secret key shared by the server and its restart, for this test only"


class Browser:
    """Just enough of a browser: one cookie jar, forms posted as a browser posts them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        """Send a request and return the connection, without waiting for the response."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        return connection

    def receive(self, connection: Any) -> tuple[int, str, str | None]:
        """(status, body, Location) of the response on ``connection``; keeps its cookies."""
        try:
            response = connection.getresponse()
            body = response.read().decode()
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return response.status, body, response.getheader("Location")
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, str, str | None]:
        return self.receive(self.send("GET", path))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str, str | None]:
        return self.receive(self.send("POST", path, form))


def form_fields(page: str) -> dict[str, str]:
    """The name and value of every ``<input>`` on a page."""
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        name = re.search(r'\bname="([^"]*)"', tag)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        if name:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1) if value else "")
    return fields


@contextmanager
def web_server(
    url: str, tmp_path: Path, name: str, pause: bool
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path, Path]]:
    """The app in a child process: (process, port, the marker its pause writes, its log)."""
    wrapper = tmp_path / "serve.py"
    wrapper.write_text(SERVER_WRAPPER)
    ready, marker, log = (tmp_path / f"{name}.{part}" for part in ("ready", "paused", "log"))
    argv = [url, SECRET, str(ready), str(marker) if pause else "-"]
    with child(wrapper, *argv, log=log) as process:
        port = int(wait_for(ready, process, log)["port"])
        yield process, port, marker, log


def sign_in(browser: Browser, username: str, password: str) -> None:
    status, page, _ = browser.get("/login")
    assert status == 200
    token = form_fields(page)["csrf_token"]
    form = {"csrf_token": token, "username": username, "password": password}
    status, page, location = browser.post("/login", form)
    assert (status, location) == (302, "/"), page


def test_a_web_request_killed_mid_transaction_writes_nothing_and_can_be_resubmitted(
    database_url: str, tmp_path: Path
) -> None:
    from tests.web_helpers import PASSWORD, appendix_2_app, pot_id
    from web.db import ledger_of

    setup = appendix_2_app(database_url)  # £82,233.00 left in WFWF 2022-23; one user per role
    wfwf = pot_id(setup, "WFWF 2022-23")
    ledger_of(setup).engine.dispose()

    with web_server(database_url, tmp_path, "first", pause=True) as (server, port, marker, log):
        browser = Browser(port)
        sign_in(browser, "officer", PASSWORD)
        status, page, _ = browser.get(f"/allocations/new?pot={wfwf}")
        assert status == 200
        fields = form_fields(page)
        form = {
            "csrf_token": fields["csrf_token"],
            "reference": fields["reference"],
            "pot": str(wfwf),
            "recipient": "Homestart",
            "amount": "£1,000.00",
            "date": "2022-10-01",
            "purpose": "Family support sessions",
            "period_start": "",
            "period_end": "",
            "tags": "",
        }
        before = dump(database_url)
        request = browser.send("POST", "/allocations/new", form)
        paused = wait_for(marker, server, log)
        assert paused["reference"] == form["reference"]
        assert dump(database_url) == before  # written inside the request, not yet committed
        kill(server)
        with pytest.raises((http.client.HTTPException, OSError)):
            browser.receive(request)  # the browser sees the connection drop

    assert dump(database_url) == before
    assert_sqlite_file_intact(database_url)
    assert_check_passes(database_url)

    with web_server(database_url, tmp_path, "restarted", pause=False) as (_, port, _, _):
        browser.port = port  # same cookies: still signed in, same form and CSRF token
        status, page, location = browser.post("/allocations/new", form)
        assert (status, location) == (302, f"/pots/{wfwf}"), page
        status, page, location = browser.post("/allocations/new", form)  # pressed again
        assert (status, location) == (302, f"/pots/{wfwf}"), page
        _, page, _ = browser.get(f"/pots/{wfwf}")
        assert "Recorded allocation" in page and "£1,000.00" in page

    after = dump(database_url)
    assert len(after["entries"]) == len(before["entries"]) + 1
    assert len(after["allocations"]) == len(before["allocations"]) + 1
    references = [row for row in after["allocations"] if form["reference"] in row]
    assert len(references) == 1
    assert_check_passes(database_url)


def test_the_dump_sees_a_half_written_change(database_url: str) -> None:
    """The comparison the crash tests rely on notices one changed figure."""
    in_process(database_url, "init", "--accountable-body", COUNCIL)
    in_process(database_url, "demo")
    before = dump(database_url)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE pots SET funded_pence = funded_pence + 1")
    finally:
        engine.dispose()
    assert dump(database_url) != before
