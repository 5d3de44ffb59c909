"""``python -m bench``: generate, import, measure, and write the report.

    python -m bench --sizes 1k,10k,100k,1M --seed 1 --engines sqlite,postgresql \\
        --out docs/performance.md
    python -m bench --smoke          # 1k, SQLite only, 2 web clients; exits 1 if a step fails

Each step runs on its own; a failing step is reported (and makes the exit status 1) without
stopping the steps that do not depend on it. Missing a target never fails the run: the report
says which targets were met.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench import beancount_file, raw
from bench.generate import (
    STATEMENT_LINES,
    Programme,
    StatementFixture,
    generate,
    parse_size,
    size_label,
    write_statement_fixture,
)
from bench.measure import StepFailed, median_seconds, run_child, set_scratch
from bench.model import check_programme
from bench.pooled import APPROVED_BY, ENTERED_BY, record_pooled
from bench.postgres import ThrowawayPostgres
from bench.report import (
    BeancountMeasure,
    ImportMeasure,
    ProgrammeSummary,
    RawMeasure,
    ReadMeasure,
    Results,
    StatementMeasure,
    WebMeasure,
    keep_hand_written,
    render,
)
from bench.web import default_workers, run_web
from ledger import db
from ledger import operations as ops
from ledger.models import Entry, Pot
from ledger.readout import PotBalance, pot_balances

T = TypeVar("T")
REPO = Path(__file__).absolute().parent.parent
ENGINES = ("sqlite", "postgresql")
STATEMENT_AS_AT = dt.date(2025, 3, 31)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark commonpurse on a synthetic national programme and write the"
        " results as markdown (docs/performance.md).",
    )
    parser.add_argument("--sizes", default="1k,10k,100k,1M", help="operations per ledger")
    parser.add_argument("--seed", type=int, default=1, help="the programme's random seed")
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--out", help="the markdown report (default: docs/performance.md)")
    parser.add_argument("--json", help="also write the raw results as JSON here")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1k only, SQLite only, web with 2 clients; report to a temporary file unless --out;"
        " exit 1 if any step fails (targets are not judged)",
    )
    parser.add_argument("--skip-web", action="store_true")
    parser.add_argument("--skip-beancount", action="store_true")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--skip-statement", action="store_true")
    parser.add_argument(
        "--beancount-max-size",
        default="100k",
        help="largest size loaded with beancount (default 100k, the size of its target)",
    )
    parser.add_argument(
        "--web-size", default="100k", help="the size whose ledger is served (default 100k)"
    )
    parser.add_argument("--web-clients", type=int, default=16)
    parser.add_argument("--web-rounds", type=int, default=25, help="requests per page per client")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=default_workers(),
        help="gunicorn workers (default: 2 per core + 1)",
    )
    parser.add_argument("--web-threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--repeat", type=int, default=20, help="runs per in-process balance timing")
    parser.add_argument(
        "--cli-repeat", type=int, default=3, help="runs per command timing (the median is kept)"
    )
    parser.add_argument("--statement-lines", type=int, default=STATEMENT_LINES)
    parser.add_argument(
        "--statement-repeat", type=int, default=3, help="statement builds and renders timed"
    )
    parser.add_argument("--work", help="folder for generated files and ledgers (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.engines, args.web_size = "1k", "sqlite", "1k"
        args.web_clients, args.web_rounds, args.repeat = 2, 3, 5
        args.statement_repeat, args.cli_repeat, args.web_workers = 1, 1, 2
    args.size_list = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    args.engine_list = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(args.engine_list) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(sorted(unknown))}; use {', '.join(ENGINES)}")
    args.beancount_max = parse_size(args.beancount_max_size)
    args.web_operations = parse_size(args.web_size)
    return args


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def commonpurse_command() -> list[str]:
    beside = Path(sys.executable).parent / "commonpurse"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "ledger.cli"]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMONPURSE_")}
    env["COMMONPURSE_USER"] = ENTERED_BY
    return env


def one_pot_balance(session: Session, name: str) -> PotBalance:
    """One pot's figures, as the web pot page reads them."""
    (balance,) = pot_balances(session, pot_id=ops.find_pot(session, name).id)
    return balance


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.cp = commonpurse_command()
        self.env = child_env()
        self.pg: ThrowawayPostgres | None = None
        self.pg_failed = False
        self.results = Results(
            date=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            command="python -m bench"
            + ("" if not sys.argv[1:] else " " + shlex.join(sys.argv[1:])),
            smoke=args.smoke,
            machine=machine(),
            sizes=args.size_list,
            engines=args.engine_list,
        )
        self.pot_option: bool | None = None

    # Steps ----------------------------------------------------------------------------------

    def step(self, name: str, work: Callable[[], T]) -> T | None:
        log(f"{name} ...")
        started = time.perf_counter()
        try:
            result = work()
        except StepFailed as error:
            self._failed(name, str(error), started)
            return None
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            self._failed(name, f"{type(error).__name__}: {error}", started)
            return None
        log(f"{name}: done in {time.perf_counter() - started:.1f}s")
        return result

    def _failed(self, name: str, why: str, started: float) -> None:
        log(f"{name}: FAILED after {time.perf_counter() - started:.1f}s: {why}")
        self.results.failures.append(f"{name}: {why}")

    def cli(self, url: str, *arguments: str) -> list[str]:
        return [*self.cp, "--db", url, *arguments]

    # Ledgers --------------------------------------------------------------------------------

    def new_ledger(self, engine: str, name: str) -> str | None:
        """An empty database for a ledger: a SQLite file in the work folder, or a database on
        the throwaway PostgreSQL server (started on first use)."""
        if engine == "sqlite":
            self.drop_ledger(engine, name, keep=False)
            return f"sqlite:///{self.work / f'{name}.sqlite3'}"
        if self.pg is None:
            if self.pg_failed:
                raise StepFailed("PostgreSQL did not start")
            pg = ThrowawayPostgres(REPO / "scripts")
            try:
                pg.start()
            except Exception:
                self.pg_failed = True
                pg.stop()
                raise
            self.pg = pg
            self.results.machine["PostgreSQL"] = pg.version
        return self.pg.new_database(_pg_name(name))

    def drop_ledger(self, engine: str, name: str, *, keep: bool | None = None) -> bool:
        if self.args.keep if keep is None else keep:
            return True
        if engine == "sqlite":
            path = self.work / f"{name}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        elif self.pg is not None:
            self.pg.drop_database(_pg_name(name))
        return True

    def init(self, url: str, body: str) -> bool:
        run_child(self.cli(url, "init", "--accountable-body", body), env=self.env).check(
            "commonpurse init"
        )
        return True

    def import_file(self, url: str, path: Path) -> tuple[float, float]:
        """Wall seconds and peak memory (MB) of ``commonpurse import`` in its own process. That
        every row made its journal entry is checked afterwards, by counting them."""
        run = run_child(
            self.cli(url, "import", str(path), "--approved-by", APPROVED_BY), env=self.env
        ).check("commonpurse import")
        return run.seconds, run.peak_rss_mb

    # The run --------------------------------------------------------------------------------

    def run(self) -> None:
        for operations in self.args.size_list:
            self.size(operations)
        if not self.args.skip_statement:
            self.statement()

    def size(self, operations: int) -> None:
        label = size_label(operations)
        csv_path = self.work / f"programme-{label}.csv"
        programme = self.step(f"{label}: generate", lambda: self.generate(operations, csv_path))
        if programme is None:
            return
        if not self.args.skip_beancount and operations <= self.args.beancount_max:
            self.step(f"{label}: beancount", lambda: self.beancount(operations, csv_path))
        for engine in self.args.engine_list:
            self.engine_size(engine, operations, programme, csv_path)
        if not self.args.keep:
            csv_path.unlink(missing_ok=True)

    def generate(self, operations: int, csv_path: Path) -> Programme:
        started = time.perf_counter()
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            programme = generate(operations, self.args.seed, handle)
        seconds = time.perf_counter() - started
        # Prove the file keeps the ledger's rules before spending the import's time on it.
        checked = check_programme(csv_path)
        if checked != operations:
            raise StepFailed(f"the file has {checked} rows, not {operations}")
        self.results.programmes.append(
            ProgrammeSummary(
                operations=operations,
                counts=programme.counts,
                pots=len(programme.pots) + len(programme.delegated_pots),
                one_pot=programme.one_pot,
                one_pot_operations=programme.one_pot_operations,
                pooled_contracts=len(programme.pooled),
                pooled_entries=sum(1 + len(p.payments) for p in programme.pooled),
                generate_seconds=seconds,
                file_mb=csv_path.stat().st_size / 1e6,
            )
        )
        return programme

    def beancount(self, operations: int, csv_path: Path) -> None:
        path = csv_path.with_suffix(".beancount")
        transactions = beancount_file.convert(csv_path, path)
        if transactions != operations:
            raise StepFailed(f"{transactions} transactions for {operations} operations")
        run = run_child(
            [sys.executable, "-m", "bench.beancount_file", "load", str(path)],
            env=self.env,
            cwd=REPO,
        ).check("beancount load")
        loaded = json.loads(run.stdout)
        if loaded["transactions"] != operations:
            raise StepFailed(f"beancount loaded {loaded['transactions']} transactions")
        self.results.beancounts.append(
            BeancountMeasure(
                operations=operations,
                transactions=int(loaded["transactions"]),
                file_mb=path.stat().st_size / 1e6,
                load_seconds=float(loaded["seconds"]),
                wall_seconds=run.seconds,
                peak_rss_mb=run.peak_rss_mb,
            )
        )
        if not self.args.keep:
            path.unlink(missing_ok=True)

    def engine_size(
        self, engine: str, operations: int, programme: Programme, csv_path: Path
    ) -> None:
        label = f"{size_label(operations)} {engine}"
        name = f"bench-{size_label(operations).lower()}"
        url = self.step(f"{label}: new ledger", lambda: self.new_ledger(engine, name))
        if url is None:
            return
        try:
            self.measure_ledger(engine, operations, programme, csv_path, url, name)
        finally:
            self.step(f"{label}: remove ledger", lambda: self.drop_ledger(engine, name))

    def measure_ledger(
        self,
        engine: str,
        operations: int,
        programme: Programme,
        csv_path: Path,
        url: str,
        name: str,
    ) -> None:
        label = f"{size_label(operations)} {engine}"
        if not self.step(f"{label}: init", lambda: self.init(url, programme.accountable_body)):
            return
        imported = self.step(f"{label}: import", lambda: self.import_file(url, csv_path))
        if imported is None:
            return
        seconds, peak = imported
        measure = ImportMeasure(engine, operations, seconds, peak)
        self.results.imports.append(measure)
        log(f"{label}: {measure.per_second:,.0f} operations/s, peak {peak:,.0f} MB")
        if engine == "sqlite" and not self.args.skip_raw:
            self.step(f"{label}: raw ceiling", lambda: self.raw(name, measure))
        pooled = self.step(f"{label}: pooled contracts", lambda: record_pooled(url, programme))
        if pooled is None:
            return
        self.step(
            f"{label}: balances and check",
            lambda: self.reads(engine, url, operations, programme, pooled),
        )
        if not self.args.skip_web and operations == self.args.web_operations:
            self.step(f"{label}: web", lambda: self.web(engine, url, operations, programme))

    def raw(self, name: str, measure: ImportMeasure) -> None:
        source = self.work / f"{name}.sqlite3"
        target = self.work / f"{name}-raw.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        run_child(self.cli(f"sqlite:///{target}", "init"), env=self.env).check("init (raw)")
        # Fold the source's WAL into its file, so reading it does not skew anything.
        with sqlite3.connect(source) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        result = raw.copy_rows(source, target, measure.operations)
        self.results.raws.append(
            RawMeasure(
                operations=measure.operations,
                tables=result.tables,
                rows=result.rows,
                insert_seconds=result.insert_seconds,
                import_per_second=measure.per_second,
            )
        )
        log(
            f"raw: {result.rows:,} rows in {result.insert_seconds:.3f}s"
            f" = {result.operations_per_second:,.0f} operations/s equivalent"
        )
        if not self.args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)

    def has_pot_option(self) -> bool:
        if self.pot_option is None:
            run = run_child([*self.cp, "balances", "--help"], env=self.env)
            self.pot_option = run.returncode == 0 and "--pot" in run.stdout
        return self.pot_option

    def reads(
        self, engine: str, url: str, operations: int, programme: Programme, pooled: int
    ) -> None:
        engine_ = db.make_engine(url)
        try:
            factory = db.reader_factory(engine_)
            with factory() as session:
                entries = session.scalar(select(func.count(Entry.id))) or 0
                pots = session.scalar(select(func.count(Pot.id))) or 0
            if entries != operations + pooled:
                raise StepFailed(f"{entries} journal entries, expected {operations + pooled}")
            name = programme.one_pot

            def one() -> None:
                with factory() as session:
                    one_pot_balance(session, name)

            def every() -> None:
                with factory() as session:
                    pot_balances(session)

            one()
            every()
            one_s, _ = median_seconds(one, self.args.repeat)
            all_s, _ = median_seconds(every, self.args.repeat)
        finally:
            engine_.dispose()

        def cli_median(*arguments: str) -> float:
            runs = [
                run_child(self.cli(url, *arguments), env=self.env).check(
                    "commonpurse " + " ".join(arguments[:1])
                )
                for _ in range(max(self.args.cli_repeat, 1))
            ]
            return sorted(r.seconds for r in runs)[len(runs) // 2]

        cli_all = cli_median("balances", "--json")
        cli_one = cli_median("balances", "--pot", name, "--json") if self.has_pot_option() else None
        checked = run_child(self.cli(url, "check"), env=self.env)
        if checked.returncode != 0:
            raise StepFailed(
                f"commonpurse check exited {checked.returncode}: {checked.stdout.strip()[-300:]}"
            )
        self.results.reads.append(
            ReadMeasure(
                engine=engine,
                operations=operations,
                entries=entries,
                pots=pots,
                one_pot=name,
                repeat=self.args.repeat,
                one_pot_ms=one_s * 1000,
                all_pots_ms=all_s * 1000,
                cli_one_pot_s=cli_one,
                cli_all_s=cli_all,
                check_s=checked.seconds,
            )
        )

    def web(self, engine: str, url: str, operations: int, programme: Programme) -> None:
        engine_ = db.make_engine(url)
        try:
            with db.reader_factory(engine_)() as session:
                pot_id = session.scalar(select(Pot.id).where(Pot.name == programme.one_pot))
        finally:
            engine_.dispose()
        if pot_id is None:
            raise StepFailed(f"no pot called {programme.one_pot}")
        result = run_web(
            url=url,
            commonpurse=self.cp,
            env=self.env,
            pages=[("dashboard", "/"), ("pot page", f"/pots/{pot_id}")],
            clients=self.args.web_clients,
            rounds=self.args.web_rounds,
            workers=self.args.web_workers,
            threads=self.args.web_threads,
            log=self.work / f"gunicorn-{engine}.log",
            expect={"dashboard": programme.pots[-1], "pot page": programme.one_pot},
        )
        self.results.webs.append(WebMeasure(engine, operations, result))
        for page in result.pages:
            log(f"web {page.page}: p50 {page.p50_ms:.1f} ms, p95 {page.p95_ms:.1f} ms")

    def statement(self) -> None:
        path = self.work / "statement.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            fixture = write_statement_fixture(handle, self.args.seed, self.args.statement_lines)
        for engine in self.args.engine_list:
            self.statement_on(engine, path, fixture)
        if not self.args.keep:
            path.unlink(missing_ok=True)

    def statement_on(self, engine: str, path: Path, fixture: StatementFixture) -> None:
        label = f"statement {engine}"
        name = "bench-statement"
        url = self.step(f"{label}: new ledger", lambda: self.new_ledger(engine, name))
        if url is None:
            return
        try:
            if not self.step(f"{label}: init", lambda: self.init(url, fixture.accountable_body)):
                return
            if self.step(f"{label}: import", lambda: self.import_file(url, path)):
                self.step(f"{label}: render", lambda: self.render_statement(engine, url, fixture))
        finally:
            self.step(f"{label}: remove ledger", lambda: self.drop_ledger(engine, name))

    def render_statement(self, engine: str, url: str, fixture: StatementFixture) -> None:
        from statements.render.render_html import render_html
        from statements.render.render_pdf import render_pdf
        from statements.reports.distribution import build_statement

        pot, lines = fixture.pot, fixture.lines
        engine_ = db.make_engine(url)
        builds, pdfs, htmls, totals_pdf, totals_html = [], [], [], [], []
        pdf = b""
        html = ""
        try:
            factory = db.reader_factory(engine_)
            for _ in range(max(self.args.statement_repeat, 1)):
                started = time.perf_counter()
                with factory() as session:
                    statement = build_statement(session, pot, as_at=STATEMENT_AS_AT)
                built = time.perf_counter()
                pdf = render_pdf(statement)
                pdf_done = time.perf_counter()
                html = render_html(statement)
                html_done = time.perf_counter()
                builds.append(built - started)
                pdfs.append(pdf_done - built)
                htmls.append(html_done - pdf_done)
                totals_pdf.append(pdf_done - started)
                totals_html.append(built - started + html_done - pdf_done)
            with factory() as session:
                found = build_statement(session, pot, as_at=STATEMENT_AS_AT)
                counted = sum(len(section.allocations) for _, section in found.sections())
        finally:
            engine_.dispose()
        if counted != lines:
            raise StepFailed(f"the statement has {counted} lines, not {lines}")
        output = self.work / "statement.pdf"
        cli = run_child(
            self.cli(
                url, "statement", pot, "--as-at", STATEMENT_AS_AT.isoformat(), "-o", str(output)
            ),
            env=self.env,
        ).check("commonpurse statement")
        if not output.read_bytes().startswith(b"%PDF"):
            raise StepFailed("commonpurse statement did not write a PDF")
        output.unlink()

        def median(values: list[float]) -> float:
            return sorted(values)[len(values) // 2] * 1000

        self.results.statements.append(
            StatementMeasure(
                engine=engine,
                lines=lines,
                operations=fixture.operations,
                repeat=len(builds),
                build_ms=median(builds),
                pdf_ms=median(pdfs),
                html_ms=median(htmls),
                build_pdf_ms=median(totals_pdf),
                build_html_ms=median(totals_html),
                pdf_kb=len(pdf) / 1024,
                html_kb=len(html.encode()) / 1024,
                cli_pdf_s=cli.seconds,
            )
        )

    def close(self) -> None:
        if self.pg is not None:
            log("stopping PostgreSQL")
            self.pg.stop()
            self.pg = None


def _pg_name(name: str) -> str:
    return name.replace("-", "_").lower()


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["CPU"] = f"{cpu}, {os.cpu_count()} logical cores"
    try:
        meminfo = Path("/proc/meminfo").read_text().split()
        info["RAM"] = f"{int(meminfo[meminfo.index('MemTotal:') + 1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError):
        info["Load average at start"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    info["OS"] = platform.platform()
    versions = [f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    for module in ("sqlalchemy", "beancount", "gunicorn", "reportlab"):
        try:
            found = __import__(module)
            versions.append(f"{module} {getattr(found, '__version__', '?')}")
        except ImportError:
            versions.append(f"{module} not installed")
    info["Software"] = ", ".join(versions)
    info["commonpurse"] = commit()
    return info


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" with uncommitted changes" if dirty else "")


def _interrupt(_signal: int, _frame: object) -> None:
    """SIGTERM stops the run as Ctrl+C does: PostgreSQL is stopped and the report written."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cp-bench."))
    work.mkdir(parents=True, exist_ok=True)
    set_scratch(work)
    if args.out:
        out = Path(args.out)
    elif args.smoke:
        out = Path(tempfile.gettempdir()) / f"commonpurse-bench-smoke-{os.getpid()}.md"
    else:
        out = REPO / "docs" / "performance.md"
    bench = Bench(args, work)
    bench.results.settings["Sizes"] = ", ".join(size_label(s) for s in args.size_list)
    bench.results.settings["Engines"] = ", ".join(args.engine_list)
    bench.results.settings["Seed"] = str(args.seed)
    log(f"work folder {work}; report {out}")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        bench.run()
    except KeyboardInterrupt:
        bench.results.failures.append("interrupted")
    finally:
        bench.close()
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    bench.results.duration_s = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    text = render(bench.results)
    previous = out.read_text(encoding="utf-8") if out.exists() else ""
    out.write_text(keep_hand_written(text, previous), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(bench.results.to_json() + "\n", encoding="utf-8")
    if args.smoke:
        sys.stdout.write(text[text.index("## This run") :])
    failures = bench.results.failures
    verdict = "passed" if not failures else f"FAILED ({len(failures)} step(s))"
    sys.stdout.write(
        f"\nbench: {'smoke run' if args.smoke else 'run'} {verdict} in"
        f" {bench.results.duration_s:.0f}s; report written to {out}\n"
    )
    for failure in failures:
        sys.stdout.write(f"  failed: {failure}\n")
    return 1 if failures else 0
