"""The cash forecast as a server-rendered SVG line chart: no script, no chart library.

Two lines, month by month: cash held (solid) and cash held with expected funding (dashed), over
a zero line, with the first month below zero marked. The ``<svg>`` is ``role="img"`` with a
``<title>`` and a ``<desc>`` that says in words what the chart shows; the page also prints the
same figures as a table, which is the text alternative. Every piece of text is escaped.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from statements.render.formatting import money
from statements.reports.forecast import PotForecast

WIDTH = 720
HEIGHT = 280
LEFT, RIGHT, TOP, BOTTOM = 92, 16, 16, 40
INK = "#333333"
CASH = "#0065bd"  # the design system's blue
EXPECTED = "#5e3a87"
NEGATIVE = "#d32205"


def _scale(low: int, high: int) -> tuple[int, int]:
    low, high = min(low, 0), max(high, 0)
    if low == high:
        high = low + 100
    return low, high


def _tenths(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, tenth = divmod(abs(value), 10)
    return f"{sign}{whole}.{tenth}"


def forecast_svg(part: PotForecast, chart_id: str = "forecast-chart") -> str:
    """``part``'s months as an SVG chart, described for people who cannot see it."""
    months = part.months
    values = [m.cash_pence for m in months] + [m.cash_with_expected_pence for m in months]
    low, high = _scale(min(values, default=0), max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    gaps = max(len(months) - 1, 1)

    # Coordinates in whole tenths of a pixel, by integer arithmetic, written as "12.3".
    def x(index: int) -> str:
        return _tenths(LEFT * 10 + index * plot_w * 10 // gaps)

    def y(pence: int, shift: int = 0) -> str:
        return _tenths((TOP + shift) * 10 + (high - pence) * plot_h * 10 // (high - low))

    def line(points: list[int]) -> str:
        return " ".join(f"{x(i)},{y(p)}" for i, p in enumerate(points))

    negative = part.first_negative
    summary = part.verdict()
    description = (
        f"Cash held by {part.pot} at the end of each month from {months[0].label} to"
        f" {months[-1].label}, starting from {money(part.opening_cash_pence)} now, with and"
        f" without expected funding. {summary} The table below gives every figure."
        if months
        else f"No months to show for {part.pot}."
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="app-chart" role="img"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(f"Cash forecast: {part.pot}")}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        f'<g font-family="sans-serif" font-size="12" fill="{INK}">',
    ]
    for pence in sorted({low, 0, high}):
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(pence)}" y2="{y(pence)}"'
            f' stroke="{INK if pence == 0 else "#b3b3b3"}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y(pence, shift=4)}" text-anchor="end">'
            f"{escape(money(pence))}</text>"
        )
    for index, month in enumerate(months):
        if index % 3 == 0:
            out.append(
                f'<text x="{x(index)}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                f"{escape(month.label)}</text>"
            )
    if months:
        with_expected = [m.cash_with_expected_pence for m in months]
        out.append(
            f'<polyline fill="none" stroke="{EXPECTED}" stroke-width="2" stroke-dasharray="6 4"'
            f' points="{line(with_expected)}"/>'
        )
        out.append(
            f'<polyline fill="none" stroke="{CASH}" stroke-width="3"'
            f' points="{line([m.cash_pence for m in months])}"/>'
        )
    if negative is not None:
        index = months.index(negative)
        out.append(
            f'<circle cx="{x(index)}" cy="{y(negative.cash_pence)}" r="6" fill="{NEGATIVE}"/>'
        )
    out.append("</g></svg>")
    return "".join(out)
