"""The distribution statement rendered three ways: PDF for the committee, HTML for the browser and
CSV for the spreadsheet. All three come from one ``DistributionStatement`` and must show the same
lines and totals, so each test renders, reads the output back and compares it with the model.

The demo ledger is Appendix 2 of the February 2024 report: a £337,000 WFWF award, five
allocations adding up to £337,103.18 (the £103.18 recorded as an assumption) and CTSI's five
sub-grants from its £82,336.18 delegated pot.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

import ledger.cli
from ledger import operations as ops
from ledger.demo import APPENDIX_2, CTSI_DELEGATION, CTSI_SUB_GRANTS, WFWF_POT, load_demo
from statements.render.formatting import money
from statements.render.render_csv import render_csv
from statements.render.render_html import render_html
from statements.render.render_pdf import render_pdf
from statements.render.wording import summary_lines
from statements.reports.distribution import DistributionStatement, build_statement

Run = Callable[[Callable[[Session], Any]], Any]
GENERATED = dt.datetime(2024, 2, 8, 10, 0, tzinfo=dt.UTC)
NASTY_NAME = '<b>Bold & Co</b> <font color="red">X</font> &amp; <para>'
FORMULA = '=HYPERLINK("http://x")'


# Reading the renderings back ---------------------------------------------------------------


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text with runs of whitespace (line breaks from wrapping) made single spaces."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def assert_in_order(text: str, *parts: str) -> None:
    """Every part appears in ``text``, each after the one before."""
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} not found after position {position}"
        position = found + len(part)


class Tables(HTMLParser):
    """Every <table> of an HTML page: its caption and rows of (cell text, data-pence or None)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, int | None]]]] = {}
        self._rows: list[list[tuple[str, int | None]]] = []
        self._caption: list[str] | None = None
        self._cell: list[str] | None = None
        self._pence: int | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = []
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th") and self._rows:
            self._cell = []
            pence = dict(attrs).get("data-pence")
            self._pence = int(pence) if pence is not None else None
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self._name = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append((" ".join("".join(self._cell).split()), self._pence))
            self._cell = None
        elif tag == "table":
            self.tables[self._name] = self._rows

    def handle_data(self, data: str) -> None:
        for buffer in (self._caption, self._cell):
            if buffer is not None:
                buffer.append(data)


def csv_rows(statement: DistributionStatement) -> list[dict[str, str]]:
    out = io.StringIO(newline="")
    render_csv(statement, out)
    return list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))


def pence(amount: str) -> int:
    """A CSV amount (``82336.18``, ``-103.18``) back to pence, exactly."""
    sign = -1 if amount.startswith("-") else 1
    pounds, pennies = amount.lstrip("-").split(".")
    return sign * (int(pounds) * 100 + int(pennies))


def statement_of(
    factory: sessionmaker[Session], pot: str, as_at: dt.date | None = None
) -> DistributionStatement:
    with factory() as session:
        return build_statement(session, pot, as_at=as_at or dt.date.today(), generated_at=GENERATED)


# The demo: Appendix 2 ------------------------------------------------------------------------


def test_pdf_reads_like_appendix_2(run: Run, factory: sessionmaker[Session]) -> None:
    run(load_demo)
    statement = statement_of(factory, WFWF_POT)

    data = render_pdf(statement)
    pages = pdf_pages(data)
    text = " ".join(pages)

    assert data.startswith(b"%PDF")
    assert pages[0].startswith(
        "Clackmannanshire Council · Distribution statement: WFWF 2022-23"
        " WFWF 2022-23: Award £337,000.00"
    )
    # The awards, the assumption marked as one.
    assert_in_order(text, "Scottish Government", "named funder", "£337,000.00")
    assert_in_order(text, "Source not stated in Appendix 2", "assumption", "£103.18")
    # Every line of Appendix 2 in order, each with its amount.
    for line in (*APPENDIX_2, CTSI_DELEGATION):
        assert_in_order(text, line.recipient, line.purpose, money(line.amount_pence))
    assert_in_order(
        text,
        *(part for line in APPENDIX_2 for part in (line.purpose, money(line.amount_pence))),
    )
    assert_in_order(text, "Total, 5 allocations", "£337,103.18")
    assert_in_order(
        text,
        "Awarded by named funders £337,000.00",
        "Recorded as an assumption £103.18",
        "Total funds £337,103.18",
        "Allocated £337,103.18",
        "Paid £0.00",
        "Returned £0.00",
        "Available £0.00",
        "Allocations exceed the award by £103.18",
    )
    # CTSI's pot follows as its own section, headed by the delegation, with its five sub-grants.
    assert_in_order(
        text,
        "Allocation of Award for CTSI managed WFWF Grant £82,336.18"
        " (CTSI managed WFWF Grant 2022-23)",
        *(part for line in CTSI_SUB_GRANTS for part in (line.recipient, money(line.amount_pence))),
        "Delegated to this pot £82,336.18",
        "Available £0.00",
        "The delegation is fully allocated.",
    )
    assert [money(line.amount_pence) for line in CTSI_SUB_GRANTS] == [
        "£9,058.00",
        "£24,000.00",
        "£20,000.00",
        "£14,000.00",
        "£15,278.18",
    ]
    # Every page says where it came from and how many pages there are.
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Clackmannanshire Council — Distribution statement: WFWF 2022-23" in page
        assert "Generated 8 February 2024, 10:00 GMT by commonpurse" in page

    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata.title == "Distribution statement: WFWF 2022-23"
    assert metadata.author == "Clackmannanshire Council"
    assert metadata.creator == "commonpurse"
    assert "commonpurse" in (metadata.subject or "")


