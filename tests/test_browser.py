"""The web app in a real browser: Debian's headless Chromium, driven by Playwright, against the
app served over HTTP from a background thread, with CSRF protection and the content security
policy as in production.

* An officer signs in through the form, records an award into a new pot, allocates from it, and
  is refused an overspend next to the amount field, in pounds; the error summary's link moves
  focus to that field.
* Appendix 2 as printed: the CTSI delegation of £82,336.18 is refused, short by £103.18.
* Finance downloads the WFWF statement as a PDF.
* Keyboard: the first Tab reaches the skip link, and signing in needs only the keyboard.
* An administrator adds a person, who signs in with the one-time password and must choose
  their own before anything else.
* axe-core (vendored, WCAG 2.0/2.1/2.2 A and AA) finds no violation on any page state each role
  can reach. The pages come from the app's URL map, so a new page cannot escape the check: every
  route is opened, those with parameters with real ids (the administrator with every one), each
  form is also submitted empty to check it with its errors, and then come the states only an
  action reaches (ledger refusals, success messages, reconciliation and import results, error
  pages).

Nothing is downloaded: ``scripts/browser-deps`` installs Debian's chromium if it is missing. The
module is skipped when ``/usr/bin/chromium`` is absent, unless CI is set: then it fails.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from itertools import product
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Page,
    expect,
    sync_playwright,
)
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import second_person, timeline
from ledger.demo import (
    APPENDIX_2,
    CORRA,
    CTSI,
    CTSI_POT,
    PROMISE_POT,
    SCOTTISH_GOVERNMENT,
    WFWF_AWARD,
    WFWF_POT,
    load_demo,
)
from ledger.models import (
    Allocation,
    Entry,
    Instalment,
    Organisation,
    Pot,
    Request,
    Requirement,
    SecondPersonRequest,
    StatementSignoff,
    User,
)
from ledger.schedule import split_instalments
from tests.browser_support import (
    CHROMIUM,
    PASSWORD,
    PEOPLE,
    AxeLog,
    LiveServer,
    add_people,
    axe_violations,
    browser_app,
    in_ci,
    install_axe,
    launch_chromium,
    run,
    sign_in,
)
from web.permissions import ACTIONS

if not CHROMIUM.exists() and not in_ci():
    pytest.skip(
        f"{CHROMIUM} is not installed, so the browser tests cannot run. Install Debian's"
        " chromium package (scripts/browser-deps does it when run as root). With CI set, a"
        " missing browser fails these tests instead of skipping them.",
        allow_module_level=True,
    )

DATA = Path(__file__).parent / "data"
SHORT_BY_103_18 = (
    "WFWF 2022-23 has £82,233.00 available; this delegation needs £82,336.18 (short by £103.18)"
)
# GET routes that answer with a file, not a page: fetched and checked, but not given to axe.
DOWNLOADS = {
    "statements.statement_pdf": "application/pdf",
    "statements.statement_csv": "text/csv",
    "reports.intermediary_return_pdf": "application/pdf",
    "reports.intermediary_return_csv": "text/csv",
    "reports.funders_pdf": "application/pdf",
    "reports.funders_csv": "text/csv",
    "reports.promise_pdf": "application/pdf",
    "reports.promise_csv": "text/csv",
    "reports.recipients_pdf": "application/pdf",
    "reports.recipients_csv": "text/csv",
    "reports.export_360giving": "application/json",
    "reports.export_360giving_csv": "text/csv",
    "reports.export_beancount": "text/plain",
    "reports.export_journal_csv": "text/csv",
    "audit.log_csv": "text/csv",
    "overtime.forecast_csv": "text/csv",
    "overtime.signoff_pdf": "application/pdf",
}
ERROR_STATUSES = (403, 404, 405)


# Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module: Debian's, never one Playwright downloads."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing and CI is set, so the browser tests must run: run"
            " scripts/browser-deps as root to install Debian's chromium package"
        )
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer()
    yield live
    live.close()


@pytest.fixture
def app(database_url: str, tmp_path: Path, server: LiveServer) -> Iterator[Flask]:
    """The app over this test's fresh ledger, served by the module's server."""
    served = browser_app(database_url, tmp_path / "imports")
    server.serve(served)
    yield served
    failures = list(server.server_errors)
    server.stop_serving()
    assert not failures, f"the server answered with a 5xx status to: {failures}"


@pytest.fixture
def demo(app: Flask) -> Flask:
    """Clackmannanshire's demo figures and one person per role, as `commonpurse serve` does."""
    run(app, load_demo)
    run(app, add_people)
    return app


@pytest.fixture
def context(browser: Browser, server: LiveServer) -> Iterator[BrowserContext]:
    fresh = browser.new_context(
        base_url=server.base_url, accept_downloads=True, reduced_motion="reduce"
    )
    fresh.set_default_timeout(15_000)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A tab that records script errors, including anything the content security policy
    refused (the page's own 4xx answers are expected and ignored)."""
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error"
            and not message.text.startswith("Failed to load resource: the server responded with a")
            else None
        ),
    )
    yield tab
    assert not problems, "\n".join(problems)


# Helpers ----------------------------------------------------------------------------------


