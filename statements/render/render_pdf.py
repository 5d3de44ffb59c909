"""The distribution statement as a PDF for committee papers: A4 portrait, ReportLab platypus.

Laid out like Appendix 2 of the February 2024 report: the heading with stream, year and award;
the awards (an assumption is marked as one); each pot's allocations as a table of recipient,
purpose, status, allocated and paid, with each delegated pot as its own section headed by its
delegation; the totals; and the balance note in a box nobody can miss. Tables split across pages
with their header row repeated, and every page carries the organisation, the dates and
"Page n of m".

Names, purposes and references are typed by people, so they are escaped before they reach a
Paragraph: ``<b>``, ``<font>``, ``&amp;`` in a provider's name are printed as typed, never
interpreted as ReportLab markup. The document is built with ``invariant=1`` and every date on it
comes from the statement, so the same statement always gives the same bytes. That includes the
PDF's creation date, which is the moment the statement was made (``generated_at``: now, or for
a signed statement the recorded moment of signing), never ReportLab's fixed invariant date.

Helvetica (a PDF standard font, WinAnsi encoding) has £, –, é and the other characters of
Western European text; characters outside WinAnsi print as a blank box.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import Indenter

from statements.render.formatting import (
    chain_line,
    day,
    financial_years,
    moment,
    money,
    signed_line,
)
from statements.render.wording import (
    ALLOCATION_HEADER,
    AWARD_HEADER,
    MOVEMENT_HEADER,
    movement_amounts,
    needs_attention,
    row_notes,
    section_note,
    summary_lines,
)
from statements.reports.distribution import AllocationRow, DistributionStatement, PotSection

MARGIN = 18 * mm
FOOTER_SPACE = 14 * mm
INDENT = 6 * mm  # per level of delegation
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#8c8c8c")
HEAD_FILL = colors.HexColor("#e6e6e6")
NOTE_FILL = colors.HexColor("#fff4ce")
NOTE_EDGE = colors.HexColor("#b7791f")
CALM_FILL = colors.HexColor("#eef3f8")
CALM_EDGE = colors.HexColor("#5a7896")


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base: dict[str, Any] = {"fontName": FONT, "fontSize": 9, "leading": 11, "textColor": INK}
    base.update(kw)
    return ParagraphStyle(name, **base)


KICKER = _style("kicker", fontSize=9, leading=12, textColor=MUTED)
TITLE = _style("title", fontName=BOLD, fontSize=17, leading=21, spaceAfter=3)
META = _style("meta", fontSize=9, leading=12, textColor=MUTED, spaceAfter=2)
SECTION = _style("section", fontName=BOLD, fontSize=12, leading=15, spaceBefore=6, spaceAfter=2)
SUBHEAD = _style("subhead", fontName=BOLD, fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=3)
CELL = _style("cell", fontSize=8.5, leading=10.5)
HEAD = _style("head", fontName=BOLD, fontSize=8.5, leading=10.5)
HEAD_RIGHT = _style("head-right", fontName=BOLD, fontSize=8.5, leading=10.5, alignment=TA_RIGHT)
NOTE = _style("note", fontName=BOLD, fontSize=9.5, leading=12.5)
SMALL = "<font size='7' color='#555555'>{}</font>"


def render_pdf(statement: DistributionStatement) -> bytes:
    """The statement as PDF bytes."""
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + FOOTER_SPACE,
        title=statement.title,
        author=statement.organisation,
        subject=f"commonpurse distribution statement as at {day(statement.as_at)}",
        creator="commonpurse",
        invariant=1,
        pageCompression=1,
    )
    # A frame without padding, so tables, the balance box and the footer share one left edge.
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate(id="statement", frames=[frame])])
    doc.build(_story(statement, doc.width), canvasmaker=_footed_canvas(statement))
    return buffer.getvalue()


# The story ---------------------------------------------------------------------------------


def _text(value: str) -> str:
    """User text made inert for Paragraph markup: printed exactly as typed."""
    return escape(value)


class _Cell(Paragraph):  # type: ignore[misc]
    """A Paragraph that remembers its wrap: a long table wraps every cell to the same width when
    it measures, splits and draws, and wrapping is most of the time a 2,000-line statement takes.
    """

    _wrapped: tuple[float, tuple[float, float]] | None = None

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        if self._wrapped is None or self._wrapped[0] != available_width:
            size = super().wrap(available_width, available_height)
            self._wrapped = (available_width, size)
        return self._wrapped[1]


# A table cell is a line of text with small grey lines under it (a reference, tags, notes).
# ReportLab parses each Paragraph's markup with an HTML parser, which was a quarter of the time a
# long statement took. Text the parser would leave as it is (no markup characters, no whitespace
# but single spaces between words) always gives the same fragments, so they are parsed once per
# shape and copied with the row's text. Anything else is parsed as usual.

_MARKUP_CHARACTERS = frozenset("&<>")


def _cell_markup(main: str, small: Sequence[str]) -> str:
    return _text(main) + "".join("<br/>" + SMALL.format(_text(line)) for line in small)


def _plain(text: str) -> bool:
    """Whether the paragraph parser keeps ``text`` exactly as it is."""
    return bool(text) and _MARKUP_CHARACTERS.isdisjoint(text) and " ".join(text.split()) == text


_PLACEHOLDER = "x"


@cache
def _shape(small_lines: int) -> tuple[Any, ...] | None:
    """The fragments of a cell with ``small_lines`` lines under its main text, from the parser
    itself; None if they are not the expected text, line break, text... (then every cell of this
    shape is parsed)."""
    frags = tuple(Paragraph(_cell_markup(_PLACEHOLDER, [_PLACEHOLDER] * small_lines), CELL).frags)
    texts = [f.text for f in frags if not getattr(f, "lineBreak", False)]
    breaks = [f for f in frags if getattr(f, "lineBreak", False)]
    if texts != [_PLACEHOLDER] * (small_lines + 1) or len(breaks) != small_lines:
        return None
    return frags


def _fresh(frag: Any, text: str | None) -> Any:
    """A copy of ``frag`` sharing no list with it, carrying ``text``."""
    attributes = {k: list(v) if type(v) is list else v for k, v in vars(frag).items()}
    if text is not None:
        attributes["text"] = text
    return type(frag)(**attributes)


def _cell(main: str, small: Sequence[str] = ()) -> _Cell:
    """``main`` in the cell style with each of ``small`` on a line of its own under it, small and
    grey; all of it printed exactly as typed."""
    markup = _cell_markup(main, small)
    shape = _shape(len(small))
    if shape is None or not all(_plain(text) for text in (main, *small)):
        return _Cell(markup, CELL)
    texts = iter((main, *small))
    frags = [_fresh(f, None if getattr(f, "lineBreak", False) else next(texts)) for f in shape]
    return _Cell(markup, CELL, frags=frags)


def _story(statement: DistributionStatement, width: float) -> list[Flowable]:
    top = statement.section
    meta = [top.stream or top.pot]
    if top.financial_years:
        plural = "s" if len(top.financial_years) > 1 else ""
        meta.append(f"financial year{plural} {financial_years(top.financial_years)}")
    meta += [f"administered by {top.administered_by}", f"figures as at {day(statement.as_at)}"]
    story: list[Flowable] = [
        Paragraph(_text(f"{statement.organisation} · {statement.title}"), KICKER),
        Paragraph(_text(top.heading), TITLE),
        Paragraph(_text(" · ".join(meta)), META),
        *(Paragraph(_text(note), META) for note in top.years_notes),
    ]
    if statement.signoff is not None and statement.signoff.superseded_by:
        story.append(_superseded_box(statement, width))
    for depth, section in statement.sections():
        story += _section(section, depth, width)
    if statement.since is not None:
        story += _movements(statement, width)
    return story


def _superseded_box(statement: DistributionStatement, width: float) -> Table:
    signoff = statement.signoff
    assert signoff is not None
    text = (
        "Superseded: entries dated on or before the as-at date were recorded after this"
        " statement was signed: " + "; ".join(signoff.superseded_by)
    )
    box = Table([[Paragraph(_text(text), NOTE)]], colWidths=[width], hAlign="LEFT")
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), NOTE_FILL),
                ("BOX", (0, 0), (-1, -1), 1.2, NOTE_EDGE),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return box


def _movements(statement: DistributionStatement, width: float) -> list[Flowable]:
    assert statement.since is not None
    title = f"Movements since {day(statement.since)} to {day(statement.as_at)}"
    flow: list[Flowable] = [CondPageBreak(40 * mm), Paragraph(_text(title), SECTION)]
    if not statement.movements:
        return [*flow, Paragraph("Nothing moved in this period.", CELL)]
    rows: list[list[Any]] = [
        [Paragraph(h, HEAD_RIGHT if i else HEAD) for i, h in enumerate(MOVEMENT_HEADER)]
    ]
    for move in statement.movements:
        name = f"<b>{_text(move.what)}</b>" if move.is_pot else _text(move.what)
        rows.append([Paragraph(name, CELL), *(money(p) for p in movement_amounts(move))])
    table = Table(rows, colWidths=_grid((0.35, 0.13, 0.13, 0.13, 0.13, 0.13), width), repeatRows=1)
    table.setStyle(_table_style())
    return [*flow, table]


def _section(section: PotSection, depth: int, width: float) -> list[Flowable]:
    inner = width - depth * INDENT
    flow: list[Flowable] = [] if depth else [_SectionMark(section.pot)]
    if depth:
        heading = [
            _SectionMark(section.pot),
            Paragraph(_text(section.heading), SECTION),
            Paragraph(_text(section_note(section)), META),
            *(Paragraph(_text(note), META) for note in section.years_notes),
        ]
        flow += [CondPageBreak(60 * mm), Indenter(left=depth * INDENT), KeepTogether(heading)]
    if section.awards:
        flow += [Paragraph("Awards", SUBHEAD), _awards_table(section, inner)]
    flow.append(Paragraph(f"Allocations from {_text(section.pot)}", SUBHEAD))
    if section.allocations:
        flow.append(_allocations_table(section, inner))
    else:
        flow.append(Paragraph("No allocations.", CELL))
    flow.append(Spacer(0, 4))
    flow.append(
        KeepTogether([_summary_table(section, inner), Spacer(0, 4), _balance_box(section, inner)])
    )
    flow.append(Spacer(0, 8))
    if depth:
        flow.append(Indenter(left=-depth * INDENT))
    return flow


def _grid(fractions: tuple[float, ...], width: float) -> list[float]:
    return [width * f for f in fractions]


def _awards_table(section: PotSection, width: float) -> Table:
    rows: list[list[Any]] = [
        [Paragraph(h, HEAD_RIGHT if i >= 3 else HEAD) for i, h in enumerate(AWARD_HEADER)]
    ]
    assumption_rows: list[int] = []
    for award in section.awards:
        if award.is_assumption:
            assumption_rows.append(len(rows))
        rows.append(
            [
                Paragraph(
                    _text(award.funder) + "<br/>" + SMALL.format(_text(award.reference)), CELL
                ),
                day(award.award_date),
                Paragraph("<b>assumption</b>" if award.is_assumption else "named funder", CELL),
                money(award.amount_pence),
                money(award.received_pence),
            ]
        )
    table = Table(
        rows,
        colWidths=_grid((0.42, 0.16, 0.14, 0.14, 0.14), width),
        repeatRows=1,
        hAlign="LEFT",
    )
    style = _table_style()
    for index in assumption_rows:
        style.add("BACKGROUND", (0, index), (-1, index), NOTE_FILL)
    table.setStyle(style)
    return table


def _table_style() -> TableStyle:
    return TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 8.5, 10.5),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (-2, 0), (-1, -1), "RIGHT"),
            ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, RULE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, RULE),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
    )


def _allocation_cells(row: AllocationRow) -> list[Any]:
    extras = [f"Tags: {', '.join(row.tags)}"] if row.tags else []
    extras += row_notes(row)
    return [
        _cell(row.recipient, [row.reference]),
        _cell(row.purpose, extras),
        row.status.capitalize(),
        money(row.allocated_pence),
        money(row.paid_pence),
    ]


def _allocations_table(section: PotSection, width: float) -> Table:
    rows: list[list[Any]] = [
        [Paragraph(h, HEAD_RIGHT if i >= 3 else HEAD) for i, h in enumerate(ALLOCATION_HEADER)]
    ]
    rows += [_allocation_cells(row) for row in section.allocations]
    totals = section.totals
    rows.append(
        [
            Paragraph(f"<b>Total, {_count(section)}</b>", CELL),
            "",
            "",
            money(totals.allocated_pence),
            money(totals.paid_pence),
        ]
    )
    table = Table(
        rows,
        colWidths=_grid((0.23, 0.38, 0.11, 0.14, 0.14), width),
        repeatRows=1,
        hAlign="LEFT",
    )
    style = _table_style()
    style.add("FONT", (3, -1), (-1, -1), BOLD, 8.5, 10.5)
    style.add("LINEABOVE", (0, -1), (-1, -1), 0.8, RULE)
    style.add("LINEBELOW", (0, -1), (-1, -1), 0.8, RULE)
    table.setStyle(style)
    return table


def _count(section: PotSection) -> str:
    n = len(section.allocations)
    return f"{n} allocation{'' if n == 1 else 's'}"


def _summary_table(section: PotSection, width: float) -> Table:
    rows: list[list[Any]] = []
    for label, pence in summary_lines(section):
        rows.append([label, money(pence)])
    table = Table(rows, colWidths=[width * 0.32, width * 0.18], hAlign="RIGHT")
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 9, 11),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, RULE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, RULE),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, RULE),
            ("FONT", (0, -1), (-1, -1), BOLD, 9, 11),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
    )
    table.setStyle(style)
    return table


def _balance_box(section: PotSection, width: float) -> Table:
    warn = needs_attention(section)
    box = Table([[Paragraph(_text(section.balance_note), NOTE)]], colWidths=[width], hAlign="LEFT")
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), NOTE_FILL if warn else CALM_FILL),
                ("BOX", (0, 0), (-1, -1), 1.2 if warn else 0.6, NOTE_EDGE if warn else CALM_EDGE),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return box


# Running header and footer: "Page n of m" needs m, so pages are kept until the document is saved


class _SectionMark(Flowable):  # type: ignore[misc]
    """Takes no room: tells the canvas whose section is being printed, for the running header."""

    def __init__(self, pot: str) -> None:
        super().__init__()
        self.pot = pot

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv.current_pot = self.pot


class _FootedCanvas(Canvas):  # type: ignore[misc]
    def __init__(
        self,
        *args: Any,
        footer: tuple[str, str, str | None],
        title: str,
        created: dt.datetime,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._doc._timeStamp = created_at(created)
        self._footer = footer
        self._title = title
        self.current_pot: str | None = None
        self._pot_at_start: str | None = None
        self._saved_pages: list[tuple[dict[str, Any], str | None]] = []

    def showPage(self) -> None:  # ReportLab's name
        self._saved_pages.append((dict(self.__dict__), self._pot_at_start))
        self._pot_at_start = self.current_pot
        self._startPage()

    def save(self) -> None:
        total = len(self._saved_pages)
        for number, (state, pot) in enumerate(self._saved_pages, start=1):
            self.__dict__.update(state)
            if number > 1:
                self._draw_header(pot)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_header(self, pot: str | None) -> None:
        width, height = self._pagesize
        left, right = MARGIN, width - MARGIN
        self.saveState()
        self.setFillColor(MUTED)
        self.setFont(FONT, 7.5)
        y = height - MARGIN + 5 * mm
        if pot is not None:
            text = _fit(f"{pot}, continued", FONT, 7.5, (right - left) / 2)
            self.drawRightString(right, y, text)
        self.drawString(left, y, _fit(self._title, FONT, 7.5, (right - left) / 2 - 4 * mm))
        self.restoreState()

    def _draw_footer(self, number: int, total: int) -> None:
        width, _ = self._pagesize
        left, right = MARGIN, width - MARGIN
        first, second, signed = self._footer
        page = f"Page {number} of {total}"
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(left, MARGIN + 9 * mm, right, MARGIN + 9 * mm)
        self.setFillColor(INK)
        self.setFont(BOLD, 8)
        self.drawRightString(right, MARGIN + 5 * mm, page)
        room = right - left - stringWidth(page, BOLD, 8) - 8 * mm
        self.setFont(FONT, 8)
        self.drawString(left, MARGIN + 5 * mm, _fit(first, FONT, 8, room))
        self.setFillColor(MUTED)
        self.setFont(FONT, 7)
        self.drawString(left, MARGIN + 1.5 * mm, _fit(second, FONT, 7, right - left))
        if signed is not None:
            self.setFillColor(INK)
            self.setFont(FONT, 6.5)
            self.drawString(left, MARGIN - 2 * mm, _fit(signed, FONT, 6.5, right - left))
        self.restoreState()


def _fit(text: str, font: str, size: float, room: float) -> str:
    """``text`` shortened with an ellipsis if it is wider than ``room``."""
    if stringWidth(text, font, size) <= room:
        return text
    while text and stringWidth(text + "…", font, size) > room:
        text = text[:-1]
    return text.rstrip() + "…"


def created_at(moment: dt.datetime) -> TimeStamp:
    """ReportLab's timestamp for the PDF's creation and modification dates: the moment the
    statement was made (for a signed statement, the moment it was signed), in UTC. The
    document is otherwise built invariant, so the same statement gives the same bytes."""
    utc = moment.astimezone(dt.UTC) if moment.tzinfo is not None else moment
    stamp = TimeStamp(invariant=1)
    stamp.t = calendar.timegm(utc.timetuple())
    stamp.lt = utc.timetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    stamp.dhh = stamp.dmm = 0
    stamp.tzname = "UTC"
    return stamp


def _footed_canvas(statement: DistributionStatement) -> Callable[..., _FootedCanvas]:
    footer = (
        f"{statement.organisation} — {statement.title}",
        signed_line(statement)
        or f"Figures as at {day(statement.as_at)}. Generated {moment(statement.generated_at)}"
        " by commonpurse.",
        chain_line(statement),
    )

    def make(*args: Any, **kwargs: Any) -> _FootedCanvas:
        return _FootedCanvas(
            *args,
            footer=footer,
            title=statement.title,
            created=statement.generated_at,
            **kwargs,
        )

    return make
