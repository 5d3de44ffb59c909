"""The ``commonpurse`` command.

Subcommands from ``statements`` and ``web`` arrive as entry points in the group
``commonpurse.commands``: each is a function taking the subparsers object, adding its parser
with ``set_defaults(func=handler)`` where ``handler(args, out) -> int``.

Only the standard library and the ledger's light modules are imported here: each command
imports what it needs when it runs, so ``commonpurse --help`` answers without loading
SQLAlchemy, Alembic or the password hasher (``tests/test_cli_speed.py``), and a read-only
command such as ``balances`` never loads Alembic. Commands registered through entry points keep
their own registration as light.

Every refusal or bad input ends with a one-line message on stderr and a non-zero exit status;
tracebacks are for bugs only. Exit codes: 0 success, 1 refused (a ledger rule or bad input),
2 usage, 3 ``check`` found problems, 4 database unavailable.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from ledger import database_url
from ledger.errors import InfrastructureError, LedgerError
from ledger.money import format_pence, parse_pence

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from ledger.readout import PotBalance

T = TypeVar("T")
PLUGIN_GROUP = "commonpurse.commands"
# ledger.models.USER_ROLES, spelt out so that --help need not import the models
# (tests/test_cli_speed.py checks that the two agree).
USER_ROLES = ("admin", "officer", "intermediary", "finance", "viewer")
EXIT_REFUSED = 1
EXIT_CHECK_FAILED = 3
EXIT_DATABASE = 4


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


def user_of(args: argparse.Namespace) -> str:
    return str(args.user or os.environ.get("COMMONPURSE_USER") or getpass.getuser())


def engine_for(args: argparse.Namespace, *, create: bool = True) -> Engine:
    """The engine for ``--db`` / the environment / the default, with the schema at head."""
    from ledger import db

    engine = db.make_engine(db.resolve_url(args.db))
    if create:
        db.ensure_schema(engine)
    return engine


def in_transaction(args: argparse.Namespace, work: Callable[[Session], T]) -> T:
    """``work`` in one transaction on the ledger of ``--db`` (its schema at head), tried again
    while the database is busy; the engine is released after, whatever happened."""
    from ledger import db

    engine = engine_for(args)
    try:
        return db.run_in_transaction(db.session_factory(engine), work)
    finally:
        engine.dispose()


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db
    from ledger import operations as ops

    engine = engine_for(args, create=False)
    db.upgrade(engine)

    def settings(session: Session) -> None:
        if args.accountable_body:
            ops.ensure_organisation(session, args.accountable_body, ["accountable_body"])
            ops.set_setting(session, ops.ACCOUNTABLE_BODY, args.accountable_body)
        if args.self_approval_limit is not None:
            limit = parse_pence(args.self_approval_limit)
            ops.set_setting(session, ops.SELF_APPROVAL_LIMIT, str(limit))

    db.run_in_transaction(db.session_factory(engine), settings)
    out.write(
        f"Ledger ready at {engine.url.render_as_string(hide_password=True)}"
        f" (schema {db.head_revision()})\n"
    )
    return 0


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db, timeline
    from ledger.demo import load_demo
    from ledger.readout import pot_balances

    engine = engine_for(args)
    factory = db.session_factory(engine)
    db.run_in_transaction(factory, load_demo)
    out.write(
        "Loaded Clackmannanshire's Whole Family Wellbeing Fund figures (Appendix 2) and the"
        " Corra Promise Partnership award.\n\n"
    )
    try:
        with factory() as session:
            _print_balances(pot_balances(session), out)
            _print_years(timeline.years_notes(session), out)
    finally:
        # Closed now, not whenever the collector gets to it: closing the last connection
        # checkpoints SQLite's WAL into the ledger's file.
        engine.dispose()
    return 0


IMPORT_COLLECTION_THRESHOLD = 50_000
"""Objects made, net, between the cyclic garbage collector's runs during an import."""


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector seldom while an import runs (loading the modules it
    needs included). A row makes a few dozen short-lived objects, nearly none of them in
    reference cycles, and the working set holds tens of thousands more; at Python's default (a
    run every 700 objects) the collector visits them hundreds of times, about 3% of a large
    import's time. This process does nothing else meanwhile, and the default comes back
    afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(IMPORT_COLLECTION_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@_rare_collections()
def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db
    from ledger.importer import MAX_LINE_CHARS, ImportResult, import_rows

    engine = engine_for(args)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path} is not a file")
    show_progress = sys.stderr.isatty()
    started = time.monotonic()

    def progress(rows: int) -> None:
        if rows % 500 == 0:
            sys.stderr.write(f"\r  {rows:,} rows imported ({time.monotonic() - started:.0f}s)")
            sys.stderr.flush()

    def run(session: Session) -> object:
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return import_rows(
                    session,
                    # At most MAX_LINE_CHARS at a time, so one enormous line is refused
                    # without being held whole.
                    iter(partial(handle.readline, MAX_LINE_CHARS), ""),
                    source_name=path.name,
                    entered_by=user_of(args),
                    approved_by=args.approved_by,
                    progress=progress if show_progress else None,
                )
        except UnicodeDecodeError as error:
            offset, line = _first_bad_utf8(path)
            raise CliError(
                f"{path.name} is not UTF-8 text (line {line}, byte {offset}); save it as"
                " 'CSV UTF-8'. Nothing was imported."
            ) from error

    try:
        result = db.run_in_transaction(db.session_factory(engine), run)
    finally:
        if show_progress:
            sys.stderr.write("\n")
    assert isinstance(result, ImportResult)
    out.write(
        f"Imported {path.name}: {result.rows} rows, {result.new_entries} new journal entries,"
        f" {result.pending} awaiting approval, {result.already_recorded} already recorded.\n"
    )
    return 0


