"""The same races through the front doors: the CLI's import and the web app in a real server.

``tests/test_concurrency.py`` races the ledger's Python API. Here the racers are what people use:

* ``commonpurse import``: eight CLI processes, each importing its own small CSV against one pot.
  Each process runs the CLI's own ``main`` in a fresh interpreter, exactly as the installed
  ``commonpurse`` script does, after a start gate: the processes load Python and the ledger,
  say they are ready, and all begin together when the test closes a pipe (so they race at the
  database, not at start-up).
* the web app in a real multi-process, multi-threaded server (gunicorn with four workers of two
  threads each, as in production; and werkzeug's threaded server, which needs nothing extra),
  with sixteen browsers, each its own signed-in person with its own session cookie and CSRF
  token, submitting allocation and payment forms at the same moment.

Each race runs on the test database of the run (SQLite, or PostgreSQL when
``COMMONPURSE_TEST_DATABASE_URL`` is set). Afterwards exactly the operations that fit are
recorded, every refused one wrote nothing, every refusal is the ledger's plain message, nobody
saw "database is locked" or a traceback, and ``check`` passes. Every wait has a time limit, and
every process the test starts is stopped before it ends.
"""

from __future__ import annotations

import functools
import html
import http.client
import importlib.util
import io
import os
import re
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import make_url
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from ledger import cli, users
from ledger import operations as ops
from ledger.models import Allocation, AuditEvent, Request, User
from tests.test_concurrency import (
    POT_FUNDING,
    PotState,
    Run,
    Traces,
    assert_ledger_checks,
    confirmed_allocation,
    fund_pots,
    pot_state,
    totals,
    traces,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0  # seconds for every racer to load and say it is ready (a loaded 2-core box)
RACE_TIMEOUT = 90.0  # seconds for every racer to finish once started
HTTP_TIMEOUT = 60.0  # seconds for one HTTP response
# What must never reach a person or the server's log: lock and driver errors, tracebacks.
FORBIDDEN = (
    "database is locked",
    "database table is locked",
    "deadlock detected",
    "could not serialize",
    "Traceback",
    "Exception on ",  # how Flask logs an unhandled exception
    "OperationalError",
    "IntegrityError",
    "psycopg",
)


def engine_name(url: str) -> str:
    return make_url(url).get_backend_name()


def assert_clean(text: str, where: str) -> None:
    """No lock error, driver error or traceback reached a person (or the server's log)."""
    for word in FORBIDDEN:
        assert word.lower() not in text.lower(), f"{word!r} in {where}:\n{text}"


# The CLI: eight `commonpurse import` processes -----------------------------------------------

# Runs in each racing process: load everything the CLI loads (its commands and both database
# drivers), say so on the "ready" pipe, wait until the test closes the "go" pipe, then run the
# CLI's main as the `commonpurse` script does.
GATED_CLI = """
import os, sys
import psycopg, sqlite3
from ledger import cli
cli.build_parser()
ready, go = int(sys.argv[1]), int(sys.argv[2])
os.write(ready, b".")
os.close(ready)
os.read(go, 1)
os.close(go)
sys.exit(cli.main(sys.argv[3:]))
"""


@dataclass(frozen=True)
class Finished:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment, with this checkout first on the path (so the racers run the
    code under test) and nothing that would point them at another ledger."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMONPURSE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_together(argvs: Sequence[list[str]]) -> tuple[list[Finished], float]:
    """Run ``commonpurse ARGV`` for each argv at once; return how each ended and the seconds
    from the start signal to the last exit. No process outlives this call."""
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    processes: list[subprocess.Popen[str]] = []
    try:
        for argv in argvs:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", GATED_CLI, str(ready_write), str(go_read), *argv],
                    cwd=REPO_ROOT,
                    env=child_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                    pass_fds=(ready_write, go_read),
                )
            )
        os.close(ready_write)
        ready_write = -1
        ready = 0
        deadline = time.monotonic() + START_TIMEOUT
        while ready < len(processes):
            early = [p for p in processes if p.poll() is not None]
            if early:
                pytest.fail(f"A process ended before the start: {_outputs(early)}")
            if time.monotonic() > deadline:
                pytest.fail(f"Only {ready} of {len(processes)} processes were ready in time")
            readable, _, _ = select.select([ready_read], [], [], 0.5)
            if readable:
                ready += len(os.read(ready_read, 64))
        started = time.monotonic()
        os.close(go_write)  # every process's read returns now: they start together
        go_write = -1
        finished = []
        for argv, process in zip(argvs, processes, strict=True):
            remaining = max(started + RACE_TIMEOUT - time.monotonic(), 1.0)
            try:
                out, err = process.communicate(timeout=remaining)
            except subprocess.TimeoutExpired:
                pytest.fail(f"commonpurse {' '.join(argv)} did not finish in {RACE_TIMEOUT:.0f}s")
            finished.append(Finished(argv, process.returncode, out, err))
        return finished, time.monotonic() - started
    finally:
        for process in processes:  # killed before the gate opens, if it never did
            if process.poll() is None:
                process.kill()
            process.communicate()
        for fd in (ready_read, ready_write, go_read, go_write):
            if fd >= 0:
                os.close(fd)