def test_same_statement_same_bytes(run: Run, factory: sessionmaker[Session]) -> None:
    run(load_demo)
    statement = statement_of(factory, WFWF_POT)

    assert render_pdf(statement) == render_pdf(statement)
    assert render_html(statement) == render_html(statement)


def test_html_shows_the_same_lines_and_totals(run: Run, factory: sessionmaker[Session]) -> None:
    run(load_demo)
    statement = statement_of(factory, WFWF_POT)

    page = render_html(statement)
    fragment = render_html(statement, standalone=False)
    tables = Tables(fragment).tables

    assert page.startswith('<!doctype html>\n<html lang="en-GB">')
    assert "<style>" in page and "<script" not in page.lower() and " style=" not in page
    assert fragment in page and "<html" not in fragment and "<style>" not in fragment
    assert "<h1>WFWF 2022-23: Award £337,000.00</h1>" in fragment
    assert '<th scope="col" class="num">Allocated</th>' in fragment
    for _, section in statement.sections():
        rows = tables[f"Allocations from {section.pot}"]
        assert [cell for cell, _ in rows[0]] == [
            "Recipient",
            "Purpose",
            "Status",
            "Allocated",
            "Paid",
        ]
        body, total = rows[1:-1], rows[-1]
        for html_row, row in zip(body, section.allocations, strict=True):
            assert html_row[0][0] == f"{row.recipient} {row.reference}"
            assert html_row[1][0].startswith(row.purpose)
            assert html_row[3] == (money(row.allocated_pence), row.allocated_pence)
            assert html_row[4] == (money(row.paid_pence), row.paid_pence)
        assert total[1:] == [
            (money(section.totals.allocated_pence), section.totals.allocated_pence),
            (money(section.totals.paid_pence), section.totals.paid_pence),
        ]
        summary = tables[f"Totals for {section.pot}"]
        assert [(r[0][0], r[1][1]) for r in summary] == summary_lines(section)
        assert f">{section.balance_note}</p>" in fragment
    awards = tables[f"Awards to {WFWF_POT}"]
    assert [(r[0][0], r[2][0], r[3][1]) for r in awards[1:]] == [
        ("Scottish Government WFWF-2022-23-AWARD", "named funder", 33_700_000),
        (
            "Source not stated in Appendix 2 (assumption) WFWF-2022-23-GAP",
            "assumption",
            10_318,
        ),
    ]
    assert '<p class="balance-note attention">Allocations exceed the award by £103.18' in fragment


