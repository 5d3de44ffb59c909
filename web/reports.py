"""Report pages, each with PDF and CSV downloads, and the exports page.

* ``/intermediary-returns`` and ``/pots/<id>/return``: an intermediary's return to the council
  on its delegated pot, checked against the council's distribution statement (for a council
  pot, the returns on every pot delegated from it). An intermediary
  administrator sees only the pots their organisation administers (``pot_or_404``).
* ``/reports/funders``: what each funder's money paid for (``?funder=``, ``?by=source``).
* ``/reports/promise``: spend by Promise pillar, foundation and action (``?pot=``).
* ``/reports/recipients``: everything one provider receives (``?name=``).
* ``/exports``: the 360Giving package (JSON and CSV), the beancount file and the journal CSV.

The council-wide reports and exports are for the council's readers only: they show every
organisation's figures. Each report is built by ``statements`` into one ``ReportDocument`` from
which the page, the CSV and the PDF are drawn; ReportLab is imported only for a PDF.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ledger.errors import InvalidInput, LedgerError
from ledger.fy import parse_date
from ledger.models import Allocation, AllocationShare, Organisation, Pot
from statements.reports.report_document import ReportDocument, report_csv_bytes
from web import db
from web.lookups import pot_or_404
from web.permissions import pots_in_scope, requires, signed_in_user

bp = Blueprint("reports", __name__)
MAX_QUERY_CHARS = 200


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _as_at() -> tuple[dt.date | None, str | None]:
    text = request.args.get("as_at", "").strip()
    if not text:
        return None, None
    try:
        return parse_date(text, field="as_at"), None
    except InvalidInput as error:
        return None, str(error)


def _arg(name: str) -> str:
    """A query-string value, trimmed; too long or holding NUL, it cannot name anything."""
    value = request.args.get(name, "").strip()
    return "" if len(value) > MAX_QUERY_CHARS or "\x00" in value else value


def _pdf(document: ReportDocument) -> Response:
    from statements.render.render_report_pdf import render_report_pdf

    return _download(render_report_pdf(document), "application/pdf", f"{document.slug}.pdf")


def _csv(document: ReportDocument) -> Response:
    return _download(report_csv_bytes(document), "text/csv", f"{document.slug}.csv")


def _page(
    document: ReportDocument | None,
    *,
    endpoint: str,
    heading: str,
    args: dict[str, str],
    problem: str | None = None,
    chooser: str | None = None,
    choices: list[tuple[str, str]] | None = None,
    breadcrumbs: list[tuple[str, str]] | None = None,
    status: int | None = None,
) -> ResponseReturnValue:
    page = render_template(
        "reports/report.html",
        document=document,
        endpoint=endpoint,
        heading=heading,
        args=args,
        problem=problem,
        chooser=chooser,
        choices=choices or [],
        breadcrumbs=breadcrumbs or [],
    )
    return page, status or (422 if problem else 200)


# The intermediary's return -----------------------------------------------------------------


@bp.route("/intermediary-returns")
@requires("view_statement")
def returns() -> ResponseReturnValue:
    """The delegated pots this person may see, each with its return."""
    user = signed_in_user()
    pots = db.session().scalars(
        select(Pot)
        .where(pots_in_scope(user), Pot.parent_allocation_id.is_not(None))
        .order_by(Pot.name)
    )
    return render_template("reports/returns.html", pots=list(pots))


def _return_document(pot_id: int, as_at: dt.date | None) -> ReportDocument:
    """The return on a delegated pot; for a council pot, the returns on every pot delegated
    from it (that this person may see)."""
    from statements.reports.report_documents import returns_document

    session = db.session()
    user = signed_in_user()
    pot = pot_or_404(session, user, pot_id)
    if pot.parent_allocation_id is not None:
        return _one_return(pot, as_at)
    delegated = session.scalars(
        select(Pot)
        .join(Allocation, Allocation.id == Pot.parent_allocation_id)
        .join(AllocationShare, AllocationShare.allocation_id == Allocation.id)
        .where(AllocationShare.pot_id == pot.id, pots_in_scope(user))
        .order_by(Pot.name)
    ).all()
    return returns_document(pot.name, [_one_return(p, as_at) for p in delegated])


def _one_return(pot: Pot, as_at: dt.date | None) -> ReportDocument:
    from statements.reports.distribution import build_statement
    from statements.reports.intermediary_return import (
        build_intermediary_return,
        compare_with_statement,
    )
    from statements.reports.report_documents import intermediary_return_document

    session = db.session()
    ret = build_intermediary_return(session, pot.name, as_at=as_at)
    statement = build_statement(session, ret.delegated_from, as_at=ret.as_at)
    return intermediary_return_document(ret, compare_with_statement(ret, statement))


@bp.route("/pots/<id:pot_id>/return")
@requires("view_statement")
def intermediary_return(pot_id: int) -> ResponseReturnValue:
    as_at, problem = _as_at()
    document = _return_document(pot_id, as_at)
    args = {"pot_id": str(pot_id)}
    if as_at:
        args["as_at"] = request.args.get("as_at", "")
    return _page(
        document,
        endpoint="reports.intermediary_return",
        heading="Return to the council",
        args=args,
        problem=problem,
        breadcrumbs=[
            (url_for("reports.returns"), "Returns"),
        ],
    )


@bp.route("/pots/<id:pot_id>/return.pdf")
@requires("view_statement")
def intermediary_return_pdf(pot_id: int) -> Response:
    return _pdf(_return_document(pot_id, _as_at_or_400()))


@bp.route("/pots/<id:pot_id>/return.csv")
@requires("view_statement")
def intermediary_return_csv(pot_id: int) -> Response:
    return _csv(_return_document(pot_id, _as_at_or_400()))


def _as_at_or_400() -> dt.date | None:
    as_at, problem = _as_at()
    if problem:
        abort(400)
    return as_at


# The council-wide reports -----------------------------------------------------------------


def _funder_document(as_at: dt.date | None) -> ReportDocument:
    from statements.reports.funder_report import build_funder_report
    from statements.reports.report_documents import funder_document

    funder = _arg("funder") or None
    report = build_funder_report(
        db.session(), funder=funder, as_at=as_at, by_source=request.args.get("by") == "source"
    )
    return funder_document(report)


def _promise_document(as_at: dt.date | None) -> ReportDocument:
    from statements.reports.promise_spend import build_promise_spend
    from statements.reports.report_documents import promise_document

    pot = _arg("pot")
    return promise_document(
        build_promise_spend(db.session(), pots=[pot] if pot else None, as_at=as_at)
    )


def _recipient_document(_as_at: dt.date | None) -> ReportDocument:
    from statements.reports.recipient_view import build_recipient_summary, build_recipient_view
    from statements.reports.report_documents import recipient_document, recipients_summary_document

    name = _arg("name")
    if not name:
        return recipients_summary_document(build_recipient_summary(db.session()))
    return recipient_document(build_recipient_view(db.session(), name))


REPORTS: dict[str, tuple[str, Callable[[dt.date | None], ReportDocument]]] = {
    "funders": ("What each funder's money paid for", _funder_document),
    "promise": ("Spend by Promise priority", _promise_document),
    "recipients": ("What a recipient receives", _recipient_document),
}


def _choices(which: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The chooser a report page offers: its query field and the values to pick from."""
    session = db.session()
    if which == "funders":
        from ledger.models import OrganisationRole

        funders = session.scalars(
            select(Organisation.name)
            .join(OrganisationRole)
            .where(OrganisationRole.role == "funder")
            .order_by(Organisation.name)
        )
        return "funder", [("", "Every funder"), *((f, f) for f in funders)]
    if which == "promise":
        pots = session.scalars(
            select(Pot.name).where(Pot.parent_allocation_id.is_(None)).order_by(Pot.name)
        )
        return "pot", [("", "Every top-level pot"), *((p, p) for p in pots)]
    from statements.reports.recipient_view import recipient_names

    return "name", [(n, n) for n in recipient_names(session)]