def pot_id(app: Flask, name: str) -> int:
    return run(app, lambda s: s.scalars(select(Pot.id).where(Pot.name == name)).one())


def error_next_to(page: Page, field: str) -> str:
    """The error message shown next to a field (without its visually hidden "Error: ")."""
    text = page.locator(f"#{field}-error").text_content() or ""
    return " ".join(text.replace("Error: ", "", 1).split())


def submit(page: Page, button: str) -> int:
    """Click a form's submit button; the status of the page it leads to."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    response = navigation.value
    assert response is not None
    return response.status


def expect_figure(page: Page, label: str, value: str) -> None:
    """A pot page's figure, e.g. expect_figure(page, "Available", "£20,000.00")."""
    item = page.locator(".ds_summary-list__item").filter(
        has=page.locator(".ds_summary-list__key", has_text=re.compile(f"^{label}$"))
    )
    expect(item.locator(".ds_summary-list__value")).to_have_text(value)


# An officer records an award, allocates, and is refused an overspend ---------------------


def test_an_officer_records_an_award_allocates_and_is_refused_an_overspend(
    demo: Flask, page: Page
) -> None:
    sign_in(page, "officer")
    expect(page).to_have_url(re.compile(r"/$"))

    page.get_by_role("link", name="Record an award").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record an award")
    page.get_by_label("Funder", exact=True).fill(CORRA)
    page.get_by_label("Pot", exact=True).fill("Promise Partnership 2023-24")
    page.get_by_label("Amount awarded").fill("£50,000.00")
    page.get_by_label("Date of the award").fill("01/04/2023")
    page.get_by_label("Description").fill("Promise Partnership award letter, April 2023")
    assert submit(page, "Record the award") == 200
    expect(page.locator(".ds_notification-message")).to_contain_text(
        "The award of £50,000.00 from Corra Foundation into Promise Partnership 2023-24 is"
        " recorded as a request. It waits for a second person to approve it"
    )

    # A second person approves the award in the queue; then the pot exists, funded.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    sign_in(page, "finance")
    page.goto("/approvals")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(r"^Approve request")).first.click()
    expect(page.locator(".ds_notification-message")).to_contain_text("£50,000.00 is recorded")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    sign_in(page, "officer")
    page.goto(f"/pots/{pot_id(demo, 'Promise Partnership 2023-24')}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Promise Partnership 2023-24")
    expect_figure(page, "Funded", "£50,000.00")

    page.get_by_role("link", name="Record an allocation").click()
    expect(page.get_by_label("Pot", exact=True)).to_have_value(
        str(pot_id(demo, "Promise Partnership 2023-24"))
    )
    page.get_by_label("Recipient").fill("Who Cares? Scotland")
    page.get_by_label("Amount", exact=True).fill("30,000")
    page.get_by_label("Date of the decision").fill("01/05/2023")
    page.get_by_label("Purpose").fill("Advocacy for care-experienced young people")
    assert submit(page, "Record the allocation") == 200
    expect(page.locator(".ds_notification-message")).to_contain_text(
        "of £30,000.00 from Promise Partnership 2023-24 to Who Cares? Scotland. It is provisional"
    )
    expect_figure(page, "Available", "£20,000.00")

    page.get_by_role("link", name="Record an allocation").click()
    page.get_by_label("Recipient").fill("Aberlour")
    page.get_by_label("Amount", exact=True).fill("25,000.00")
    page.get_by_label("Date of the decision").fill("01/06/2023")
    page.get_by_label("Purpose").fill("More than is left")
    assert submit(page, "Record the allocation") == 422

    refusal = (
        "Promise Partnership 2023-24 has £20,000.00 available; this allocation needs £25,000.00"
        " (short by £5,000.00)"
    )
    expect(page).to_have_title(re.compile(r"^Error: Record an allocation"))
    assert error_next_to(page, "amount") == refusal
    amount = page.get_by_label("Amount", exact=True)
    expect(amount).to_have_value("25,000.00")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_attribute("aria-describedby", re.compile(r"\bamount-error\b"))
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # app.js moves focus there so it is announced
    summary.get_by_role("link", name=refusal).click()
    expect(amount).to_be_focused()

    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Promise Partnership 2023-24").click()
    expect_figure(page, "Available", "£20,000.00")  # the refusal recorded nothing
    expect(page.locator("tr[id^='allocation-']")).to_have_count(1)


# Appendix 2 as printed ------------------------------------------------------------------


def _appendix_2(session: Session) -> None:
    """The £337,000 award and Appendix 2's four other allocations, confirmed: £82,233.00 left."""
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, "Clackmannanshire Council")
    ops.ensure_organisation(session, CTSI, ["intermediary"])
    ops.record_award(
        session,
        reference="WFWF-2022-23-AWARD",
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=33_700_000,
        award_date=dt.date(2022, 4, 1),
        entered_by="demo.officer",
        memo="WFWF Year 1: Award £337,000",
        approved_by="finance",
    )
    for line in APPENDIX_2:
        ops.allocate(
            session,
            reference=line.reference,
            pot=WFWF_POT,
            recipient=line.recipient,
            amount_pence=line.amount_pence,
            date=dt.date(2022, 10, 1),
            entered_by="demo.officer",
            approved_by="demo.finance",
            purpose=line.purpose,
        )
    add_people(session)


