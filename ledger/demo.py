"""``commonpurse demo``: Clackmannanshire's figures from the source documents.

Appendix 2 of the Audit and Scrutiny report of 8 February 2024 (seeds/003) prints a Whole Family
Wellbeing Fund award of £337,000 and five allocations that add up to £337,103.18. The ledger will
not let allocations exceed the award, so the demo records what the documents say in a way the
ledger accepts: an explicit £103.18 award from a source marked as an assumption, with a memo
saying why. ``balances`` then shows the £103.18 as assumed money in the pot, where nobody can miss
it. The documents give no dates for these movements: the dates used are the first day of the
financial year (awards) and 1 October 2022 (allocations), and are illustrative.

What a publisher needs beside the figures is recorded too (``ledger.organisations``): the
registered numbers of the charities the documents name, the council's place (Clackmannanshire,
ONS code S12000005), that the Participation Development Officer is a council post (internal
spend, not a grant), the committee reports the figures come from, and the period each
allocation covers. "WFWF Year 1" is read as the financial year 2022-23; CTSI's sub-grants
"cost for one year" are read as the year from the allocation date. Community House's line says
only "Funding approved", so it has no period.

Registered numbers, as the charities are listed in OSCR's Scottish Charity Register (SC
numbers) and the Charity Commission for England and Wales's Register of Charities (numbers of
digits only); look them up there again before publishing real data:

- Aberlour Child Care Trust (Aberlour): Scottish charity SC007991;
- Action for Children: England and Wales 1097940, Scotland SC038092;
- Barnardo's: England and Wales 216250, Scotland SC037605.

The documents give no numbers for CTSI, Homestart, Community House or the joint projects, so
they keep a minted 360Giving identifier and the export names them.

The documents also disagree on the years of the £337,000. Appendix 2 heads it "WFWF Year 1:
Award £337,000"; paragraph 7.1 says it was received "for 2022-23 and 2023-24". The demo records
both readings against the one award, states no phasing (the documents give none), and so every
read-out of the award says "phasing not stated" and names the disagreement. Paragraph 3.4's
commitment to three years of WFWF funding becomes expected funding for 2024-25, the third year
on either reading; no amount is stated, so the figure (Year 1's £337,000) is marked as assumed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import timeline
from ledger.errors import NotFound
from ledger.organisations import IdentifierChange, set_identifiers, set_publication

COUNCIL = "Clackmannanshire Council"
SCOTTISH_GOVERNMENT = "Scottish Government"
CORRA = "Corra Foundation"
CTSI = "Clackmannanshire Third Sector Interface (CTSI)"
ASSUMED_SOURCE = "Source not stated in Appendix 2 (assumption)"
WFWF_POT = "WFWF 2022-23"
CTSI_POT = "CTSI managed WFWF Grant 2022-23"
PROMISE_POT = "Promise Partnership 2021-22"
OFFICER = "demo.officer"
APPROVER = "demo.finance"
CTSI_OFFICER = "demo.ctsi"
GAP_PENCE = 10_318

WFWF_AWARD = "WFWF-2022-23-AWARD"
APPENDIX_2_READING = "Appendix 2 (report of 8 February 2024)"
PARAGRAPH_7_1_READING = "Paragraph 7.1 (report of 8 February 2024)"
WFWF_YEAR_3 = "WFWF-YEAR-3-EXPECTED"

AWARD_DATE = dt.date(2022, 4, 1)
ALLOCATION_DATE = dt.date(2022, 10, 1)
YEAR_1 = (dt.date(2022, 4, 1), dt.date(2023, 3, 31))  # "WFWF Year 1": the financial year 2022-23
ONE_YEAR = (ALLOCATION_DATE, dt.date(2023, 9, 30))  # "Cost for one year" from the allocation
NO_PERIOD: tuple[dt.date | None, dt.date | None] = (None, None)

COUNCIL_POST = "Clackmannanshire Council (post)"
CLACKMANNANSHIRE = ("S12000005", "Clackmannanshire")
COUNCIL_WEBSITE = "https://www.clacks.gov.uk/"
APPENDIX_2_REPORT = (
    "Clackmannanshire Council, Audit and Scrutiny Committee report of 8 February 2024,"
    " Appendix 2 (WFWF Year 1)"
)
PEOPLE_COMMITTEE_REPORT = (
    "Clackmannanshire Council, People Committee report of 16 September 2021, paragraph 3.6"
)
REGISTERED = {
    "Aberlour": ("SC007991",),
    "Action for Children": ("1097940", "SC038092"),
    "Barnardo's": ("216250", "SC037605"),
}


@dataclass(frozen=True)
class Line:
    reference: str
    recipient: str
    purpose: str
    amount_pence: int
    tags: tuple[str, ...] = ()
    period: tuple[dt.date | None, dt.date | None] = YEAR_1


APPENDIX_2 = (
    Line(
        "WFWF-22-01",
        COUNCIL_POST,
        "Participation Development Officer",
        3_900_000,
        ("1",),
    ),
    Line(
        "WFWF-22-02",
        "Aberlour",
        "Aberlour Sustain – Intensive Support Service",
        10_000_000,
        ("WFS 1",),
    ),
    Line("WFWF-22-03", "Action for Children", "Additional Functional Family Therapy", 7_076_700),
    Line(
        "WFWF-22-04",
        "Barnardo's",
        "Additional support for Young People returning from Care",
        4_500_000,
    ),
)
CTSI_DELEGATION = Line(
    "WFWF-22-05", CTSI, "Allocation of Award for CTSI managed WFWF Grant", 8_233_618
)
CTSI_SUB_GRANTS = (
    Line(
        "CTSI-22-01",
        "Homestart",
        "Increase the Family Support Workers to 25 hours from 20. Cost for one year",
        905_800,
        period=ONE_YEAR,
    ),
    Line(
        "CTSI-22-02",
        "Barnardos and Volunteering Matters",
        "Two's Company: befriending and"
        " mentoring for young people who want someone 'alongside them'. Cost for one year",
        2_400_000,
        period=ONE_YEAR,
    ),
    Line(
        "CTSI-22-03",
        "Barnardos and Action for Children",
        "Two's Company for young single"
        " parents: mentoring to increase mental health and wellbeing. Cost for one year",
        2_000_000,
        period=ONE_YEAR,
    ),
    Line(
        "CTSI-22-04",
        "Community House",
        "Family Link Worker. Funding approved",
        1_400_000,
        period=NO_PERIOD,
    ),
    Line(
        "CTSI-22-05",
        "Action for Children",
        "Crèche to support evidence-based parenting groups for children 0-5. Cost for one year",
        1_527_818,
        period=ONE_YEAR,
    ),
)


def load_demo(session: Session) -> None:
    """Record the documents' figures. Every act has a reference, so running it twice is safe."""
    ops.set_setting(session, ops.ACCOUNTABLE_BODY, COUNCIL)
    ops.ensure_organisation(session, COUNCIL, ["accountable_body"], local_authority_code="CLK")
    sg = ops.ensure_organisation(session, SCOTTISH_GOVERNMENT, ["funder"])
    corra = ops.ensure_organisation(session, CORRA, ["funder"])
    ops.ensure_organisation(session, CTSI, ["intermediary"])
    wfwf = ops.ensure_stream(session, "Whole Family Wellbeing Fund", sg, short_name="WFWF")
    promise = ops.ensure_stream(
        session, "Promise Partnership", corra, source=sg, short_name="Promise Partnership"
    )
    if not _has_pot(session, WFWF_POT):
        ops.open_pot(
            session, WFWF_POT, ops.accountable_body(session), stream=wfwf, financial_year=2022
        )
    ops.record_award(
        session,
        reference=WFWF_AWARD,
        pot=WFWF_POT,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=33_700_000,
        award_date=AWARD_DATE,
        entered_by=OFFICER,
        stream=wfwf.name,
        memo="WFWF Year 1: Award £337,000 (Appendix 2, report of 8 Feb 2024)",
        approved_by=APPROVER,
    )
    ops.record_award(
        session,
        reference="WFWF-2022-23-GAP",
        pot=WFWF_POT,
        funder=ASSUMED_SOURCE,
        amount_pence=GAP_PENCE,
        award_date=AWARD_DATE,
        entered_by=OFFICER,
        stream=wfwf.name,
        is_assumption=True,
        memo="Appendix 2's five allocations add up to £337,103.18, £103.18 more than the"
        " £337,000 award, and the documents do not say where the difference came from. Recorded"
        " as an assumption so the allocations stand as printed and the gap stays visible.",
        approved_by=APPROVER,
    )
    for line in APPENDIX_2:
        ops.allocate(
            session,
            reference=line.reference,
            pot=WFWF_POT,
            recipient=line.recipient,
            amount_pence=line.amount_pence,
            date=ALLOCATION_DATE,
            entered_by=OFFICER,
            approved_by=APPROVER,
            purpose=line.purpose,
            tags=line.tags,
            period_start=line.period[0],
            period_end=line.period[1],
        )
    ops.allocate(
        session,
        reference=CTSI_DELEGATION.reference,
        pot=WFWF_POT,
        recipient=CTSI,
        amount_pence=CTSI_DELEGATION.amount_pence,
        date=ALLOCATION_DATE,
        entered_by=OFFICER,
        approved_by=APPROVER,
        purpose=CTSI_DELEGATION.purpose,
        to_pot=CTSI_POT,
        period_start=CTSI_DELEGATION.period[0],
        period_end=CTSI_DELEGATION.period[1],
    )
    for line in CTSI_SUB_GRANTS:
        ops.allocate(
            session,
            reference=line.reference,
            pot=CTSI_POT,
            recipient=line.recipient,
            amount_pence=line.amount_pence,
            date=ALLOCATION_DATE,
            entered_by=CTSI_OFFICER,
            approved_by=APPROVER,
            purpose=line.purpose,
            tags=line.tags,
            period_start=line.period[0],
            period_end=line.period[1],
        )
    _wfwf_years(session)
    if not _has_pot(session, PROMISE_POT):
        ops.open_pot(
            session, PROMISE_POT, ops.accountable_body(session), stream=promise, financial_year=2021
        )
    ops.record_award(
        session,
        reference="CORRA-PROMISE-2021",
        pot=PROMISE_POT,
        funder=CORRA,
        amount_pence=5_000_000,
        award_date=dt.date(2021, 9, 16),
        entered_by=OFFICER,
        stream=promise.name,
        memo="£50,000 through the Promise Partnership run by the Corra Foundation (People"
        " Committee report, 16 Sep 2021, 3.6)",
        approved_by=APPROVER,
    )
    _publishing_details(session)


