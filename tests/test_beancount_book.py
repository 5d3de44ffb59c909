"""The beancount export as fava shows it, proved with beancount's own loader (fava itself is not
needed): the options fava reads, accounts opened at first use, and the Income Statement of the
demo: £387,103.18 of income (the £103.18 assumption included) against £337,103.18 allocated and
£50,000.00 unallocated. The delegation to CTSI is counted once, and every ledger balance is the
sum of its beancount accounts, on the demo and on random ledgers."""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import io
import random
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount.core.data import Custom, Open, Transaction
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import cli
from ledger import operations as ops
from ledger.demo import load_demo
from ledger.errors import LedgerError
from ledger.models import ENTRY_KINDS, Allocation, Entry
from statements.exports.export_beancount import export_beancount
from tests.test_360giving_quality import generated_ledger
from tests.test_exports import assert_balances_match_the_ledger, beancount_totals

Run = Callable[[Callable[[Session], Any]], Any]


def under(totals: dict[str, Decimal], root: str) -> Decimal:
    return sum((v for k, v in totals.items() if k == root or k.startswith(root + ":")), Decimal(0))


def test_the_demo_reads_in_fava_as_income_expenses_and_one_delegation(run: Run) -> None:
    run(load_demo)
    text = run(export_beancount)
    totals, entries, options = beancount_totals(text)

    # What fava reads: the operating currency, the option that shows Income, Liabilities and
    # Equity as positive, and the UK financial year.
    assert options["operating_currency"] == ["GBP"]
    fava = {
        c.values[0].value: c.values[1].value
        for c in entries
        if isinstance(c, Custom) and c.type == "fava-option"
    }
    assert fava == {"invert-income-liabilities-equity": "true", "fiscal-year-end": "03-31"}

    # Each account opens on the day of its first posting, never before the pot existed.
    first: dict[str, dt.date] = {}
    for transaction in (e for e in entries if isinstance(e, Transaction)):
        for posting in transaction.postings:
            first.setdefault(posting.account, transaction.date)
    opens = {e.account: e.date for e in entries if isinstance(e, Open)}
    assert opens == first
    assert opens["Assets:Receivable:Corra-Foundation:CORRA-PROMISE-2021"] == dt.date(2021, 9, 16)
    assert opens["Expenses:Grants:Aberlour:WFWF-22-02"] == dt.date(2022, 10, 1)

    # The Income Statement, signs inverted as fava shows them.
    income, expenses = -under(totals, "Income"), under(totals, "Expenses")
    assert income == Decimal("387103.18")
    assert totals["Income:Awards:Source-Not-Stated-In-Appendix-2-Assumption:WFWF-2022-23"] == (
        Decimal("-103.18")
    )
    assert expenses == Decimal("337103.18")
    assert income - expenses == Decimal("50000.00")  # the Promise Partnership, unallocated
    assert under(totals, "Income:Awards:Corra-Foundation") == Decimal("-50000.00")
    assert under(totals, "Expenses:Internal") == Decimal("39000.00")  # the council's own post
    assert under(totals, "Expenses:Delegated") == Decimal("82336.18")  # CTSI, counted once
    by_recipient = {k.split(":")[2]: v for k, v in totals.items() if k.startswith("Expenses:")}
    assert by_recipient["Aberlour"] == Decimal("100000.00")
    assert by_recipient["Barnardos"] == Decimal("45000.00")
    # CTSI's sub-grants are in its own tree, not in Income or Expenses.
    assert not any("CTSI-22" in k for k in totals if k.startswith(("Income", "Expenses")))
    assert under(totals, "Equity:Delegated:CTSI-Managed-WFWF-Grant-2022-23:Grants") == Decimal(
        "82336.18"
    )

    # The Balance Sheet: the outside world is owed £337,103.18, not £419,439.36; the council's
    # debt to CTSI and CTSI's claim on it cancel.
    assert -under(totals, "Liabilities") == Decimal("337103.18")
    assert under(totals, "Liabilities:Delegations") == Decimal(0)
    assert -under(totals, "Liabilities:Delegated") == Decimal("82336.18")
    assert under(totals, "Assets") == Decimal("387103.18")
    assert under(totals, "Equity") == Decimal(0)

    assert_balances_match_the_ledger(run, text)


def approval(operation: Callable[..., object], approver: str) -> dict[str, str]:
    """``approved_by`` for an operation that takes a second person's approval, so the act is
    recorded at once rather than waiting as a request (which acts need one is the ledger's
    rule, not this test's)."""
    parameters = inspect.signature(operation).parameters
    return {"approved_by": approver} if "approved_by" in parameters else {}


