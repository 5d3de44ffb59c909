"""The results, and the markdown report written to ``docs/performance.md``.

Every "met"/"missed" is computed here from the measured numbers; a target whose sizes were not
part of the run is "not measured", and a smoke run judges nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypeVar

from bench.generate import size_label
from bench.web import WebResult

T = TypeVar("T")
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

RAW_RATIO_TARGET = 0.30
BEANCOUNT_RATIO_TARGET = 10.0
IMPORT_PEAK_TARGET_MB = 500.0
FLAT_READ_TARGET = 2.0
STATEMENT_PDF_TARGET_S = 2.0
WEB_P95_TARGET_MS = 100.0
TARGET_SIZE = 100_000
BIG_SIZE = 1_000_000
SMALL_SIZE = 1_000


@dataclass(frozen=True)
class ImportMeasure:
    engine: str
    operations: int
    seconds: float
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class RawMeasure:
    operations: int
    tables: int
    rows: int
    insert_seconds: float
    import_per_second: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.insert_seconds if self.insert_seconds else 0.0

    @property
    def per_second(self) -> float:
        return self.operations / self.insert_seconds if self.insert_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.import_per_second / self.per_second if self.per_second else 0.0


@dataclass(frozen=True)
class BeancountMeasure:
    operations: int
    transactions: int
    file_mb: float
    load_seconds: float
    wall_seconds: float
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        return self.transactions / self.wall_seconds if self.wall_seconds else 0.0


@dataclass(frozen=True)
class ReadMeasure:
    engine: str
    operations: int
    entries: int
    pots: int
    one_pot: str
    repeat: int
    one_pot_ms: float
    all_pots_ms: float
    cli_one_pot_s: float | None
    cli_all_s: float
    check_s: float


@dataclass(frozen=True)
class StatementMeasure:
    engine: str
    lines: int
    operations: int
    repeat: int
    build_ms: float
    pdf_ms: float
    html_ms: float
    build_pdf_ms: float
    build_html_ms: float
    pdf_kb: float
    html_kb: float
    cli_pdf_s: float


@dataclass(frozen=True)
class WebMeasure:
    engine: str
    operations: int
    result: WebResult


@dataclass(frozen=True)
class ProgrammeSummary:
    operations: int
    counts: dict[str, int]
    pots: int
    one_pot: str
    one_pot_operations: int
    pooled_contracts: int
    pooled_entries: int
    generate_seconds: float
    file_mb: float


@dataclass
class Results:
    date: str
    command: str
    smoke: bool
    machine: dict[str, str]
    sizes: list[int]
    engines: list[str]
    settings: dict[str, str] = field(default_factory=dict)
    programmes: list[ProgrammeSummary] = field(default_factory=list)
    imports: list[ImportMeasure] = field(default_factory=list)
    raws: list[RawMeasure] = field(default_factory=list)
    beancounts: list[BeancountMeasure] = field(default_factory=list)
    reads: list[ReadMeasure] = field(default_factory=list)
    statements: list[StatementMeasure] = field(default_factory=list)
    webs: list[WebMeasure] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    def import_of(self, engine: str, operations: int) -> ImportMeasure | None:
        return _first(m for m in self.imports if (m.engine, m.operations) == (engine, operations))

    def read_of(self, engine: str, operations: int) -> ReadMeasure | None:
        return _first(m for m in self.reads if (m.engine, m.operations) == (engine, operations))


def _first(items: Iterable[T]) -> T | None:
    return next(iter(items), None)


# Targets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetRow:
    target: str
    measured: str
    result: str


def _judge(smoke: bool, value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None or math.isnan(value):
        return "not measured"
    if smoke:
        return "not judged (smoke run)"
    return "met" if ok(value) else "**missed**"


def targets(results: Results) -> list[TargetRow]:
    rows: list[TargetRow] = []
    smoke = results.smoke
    big, small, size = size_label(BIG_SIZE), size_label(SMALL_SIZE), size_label(TARGET_SIZE)

    raw = _first(r for r in results.raws if r.operations == TARGET_SIZE)
    rows.append(
        TargetRow(
            f"Import of {size} operations (SQLite) at ≥ {RAW_RATIO_TARGET:.0%} of the raw-insert"
            " ceiling measured in the same run",
            f"{raw.ratio:.1%} ({_rate(raw.import_per_second)} of {_rate(raw.per_second)} ops/s)"
            if raw
            else "—",
            _judge(smoke, raw.ratio if raw else None, lambda v: v >= RAW_RATIO_TARGET),
        )
    )

    bean = _first(b for b in results.beancounts if b.operations == TARGET_SIZE)
    imported = results.import_of("sqlite", TARGET_SIZE)
    ratio = imported.per_second / bean.per_second if bean and imported and bean.per_second else None
    rows.append(
        TargetRow(
            f"Import of {size} operations (SQLite) at ≥ {BEANCOUNT_RATIO_TARGET:.0f}× the"
            " operations per second beancount takes to load the same operations",
            f"{ratio:.1f}× ({_rate(imported.per_second)} vs {_rate(bean.per_second)} ops/s)"
            if ratio is not None and imported and bean
            else "—",
            _judge(smoke, ratio, lambda v: v >= BEANCOUNT_RATIO_TARGET),
        )
    )

    for engine in results.engines:
        name = ENGINE_NAMES.get(engine, engine)
        measure = results.import_of(engine, BIG_SIZE)
        rows.append(
            TargetRow(
                f"Import of {big} operations ({name}) in under {IMPORT_PEAK_TARGET_MB:.0f} MB peak",
                f"{measure.peak_rss_mb:,.0f} MB" if measure else "—",
                _judge(
                    smoke,
                    measure.peak_rss_mb if measure else None,
                    lambda v: v < IMPORT_PEAK_TARGET_MB,
                ),
            )
        )

    for engine in results.engines:
        name = ENGINE_NAMES.get(engine, engine)
        low, high = results.read_of(engine, SMALL_SIZE), results.read_of(engine, BIG_SIZE)
        picks: tuple[tuple[str, Callable[[ReadMeasure], float]], ...] = (
            ("A pot's balance", lambda m: m.one_pot_ms),
            ("`balances` (all pots)", lambda m: m.all_pots_ms),
        )
        for label, pick in picks:
            value = pick(high) / pick(low) if low and high and pick(low) else None
            rows.append(
                TargetRow(
                    f"{label} ({name}) takes the same time within {FLAT_READ_TARGET:.0f}× at"
                    f" {small} and at {big} operations",
                    f"{value:.2f}× ({pick(low):.2f} ms → {pick(high):.2f} ms)"
                    if value is not None and low and high
                    else "—",
                    _judge(smoke, value, lambda v: v <= FLAT_READ_TARGET),
                )
            )

    for engine in results.engines:
        name = ENGINE_NAMES.get(engine, engine)
        statement = _first(s for s in results.statements if s.engine == engine)
        lines = statement.lines if statement else 2000
        rows.append(
            TargetRow(
                f"A {lines:,}-line statement ({name}) builds and renders as PDF in under"
                f" {STATEMENT_PDF_TARGET_S:.0f} s",
                f"{statement.build_pdf_ms / 1000:.2f} s" if statement else "—",
                _judge(
                    smoke,
                    statement.build_pdf_ms / 1000 if statement else None,
                    lambda v: v < STATEMENT_PDF_TARGET_S,
                ),
            )
        )

    for engine in results.engines:
        name = ENGINE_NAMES.get(engine, engine)
        web = _first(w for w in results.webs if w.engine == engine and w.operations == TARGET_SIZE)
        for page in ("dashboard", "pot page"):
            stats = _first(p for p in web.result.pages if p.page == page) if web else None
            rows.append(
                TargetRow(
                    f"Web {page} ({name}) p95 under {WEB_P95_TARGET_MS:.0f} ms at {size}"
                    " operations",
                    f"{stats.p95_ms:.0f} ms" if stats else "—",
                    _judge(
                        smoke,
                        stats.p95_ms if stats else None,
                        lambda v: v < WEB_P95_TARGET_MS,
                    ),
                )
            )
    return rows


# Markdown -----------------------------------------------------------------------------------


def _rate(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _table(heads: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    body = ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    if not body:
        return ["(not measured in this run)"]
    return out + body


def _ops(operations: int) -> str:
    return f"{size_label(operations)} ({operations:,})"


ABOUT = """\
## How to rerun it

