"""``commonpurse serve``: the web app on this computer, over the ledger's SQLite file by default.

On first run it loads Clackmannanshire's demo figures (when the ledger has no pots) and, when
there are no users, creates an ``admin`` and one demo user per role, each with a random
password printed once. There is no fixed default password. This uses Flask's development
server, for trying the app on this computer; in production run
``gunicorn 'web:create_app()'`` with ``COMMONPURSE_DATABASE_URL`` and ``COMMONPURSE_SECRET_KEY``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ledger.cli import engine_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the web app on this computer (loads the demo and users on first run)",
        description="Run the web app with Flask's development server, for use on this"
        " computer. On first run it loads the demo figures and creates an admin and demo users"
        " with random passwords, printed once. For production use gunicorn: see the README.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (5000)")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here, not at the top, so registering the command (every `commonpurse` run,
    # `--help` included) imports neither SQLAlchemy nor Flask.
    from ledger import db
    from ledger.demo import load_demo

    engine = engine_for(args)
    factory = db.session_factory(engine)
    if db.run_in_transaction(factory, _has_no_pots):
        db.run_in_transaction(factory, load_demo)
        out.write("The ledger was empty: loaded Clackmannanshire's demo figures.\n")
    created = db.run_in_transaction(factory, _create_demo_users)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()

    from web import create_app

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": os.environ.get("COMMONPURSE_SECRET_KEY") or secrets.token_hex(32),
            "COMMONPURSE_ENV": "development",
            # The development server speaks plain http on this computer.
            "SESSION_COOKIE_SECURE": False,
        }
    )
    address = f"http://{_host_for_url(args.host)}:{args.port}/"
    out.write(f"\ncommonpurse is running at {address}\n")
    _print_sign_in(out, created)
    if args.host not in LOOPBACK:
        out.write(
            "\nWarning: Flask's development server is listening beyond this computer. It is"
            " not for production: use gunicorn over https (see the README).\n"
        )
    out.write("\nPress Ctrl+C to stop.\n")
    out.flush()
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False)
    return 0


def _has_no_pots(session: Session) -> bool:
    from sqlalchemy import func, select

    from ledger.models import Pot

    return (session.scalar(select(func.count(Pot.id))) or 0) == 0


def _create_demo_users(session: Session) -> list[tuple[str, str, str]]:
    """When there are no users at all: an admin and one demo user per role."""
    from sqlalchemy import func, select

    from ledger import users
    from ledger.demo import CTSI
    from ledger.models import User

    demo_users = (
        ("admin", "admin", None, "Administrator"),
        ("officer", "officer", None, "Commissioning officer (demo)"),
        ("finance", "finance", None, "Finance officer (demo)"),
        ("ctsi", "intermediary", CTSI, "CTSI grants administrator (demo)"),
        ("viewer", "viewer", None, "Viewer (demo)"),
    )
    if session.scalar(select(func.count(User.id))):
        return []
    created = []
    for username, role, organisation, name in demo_users:
        password = secrets.token_urlsafe(12)
        users.add_user(
            session,
            username=username,
            password=password,
            role=role,
            organisation=organisation,
            display_name=name,
            added_by="commonpurse serve",
        )
        created.append((username, role + (" (CTSI)" if organisation else ""), password))
    return created


def _print_sign_in(out: TextIO, created: list[tuple[str, str, str]]) -> None:
    if not created:
        out.write(
            "Sign in with an existing user. To add one:  commonpurse user add NAME --role ROLE\n"
            "To set a forgotten password:             commonpurse user password NAME\n"
        )
        return
    out.write(
        "First run: these users were created with random passwords, shown only this once.\n"
        "Keep them, or set new ones with 'commonpurse user password NAME'.\n\n"
    )
    width = max(len("username"), *(len(u) for u, _, _ in created))
    role_width = max(len(r) for _, r, _ in created)
    out.write(f"  {'username'.ljust(width)}  {'role'.ljust(role_width)}  password\n")
    for username, role, password in created:
        out.write(f"  {username.ljust(width)}  {role.ljust(role_width)}  {password}\n")


def _host_for_url(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Run it as: commonpurse serve")