def random_activity(run: Run, seed: int) -> None:
    """Receipts, payments (the delegation's too), returns, variations up and down, a reversal,
    a carry-forward into the next year and a hand-back, chosen at random. A move the ledger
    refuses is skipped: refusing is the ledger's job, this only needs a varied journal."""
    rng = random.Random(seed)
    officer, approver = "gen.officer", "gen.approver"
    day = dt.date(2025, 1, 15)
    references = run(lambda s: [a.reference for a in s.scalars(select(Allocation))])

    paid: list[str] = []

    def attempt(operation: Callable[[Session], object]) -> bool:
        with contextlib.suppress(LedgerError):
            run(operation)
            return True
        return False

    for number, funder in enumerate(("Anytown Trust", "Department for Places"), start=1):
        attempt(
            lambda s, n=number, f=funder: ops.record_receipt(
                s,
                reference=f"RECEIPT-{n}",
                pot=f"{f} 2024-25",
                funder=f,
                amount_pence=rng.randrange(1, 100_000_000),
                date=day,
                entered_by=officer,
                memo="Instalment",
                **approval(ops.record_receipt, approver),
            )
        )
    for index in range(40):
        reference = rng.choice(references)
        move = rng.choice(("pay", "pay", "return", "vary"))
        pence = rng.randrange(1, 600_000)
        if move == "return" and paid:
            reference = rng.choice(paid)
        if move == "pay":
            if attempt(
                lambda s, r=reference, p=pence, i=index: ops.pay(
                    s,
                    reference=f"PAY-{i}",
                    allocation=r,
                    amount_pence=p,
                    date=day,
                    entered_by=officer,
                    approved_by=approver,
                    memo="Instalment",
                )
            ):
                paid.append(reference)
        elif move == "return":
            attempt(
                lambda s, r=reference, p=pence, i=index: ops.return_unspent(
                    s,
                    reference=f"RETURN-{i}",
                    allocation=r,
                    amount_pence=p // 10 + 1,
                    date=day,
                    entered_by=officer,
                    memo="Underspend",
                    **approval(ops.return_unspent, approver),
                )
            )
        else:
            attempt(
                lambda s, r=reference, p=pence, i=index: ops.vary(
                    s,
                    reference=f"VARY-{i}",
                    allocation=r,
                    delta_pence=rng.choice((p, -(p // 20 + 1))),
                    date=day,
                    reason="Revised costs",
                    entered_by=officer,
                    approved_by=approver,
                )
            )
    payments = run(lambda s: list(s.scalars(select(Entry.id).where(Entry.kind == "pay"))))
    for payment in reversed(payments):  # the latest payment that can still be undone
        if attempt(
            lambda s, p=payment: ops.reverse(
                s,
                entry_id=p,
                reason="Paid twice",
                entered_by=approver,
                reference="UNDO-1",
                **approval(ops.reverse, officer),
            )
        ):
            break

    def next_year(session: Session) -> None:
        stream = ops.find_pot(session, "Anytown Trust 2024-25").stream
        ops.open_pot(
            session,
            "Anytown Trust 2025-26",
            ops.accountable_body(session),
            stream=stream,
            financial_year=2025,
        )

    run(next_year)
    attempt(
        lambda s: ops.carry_forward(
            s,
            reference="CARRY-1",
            from_pot="Anytown Trust 2024-25",
            to_pot="Anytown Trust 2025-26",
            amount_pence=rng.randrange(1, 1_000_000),
            date=dt.date(2025, 3, 31),
            entered_by=officer,
            approved_by=approver,
            memo="Year 1 underspend into Year 2",
        )
    )
    attempt(
        lambda s: ops.hand_back(
            s,
            reference="BACK-1",
            pot="Department for Places 2024-25",
            amount_pence=rng.randrange(1, 1_000_000),
            date=dt.date(2025, 3, 31),
            entered_by=officer,
            memo="Unspent, handed back",
            **approval(ops.hand_back, approver),
        )
    )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_every_balance_of_a_random_ledger_is_the_sum_of_its_beancount_accounts(
    run: Run, seed: int
) -> None:
    run(lambda s: generated_ledger(s, seed))
    random_activity(run, seed)
    kinds = set(run(lambda s: list(s.scalars(select(Entry.kind)))))
    assert kinds == set(ENTRY_KINDS)  # every kind of entry the journal knows, mapped
    text = run(export_beancount)
    code_of = assert_balances_match_the_ledger(run, text)
    totals, _, _ = beancount_totals(text)
    # Inside the consolidation the council's debt to its intermediary and the intermediary's
    # claim always cancel, and only the accountable body's own flows are Income and Expenses.
    assert under(totals, "Liabilities:Delegations") == Decimal(0)
    flows: dict[str, Decimal] = defaultdict(Decimal)
    for name, total in totals.items():
        if name.startswith(("Income", "Expenses", "Equity:Funds")):
            flows[code_of[name]] += total
    pots = run(
        lambda s: {
            f"pot:{p.id}:available": p.available_pence
            for p in s.scalars(select(ops.Pot))
            if p.parent_allocation_id is None
        }
    )
    assert {code: int(total * 100) for code, total in flows.items()} == {
        code: -available for code, available in pots.items() if code in flows
    }


def test_the_export_command_prints_the_income_statement_fava_will_show(
    run: Run, database_url: str, tmp_path: Path
) -> None:
    run(load_demo)
    out = io.StringIO()
    target = tmp_path / "demo.beancount"
    assert cli.main(["--db", database_url, "export", "beancount", "-o", str(target)], out=out) == 0
    assert out.getvalue().splitlines()[1] == (
        "Income Statement: income £387,103.18, expenses £337,103.18, net £50,000.00 (not yet"
        " allocated)"
    )
    totals, _, _ = beancount_totals(target.read_text(encoding="utf-8"))
    assert (-under(totals, "Income"), under(totals, "Expenses")) == (
        Decimal("387103.18"),
        Decimal("337103.18"),
    )
