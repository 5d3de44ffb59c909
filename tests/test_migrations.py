"""The schema exists only through Alembic: up from empty to head, down to empty, and the
models never drift from the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from ledger import db
from ledger.models import Base
from tests.conftest import LedgerFactory

LEDGER_TABLES = {table.name for table in Base.metadata.sorted_tables}


def _empty(engine: Engine) -> None:
    """Take the fixture's database back to nothing, whichever engine it is."""
    if db.current_revision(engine) is not None:
        db.downgrade(engine, "base")


def test_upgrade_from_empty_to_head_then_downgrade_back_to_empty(ledgers: LedgerFactory) -> None:
    engine = db.make_engine(ledgers.new())
    try:
        _empty(engine)
        assert LEDGER_TABLES.isdisjoint(inspect(engine).get_table_names())

        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
        assert set(inspect(engine).get_table_names()) >= LEDGER_TABLES

        db.downgrade(engine, "base")
        assert db.current_revision(engine) is None
        assert LEDGER_TABLES.isdisjoint(inspect(engine).get_table_names())
    finally:
        db.upgrade(engine)  # leave the shared PostgreSQL database as other tests expect it
        engine.dispose()


def test_models_and_migrations_do_not_drift_apart(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models differ from migrations: {differences}"


def test_a_ledger_at_another_revision_is_refused_with_a_clear_message(
    ledgers: LedgerFactory,
) -> None:
    engine = db.make_engine(ledgers.new())
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'future'")
        try:
            db.ensure_schema(engine)
        except db.SchemaError as error:
            assert "run 'commonpurse init'" in str(error)
        else:
            raise AssertionError("a ledger at an unknown revision was accepted")
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"UPDATE alembic_version SET version_num = '{db.head_revision()}'"
            )
        engine.dispose()
