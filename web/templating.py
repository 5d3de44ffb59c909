"""Jinja filters and globals: en_GB money and dates through ``statements.render.formatting``
(Babel), and what the signed-in person may do, for the navigation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from wtforms import Field, Form  # type: ignore[import-untyped, unused-ignore]

from ledger.fy import label
from ledger.models import utcnow
from ledger.readout import entry_words, signed_amount
from statements.render.formatting import day, moment, money
from statements.reports.awaiting import waited
from statements.reports.report_document import shown
from web.forms import HIDDEN_FIELD_TYPES
from web.permissions import current_user


def register_templating(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money,
        day=_day,
        moment=_moment,
        fy=lambda year: label(year) if year is not None else "",
        first_field=first_field,
        cell=shown,
        waited=lambda since: waited(since, utcnow()) if since is not None else "",
    )
    app.jinja_env.globals.update(can=can, entry_words=entry_words, signed_amount=signed_amount)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.context_processor(_context)


def _day(value: dt.date | None) -> str:
    return day(value) if value is not None else ""


def _moment(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return moment(value)


def first_field(form: Form) -> Field | None:
    """The first field a person can see, where form-level errors link to."""
    return next((f for f in form if f.type not in HIDDEN_FIELD_TYPES), None)


def can(action: str) -> bool:
    user = current_user()
    return user is not None and user.may(action)


def _context() -> dict[str, Any]:
    return {"user": current_user()}
