"""Error pages in the design system's style: 400 (including a missing or stale CSRF token),
403, 404, 405, 413 and 500. A refusal by the ledger never gets here: forms show it next to the
field. A database that stays locked shows a calm "try again" page rather than a traceback."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped, unused-ignore]
from werkzeug.exceptions import HTTPException, InternalServerError

from ledger.errors import LedgerBusy

PAGES = {
    400: (
        "The request could not be understood",
        "Something in the request was missing or not right. If you were submitting a form,"
        " go back, reload the page and try again.",
    ),
    403: (
        "You do not have access to this page",
        "Your role does not include this, or it belongs to another organisation. If you think"
        " you should have access, ask an administrator.",
    ),
    404: ("Page not found", "If you typed the web address, check it is correct."),
    405: ("That cannot be done here", "Go back and use the page's own buttons and links."),
    413: (
        "The file is too large",
        "Files of up to 5 MB can be uploaded. Split the file into smaller parts and try again.",
    ),
    500: (
        "Sorry, there is a problem with the service",
        "Nothing was recorded by the request that failed. Try again later.",
    ),
    503: (
        "The ledger is busy",
        "Other changes are being recorded; nothing was recorded by this request. Try again in"
        " a moment.",
    ),
}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(LedgerBusy, busy)
    app.register_error_handler(InternalServerError, http_error)


def page(code: int, detail: str | None = None) -> tuple[str, int]:
    title, text = PAGES.get(code, PAGES[500])
    return render_template("errors/error.html", code=code, title=title, text=detail or text), code


def csrf_error(_error: CSRFError) -> tuple[str, int]:
    return page(
        400,
        "The form had expired or did not come from this site, so nothing was recorded. Go back,"
        " reload the page and submit it again.",
    )


def http_error(error: HTTPException) -> tuple[str, int]:
    return page(error.code or 500)


def busy(_error: LedgerBusy) -> tuple[str, int]:
    return page(503)
