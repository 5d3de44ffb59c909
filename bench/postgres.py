"""A throwaway PostgreSQL server for the benchmark (``scripts/pg-throwaway``), one database per
ledger."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import make_url

from bench.measure import StepFailed


class ThrowawayPostgres:
    def __init__(self, scripts: Path) -> None:
        self.script = scripts / "pg-throwaway"
        self.folder: Path | None = None
        self.url = ""
        self.version = ""

    def start(self) -> str:
        # A short path: the server's unix socket lives in it.
        self.folder = Path(tempfile.mkdtemp(prefix="cp-bench-pg."))
        done = subprocess.run(
            [str(self.script), "start", str(self.folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            self.stop()  # removes what the failed start left behind
            tail = done.stderr.strip().splitlines()[-3:]
            raise StepFailed("PostgreSQL did not start: " + " | ".join(tail))
        self.url = done.stdout.strip().splitlines()[-1]
        self.version = self._query("SHOW server_version") or "?"
        return self.url

    def _plain_url(self, database: str | None = None) -> str:
        url = make_url(self.url).set(drivername="postgresql")
        if database is not None:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    def _query(self, sql: str) -> str | None:
        import psycopg

        with psycopg.connect(self._plain_url(), autocommit=True) as connection:
            row = connection.execute(sql.encode()).fetchone()
        return str(row[0]) if row else None

    def new_database(self, name: str) -> str:
        """An empty database called ``name`` (dropped first if it exists); its SQLAlchemy URL."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name}")
        import psycopg

        with psycopg.connect(self._plain_url(), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name}".encode())
            connection.execute(f"CREATE DATABASE {name}".encode())
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self._plain_url(), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())

    def stop(self) -> None:
        if self.folder is None:
            return
        subprocess.run(
            [str(self.script), "stop", str(self.folder)], capture_output=True, check=False
        )
        self.folder = None