From the repository root, in the project's virtualenv (`scripts/bootstrap test` installs
beancount and gunicorn), on a quiet machine:

```sh
.venv/bin/python -m bench --sizes 1k,10k,100k,1M --seed 1 --engines sqlite,postgresql \\
    --out docs/performance.md
```

The full run imports 1.1 million operations on each engine, so it takes as long as the import
needs (at 200 operations per second, an hour and a half per engine; at 2,500, under ten
minutes), plus the rest (`check` at 1M, the web run at 100k...).
`--skip-web`, `--skip-beancount`, `--skip-raw`, `--skip-statement`, `--beancount-max-size`,
`--web-size`, `--web-clients`, `--web-rounds`, `--web-workers`, `--repeat` and `--cli-repeat`
shorten or change it (`python -m bench --help`); `--keep --work DIR` keeps the generated files
and ledgers. `python -m bench --smoke` (1k operations, SQLite only, each timing once, 2 gunicorn
workers and 2 web clients) runs in `scripts/test`, so the benchmark cannot rot: it fails if any
step fails, and judges no target. Otherwise targets are judged from the sizes the run measured;
a target whose size was not part of the run is "not measured". Missing a target does not make
the run fail: this page says which were met.

## What each measure means

- **The programme** (`bench/generate.py`): a synthetic Whole Family Wellbeing Fund run
  nationally, generated by seed: the Scottish Government awards each of the 32 councils' pots
  in 2023-24 and 2024-25 (with Corra Foundation match funding where the council's share of the
  file allows), paid in instalments; each council allocates to providers, delegates to its
  third sector interface, which opens a delegated pot and makes sub-grants; quarterly
  instalments, variations up and down, and returns. The same 128 pots at every size: a bigger
  ledger has more allocations and payments per pot, so `balances` is compared like for like.
  Every row is valid, and `bench/model.py` replays the file with the ledger's rules before it
  is imported. Pooled contracts cannot be written in the import CSV; four regional ones (3 or 4
  councils' pots each) and their payments are recorded after the import through
  `ledger.operations.allocate_pooled`, untimed.
- **Import**: `commonpurse import FILE --approved-by Bench` on a fresh ledger (`init` first, not
  timed), in its own process: wall time including the interpreter's start, and that process's
  peak resident memory (`ru_maxrss` from `wait4`).
- **Raw-insert ceiling** (SQLite only): every row of every table of the imported ledger
  (entries, lines, accounts, pots, awards, allocations, shares, organisations, audit events...)
  copied by `sqlite3.executemany` into an empty database freshly made by `commonpurse init`
  (same schema, indexes, CHECK constraints and triggers; WAL, `synchronous = NORMAL`; foreign
  keys not enforced; a row the migrations seed, such as the journal's head, is replaced), in
  one transaction with no checks by the application. Only the inserts and the commit are
  timed. Its "operations per second" is the import's operation count divided by those seconds:
  the fastest the same rows could reach the same schema on this machine. The ratio is import ÷
  ceiling.
- **beancount**: the same operations converted (`bench/beancount_file.py`) into one balanced
  transaction per operation with the ledger's own postings and account names, one `open` per
  account, and loaded by `beancount.loader.load_file` (pickle cache off) in its own process;
  transactions per second from the process's wall time, like the import's. The file carries
  no metadata, the least beancount has to parse. Sizes above `--beancount-max-size` (default
  100k; the target concerns 100k) are skipped.
- **Balances**: one pot's figures (the pot with the most operations, read as the web pot page
  reads it) and every pot's (`ledger.readout.pot_balances`, what `balances` and the dashboard
  read), timed in process, each in a fresh session, median of `--repeat` runs after a warm-up;
  and the wall time of `commonpurse balances --json` and `balances --pot NAME --json` (median
  of `--cli-repeat` runs, default 3). **Check**: `commonpurse check` wall time; it must exit 0,
  proving every figure equals the journal.
