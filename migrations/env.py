"""Alembic environment: the only way the ledger's schema changes.

Run programmatically by ``ledger.db.upgrade`` (which passes its engine), or by ``alembic`` with
``-x url=...`` for development.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from ledger.db import make_engine
from ledger.models import Base, declare_postgresql_where

config = context.config
declare_postgresql_where()  # the migrations' partial indexes, as PostgreSQL has them
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("Give the database URL: alembic -x url=sqlite:///ledger.sqlite3 ...")
    return make_engine(url)


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("commonpurse migrations run online only")
run_migrations_online()
