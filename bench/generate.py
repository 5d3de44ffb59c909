"""A synthetic national programme as an import CSV: deterministic by seed, exactly N operations.

    python -m bench.generate --ops 10k --seed 1 -o programme.csv --manifest programme.json

The programme is the Whole Family Wellbeing Fund run nationally. For each of two financial years
(2023-24 and 2024-25) each of Scotland's 32 councils has one pot, ``WFWF <Council> <year>``,
awarded by the Scottish Government and (when the council's share of the file is large enough)
match-funded by the Corra Foundation, received in instalments. From its pot each council
allocates to providers (national charities and local groups) and delegates part of the money to
its third sector interface, which opens a delegated pot, ``<Council> TSI managed WFWF Grant
<year>``, and makes its own sub-grants from it. Allocations are paid in quarterly instalments;
some are varied up or down, and some return an underspend. The delegation itself is paid over,
varied and partly returned.

The set of pots is the same at every size (64 council pots and 64 delegated pots): a bigger file
means more allocations, instalments, variations and returns in each pot, not more pots, so
``balances`` at 1k and at 1M operations list the same 128 pots and can be compared like for like.

Every row is valid, so the import succeeds: each pot's allocations and upward variations add up to
at most 85% of what it was awarded (88% of a delegation for its sub-grants), a downward variation
never exceeds what is unpaid, instalments never exceed what is allocated, and a return never
exceeds what was paid (nor, for the delegation, what its pot has available). Amounts are integer
pence throughout, written as pounds with two decimals.

The file is written as it is generated: only one council-year's rows are held at a time (they
are sorted by date within the council-year, which is at most a few per cent of the file).

Pooled contracts (one allocation funded from several pots) cannot be written in the import CSV,
so the manifest lists a handful for ``bench.pooled`` to record through the Python API after the
import; they fit in the headroom the generator leaves in each pot.

``write_statement_fixture`` writes a separate small ledger: one pot whose distribution statement
has exactly 2,000 allocation lines (1,900 allocations and a delegation with 99 sub-grants).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from ledger.fy import label
from ledger.money import format_plain, split_evenly

HEADER = (
    "date",
    "operation",
    "reference",
    "pot",
    "counterparty",
    "amount",
    "description",
    "allocation_ref",
    "to_pot",
)
Row = tuple[str, str, str, str, str, str, str, str, str]

COUNCILS: tuple[tuple[str, str], ...] = (
    ("Aberdeen City", "ABC"),
    ("Aberdeenshire", "ABS"),
    ("Angus", "ANG"),
    ("Argyll and Bute", "AGB"),
    ("City of Edinburgh", "EDN"),
    ("Clackmannanshire", "CLK"),
    ("Dumfries and Galloway", "DGW"),
    ("Dundee City", "DND"),
    ("East Ayrshire", "EAY"),
    ("East Dunbartonshire", "EDB"),
    ("East Lothian", "ELN"),
    ("East Renfrewshire", "ERF"),
    ("Falkirk", "FLK"),
    ("Fife", "FIF"),
    ("Glasgow City", "GLG"),
    ("Highland", "HLD"),
    ("Inverclyde", "IVC"),
    ("Midlothian", "MLN"),
    ("Moray", "MRY"),
    ("Na h-Eileanan Siar", "ELS"),
    ("North Ayrshire", "NAY"),
    ("North Lanarkshire", "NLK"),
    ("Orkney Islands", "ORK"),
    ("Perth and Kinross", "PKN"),
    ("Renfrewshire", "RFW"),
    ("Scottish Borders", "SCB"),
    ("Shetland Islands", "ZET"),
    ("South Ayrshire", "SAY"),
    ("South Lanarkshire", "SLK"),
    ("Stirling", "STG"),
    ("West Dunbartonshire", "WDU"),
    ("West Lothian", "WLN"),
)
YEARS = (2023, 2024)
SCOTTISH_GOVERNMENT = "Scottish Government"
CORRA = "Corra Foundation"
ACCOUNTABLE_BODY = "Whole Family Wellbeing Programme Office"
NATIONAL_PROVIDERS = (
    "Aberlour",
    "Action for Children",
    "Barnardo's",
    "Children 1st",
    "Home-Start Scotland",
    "Includem",
    "Quarriers",
    "Families Outside",
    "One Parent Families Scotland",
    "Who Cares? Scotland",
)
LOCAL_GROUPS = (
    "Family Support Project",
    "Youth Work Trust",
    "Parenting Network",
    "Community Food Larder",
    "Young Carers Centre",
    "Kinship Care Group",
    "Befriending Service",
    "Men's Shed",
)
PURPOSES = (
    "Intensive whole family support",
    "Evidence-based parenting groups",
    "Family Link Worker",
    "Befriending and mentoring for young people",
    "Kinship carers' support",
    "Whole family mental health and wellbeing",
    "Holiday food and activities",
    "Youth work for young carers",
    "Crèche to support parenting groups for children 0-5",
    "Family therapy sessions",
)
POOLED_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Forth Valley", ("Clackmannanshire", "Falkirk", "Stirling")),
    ("Tayside", ("Angus", "Dundee City", "Perth and Kinross")),
    ("Ayrshire", ("East Ayrshire", "North Ayrshire", "South Ayrshire")),
    ("Lothian", ("City of Edinburgh", "East Lothian", "Midlothian", "West Lothian")),
)

BLOCK_MINIMUM = 6  # award, receipt, delegation, its payment, one allocation, one sub-grant
FULL_CORE_MINIMUM = 16  # below this a council-year has no match funding and a simple delegation
MINIMUM_OPERATIONS = len(COUNCILS) * len(YEARS) * BLOCK_MINIMUM
POT_SHARE_PERCENT = 85  # of a pot's funding, at most this is allocated (or varied up)
DELEGATED_SHARE_PERCENT = 88  # of a delegation, at most this is sub-granted (or varied up)
MAX_AWARD_PENCE = 80_000_000_000  # £800m: well inside the importer's £1bn limit per row
STATEMENT_LINES = 2000


def parse_size(text: str) -> int:
    """``1k`` → 1000, ``1M`` → 1000000, ``2500`` → 2500."""
    value = text.strip().replace("_", "").replace(",", "")
    multiplier = 1
    if value[-1:] in ("k", "K"):
        multiplier, value = 1000, value[:-1]
    elif value[-1:] in ("m", "M"):
        multiplier, value = 1_000_000, value[:-1]
    if not value.isdigit():
        raise ValueError(f"'{text}' is not a size; write 1k, 10k, 100k, 1M or a number")
    return int(value) * multiplier


def size_label(operations: int) -> str:
    """1000 → ``1k``, 1000000 → ``1M``, 2500 → ``2500``."""
    if operations % 1_000_000 == 0:
        return f"{operations // 1_000_000}M"
    if operations % 1000 == 0:
        return f"{operations // 1000}k"
    return str(operations)


@dataclass(frozen=True)
class PooledPayment:
    reference: str
    amount_pence: int
    date: str


@dataclass(frozen=True)
class PooledContract:
    reference: str
    recipient: str
    purpose: str
    date: str
    shares: list[tuple[str, int]]
    payments: list[PooledPayment]


@dataclass
class Programme:
    """What was generated: enough for the benchmark to measure without reading the file again."""

    operations: int
    seed: int
    accountable_body: str
    pots: list[str] = field(default_factory=list)
    delegated_pots: list[str] = field(default_factory=list)
    one_pot: str = ""
    one_pot_operations: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    organisations: int = 0
    pooled: list[PooledContract] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class Plan:
    """One allocation's life: allocate, instalments, perhaps a variation and a return."""

    reference: str
    recipient: str
    purpose: str
    amount_pence: int
    delta_pence: int  # the variation, 0 if none
    length: int  # operations: 1 allocate + up to 4 payments + vary + return
    start: dt.date

    @property
    def budget_pence(self) -> int:
        """What it can take from its pot at most."""
        return self.amount_pence + max(self.delta_pence, 0)