def test_appendix_2_as_printed_is_refused_short_by_103_18(app: Flask, page: Page) -> None:
    run(app, _appendix_2)
    sign_in(page, "officer")
    page.get_by_role("link", name=WFWF_POT).click()
    expect_figure(page, "Available", "£82,233.00")

    page.get_by_role("link", name="Record a delegation").click()
    expect(page.get_by_label("From pot")).to_have_value(str(pot_id(app, WFWF_POT)))
    page.get_by_label("Intermediary").fill(CTSI)
    page.get_by_label("Name of the new pot").fill(CTSI_POT)
    page.get_by_label("Amount", exact=True).fill("£82,336.18")
    page.get_by_label("Date of the decision").fill("01/10/2022")
    page.get_by_label("Purpose").fill("Allocation of Award for CTSI managed WFWF Grant")
    assert submit(page, "Record the delegation") == 422
    assert error_next_to(page, "amount") == SHORT_BY_103_18
    expect(page.locator("#error-summary").get_by_role("link")).to_have_text(SHORT_BY_103_18)

    # The same money as an ordinary allocation is refused in the same words.
    page.goto(f"/allocations/new?pot={pot_id(app, WFWF_POT)}")
    page.get_by_label("Recipient").fill("CTSI")
    page.get_by_label("Amount", exact=True).fill("82,336.18")
    page.get_by_label("Date of the decision").fill("2022-10-01")
    page.get_by_label("Purpose").fill("As an ordinary allocation")
    assert submit(page, "Record the allocation") == 422
    assert error_next_to(page, "amount") == SHORT_BY_103_18.replace("delegation", "allocation")

    page.goto(f"/pots/{pot_id(app, WFWF_POT)}")
    expect_figure(page, "Available", "£82,233.00")
    assert run(app, lambda s: s.scalars(select(Pot).where(Pot.name == CTSI_POT)).first()) is None


# The statement PDF ------------------------------------------------------------------------


def test_finance_downloads_the_wfwf_statement_as_a_pdf(demo: Flask, page: Page) -> None:
    sign_in(page, "finance")
    page.get_by_role("link", name=WFWF_POT).click()
    page.get_by_role("link", name="Distribution statement").click()
    expect(page).to_have_title(re.compile(rf"^Distribution statement: {WFWF_POT}"))

    with page.expect_download() as started:
        page.get_by_role("link", name="Download as PDF").click()
    download = started.value
    assert re.fullmatch(r"statement-wfwf-2022-23-\d{4}-\d\d-\d\d\.pdf", download.suggested_filename)
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert f"Distribution statement: {WFWF_POT}" in text
    assert "£82,336.18" in text and CTSI_POT in text


def test_a_pooled_contracts_split_is_shown_as_its_shares_are_typed(demo: Flask, page: Page) -> None:
    """£10.00 in shares 1 and 2 is £3.33 and £6.67, the odd penny to the larger remainder,
    as the ledger splits it; shares that do not read as pots and shares say so."""
    sign_in(page, "officer")
    page.goto("/pooled-contracts/new")
    page.get_by_label("Amount").fill("10.00")
    page.get_by_label("Pots and shares").fill(f"{WFWF_POT}=1; {PROMISE_POT}=2")
    split = page.locator("#shares-split")
    expect(split).to_have_text(f"Split: £3.33 from {WFWF_POT}, £6.67 from {PROMISE_POT}.")
    page.get_by_label("Pots and shares").fill("WFWF")
    expect(split).to_contain_text('Write "WFWF" as a pot and its share')


# Money over time: an officer schedules Aberlour, finance sees the forecast and signs ------


