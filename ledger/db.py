"""Where the ledger lives: engines, the schema (through Alembic only) and transactions.

SQLite is the default: one file, created on first use, foreign keys on, WAL, and every
transaction begins IMMEDIATE so that writers queue behind one another (with a busy timeout)
instead of failing half-way. PostgreSQL is reached through a URL; there operations lock the pots
they touch (``SELECT ... FOR UPDATE``) and CHECK constraints back every guard.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

# Re-exported: callers name them as db.ENV_URL, db.default_url and db.resolve_url.
from ledger.database_url import ENV_URL as ENV_URL
from ledger.database_url import default_url as default_url
from ledger.database_url import resolve_url as resolve_url
from ledger.errors import DatabaseUnavailable, LedgerBusy, SchemaError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "commonpurse_read_only"

T = TypeVar("T")


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
    from ledger.models import declare_postgresql_where

    declare_postgresql_where()  # the PostgreSQL dialect is loaded for this engine anyway
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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's configuration interpolates "%(name)s": a URL's %-escapes (a socket path, a
    # password with "%40") are doubled so they reach the driver as typed.
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


@cache
def head_revision() -> str:
    """The newest migration's revision id.

    Read from the ``revision`` and ``down_revision`` lines of the migration files rather than
    through Alembic, whose import alone takes longer than a whole read-only command; when the
    files do not show exactly one head, Alembic is asked (and says what is wrong).
    ``tests/test_migrations.py`` checks that both give the same answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        parents.update(_DOWN_REVISION.findall(source))
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    return alembic_head_revision()


_REVISION = re.compile(r"""^revision(?::[^=\n]*)?=\s*["'](\w+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision(?::[^=\n]*)?=\s*["'](\w+)["']""", re.MULTILINE)


def alembic_head_revision() -> str:
    """The head as Alembic finds it, from the migration scripts themselves."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:  # pragma: no cover - the project always ships migrations
        raise SchemaError("No migrations found")
    return head


def reading(engine: Engine) -> Engine:
    """The same database for reading only: on SQLite its transactions take no write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def current_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded in the database, or None before the first migration.
    Read with one query, as Alembic itself reads it, without importing Alembic."""
    with _plain_errors(), reading(engine).connect() as connection:
        if not connection.dialect.has_table(connection, VERSION_TABLE):
            return None
        versions = list(
            connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars()
        )
    if len(versions) > 1:
        raise SchemaError(
            f"This ledger's schema records several revisions ({', '.join(versions)});"
            " it was not upgraded by commonpurse"
        )
    return str(versions[0]) if versions else None


VERSION_TABLE = "alembic_version"


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with _plain_errors():
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

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
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)


def reader_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-outs (balances, statements, web pages): never block writers."""
    from sqlalchemy.orm import sessionmaker

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