def test_csv_shows_the_same_lines_and_totals(run: Run, factory: sessionmaker[Session]) -> None:
    run(load_demo)
    statement = statement_of(factory, WFWF_POT)

    rows = csv_rows(statement)

    assert list(rows[0]) == [
        "record", "section", "level", "reference", "recipient", "funder", "purpose", "status",
        "tags", "allocated", "paid", "returned", "unpaid", "received", "amount", "note",
    ]  # fmt: skip
    for depth, section in statement.sections():
        mine = [r for r in rows if r["section"] == section.pot]
        assert {r["level"] for r in mine} == {str(depth)}
        assert mine[0]["record"] == "section" and mine[0]["purpose"] == section.heading
        lines = [r for r in mine if r["record"] == "allocation"]
        assert [
            (r["reference"], r["recipient"], r["purpose"], pence(r["allocated"]), pence(r["paid"]))
            for r in lines
        ] == [
            (a.reference, a.recipient, a.purpose, a.allocated_pence, a.paid_pence)
            for a in section.allocations
        ]
        assert sum(pence(r["allocated"]) for r in lines) == section.totals.allocated_pence
        totals = [(r["purpose"], pence(r["amount"])) for r in mine if r["record"] == "total"]
        assert totals == summary_lines(section)
        assert [r["note"] for r in mine if r["record"] == "balance"] == [section.balance_note]
    awards = [(r["funder"], r["status"], r["amount"]) for r in rows if r["record"] == "award"]
    assert awards == [
        ("Scottish Government", "named funder", "337000.00"),
        ("Source not stated in Appendix 2 (assumption)", "assumption", "103.18"),
    ]
    by_ref = {r["reference"]: r for r in rows if r["record"] == "allocation"}
    assert by_ref["CTSI-22-05"]["allocated"] == "15278.18"
    assert by_ref["WFWF-22-02"]["tags"] == "WFS 1"
    assert by_ref["WFWF-22-05"]["note"].startswith("Delegated pot CTSI managed WFWF Grant 2022-23")


# What people type is printed, never obeyed ---------------------------------------------------


def _pot_with_awkward_names(session: Session) -> None:
    council = ops.ensure_organisation(session, "Council & <Partners>", ["accountable_body"])
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, council.name)
    ops.ensure_organisation(session, "Funder <i>Trust</i>", ["funder"])
    ops.open_pot(session, 'Fund <u>2023</u> & "Co"', council, financial_year=2023)
    ops.record_award(
        session,
        reference="AWK-AWARD",
        pot='Fund <u>2023</u> & "Co"',
        funder="Funder <i>Trust</i>",
        amount_pence=1_000_000,
        award_date=dt.date(2023, 4, 1),
        entered_by="officer",
        memo="-1+1 <script>alert(1)</script>",
        approved_by="finance",
    )
    for reference, recipient, purpose in (
        ("AWK-1", NASTY_NAME, FORMULA),
        ("AWK-2", "@Provider", "+44 helpline & <br/> support"),
    ):
        ops.allocate(
            session,
            reference=reference,
            pot='Fund <u>2023</u> & "Co"',
            recipient=recipient,
            amount_pence=250_000,
            date=dt.date(2023, 5, 1),
            entered_by="officer",
            approved_by="finance",
            purpose=purpose,
        )


def test_markup_in_names_is_printed_literally(run: Run, factory: sessionmaker[Session]) -> None:
    run(_pot_with_awkward_names)
    statement = statement_of(factory, 'Fund <u>2023</u> & "Co"')

    # PDF: the text as typed, ReportLab markup and entities included.
    data = render_pdf(statement)
    text = " ".join(pdf_pages(data))
    assert_in_order(text, 'Fund <u>2023</u> & "Co" 2023-24: Award £10,000.00')
    assert_in_order(text, "Funder <i>Trust</i>", "AWK-AWARD")
    assert_in_order(text, NASTY_NAME, "AWK-1", FORMULA, "£2,500.00")
    assert_in_order(text, "@Provider", "AWK-2", "+44 helpline & <br/> support", "£2,500.00")
    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata.title == 'Distribution statement: Fund <u>2023</u> & "Co"'
    assert metadata.author == "Council & <Partners>"

    # HTML: escaped, so the browser shows it and runs nothing.
    html = render_html(statement)
    assert "&lt;b&gt;Bold &amp; Co&lt;/b&gt; &lt;font color=&#34;red&#34;&gt;X&lt;/font&gt;" in html
    assert "&amp;amp; &lt;para&gt;" in html
    assert "<b>Bold" not in html and "<para>" not in html and "<u>2023" not in html
    allocations = Tables(html).tables['Allocations from Fund <u>2023</u> & "Co"']
    assert [row[0][0] for row in allocations[1:-1]] == [f"{NASTY_NAME} AWK-1", "@Provider AWK-2"]
    assert [row[1][0] for row in allocations[1:-1]] == [FORMULA, "+44 helpline & <br/> support"]

    # CSV: a cell a spreadsheet would run as a formula starts with a quote; others are as typed.
    lines = [r for r in csv_rows(statement) if r["record"] == "allocation"]
    assert [(r["recipient"], r["purpose"]) for r in lines] == [
        (NASTY_NAME, "'" + FORMULA),
        ("'@Provider", "'+44 helpline & <br/> support"),
    ]
    assert [r["amount"] for r in csv_rows(statement) if r["purpose"] == "Available"] == ["5000.00"]