def test_an_officer_schedules_aberlour_quarterly_and_finance_signs_the_statement(
    demo: Flask, page: Page
) -> None:
    sign_in(page, "officer")
    page.get_by_role("link", name=WFWF_POT).click()
    page.get_by_role("link", name="Schedule of WFWF-22-02").click()
    expect(page.get_by_role("heading", name="Schedule of WFWF-22-02")).to_be_visible()
    page.get_by_label("How often").select_option("quarterly")
    _fill(page, {"First instalment due": "01/10/2023", "Number of instalments": "4"})
    assert submit(page, "Schedule the instalments") == 200
    expect(page.locator(".ds_notification-message")).to_contain_text(
        "Scheduled 4 quarterly instalments on WFWF-22-02."
    )
    rows = page.get_by_role("table", name="Instalments of WFWF-22-02").locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("01/10/2023")
    expect(rows.first).to_contain_text("£25,000.00")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    sign_in(page, "finance")
    page.get_by_role("link", name="Cash forecast").first.click()
    expect(page.get_by_role("img", name="Cash forecast: Total")).to_be_visible()
    expect(
        page.get_by_role("table", name="Cash forecast for all pots together, month by month")
    ).to_be_visible()
    page.goto("/")
    page.get_by_role("link", name=WFWF_POT).click()
    page.get_by_role("link", name="Distribution statement").click()
    _fill(page, {"Sign off as at": "08/02/2024"})
    assert submit(page, "Sign off the statement") == 200
    expect(page.locator("footer .signed")).to_contain_text("Signed off by finance on")
    expect(page.locator("footer .signed")).to_contain_text("Journal at sign-off: entry")
    with page.expect_download() as started:
        page.get_by_role("link", name="Download the signed PDF").click()
    body = Path(started.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert "Signed off by finance on" in text and "chain tip" in text


# Keyboard ---------------------------------------------------------------------------------


def _focused_is_skip_link(page: Page) -> None:
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 10, "skip link not shown"


def test_the_keyboard_alone_reaches_the_skip_link_and_signs_in(demo: Flask, page: Page) -> None:
    page.goto("/login")
    page.keyboard.press("Tab")
    _focused_is_skip_link(page)
    page.keyboard.press("Enter")
    expect(page.locator("#main-content")).to_be_focused()

    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("finance")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pots")
    expect(page.locator(".app-account__who")).to_contain_text("Finance officer")

    for path in ("/", f"/pots/{pot_id(demo, WFWF_POT)}", "/receipts/new", "/audit"):
        page.goto(path)
        page.keyboard.press("Tab")
        _focused_is_skip_link(page)


# CTSI files its return; the dashboard at a phone's width ----------------------------------


def _council_hands_over_ctsis_cash(session: Session) -> None:
    ops.pay(
        session,
        reference="PAY-CTSI-ALL",
        allocation="WFWF-22-05",
        amount_pence=8_233_618,
        date=dt.date(2022, 11, 1),
        memo="Delegated cash handed to CTSI",
        entered_by="demo.finance",
        approved_by="demo.officer",
    )


def test_ctsi_files_its_return_and_sees_the_councils_cash_handed_over(
    demo: Flask, page: Page
) -> None:
    run(demo, _council_hands_over_ctsis_cash)
    sign_in(page, "ctsi")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Our return").click()
    page.get_by_role("link", name=CTSI_POT).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Return from Clackmannanshire Third Sector Interface (CTSI) on {CTSI_POT}"
    )
    expect(page.locator("main")).to_contain_text(
        "The council has handed over all of the delegated cash."
    )
    expect(page.locator("main")).to_contain_text(
        "The return agrees with the council's distribution statement to the penny."
    )
    with page.expect_download() as started:
        page.get_by_role("link", name="Download as PDF").click()
    assert Path(started.value.path()).read_bytes().startswith(b"%PDF")


def test_the_dashboard_reads_as_boxes_at_390_pixels_without_a_sideways_scroll(
    demo: Flask, page: Page
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "finance")
    table = page.locator("main table.ds_table").first
    expect(table).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    received = table.locator("tbody tr").first.locator("td[data-heading='Received']")
    label = received.evaluate("(cell) => getComputedStyle(cell, '::before').content")
    assert label == '"Received"'
    expect(table.locator("tfoot")).to_contain_text("£387,103.18")


def test_the_pages_finance_reads_do_not_push_the_screen_sideways_at_390_pixels(
    demo: Flask, page: Page
) -> None:
    """Wide tables scroll within themselves (the design system's pattern, first column kept in
    view); nothing in them, not even the hidden words of a link, widens the page itself."""

    def waiting_payment(session: Session) -> int:
        ops.pay(
            session,
            reference="PAY-WAITS",
            allocation="WFWF-22-02",
            amount_pence=1_000_00,
            date=dt.date(2022, 11, 1),
            entered_by="officer",
            memo="Quarter 1",
        )
        return ops.find_pot(session, WFWF_POT).id

    wfwf = run(demo, waiting_payment)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "finance")
    for url in (
        f"/pots/{wfwf}/statement",
        "/approvals",
        f"/pots/{wfwf}/journal",
        "/audit",
        "/reconciliation",
        "/reports/funders",
    ):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide on a 390 px screen"
    page.goto(f"/pots/{wfwf}/statement")
    allocations = page.locator("table.allocations").first
    assert allocations.evaluate("(table) => table.scrollWidth > table.clientWidth")
    first = allocations.locator("tbody tr td").first
    assert first.evaluate("(cell) => getComputedStyle(cell).position") == "sticky"


# Finance corrects a wrong payment by reversal ---------------------------------------------


def _aberlour_paid_twice(session: Session) -> None:
    for reference in ("PAY-AB-1", "PAY-AB-2"):
        ops.pay(
            session,
            reference=reference,
            allocation="WFWF-22-02",
            amount_pence=25_000_00,
            date=dt.date(2022, 11, 1),
            entered_by="officer",
            memo="Aberlour quarter 1",
            approved_by="finance",
        )


