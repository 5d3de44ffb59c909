"""The read paths ask the database a fixed number of questions, however big the ledger grows.

``balances`` and the dashboard read figures maintained on the pots; a pot's page reads one page
of its allocations; a distribution statement reads its pots, awards, allocations, tags and first
entries in one query each and the journal in one more. None of them may ask once per entry, per
payment or per allocation: each test counts the SQL statements a read sends (a
``before_cursor_execute`` listener), grows the ledger by fifty more allocations, payments,
variations, returns, reversals, requests and sub-grant payments, and counts again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from ledger import db
from ledger import operations as ops
from ledger.demo import CTSI_SUB_GRANTS, PROMISE_POT, SCOTTISH_GOVERNMENT, WFWF_POT, load_demo
from ledger.models import Allocation, AllocationShare
from ledger.readout import pot_balances
from statements.reports.distribution import build_statement
from tests.test_web_pages import check as well_formed_problems
from tests.web_helpers import demo_app, pot_id, signed_in, text_of
from tests.web_helpers import run as run_in_app
from web.db import ledger_of

Run = Callable[[Callable[[Session], Any]], Any]
DAY = dt.date(2023, 5, 1)
LATER = dt.date(2030, 1, 1)
GROWTH = 50


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent through ``engine`` (and engines made from it) while inside."""
    sent: list[str] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def queries(sent: list[str]) -> list[str]:
    """The statements that ask something (SQLite's explicit BEGINs left out)."""
    return [s for s in sent if not s.lstrip().upper().startswith("BEGIN")]


_PLACEHOLDER = r"(?:\?|%\(\w+\)s(?:::\w+)?)"  # SQLite's ?, psycopg's %(name)s or %(name)s::INTEGER
_IN_LIST = re.compile(rf"IN \({_PLACEHOLDER}(?:, {_PLACEHOLDER})*\)")


def shapes(sent: list[str]) -> list[str]:
    """The statements with their ``IN (?, ?, ...)`` lists folded: a list of ids loaded in one
    query grows with the rows shown, and that is not another query."""
    return [_IN_LIST.sub("IN (...)", statement) for statement in sent]


# A ledger with one of everything, and more of it ----------------------------------------------


def base_ledger(session: Session) -> None:
    """The demo, with one of each thing the read paths show: a top-up award (so WFWF has room),
    a tagged allocation, a pooled contract, a payment, a variation, a return, a reversal, a
    payment and a variation waiting for approval, a provisional allocation and paid
    sub-grants."""
    load_demo(session)
    ops.record_award(
        session,
        reference="TOP-UP",
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=100_000_000,
        award_date=dt.date(2023, 3, 1),  # within the pot's year, 2022-23
        entered_by="officer",
        memo="More money to allocate",
        approved_by="finance",
    )
    ops.pay(  # the council hands CTSI its cash, so CTSI can pay its sub-grants
        session,
        reference="PAY-CTSI-ALL",
        allocation="WFWF-22-05",
        amount_pence=8_233_618,
        date=dt.date(2022, 11, 1),
        entered_by="finance",
        approved_by="manager",
        memo="Delegated cash handed to CTSI",
    )
    grow(session, "BASE", 1)
    ops.allocate_pooled(
        session,
        reference="POOLED",
        shares=[(WFWF_POT, 100_000), (PROMISE_POT, 50_000)],
        recipient="Pooled provider",
        date=DAY,
        entered_by="officer",
        approved_by="finance",
        purpose="Pooled contract",
    )


