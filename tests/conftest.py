"""Fixtures: a fresh, migrated ledger for every test, on SQLite or PostgreSQL.

``COMMONPURSE_TEST_DATABASE_URL`` (set by scripts/test for its second run) points the whole suite
at a PostgreSQL database; otherwise each test gets its own SQLite file copied from a template
migrated once per session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from ledger import chain, db
from ledger.models import Base, JournalHead

T = TypeVar("T")
POSTGRES_URL = os.environ.get("COMMONPURSE_TEST_DATABASE_URL")


def on_postgres() -> bool:
    return bool(POSTGRES_URL)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ledger.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    engine = db.make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    """Empty every table (TRUNCATE fires no row triggers, so the append-only journal empties
    too) and put back the journal head's genesis row, as the migration seeds it."""
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(
            insert(JournalHead).values(id=chain.HEAD_ID, last_seq=0, last_sha256=chain.GENESIS)
        )


class LedgerFactory:
    """Makes fresh ledgers: ``new()`` returns the URL of an empty, migrated database."""

    def __init__(self, tmp: Path, template: Path, pg: Engine | None) -> None:
        self.tmp = tmp
        self.template = template
        self.pg = pg
        self.count = 0

    def new(self) -> str:
        if self.pg is not None:
            _truncate(self.pg)
            return self.pg.url.render_as_string(hide_password=False)
        self.count += 1
        path = self.tmp / f"ledger-{self.count}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_second_engine(postgres_engine: Engine | None) -> Iterator[Engine | None]:
    """A second database on the same PostgreSQL server, made and migrated once per run, for the
    tests that keep two ledgers side by side (the two writers compared step by step)."""
    if postgres_engine is None:
        yield None
        return
    url = postgres_engine.url
    second = url.set(database=f"{url.database}_second")
    with postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{second.database}"')
        c.exec_driver_sql(f'CREATE DATABASE "{second.database}"')
    engine = db.make_engine(second.render_as_string(hide_password=False))
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ledgers(tmp_path: Path, sqlite_template: Path, postgres_engine: Engine | None) -> LedgerFactory:
    return LedgerFactory(tmp_path, sqlite_template, postgres_engine)


class LedgerPairs:
    """Makes two fresh, empty ledgers at once: ``new()`` returns two URLs, two SQLite files or
    the run's two PostgreSQL databases, both emptied."""

    def __init__(self, ledgers: LedgerFactory, second: Engine | None) -> None:
        self.ledgers = ledgers
        self.second = second

    def new(self) -> tuple[str, str]:
        if self.second is None:
            return self.ledgers.new(), self.ledgers.new()
        _truncate(self.second)
        return self.ledgers.new(), self.second.url.render_as_string(hide_password=False)


@pytest.fixture
def ledger_pairs(ledgers: LedgerFactory, postgres_second_engine: Engine | None) -> LedgerPairs:
    return LedgerPairs(ledgers, postgres_second_engine)


@pytest.fixture
def database_url(ledgers: LedgerFactory) -> str:
    return ledgers.new()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


@pytest.fixture
def run(factory: sessionmaker[Session]) -> Callable[[Callable[[Session], T]], T]:
    """Run one operation in its own transaction, as the CLI and the web do."""

    def _run(operation: Callable[[Session], T]) -> T:
        return db.run_in_transaction(factory, operation)

    return _run