# As at a date ----------------------------------------------------------------------------------


def test_statement_as_at_a_date_leaves_out_later_allocations(
    run: Run, factory: sessionmaker[Session]
) -> None:
    run(load_demo)
    run(
        lambda session: ops.allocate(
            session,
            reference="PROMISE-22-01",
            pot="Promise Partnership 2021-22",
            recipient="Who Cares? Scotland",
            amount_pence=1_250_000,
            date=dt.date(2022, 6, 1),
            entered_by="demo.officer",
            approved_by="demo.finance",
            purpose="Care-experienced young people's voice",
        )
    )

    before = statement_of(factory, "Promise Partnership 2021-22", dt.date(2022, 5, 31))
    on_the_day = statement_of(factory, "Promise Partnership 2021-22", dt.date(2022, 6, 1))

    assert before.section.allocations == ()
    assert before.section.totals.available_pence == 5_000_000
    pdf_before = " ".join(pdf_pages(render_pdf(before)))
    assert "Who Cares? Scotland" not in pdf_before
    assert_in_order(pdf_before, "No allocations.", "Allocated £0.00", "Available £50,000.00")
    assert "figures as at 31 May 2022" in pdf_before
    assert "Who Cares? Scotland" not in render_html(before)
    assert [r for r in csv_rows(before) if r["record"] == "allocation"] == []

    assert [a.reference for a in on_the_day.section.allocations] == ["PROMISE-22-01"]
    pdf_after = " ".join(pdf_pages(render_pdf(on_the_day)))
    assert_in_order(pdf_after, "Who Cares? Scotland", "£12,500.00", "Available £37,500.00")
    assert "£37,500.00 of the award is not yet allocated." in render_html(on_the_day)


# A long statement --------------------------------------------------------------------------


def _big_pot(session: Session) -> None:
    council = ops.ensure_organisation(session, "Big Council", ["accountable_body"])
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, council.name)
    ops.ensure_organisation(session, "Big Funder", ["funder"])
    ops.open_pot(session, "Small Grants 2023-24", council, financial_year=2023)
    ops.record_award(
        session,
        reference="BIG-AWARD",
        pot="Small Grants 2023-24",
        funder="Big Funder",
        amount_pence=100_000_000,
        award_date=dt.date(2023, 4, 1),
        entered_by="officer",
        memo="£1m for small grants",
        approved_by="finance",
    )
    for i in range(2000):
        ops.allocate(
            session,
            reference=f"SG-{i:04d}",
            pot="Small Grants 2023-24",
            recipient=f"Community group {i % 40}",
            amount_pence=10_000 + i,
            date=dt.date(2023, 5, 1),
            entered_by="officer",
            approved_by="finance",
            purpose=f"Small grant {i}: a year of activities for families, volunteers and venues",
        )


def test_a_2000_line_statement_paginates(run: Run, factory: sessionmaker[Session]) -> None:
    run(_big_pot)
    statement = statement_of(factory, "Small Grants 2023-24")
    assert len(statement.section.allocations) == 2000

    started = time.perf_counter()
    data = render_pdf(statement)
    seconds = time.perf_counter() - started
    pages = pdf_pages(data)
    print(f"\n2,000-line statement: {len(pages)} pages, {len(data):,} bytes, {seconds:.2f} s")

    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        assert "Recipient Purpose Status Allocated Paid" in page  # the header row, repeated
        assert re.findall(r"Page (\d+) of (\d+)", page) == [(str(number), str(len(pages)))]
    text = " ".join(pages)
    assert_in_order(text, "SG-0000", "SG-0001", "SG-1000", "SG-1999")
    total = sum(10_000 + i for i in range(2000))
    assert_in_order(pages[-1], "Total, 2000 allocations", money(total), f"Allocated {money(total)}")
    assert seconds < 10  # about 1 s on a quiet machine; this only catches a quadratic slide


# A table cell is what ReportLab would have parsed -----------------------------------------------