def _publishing_details(session: Session) -> None:
    """Registered numbers, places, the council's own post and the reports cited (safe to
    repeat: each value is set, not added)."""
    code, place = CLACKMANNANSHIRE
    set_identifiers(  # the council may exist already ('init --accountable-body'), without its code
        session,
        COUNCIL,
        IdentifierChange(
            local_authority_code="GB-LAS-CLK", location_code=code, location_name=place
        ),
        actor=OFFICER,
    )
    set_identifiers(session, COUNCIL_POST, IdentifierChange(is_internal=True), actor=OFFICER)
    for name, numbers in REGISTERED.items():
        set_identifiers(session, name, IdentifierChange(charity_numbers=numbers), actor=OFFICER)
    for pot, report in (
        (WFWF_POT, APPENDIX_2_REPORT),
        (CTSI_POT, APPENDIX_2_REPORT),
        (PROMISE_POT, PEOPLE_COMMITTEE_REPORT),
    ):
        set_publication(
            session, pot, actor=OFFICER, data_source=COUNCIL_WEBSITE, source_document=report
        )


def _wfwf_years(session: Session) -> None:
    """The two readings of the £337,000 and the third year, as the documents give them."""
    timeline.record_reading(
        session,
        award=WFWF_AWARD,
        source=APPENDIX_2_READING,
        first_year=2022,
        last_year=2022,
        quote="WFWF Year 1: Award £337,000",
        entered_by=OFFICER,
    )
    timeline.record_reading(
        session,
        award=WFWF_AWARD,
        source=PARAGRAPH_7_1_READING,
        first_year=2022,
        last_year=2023,
        quote="Clackmannanshire has received £337,000 from the WWF for 2022-23 and 2023-24",
        entered_by=OFFICER,
    )
    timeline.record_expected(
        session,
        reference=WFWF_YEAR_3,
        funder=SCOTTISH_GOVERNMENT,
        amount_pence=33_700_000,
        amount_is_assumption=True,
        financial_year=2024,
        expected_date=dt.date(2024, 4, 1),
        pot=WFWF_POT,
        entered_by=OFFICER,
        source="Paragraph 3.4: 'The Scottish Government has committed to three years of WFWF"
        " funding'. The third year is 2024-25 on either reading of the £337,000. No amount is"
        " stated: Year 1's £337,000 is assumed.",
    )


def _has_pot(session: Session, name: str) -> bool:
    try:
        ops.find_pot(session, name)
    except NotFound:
        return False
    return True
