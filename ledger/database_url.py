"""Which database the ledger is in: ``--db``, else ``$COMMONPURSE_DATABASE_URL``, else a SQLite
file in the user's data folder. Standard library only, so that ``commonpurse --help`` can name
the default without importing SQLAlchemy (``ledger.db`` re-exports these)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_URL = "COMMONPURSE_DATABASE_URL"


def default_url() -> str:
    """The SQLite file used when neither ``--db`` nor the environment names a database."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'commonpurse' / 'commonpurse.sqlite3'}"


def resolve_url(cli_url: str | None = None) -> str:
    return cli_url or os.environ.get(ENV_URL) or default_url()