@pytest.mark.parametrize(
    ("main", "small"),
    [
        ("Aberlour", ["WFWF-22-02"]),
        ("Aberlour Sustain – Intensive Support Service", ["Tags: WFS 1", "£103.18 returned"]),
        ("Café Brûlée £5", []),
        ("x", ["x", "x"]),
        ("", ["REF-1"]),
        ("  leading and trailing  ", ["REF-1"]),
        ("two  spaces", ["tab\there"]),
        ("a line\nbreak", ["REF-1"]),
        ("\u00a0no-break space", ["REF-1"]),
        (NASTY_NAME, ["AWK-1"]),
        ("Smith & Sons", ["<b>REF</b>"]),
        ("&amp;", ["&lt;"]),
        (FORMULA, []),
    ],
)
def test_a_cell_is_the_paragraph_reportlab_would_parse(main: str, small: list[str]) -> None:
    """Plain text skips ReportLab's markup parser (its fragments are copied from a parse of the
    same shape); the result must be the very paragraph the parser gives, whatever was typed."""
    from reportlab.platypus import Paragraph

    from statements.render.render_pdf import CELL, _cell, _cell_markup

    cell = _cell(main, small)
    parsed = Paragraph(_cell_markup(main, small), CELL)

    assert cell.text == parsed.text
    assert cell.style is parsed.style
    assert [vars(f) for f in cell.frags] == [vars(f) for f in parsed.frags]
    assert cell.wrap(300, 1000) == parsed.wrap(300, 1000)
    assert repr(cell.blPara) == repr(parsed.blPara)  # the same lines, words and fonts


# The command ---------------------------------------------------------------------------------


@pytest.fixture
def statement_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    """``commonpurse --db URL statement ...`` in this process, returning (exit status, stdout).

    Only the ``statement`` entry point is loaded, so the test does not depend on the other
    plugins in ``commonpurse.commands``; that it is registered at all is part of the test.
    """
    real = entry_points
    assert [ep.value for ep in real(group=ledger.cli.PLUGIN_GROUP) if ep.name == "statement"] == [
        "statements.commands.statement_command:register"
    ]
    monkeypatch.setattr(
        ledger.cli,
        "entry_points",
        lambda group: [ep for ep in real(group=group) if ep.name == "statement"],
    )

    def invoke(database_url: str, *args: str) -> tuple[int, str]:
        out = io.StringIO()
        status = ledger.cli.main(["--db", database_url, "statement", *args], out=out)
        return status, out.getvalue()

    return invoke


def test_statement_command(
    run: Run,
    database_url: str,
    statement_cli: Callable[..., tuple[int, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(load_demo)

    # PDF to a named file.
    target = tmp_path / "appendix-2.pdf"
    status, out = statement_cli(database_url, WFWF_POT, "--as-at", "31/03/2024", "-o", str(target))
    assert status == 0
    assert target.read_bytes().startswith(b"%PDF")
    assert out == f"Wrote {target} (Distribution statement: WFWF 2022-23, as at 31 March 2024).\n"
    assert "figures as at 31 March 2024" in " ".join(pdf_pages(target.read_bytes()))

    # PDF without -o: named after the pot and the date, in the current folder.
    monkeypatch.chdir(tmp_path)
    status, out = statement_cli(database_url, WFWF_POT, "--as-at", "2024-03-31")
    assert status == 0
    assert out.startswith("Wrote wfwf-2022-23-2024-03-31.pdf ")
    assert (tmp_path / "wfwf-2022-23-2024-03-31.pdf").read_bytes().startswith(b"%PDF")

    # HTML and CSV to standard output.
    status, html = statement_cli(database_url, WFWF_POT, "--format", "html")
    assert status == 0
    assert html.startswith("<!doctype html>")
    assert "£82,336.18" in html and "Allocations exceed the award by £103.18" in html
    status, text = statement_cli(database_url, WFWF_POT, "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["allocated"] for r in rows if r["reference"] == "CTSI-22-05"] == ["15278.18"]

    # Refusals: one line on stderr, exit status 1, nothing written.
    capsys.readouterr()
    status, out = statement_cli(database_url, "No such pot", "-o", str(tmp_path / "x.pdf"))
    assert (status, out) == (1, "")
    assert capsys.readouterr().err == "commonpurse: There is no pot called 'No such pot'.\n"
    assert not (tmp_path / "x.pdf").exists()
    status, _ = statement_cli(database_url, WFWF_POT, "--as-at", "31/02/2024")
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("commonpurse: '31/02/2024' is not a real date")
    assert err.count("\n") == 1