def _report_page(which: str) -> ResponseReturnValue:
    heading, build = REPORTS[which]
    chooser, choices = _choices(which)
    args = {k: v for k, v in request.args.items() if k in ("funder", "by", "pot", "name", "as_at")}
    as_at, problem = _as_at()
    try:
        document = build(as_at)
    except LedgerError as error:
        return _page(
            None,
            endpoint=f"reports.{which}",
            heading=heading,
            args=args,
            problem=str(error),
            chooser=chooser,
            choices=choices,
        )
    return _page(
        document,
        endpoint=f"reports.{which}",
        heading=heading,
        args=args,
        problem=problem,
        chooser=chooser,
        choices=choices,
    )


def _report_file(which: str, render: Callable[[ReportDocument], Response]) -> Response:
    _, build = REPORTS[which]
    try:
        document = build(_as_at_or_400())
    except LedgerError:
        abort(404)
    return render(document)


@bp.route("/reports")
@requires("view_reports")
def index() -> ResponseReturnValue:
    return render_template("reports/index.html", reports=REPORTS)


@bp.route("/reports/funders")
@requires("view_reports")
def funders() -> ResponseReturnValue:
    return _report_page("funders")


@bp.route("/reports/funders.pdf")
@requires("view_reports")
def funders_pdf() -> Response:
    return _report_file("funders", _pdf)


