"""The years of each award and the funding expected but not yet awarded, as read-outs.

What ``balances``, ``reconcile --figures`` and the distribution statement print under their
figures. The queries are plain SQL over the tables, so a read-only command can answer without
loading the mapped classes of ``ledger.models`` (``tests/test_cli_speed.py``); they run on a
Session or a Connection alike. Recording phasing, readings and expected funding is
``ledger.timeline``'s, which re-exports these names.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BindParameter, Boolean, Date, DateTime, TextClause, bindparam, text

from ledger.fy import label
from ledger.money import format_pence


class Executes(Protocol):
    """A Session or a Connection: anything that runs a statement with parameters."""

    def execute(self, statement: Any, parameters: Any = ..., /) -> Any: ...


def settled(session: Executes) -> None:
    """Flush a Session's pending changes before a plain SQL read, as its own ORM queries would
    (unless autoflush is off): the read must see what the transaction has already done. A
    Connection has nothing pending."""
    flush = getattr(session, "flush", None)
    if flush is not None and getattr(session, "autoflush", False):
        flush()


def describe_phasing(parts: Mapping[int, int]) -> str:
    """``2022-23 £200,000.00, 2023-24 £137,000.00``, or ``phasing not stated``."""
    if not parts:
        return "phasing not stated"
    return ", ".join(f"{label(y)} {format_pence(a)}" for y, a in sorted(parts.items()))


def as_utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare them as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _span(first: int, last: int) -> str:
    if first == last:
        return label(first)
    years = [label(y) for y in range(first, last + 1)]
    return ", ".join(years[:-1]) + " and " + years[-1]


@dataclass(frozen=True)
class AwardYears:
    """What is known about the years of one award, for headings and read-outs."""

    reference: str
    financial_year: int
    amount_pence: int
    pot_id: int
    phasing: dict[int, int]
    readings: tuple[tuple[str, int, int, str], ...]  # source, first year, last year, quote

    @property
    def multi_year(self) -> bool:
        years = {self.financial_year} | set(self.phasing)
        for _, first, last, _ in self.readings:
            years.update(range(first, last + 1))
        return len(years) > 1

    @property
    def phasing_text(self) -> str:
        """``phased: 2022-23 £X, 2023-24 £Y``, ``phasing not stated`` for an award that may
        span several years, or ``for 2021-22`` for a one-year award."""
        if self.phasing:
            return f"phased: {describe_phasing(self.phasing)}"
        if self.multi_year:
            return "phasing not stated"
        return f"for {label(self.financial_year)}"

    @property
    def disagreement(self) -> str | None:
        """A sentence when the documents name different years for the award, else None."""
        spans = {(first, last) for _, first, last, _ in self.readings}
        if len(spans) < 2:
            return None
        said = "; ".join(
            f"{source} says {_span(first, last)}" for source, first, last, _ in self.readings
        )
        return (
            f"The documents disagree on the years of the {format_pence(self.amount_pence)}"
            f" award {self.reference}: {said}."
        )

    def summary(self) -> str:
        """``Award X: phasing not stated. The documents disagree ...``"""
        text = f"Award {self.reference} {format_pence(self.amount_pence)}: {self.phasing_text}."
        return f"{text} {self.disagreement}" if self.disagreement else text


def _for_pots(sql: str, pot_ids: list[int] | None, column: str) -> TextClause:
    """``sql`` with ``{where}`` filled in: every row, or those whose ``column`` is in the pots."""
    if pot_ids is None:
        return text(sql.format(where=""))
    where = f"WHERE {column} IN :pot_ids"
    return text(sql.format(where=where)).bindparams(bindparam("pot_ids", expanding=True))


_AWARDS = """
SELECT id, reference, financial_year, amount_pence, pot_id, is_assumption
FROM awards {where}
ORDER BY award_date, id
"""
_PHASING = """
SELECT award_id, financial_year, amount_pence, recorded_at FROM award_phasing
WHERE award_id IN :ids ORDER BY id
"""
_READINGS = """
SELECT award_id, source, first_year, last_year, quote, recorded_at FROM award_readings
WHERE award_id IN :ids ORDER BY id
"""


def award_years(
    session: Executes,
    pot_ids: Iterable[int] | None = None,
    *,
    recorded_by: dt.datetime | None = None,
) -> list[AwardYears]:
    """The years of every award (or those into ``pot_ids``), in award order: three queries.
    ``recorded_by`` leaves out phasing and readings recorded after that moment."""
    ids = list(pot_ids) if pot_ids is not None else None
    query = _for_pots(_AWARDS, ids, "pot_id").columns(is_assumption=Boolean)
    awards = session.execute(query, {"pot_ids": ids} if ids is not None else {}).all()
    award_ids = [a.id for a in awards]
    phased: dict[int, dict[int, int]] = defaultdict(dict)
    readings: dict[int, list[tuple[str, int, int, str]]] = defaultdict(list)
    if award_ids:
        in_awards: BindParameter[list[int]] = bindparam("ids", expanding=True)
        phasing = text(_PHASING).bindparams(in_awards).columns(recorded_at=DateTime(True))
        for p in session.execute(phasing, {"ids": award_ids}):
            if recorded_by is None or as_utc(p.recorded_at) <= as_utc(recorded_by):
                phased[p.award_id][p.financial_year] = p.amount_pence
        read = text(_READINGS).bindparams(in_awards).columns(recorded_at=DateTime(True))
        for r in session.execute(read, {"ids": award_ids}):
            if recorded_by is not None and as_utc(r.recorded_at) > as_utc(recorded_by):
                continue
            readings[r.award_id].append((r.source, r.first_year, r.last_year, r.quote))
    return [
        AwardYears(
            a.reference,
            a.financial_year,
            a.amount_pence,
            a.pot_id,
            dict(sorted(phased[a.id].items())),
            tuple(readings[a.id]),
        )
        for a in awards
        if not a.is_assumption
    ]


@dataclass(frozen=True)
class Expected:
    """Funding expected but not awarded: counted nowhere, shown so that it is not forgotten."""

    reference: str
    funder: str
    pot_id: int | None
    pot: str | None
    financial_year: int
    expected_date: dt.date
    amount_pence: int
    amount_is_assumption: bool
    recorded_at: dt.datetime

    @classmethod
    def of(cls, row: Any) -> Expected:
        """From a recorded ``ledger.models.ExpectedFunding``."""
        return cls(
            row.reference,
            row.funder.name,
            row.pot_id,
            row.pot.name if row.pot is not None else None,
            row.financial_year,
            row.expected_date,
            row.amount_pence,
            row.amount_is_assumption,
            row.recorded_at,
        )

    def describe(self) -> str:
        assumed = " (amount assumed: the documents state none)" if self.amount_is_assumption else ""
        where = f" into {self.pot}" if self.pot is not None else ""
        return (
            f"Expected, not awarded: {self.reference} {format_pence(self.amount_pence)}{assumed}"
            f" from {self.funder} for {label(self.financial_year)}{where}, expected"
            f" {self.expected_date:%d/%m/%Y}. Not counted as funded, available or awarded."
        )


_EXPECTED = """
SELECT e.reference, funder.name AS funder, e.pot_id, pot.name AS pot, e.financial_year,
       e.expected_date, e.amount_pence, e.amount_is_assumption, e.recorded_at
