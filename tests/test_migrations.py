"""The schema exists only through Alembic: up from empty to head, down to empty, and the
models never drift from the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import db
from ledger import operations as ops
from ledger.check import check
from ledger.demo import load_demo
from ledger.models import Base, Entry
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


def _chain(engine: Engine) -> list[tuple[int, int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, chain_seq, chain_sha256 FROM entries ORDER BY id")
        ).all()
    return [(int(i), int(seq), str(sha)) for i, seq, sha in rows]


def _reverse(session: Session, reference: str) -> None:
    entry_id = session.scalars(select(Entry.id).where(Entry.reference == reference)).one()
    ops.reverse(
        session,
        entry_id=entry_id,
        reason="Recorded in error",
        entered_by="finance",
        approved_by="officer",
    )


def test_a_ledger_with_entries_goes_down_to_0003_and_back_up_with_the_same_hash_chain(
    ledgers: LedgerFactory,
) -> None:
    """0004's downgrade keeps every entry; its upgrade chains existing entries exactly as
    posting them did, so a ledger from before the chain checks clean once upgraded."""
    engine = db.make_engine(ledgers.new())
    factory = db.session_factory(engine)
    try:
        db.run_in_transaction(factory, load_demo)
        db.run_in_transaction(factory, lambda s: _reverse(s, "CTSI-22-05"))
        posted = _chain(engine)
        assert [seq for _, seq, _ in posted] == list(range(1, len(posted) + 1))

        db.downgrade(engine, "0003")
        columns = {column["name"] for column in inspect(engine).get_columns("entries")}
        assert {"chain_seq", "chain_sha256"}.isdisjoint(columns)
        assert "journal_head" not in inspect(engine).get_table_names()
        with engine.begin() as connection:  # no triggers at 0003
            connection.execute(text("UPDATE entries SET memo = memo"))
            assert connection.execute(text("SELECT count(*) FROM entries")).scalar_one() == len(
                posted
            )

        db.upgrade(engine)

        assert _chain(engine) == posted
        report = db.run_in_transaction(factory, check)
        assert report.ok, [str(p) for p in report.problems]
        try:
            with engine.begin() as connection:
                connection.execute(text("UPDATE entries SET memo = memo"))
        except IntegrityError as refused:
            assert "journal entries are append-only" in str(refused)
        else:
            raise AssertionError("the upgraded ledger let an entry be updated")
        db.run_in_transaction(factory, lambda s: _reverse(s, "CTSI-22-04"))
        assert [seq for _, seq, _ in _chain(engine)] == list(range(1, len(posted) + 2))
        report = db.run_in_transaction(factory, check)
        assert report.ok, [str(p) for p in report.problems]
    finally:
        db.upgrade(engine)
        engine.dispose()