@dataclass(frozen=True)
class Block:
    """One council-year: its rows (sorted by date) and what the benchmark needs to know."""

    rows: list[Row]
    pot: str
    delegated_pot: str
    headroom_pence: int  # what the pot will still have available after every row


def money(pence: int) -> str:
    return format_plain(pence)


def _pounds(rng: random.Random, low: int, high: int, scale: float) -> int:
    """A grant between £low and £high (scaled), usually whole £50s, sometimes with pence."""
    low_p, high_p = max(int(low * scale), 100), max(int(high * scale), 200)
    pounds = rng.randrange(low_p, high_p, 50) if high_p - low_p > 50 else low_p
    pence = pounds * 100
    if rng.random() < 0.2:
        pence += rng.randint(1, 99)
    return pence


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _to_pounds(pence: int) -> int:
    """Round up to whole pounds."""
    return _ceil_div(pence, 100) * 100


def _lengths(rng: random.Random, total: int) -> list[int]:
    """Lifecycle lengths adding up to exactly ``total``; the last one may be cut short."""
    out: list[int] = []
    left = total
    while left > 0:
        length = rng.choices((5, 6, 7, 3), weights=(70, 15, 10, 5))[0]
        length = min(length, left)
        out.append(length)
        left -= length
    return out


def _plans(
    rng: random.Random,
    total_operations: int,
    *,
    prefix: str,
    recipients: Sequence[str],
    low: int,
    high: int,
    first_day: dt.date,
    last_start: int,
) -> list[Plan]:
    lengths = _lengths(rng, total_operations)
    # Keep a pot's funding well inside the £1bn a row may carry, however big the file.
    scale = min(1.0, 2500 / max(len(lengths), 1))
    plans = []
    for index, length in enumerate(lengths, start=1):
        amount = _pounds(rng, low, high, scale)
        delta = 0
        if length >= 6:
            change = max(amount * rng.randint(2, 10) // 100 // 100 * 100, 100)
            delta = -change if rng.random() < 0.6 else change
        plans.append(
            Plan(
                reference=f"{prefix}{index:05d}",
                recipient=rng.choice(recipients),
                purpose=rng.choice(PURPOSES),
                amount_pence=amount,
                delta_pence=delta,
                length=length,
                start=first_day + dt.timedelta(days=rng.randint(0, last_start)),
            )
        )
    return plans


def _lifecycle(rng: random.Random, plan: Plan, pot: str) -> Iterator[tuple[dt.date, Row]]:
    """The rows of one allocation, each dated after the one before."""
    ref, who, purpose = plan.reference, plan.recipient, plan.purpose
    yield (
        plan.start,
        (
            plan.start.isoformat(),
            "allocate",
            ref,
            pot,
            who,
            money(plan.amount_pence),
            purpose,
            "",
            "",
        ),
    )
    has_vary = plan.length >= 6
    has_return = plan.length == 7
    payments = 4 if plan.length >= 5 else plan.length - 1
    if has_vary:
        first = plan.amount_pence // 4
        rest = plan.amount_pence + plan.delta_pence - first
        amounts = [first, *split_evenly(rest, 3)]
    else:
        amounts = split_evenly(plan.amount_pence, 4)[:payments]
    day = plan.start + dt.timedelta(days=rng.randint(14, 45))
    paid = 0
    for number, amount in enumerate(amounts, start=1):
        if number == 2 and has_vary:
            reason = (
                "Fewer sessions needed than planned"
                if plan.delta_pence < 0
                else "More families referred than planned"
            )
            yield (
                day,
                (
                    day.isoformat(),
                    "vary",
                    f"{ref}-V1",
                    pot,
                    who,
                    money(plan.delta_pence),
                    reason,
                    ref,
                    "",
                ),
            )
            day += dt.timedelta(days=rng.randint(20, 60))
        yield (
            day,
            (
                day.isoformat(),
                "pay",
                f"{ref}-P{number}",
                pot,
                who,
                money(amount),
                f"{purpose}: instalment {number} of 4",
                ref,
                "",
            ),
        )
        paid += amount
        day += dt.timedelta(days=91 if number > 1 else rng.randint(60, 100))
    if has_return:
        returned = max(paid * rng.randint(1, 8) // 100, 1)
        yield (
            day,
            (
                day.isoformat(),
                "return",
                f"{ref}-R1",
                pot,
                who,
                money(returned),
                "Underspend returned at year end",
                ref,
                "",
            ),
        )


def _local_groups(rng: random.Random, place: str, count: int) -> list[str]:
    names = []
    for index in range(count):
        kind = LOCAL_GROUPS[index % len(LOCAL_GROUPS)]
        number = index // len(LOCAL_GROUPS)
        names.append(f"{place} {kind}" + (f" {number + 1}" if number else ""))
    rng.shuffle(names)
    return names


def intermediary_of(council: str) -> str:
    if council == "Clackmannanshire":
        return "Clackmannanshire Third Sector Interface (CTSI)"
    return f"{council} Third Sector Interface"


def pot_name(council: str, year: int) -> str:
    return f"WFWF {council} {label(year)}"


def delegated_pot_name(council: str, year: int) -> str:
    return f"{council} TSI managed WFWF Grant {label(year)}"


def council_block(rng: random.Random, council: str, code: str, year: int, operations: int) -> Block:
    """Exactly ``operations`` rows for one council's pot and its delegated pot in one year."""
    if operations < BLOCK_MINIMUM:
        raise ValueError(f"a council-year needs at least {BLOCK_MINIMUM} operations")
    start = dt.date(year, 4, 1)
    short = f"{code}-{str(year)[2:]}"
    pot = pot_name(council, year)
    sub_pot = delegated_pot_name(council, year)
    intermediary = intermediary_of(council)
    full = operations >= FULL_CORE_MINIMUM
    core = 10 if full else 4
    rest = operations - core
    direct_ops = max(1, round(rest * 0.6))
    sub_ops = rest - direct_ops
    if sub_ops < 1:
        direct_ops, sub_ops = rest - 1, 1

    providers = list(NATIONAL_PROVIDERS) + _local_groups(rng, council, 6 + direct_ops // 40)
    groups = _local_groups(rng, f"{council} community", 8 + sub_ops // 25)
    direct = _plans(
        rng,
        direct_ops,
        prefix=f"{short}-A",
        recipients=providers,
        low=10_000,
        high=150_000,
        first_day=start + dt.timedelta(days=7),
        last_start=180,
    )
    sub = _plans(
        rng,
        sub_ops,
        prefix=f"{short}-S",
        recipients=groups,
        low=1_000,
        high=25_000,
        first_day=start + dt.timedelta(days=21),
        last_start=200,
    )
    delegation = _to_pounds(
        max(_ceil_div(sum(p.budget_pence for p in sub) * 100, DELEGATED_SHARE_PERCENT), 10_000)
    )
    committed = sum(p.budget_pence for p in direct) + delegation
    funding = _to_pounds(_ceil_div(committed * 100, POT_SHARE_PERCENT))
    if funding > MAX_AWARD_PENCE:  # pragma: no cover - the scale in _plans prevents it
        raise ValueError(f"{pot} would need {money(funding)}, over one row's limit")

    events: list[tuple[dt.date, int, Row]] = []

    def add(day: dt.date, row: Row) -> None:
        events.append((day, len(events), row))

    corra = funding * rng.randint(8, 15) // 100 // 100 * 100 if full else 0
    government = funding - corra
    fy = label(year)
    add(
        start,
        (
            start.isoformat(),
            "award",
            f"{short}-SG-AWARD",
            pot,
            SCOTTISH_GOVERNMENT,
            money(government),
            f"Whole Family Wellbeing Fund {fy}: {council}'s allocation",
            "",
            "",
        ),
    )
    receipts = [government // 2, government - government // 2] if full else [government]
    for number, amount in enumerate(receipts, start=1):
        day = start + dt.timedelta(days=60 if number == 1 else 240)
        add(
            day,
            (
                day.isoformat(),
                "receive",
                f"{short}-SG-R{number}",
                pot,
                SCOTTISH_GOVERNMENT,
                money(amount),
                f"WFWF {fy} grant instalment {number} received",
                "",
                "",
            ),
        )
    if full:
        add(
            start,
            (
                start.isoformat(),
                "award",
                f"{short}-CORRA-AWARD",
                pot,
                CORRA,
                money(corra),
                f"Promise Partnership match funding for {council}, {fy}",
                "",
                "",
            ),
        )
        day = start + dt.timedelta(days=90)
        add(
            day,
            (
                day.isoformat(),
                "receive",
                f"{short}-CORRA-R1",
                pot,
                CORRA,
                money(corra),
                "Promise Partnership match funding received",
                "",
                "",
            ),
        )

    reference = f"{short}-TSI"
    day = start + dt.timedelta(days=14)
    add(
        day,
        (
            day.isoformat(),
            "delegate",
            reference,
            pot,
            intermediary,
            money(delegation),
            f"Allocation of award for {sub_pot}",
            "",
            sub_pot,
        ),
    )
    first_payment = delegation // 2 if full else delegation
    day = start + dt.timedelta(days=30)
    add(
        day,
        (
            day.isoformat(),
            "pay",
            f"{reference}-P1",
            pot,
            intermediary,
            money(first_payment),
            f"{sub_pot}: " + ("first half paid over" if full else "paid over in full"),
            reference,
            "",
        ),
    )
    if full:
        reduction = max(delegation * 3 // 100 // 100 * 100, 100)
        day = start + dt.timedelta(days=150)
        add(
            day,
            (
                day.isoformat(),
                "vary",
                f"{reference}-V1",
                pot,
                intermediary,
                money(-reduction),
                "Delegation reduced at the mid-year review",
                reference,
                "",
            ),
        )
        day = start + dt.timedelta(days=200)
        add(
            day,
            (
                day.isoformat(),
                "pay",
                f"{reference}-P2",
                pot,
                intermediary,
                money(delegation - reduction - first_payment),
                f"{sub_pot}: balance paid over",
                reference,
                "",
            ),
        )
        handed_back = max(delegation * rng.randint(1, 4) // 100, 1)
        day = start + dt.timedelta(days=400)
        add(
            day,
            (
                day.isoformat(),
                "return",
                f"{reference}-R1",
                pot,
                intermediary,
                money(handed_back),
                f"{intermediary} returns what it did not sub-grant",
                reference,
                "",
            ),
        )

    for plan in direct:
        for day, row in _lifecycle(rng, plan, pot):
            add(day, row)
    for plan in sub:
        for day, row in _lifecycle(rng, plan, sub_pot):
            add(day, row)
    events.sort(key=lambda event: (event[0], event[1]))
    assert len(events) == operations, (len(events), operations)
    return Block(
        rows=[row for _, _, row in events],
        pot=pot,
        delegated_pot=sub_pot,
        headroom_pence=funding - committed,
    )


def block_budgets(total: int, weights: Sequence[float], minimum: int) -> list[int]:
    """Split ``total`` into integer parts of at least ``minimum``, in proportion to ``weights``
    (largest remainder), adding up exactly."""
    spare = total - minimum * len(weights)
    if spare < 0:
        raise ValueError(f"need at least {minimum * len(weights)} operations")
    whole = sum(weights)
    raw = [spare * w / whole for w in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - parts[i]), i))
    for index in order[: spare - sum(parts)]:
        parts[index] += 1
    return [minimum + part for part in parts]


def generate(operations: int, seed: int, out: TextIO) -> Programme:
    """Write the programme's CSV (header and exactly ``operations`` rows) to ``out``."""
    if operations < MINIMUM_OPERATIONS:
        raise ValueError(
            f"a programme needs at least {MINIMUM_OPERATIONS} operations (one award, receipt,"
            " delegation, payment, allocation and sub-grant per council-year)"
        )
    rng = random.Random(seed)
    council_weight = {name: rng.uniform(0.4, 2.5) for name, _ in COUNCILS}
    layout = [(name, code, year) for year in YEARS for name, code in COUNCILS]
    weights = [council_weight[name] * (1.0 + 0.15 * YEARS.index(year)) for name, _, year in layout]
    budgets = block_budgets(operations, weights, BLOCK_MINIMUM)

    programme = Programme(operations=operations, seed=seed, accountable_body=ACCOUNTABLE_BODY)
    headroom: dict[str, int] = {}
    counts: Counter[str] = Counter()
    organisations: set[str] = set()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    written = 0
    biggest = -1
    for (council, code, year), budget in zip(layout, budgets, strict=True):
        # Each council-year has its own stream of random numbers: its rows depend only on the
        # seed and its own share of the file.
        block_rng = random.Random(f"{seed}:{code}:{year}")
        block = council_block(block_rng, council, code, year, budget)
        writer.writerows(block.rows)
        written += len(block.rows)
        for row in block.rows:
            counts[row[1]] += 1
            if row[1] in ("award", "receive", "allocate", "delegate"):
                organisations.add(row[4])
        programme.pots.append(block.pot)
        programme.delegated_pots.append(block.delegated_pot)
        headroom[block.pot] = block.headroom_pence
        if budget > biggest:
            biggest = budget
            programme.one_pot = block.pot
            programme.one_pot_operations = sum(1 for row in block.rows if row[3] == block.pot)
    assert written == operations
    programme.counts = dict(sorted(counts.items()))
    programme.organisations = len(organisations) + 1  # and the accountable body
    programme.pooled = _pooled_contracts(headroom)
    return programme


def _pooled_contracts(headroom: dict[str, int]) -> list[PooledContract]:
    """Regional contracts jointly commissioned by neighbouring councils in the last year."""
    year = YEARS[-1]
    contracts = []
    for number, (region, councils) in enumerate(POOLED_GROUPS, start=1):
        shares = []
        for council in councils:
            pot = pot_name(council, year)
            share = min(headroom[pot] // 4, 2_500_000) // 100 * 100
            if share >= 100:
                shares.append((pot, share))
        if len(shares) < 2:
            continue
        total = sum(share for _, share in shares)
        reference = f"POOLED-{str(year)[2:]}-{number:02d}"
        contracts.append(
            PooledContract(
                reference=reference,
                recipient=f"{region} Kinship Care Partnership",
                purpose=f"Regional kinship care service for {region}",
                date=dt.date(year, 10, 1).isoformat(),
                shares=shares,
                payments=[
                    PooledPayment(f"{reference}-P1", total // 2, dt.date(year, 11, 1).isoformat()),
                    PooledPayment(
                        f"{reference}-P2", total // 4, dt.date(year + 1, 2, 1).isoformat()
                    ),
                ],
            )
        )
    return contracts


@dataclass(frozen=True)
class StatementFixture:
    pot: str
    lines: int
    operations: int
    accountable_body: str


def write_statement_fixture(
    out: TextIO, seed: int, lines: int = STATEMENT_LINES
) -> StatementFixture:
    """One pot whose distribution statement has exactly ``lines`` allocation lines: allocations
    to providers, one delegation, and the delegated pot's sub-grants (about 5% of the lines)."""
    if lines < 3:
        raise ValueError("a statement fixture needs at least 3 lines")
    rng = random.Random(f"statement:{seed}:{lines}")
    year = YEARS[0]
    start = dt.date(year, 4, 1)
    pot = f"Whole Family Wellbeing Fund national grants {label(year)}"
    sub_pot = f"Third sector managed grants {label(year)}"
    intermediary = "Scottish Council for Voluntary Organisations"
    sub_count = max(1, lines // 20 - 1)
    direct_count = lines - 1 - sub_count
    providers = list(NATIONAL_PROVIDERS) + [
        f"{council} {LOCAL_GROUPS[i % len(LOCAL_GROUPS)]}"
        for i, (council, _) in enumerate(COUNCILS)
    ]
    direct = [_pounds(rng, 1_000, 50_000, 1.0) for _ in range(direct_count)]
    sub = [_pounds(rng, 500, 5_000, 1.0) for _ in range(sub_count)]
    delegation = _to_pounds(_ceil_div(sum(sub) * 100, 95))
    funding = _to_pounds(_ceil_div((sum(direct) + delegation) * 100, 90))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    operations = 0

    def write(row: Row) -> None:
        nonlocal operations
        writer.writerow(row)
        operations += 1

    day = start.isoformat()
    write(
        (
            day,
            "award",
            "STMT-AWARD",
            pot,
            SCOTTISH_GOVERNMENT,
            money(funding),
            "WFWF national grants",
            "",
            "",
        )
    )
    write(
        (
            day,
            "receive",
            "STMT-R1",
            pot,
            SCOTTISH_GOVERNMENT,
            money(funding),
            "Grant received",
            "",
            "",
        )
    )
    write(
        (
            day,
            "delegate",
            "STMT-TSI",
            pot,
            intermediary,
            money(delegation),
            "Third sector grants",
            "",
            sub_pot,
        )
    )
    for index, amount in enumerate(direct, start=1):
        when = (start + dt.timedelta(days=rng.randint(7, 300))).isoformat()
        reference = f"STMT-A{index:05d}"
        write(
            (
                when,
                "allocate",
                reference,
                pot,
                rng.choice(providers),
                money(amount),
                rng.choice(PURPOSES),
                "",
                "",
            )
        )
        if index % 10 == 0:
            write(
                (
                    when,
                    "pay",
                    f"{reference}-P1",
                    "",
                    "",
                    money(amount // 4),
                    "Instalment 1 of 4",
                    reference,
                    "",
                )
            )
    for index, amount in enumerate(sub, start=1):
        when = (start + dt.timedelta(days=rng.randint(14, 300))).isoformat()
        recipient = f"Community group {index:03d}"
        write(
            (
                when,
                "allocate",
                f"STMT-S{index:05d}",
                sub_pot,
                recipient,
                money(amount),
                rng.choice(PURPOSES),
                "",
                "",
            )
        )
    return StatementFixture(
        pot=pot, lines=lines, operations=operations, accountable_body=ACCOUNTABLE_BODY
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Write a synthetic national programme as a commonpurse import CSV.",
    )
    parser.add_argument("--ops", default="1k", help="number of operations: 1k, 10k, 100k, 1M...")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", required=True, help="the CSV to write ('-' for stdout)")
    parser.add_argument("--manifest", help="also write what was generated as JSON here")
    parser.add_argument(
        "--check", action="store_true", help="replay the file through bench.model's rules"
    )
    parser.add_argument(
        "--statement-fixture", metavar="FILE", help="also write the 2,000-line statement ledger"
    )
    args = parser.parse_args(argv)
    operations = parse_size(args.ops)
    if args.output == "-":
        programme = generate(operations, args.seed, sys.stdout)
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            programme = generate(operations, args.seed, handle)
    if args.check and args.output != "-":
        from bench.model import check_programme

        check_programme(Path(args.output))
    if args.manifest:
        Path(args.manifest).write_text(programme.to_json() + "\n", encoding="utf-8")
    if args.statement_fixture:
        with open(args.statement_fixture, "w", encoding="utf-8", newline="") as handle:
            write_statement_fixture(handle, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