def grow(session: Session, prefix: str, count: int) -> None:
    """``count`` more of each: allocations from WFWF (tagged), payments, variations, returns, a
    reversal for every tenth, payments waiting for approval, provisional allocations, and
    payments on CTSI's sub-grants (its delegated pot); and two more pots, one with a new funder
    and stream, one delegated from WFWF with a sub-grant of its own."""
    funder = ops.ensure_organisation(session, f"{prefix} Trust", ["funder"])
    ops.ensure_stream(session, f"{prefix} Fund", funder)
    ops.record_award(
        session,
        reference=f"{prefix}-AWARD",
        pot=f"{prefix} Pot 2023-24",
        funder=funder.name,
        amount_pence=1_000_000,
        award_date=DAY,
        entered_by="officer",
        memo="A new pot",
        stream=f"{prefix} Fund",
        approved_by="finance",
    )
    ops.allocate(
        session,
        reference=f"{prefix}-DELEGATION",
        pot=WFWF_POT,
        recipient=f"{prefix} Intermediary",
        amount_pence=500_000,
        date=DAY,
        entered_by="officer",
        approved_by="finance",
        purpose="Delegated grants",
        to_pot=f"{prefix} delegated 2022-23",
    )
    ops.allocate(
        session,
        reference=f"{prefix}-SUB-GRANT",
        pot=f"{prefix} delegated 2022-23",
        recipient="Sub-grant group",
        amount_pence=100_000,
        date=DAY,
        entered_by="intermediary",
        approved_by="intermediary.manager",
        purpose="A sub-grant",
    )
    for i in range(count):
        reference = f"{prefix}-{i:03d}"
        ops.allocate(
            session,
            reference=reference,
            pot=WFWF_POT,
            recipient=f"Group {i % 7}",
            amount_pence=100_000,
            date=DAY,
            entered_by="officer",
            approved_by="finance",
            purpose=f"Grant {i}",
            tags=["WFS 1"] if i % 2 else [],
        )
        ops.pay(
            session,
            reference=f"{reference}-PAY",
            allocation=reference,
            amount_pence=50_000,
            date=DAY,
            entered_by="finance",
            approved_by="manager",
            memo="First instalment",
        )
        ops.vary(
            session,
            reference=f"{reference}-VARY",
            allocation=reference,
            delta_pence=-1_000,
            date=DAY,
            reason="Smaller",
            entered_by="officer",
            approved_by="finance",
        )
        ops.return_unspent(
            session,
            reference=f"{reference}-RETURN",
            allocation=reference,
            amount_pence=5_000,
            date=DAY,
            entered_by="finance",
            memo="Underspend",
            approved_by="officer",
        )
        if i % 10 == 0:
            second = ops.pay(
                session,
                reference=f"{reference}-PAY-2",
                allocation=reference,
                amount_pence=10_000,
                date=DAY,
                entered_by="finance",
                approved_by="manager",
                memo="Paid twice",
            )
            ops.reverse(
                session,
                entry_id=second.id,
                reason="Paid twice",
                entered_by="finance",
                approved_by="officer",
            )
            ops.pay(
                session,
                reference=f"{reference}-PAY-WAITING",
                allocation=reference,
                amount_pence=1_000,
                date=DAY,
                entered_by="finance",
                memo="Waiting for a second person",
            )
            ops.allocate(
                session,
                reference=f"{reference}-PROVISIONAL",
                pot=WFWF_POT,
                recipient="Group waiting",
                amount_pence=10_000,
                date=DAY,
                entered_by="officer",
                purpose="Not yet approved",
            )
        sub_grant = CTSI_SUB_GRANTS[i % len(CTSI_SUB_GRANTS)]
        ops.pay(
            session,
            reference=f"{reference}-SUB",
            allocation=sub_grant.reference,
            amount_pence=100,
            date=DAY,
            entered_by="ctsi",
            approved_by="ctsi.manager",
            memo="Sub-grant instalment",
        )


def count_then_grow(
    engine: Engine, read: Callable[[], object], more: Callable[[], object]
) -> tuple[list[str], list[str]]:
    with statements_sent(engine) as before:
        read()
    more()
    with statements_sent(engine) as after:
        read()
    return before, after


# The ledger's read-outs ---------------------------------------------------------------------