def test_finance_reverses_a_payment_made_twice_and_a_second_person_approves_it(
    demo: Flask, page: Page
) -> None:
    run(demo, _aberlour_paid_twice)
    sign_in(page, "finance")
    page.goto(f"/pots/{pot_id(demo, WFWF_POT)}")
    expect_figure(page, "Paid", "£50,000.00")
    page.get_by_role("link", name="Reverse entry PAY-AB-2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reverse entry PAY-AB-2")
    expect(page.locator("main")).to_contain_text(
        "This posts the mirror image of the payment of £25,000.00 dated 01/11/2022"
    )
    page.get_by_label("Reason").fill("Aberlour's first quarter was paid twice")
    assert submit(page, "Request the reversal") == 200
    expect(page.locator(".ds_notification-message")).to_contain_text(
        "It waits for a second person to approve it"
    )
    # Nothing has moved yet, and finance may not approve its own request.
    page.goto(f"/pots/{pot_id(demo, WFWF_POT)}")
    expect_figure(page, "Paid", "£50,000.00")
    page.goto("/approvals")
    row = page.locator("tr").filter(has_text="Aberlour's first quarter was paid twice")
    expect(row).to_contain_text("finance")
    expect(row.get_by_role("button", name=re.compile(r"^Approve"))).to_have_count(0)

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    sign_in(page, "officer")
    page.goto("/approvals")
    row = page.locator("tr").filter(has_text="Aberlour's first quarter was paid twice")
    with page.expect_navigation():
        row.get_by_role("button", name=re.compile(r"^Approve")).click()
    page.goto(f"/pots/{pot_id(demo, WFWF_POT)}")
    expect_figure(page, "Paid", "£25,000.00")
    journal = page.locator("table").filter(has_text="Journal entries")
    reversal = journal.locator("tr").filter(has_text="Reversal")
    expect(reversal).to_contain_text("finance")  # entered by
    expect(reversal).to_contain_text("officer")  # approved by


# An administrator adds a person ------------------------------------------------------------


def test_an_admin_adds_a_person_who_must_change_the_one_time_password(
    demo: Flask, context: BrowserContext, page: Page
) -> None:
    install_axe(context)
    log = AxeLog("people")
    sign_in(page, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("People")
    log.check(page, "people", 200)
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Username").fill("m.stewart")
    page.get_by_label("Name shown in the app").fill("Morag Stewart")
    page.get_by_label("Role").select_option(label="Finance")
    assert submit(page, "Add the person") == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("m.stewart is added")
    log.check(page, "one-time password shown once", 200)
    one_time = page.locator("#one-time-password").text_content() or ""
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", one_time), one_time
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    page.get_by_label("Username").fill("m.stewart")
    page.get_by_label("Password").fill(one_time)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.locator("main")).to_contain_text("You signed in with a one-time password")
    log.check(page, "change password, one-time password in use", 200)
    page.goto("/reconciliation")  # nothing else opens until the password is changed
    expect(page).to_have_url(re.compile(r"/account/password$"))

    page.get_by_label("Current password").fill(one_time)
    page.get_by_label("New password", exact=True).fill("Password123456")
    page.get_by_label("New password again").fill("Password123456")
    assert submit(page, "Change password") == 422
    assert "most commonly used passwords" in error_next_to(page, "password")
    expect(page.get_by_label("New password", exact=True)).to_have_value("")  # never echoed
    log.check(page, "change password refused", 422)

    own = "harbour kettle meadow lantern"
    page.get_by_label("Current password").fill(one_time)
    page.get_by_label("New password", exact=True).fill(own)
    page.get_by_label("New password again").fill(own)
    assert submit(page, "Change password") == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Pots")
    expect(page.locator(".ds_notification-message")).to_contain_text(
        "Your password has been changed"
    )
    expect(page.locator(".app-account__who")).to_contain_text("Morag Stewart (Finance)")
    page.get_by_role("link", name="Reconciliation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Reconcil"))
    assert not log.problems, "axe-core found violations:\n" + "\n\n".join(log.problems)


# axe-core on every page ------------------------------------------------------------------


def test_the_axe_check_finds_a_violation_when_there_is_one(context: BrowserContext) -> None:
    """The harness itself: a page with an unlabelled image and field must fail."""
    install_axe(context)
    tab = context.new_page()
    tab.route(
        "http://broken.invalid/",
        lambda route: route.fulfill(
            content_type="text/html",
            body="<!doctype html><html lang='en'><head><title>Broken</title></head><body><main>"
            "<h1>Broken</h1><img src='data:,'><input></main></body></html>",
        ),
    )
    tab.goto("http://broken.invalid/")
    found = {v["id"] for v in axe_violations(tab)}
    assert {"image-alt", "label"} <= found, found