- **Statement**: a separate ledger whose pot has exactly 2,000 statement lines (1,900
  allocations and a delegation with 99 sub-grants), built with
  `statements.reports.distribution.build_statement` and rendered with `render_pdf` and `render_html`
  in process (median of `--statement-repeat` runs, default 3), plus the wall time of
  `commonpurse statement POT -o FILE.pdf`.
- **Web**: gunicorn serving `web:create_app()` over the ledger of `--web-size` operations
  (default 100k) with `--web-workers` sync workers (default 2 per core + 1); each of
  `--web-clients` client threads (default 16) signs in as a commissioning officer through the
  real form, warms up (until each worker has served both pages), then requests the dashboard
  and the busiest pot's page in turn `--web-rounds` times (default 25); latency from request
  to last byte, including any wait for a free worker. The clients run on the same machine as
  the server.
"""


KEPT = (
    "<!-- Not written by `python -m bench`: kept as it is when the benchmark rewrites this"
    " file. -->"
)


def keep_hand_written(report: str, previous: str) -> str:
    """The new report, followed by what the previous file had from the ``KEPT`` marker on
    (figures measured by other means, such as the command line's start-up)."""
    start = previous.find(KEPT)
    return report if start < 0 else report.rstrip("\n") + "\n\n" + previous[start:]


def render(results: Results) -> str:
    out: list[str] = [
        "# Performance",
        "",
        "<!-- Written by `python -m bench` (bench/report.py); rerun it rather than editing"
        " this file. -->",
        "",
        ABOUT,
        "## This run",
        "",
        f"- Date: {results.date}",
        f"- Command: `{results.command}`",
        f"- Kind: {_kind(results)}; took {results.duration_s / 60:.1f} minutes",
    ]
    out += [f"- {key}: {value}" for key, value in results.machine.items()]
    out += [f"- {key}: {value}" for key, value in results.settings.items()]
    if results.failures:
        out += ["", f"**{len(results.failures)} step(s) failed**; see *Failures* below."]
    out += ["", "## Targets", ""]
    out += _table(
        ("Target", "Measured", "Result"),
        ((t.target, t.measured, t.result) for t in targets(results)),
    )
    out += ["", "## The generated programmes", ""]
    out += _table(
        (
            "Operations",
            "award",
            "receive",
            "allocate",
            "delegate",
            "vary",
            "pay",
            "return",
            "Pots",
            "Busiest pot (its operations)",
            "Pooled contracts (entries)",
            "CSV (MB)",
            "Generated in (s)",
        ),
        (
            (
                _ops(p.operations),
                *(
                    f"{p.counts.get(k, 0):,}"
                    for k in ("award", "receive", "allocate", "delegate", "vary", "pay", "return")
                ),
                p.pots,
                f"{p.one_pot} ({p.one_pot_operations:,})",
                f"{p.pooled_contracts} ({p.pooled_entries})",
                f"{p.file_mb:.1f}",
                f"{p.generate_seconds:.1f}",
            )
            for p in results.programmes
        ),
    )
    out += ["", "## Import", ""]
    out += _table(
        ("Engine", "Operations", "Wall (s)", "Operations/s", "Peak memory (MB)"),
        (
            (
                ENGINE_NAMES.get(m.engine, m.engine),
                _ops(m.operations),
                f"{m.seconds:.2f}",
                _rate(m.per_second),
                f"{m.peak_rss_mb:,.0f}",
            )
            for m in results.imports
        ),
    )
    out += ["", "## Raw-insert ceiling (SQLite)", ""]
    out += _table(
        (
            "Operations",
            "Tables",
            "Rows",
            "Insert (s)",
            "Rows/s",
            "Operations/s equivalent",
            "Import operations/s",
            "Import ÷ ceiling",
        ),
        (
            (
                _ops(r.operations),
                r.tables,
                f"{r.rows:,}",
                f"{r.insert_seconds:.3f}",
                _rate(r.rows_per_second),
                _rate(r.per_second),
                _rate(r.import_per_second),
                f"{r.ratio:.1%}",
            )
            for r in results.raws
        ),
    )
    out += ["", "## beancount", ""]
    bean_heads = [
        "Operations",
        "Transactions",
        "File (MB)",
        "load_file (s)",
        "Wall (s)",
        "Transactions/s",
        "Peak memory (MB)",
    ]
    bean_heads += [f"Import ÷ beancount ({ENGINE_NAMES.get(e, e)})" for e in results.engines]

    def bean_row(b: BeancountMeasure) -> list[object]:
        row: list[object] = [
            _ops(b.operations),
            f"{b.transactions:,}",
            f"{b.file_mb:.1f}",
            f"{b.load_seconds:.2f}",
            f"{b.wall_seconds:.2f}",
            _rate(b.per_second),
            f"{b.peak_rss_mb:,.0f}",
        ]
        for engine in results.engines:
            imported = results.import_of(engine, b.operations)
            row.append(
                f"{imported.per_second / b.per_second:.3f}×" if imported and b.per_second else "—"
            )
        return row

    out += _table(bean_heads, (bean_row(b) for b in results.beancounts))
    out += ["", "## Balances and check", ""]
    out += _table(
        (
            "Engine",
            "Operations",
            "Journal entries",
            "Pots",
            "One pot, in process (ms)",
            "All pots, in process (ms)",
            "`balances --pot` (s)",
            "`balances` (s)",
            "`check` (s)",
        ),
        (
            (
                ENGINE_NAMES.get(r.engine, r.engine),
                _ops(r.operations),
                f"{r.entries:,}",
                r.pots,
                f"{r.one_pot_ms:.2f}",
                f"{r.all_pots_ms:.2f}",
                f"{r.cli_one_pot_s:.2f}" if r.cli_one_pot_s is not None else "no `--pot` yet",
                f"{r.cli_all_s:.2f}",
                f"{r.check_s:.2f}",
            )
            for r in results.reads
        ),
    )
    if results.reads:
        r = results.reads[0]
        out += [
            "",
            f"In-process times are medians of {r.repeat} runs, each in a fresh session. The one"
            f" pot is the busiest: {r.one_pot}.",
        ]
    out += ["", "## Distribution statement", ""]
    out += _table(
        (
            "Engine",
            "Lines",
            "Build (ms)",
            "PDF render (ms)",
            "Build + PDF (ms)",
            "HTML render (ms)",
            "Build + HTML (ms)",
            "PDF (kB)",
            "HTML (kB)",
            "`statement` PDF command (s)",
        ),
        (
            (
                ENGINE_NAMES.get(s.engine, s.engine),
                f"{s.lines:,}",
                f"{s.build_ms:.0f}",
                f"{s.pdf_ms:.0f}",
                f"{s.build_pdf_ms:.0f}",
                f"{s.html_ms:.0f}",
                f"{s.build_html_ms:.0f}",
                f"{s.pdf_kb:,.0f}",
                f"{s.html_kb:,.0f}",
                f"{s.cli_pdf_s:.2f}",
            )
            for s in results.statements
        ),
    )
    out += ["", "## Web", ""]
    web_rows = []
    for w in results.webs:
        for page in w.result.pages:
            web_rows.append(
                (
                    ENGINE_NAMES.get(w.engine, w.engine),
                    _ops(w.operations),
                    f"{page.page} (`{page.path}`)",
                    page.requests,
                    f"{page.p50_ms:.1f}",
                    f"{page.p95_ms:.1f}",
                    f"{page.max_ms:.1f}",
                    f"{page.bytes / 1024:,.0f}",
                )
            )
    out += _table(
        ("Engine", "Operations", "Page", "Requests", "p50 (ms)", "p95 (ms)", "max (ms)", "kB"),
        web_rows,
    )
    for w in results.webs:
        result = w.result
        out += [
            "",
            f"{ENGINE_NAMES.get(w.engine, w.engine)}, {size_label(w.operations)}: gunicorn with"
            f" {result.workers} worker(s) × {result.threads} thread(s); {result.clients} clients ×"
            f" {result.rounds} rounds of both pages; {result.requests_per_second:,.1f} requests/s"
            f" overall.",
        ]
    if results.failures:
        out += ["", "## Failures", ""]
        out += [f"- {failure}" for failure in results.failures]
    return "\n".join(out) + "\n"


def _kind(results: Results) -> str:
    if results.smoke:
        return "smoke run (1k operations, SQLite only; targets not judged)"
    missing = [
        size_label(size)
        for size in (SMALL_SIZE, TARGET_SIZE, BIG_SIZE)
        if size not in results.sizes
    ]
    missing += [name for engine, name in ENGINE_NAMES.items() if engine not in results.engines]
    kind = "full run" if not missing else f"partial run (without {', '.join(missing)})"
    kind += "; targets judged from the sizes measured"
    return kind + (", with failures" if results.failures else "")