def test_balances_read_a_fixed_number_of_queries_however_big_the_ledger(
    run: Run, engine: Engine
) -> None:
    run(base_ledger)
    readers = db.reader_factory(engine)

    def read() -> None:
        with readers() as session:
            pot_balances(session)

    before, after = count_then_grow(engine, read, lambda: run(lambda s: grow(s, "MORE", GROWTH)))

    # The figures (one query) and what changes awaiting approval hold (at most three, over the
    # pending requests only).
    assert len(queries(before)) <= 4, before
    assert shapes(after) == shapes(before)


def test_a_statement_reads_a_fixed_number_of_queries(run: Run, engine: Engine) -> None:
    run(base_ledger)
    readers = db.reader_factory(engine)
    lines: list[int] = []

    def read() -> None:
        with readers() as session:
            statement = build_statement(session, WFWF_POT, as_at=LATER)
            lines.append(sum(len(section.allocations) for _, section in statement.sections()))

    before, after = count_then_grow(engine, read, lambda: run(lambda s: grow(s, "MORE", GROWTH)))

    # The new lines show: fifty allocations, five provisional ones, a delegation and its
    # delegated pot's sub-grant.
    assert lines[1] == lines[0] + GROWTH + GROWTH // 10 + 2
    # Nine for the figures, four for the years of the awards and the expected funding.
    assert len(queries(before)) <= 13, before
    assert shapes(after) == shapes(before)


def test_a_statement_as_at_an_earlier_date_reads_as_many(run: Run, engine: Engine) -> None:
    run(base_ledger)
    run(lambda s: grow(s, "MORE", GROWTH))
    readers = db.reader_factory(engine)
    counts = []
    for as_at in (dt.date(2022, 9, 30), DAY, LATER):
        with statements_sent(engine) as sent, readers() as session:
            build_statement(session, WFWF_POT, as_at=as_at)
        counts.append(len(sent))
    assert len(set(counts)) == 1, counts


# The web pages ------------------------------------------------------------------------------


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return text_of(response)


def _web_counts(
    database_url: str, username: str, path: Callable[[Flask], str]
) -> tuple[list[str], list[str], str]:
    app = demo_app(database_url)
    run_in_app(app, base_ledger)
    client = signed_in(app, username)
    engine = ledger_of(app).engine
    _page(client, path(app))  # the first request of an app loads templates and settings
    pages: list[str] = []
    before, after = count_then_grow(
        engine,
        lambda: pages.append(_page(client, path(app))),
        lambda: run_in_app(app, lambda s: grow(s, "MORE", GROWTH)),
    )
    return before, after, pages[-1]


def test_the_dashboard_reads_a_fixed_number_of_queries(database_url: str) -> None:
    before, after, page = _web_counts(database_url, "admin", lambda app: "/")
    assert shapes(after) == shapes(before)
    assert re.search(r"\d+ items are waiting for approval", page)


def test_an_intermediarys_dashboard_reads_a_fixed_number_of_queries(database_url: str) -> None:
    before, after, _ = _web_counts(database_url, "ctsi", lambda app: "/")
    assert shapes(after) == shapes(before)


def test_a_pot_page_reads_a_fixed_number_of_queries(database_url: str) -> None:
    before, after, page = _web_counts(
        database_url, "admin", lambda app: f"/pots/{pot_id(app, WFWF_POT)}"
    )
    assert shapes(after) == shapes(before)
    # The pot now has more allocations than a page holds: the first page shows the first fifty.
    assert re.search(r"Allocations from WFWF 2022-23: 1 to 50 of \d+</caption>", page)
    assert 'aria-label="Pages of allocations"' in page


