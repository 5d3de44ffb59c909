"""A rejection is dated on the day chosen: the day the held money goes back to the pot.

Left blank it is today, or the allocation's own date when that is later (an allocation entered
ahead of the day it starts); it is never dated before the allocation. The same rule at every
door: ``ledger.operations.reject_allocation``, ``commonpurse reject --on`` and the web form."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import cli
from ledger import operations as ops
from ledger.demo import load_demo
from ledger.models import Entry
from tests.web_helpers import demo_app, fast_sign_in, run, text_of

Run = Callable[[Callable[[Session], Any]], Any]
PROMISE = "Promise Partnership 2021-22"


def _advocacy(session: Session, date: dt.date = dt.date(2021, 10, 1)) -> None:
    ops.allocate(
        session,
        reference="PROMISE-21-01",
        pot=PROMISE,
        recipient="Who Cares? Scotland",
        amount_pence=50_000,
        date=date,
        entered_by="officer",
        purpose="Advocacy",
    )


def _release_date(session: Session) -> dt.date:
    return session.scalars(select(Entry.effective_date).where(Entry.memo.like("Rejected:%"))).one()


def test_rejection_dated_today_unless_the_allocation_is_later() -> None:
    today = dt.date.today()
    assert ops.rejection_date(dt.date(2021, 10, 1)) == today
    assert ops.rejection_date(today + dt.timedelta(days=30)) == today + dt.timedelta(days=30)
    assert ops.rejection_date(None) == today


def test_the_release_is_dated_today_by_default(run: Run) -> None:
    run(load_demo)
    run(_advocacy)
    run(
        lambda s: ops.reject_allocation(
            s, reference="PROMISE-21-01", rejected_by="finance", note="Not in the plan"
        )
    )
    assert run(_release_date) == dt.date.today()


def commonpurse(url: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return cli.main(["--db", url, *argv], out=out), out.getvalue()


def test_reject_on_a_chosen_day_from_the_command_line(database_url: str, run: Run) -> None:
    run(load_demo)
    run(_advocacy)
    code, printed = commonpurse(
        database_url,
        "--user",
        "finance",
        "reject",
        "PROMISE-21-01",
        "--reason",
        "Not in the commissioning plan",
        "--on",
        "15/10/2021",
    )
    assert code == 0, printed
    assert run(_release_date) == dt.date(2021, 10, 15)


def test_reject_before_the_allocation_is_refused_from_the_command_line(
    database_url: str, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    run(load_demo)
    run(_advocacy)
    code, _ = commonpurse(
        database_url,
        "--user",
        "finance",
        "reject",
        "PROMISE-21-01",
        "--reason",
        "Not in the plan",
        "--on",
        "30/09/2021",
    )
    assert code == 1
    error = capsys.readouterr().err
    assert "This rejection is dated 30/09/2021, before allocation PROMISE-21-01 was made" in error
    assert run(lambda s: s.scalars(select(Entry).where(Entry.memo.like("Rejected:%"))).all()) == []


def test_the_web_form_offers_today_and_takes_the_day_chosen(database_url: str) -> None:
    app = demo_app(database_url)
    run(app, _advocacy)
    client = app.test_client()
    fast_sign_in(app, client, "finance")
    form = text_of(client.get("/approvals/allocations/PROMISE-21-01/reject"))
    assert f'value="{dt.date.today():%d/%m/%Y}"' in form
    assert "Date of the rejection" in form

    early = client.post(
        "/approvals/allocations/PROMISE-21-01/reject",
        data={"note": "Not in the plan", "date": "30/09/2021"},
    )
    assert early.status_code == 422
    assert 'id="date-error"' in text_of(early)
    assert "before allocation PROMISE-21-01 was made (01/10/2021)" in text_of(early)

    done = client.post(
        "/approvals/allocations/PROMISE-21-01/reject",
        data={"note": "Not in the plan", "date": "15/10/2021"},
    )
    assert done.status_code == 302
    assert run(app, _release_date) == dt.date(2021, 10, 15)