def _more_to_see(session: Session) -> None:
    """Beyond the demo: a receipt, payments and a return, a provisional allocation, and a
    variation and a payment waiting for approval (one in CTSI's pot), so every page has
    something in it and the approvals queue has items for every approver."""
    ops.record_receipt(
        session,
        reference="SG-WFWF-1",
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=16_850_000,
        date=dt.date(2022, 5, 31),
        entered_by="demo.finance",
        memo="WFWF 2022-23 instalment 1",
        approved_by="officer",
    )
    for reference, allocation, pence in (
        ("PAY-CTSI-1", "WFWF-22-05", 4_116_809),
        ("PAY-ABERLOUR-Q1", "WFWF-22-02", 2_500_000),
    ):
        ops.pay(
            session,
            reference=reference,
            allocation=allocation,
            amount_pence=pence,
            date=dt.date(2022, 11, 1),
            entered_by="demo.finance",
            approved_by="demo.officer",
            memo="First instalment",
        )
    ops.return_unspent(
        session,
        reference="RET-ABERLOUR-1",
        allocation="WFWF-22-02",
        amount_pence=50_000,
        date=dt.date(2022, 12, 1),
        entered_by="demo.finance",
        memo="Underspend on Q1",
        approved_by="officer",
    )
    ops.allocate(
        session,
        reference="PROMISE-21-01",
        pot=PROMISE_POT,
        recipient="Who Cares? Scotland",
        amount_pence=1_500_000,
        date=dt.date(2021, 10, 1),
        entered_by="demo.officer",
        purpose="Advocacy for care-experienced young people",
    )
    ops.vary(
        session,
        reference="VAR-WFWF-22-03",
        allocation="WFWF-22-03",
        delta_pence=-50_000,
        date=dt.date(2022, 11, 1),
        reason="Start delayed by a month",
        entered_by="demo.officer",
    )
    ops.pay(
        session,
        reference="PAY-CTSI-22-01",
        allocation="CTSI-22-01",
        amount_pence=226_450,
        date=dt.date(2022, 11, 15),
        entered_by="demo.ctsi",
        memo="Quarter 1",
    )
    # Money over time: Aberlour scheduled quarterly, its second quarter waiting on a monitoring
    # return that is overdue, and the council's and CTSI's statements signed.
    committed = ops.find_allocation(session, "WFWF-22-02").allocated_pence
    timeline.set_schedule(
        session,
        allocation="WFWF-22-02",
        instalments=split_instalments(committed, dt.date(2022, 11, 1), 4, "quarterly"),
        entered_by="demo.officer",
    )
    ops.vary(  # the schedule no longer adds up: the page offers to re-balance it
        session,
        reference="VAR-ABERLOUR-SCHEDULE",
        allocation="WFWF-22-02",
        delta_pence=-100_000,
        date=dt.date(2023, 1, 10),
        reason="Fewer families referred",
        entered_by="demo.officer",
        approved_by="demo.finance",
    )
    second = session.scalars(
        select(Instalment.id).where(Instalment.due_date == dt.date(2023, 2, 1))
    ).one()
    timeline.add_requirement(
        session,
        allocation="WFWF-22-02",
        kind="monitoring_return",
        title="Monitoring return, November 2022 to January 2023",
        due_date=dt.date(2023, 1, 15),
        entered_by="demo.officer",
        condition_for=[second],
    )
    for pot in (WFWF_POT, CTSI_POT):
        timeline.sign_off(session, pot=pot, as_at=dt.date(2023, 3, 31), signed_by="demo.finance")
    # A waiver of that return waiting for a second person (the award's phasing is not asked
    # for, so its page shows the form).
    requirement = session.scalars(select(Requirement.id)).one()
    second_person.ask_waiver(
        session,
        requirement_id=requirement,
        reason="The provider reported the quarter at the partnership meeting",
        entered_by="demo.ctsi",
    )


def _real_values(session: Session) -> dict[str, list[str]]:
    """Real values for every parameter of the app's routes."""
    pending = select(Request.id).where(Request.status == "pending").order_by(Request.id)
    provisional = (
        select(Allocation.reference)
        .where(Allocation.status == "provisional")
        .order_by(Allocation.reference)
    )
    return {
        "pot_id": [str(i) for i in session.scalars(select(Pot.id).order_by(Pot.id))],
        "organisation_id": [
            str(i) for i in session.scalars(select(Organisation.id).order_by(Organisation.id))
        ],
        "request_id": [str(i) for i in session.scalars(pending)],
        "reference": list(session.scalars(provisional)),
        "user_id": [str(i) for i in session.scalars(select(User.id).order_by(User.id))],
        "entry_id": [str(i) for i in session.scalars(select(Entry.id).order_by(Entry.id))],
        # A council allocation with a schedule and a requirement, and a CTSI sub-grant.
        "allocation_ref": ["WFWF-22-02", "CTSI-22-01"],
        "signoff_id": [
            str(i)
            for i in session.scalars(select(StatementSignoff.id).order_by(StatementSignoff.id))
        ],
        "requirement_id": [
            str(i) for i in session.scalars(select(Requirement.id).order_by(Requirement.id))
        ],
        "award_ref": [WFWF_AWARD],
        "waiting_id": [
            str(i)
            for i in session.scalars(
                select(SecondPersonRequest.id).order_by(SecondPersonRequest.id)
            )
        ],
    }


# Empties every field a person can fill (hidden ones, such as the CSRF token, are kept) and
# submits the form.
EMPTY_AND_SUBMIT = """(form) => {
  for (const field of form.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (field.type === "checkbox" || field.type === "radio") field.checked = false;
    else if (field.type !== "file") field.value = "";
  }
  form.requestSubmit();
}"""


