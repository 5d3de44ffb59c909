"""A corpus of hostile and malformed input, and what commonpurse must do with each.

Every case goes in through a real front door: ``commonpurse import`` (in-process, through
``ledger.cli.main`` as tests/test_cli.py drives it) for amounts, dates, references and CSV files,
and Flask's test client for the money forms, the CSV upload and URLs. For every case:

* a refusal is one clear line (or a message next to the form field) naming the row, column or
  field and what was wrong, with no traceback and no raw database error, and never an HTTP 500;
* a refusal writes nothing: every table is dumped before and after and must be identical;
* an acceptance is one the documentation promises (``Accepted.because`` says where), and what
  it records is checked.

Categories, each a table of named cases (the ids read ``amount: 1e5``, ``form: award, date:
yesterday`` and so on): amounts, dates, references, CSV files (including a file with a 10 MB
field, a 100 MB line and a million rows, written to ``tmp_path`` as a stream), the money forms
and the CSV upload over HTTP, and URLs. ``test_the_corpus_is_large_enough`` counts them.

The cases run on SQLite or PostgreSQL like the rest of the suite (``tests/conftest.py``'s
``sqlite_template`` and ``postgres_engine``). Refusals change nothing, so the cases of a kind
share one ledger (``SharedLedger``), which is put back as built whenever a case did change it,
and the web cases share one app.

Cases marked ``xfail(strict=True)`` would be known bugs not yet fixed, each saying what is wrong
and the fix; there are none today.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger import cli, db
from ledger import operations as ops
from ledger.check import check
from ledger.demo import CTSI, CTSI_POT, PROMISE_POT, WFWF_POT
from ledger.models import Allocation, Base, Entry
from tests.conftest import LedgerFactory
from tests.web_helpers import demo_app, fast_sign_in, hidden_reference, make_app, pot_id, text_of
from tests.web_helpers import run as run_in_app
from web.db import EXTENSION, Ledger, ledger_of
from web.forms import STALE_FORM

T = TypeVar("T")

COUNCIL = "Clackmannanshire Council"
SG = "Scottish Government"
POT = "WFWF 2023-24"
HEADER = "date,operation,reference,pot,counterparty,amount,description,allocation_ref,to_pot"
FILE_NAME = "hostile.csv"
SECONDS_PER_HUGE_FILE = 20.0
TRACEBACK_SIGNS = (
    "Traceback (most recent call last)",
    'File "/',
    "sqlalchemy.exc",
    "psycopg.",
    "sqlite3.",
    "IntegrityError",
    "OperationalError",
    "DataError",
)


# --- Shared checks -----------------------------------------------------------------------------


def table_dump(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as text: what a refusal must leave exactly as it was."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                repr(tuple(row))
                for row in connection.exec_driver_sql(f'SELECT * FROM "{table.name}"')
            )
            for table in Base.metadata.sorted_tables
        }


class SharedLedger:
    """One ledger shared by many cases, put back as it was whenever a case changed it.

    Every refusal must leave every table as it was (each case checks that), so cases can share
    a ledger; an acceptance changes it, and the next case then gets a fresh one. On SQLite a
    fresh one is a copy of a template built once, under a new name (a connection some earlier
    command left open can never write into it); on PostgreSQL it is the test database, emptied
    as ``tests/conftest.py`` empties it and built again.
    """

    def __init__(
        self, build: Callable[[str], None], folder: Path, empty: Path, pg: Engine | None
    ) -> None:
        self.build = build
        self.folder = folder
        self.pg = pg
        self.factory = LedgerFactory(folder, empty, pg)
        self.template: Path | None = None
        if pg is None:
            self.template = folder / "template.sqlite3"
            shutil.copyfile(empty, self.template)
            build(f"sqlite:///{self.template}")
        self.url = ""
        self.engine: Engine | None = None
        self.pristine: dict[str, list[str]] = {}
        self.copies = 0

    def ready(self) -> Engine:
        """The ledger as built, for the next case."""
        if self.engine is None or table_dump(self.engine) != self.pristine:
            self._restore()
        assert self.engine is not None
        return self.engine

    def _restore(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        if self.template is None:
            self.url = self.factory.new()
            self.build(self.url)
        else:
            self.copies += 1
            path = self.folder / f"ledger-{self.copies}.sqlite3"
            shutil.copyfile(self.template, path)
            self.url = f"sqlite:///{path}"
        self.engine = db.make_engine(self.url)
        self.pristine = table_dump(self.engine)

    def dump(self) -> dict[str, list[str]]:
        """Every table as it is now (``ready`` would put a changed ledger back first)."""
        assert self.engine is not None
        return table_dump(self.engine)

    def run(self, operation: Callable[[Session], T]) -> T:
        assert self.engine is not None
        return db.run_in_transaction(db.session_factory(self.engine), operation)


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        for sign in TRACEBACK_SIGNS:
            assert sign not in text, f"{sign!r} in output:\n{text[:3000]}"


# --- The command line --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def commonpurse(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> Outcome:
    """``commonpurse --db URL --user officer ARGV...`` in-process, as tests/test_cli.py runs it."""
    capsys.readouterr()
    out = io.StringIO()
    try:
        code = cli.main(["--db", url, "--user", "officer", *argv], out=out)
    except SystemExit as exited:  # argparse's usage errors
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return Outcome(code, out.getvalue() + captured.out, captured.err)


@dataclass(frozen=True)
class Refused:
    """One line on stderr: ``commonpurse: {where}: ...{reason}...`` (``where`` may be blank)."""

    where: str
    reason: str


@dataclass(frozen=True)
class Accepted:
    """An acceptance the documentation promises; ``check`` looks at what was recorded."""

    because: str
    check: Callable[[Session], object] = lambda _session: None
    rows: int = 1


Expected = Refused | Accepted


def assert_refused(outcome: Outcome, expected: Refused) -> None:
    assert_no_traceback(outcome.out, outcome.err)
    assert outcome.code == cli.EXIT_REFUSED, outcome
    assert outcome.out == ""
    lines = outcome.err.splitlines()
    assert len(lines) == 1 and outcome.err.endswith("\n"), outcome.err
    line = lines[0]
    assert all(c == "\t" or c.isprintable() for c in line), f"control characters: {line!r}"
    assert line.startswith("commonpurse: " + (f"{expected.where}: " if expected.where else "")), (
        line
    )
    assert expected.reason in line, line


def assert_accepted(outcome: Outcome, expected: Accepted) -> None:
    assert_no_traceback(outcome.out, outcome.err)
    assert (outcome.code, outcome.err) == (0, ""), outcome
    assert outcome.out.startswith(f"Imported {FILE_NAME}: {expected.rows} rows"), outcome.out


# --- The ledger every import case starts from ----------------------------------------------------


def base_ledger(session: Session) -> None:
    """``init --accountable-body``, a £1,000.00 award into WFWF 2023-24 and a confirmed £500.00
    allocation AL-BASE to Aberlour (for variation rows)."""
    ops.ensure_organisation(session, COUNCIL, ["accountable_body"])
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, COUNCIL)
    ops.record_award(
        session,
        reference="AW-BASE",
        pot=POT,
        funder=SG,
        amount_pence=100_000,
        award_date=dt.date(2023, 4, 1),
        entered_by="officer",
        memo="The award the hostile rows go against",
        approved_by="finance",
    )
    ops.allocate(
        session,
        reference="AL-BASE",
        pot=POT,
        recipient="Aberlour",
        amount_pence=50_000,
        date=dt.date(2023, 5, 1),
        entered_by="officer",
        approved_by="finance",
        purpose="Family support",
    )


def build_base(url: str) -> None:
    engine = db.make_engine(url)
    try:
        db.run_in_transaction(db.session_factory(engine), base_ledger)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def shared_base(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    postgres_engine: Engine | None,
) -> SharedLedger:
    folder = tmp_path_factory.mktemp("hostile-cli")
    return SharedLedger(build_base, folder, sqlite_template, postgres_engine)


@pytest.fixture
def base(shared_base: SharedLedger) -> SharedLedger:
    """The ledger every import case starts from (``base_ledger``), exactly as built."""
    shared_base.ready()
    return shared_base


def csv_line(*cells: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def award_file(
    *,
    date: str = "2023-10-01",
    reference: str = "HOSTILE-1",
    amount: str = "5.00",
    counterparty: str = SG,
    description: str = "Hostile input",
    operation: str = "award",
    pot: str = POT,
) -> bytes:
    """A file with one award row, one cell of it hostile."""
    row = csv_line(date, operation, reference, pot, counterparty, amount, description, "", "")
    return (HEADER + "\n" + row).encode("utf-8")


def vary_file(amount: str) -> bytes:
    row = csv_line(
        "2023-10-01", "vary", "HOSTILE-1", "", "", amount, "Hostile input", "AL-BASE", ""
    )
    return (HEADER + "\n" + row).encode("utf-8")


def entry_is(
    reference: str, *, pence: int | None = None, day: dt.date | None = None
) -> Callable[[Session], None]:
    def look(session: Session) -> None:
        entry = session.scalars(select(Entry).where(Entry.reference == reference)).one()
        if pence is not None:
            assert entry.amount_pence == pence
        if day is not None:
            assert entry.effective_date == day

    return look


def allocated_is(reference: str, pence: int) -> Callable[[Session], None]:
    def look(session: Session) -> None:
        assert ops.find_allocation(session, reference).allocated_pence == pence

    return look


def ledger_error(reason: str) -> Any:
    """A case this corpus cannot fix (the ledger's own files): fails until they are fixed."""
    return pytest.mark.xfail(strict=True, reason=reason)


AMOUNT = "Row 2, column amount"
DATE = "Row 2, column date"
REFERENCE = "Row 2, column reference"
NOT_AMOUNT = "is not a valid amount"
COMMAS = "commas must separate thousands, in groups of exactly 3 digits"
EXPONENT = "exponents such as 1e3 are not accepted"
NON_FINITE = "NaN and infinity are not amounts of money"
NEGATIVE = "negative amounts are not allowed here"
SUB_PENNY = "amounts are in pounds and pence, at most 2 decimal places"
TOO_LARGE = "it is more than the largest amount accepted, £1,000,000,000.00"
SPACE = "it has a space inside it"
ZERO = "The amount must be more than £0.00"
NOT_REAL = "is not a real date"
NOT_DATE = "is not a date; write it as 2023-10-01 or 01/10/2023"
OUTSIDE = "is outside the dates the ledger keeps, 01/04/1990 to 31/03/2201"
PARSE_PENCE = "ledger.money.parse_pence's docstring"
README_AMOUNTS = "README, Importing a spreadsheet: amounts as people type them"


@dataclass(frozen=True)
class ImportCase:
    data: bytes
    expected: Expected
    file: Literal["file", "directory", "missing"] = "file"


def case(category: str, name: str, data: bytes, expected: Expected, *marks: Any, **kw: Any) -> Any:
    return pytest.param(ImportCase(data, expected, **kw), id=f"{category}: {name}", marks=marks)


def amount(name: str, typed: str, reason: str, *, where: str = AMOUNT) -> Any:
    return case("amount", name, award_file(amount=typed), Refused(where, reason))


AMOUNT_CASES = [
    amount("£1,00.00", "£1,00.00", COMMAS),
    amount("1,0000", "1,0000", COMMAS),
    amount(",100 (leading comma)", ",100", "it starts with a comma"),
    amount("100, (trailing comma)", "100,", "it ends with a comma"),
    amount("1,,000", "1,,000", "it has two commas in a row"),
    amount("1e5", "1e5", EXPONENT),
    amount("1E5", "1E5", EXPONENT),
    amount("1.5e2", "1.5e2", EXPONENT),
    amount("NaN", "NaN", NON_FINITE),
    amount("Infinity", "Infinity", NON_FINITE),
    amount("-inf", "-inf", NON_FINITE),
    amount("∞", "∞", NON_FINITE),
    amount("-0", "-0", NEGATIVE),
    amount("£-5 on an award", "£-5", NEGATIVE),
    amount("(500.00) on an award", "(500.00)", NEGATIVE),
    amount("unicode minus −5 on an award", "\u22125", NEGATIVE),
    amount("0.001", "0.001", SUB_PENNY),
    amount("1.000", "1.000", SUB_PENNY),
    amount(
        "full-width digits １２３", "１２３", "it contains the character '１'; type digits as 0-9"
    ),
    amount("Arabic-Indic digit ٣", "٣", "type digits as 0-9"),
    amount("£ 5", "£ 5", SPACE),
    amount("1 000", "1 000", SPACE),
    amount("no-break space 5 000", "5\u00a0000", SPACE),
    amount("zero-width space", "\u200b5", r"it contains the character '\u200b'"),
    amount("5£", "5£", "the £ sign must come before the number"),
    amount("££5", "££5", "the £ sign appears more than once"),
    amount("--5", "--5", "it has more than one minus sign"),
    amount("99999999999999999999", "99999999999999999999", TOO_LARGE),
    amount("£1,000,000,000.01", "£1,000,000,000.01", TOO_LARGE),
    amount("1,999 nines", "9" * 1999, TOO_LARGE),
    amount("blank", "", "'' is not a valid amount: it is blank"),
    amount("whitespace only", "   ", "it is blank"),
    amount("0x10", "0x10", "it contains the letter 'x'"),
    amount("1_000", "1_000", "it contains the character '_', which is not part of an amount"),
    amount("+5", "+5", "plus signs are not accepted"),
    amount("$5", "$5", "only pounds (£) are accepted, not '$'"),
    amount("€5", "€5", "only pounds (£) are accepted, not '€'"),
    amount("5.5.5", "5.5.5", "it has more than one decimal point"),
    amount("100.", "100.", "nothing follows the decimal point"),
    amount("£ alone", "£", "there is no number in it"),
    amount("- alone", "-", "there is no number in it"),
    amount("five", "five", "it contains the letter 'f'"),
    amount("5p", "5p", "it contains the letter 'p'"),
    amount("formula =1+1", "=1+1", NOT_AMOUNT),
    amount("formula @SUM(A1)", "@SUM(A1)", NOT_AMOUNT),
    amount("0", "0", ZERO),
    amount("£0.00", "£0.00", ZERO),
    case(
        "amount",
        "-0 on a variation",
        vary_file("-0"),
        Refused(AMOUNT, "A variation must change the amount"),
    ),
    case(
        "amount",
        "unicode minus −5 on a variation",
        vary_file("\u22125"),
        Refused(AMOUNT, "type the minus sign as a plain hyphen '-', e.g. -£500.00"),
    ),
    case(
        "amount",
        "(100.00) on a variation",
        vary_file("(100.00)"),
        Refused(AMOUNT, "brackets are not accepted for negative amounts; use a minus sign"),
    ),
    case(
        "amount",
        "£1,000,000,000.00 is the largest accepted",
        award_file(amount="£1,000,000,000.00"),
        Accepted(README_AMOUNTS, entry_is("HOSTILE-1", pence=100_000_000_000)),
    ),
    case(
        "amount",
        "007 (leading zeros)",
        award_file(amount="007"),
        Accepted(PARSE_PENCE, entry_is("HOSTILE-1", pence=700)),
    ),
    case(
        "amount",
        ".50 (no leading zero)",
        award_file(amount=".50"),
        Accepted(PARSE_PENCE, entry_is("HOSTILE-1", pence=50)),
    ),
    case(
        "amount",
        "surrounding spaces",
        award_file(amount="  £5  "),
        Accepted(PARSE_PENCE, entry_is("HOSTILE-1", pence=500)),
    ),
    case(
        "amount",
        "-£100.00 on a variation",
        vary_file("-£100.00"),
        Accepted("README: vary takes a signed amount", allocated_is("AL-BASE", 40_000)),
    ),
]


def date(name: str, typed: str, reason: str) -> Any:
    return case("date", name, award_file(date=typed), Refused(DATE, reason))


def date_accepted(name: str, typed: str, day: dt.date, because: str) -> Any:
    expected = Accepted(because, entry_is("HOSTILE-1", day=day))
    # An award belongs in its own year's pot: a new pot is opened for the year of the date.
    return case("date", name, award_file(date=typed, pot=f"Awards of {day:%d %B %Y}"), expected)


README_DATES = "README: dates may be ISO (2023-10-01) or UK (01/10/2023)"
DATE_CASES = [
    date("31/02/2023", "31/02/2023", "'31/02/2023' is not a real date (day is out of range"),
    date("29/02/2023 (not a leap year)", "29/02/2023", NOT_REAL),
    date("2023-02-30", "2023-02-30", NOT_REAL),
    date("32/01/2023", "32/01/2023", NOT_REAL),
    date("2023-13-01", "2023-13-01", "'2023-13-01' is not a real date (month must be in 1..12)"),
    date("00/00/0000", "00/00/0000", NOT_REAL),
    date("year 0001", "0001-01-01", OUTSIDE),
    date("year 9999", "9999-12-31", OUTSIDE),
    date("the day before 1990-91", "31/03/1990", OUTSIDE),
    date("the day after 2200-01", "01/04/2201", OUTSIDE),
    date("ambiguous 01/02/03", "01/02/03", NOT_DATE),
    date("2023/10/01", "2023/10/01", NOT_DATE),
    date("yesterday", "yesterday", "'yesterday' is not a date"),
    date("ISO with a time", "2023-10-01T12:00:00", NOT_DATE),
    date("ISO with a space and time", "2023-10-01 12:00", NOT_DATE),
    date("ISO with a zone", "2023-10-01Z", NOT_DATE),
    date("compact 20231001", "20231001", NOT_DATE),
    date("2023-1-1", "2023-1-1", NOT_DATE),
    date("1 Oct 2023", "1 Oct 2023", NOT_DATE),
    date("01.10.2023", "01.10.2023", NOT_DATE),
    date("full-width ISO", "２０２３-１０-０１", NOT_DATE),
    date("full-width UK", "０１/１０/２０２３", NOT_DATE),
    date("blank", "", "'' is not a date"),
    date("terminal escape codes", "\x1b[2J01/10/2023", NOT_DATE),
    date_accepted("10/01/2023 is 10 January", "10/01/2023", dt.date(2023, 1, 10), README_DATES),
    date_accepted("29/02/2024 (leap year)", "29/02/2024", dt.date(2024, 2, 29), README_DATES),
    date_accepted("1/4/1990, the first day kept", "1/4/1990", dt.date(1990, 4, 1), README_DATES),
    date_accepted(
        "31/03/2201, the last day kept", "31/03/2201", dt.date(2201, 3, 31), README_DATES
    ),
    date_accepted(
        "surrounding spaces", " 2023-10-01 ", dt.date(2023, 10, 1), "every cell is trimmed"
    ),
]


def reference(name: str, typed: str, reason: str, *marks: Any) -> Any:
    return case("reference", name, award_file(reference=typed), Refused(REFERENCE, reason), *marks)


def stored_reference(typed: str) -> Callable[[Session], None]:
    def look(session: Session) -> None:
        assert session.scalars(select(Entry.reference).where(Entry.reference == typed)).one()
        assert session.scalars(select(Entry)).all()  # the entries table is still there

    return look


IDEMPOTENT = "README: reference is the idempotency key"
REFERENCE_CASES = [
    reference("blank", "", "every row needs a unique reference"),
    reference("spaces only", "   ", "every row needs a unique reference"),
    reference("101 characters", "R" * 101, "A reference can be at most 100 characters"),
    reference("2,001 characters", "R" * 2001, "is longer than 2000 characters"),
    reference("NUL", "A\x00B", "contains a NUL character"),
    reference("control character", "A\x01B", "A reference cannot contain"),
    reference("escape codes", "A\x1b[31mB", "A reference cannot contain"),
    reference("RTL override", "\u202eCBA", "A reference cannot contain"),
    reference("line break", "A\nB", "A reference cannot contain"),
    reference("zero-width space", "A\u200bB", "A reference cannot contain"),
    case(
        "reference",
        "escape codes in the operation",
        award_file(operation="\x1b[31maward"),
        Refused("Row 2, column operation", "is not an operation"),
    ),
    case(
        "reference",
        "the same reference for something else in one file",
        award_file()
        + csv_line("2023-10-01", "award", "HOSTILE-1", POT, SG, "6.00", "", "", "").encode(),
        Refused("Row 3, column reference", "Reference 'HOSTILE-1' is already used"),
    ),
    case(
        "reference",
        "the same row twice",
        award_file() + award_file().split(b"\n", 1)[1],
        Accepted(IDEMPOTENT, entry_is("HOSTILE-1", pence=500), rows=2),
    ),
    case(
        "reference",
        "leading and trailing spaces",
        award_file(reference="  HOSTILE-1  "),
        Accepted("every cell is trimmed", entry_is("HOSTILE-1", pence=500)),
    ),
    case(
        "reference",
        "100 characters",
        award_file(reference="R" * 100),
        Accepted("README: at most 100 characters", stored_reference("R" * 100)),
    ),
    case(
        "reference",
        "SQL injection",
        award_file(reference="'; DROP TABLE entries;--"),
        Accepted("a reference is text", stored_reference("'; DROP TABLE entries;--")),
    ),
    case(
        "reference",
        "HTML",
        award_file(reference="<script>alert(1)</script>"),
        Accepted("a reference is text", stored_reference("<script>alert(1)</script>")),
    ),
]

ROW = csv_line("2023-10-01", "award", "HOSTILE-1", POT, SG, "5.00", "Hostile input", "", "")
HEADER_MUST_BE = "the header must be exactly: " + HEADER
NOT_UTF8 = Refused("", f"{FILE_NAME} is not UTF-8 text (line ")
ONE_AWARD = entry_is("HOSTILE-1", pence=500)
HEADER_NAMES = "ledger.importer.read_rows: header names are compared trimmed and in lower case"


def text_file(text: str) -> bytes:
    return text.encode("utf-8")


def formula_exported(text: str) -> Callable[[Session], None]:
    """The cell was kept as typed; ``commonpurse export csv`` must write it inert."""

    def look(session: Session) -> None:
        from statements.exports.export_journal import export_journal_csv

        out = io.StringIO()
        export_journal_csv(session, out)
        cells = [cell for row in csv.reader(io.StringIO(out.getvalue())) for cell in row]
        assert "'" + text in cells, cells
        assert text not in cells

    return look


CSV_CASES = [
    case("csv", "wrong header", text_file("a,b,c\n" + ROW), Refused("Row 1", HEADER_MUST_BE)),
    case(
        "csv",
        "header missing a column",
        text_file(HEADER.removesuffix(",to_pot") + "\n" + ROW),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case(
        "csv",
        "header with an extra column",
        text_file(HEADER + ",notes\n" + ROW),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case(
        "csv",
        "header with a trailing comma",
        text_file(HEADER + ",\n" + ROW),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case(
        "csv",
        "header in another order",
        text_file("operation,date" + HEADER.removeprefix("date,operation") + "\n" + ROW),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case(
        "csv",
        "semicolons",
        text_file(HEADER.replace(",", ";") + "\n" + ROW.replace(",", ";")),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case(
        "csv",
        "tabs",
        text_file(HEADER.replace(",", "\t") + "\n" + ROW.replace(",", "\t")),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case("csv", "no header", text_file(ROW), Refused("Row 1", HEADER_MUST_BE)),
    case("csv", "empty file", b"", Refused("Row 1", "the file is empty; it needs the header row")),
    case("csv", "only a BOM", "\ufeff".encode(), Refused("Row 1", "the file is empty")),
    case(
        "csv",
        "Latin-1 £",
        (HEADER + "\n" + ROW.replace("5.00", "£5.00")).encode("latin-1"),
        NOT_UTF8,
    ),
    case("csv", "UTF-16 with BOM", (HEADER + "\n" + ROW).encode("utf-16"), NOT_UTF8),
    case(
        "csv",
        "UTF-16 without BOM",
        (HEADER + "\n" + ROW).encode("utf-16-le"),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case(
        "csv",
        "terminal escape codes in the header",
        text_file("\x1b[2J\x1b[31m" + HEADER + "\n" + ROW),
        Refused("Row 1", HEADER_MUST_BE),
    ),
    case("csv", "a PNG", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), NOT_UTF8),
    case(
        "csv",
        "unterminated quote at the end",
        text_file(HEADER + "\n" + ROW.replace("Hostile input", '"Hostile input')),
        Refused("Row 2", "not valid CSV (unexpected end of data)"),
    ),
    case(
        "csv",
        "unterminated quote before more rows",
        text_file(HEADER + "\n" + ROW.replace("Hostile input", '"Hostile input') + ROW * 3),
        Refused("Row 2", "not valid CSV"),
    ),
    case(
        "csv",
        "NUL in a cell",
        text_file(HEADER + "\n" + ROW.replace("Hostile", "Hos\x00tile")),
        Refused("Row 2, column description", "contains a NUL character"),
    ),
    case(
        "csv",
        "a row with 10 columns",
        text_file(HEADER + "\n" + ROW.rstrip("\n") + ",extra\n"),
        Refused("Row 2", "has 10 columns; every row needs 9"),
    ),
    case(
        "csv",
        "a row with 8 columns",
        text_file(HEADER + "\n" + ROW.rstrip("\n").removesuffix(",") + "\n"),
        Refused("Row 2", "has 8 columns; every row needs 9"),
    ),
    case(
        "csv",
        "a row with 1 column",
        text_file(HEADER + "\n2023-10-01\n"),
        Refused("Row 2", "has 1 columns; every row needs 9"),
    ),
    case(
        "csv",
        "the header again as a row",
        text_file(HEADER + "\n" + HEADER + "\n"),
        Refused("Row 2, column operation", "'operation' is not an operation"),
    ),
    case(
        "csv",
        "a description of 2,001 characters",
        award_file(description="x" * 2001),
        Refused("Row 2, column description", "is longer than 2000 characters"),
    ),
    case(
        "csv",
        "a quoted field of 10 MB",
        award_file(description="x" * (10 * 1024 * 1024)),
        Refused("Row 2", "a line is longer than 1,048,576 characters"),
    ),
    case(
        "csv",
        "a bad row after blank lines keeps its spreadsheet row number",
        text_file(HEADER + "\n\n,,,,,,,,\n\n" + ROW.replace("5.00", "1e3")),
        Refused("Row 5, column amount", EXPONENT),
    ),
    case(
        "csv",
        "a directory",
        b"",
        Refused("", f"{FILE_NAME} is not a file"),
        file="directory",
    ),
    case("csv", "no such file", b"", Refused("", f"{FILE_NAME} is not a file"), file="missing"),
    case(
        "csv",
        "header in capitals",
        text_file(HEADER.upper() + "\n" + ROW),
        Accepted(HEADER_NAMES, ONE_AWARD),
    ),
    case(
        "csv",
        "header with spaces",
        text_file(HEADER.replace(",", " , ") + "\n" + ROW),
        Accepted(HEADER_NAMES, ONE_AWARD),
    ),
    case(
        "csv",
        "UTF-8 BOM",
        text_file("\ufeff" + HEADER + "\n" + ROW),
        Accepted("ledger/cli.py opens the file as utf-8-sig (tests/test_import.py)", ONE_AWARD),
    ),
    case(
        "csv",
        "CRLF",
        text_file((HEADER + "\n" + ROW).replace("\n", "\r\n")),
        Accepted("CSV's own line ends", ONE_AWARD),
    ),
    case(
        "csv",
        "CR only",
        text_file((HEADER + "\n" + ROW).replace("\n", "\r")),
        Accepted("universal newlines", ONE_AWARD),
    ),
    case(
        "csv",
        "blank lines",
        text_file(HEADER + "\n\n\n" + ROW + "\n,,,,,,,,\n   \n"),
        Accepted("ledger.importer.read_rows: blank lines are skipped", ONE_AWARD),
    ),
    case(
        "csv",
        "only the header",
        text_file(HEADER + "\n"),
        Accepted("nothing to import", rows=0),
    ),
    case(
        "csv",
        "a quote inside an unquoted cell",
        award_file(reference='HOSTILE"1').replace(b'"HOSTILE""1"', b'HOSTILE"1'),
        Accepted("CSV: a quote inside an unquoted cell is text", stored_reference('HOSTILE"1')),
    ),
    case(
        "csv",
        "formula =HYPERLINK in a description",
        award_file(description='=HYPERLINK("http://evil.example","Click")'),
        Accepted(
            "statements/render/csv_safe.py: cells are neutralised on export",
            formula_exported('=HYPERLINK("http://evil.example","Click")'),
        ),
    ),
    case(
        "csv",
        "formula +cmd in a reference",
        award_file(reference="+cmd|' /C calc'!A0"),
        Accepted(
            "statements/render/csv_safe.py: cells are neutralised on export",
            formula_exported("+cmd|' /C calc'!A0"),
        ),
    ),
    case(
        "csv",
        "formula @SUM in a description",
        award_file(description="@SUM(1+1)*cmd|' /C calc'!A0"),
        Accepted(
            "statements/render/csv_safe.py: cells are neutralised on export",
            formula_exported("@SUM(1+1)*cmd|' /C calc'!A0"),
        ),
    ),
]

IMPORT_CASES = [*AMOUNT_CASES, *DATE_CASES, *REFERENCE_CASES, *CSV_CASES]


@pytest.mark.parametrize("hostile", IMPORT_CASES)
def test_a_hostile_import_is_refused_in_one_line_or_accepted_as_documented(
    hostile: ImportCase, base: SharedLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / FILE_NAME
    if hostile.file == "file":
        path.write_bytes(hostile.data)
    elif hostile.file == "directory":
        path.mkdir()
    before = base.pristine

    outcome = commonpurse(capsys, base.url, "import", str(path), "--approved-by", "finance")

    if isinstance(hostile.expected, Refused):
        assert_refused(outcome, hostile.expected)
        assert base.dump() == before
    else:
        assert_accepted(outcome, hostile.expected)
        base.run(hostile.expected.check)
        assert base.run(check).ok


# --- Huge files, written as a stream -----------------------------------------------------------


def _write(path: Path, head: str, body: Iterator[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(head)
        handle.writelines(body)


def million_blank_lines(path: Path) -> None:
    _write(path, HEADER + "\n", ("\n" for _ in range(1_000_000)))


def million_rows_first_bad(path: Path) -> None:
    first = csv_line("yesterday", "award", "BIG-0", POT, SG, "1.00", "", "", "")
    rows = (f"2023-10-01,award,BIG-{n},{POT},{SG},1.00,,,\n" for n in range(1, 1_000_000))
    _write(path, HEADER + "\n" + first, rows)


def line_of_100_mb(path: Path) -> None:
    chunk = "x" * (1 << 20)
    _write(
        path,
        HEADER + "\n2023-10-01,award,BIG-1,WFWF 2023-24,Scottish Government,1.00,",
        iter([*(chunk for _ in range(100)), ",,\n"]),
    )


@dataclass(frozen=True)
class HugeCase:
    write: Callable[[Path], None]
    expected: Expected
    peak_bytes: int = 32 * 1024 * 1024


HUGE_CASES = [
    pytest.param(
        HugeCase(
            million_blank_lines, Accepted("blank lines are skipped: nothing to import", rows=0)
        ),
        id="csv: a million blank lines after the header",
    ),
    pytest.param(
        HugeCase(million_rows_first_bad, Refused(DATE, "'yesterday' is not a date")),
        id="csv: a million rows, the first one bad",
    ),
    pytest.param(
        HugeCase(line_of_100_mb, Refused("Row 2", "a line is longer than 1,048,576 characters")),
        id="csv: a line of 100 MB",
    ),
]


@pytest.mark.parametrize("hostile", HUGE_CASES)
def test_a_huge_file_is_handled_quickly_in_bounded_memory(
    hostile: HugeCase, base: SharedLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Imported twice: once timed, once with every allocation traced (which is slow, so it is
    not timed)."""
    path = tmp_path / FILE_NAME

    def imported() -> Outcome:
        outcome = commonpurse(capsys, base.url, "import", str(path), "--approved-by", "finance")
        if isinstance(hostile.expected, Refused):
            assert_refused(outcome, hostile.expected)
        else:
            assert_accepted(outcome, hostile.expected)
        assert base.dump() == before
        return outcome

    try:
        hostile.write(path)
        before = base.pristine
        started = time.monotonic()
        imported()
        seconds = time.monotonic() - started
        assert seconds < SECONDS_PER_HUGE_FILE, f"took {seconds:.1f}s"
        tracemalloc.start()
        try:
            imported()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < hostile.peak_bytes, f"peak memory {peak / 2**20:.0f} MiB"
    finally:
        path.unlink(missing_ok=True)


# --- The web app -------------------------------------------------------------------------------


def web_setup(session: Session) -> None:
    """On top of the demo: £1,000 paid on Aberlour's allocation (so it can take a return) and
    £1,000 freed in WFWF 2022-23 and in CTSI's pot (so a good form would be accepted)."""
    ops.pay(
        session,
        reference="WEB-PAID",
        allocation="WFWF-22-02",
        amount_pence=100_000,
        date=dt.date(2022, 11, 1),
        entered_by="finance",
        approved_by="officer",
        memo="First instalment",
    )
    for reference, allocation in (("WEB-ROOM", "WFWF-22-03"), ("WEB-CTSI-ROOM", "CTSI-22-02")):
        ops.vary(
            session,
            reference=reference,
            allocation=allocation,
            delta_pence=-100_000,
            date=dt.date(2022, 11, 1),
            reason="Room for the hostile-input tests",
            entered_by="officer",
            approved_by="finance",
        )


def build_web(url: str) -> None:
    """The Clackmannanshire demo, one person per role (tests/web_helpers.py) and ``web_setup``."""
    app = demo_app(url)
    try:
        run_in_app(app, web_setup)
    finally:
        ledger_of(app).engine.dispose()


@dataclass(frozen=True)
class SharedApp:
    app: Flask
    ledger: SharedLedger


@pytest.fixture(scope="session")
def shared_web(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    postgres_engine: Engine | None,
) -> SharedApp:
    folder = tmp_path_factory.mktemp("hostile-web")
    ledger = SharedLedger(build_web, folder, sqlite_template, postgres_engine)
    ledger.ready()
    return SharedApp(make_app(ledger.url, IMPORT_DIR=str(folder / "imports")), ledger)


@pytest.fixture
def web_app(shared_web: SharedApp) -> Flask:
    """One app for every web case (compiling its templates once), over the shared web ledger
    as built: when a case changed the ledger, the app is pointed at a fresh one."""
    engine = shared_web.ledger.ready()
    app = shared_web.app
    if ledger_of(app).engine is not engine:
        ledger_of(app).engine.dispose()
        app.extensions[EXTENSION] = Ledger(
            engine, db.session_factory(engine), db.reader_factory(engine)
        )
    return app


def web_dump(app: Flask) -> dict[str, list[str]]:
    return table_dump(ledger_of(app).engine)


def keys_of(app: Flask) -> dict[str, str]:
    return {
        "wfwf": str(pot_id(app, WFWF_POT)),
        "promise": str(pot_id(app, PROMISE_POT)),
        "ctsi": str(pot_id(app, CTSI_POT)),
    }


def field_error(html: str, name: str) -> str:
    """The message shown next to a field (tests/test_web_forms.py reads it the same way)."""
    pattern = rf'<p class="ds_question__error-message" id="{name}-error">(.*?)</p>'
    found = re.search(pattern, html, re.S)
    assert found, f"no error shown next to {name}"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).replace("Error: ", "").strip()


def summary_errors(html: str) -> str:
    found = re.search(r'<ul class="ds_error-summary__list">(.*?)</ul>', html, re.S)
    assert found, "no error summary"
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


@dataclass(frozen=True)
class MoneyForm:
    name: str
    path: str
    user: str
    data: dict[str, str]
    blank_amount: str
    blank_date: str
    date_field: str = "date"
    signed: bool = False  # the amount may be negative (variations)


FORMS = (
    MoneyForm(
        "award",
        "/awards/new",
        "officer",
        {"funder": SG, "pot": "WFWF 2024-25", "memo": "Award letter"},
        "Enter the amount awarded",
        "Enter the date of the award",
        date_field="award_date",
    ),
    MoneyForm(
        "receipt",
        "/receipts/new",
        "finance",
        {"pot": "{wfwf}", "funder": SG, "memo": "Remittance advice"},
        "Enter the amount received",
        "Enter the date the money arrived",
    ),
    MoneyForm(
        "allocation",
        "/allocations/new",
        "officer",
        {"pot": "{wfwf}", "recipient": "Homestart", "purpose": "Family support"},
        "Enter the amount to allocate",
        "Enter the date of the decision",
    ),
    MoneyForm(
        "delegation",
        "/delegations/new",
        "officer",
        {"pot": "{promise}", "recipient": CTSI, "to_pot": "CTSI Promise", "purpose": "Grants"},
        "Enter the amount to delegate",
        "Enter the date of the decision",
    ),
    MoneyForm(
        "sub-grant",
        "/subgrants/new",
        "ctsi",
        {"pot": "{ctsi}", "recipient": "Homestart", "purpose": "Befriending"},
        "Enter the amount to allocate",
        "Enter the date of the decision",
    ),
    MoneyForm(
        "variation",
        "/variations/new",
        "officer",
        {"allocation": "WFWF-22-02", "reason": "More sessions"},
        "Enter the change, for example 500.00 or -500.00",
        "Enter the date of the variation",
        signed=True,
    ),
    MoneyForm(
        "payment",
        "/payments/new",
        "finance",
        {"allocation": "WFWF-22-02", "memo": "Quarter 2"},
        "Enter the amount paid",
        "Enter the date of the payment",
    ),
    MoneyForm(
        "return",
        "/returns/new",
        "finance",
        {"allocation": "WFWF-22-02", "memo": "Underspend"},
        "Enter the amount returned",
        "Enter the date the money came back",
    ),
)
GOOD_AMOUNT = "1.00"
GOOD_DATE = "01/12/2022"

# (name, typed, message on most forms, message where negative amounts are allowed); None means
# the form's own "Enter the amount..." message.
WEB_AMOUNTS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("£1,00.00", "£1,00.00", COMMAS, COMMAS),
    ("1e5", "1e5", EXPONENT, EXPONENT),
    ("NaN", "NaN", NON_FINITE, NON_FINITE),
    ("Infinity", "Infinity", NON_FINITE, NON_FINITE),
    ("-0", "-0", NEGATIVE, "A variation must change the amount"),
    ("0", "0", ZERO, "A variation must change the amount"),
    ("0.001", "0.001", SUB_PENNY, SUB_PENNY),
    ("１２３", "１２３", "type digits as 0-9", "type digits as 0-9"),
    ("£ 5", "£ 5", SPACE, SPACE),
    ("5£", "5£", "the £ sign must come before the number", "the £ sign must come before"),
    ("99999999999999999999", "99999999999999999999", TOO_LARGE, TOO_LARGE),
    ("unicode minus", "\u22125", NEGATIVE, "type the minus sign as a plain hyphen"),
    ("0x10", "0x10", "it contains the letter 'x'", "it contains the letter 'x'"),
    ("1_000", "1_000", "the character '_'", "the character '_'"),
    ("NUL", "5\x00", "the character '\\x00'", "the character '\\x00'"),
    ("blank", "", None, None),
)
WEB_DATES: tuple[tuple[str, str, str | None], ...] = (
    ("31/02/2023", "31/02/2023", NOT_REAL),
    ("2023-13-01", "2023-13-01", NOT_REAL),
    ("00/00/0000", "00/00/0000", NOT_REAL),
    ("year 0001", "0001-01-01", OUTSIDE),
    ("year 9999", "9999-12-31", OUTSIDE),
    ("ambiguous 01/02/03", "01/02/03", NOT_DATE),
    ("yesterday", "yesterday", NOT_DATE),
    ("ISO with a time", "2023-10-01T12:00:00", NOT_DATE),
    ("full-width digits", "０１/１０/２０２３", NOT_DATE),
    ("blank", "", None),
)
WEB_REFERENCES: tuple[tuple[str, str], ...] = (
    ("blank", ""),
    ("101 characters", "R" * 101),
    ("control character", "ALC-\x01-2023"),
    ("NUL", "ALC-\x00-2023"),
    ("RTL override", "\u202eALC-2023"),
    ("SQL injection", "'; DROP TABLE entries;--"),
    ("path traversal", "../../etc/passwd"),
)


# The award form's optional financial year (once a database error and an HTTP 500 for years the
# schema does not keep).
WEB_YEARS: tuple[tuple[str, str, str], ...] = (
    ("1000-01", "1000-01", "is outside the financial years the ledger keeps, 1990-91 to 2200-01"),
    ("9999", "9999", "is outside the financial years the ledger keeps"),
    ("2022-24", "2022-24", "a year runs from April 2022 to March 2023, written 2022-23"),
    ("full-width digits", "２０２２-２３", "is not a financial year; write it as 2022-23"),
    ("words", "last year", "is not a financial year"),
    ("NUL", "2022-23\x00", "contains a control character"),
)


@dataclass(frozen=True)
class FormCase:
    form: MoneyForm
    field: str  # "amount", the form's date field, or "reference"
    typed: str
    message: str


def _form_cases() -> Iterator[Any]:
    for form in FORMS:
        for name, typed, plain, signed in WEB_AMOUNTS:
            message = (signed if form.signed else plain) or form.blank_amount
            yield pytest.param(
                FormCase(form, "amount", typed, message), id=f"form: {form.name}, amount: {name}"
            )
        for name, typed, date_message in WEB_DATES:
            yield pytest.param(
                FormCase(form, form.date_field, typed, date_message or form.blank_date),
                id=f"form: {form.name}, date: {name}",
            )
        for name, typed in WEB_REFERENCES:
            yield pytest.param(
                FormCase(form, "reference", typed, STALE_FORM),
                id=f"form: {form.name}, reference: {name}",
            )
        if form.name == "award":
            for name, typed, message in WEB_YEARS:
                yield pytest.param(
                    FormCase(form, "financial_year", typed, message),
                    id=f"form: award, financial year: {name}",
                )


FORM_CASES = list(_form_cases())


def good_form(client: FlaskClient, form: MoneyForm, keys: dict[str, str]) -> dict[str, str]:
    """What a browser would send for ``form`` filled in correctly."""
    page = client.get(form.path)
    assert page.status_code == 200, form.path
    data = {name: value.format(**keys) for name, value in form.data.items()}
    data.update(reference=hidden_reference(text_of(page)), amount=GOOD_AMOUNT)
    data[form.date_field] = GOOD_DATE
    return data


@pytest.mark.parametrize("form", FORMS, ids=[f"form: {f.name}, all good" for f in FORMS])
def test_each_money_form_takes_the_good_values_the_corpus_starts_from(
    web_app: Flask, form: MoneyForm
) -> None:
    """The control: with nothing hostile the same submission is recorded, so each refusal below
    is the hostile value's doing."""
    client = web_app.test_client()
    fast_sign_in(web_app, client, form.user)
    before = web_dump(web_app)
    response = client.post(form.path, data=good_form(client, form, keys_of(web_app)))
    assert response.status_code == 302, text_of(response)[:3000]
    assert web_dump(web_app) != before


@pytest.mark.parametrize("hostile", FORM_CASES)
def test_a_hostile_value_in_a_money_form_is_refused_at_its_field(
    web_app: Flask, hostile: FormCase
) -> None:
    client = web_app.test_client()
    fast_sign_in(web_app, client, hostile.form.user)
    data = good_form(client, hostile.form, keys_of(web_app))
    data[hostile.field] = hostile.typed
    before = web_dump(web_app)

    response = client.post(hostile.form.path, data=data)

    html = text_of(response)
    assert_no_traceback(html)
    assert response.status_code == 422, html[:3000]
    assert "<title>Error: " in html
    if hostile.field == "reference":  # hidden: its error is in the summary at the top
        assert hostile.message in summary_errors(html)
    else:
        assert hostile.message in field_error(html, hostile.field)
    assert web_dump(web_app) == before


@dataclass(frozen=True)
class UploadCase:
    data: bytes
    status: int
    message: str


UPLOADS = [
    pytest.param(
        UploadCase((HEADER + "\n" + ROW).encode("utf-16"), 422, "is not UTF-8 text"),
        id="upload: UTF-16",
    ),
    pytest.param(
        UploadCase((HEADER + "\n" + ROW + "£").encode("latin-1"), 422, "is not UTF-8 text"),
        id="upload: Latin-1",
    ),
    pytest.param(
        UploadCase(b"a,b,c\n" + ROW.encode(), 422, "Row 1: " + HEADER_MUST_BE),
        id="upload: wrong header",
    ),
    pytest.param(
        UploadCase(text_file(HEADER + "\n" + ROW.replace("Hostile", '"Hos')), 422, "not valid CSV"),
        id="upload: unterminated quote",
    ),
    pytest.param(
        UploadCase(
            text_file(HEADER + "\n" + ROW.replace("Hostile", "Hos\x00tile")),
            422,
            "contains a NUL character",
        ),
        id="upload: NUL",
    ),
    pytest.param(
        UploadCase(text_file(HEADER + "\n" + ROW.replace("5.00", "1e5")), 422, EXPONENT),
        id="upload: 1e5",
    ),
    pytest.param(
        UploadCase(award_file(date="2023-10-01T12:00:00"), 422, NOT_DATE),
        id="upload: ISO date with a time",
    ),
    pytest.param(
        UploadCase(
            HEADER.encode() + b"\n" + b"x" * (6 * 1024 * 1024), 413, "The file is too large"
        ),
        id="upload: 6 MB (over the 5 MB limit)",
    ),
]


@pytest.mark.parametrize("hostile", UPLOADS)
def test_a_hostile_csv_upload_is_refused_and_imports_nothing(
    web_app: Flask, hostile: UploadCase
) -> None:
    client = web_app.test_client()
    fast_sign_in(web_app, client, "admin")
    before = web_dump(web_app)

    response = client.post(
        "/imports",
        data={"file": (io.BytesIO(hostile.data), FILE_NAME), "approved_by": "People Committee"},
        content_type="multipart/form-data",
    )

    html = unescape(text_of(response))
    assert_no_traceback(html)
    assert response.status_code == hostile.status, html[:3000]
    assert hostile.message in html
    assert web_dump(web_app) == before


@dataclass(frozen=True)
class UrlCase:
    path: str
    status: int
    shows: str = ""
    method: str = "GET"
    user: str | None = "admin"
    location: str | None = None


NOT_FOUND = "Page not found"
HUGE = "99999999999999999999"
URL_CASES = [
    pytest.param(UrlCase("/pots/999999", 404, NOT_FOUND), id="url: unknown pot"),
    pytest.param(UrlCase("/pots/0", 404, NOT_FOUND), id="url: pot 0"),
    pytest.param(UrlCase("/pots/-1", 404, NOT_FOUND), id="url: negative pot id"),
    pytest.param(UrlCase(f"/pots/{HUGE}", 404, NOT_FOUND), id="url: huge pot id"),
    pytest.param(UrlCase("/pots/2147483648", 404, NOT_FOUND), id="url: pot id just too big"),
    pytest.param(UrlCase(f"/pots/{HUGE}/statement.pdf", 404), id="url: huge pot id, PDF"),
    pytest.param(UrlCase(f"/pots/{HUGE}/journal", 404), id="url: huge pot id, journal"),
    pytest.param(UrlCase("/pots/%EF%BC%91", 404, NOT_FOUND), id="url: full-width pot id"),
    pytest.param(UrlCase("/pots/1%00", 404, NOT_FOUND), id="url: NUL after a pot id"),
    pytest.param(UrlCase("/pots/..%2f..%2fetc%2fpasswd", 404), id="url: encoded path traversal"),
    pytest.param(UrlCase("/static/..%2f..%2f__init__.py", 404), id="url: static traversal"),
    pytest.param(UrlCase("/static/app.css%00.py", 404), id="url: NUL in a static file"),
    pytest.param(UrlCase("/pots/{wfwf}/statement.xlsx", 404), id="url: statement as .xlsx"),
    pytest.param(UrlCase("/pots/{wfwf}/statement.exe", 404), id="url: statement as .exe"),
    pytest.param(
        UrlCase("/pots/{wfwf}/statement?as_at=0001-01-01", 422, OUTSIDE),
        id="url: statement as at year 1",
    ),
    pytest.param(
        UrlCase("/pots/{wfwf}/statement?as_at=%00", 422, "is not a date"),
        id="url: statement as at NUL",
    ),
    pytest.param(
        UrlCase("/pots/{wfwf}/statement.pdf?as_at=yesterday", 400),
        id="url: PDF as at yesterday",
    ),
    pytest.param(UrlCase(f"/approvals/requests/{HUGE}/reject", 404), id="url: huge request id"),
    pytest.param(
        UrlCase(f"/approvals/requests/{HUGE}/approve", 404, method="POST"),
        id="url: approve a huge request id",
    ),
    pytest.param(
        UrlCase("/approvals/allocations/%00/approve", 404, method="POST"),
        id="url: approve allocation NUL",
    ),
    pytest.param(
        UrlCase("/approvals/allocations/" + "R" * 5000 + "/reject", 404),
        id="url: reject a 5,000-character allocation",
    ),
    pytest.param(
        UrlCase("/approvals/allocations/..%2f..%2fetc%2fpasswd/reject", 404),
        id="url: allocation path traversal",
    ),
    pytest.param(
        UrlCase(f"/receipts/new?pot={HUGE}", 200, "Record a receipt"),
        id="url: receipt form for a huge pot id",
    ),
    pytest.param(
        UrlCase("/payments/new?allocation=%00", 200, "Record a payment"),
        id="url: payment form for allocation NUL",
    ),
    pytest.param(
        UrlCase("/audit?words=" + "a" * 100_000, 422, "100 characters or fewer"),
        id="url: audit search of 100,000 characters",
    ),
    pytest.param(UrlCase("/audit?date_from=0001-01-01", 422, OUTSIDE), id="url: audit from year 1"),
    pytest.param(
        UrlCase("/audit?actor=%00", 422, "contains a control character"), id="url: audit NUL"
    ),
    pytest.param(
        UrlCase("/?" + "x=" + "y" * 1_000_000, 200, "Pots"), id="url: a 1 MB query string"
    ),
    pytest.param(
        UrlCase("/login?next=//evil.example", 302, location="/"),
        id="url: next=//evil.example when signed in",
    ),
    pytest.param(
        UrlCase("/login?next=https://evil.example/", 302, location="/"),
        id="url: next=https://evil.example when signed in",
    ),
    pytest.param(
        UrlCase("/imports/confirm", 302, method="POST", location="/imports"),
        id="url: confirm an import without a token",
    ),
    pytest.param(UrlCase("/pots/{wfwf}", 405, method="PUT"), id="url: PUT a pot"),
    pytest.param(UrlCase("/logout", 405), id="url: GET /logout"),
    pytest.param(UrlCase("/nowhere/at/all", 404, NOT_FOUND, user=None), id="url: unknown path"),
]


@pytest.mark.parametrize("hostile", URL_CASES)
def test_a_hostile_url_is_answered_without_an_error_and_writes_nothing(
    web_app: Flask, hostile: UrlCase
) -> None:
    client = web_app.test_client()
    if hostile.user:
        fast_sign_in(web_app, client, hostile.user)
    path = hostile.path.format(**keys_of(web_app))
    before = web_dump(web_app)

    response = client.open(path, method=hostile.method)

    html = text_of(response)
    assert_no_traceback(html)
    assert response.status_code == hostile.status, html[:3000]
    assert hostile.shows in html
    if hostile.location is not None:
        assert response.headers["Location"] == hostile.location
    assert web_dump(web_app) == before


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("--format", "xlsx"), id="url: statement --format xlsx"),
        pytest.param(("--format", "../../etc/passwd"), id="url: statement --format traversal"),
    ],
)
def test_an_unknown_statement_format_is_a_usage_error(
    base: SharedLedger, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    before = base.pristine
    outcome = commonpurse(capsys, base.url, "statement", POT, *argv)
    assert_no_traceback(outcome.out, outcome.err)
    assert outcome.code == 2
    assert f"invalid choice: '{argv[1]}'" in outcome.err
    assert base.dump() == before


def test_the_corpus_is_large_enough() -> None:
    by_category: dict[str, int] = {}
    for cases in (IMPORT_CASES, HUGE_CASES, FORM_CASES, UPLOADS, URL_CASES):
        for param in cases:
            category = str(param.id).split(":", 1)[0]
            by_category[category] = by_category.get(category, 0) + 1
    assert sum(by_category.values()) >= 100
    for category in ("amount", "date", "reference", "csv", "form", "upload", "url"):
        assert by_category.get(category, 0) >= 8, by_category
    assert len({str(p.id) for p in IMPORT_CASES + FORM_CASES + URL_CASES}) == len(
        IMPORT_CASES + FORM_CASES + URL_CASES
    ), "two cases share a name"


def test_the_web_ledger_holds_what_the_forms_need(web_app: Flask) -> None:
    """A guard for the fixtures: Aberlour's allocation is confirmed and part paid."""

    def look(session: Session) -> tuple[str, int]:
        aberlour = ops.find_allocation(session, "WFWF-22-02")
        return aberlour.status, aberlour.paid_pence

    assert run_in_app(web_app, look) == ("confirmed", 100_000)
    assert run_in_app(web_app, lambda s: len(s.scalars(select(Allocation)).all())) >= 10
