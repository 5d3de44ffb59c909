"""Where the ledger lives: engines, the schema (through Alembic only) and transactions.

SQLite is the default: one file, created on first use, foreign keys on, WAL, and every
transaction begins IMMEDIATE so that writers queue behind one another (with a busy timeout)
instead of failing half-way. PostgreSQL is reached through a URL; there operations lock the pots
they touch (``SELECT ... FOR UPDATE``) and CHECK constraints back every guard.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ledger.errors import DatabaseUnavailable, LedgerBusy, SchemaError

ENV_URL = "COMMONPURSE_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "commonpurse_read_only"

T = TypeVar("T")


def default_url() -> str:
    """The SQLite file used when neither ``--db`` nor the environment names a database."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'commonpurse' / 'commonpurse.sqlite3'}"


def resolve_url(cli_url: str | None = None) -> str:
    return cli_url or os.environ.get(ENV_URL) or default_url()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine configured for the ledger; creates the SQLite file's folder if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN IMMEDIATE below is the only
        # BEGIN; otherwise pysqlite begins lazily and a reader can later fail to upgrade its lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers take no write lock: in WAL mode they see a consistent snapshot and neither
        # wait for writers nor make writers wait. Writers queue for the write lock up front.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's configuration interpolates "%(name)s": a URL's %-escapes (a socket path, a
    # password with "%40") are doubled so they reach the driver as typed.
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:  # pragma: no cover - the project always ships migrations
        raise SchemaError("No migrations found")
    return head


def reading(engine: Engine) -> Engine:
    """The same database for reading only: on SQLite its transactions take no write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def current_revision(engine: Engine) -> str | None:
    with _plain_errors(), reading(engine).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with _plain_errors():
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """Create the schema on first use; refuse to touch a ledger at another revision."""
    current = current_revision(engine)
    if current is None:
        upgrade(engine)
        return
    head = head_revision()
    if current != head:
        raise SchemaError(
            f"This ledger's schema is at revision {current} but this commonpurse expects {head};"
            " run 'commonpurse init' to upgrade it (take a backup first)"
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def reader_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-outs (balances, statements, web pages): never block writers."""
    return sessionmaker(reading(engine), expire_on_commit=False)


@contextmanager
def _plain_errors() -> Iterator[None]:
    try:
        yield
    except (OperationalError, DBAPIError) as error:
        if _is_lock_error(error):
            raise LedgerBusy(BUSY_MESSAGE) from error
        if isinstance(error, OperationalError):
            first = str(error.orig or error).strip().splitlines()[0]
            raise DatabaseUnavailable(f"The database could not be reached: {first}") from error
        raise


BUSY_MESSAGE = "The ledger is busy with other changes; nothing was recorded. Try again in a moment."


def _is_lock_error(error: DBAPIError) -> bool:
    text = str(error.orig).lower()
    return (
        "database is locked" in text
        or "database table is locked" in text
        or "deadlock detected" in text
        or "could not serialize" in text
    )


def _is_unique_race(error: DBAPIError) -> bool:
    """Two transactions created the same new row (an organisation, a pot, a reference) at
    once. Retrying the whole operation finds the other's row and replays or refuses cleanly."""
    return isinstance(error, IntegrityError) and (
        getattr(error.orig, "sqlstate", None) == "23505"
        or "unique constraint failed" in str(error.orig).lower()
    )


def run_in_transaction(
    factory: sessionmaker[Session], operation: Callable[[Session], T], *, attempts: int = 5
) -> T:
    """Run ``operation`` in one transaction: commit if it returns, roll back if it raises.

    Lock time-outs and deadlocks are retried a few times with back-off; if the database stays
    busy the caller gets a ``LedgerBusy`` with a plain message, never a driver error.
    """
    for attempt in range(1, attempts + 1):
        session = factory()
        try:
            with session.begin():
                result = operation(session)
            return result
        except (OperationalError, DBAPIError) as error:
            if not (_is_lock_error(error) or _is_unique_race(error)):
                raise
            if attempt == attempts:
                raise LedgerBusy(BUSY_MESSAGE) from error
            time.sleep(0.05 * 2**attempt)
        finally:
            session.close()
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work without retry, for callers that hold their own session (tests, import)."""
    session = factory()
    try:
        with session.begin():
            yield session
    finally:
        session.close()
