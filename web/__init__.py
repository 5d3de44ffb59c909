"""The web app: server-rendered pages over the ledger, in the Scottish Government Design System.

``create_app()`` is the application factory (``gunicorn 'web:create_app()'``). One blueprint per
area: ``auth`` (sign in and out), ``pots`` (dashboard, pot page, journal), ``money`` (the forms
that record awards, receipts, allocations...), ``approvals``, ``statements`` (statement pages,
downloads, reconciliation upload), ``imports``, ``audit`` and ``organisations`` (registered
numbers and places) and ``people`` (administrators manage who signs in). Views are thin: they
check the role and the pot scope
(``web.permissions``), call a ledger operation or a statement builder through the one database
helper (``web.db``) and render a template.

Configuration comes from the mapping given to ``create_app`` or else the environment:
``COMMONPURSE_DATABASE_URL`` (default: the ledger's SQLite file), ``COMMONPURSE_SECRET_KEY``
(required outside development and tests) and ``COMMONPURSE_COOKIE_SECURE=0`` to send the session
cookie over plain http (only for http://127.0.0.1).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ledger.database_url import resolve_url

if TYPE_CHECKING:
    # Flask is imported when an app is built, not with the package: `commonpurse serve` is
    # registered from web.command on every `commonpurse` run, `--help` included.
    from flask import Flask

__all__ = ["ConfigError", "create_app"]

MIN_SECRET_KEY_CHARS = 32
DEVELOPMENT = "development"


class ConfigError(RuntimeError):
    """The app cannot start as configured (for example, no secret key in production)."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment (tests and ``commonpurse serve``)."""
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped, unused-ignore]

    app = Flask(__name__)
    app.config.update(_defaults())
    app.config.update(config or {})
    _check_secret_key(app)

    from web import approvals as approvals_views
    from web import (
        audit,
        auth,
        db,
        errors,
        feedback,
        imports,
        money,
        organisations,
        overtime,
        people,
        pots,
        reports,
        security,
        statements,
    )
    from web.lookups import RowIdConverter
    from web.templating import register_templating

    db.init_app(app)
    if app.config.get("CHECK_SCHEMA", True):
        problem = db.schema_problem(db.ledger_of(app).engine)
        if problem:
            raise ConfigError(problem)
    CSRFProtect(app)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    register_templating(app)
    app.url_map.converters["id"] = RowIdConverter  # before the blueprints' rules use it
    for blueprint in (
        auth.bp,
        pots.bp,
        money.bp,
        approvals_views.bp,
        statements.bp,
        imports.bp,
        audit.bp,
        reports.bp,
        feedback.bp,
        organisations.bp,
        people.bp,
        overtime.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def _defaults() -> dict[str, Any]:
    env = os.environ
    return {
        "DATABASE_URL": resolve_url(None),
        "SECRET_KEY": env.get("COMMONPURSE_SECRET_KEY") or None,
        "COMMONPURSE_ENV": env.get("COMMONPURSE_ENV", "production"),
        "SESSION_COOKIE_NAME": "commonpurse_session",
        "SESSION_COOKIE_SECURE": env.get("COMMONPURSE_COOKIE_SECURE", "1") != "0",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=8),
        # A form's CSRF token lasts as long as the signed-in session, not one hour.
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "IMPORT_DIR": env.get("COMMONPURSE_IMPORT_DIR") or None,
    }


def _check_secret_key(app: Flask) -> None:
    key = app.config.get("SECRET_KEY")
    relaxed = app.testing or app.config.get("COMMONPURSE_ENV") == DEVELOPMENT
    if key and (relaxed or len(str(key)) >= MIN_SECRET_KEY_CHARS):
        return
    if relaxed:
        raise ConfigError("A secret key is needed even in development: set SECRET_KEY")
    raise ConfigError(
        "COMMONPURSE_SECRET_KEY is not set (or shorter than"
        f" {MIN_SECRET_KEY_CHARS} characters); the web app will not start in production"
        " without one. Make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
    )