def _outputs(processes: Sequence[subprocess.Popen[str]]) -> str:
    parts = []
    for process in processes:
        out, err = process.communicate()
        parts.append(f"exit {process.returncode}\nstdout: {out}\nstderr: {err}")
    return "\n".join(parts)


HEADER = "date,operation,reference,pot,counterparty,amount,description,allocation_ref,to_pot"
FRONT_POT = "Front door pot"
GRANT = "SHARED GRANT"  # £300.00 confirmed before the race: two £150.00 payments fit
COSTS = "RUNNING COSTS"  # £100.00 confirmed before the race: eight £10.00 payments fit
GRANT_PENCE = 30_000
COSTS_PENCE = 10_000
FEE_PENCE = 1_000  # every file pays £10.00 on the running costs first
INSTALMENT_PENCE = 15_000  # then pays £150.00 on the shared grant (or allocates £200.00)
PROCESSES = 8
AUTHORITY = "People Committee 16 September 2021"


@dataclass(frozen=True)
class ImportFile:
    """One process's CSV: a £10.00 payment that always fits, then the row that races."""

    name: str
    kind: str  # "allocate" (£200.00 from the pot) or "pay" (£150.00 on the shared grant)
    fee_reference: str
    reference: str
    recipient: str | None

    def text(self) -> str:
        fee = f"2022-10-01,pay,{self.fee_reference},,,10.00,Running costs,{COSTS},"
        if self.kind == "allocate":
            racing = (
                f"2022-10-01,allocate,{self.reference},{FRONT_POT},{self.recipient},200.00,"
                "Family support,,"
            )
        else:
            racing = f"2022-10-01,pay,{self.reference},,,150.00,Instalment,{GRANT},"
        return "\n".join([HEADER, fee, racing]) + "\n"


NOTHING = Traces(0, 0, 0, 0, 0)


def front_door_ledger(run: Run) -> None:
    """£1,000.00 in the pot; £300.00 and £100.00 of it allocated and confirmed; £600.00 left."""
    fund_pots(run, [FRONT_POT])
    confirmed_allocation(run, FRONT_POT, GRANT, GRANT_PENCE)
    confirmed_allocation(run, FRONT_POT, COSTS, COSTS_PENCE)


