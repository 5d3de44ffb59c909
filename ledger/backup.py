"""``commonpurse backup FILE``: a consistent copy of a live SQLite ledger.

The copy is made with SQLite's online backup API (``sqlite3.Connection.backup``) in one step,
inside one read transaction, so it is a snapshot of the ledger as of one commit even while other
processes write (in WAL mode readers and writers do not block one another). It is written to a
temporary file beside FILE, switched to a rollback journal so that it is a single self-contained
file, flushed to disk, checked, and only then renamed to FILE: a crash or Ctrl+C at any moment
leaves either no FILE or a complete one, never half a backup under FILE's name.

The copy is then checked as ``commonpurse check`` checks a ledger (``ledger.check.check``), plus
SQLite's own ``PRAGMA integrity_check``. A ledger at an older schema (backed up before
``commonpurse init`` upgrades it) is copied but not checked: the check reads the current schema.

PostgreSQL is refused: ``pg_dump`` is its backup tool (see Backups in the README).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from ledger import db
from ledger.check import check
from ledger.errors import LedgerError

SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupRefused(LedgerError):
    """The backup cannot be made as asked; nothing was written under the backup's name."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    entries: int
    revision: str
    checked: bool  # False when the ledger's schema is not the one this commonpurse checks
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def sqlite_path(url: str) -> Path:
    """The ledger file a database URL names; refuses anything that is not a SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        raise BackupRefused(
            "backup copies SQLite ledgers; for PostgreSQL use pg_dump"
            " (pg_dump -Fc -f FILE DBNAME), see Backups in the README"
        )
    if parsed.get_backend_name() != "sqlite":
        raise BackupRefused(
            f"backup copies SQLite ledgers, not {parsed.get_backend_name()} databases"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupRefused("An in-memory SQLite database has no file to back up")
    return Path(parsed.database).expanduser()


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> BackupResult:
    """Copy the ledger at ``source`` to ``target`` (see the module's docstring).

    Refusals raise ``BackupRefused``; SQLite's own errors (``sqlite3.Error``: not a database,
    locked for too long) and the file system's (``OSError``) propagate. In every case the
    temporary copy is removed and nothing appears under ``target``'s name."""
    source = source.expanduser()
    target = target.expanduser()
    _refuse_unsafe_target(source, target, force=force)
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        shutil.copymode(source, temp)  # as readable as the ledger, no more (mkstemp gives 0600)
        copy_database(source, temp)
        revision, entries, checked, problems = verify_copy(temp, label=str(source))
        _install(temp, target, force=force)
    finally:
        for leftover in (temp, *(temp.with_name(temp.name + s) for s in SIDE_FILES)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return BackupResult(
        path=target,
        size_bytes=target.stat().st_size,
        entries=entries,
        revision=revision,
        checked=checked,
        problems=problems,
    )


def _refuse_unsafe_target(source: Path, target: Path, *, force: bool) -> None:
    if not source.is_file():
        raise BackupRefused(f"There is no ledger at {source}; nothing to back up")
    if not target.parent.is_dir():
        raise BackupRefused(f"The folder {target.parent} does not exist")
    if target.is_dir():
        raise BackupRefused(f"{target} is a folder; give the name of the backup file")
    same_folder = target.parent.resolve() == source.parent.resolve()
    if (target.exists() and os.path.samefile(source, target)) or (
        same_folder and target.name in {source.name + s for s in SIDE_FILES}
    ):
        raise BackupRefused(f"{target} is part of the ledger itself; back it up to another file")
    if target.exists() and not force:
        raise _exists(target)


def copy_database(source: Path, destination: Path) -> None:
    """Copy every page of ``source`` to ``destination`` in one step, as one snapshot, and leave
    the copy as a single file (rollback journal, not WAL) flushed to disk."""
    # mode=rw: never create an empty database where the ledger should be.
    reader = sqlite3.connect(
        source.resolve().as_uri() + "?mode=rw",
        uri=True,
        timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000,
    )
    try:
        writer = sqlite3.connect(destination)
        try:
            reader.backup(writer, pages=-1)  # all pages in one step: one read transaction
            writer.execute("PRAGMA journal_mode = DELETE")
        finally:
            writer.close()
    finally:
        reader.close()
    with destination.open("rb") as copied:
        os.fsync(copied.fileno())


def verify_copy(path: Path, *, label: str) -> tuple[str, int, bool, tuple[str, ...]]:
    """(schema revision, entries, whether the ledger check ran, problems) for a copy of the
    ledger called ``label`` in messages."""
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None:
            raise BackupRefused(
                f"{label} is not a commonpurse ledger (it has no schema version); nothing was"
                " backed up"
            )
        revision = str(row[0])
        integrity = [str(r[0]) for r in connection.execute("PRAGMA integrity_check")]
        entries = int(connection.execute("SELECT count(*) FROM entries").fetchone()[0])
    finally:
        connection.close()
    problems = [] if integrity == ["ok"] else [f"SQLite integrity: {line}" for line in integrity]
    if revision != db.head_revision():
        return revision, entries, False, tuple(problems)
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True),
        poolclass=NullPool,
    )
    try:
        with db.session_factory(engine)() as session:
            report = check(session)
    finally:
        engine.dispose()
    problems += [str(problem) for problem in report.problems]
    return revision, report.entries, True, tuple(problems)


def _install(temp: Path, target: Path, *, force: bool) -> None:
    """Give the finished copy its name in one step, and make the rename durable."""
    if force:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)  # fails if FILE appeared meanwhile: never overwrite it
        except FileExistsError:
            raise _exists(target) from None
        except OSError:  # a file system without hard links: check, then rename
            if target.exists():
                raise _exists(target) from None
            os.replace(temp, target)
    _fsync_folder(target.parent)


def _exists(target: Path) -> BackupRefused:
    return BackupRefused(f"{target} already exists; use --force to replace it")


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def human_size(size_bytes: int) -> str:
    """``812 bytes``, ``40.0 KB``, ``2.1 MB``, ``1.3 GB`` (powers of 1,024)."""
    if size_bytes < 1024:
        return f"{size_bytes:,} bytes"
    # Integer arithmetic in tenths of a unit, rounded half up, as everywhere else.
    divisor = 1024
    for unit in ("KB", "MB", "GB"):
        if size_bytes < divisor * 1024 or unit == "GB":
            break
        divisor *= 1024
    tenths = (size_bytes * 10 + divisor // 2) // divisor
    return f"{tenths // 10:,}.{tenths % 10} {unit}"
