"""The one way the web app reaches the ledger.

One engine per app (in ``app.extensions``). Reads use one Session per request, opened lazily in
``g`` and closed on teardown; it reads through ``ledger.db.reader_factory``, so on SQLite a page
view never takes the write lock and never queues behind someone else's change. Writes go
through ``write(operation)``, which runs the operation in its own transaction with
``ledger.db.run_in_transaction`` (commit, or roll back on a refusal; lock waits retried).
``write`` first ends the request's read transaction, so it never waits on its own reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.db import (
    current_revision,
    head_revision,
    make_engine,
    reader_factory,
    run_in_transaction,
    session_factory,
)

T = TypeVar("T")
EXTENSION = "commonpurse"


@dataclass(frozen=True)
class Ledger:
    engine: Engine
    factory: sessionmaker[Session]  # writes
    reader: sessionmaker[Session]  # page views


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[EXTENSION] = Ledger(engine, session_factory(engine), reader_factory(engine))
    app.teardown_appcontext(_teardown)


def schema_problem(engine: Engine) -> str | None:
    """Why the app cannot serve this database (not created, or at another schema), or None."""
    current = current_revision(engine)
    if current == head_revision():
        return None
    url = engine.url.render_as_string(hide_password=True)
    if current is None:
        return f"The ledger at {url} has no schema yet: run 'commonpurse --db URL init' first"
    return (
        f"The ledger at {url} is at schema {current}, not {head_revision()}: run"
        " 'commonpurse --db URL init' to upgrade it (take a backup first)"
    )


def ledger() -> Ledger:
    return ledger_of(current_app)


def ledger_of(app: Flask) -> Ledger:
    found: Ledger = app.extensions[EXTENSION]
    return found


def session() -> Session:
    """The request's read session (opened on first use)."""
    if "db_session" not in g:
        g.db_session = ledger().reader()
    found: Session = g.db_session
    return found


def close_session() -> None:
    """End the request's read session; the next ``session()`` opens a fresh one."""
    found: Session | None = g.pop("db_session", None)
    if found is not None:
        found.close()


def write(operation: Callable[[Session], T]) -> T:
    """Run ``operation`` in one transaction of its own: committed if it returns, rolled back
    (nothing written) if it raises."""
    close_session()
    return run_in_transaction(ledger().factory, operation)


def dry_run(operation: Callable[[Session], T]) -> T:
    """Run ``operation`` in a transaction that is always rolled back (import previews)."""
    close_session()
    trial = ledger().factory()
    try:
        trial.begin()
        return operation(trial)
    finally:
        trial.rollback()
        trial.close()


def _teardown(_error: BaseException | None) -> None:
    close_session()
