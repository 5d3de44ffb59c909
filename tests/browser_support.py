"""What the browser tests (tests/test_browser.py) share: Debian's Chromium driven by Playwright,
the app served over real HTTP from a background thread, people made with ``ledger.users``,
signing in through the form, and an axe-core check of the page in the browser.

Nothing here downloads anything: the browser is ``/usr/bin/chromium`` (``scripts/browser-deps``
installs Debian's package), Playwright's driver comes with its Python wheel, and axe-core is
vendored in ``tests/vendor/axe-core/``.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ledger import db, users
from ledger.demo import CTSI
from web import create_app
from web.db import ledger_of

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_RUN = (
    "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags},"
    " resultTypes: ['violations']}).then((results) => results.violations)"
)
# Violations that cannot be fixed in our own markup (for instance, inside the vendored design
# system), as (axe rule id, CSS target of the one element) -> why it is accepted. Each entry
# silences only that rule on only that element. Empty: every page passes as it is.
ACCEPTED_VIOLATIONS: dict[tuple[str, str], str] = {}

PASSWORD = "browser test password, long enough"
# username -> (role, organisation, display name): one person per role, as `commonpurse serve`.
PEOPLE: dict[str, tuple[str, str | None, str]] = {
    "admin": ("admin", None, "Administrator"),
    "officer": ("officer", None, "Commissioning officer"),
    "finance": ("finance", None, "Finance officer"),
    "ctsi": ("intermediary", CTSI, "CTSI grants administrator"),
    "viewer": ("viewer", None, "Viewer"),
}


def in_ci() -> bool:
    """CI is set (as scripts/test reads it: not empty, not "0", not "false")."""
    return os.environ.get("CI", "") not in ("", "0", "false")


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


# The app over real HTTP ---------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


class LiveServer:
    """One werkzeug server on 127.0.0.1 (any free port, a thread per request) for the whole
    module; each test installs the app over its own fresh ledger with ``serve``."""

    def __init__(self) -> None:
        self._app: Flask | None = None
        self.server_errors: list[str] = []
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._dispatch, threaded=True, request_handler=_QuietHandler
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        app = self._app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app is being served"]

        def noting_errors(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            if status.startswith("5"):
                self.server_errors.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
            return start_response(status, headers, *rest)

        return app(environ, noting_errors)

    def serve(self, app: Flask) -> None:
        self.server_errors.clear()
        self._app = app

    def stop_serving(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            ledger_of(app).engine.dispose()  # PostgreSQL: no idle connection outlives the test

    def close(self) -> None:
        self.stop_serving()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def browser_app(database_url: str, import_dir: Path) -> Flask:
    """The app as `commonpurse serve` makes it: CSRF protection on, plain http on 127.0.0.1."""
    return create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_hex(32),
            "COMMONPURSE_ENV": "development",
            "SESSION_COOKIE_SECURE": False,
            "IMPORT_DIR": str(import_dir),
            # Let the browser keep the stylesheets and scripts for the test instead of asking
            # for them again on every page (only saves time; the pages are the same).
            "SEND_FILE_MAX_AGE_DEFAULT": 3600,
        }
    )


def run(app: Flask, operation: Callable[[Session], T]) -> T:
    """One ledger operation in its own transaction, outside any request."""
    return db.run_in_transaction(ledger_of(app).factory, operation)


def add_people(session: Session) -> None:
    """One person per role, made as `commonpurse serve` and `commonpurse user add` make them."""
    for username, (role, organisation, name) in PEOPLE.items():
        users.add_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            organisation=organisation,
            display_name=name,
            added_by="tests/test_browser.py",
        )


# Signing in ------------------------------------------------------------------------------


def sign_in(page: Page, username: str) -> None:
    """Through the sign-in form, as a person would (the context's base_url is the server)."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".app-account__who")).to_contain_text("Signed in as")


# axe-core ----------------------------------------------------------------------------------


def install_axe(context: BrowserContext) -> None:
    """Load the vendored axe-core into every document the context opens, before the page's own
    scripts. The browser evaluates it through the DevTools protocol, so the app's strict
    content security policy (``script-src 'self'``) does not block it and needs no bypass: the
    pages are checked exactly as they are served. (A ``<script>`` tag added with inline content,
    as ``page.add_script_tag`` does, would be refused by that policy.)"""
    context.add_init_script(path=AXE)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0, 2.1 and 2.2 A and AA rules on the page as it is now."""
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN, AXE_TAGS)
    kept = []
    for violation in found:
        nodes = [
            node
            for node in violation["nodes"]
            if (violation["id"], _target(node)) not in ACCEPTED_VIOLATIONS
        ]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


def _target(node: dict[str, Any]) -> str:
    return " ".join(str(part) for part in node.get("target", []))


def describe(where: str, violations: Iterable[dict[str, Any]]) -> str:
    """Each violation's rule, help and the elements it found, for a failure message."""
    lines = [f"{where}:"]
    for violation in violations:
        lines.append(
            f"  {violation['id']} ({violation.get('impact')}): {violation['help']}"
            f" <{violation.get('helpUrl', '')}>"
        )
        for node in violation["nodes"]:
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    - {_target(node)}: {summary[:300]}")
            lines.append(f"      {str(node.get('html', ''))[:200]}")
    return "\n".join(lines)


@dataclass
class Checked:
    """One page state axe looked at."""

    role: str
    what: str
    url: str
    status: int


@dataclass
class AxeLog:
    """Every page state checked in a test, and what axe found."""

    role: str
    checked: list[Checked] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, page: Page, what: str, status: int) -> None:
        violations = axe_violations(page)
        self.checked.append(Checked(self.role, what, page.url, status))
        if violations:
            self.problems.append(
                describe(f"{self.role}: {what} ({page.url}, {status})", violations)
            )