class Walk:
    """One person's walk through the app, giving each page state to axe."""

    def __init__(self, page: Page, role: str) -> None:
        self.page = page
        self.role = role
        self.log = AxeLog(role)
        self.visited: dict[str, set[int]] = defaultdict(set)  # endpoint -> statuses
        self._seen: set[tuple[str, int]] = set()
        self._seen_errors: set[int] = set()

    def may(self, action: str) -> bool:
        return self.role in PEOPLE and PEOPLE[self.role][0] in ACTIONS[action]

    def check(self, what: str, status: int) -> None:
        """axe on the page as it is now; an error page only the first time in the walk."""
        assert status in (200, 422, *ERROR_STATUSES), f"{what}: {self.page.url} gave {status}"
        self._seen.add((self.page.url, status))
        if status in ERROR_STATUSES:
            if status in self._seen_errors:
                return
            self._seen_errors.add(status)
        self.log.check(self.page, what, status)

    def open(self, url: str, what: str | None = None) -> int:
        """Open a page and check it, unless this walk already checked that address."""
        response = self.page.goto(url)
        assert response is not None
        if (self.page.url, response.status) not in self._seen:
            self.check(what or url, response.status)
        return response.status

    def open_unless_seen(self, url: str) -> tuple[int, bool]:
        """Open the page, unless a plain request shows it would be an error page or a page
        already checked in this walk (after a redirect). The status, and whether it opened."""
        probe = self.page.request.get(url)
        if probe.status in self._seen_errors or (probe.url, probe.status) in self._seen:
            return probe.status, False
        return self.open(url), True

    def submit(self, button: str, what: str) -> int:
        """Click a button in the page's main content; check the page it leads to."""
        with self.page.expect_navigation() as navigation:
            self.page.locator("main").get_by_role("button", name=button).first.click()
        response = navigation.value
        assert response is not None
        self.check(what, response.status)
        return response.status

    def every_route(self, app: Flask, *, every_id: bool) -> None:
        """Every route in the app's URL map: pages by GET, with real values for their
        parameters (every one, or the first this person may open), and POST-only routes by GET
        too, for the 405 page. Each page's forms are also submitted empty, to check them with
        their errors."""
        values = run(app, _real_values)
        adapter = app.url_map.bind("127.0.0.1")
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint == "static":
                continue
            names = sorted(rule.arguments)
            unknown = [name for name in names if not values.get(name)]
            assert not unknown, f"{rule.rule}: no real value for {unknown}: add one to the walk"
            is_page = "GET" in (rule.methods or ())
            for combination in product(*(values[name] for name in names)):
                url = adapter.build(rule.endpoint, dict(zip(names, combination, strict=True)))
                if rule.endpoint in DOWNLOADS:
                    status, opened = self._download(rule.endpoint, url), False
                else:
                    status, opened = self.open_unless_seen(url)
                self.visited[rule.endpoint].add(status)
                if opened and status == 200:
                    self._submit_forms_empty(url)
                if not is_page or (status == 200 and not every_id):
                    break

    def _download(self, endpoint: str, url: str) -> int:
        response = self.page.request.get(url)
        assert response.status in (200, 403), f"{url}: {response.status}"
        if response.status == 200:
            assert response.headers["content-type"].startswith(DOWNLOADS[endpoint]), url
        return response.status

    def _submit_forms_empty(self, url: str) -> None:
        """Submit each form that posts (and leaves checking to the server) with nothing
        filled in (a form that shows what is saved, such as a person's role, is emptied
        first): it comes back with an error summary and errors next to its fields."""
        forms = self.page.locator("main form[method='post'][novalidate]")
        for index in range(forms.count()):
            if index:
                self.page.goto(url)
            with self.page.expect_navigation() as navigation:
                forms.nth(index).evaluate(EMPTY_AND_SUBMIT)
            response = navigation.value
            assert response is not None
            assert response.status == 422, f"{url} submitted empty: {response.status}"
            self.check(f"{url} submitted empty", response.status)


def _fill(page: Page, fields: dict[str, str]) -> None:
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)


def _ledger_refusals(walk: Walk, promise: int, ctsi: int) -> None:
    """Forms refused by the ledger (the error next to the amount, in pounds), and a pot page
    with a success message. (Every form is also checked submitted empty, by every role.)"""
    walk.open(f"/allocations/new?pot={promise}")
    _fill(
        walk.page,
        {
            "Recipient": "Aberlour",
            "Amount": "40,000.00",
            "Date of the decision": "01/11/2021",
            "Purpose": "Family support",
        },
    )
    assert walk.submit("Record the allocation", "allocation refused by the ledger") == 422
    _fill(walk.page, {"Amount": "1,000.00"})
    assert walk.submit("Record the allocation", "pot page with a success message") == 200

    walk.open(f"/subgrants/new?pot={ctsi}")
    _fill(
        walk.page,
        {
            "Recipient": "Homestart",
            "Amount": "100.00",
            "Date of the decision": "01/11/2022",
            "Purpose": "More than is left",
        },
    )
    assert walk.submit("Record the sub-grant", "sub-grant refused by the ledger") == 422

    walk.open(f"/receipts/new?pot={promise}")
    _fill(
        walk.page,
        {
            "Funder": CORRA,
            "Amount received": "60,000",
            "Date received": "15/10/2021",
            "Description": "Remittance",
        },
    )
    assert walk.submit("Record the receipt", "receipt refused by the ledger") == 422

    walk.open("/payments/new?allocation=WFWF-22-02")
    _fill(
        walk.page,
        {
            "Amount paid": "30,000.00",
            "Date paid": "01/03/2023",
            "Description": "Second quarter",
        },
    )
    assert walk.submit("Record the payment", "payment refused, override offered") == 422
    expect(
        walk.page.get_by_label("Reason for paying before the report is received")
    ).to_be_visible()