@bp.route("/reports/funders.csv")
@requires("view_reports")
def funders_csv() -> Response:
    return _report_file("funders", _csv)


@bp.route("/reports/promise")
@requires("view_reports")
def promise() -> ResponseReturnValue:
    return _report_page("promise")


@bp.route("/reports/promise.pdf")
@requires("view_reports")
def promise_pdf() -> Response:
    return _report_file("promise", _pdf)


@bp.route("/reports/promise.csv")
@requires("view_reports")
def promise_csv() -> Response:
    return _report_file("promise", _csv)


@bp.route("/reports/recipients")
@requires("view_reports")
def recipients() -> ResponseReturnValue:
    return _report_page("recipients")


@bp.route("/reports/recipients.pdf")
@requires("view_reports")
def recipients_pdf() -> Response:
    return _report_file("recipients", _pdf)


@bp.route("/reports/recipients.csv")
@requires("view_reports")
def recipients_csv() -> Response:
    return _report_file("recipients", _csv)


# Exports ---------------------------------------------------------------------------------


EXPORTS = {
    "360giving": ("360Giving grants package (JSON)", "application/json", "360giving.json"),
    "360giving-csv": ("360Giving grants, one row each (CSV)", "text/csv", "360giving.csv"),
    "beancount": ("The whole journal as a beancount file", "text/plain", "journal.beancount"),
    "csv": ("Every journal line (CSV)", "text/csv", "journal.csv"),
}


@bp.route("/exports")
@requires("export")
def exports() -> ResponseReturnValue:
    return render_template("reports/exports.html", exports=EXPORTS)


def _export(fmt: str) -> Response:
    session = db.session()
    buffer = io.StringIO()
    if fmt == "360giving":
        from statements.exports.export_360giving import export_360giving, to_json

        text = to_json(export_360giving(session))
    elif fmt == "360giving-csv":
        from statements.exports.export_360giving import export_360giving_csv

        export_360giving_csv(session, buffer)
        text = buffer.getvalue()
    elif fmt == "csv":
        from statements.exports.export_journal import export_journal_csv

        export_journal_csv(session, buffer)
        text = buffer.getvalue()
    else:
        from statements.exports.export_beancount import export_beancount

        text = export_beancount(session)
    _label, mimetype, filename = EXPORTS[fmt]
    body = ("\ufeff" + text if mimetype == "text/csv" else text).encode("utf-8")
    stamp = dt.date.today().isoformat()
    stem, extension = filename.rsplit(".", 1)
    return _download(body, mimetype, f"commonpurse-{stem}-{stamp}.{extension}")


@bp.route("/exports/360giving.json")
@requires("export")
def export_360giving() -> Response:
    return _export("360giving")


@bp.route("/exports/360giving.csv")
@requires("export")
def export_360giving_csv() -> Response:
    return _export("360giving-csv")


@bp.route("/exports/journal.beancount")
@requires("export")
def export_beancount() -> Response:
    return _export("beancount")


@bp.route("/exports/journal.csv")
@requires("export")
def export_journal_csv() -> Response:
    return _export("csv")