def test_eight_cli_imports_racing_for_one_pot(database_url: str, run: Run, tmp_path: Path) -> None:
    """Eight processes import a file each, at once. Four files allocate £200.00 from a pot with
    £600.00 available (three fit); four pay £150.00 on its £300.00 grant (two fit). Each file
    first pays £10.00 on another grant, which always fits: an import is one transaction, so a
    refused file must leave that payment unrecorded too."""
    front_door_ledger(run)
    before = run(totals)
    files = [
        ImportFile(
            name=f"front-door-{w}.csv",
            kind="allocate" if w % 2 == 0 else "pay",
            fee_reference=f"CLI FEE {w}",
            reference=f"CLI {'ALLOC' if w % 2 == 0 else 'PAY'} {w}",
            recipient=f"CLI provider {w}" if w % 2 == 0 else None,
        )
        for w in range(PROCESSES)
    ]
    for file in files:
        (tmp_path / file.name).write_text(file.text(), encoding="utf-8")
    argvs = [
        [
            "--db",
            database_url,
            "--user",
            f"clerk {w}",
            "import",
            str(tmp_path / file.name),
            "--approved-by",
            AUTHORITY,
        ]
        for w, file in enumerate(files)
    ]

    finished, took = run_together(argvs)

    refusals = {
        "allocate": f"{FRONT_POT} has £0.00 available; this allocation needs £200.00"
        " (short by £200.00)",
        "pay": f"Allocation {GRANT} has £0.00 committed and unpaid; this payment needs £150.00"
        " (over by £150.00)",
    }
    won: list[ImportFile] = []
    for file, result in zip(files, finished, strict=True):
        assert_clean(result.stdout + result.stderr, f"the output of importing {file.name}")
        if result.returncode == 0:
            won.append(file)
            assert result.stdout == (
                f"Imported {file.name}: 2 rows, 2 new journal entries, 0 awaiting approval,"
                " 0 already recorded.\n"
            ), result
            assert result.stderr == "", result
        else:
            assert result.returncode == cli.EXIT_REFUSED, result
            assert result.stdout == "", result
            assert result.stderr == (
                f"commonpurse: Row 3, column amount: {refusals[file.kind]}\n"
            ), result
    kinds = Counter(file.kind for file in won)
    assert kinds == {"allocate": 3, "pay": 2}, finished

    # Every refused file wrote nothing: not even its £10.00 payment, which fitted.
    for file in files:
        recorded = file in won

        def look(s: Session, file: ImportFile = file) -> tuple[Traces, Traces, list[str]]:
            return (
                traces(s, file.fee_reference),
                traces(s, file.reference, file.recipient),
                list(
                    s.scalars(
                        sql_select(AuditEvent.detail).where(
                            AuditEvent.subject == f"file {file.name}"
                        )
                    )
                ),
            )

        fee, racing, import_events = run(look)
        if recorded:
            assert (fee.entries, racing.entries) == (1, 1), file
            assert racing.organisations == (1 if file.kind == "allocate" else 0), file
            assert import_events == [
                f"2 rows, 2 new entries, 0 awaiting approval; approved under {AUTHORITY}"
            ], file
        else:
            assert (fee, racing, import_events) == (NOTHING, NOTHING, []), file
    entries, allocations, requests, audit_events = before
    assert run(totals) == (
        entries + 2 * len(won),
        allocations + kinds["allocate"],
        requests,
        audit_events + kinds["allocate"] + len(won),  # each allocation approved; each import
    )
    paid = FEE_PENCE * len(won) + INSTALMENT_PENCE * kinds["pay"]
    assert run(functools.partial(pot_state, name=FRONT_POT)) == PotState(
        POT_FUNDING, POT_FUNDING, paid, 0, 0
    )
    unpaid = run(lambda s: [ops.find_allocation(s, a).unpaid_pence for a in (GRANT, COSTS)])
    assert unpaid == [0, COSTS_PENCE - FEE_PENCE * len(won)]
    assert_ledger_checks(run)
    report = io.StringIO()
    assert cli.main(["--db", database_url, "check"], out=report) == 0, report.getvalue()

    print(
        f"CLI race on {engine_name(database_url)}: {PROCESSES} `commonpurse import` processes,"
        f" each a 2-row file (a £10.00 payment, then £200.00 allocated or £150.00 paid);"
        f" imported {len(won)} ({kinds['allocate']}/4 allocating, {kinds['pay']}/4 paying),"
        f" refused {PROCESSES - len(won)} with exit {cli.EXIT_REFUSED} and the plain message;"
        f" all done {took:.2f}s after the start"
    )


# The web app in a real server -----------------------------------------------------------------

WEB_POT = "Web pot"
WEB_GRANT = "WEB GRANT"  # £400.00 confirmed before the race: two £150.00 payments fit
WEB_GRANT_PENCE = 40_000
PASSWORD = "correct horse battery staple"
OFFICERS = 8
CLERKS = 8
SESSION_COOKIE = "commonpurse_session"