def _reconciliation(walk: Walk) -> None:
    walk.open("/reconciliation")
    walk.page.get_by_label("Finance system export (CSV)").set_input_files(
        DATA / "finance" / "matching.csv"
    )
    assert walk.submit("Match with the ledger", "reconciliation result") == 200
    expect(walk.page.get_by_role("heading", name="Result for matching.csv")).to_be_visible()


IMPORT_HEADER = "date,operation,reference,pot,counterparty,amount,description,allocation_ref,to_pot"
GOOD_IMPORT = (
    f"{IMPORT_HEADER}\n"
    '2023-04-01,award,WFWF-2023-24-AWARD,WFWF 2023-24,Scottish Government,"£337,000.00",'
    "WFWF Year 2 award,,\n"
    '01/05/2023,allocate,WFWF-23-01,WFWF 2023-24,Aberlour,"£100,000",Aberlour Sustain,,\n'
)
BAD_IMPORT = (
    f"{IMPORT_HEADER}\n"
    "2023-04-01,award,WFWF-2023-24-X,WFWF 2023-24,Scottish Government,12x,WFWF Year 2,,\n"
)


def _imports(walk: Walk) -> None:
    """Upload, preview (accepted and refused), cancel, and import."""

    def upload(name: str, content: str) -> None:
        walk.open("/imports")
        payload: FilePayload = {"name": name, "mimeType": "text/csv", "buffer": content.encode()}
        walk.page.get_by_label("CSV file").set_input_files(payload)

    upload("bad.csv", BAD_IMPORT)
    assert walk.submit("Upload and preview", "import preview refusing a row") == 422
    upload("cancelled.csv", GOOD_IMPORT)
    assert walk.submit("Upload and preview", "import preview") == 200
    assert walk.submit("Cancel", "import page after a cancelled upload") == 200
    upload("year-2.csv", GOOD_IMPORT)
    assert walk.submit("Upload and preview", "import preview") == 200
    assert walk.submit("Import these rows", "dashboard after an import") == 200
    expect(walk.page.locator(".ds_notification-message")).to_contain_text(
        "year-2.csv is waiting as request"
    )


def _signed_in_walk(page: Page, app: Flask, role: str) -> Walk:
    walk = Walk(page, role)
    sign_in(page, role)
    # The administrator may open everything, so opens every page with every real value; the
    # others open each page with the first value they may (and meet a 403 where they may not).
    walk.every_route(app, every_id=role == "admin")
    every = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert every <= set(walk.visited), f"routes not visited: {sorted(every - set(walk.visited))}"
    if role == "admin":
        pages = {
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or ()) and rule.endpoint != "static"
        }
        unreached = sorted(e for e in pages if 200 not in walk.visited[e])
        assert not unreached, f"pages the administrator did not reach: {unreached}"

    promise, ctsi = pot_id(app, PROMISE_POT), pot_id(app, CTSI_POT)
    walk.open(f"/pots/{ctsi}/statement?as_at=31/02/2023", "statement with a date refused")
    walk.open("/audit?date_from=nonsense", "audit log with a filter refused")
    walk.open("/pots/999999", "a pot that does not exist")
    walk.open("/nowhere", "an address that does not exist")
    if role == "admin":
        _ledger_refusals(walk, promise, ctsi)
        _imports(walk)
    if walk.may("reconcile"):
        _reconciliation(walk)
    if walk.may("approve"):
        walk.open("/approvals")
        assert walk.submit("Approve", "approvals queue after an approval") == 200
    return walk


def _signed_out_walk(page: Page) -> Walk:
    walk = Walk(page, "anonymous")
    walk.open("/login")
    assert walk.submit("Sign in", "sign-in form submitted empty") == 422
    _fill(page, {"Username": "viewer", "Password": "not the password"})
    assert walk.submit("Sign in", "sign-in refused") == 422
    walk.open("/nowhere", "an address that does not exist")
    sign_in(page, "viewer")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    walk.check("sign-in page after signing out", 200)
    return walk


@pytest.mark.parametrize("role", ["anonymous", *PEOPLE])
def test_axe_finds_no_violation_on_any_page_a_role_can_reach(
    demo: Flask, context: BrowserContext, page: Page, role: str
) -> None:
    run(demo, _more_to_see)
    install_axe(context)  # into every document the test's tab opens from now on
    walk = _signed_out_walk(page) if role == "anonymous" else _signed_in_walk(page, demo, role)
    print(f"\naxe checked {len(walk.log.checked)} page states as {role}:")
    for checked in walk.log.checked:
        print(f"  {checked.status} {checked.what}")
    assert walk.log.checked
    assert not walk.log.problems, "axe-core found violations:\n" + "\n\n".join(walk.log.problems)