def test_every_page_of_allocations_reads_as_many_queries(database_url: str) -> None:
    app = demo_app(database_url)
    run_in_app(app, base_ledger)
    run_in_app(app, lambda s: grow(s, "MORE", GROWTH * 2))
    client = signed_in(app, "admin")
    wfwf = pot_id(app, WFWF_POT)
    engine = ledger_of(app).engine
    _page(client, f"/pots/{wfwf}")
    counts = []
    shown: list[str] = []
    for number in ("1", "2", "3", "99", "0", "x"):
        with statements_sent(engine) as sent:
            page = _page(client, f"/pots/{wfwf}?page={number}")
        counts.append(len(sent))
        shown.append(re.findall(r"<caption>Allocations from [^<]*</caption>", page)[0])
        assert not well_formed_problems(page), number
    assert len(set(counts)) == 1, counts
    total = re.findall(r"of (\d+)</caption>", shown[0])[0]
    assert shown[:3] == [
        f"<caption>Allocations from {WFWF_POT}: 1 to 50 of {total}</caption>",
        f"<caption>Allocations from {WFWF_POT}: 51 to 100 of {total}</caption>",
        f"<caption>Allocations from {WFWF_POT}: 101 to {min(150, int(total))} of {total}</caption>",
    ]
    assert shown[3] == shown[2]  # past the end: the last page
    assert shown[4] == shown[5] == shown[0]  # not a page number: the first


def test_a_pot_page_lists_every_allocation_once_across_its_pages(
    database_url: str, factory: sessionmaker[Session]
) -> None:
    app = demo_app(database_url)
    run_in_app(app, base_ledger)
    run_in_app(app, lambda s: grow(s, "MORE", GROWTH * 2))
    client = signed_in(app, "viewer")
    wfwf = pot_id(app, WFWF_POT)
    seen: list[str] = []
    number = 1
    while True:
        page = _page(client, f"/pots/{wfwf}?page={number}")
        seen += re.findall(r'<tr id="allocation-([^"]+)">', page)
        if f"page={number + 1}#allocations" not in page:
            break
        number += 1
    with factory() as session:
        expected = session.scalars(
            select(Allocation.reference)
            .join(AllocationShare, AllocationShare.allocation_id == Allocation.id)
            .where(AllocationShare.pot_id == wfwf)
            .order_by(AllocationShare.allocation_id)
        ).all()
    assert number == 3
    assert seen == list(expected)


def _rejected_entries(prefix: str, count: int) -> Callable[[Session], None]:
    """``count`` allocations and ``count`` payment requests the officer entered, each rejected."""

    def record(session: Session) -> None:
        for n in range(count):
            reference = f"{prefix}-REJ-{n}"
            ops.allocate(
                session,
                reference=reference,
                pot=PROMISE_POT,
                recipient=f"{prefix} provider {n}",
                amount_pence=100,
                date=dt.date(2021, 10, 1),
                entered_by="officer",
                purpose="Not in the plan",
            )
            ops.reject_allocation(
                session, reference=reference, rejected_by="finance", note="Not in the plan"
            )
            request = ops.pay(
                session,
                reference=f"{prefix}-PAY-{n}",
                allocation="WFWF-22-02",
                amount_pence=100,
                date=dt.date(2022, 11, 1),
                memo="Wrong provider",
                entered_by="officer",
            )
            ops.reject_request(
                session, request_id=request.id, rejected_by="finance", note="Wrong provider"
            )

    return record


def test_rejections_on_the_dashboard_and_my_entries_read_a_fixed_number_of_queries(
    database_url: str,
) -> None:
    app = demo_app(database_url)
    run_in_app(app, _rejected_entries("FIRST", 2))
    client = signed_in(app, "officer")
    engine = ledger_of(app).engine
    for path in ("/", "/my-entries"):
        _page(client, path)
    with statements_sent(engine) as before:
        dashboard = _page(client, "/") + _page(client, "/my-entries")
    run_in_app(app, _rejected_entries("MORE", 30))
    with statements_sent(engine) as after:
        grown = _page(client, "/") + _page(client, "/my-entries")
    assert shapes(after) == shapes(before)
    assert "4 of your entries were rejected" in dashboard
    assert "64 of your entries were rejected" in grown
