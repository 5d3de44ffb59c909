"""The command line answers at once: ``commonpurse --help`` imports neither SQLAlchemy nor
Alembic nor the password hasher (nor Flask, Babel or ReportLab), and ``balances`` loads
SQLAlchemy's core but not its ORM, the mapped classes, Alembic, the hasher or the web app.
Timings are in docs/performance.md; these tests pin down the imports, which is what the timings
depend on and what a change can undo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import KEPT, keep_hand_written
from ledger import cli, db
from ledger.models import USER_ROLES
from statements.commands import reconcile_command
from statements.reports import finance_match

ROOT = Path(__file__).resolve().parent.parent
HEAVY_FOR_HELP = ("sqlalchemy", "alembic", "argon2", "flask", "babel", "reportlab", "jinja2")
HEAVY_FOR_BALANCES = (
    "alembic",
    "argon2",
    "flask",
    "babel",
    "reportlab",
    "statements",
    "web",
    # A SQLite ledger needs neither the PostgreSQL dialect nor the writers' code.
    "sqlalchemy.dialects.postgresql",
    "ledger.operations",
    "ledger.journal",
    "ledger.chain",
    # Its read-outs are plain SQL: building the mapped classes and configuring the ORM took
    # more than a third of the command's time.
    "sqlalchemy.orm",
    "ledger.models",
    "ledger.timeline",
)
PROBE = """
import io, json, sys
from ledger.cli import main
try:
    code = main(sys.argv[1:], out=io.StringIO())
except SystemExit as stop:
    code = stop.code
prefixes = json.loads(sys.stdin.read())
loaded = sorted(
    name for name in sys.modules if any(name == p or name.startswith(p + ".") for p in prefixes)
)
print(json.dumps({"code": code, "loaded": loaded}))
"""


def _imports_of(argv: list[str], heavy: tuple[str, ...], **env: str) -> tuple[int, list[str]]:
    """Run ``commonpurse ARGV`` in a fresh interpreter; its exit code and which of ``heavy``
    (and their submodules) it imported."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        input=json.dumps(heavy),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return found["code"], found["loaded"]


def test_help_imports_no_database_library_hasher_or_web_framework() -> None:
    code, loaded = _imports_of(["--help"], HEAVY_FOR_HELP)
    assert code == 0
    assert loaded == [], f"commonpurse --help imported {loaded}"


def test_a_commands_own_help_is_as_light() -> None:
    for command in (["balances", "--help"], ["user", "add", "--help"], ["serve", "--help"]):
        code, loaded = _imports_of(command, HEAVY_FOR_HELP)
        assert code == 0
        assert loaded == [], f"commonpurse {' '.join(command)} imported {loaded}"


def test_balances_on_the_demo_loads_neither_the_orm_nor_alembic_nor_the_hasher(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert cli.main(["--db", url, "demo"], out=open(os.devnull, "w")) == 0  # noqa: SIM115
    for argv in (["balances"], ["balances", "--json"]):
        code, loaded = _imports_of(["--db", url, *argv], HEAVY_FOR_BALANCES)
        assert code == 0
        assert loaded == [], f"commonpurse {' '.join(argv)} imported {loaded}"


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["balances"], False),
        (["--db", "sqlite:///x.sqlite3", "--user", "finance", "check"], False),
        (["--db", "balances", "user", "add", "x"], False),  # --db's value is not the command
        (["statement", "WFWF 2022-23"], True),
        (["--db", "sqlite:///x.sqlite3", "export", "csv"], True),
        (["--help"], True),
        ([], True),
        (["balancse"], True),  # a mistake: the full list of commands for the error
    ],
)
def test_entry_points_are_read_only_when_a_command_may_come_from_one(
    argv: list[str], needed: bool
) -> None:
    assert cli.needs_plugins(argv) is needed


def test_the_ledgers_own_commands_are_the_ones_that_skip_the_entry_points() -> None:
    parser = cli.build_parser(plugins=False)
    subparsers = next(action for action in parser._actions if action.dest == "command")
    assert set(subparsers.choices) == cli.LEDGER_COMMANDS  # type: ignore[arg-type]


def test_what_the_help_spells_out_agrees_with_its_source() -> None:
    assert cli.USER_ROLES == USER_ROLES
    assert reconcile_command.HEADER == finance_match.HEADER


def test_the_head_revision_read_from_the_files_is_alembics() -> None:
    assert db.head_revision() == db.alembic_head_revision()


def test_the_start_up_figures_survive_a_rerun_of_the_benchmark() -> None:
    kept = f"{KEPT}\n\n## Command-line start-up\n\nfigures\n"
    rerun = keep_hand_written("# Performance\n\nnew figures\n", f"# Performance\n\nold\n\n{kept}")
    assert rerun == f"# Performance\n\nnew figures\n\n{kept}"
    assert keep_hand_written("new\n", "nothing kept\n") == "new\n"
    report = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert KEPT in report
    assert "## Command-line start-up" in report[report.index(KEPT) :]


def test_the_forecast_commands_default_is_the_forecasts() -> None:
    from statements.commands import forecast_command
    from statements.reports import forecast

    assert forecast_command.MONTHS == forecast.MONTHS