FROM expected_funding e
JOIN organisations funder ON funder.id = e.funder_id
LEFT JOIN pots pot ON pot.id = e.pot_id
{where}
ORDER BY e.expected_date, e.id
"""


def expected_funding(session: Executes, pot_ids: Iterable[int] | None = None) -> list[Expected]:
    """Every expected funding (or that into ``pot_ids``), soonest first: one query."""
    ids = list(pot_ids) if pot_ids is not None else None
    query = _for_pots(_EXPECTED, ids, "e.pot_id").columns(
        expected_date=Date, amount_is_assumption=Boolean, recorded_at=DateTime(True)
    )
    rows = session.execute(query, {"pot_ids": ids} if ids is not None else {})
    return [Expected(*row) for row in rows]


def describe_expected(row: Expected) -> str:
    return row.describe()


def years_notes(session: Executes, pot_ids: Iterable[int] | None = None) -> list[str]:
    """One line per award on its years (phased or not, and any disagreement between the
    documents) and one per expected funding, for ``balances`` and ``reconcile --figures``."""
    ids = list(pot_ids) if pot_ids is not None else None
    lines = [years.summary() for years in award_years(session, ids)]
    lines.extend(row.describe() for row in expected_funding(session, ids))
    return lines


def years_json(session: Executes, pot_ids: Iterable[int] | None = None) -> dict[str, object]:
    """The same as ``years_notes`` for machines: amounts in pence, years as ``2022-23``."""
    ids = list(pot_ids) if pot_ids is not None else None
    return {
        "award_years": [
            {
                "award": y.reference,
                "amount": y.amount_pence,
                "financial_year": label(y.financial_year),
                "phasing": {label(year): amount for year, amount in y.phasing.items()} or None,
                "readings": [
                    {"source": s, "first_year": label(f), "last_year": label(t), "quote": q}
                    for s, f, t, q in y.readings
                ],
                "disagreement": y.disagreement,
            }
            for y in award_years(session, ids)
        ],
        "expected": [
            {
                "reference": e.reference,
                "funder": e.funder,
                "pot": e.pot,
                "financial_year": label(e.financial_year),
                "expected_date": e.expected_date.isoformat(),
                "amount": e.amount_pence,
                "amount_is_assumption": e.amount_is_assumption,
            }
            for e in expected_funding(session, ids)
        ],
    }
