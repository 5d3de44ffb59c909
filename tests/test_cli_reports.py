"""The approver's and the reader's commands, on Clackmannanshire's figures.

``approvals`` lists what waits, oldest first, with who entered it; ``approve``, ``reject`` and
``reverse`` call the ledger's own operations as the person given by ``--user``; ``report ...``
prints the intermediary's return, a funder's view, Promise spend and one recipient's awards.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import cli
from ledger import operations as ops
from ledger.demo import CTSI_POT, WFWF_POT, load_demo
from ledger.models import Allocation, Entry, Request

Run = Callable[[Callable[[Session], Any]], Any]


def commonpurse(url: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(["--db", url, *argv], out=out)
    return code, out.getvalue()


@pytest.fixture
def demo(database_url: str, run: Run) -> str:
    """The demo, with £500.00 of the Promise pot allocated provisionally by an officer, and a
    £1,000.00 payment to Aberlour waiting for approval."""

    def setup(session: Session) -> None:
        load_demo(session)
        ops.allocate(
            session,
            reference="PROMISE-21-01",
            pot="Promise Partnership 2021-22",
            recipient="Who Cares? Scotland",
            amount_pence=50_000,
            date=dt.date(2021, 10, 1),
            entered_by="officer",
            purpose="Advocacy",
        )
        ops.pay(
            session,
            reference="PAY-ABERLOUR-1",
            allocation="WFWF-22-02",
            amount_pence=100_000,
            date=dt.date(2022, 11, 1),
            memo="First instalment",
            entered_by="finance",
        )

    run(setup)
    return database_url


def test_approvals_lists_what_waits_oldest_first_with_who_entered_it(demo: str) -> None:
    code, printed = commonpurse(demo, "approvals")
    assert code == 0
    assert printed.startswith("2 waiting for approval, oldest first:")
    assert printed.index("Allocation PROMISE-21-01") < printed.index("Payment PAY-ABERLOUR-1")
    assert "entered by officer" in printed and "entered by finance" in printed
    assert "waited less than a minute" in printed

    code, printed = commonpurse(demo, "approvals", "--json")
    items = json.loads(printed)["awaiting"]
    assert [(i["kind"], i["key"], i["amount"], i["entered_by"]) for i in items] == [
        ("allocation", "PROMISE-21-01", 50_000, "officer"),
        ("payment", "PAY-ABERLOUR-1", 100_000, "finance"),
    ]


def test_a_second_person_approves_and_the_queue_empties(demo: str, run: Run) -> None:
    code, printed = commonpurse(demo, "--user", "finance", "approve", "PROMISE-21-01")
    assert code == 0, printed
    assert "Approved allocation PROMISE-21-01 (£500.00 to Who Cares? Scotland)" in printed
    code, printed = commonpurse(demo, "--user", "officer", "approve", "PAY-ABERLOUR-1")
    assert code == 0 and "£1,000.00 is recorded" in printed
    assert commonpurse(demo, "approvals")[1] == "Nothing awaits approval.\n"
    allocation = run(
        lambda s: (
            s.scalars(select(Allocation).where(Allocation.reference == "PROMISE-21-01"))
            .one()
            .approved_by
        )
    )
    assert allocation == "finance"


def test_approving_your_own_entry_is_refused_with_one_line(
    demo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = commonpurse(demo, "--user", "officer", "approve", "PROMISE-21-01")
    assert code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("commonpurse: ")
    assert "officer" in error


def test_approving_what_is_already_decided_or_unknown_is_refused(
    demo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commonpurse(demo, "--user", "finance", "approve", "WFWF-22-03")[0] == 1
    assert "WFWF-22-03" in capsys.readouterr().err
    assert commonpurse(demo, "--user", "finance", "approve", "NO-SUCH-REF")[0] == 1
    assert "NO-SUCH-REF" in capsys.readouterr().err


def test_rejecting_an_allocation_releases_its_money_and_records_the_reason(
    demo: str, run: Run
) -> None:
    code, printed = commonpurse(
        demo,
        "--user",
        "finance",
        "reject",
        "PROMISE-21-01",
        "--reason",
        "Not in the commissioning plan",
        "--date",
        "15/10/2021",
    )
    assert code == 0, printed
    assert "Its money is available in the pot again" in printed
    balances = json.loads(
        commonpurse(demo, "balances", "--pot", "Promise Partnership 2021-22", "--json")[1]
    )
    assert balances["pots"][0]["available"] == 5_000_000


def test_rejecting_needs_a_reason(demo: str) -> None:
    with pytest.raises(SystemExit) as usage:
        commonpurse(demo, "--user", "finance", "reject", "PAY-ABERLOUR-1")
    assert usage.value.code == 2


def test_rejecting_a_request_and_reversing_a_payment(demo: str, run: Run) -> None:
    code, printed = commonpurse(
        demo, "--user", "officer", "reject", "PAY-ABERLOUR-1", "--reason", "Wrong amount"
    )
    assert code == 0 and "Rejected request PAY-ABERLOUR-1" in printed
    status, note = run(
        lambda s: s.execute(
            select(Request.status, Request.decision_note).where(
                Request.reference == "PAY-ABERLOUR-1"
            )
        ).one()
    )
    assert (status, note) == ("rejected", "Wrong amount")

    def pay(session: Session) -> None:
        ops.pay(
            session,
            reference="PAY-ABERLOUR-2",
            allocation="WFWF-22-02",
            amount_pence=250_000,
            date=dt.date(2022, 11, 2),
            memo="Paid to the wrong provider",
            entered_by="finance",
            approved_by="officer",
        )

    run(pay)
    code, printed = commonpurse(
        demo,
        "--user",
        "finance",
        "reverse",
        "PAY-ABERLOUR-2",
        "--reason",
        "Paid to the wrong provider",
    )
    assert code == 0, printed
    assert "waits for a second person" in printed and "(PAY-ABERLOUR-2, £2,500.00)" in printed
    request = re.search(r"request (\d+)", printed)
    assert request is not None
    code, printed = commonpurse(demo, "--user", "officer", "approve", request.group(1))
    assert code == 0, printed
    balances = json.loads(commonpurse(demo, "balances", "--pot", WFWF_POT, "--json")[1])
    assert balances["pots"][0]["paid"] == 0
    reversal = run(lambda s: s.scalars(select(Entry).where(Entry.kind == "reversal")).one().memo)
    assert reversal.endswith("Paid to the wrong provider")


def test_reversing_twice_is_refused(demo: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = (
        "--user",
        "finance",
        "reverse",
        "WFWF-22-03",
        "--reason",
        "Entered twice",
        "--approved-by",
        "officer",
    )
    assert commonpurse(demo, *argv)[0] == 0
    assert commonpurse(demo, *argv)[0] == 1
    assert "already" in capsys.readouterr().err.lower()


def test_report_recipient_shows_action_for_children_three_ways(demo: str) -> None:
    code, printed = commonpurse(demo, "report", "recipient", "action for children")
    assert code == 0
    assert "Directly: £70,767.00" in printed
    assert "Through an intermediary: £15,278.18" in printed
    assert "Jointly with others: £20,000.00 (not in the total)" in printed
    assert "Total of its own: £86,045.18 allocated" in printed
    data = json.loads(commonpurse(demo, "report", "recipient", "Action for Children", "--json")[1])
    assert data["totals"]["own"]["allocated"] == 7_076_700 + 1_527_818
    assert [r["reference"] for r in data["joint"]] == ["CTSI-22-03"]
    assert data["joint"][0]["partners"] == ["Barnardos"]


def test_report_recipient_of_nobody_is_refused(
    demo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commonpurse(demo, "report", "recipient", "Nobody Ltd")[0] == 1
    assert "Nobody Ltd" in capsys.readouterr().err


def test_report_intermediary_return_agrees_with_the_statement(demo: str, tmp_path: Path) -> None:
    pdf, csv = tmp_path / "return.pdf", tmp_path / "return.csv"
    code, printed = commonpurse(
        demo,
        "report",
        "intermediary-return",
        CTSI_POT,
        "--as-at",
        "08/02/2024",
        "--pdf",
        str(pdf),
        "--csv",
        str(csv),
    )
    assert code == 0
    assert "Agrees with the council's distribution statement to the penny." in printed
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "82336.18" in csv.read_text(encoding="utf-8-sig")
    data = json.loads(commonpurse(demo, "report", "intermediary-return", CTSI_POT, "--json")[1])
    assert data["sub_granted"] == 8_233_618 and data["uncommitted"] == 0
    assert data["differences"] == []


def test_report_intermediary_return_of_a_council_pot_is_refused(demo: str) -> None:
    assert commonpurse(demo, "report", "intermediary-return", WFWF_POT)[0] == 1


def test_report_funder_counts_ctsi_sub_grants_once(demo: str) -> None:
    data = json.loads(commonpurse(demo, "report", "funder", "Scottish Government", "--json")[1])
    (total,) = data["totals"]
    # WFWF 2022-23 allocated £337,103.18, of which £103.18 is the assumed source's share.
    assert total["allocated"] == 33_700_000
    counted = [r for r in data["rows"] if r["counted_in_total"]]
    assert sum(r["allocated"] for r in counted) == 33_700_000
    assert {r["reference"] for r in data["rows"] if not r["counted_in_total"]} == {
        f"CTSI-22-0{n}" for n in range(1, 6)
    }


def test_report_promise_shows_untagged_money(demo: str) -> None:
    code, printed = commonpurse(demo, "report", "promise", WFWF_POT)
    assert code == 0
    assert "Whole Family Support" in printed and "Untagged" in printed
    data = json.loads(commonpurse(demo, "report", "promise", "--json")[1])
    pillars = data["tables"][0]
    untagged = next(row for row in pillars["rows"] if row[0] == "Untagged")
    assert untagged[1] == 33_710_318 - 10_000_000 + 50_000
