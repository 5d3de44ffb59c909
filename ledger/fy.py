"""UK public-sector financial years: 1 April to 31 March, written ``2022-23``.

A financial year is held as the calendar year in which it starts (2022 for 2022-23).
"""

from __future__ import annotations

import datetime as dt
import re

from ledger.errors import InvalidInput

_LABEL = re.compile(r"^\s*(\d{4})\s*[-/–]\s*(\d{2}|\d{4})\s*$")


def financial_year_of(day: dt.date) -> int:
    """The financial year a date falls in: 31 March 2023 is in 2022-23, 1 April 2023 in 2023-24."""
    return day.year if day.month >= 4 else day.year - 1


def label(start_year: int) -> str:
    """``2022`` → ``2022-23``; ``1999`` → ``1999-00``."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def parse_financial_year(text: str) -> int:
    """Accepts ``2022-23``, ``2022/23``, ``2022-2023`` or ``2022``; returns the start year."""
    if text.strip().isdigit() and len(text.strip()) == 4:
        return int(text.strip())
    match = _LABEL.match(text)
    if not match:
        raise InvalidInput(
            f"'{text}' is not a financial year; write it as 2022-23", field="financial_year"
        )
    start = int(match.group(1))
    end_text = match.group(2)
    end = int(end_text) if len(end_text) == 4 else (start + 1) // 100 * 100 + int(end_text)
    if end != start + 1:
        raise InvalidInput(
            f"'{text}' is not a financial year: a year runs from April {start} to March"
            f" {start + 1}, written {label(start)}",
            field="financial_year",
        )
    return start


def bounds(start_year: int) -> tuple[dt.date, dt.date]:
    """First and last day of the financial year."""
    return dt.date(start_year, 4, 1), dt.date(start_year + 1, 3, 31)


def parse_date(text: str, field: str = "date") -> dt.date:
    """ISO (``2023-10-01``) or UK (``01/10/2023``) dates; nothing ambiguous is guessed."""
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.date.fromisoformat(value)
        match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
        if match:
            day, month, year = (int(g) for g in match.groups())
            return dt.date(year, month, day)
    except ValueError as error:
        raise InvalidInput(f"'{text}' is not a real date ({error})", field=field) from error
    raise InvalidInput(f"'{text}' is not a date; write it as 2023-10-01 or 01/10/2023", field=field)
