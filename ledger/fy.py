"""UK public-sector financial years: 1 April to 31 March, written ``2022-23``.

A financial year is held as the calendar year in which it starts (2022 for 2022-23). The ledger
keeps the financial years 1990-91 to 2200-01 (the database's CHECK constraints say the same), so
typed dates and years outside them are refused here, with a message, rather than by the database.
"""

from __future__ import annotations

import datetime as dt
import re

from ledger.errors import InvalidInput

FIRST_YEAR = 1990
"""The first financial year the ledger keeps (1990-91), as in the schema's CHECK constraints."""
LAST_YEAR = 2200
"""The last financial year the ledger keeps (2200-01)."""
_SHOWN_CHARS = 40

# ASCII digits only: ``\d`` would also read full-width or Arabic-Indic digits as a date.
_LABEL = re.compile(r"\s*([0-9]{4})\s*[-/–]\s*([0-9]{2}|[0-9]{4})\s*", re.ASCII)
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_UK = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", re.ASCII)


def financial_year_of(day: dt.date) -> int:
    """The financial year a date falls in: 31 March 2023 is in 2022-23, 1 April 2023 in 2023-24."""
    return day.year if day.month >= 4 else day.year - 1


def label(start_year: int) -> str:
    """``2022`` → ``2022-23``; ``1999`` → ``1999-00``."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def shown(text: str) -> str:
    """What was typed, quoted for a message: control characters escaped, long text cut short,
    so a message stays one readable line (and cannot send escape codes to a terminal)."""
    cut = text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
    return repr(cut)


def parse_financial_year(text: str) -> int:
    """Accepts ``2022-23``, ``2022/23``, ``2022-2023`` or ``2022``; returns the start year.

    Refused with :class:`InvalidInput`: anything else, a pair of years that are not consecutive,
    and years outside the ones the ledger keeps (:data:`FIRST_YEAR` to :data:`LAST_YEAR`).
    """
    value = text.strip()
    if re.fullmatch(r"[0-9]{4}", value, re.ASCII):
        start = int(value)
    else:
        match = _LABEL.fullmatch(text)
        if not match:
            raise InvalidInput(
                f"{shown(text)} is not a financial year; write it as 2022-23",
                field="financial_year",
            )
        start = int(match.group(1))
        end_text = match.group(2)
        end = int(end_text) if len(end_text) == 4 else (start + 1) // 100 * 100 + int(end_text)
        if end != start + 1:
            raise InvalidInput(
                f"{shown(text)} is not a financial year: a year runs from April {start} to March"
                f" {start + 1}, written {label(start)}",
                field="financial_year",
            )
    if not FIRST_YEAR <= start <= LAST_YEAR:
        raise InvalidInput(
            f"{shown(text)} is outside the financial years the ledger keeps,"
            f" {label(FIRST_YEAR)} to {label(LAST_YEAR)}",
            field="financial_year",
        )
    return start


def bounds(start_year: int) -> tuple[dt.date, dt.date]:
    """First and last day of the financial year."""
    return dt.date(start_year, 4, 1), dt.date(start_year + 1, 3, 31)


_KEPT = (bounds(FIRST_YEAR)[0], bounds(LAST_YEAR)[1])


def parse_date(text: str, field: str = "date") -> dt.date:
    """ISO (``2023-10-01``) or UK (``01/10/2023``) dates; nothing ambiguous is guessed.

    Digits are ASCII 0-9. A date outside the financial years the ledger keeps (1 April 1990 to
    31 March 2201) is refused, as are dates that do not exist (``31/02/2023``).
    """
    value = text.strip()
    day: dt.date | None = None
    try:
        if _ISO.fullmatch(value):
            day = dt.date.fromisoformat(value)
        elif match := _UK.fullmatch(value):
            day_of_month, month, year = (int(g) for g in match.groups())
            day = dt.date(year, month, day_of_month)
    except ValueError as error:
        raise InvalidInput(f"{shown(text)} is not a real date ({error})", field=field) from error
    if day is None:
        raise InvalidInput(
            f"{shown(text)} is not a date; write it as 2023-10-01 or 01/10/2023", field=field
        )
    first, last = _KEPT
    if not first <= day <= last:
        raise InvalidInput(
            f"{shown(text)} is outside the dates the ledger keeps, {first:%d/%m/%Y} to"
            f" {last:%d/%m/%Y}",
            field=field,
        )
    return day
