"""The ceiling: the imported ledger's rows written by plain ``sqlite3.executemany``.

After an import, every table's rows of the imported SQLite ledger (organisations and their
roles, funding streams, pots, awards, allocations, shares, accounts, entries, lines, requests,
audit events, settings...) are copied into an empty, freshly migrated SQLite database (created
by ``commonpurse init``, so with the same schema, indexes, CHECK constraints and triggers; a row
a migration seeds, such as the journal's head, is replaced by the source's) with
``executemany``, in one transaction, with no checks by the application: no reads before the
writes, no guards, no figures computed. The connection uses the ledger's own settings (WAL,
``synchronous = NORMAL``) except that foreign keys are not enforced, as nothing here could break
them and the tables refer to one another in a cycle (pots ↔ allocations).

Only the inserts and the commit are timed: the rows are read from the source in chunks between
timed ``executemany`` calls. The result is the fastest the same rows can reach the same schema on
this machine, as rows per second and as "operations per second": the import's operations divided
by the insert seconds.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

CHUNK_ROWS = 50_000
SKIPPED_TABLES = ("alembic_version",)


@dataclass(frozen=True)
class RawResult:
    tables: int
    rows: int
    insert_seconds: float
    operations: int
    rows_by_table: dict[str, int]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.insert_seconds if self.insert_seconds else 0.0

    @property
    def operations_per_second(self) -> float:
        return self.operations / self.insert_seconds if self.insert_seconds else 0.0


def _tables(connection: sqlite3.Connection) -> list[str]:
    names = [
        str(name)
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    return [name for name in names if name not in SKIPPED_TABLES]


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in connection.execute(f'PRAGMA table_info("{table}")')]


def copy_rows(source: Path, target: Path, operations: int) -> RawResult:
    """Copy every row of ``source`` into the empty, migrated ``target``; time the inserts."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, isolation_level=None)
    try:
        dst.execute("PRAGMA journal_mode = WAL")
        dst.execute("PRAGMA synchronous = NORMAL")
        dst.execute("PRAGMA foreign_keys = OFF")
        tables = _tables(src)
        missing = set(tables) - set(_tables(dst))
        if missing:
            raise RuntimeError(f"{target} lacks tables {sorted(missing)}: not the same schema")
        # A migration may seed a table with its one row (the journal's head, say): the source's
        # rows replace those, so the copy ends with exactly the source's rows.
        seeded = {
            table
            for table in tables
            if dst.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        }
        seconds = 0.0
        rows_by_table: dict[str, int] = {}
        started = time.perf_counter()
        dst.execute("BEGIN")
        seconds += time.perf_counter() - started
        for table in tables:
            columns = _columns(src, table)
            names = ", ".join(f'"{c}"' for c in columns)
            verb = "INSERT OR REPLACE" if table in seeded else "INSERT"
            insert = f'{verb} INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
            cursor = src.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')
            copied = 0
            while rows := cursor.fetchmany(CHUNK_ROWS):
                started = time.perf_counter()
                dst.executemany(insert, rows)
                seconds += time.perf_counter() - started
                copied += len(rows)
            rows_by_table[table] = copied
        started = time.perf_counter()
        dst.execute("COMMIT")
        seconds += time.perf_counter() - started
        for table, copied in rows_by_table.items():
            found = dst.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if found != copied:
                raise RuntimeError(f"{table}: copied {copied} rows but {found} are there")
    finally:
        src.close()
        dst.close()
    return RawResult(
        tables=len(rows_by_table),
        rows=sum(rows_by_table.values()),
        insert_seconds=seconds,
        operations=operations,
        rows_by_table=rows_by_table,
    )