def _first_bad_utf8(path: Path) -> tuple[int, int]:
    """Where a file stops being UTF-8: (byte offset in the file, line number), streamed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return offset + error.start, line + chunk[: error.start].count(b"\n")
            offset += len(chunk)
            line += chunk.count(b"\n")
    return offset, line


def cmd_balances(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db, years
    from ledger.readout import pot_balances

    engine = engine_for(args)
    pot_ids: list[int] | None = None
    if args.pot is not None:
        from ledger import operations as ops

        with db.reader_factory(engine)() as session:
            pot_ids = [ops.find_pot(session, args.pot).id]  # refuses a pot not in the ledger
    # Plain SQL on a read-only connection: no mapped classes are loaded to print the figures.
    with db.reading(engine).connect() as connection:
        if pot_ids is None:
            balances = pot_balances(connection)
        else:
            balances = pot_balances(connection, pot_id=pot_ids[0])
        json_years = years.years_json(connection, pot_ids) if args.json else None
        notes = years.years_notes(connection, pot_ids)
    if json_years is not None:
        json.dump({"pots": [b.as_json() for b in balances], **json_years}, out, indent=2)
        out.write("\n")
    else:
        _print_balances(balances, out)
        _print_years(notes, out)
    return 0


def _print_years(notes: Sequence[str], out: TextIO) -> None:
    """The years of each award and any expected funding (``ledger.timeline.years_notes``)."""
    if notes:
        out.write("\nAward years and expected funding:\n")
        for note in notes:
            out.write(f"- {note}\n")


def _print_balances(balances: Sequence[PotBalance], out: TextIO) -> None:
    if not balances:
        out.write("No pots yet.\n")
        return
    from ledger.readout import balances_layout

    layout = balances_layout(list(balances))
    heads = ("Pot", "Administered by", *(c.heading for c in layout.columns))
    rows = [
        (b.name, b.administered_by, *(format_pence(c.of(b)) for c in layout.columns))
        for b in balances
    ]
    widths = [max(len(str(r[i])) for r in (heads, *rows)) for i in range(len(heads))]
    for row in (heads, *rows):
        cells = [
            str(c).ljust(w) if i < 2 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")
    if layout.note:
        out.write(f"{layout.note}\n")
    for b in balances:
        if b.assumed:
            out.write(
                f"\nNote: {b.name} includes {format_pence(b.assumed)} recorded as an assumption,"
                " not from a named funder: its allocations exceed what the documents show was"
                f" awarded by {format_pence(b.assumed)}.\n"
            )
        if b.parent_pot:
            out.write(f"{b.name} is delegated from {b.parent_pot}.\n")


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db
    from ledger.check import check

    engine = engine_for(args)
    with db.reader_factory(engine)() as session:
        report = check(session)
    out.write(
        f"Checked {report.entries} entries, {report.lines} lines, {report.accounts} accounts"
        f" and {report.figures} figures.\n"
    )
    for warning in report.warnings:
        out.write(f"WARNING {warning}\n")
    if report.ok:
        # Written down outside the ledger (a board paper, the auditor's file), the tip pins the
        # journal as it stands: a later rewrite, even one that recomputes the chain, differs.
        out.write(f"Journal hash chain tip: {report.chain_tip}\n")
        out.write("OK: every entry balances and every balance matches the journal.\n")
        return 0
    for problem in report.problems:
        out.write(f"PROBLEM {problem}\n")
    out.write(f"{len(report.problems)} problem(s) found.\n")
    return EXIT_CHECK_FAILED


def cmd_backup(args: argparse.Namespace, out: TextIO) -> int:
    import sqlite3

    from ledger import db
    from ledger.backup import backup_sqlite, human_size, sqlite_path

    source = sqlite_path(db.resolve_url(args.db))
    try:
        result = backup_sqlite(source, Path(args.file), force=args.force)
    except sqlite3.Error as error:
        raise CliError(f"The database refused the request: {error}", EXIT_DATABASE) from error
    except OSError as error:
        raise CliError(
            f"Could not write the backup: {error.strerror or error}"
            + (f" ({error.filename})" if error.filename else "")
        ) from error
    copied = (
        f"Backed up {result.entries:,} entries to {result.path} ({human_size(result.size_bytes)})"
    )
    if not result.ok:
        out.write(f"{copied}; check found {len(result.problems)} problem(s):\n")
        for problem in result.problems:
            out.write(f"PROBLEM {problem}\n")
        return EXIT_CHECK_FAILED
    if result.checked:
        out.write(f"{copied}; check OK\n")
    else:
        out.write(
            f"{copied}; not checked: its schema is at revision {result.revision} and this"
            f" commonpurse checks revision {db.head_revision()}\n"
        )
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CliError("No terminal to ask for the password on; pipe it in with --password-stdin")
    first = getpass.getpass("Password (12 characters or more): ")
    if first != getpass.getpass("Same password again: "):
        raise CliError("The two passwords differ; nothing was changed")
    return first


def cmd_user_add(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db, users

    password = _read_password(args)
    engine = engine_for(args)
    db.run_in_transaction(
        db.session_factory(engine),
        lambda s: users.add_user(
            s,
            username=args.username,
            password=password,
            role=args.role,
            organisation=args.organisation,
            display_name=args.name or "",
            added_by=user_of(args),
        ),
    )
    out.write(
        f"Added {args.username} as {args.role}"
        + (f" for {args.organisation}" if args.organisation else "")
        + ".\n"
    )
    return 0


def cmd_user_role(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db, users

    engine = engine_for(args)
    db.run_in_transaction(
        db.session_factory(engine),
        lambda s: users.set_role(
            s,
            username=args.username,
            role=args.role,
            organisation=args.organisation,
            changed_by=user_of(args),
        ),
    )
    out.write(f"{args.username} is now {args.role}.\n")
    return 0


def cmd_user_password(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db, users

    if args.one_time:
        engine = engine_for(args)
        given = db.run_in_transaction(
            db.session_factory(engine),
            lambda s: users.reset_password(s, username=args.username, changed_by=user_of(args)),
        )
        out.write(
            f"One-time password for {args.username}, shown only this once; they must choose"
            f" their own when they next sign in:\n{given}\n"
        )
        return 0
    password = _read_password(args)
    engine = engine_for(args)
    db.run_in_transaction(
        db.session_factory(engine),
        lambda s: users.set_password(
            s, username=args.username, password=password, changed_by=user_of(args)
        ),
    )
    out.write(f"Password changed for {args.username}.\n")
    return 0


def cmd_user_list(args: argparse.Namespace, out: TextIO) -> int:
    from sqlalchemy import select

    from ledger import db
    from ledger.models import User

    engine = engine_for(args)
    with db.reader_factory(engine)() as session:
        people = [
            {
                "username": u.username,
                "name": u.display_name,
                "role": u.role,
                "organisation": u.organisation.name if u.organisation else None,
                "status": "deactivated"
                if not u.active
                else "one-time password"
                if u.must_change_password
                else "active",
                "last_signed_in": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in session.scalars(select(User).order_by(User.username))
        ]
    if args.json:
        json.dump({"users": people}, out, indent=2)
        out.write("\n")
        return 0
    rows: list[tuple[str, ...]] = [("Username", "Name", "Role", "Status")]
    for p in people:
        role = f"{p['role']} ({p['organisation']})" if p["organisation"] else str(p["role"])
        rows.append((str(p["username"]), str(p["name"]), role, str(p["status"])))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0


def cmd_user_active(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import db, users

    active = args.user_command == "reactivate"
    engine = engine_for(args)
    db.run_in_transaction(
        db.session_factory(engine),
        lambda s: users.set_active(
            s, username=args.username, active=active, changed_by=user_of(args)
        ),
    )
    out.write(
        f"{args.username} can sign in again.\n"
        if active
        else f"{args.username} is deactivated: every session of theirs has ended.\n"
    )
    return 0


def _add_user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="people who sign in to the web app, and their roles")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    roles = ", ".join(USER_ROLES)

    add = user_sub.add_parser("add", help="add a person with a role")
    add.add_argument("username")
    add.add_argument("--role", required=True, help=f"one of {roles}")
    add.add_argument("--organisation", help="for an intermediary: the organisation (e.g. CTSI)")
    add.add_argument("--name", help="the name shown in the app")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    add.set_defaults(func=cmd_user_add)

    role = user_sub.add_parser("role", help="change a person's role")
    role.add_argument("username")
    role.add_argument("role", help=f"one of {roles}")
    role.add_argument("--organisation", help="for an intermediary: the organisation")
    role.set_defaults(func=cmd_user_role)

    password = user_sub.add_parser("password", help="set a new password (also unlocks)")
    password.add_argument("username")
    given = password.add_mutually_exclusive_group()
    given.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    given.add_argument(
        "--one-time",
        action="store_true",
        help="make a one-time password, printed once, that they must change at next sign-in",
    )
    password.set_defaults(func=cmd_user_password)

    listing = user_sub.add_parser("list", help="everyone who can sign in, with role and status")
    listing.add_argument("--json", action="store_true", help="machine-readable")
    listing.set_defaults(func=cmd_user_list)

    for action, what in (
        ("deactivate", "stop a person signing in and end their sessions (never deletes)"),
        ("reactivate", "let a deactivated person sign in again"),
    ):
        parser = user_sub.add_parser(action, help=what)
        parser.add_argument("username")
        parser.set_defaults(func=cmd_user_active)


def build_parser(*, plugins: bool = True) -> argparse.ArgumentParser:
    """The whole command line; with ``plugins=False`` only the ledger's own commands."""
    parser = argparse.ArgumentParser(
        prog="commonpurse",
        description="A pence-exact double-entry ledger for grant and commissioning consortia.",
    )
    parser.add_argument(
        "--db",
        help=f"database URL (default: ${database_url.ENV_URL}, else {database_url.default_url()})",
    )
    parser.add_argument(
        "--user", help="who is acting (default: $COMMONPURSE_USER, else your login name)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="create or upgrade the ledger's schema and settings")
    init.add_argument("--accountable-body", help="the body that receives awards, e.g. a council")
    init.add_argument(
        "--self-approval-limit",
        metavar="AMOUNT",
        help="amounts up to this may be entered and approved by one person",
    )
    init.set_defaults(func=cmd_init)

    demo = sub.add_parser("demo", help="load Clackmannanshire's figures and show the balances")
    demo.set_defaults(func=cmd_demo)

    imp = sub.add_parser("import", help="apply a CSV of operations in one transaction")
    imp.add_argument(
        "file",
        help="CSV with header "
        + ",".join(
            (
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
        ),
    )
    imp.add_argument(
        "--approved-by",
        required=True,
        help="the authority the import is approved under (recorded on every row)",
    )
    imp.set_defaults(func=cmd_import)

    bal = sub.add_parser("balances", help="every pot's funded, allocated, paid... figures")
    bal.add_argument("--json", action="store_true", help="machine-readable, amounts in pence")
    bal.add_argument("--pot", metavar="NAME", help="only this pot")
    bal.set_defaults(func=cmd_balances)

    chk = sub.add_parser("check", help="recompute every balance and invariant from the journal")
    chk.set_defaults(func=cmd_check)

    bak = sub.add_parser(
        "backup",
        help="copy a live SQLite ledger to FILE, then check the copy",
        description="Copy the SQLite ledger to FILE with SQLite's online backup, safely while"
        " others write, then check the copy as 'commonpurse check' does. FILE appears only"
        " once the copy is complete. For PostgreSQL use pg_dump (see the README).",
    )
    bak.add_argument("file", metavar="FILE", help="where to write the backup")
    bak.add_argument("--force", action="store_true", help="replace FILE if it exists")
    bak.set_defaults(func=cmd_backup)
    _add_user_commands(sub)
    if plugins:
        _add_plugin_commands(sub)
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands from the layers above (statements, web) register themselves through entry
    points, so the ledger never imports them."""
    for plugin in sorted(entry_points(group=PLUGIN_GROUP), key=lambda ep: ep.name):
        try:
            register = plugin.load()
        except Exception as error:  # a broken add-on must not take the ledger's commands down
            sys.stderr.write(
                f"commonpurse: the '{plugin.name}' command could not be loaded ({error});"
                " the other commands still work\n"
            )
            continue
        register(sub)


def entry_points(group: str) -> Sequence[EntryPoint]:
    """The installed entry points of ``group``; importlib.metadata is imported only here."""
    from importlib.metadata import entry_points as installed

    return tuple(installed(group=group))


LEDGER_COMMANDS = frozenset({"init", "demo", "import", "balances", "check", "backup", "user"})
OPTIONS_WITH_VALUES = frozenset({"--db", "--user"})


def needs_plugins(argv: Sequence[str]) -> bool:
    """False when ``argv`` names one of the ledger's own commands: then reading the installed
    packages' entry points (importlib.metadata, a good part of a quick command's start) is
    skipped. Top-level ``--help``, a plugin's command or a mistake load them all."""
    words = iter(argv)
    for word in words:
        if word in OPTIONS_WITH_VALUES:
            next(words, None)
        elif not word.startswith("-"):
            return word not in LEDGER_COMMANDS
    return True


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(plugins=needs_plugins(argv))
    args = parser.parse_args(argv)
    stdout = out or sys.stdout
    func: Callable[[argparse.Namespace, TextIO], int] = args.func
    try:
        return func(args, stdout)
    except CliError as error:
        return _fail(str(error), error.code)
    except LedgerError as error:
        return _fail(str(error), EXIT_REFUSED)
    except InfrastructureError as error:
        return _fail(str(error), EXIT_DATABASE)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as error:  # only SQLAlchemy's errors; anything else is a bug: re-raised
        if not _is_database_error(error):
            raise
        return _fail(f"The database refused the request: {_first_line(error)}", EXIT_DATABASE)
    except KeyboardInterrupt:
        return _fail("Interrupted; nothing from the unfinished operation was written.", 130)


def _is_database_error(error: Exception) -> bool:
    """A SQLAlchemy error, without importing SQLAlchemy when no command has (``--help``)."""
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.SQLAlchemyError)


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)
    return str(orig or error).strip().splitlines()[0]


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"commonpurse: {message}\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