# werkzeug's threaded server on the socket the test opened (fd in argv[1]).
WERKZEUG_SERVER = """
import sys
from werkzeug.serving import make_server
from web import create_app
make_server("127.0.0.1", 0, create_app(), threaded=True, fd=int(sys.argv[1])).serve_forever()
"""


def has_gunicorn() -> bool:
    return importlib.util.find_spec("gunicorn") is not None


@contextmanager
def web_server(kind: str, database_url: str, log: Path) -> Iterator[int]:
    """The app as production runs it, over ``database_url``, in a subprocess listening on a
    socket the test opened (so requests queue until the server is up: no polling, no port
    race). Yields the port; stops the server on the way out. Its output goes to ``log``."""
    env = child_env(
        COMMONPURSE_DATABASE_URL=database_url,
        COMMONPURSE_SECRET_KEY=secrets.token_hex(32),
        COMMONPURSE_COOKIE_SECURE="0",  # plain http on 127.0.0.1
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener, log.open("wb") as sink:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = int(listener.getsockname()[1])
        fd = listener.fileno()
        if kind == "gunicorn":
            argv = [
                *(sys.executable, "-m", "gunicorn", "--workers", "4", "--threads", "2"),
                *("--bind", f"fd://{fd}", "--graceful-timeout", "5", "--timeout", "120"),
                "web:create_app()",
            ]
        else:
            argv = [sys.executable, "-c", WERKZEUG_SERVER, str(fd)]
        server = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
        )
    # The server has its own copy of the listening socket now.
    try:
        yield port
    except BaseException:
        print(f"The {kind} server's log:\n{log.read_text(encoding='utf-8', errors='replace')}")
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if it ignores SIGTERM
            server.kill()
            server.wait(timeout=10)


@dataclass(frozen=True)
class Reply:
    status: int
    location: str | None
    text: str


class Browser:
    """One person's browser: its own session cookie; redirects are followed only on request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie: str | None = None

    def get(self, path: str) -> Reply:
        return self._request("GET", path, None)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self._request("POST", path, form)

    def _request(self, method: str, path: str, form: dict[str, str] | None) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8")
            for header in response.headers.get_all("Set-Cookie") or []:
                morsel = SimpleCookie(header).get(SESSION_COOKIE)
                if morsel is not None:
                    self.cookie = f"{SESSION_COOKIE}={morsel.value}" if morsel.value else None
            return Reply(response.status, response.getheader("Location"), text)
        finally:
            connection.close()


def input_value(page: str, name: str) -> str:
    """The value of the form field ``name`` in an HTML page."""
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    assert tag, f"no {name} field in the page:\n{page}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    assert value, tag.group(0)
    return html.unescape(value.group(1))


def sign_in(browser: Browser, username: str) -> None:
    page = browser.get("/login")
    assert page.status == 200, page
    reply = browser.post(
        "/login",
        {
            "csrf_token": input_value(page.text, "csrf_token"),
            "username": username,
            "password": PASSWORD,
        },
    )
    assert reply.status == 302, reply


@dataclass(frozen=True)
class Submission:
    """One person's form, filled in and ready to send."""

    username: str
    kind: str  # "allocate" or "pay"
    path: str
    reference: str
    recipient: str | None
    form: dict[str, str]


@dataclass(frozen=True)
class WebOutcome:
    submission: Submission
    reply: Reply
    page: Reply | None  # the page the success redirect leads to
    sent: float  # time.monotonic() as the form was posted
    answered: float  # ... and when the reply had arrived


def prepare(port: int, username: str, kind: str, pot_id: int) -> tuple[Browser, Submission]:
    """Sign in and fetch the form, as a person would before pressing the button."""
    browser = Browser(port)
    sign_in(browser, username)
    path = "/allocations/new" if kind == "allocate" else "/payments/new"
    page = browser.get(path)
    assert page.status == 200, page
    form = {
        "csrf_token": input_value(page.text, "csrf_token"),
        "reference": input_value(page.text, "reference"),
        "date": "01/10/2022",
    }
    recipient = None
    if kind == "allocate":
        assert f'<option value="{pot_id}"' in page.text, page.text
        recipient = f"Web provider {username}"
        form |= {"pot": str(pot_id), "recipient": recipient, "amount": "200.00"}
        form |= {"purpose": "Family support", "period_start": "", "period_end": "", "tags": ""}
    else:
        assert f'<option value="{WEB_GRANT}"' in page.text, page.text
        form |= {"allocation": WEB_GRANT, "amount": "150.00", "memo": "Quarter 1 instalment"}
    return browser, Submission(username, kind, path, form["reference"], recipient, form)


