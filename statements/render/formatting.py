"""Locale-aware formatting for statements, in one place (Babel, en_GB by default).

Amounts arrive as integer pence and become Decimal only here, to be printed.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from babel.dates import format_date, format_datetime, get_timezone
from babel.numbers import format_currency

from ledger.fy import label
from ledger.money import format_pence, pence_to_decimal

if TYPE_CHECKING:
    from statements.reports.distribution import DistributionStatement

DEFAULT_LOCALE = "en_GB"


def money(pence: int, locale: str = DEFAULT_LOCALE) -> str:
    """``8233618`` → ``£82,336.18``; ``-10318`` → ``-£103.18``.

    In en_GB this is ``ledger.money.format_pence``, which gives Babel's output exactly in a
    microsecond, so no rendering needs a cache of formatted amounts; another locale goes
    through Babel."""
    if locale == DEFAULT_LOCALE:
        return format_pence(pence)
    return format_currency(pence_to_decimal(pence), "GBP", locale=locale)


def day(value: dt.date, locale: str = DEFAULT_LOCALE) -> str:
    """``2021-12-10`` → ``10 December 2021``."""
    return format_date(value, format="d MMMM y", locale=locale)


def moment(value: dt.datetime, locale: str = DEFAULT_LOCALE) -> str:
    """A UTC timestamp shown in UK time: ``24 November 2026, 13:46 GMT``."""
    return format_datetime(
        value, format="d MMMM y, HH:mm zzz", tzinfo=get_timezone("Europe/London"), locale=locale
    )


def financial_year(start_year: int) -> str:
    """``2022`` → ``2022-23``."""
    return label(start_year)


def financial_years(start_years: list[int] | tuple[int, ...] | set[int]) -> str:
    """``{2022, 2023}`` → ``2022-23 and 2023-24``."""
    labels = [label(y) for y in sorted(set(start_years))]
    if not labels:
        return "no financial year"
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def signed_line(statement: DistributionStatement) -> str | None:
    """``Signed off by demo.finance on 8 February 2024 at 14:00 UTC; figures as at 8 February
    2024.`` for a signed statement, else None."""
    signoff = statement.signoff
    if signoff is None:
        return None
    since = f" Movements since {day(statement.since)}." if statement.since else ""
    return (
        f"Signed off by {signoff.signed_by} on {moment(signoff.signed_at)}; figures as at"
        f" {day(statement.as_at)}.{since}"
    )


def chain_line(statement: DistributionStatement) -> str | None:
    """The journal's chain tip at the sign-off, for the signed statement's footer."""
    signoff = statement.signoff
    if signoff is None:
        return None
    return f"Journal at sign-off: entry {signoff.chain_seq}, chain tip {signoff.chain_sha256}"
