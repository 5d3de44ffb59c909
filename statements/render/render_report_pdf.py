"""A report document (``statements.reports.report_document``) as a PDF: its title, its explanation
and its tables, landscape A4, with page numbers. Imported only when a PDF is asked for."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from statements.render.formatting import day
from statements.reports.report_document import Cell, ReportDocument, shown
from statements.reports.report_document import Table as ReportTable

MARGIN = 14 * mm
INK = colors.HexColor("#1a1a1a")
RULE = colors.HexColor("#8c8c8c")
HEAD_FILL = colors.HexColor("#e6e6e6")
TOTAL_FILL = colors.HexColor("#f2f2f2")


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base: dict[str, Any] = {"fontName": "Helvetica", "fontSize": 8.5, "leading": 10.5}
    base.update(textColor=INK, **kw)
    return ParagraphStyle(name, **base)


TITLE = _style("title", fontName="Helvetica-Bold", fontSize=16, leading=20, spaceAfter=4)
LINE = _style("line", fontSize=9, leading=12, spaceAfter=2)
CAPTION = _style("caption", fontName="Helvetica-Bold", fontSize=11, leading=14, spaceBefore=8)
CELL = _style("cell")
CELL_RIGHT = _style("cell-right", alignment=TA_RIGHT)
BOLD = _style("bold", fontName="Helvetica-Bold")
BOLD_RIGHT = _style("bold-right", fontName="Helvetica-Bold", alignment=TA_RIGHT)


def render_report_pdf(document: ReportDocument, organisation: str = "") -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=document.title,
        author=organisation or "commonpurse",
        creator="commonpurse",
    )
    story: list[Any] = [Paragraph(escape(document.title), TITLE)]
    if document.as_at is not None:
        story.append(Paragraph(escape(f"As at {day(document.as_at)}"), LINE))
    story += [Paragraph(escape(line), LINE) for line in document.lines]
    for table in document.tables:
        story += [Paragraph(escape(table.caption), CAPTION), Spacer(1, 2 * mm)]
        story.append(_table(table, doc.width))
        if table.note:
            story.append(Paragraph(escape(table.note), LINE))
    doc.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
    return buffer.getvalue()


def _table(table: ReportTable, width: float) -> Table:
    numeric = [table.numeric(i) for i in range(len(table.headings))]

    def row(cells: tuple[Cell, ...], bold: bool = False) -> list[Paragraph]:
        return [
            Paragraph(
                escape(shown(c)),
                (BOLD_RIGHT if numeric[i] else BOLD)
                if bold
                else (CELL_RIGHT if numeric[i] else CELL),
            )
            for i, c in enumerate(cells)
        ]

    data = [row(tuple(table.headings), bold=True)]
    data += [row(r) for r in table.rows]
    if not table.rows:
        data.append([Paragraph(escape(table.empty), CELL)] + [""] * (len(table.headings) - 1))
    if table.total is not None:
        data.append(row(table.total, bold=True))
    amounts = sum(numeric)
    words = len(numeric) - amounts
    amount_width = min(28 * mm, width / max(len(numeric), 1))
    word_width = (width - amount_width * amounts) / max(words, 1)
    widths = [amount_width if n else word_width for n in numeric]
    result = Table(data, colWidths=widths, repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if table.total is not None:
        style.append(("BACKGROUND", (0, -1), (-1, -1), TOTAL_FILL))
    if not table.rows:
        style.append(("SPAN", (0, 1), (-1, 1)))
    result.setStyle(TableStyle(style))
    return result


def _page_number(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    canvas.drawRightString(doc.pagesize[0] - MARGIN, MARGIN / 2, f"Page {doc.page}")
    canvas.restoreState()