def web_ledger(run: Run) -> int:
    """The pot, its confirmed grant, a self-approval limit of £500.00 (which the web app never
    uses: whatever is entered there waits for a second person) and the people; the pot's id."""
    fund_pots(run, [WEB_POT])
    confirmed_allocation(run, WEB_POT, WEB_GRANT, WEB_GRANT_PENCE)
    password_hash = users.hash_password(PASSWORD)  # scrypt once, shared by every test person

    def setup(s: Session) -> int:
        ops.set_setting(s, ops.SELF_APPROVAL_LIMIT, "50000")
        for role, count in (("officer", OFFICERS), ("finance", CLERKS)):
            for n in range(count):
                s.add(User(username=f"{role}-{n}", password_hash=password_hash, role=role))
        return ops.find_pot(s, WEB_POT).id

    pot_id: int = run(setup)
    return pot_id


def race_browsers(port: int, people: Sequence[tuple[str, str]], pot_id: int) -> list[WebOutcome]:
    """Every person signs in and opens their form; then all press the button together."""
    barrier = threading.Barrier(len(people))

    def person(username: str, kind: str) -> WebOutcome:
        try:
            browser, submission = prepare(port, username, kind, pot_id)
        except BaseException:
            barrier.abort()
            raise
        barrier.wait(START_TIMEOUT)
        sent = time.monotonic()
        reply = browser.post(submission.path, submission.form)
        answered = time.monotonic()
        page = None
        if reply.status == 302 and reply.location:
            page = browser.get(urlsplit(reply.location).path)
        return WebOutcome(submission, reply, page, sent, answered)

    outcomes: list[WebOutcome] = []
    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        futures = [pool.submit(person, username, kind) for username, kind in people]
        for future in futures:
            try:
                outcomes.append(future.result(timeout=START_TIMEOUT + RACE_TIMEOUT))
            except Exception as error:
                failures.append(error)
    # The first real failure, not the broken barrier it left the others waiting at.
    failures.sort(key=lambda error: isinstance(error, threading.BrokenBarrierError))
    if failures:
        raise failures[0]
    return outcomes


SERVERS = [
    pytest.param(
        "gunicorn",
        marks=pytest.mark.skipif(not has_gunicorn(), reason="gunicorn (extra 'server') missing"),
    ),
    "werkzeug",
]


@pytest.mark.parametrize("server", SERVERS)
def test_sixteen_browsers_racing_for_one_pot_through_a_real_server(
    database_url: str, run: Run, tmp_path: Path, server: str
) -> None:
    """Eight officers each submit a £200.00 allocation from a pot with £600.00 available (three
    fit: recorded provisional, their money held) while eight finance officers each submit a
    £150.00 payment on the pot's £400.00 grant (two fit: recorded as requests awaiting
    approval, holding the grant's unpaid money). Everyone else sees the form again with the
    ledger's refusal; nobody gets an error page."""
    pot_id = web_ledger(run)
    before = run(totals)
    people = [(f"officer-{n}", "allocate") for n in range(OFFICERS)]
    people += [(f"finance-{n}", "pay") for n in range(CLERKS)]
    log = tmp_path / "server.log"

    started = time.monotonic()
    with web_server(server, database_url, log) as port:
        outcomes = race_browsers(port, people, pot_id)
    took = time.monotonic() - started
    server_log = log.read_text(encoding="utf-8", errors="replace")

    refusals = {
        "allocate": f"{WEB_POT} has £0.00 available; this allocation needs £200.00"
        " (short by £200.00)",
        "pay": f"Allocation {WEB_GRANT} has £100.00 committed and unpaid; this payment needs"
        " £150.00 (over by £50.00)",
    }
    won: list[Submission] = []
    for outcome in outcomes:
        submission, reply = outcome.submission, outcome.reply
        assert_clean(reply.text, f"the reply to {submission.username}")
        if reply.status == 302:
            won.append(submission)
            assert outcome.page is not None and outcome.page.status == 200, outcome
            assert reply.location and urlsplit(reply.location).path == f"/pots/{pot_id}"
            assert_clean(outcome.page.text, f"the page {submission.username} was sent to")
            if submission.kind == "allocate":
                said = (
                    f"Recorded allocation {submission.reference} of £200.00 from {WEB_POT} to"
                    f" {submission.recipient}. It is provisional"
                )
            else:
                said = f"The payment of £150.00 on {WEB_GRANT} is recorded as a request."
            assert said in outcome.page.text, outcome
        else:
            assert reply.status == 422, outcome  # the form again, with the ledger's refusal
            assert refusals[submission.kind] in reply.text, outcome
            assert 'name="amount"' in reply.text, outcome
    kinds = Counter(s.kind for s in won)
    assert kinds == {"allocate": 3, "pay": 2}, [(o.submission, o.reply.status) for o in outcomes]
    assert_clean(server_log, f"the {server} log")

    # Recorded as the web records them: allocations provisional (their money held), payments
    # waiting for approval (holding the grant's unpaid money), nothing approved on entry.
    def recorded(s: Session) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str]]]:
        allocations = s.scalars(
            sql_select(Allocation)
            .where(Allocation.reference != WEB_GRANT)
            .order_by(Allocation.reference)
        )
        requests = s.scalars(
            sql_select(Request)
            .where(Request.kind == "pay", Request.amount_pence == INSTALMENT_PENCE)
            .order_by(Request.reference)
        )
        return (
            [(a.reference, a.status, a.approved_by) for a in allocations],
            [(r.reference or "", r.status) for r in requests],
        )

    allocations, requests = run(recorded)
    assert allocations == sorted(
        (s.reference, "provisional", None) for s in won if s.kind == "allocate"
    )
    assert requests == sorted((s.reference, "pending") for s in won if s.kind == "pay")
    for outcome in outcomes:
        submission = outcome.submission
        found = run(
            functools.partial(
                traces, reference=submission.reference, recipient=submission.recipient
            )
        )
        if submission in won:
            expected = (1, 1, 0) if submission.kind == "allocate" else (0, 0, 1)
            assert (found.entries, found.allocations, found.requests) == expected, found
        else:
            assert found == NOTHING, (submission, found)
    entries, allocations_before, requests_before, audit_events = before
    assert run(totals) == (
        entries + kinds["allocate"],
        allocations_before + kinds["allocate"],
        requests_before + kinds["pay"],
        audit_events + kinds["pay"],  # each payment request is recorded as such
    )
    assert run(functools.partial(pot_state, name=WEB_POT)) == PotState(
        POT_FUNDING, POT_FUNDING, 0, 0, 0
    )

    def grant(s: Session) -> tuple[int, int]:
        allocation = ops.find_allocation(s, WEB_GRANT)
        return allocation.unpaid_pence, ops.pending_reduction_on_allocation(s, allocation)

    assert run(grant) == (WEB_GRANT_PENCE, kinds["pay"] * INSTALMENT_PENCE)
    assert_ledger_checks(run)

    statuses = Counter(o.reply.status for o in outcomes)
    first_sent = min(o.sent for o in outcomes)
    spread_ms = (max(o.sent for o in outcomes) - first_sent) * 1000
    answers_ms = [(o.answered - first_sent) * 1000 for o in outcomes]
    print(
        f"web race via {server} on {engine_name(database_url)}: {len(people)} browsers"
        f" ({OFFICERS} officers allocating £200.00, {CLERKS} finance paying £150.00);"
        f" recorded {kinds['allocate']}/{OFFICERS} allocations (provisional) and"
        f" {kinds['pay']}/{CLERKS} payments (awaiting approval); refused"
        f" {len(outcomes) - len(won)} on the form; statuses {dict(statuses)}; forms posted"
        f" within {spread_ms:.0f} ms, answered {min(answers_ms):.0f}-{max(answers_ms):.0f} ms"
        f" after the first; server start, sign-ins and race {took:.1f}s"
    )
