"""Statement pages and downloads, and the finance reconciliation upload.

A pot's distribution statement (``statements.reports.distribution.build_statement``) is shown as
HTML inside the app's page and offered as PDF and CSV; ``?as_at=2023-03-31`` gives the figures as at
a date. The renderers are imported inside the views, so this module depends on them only when a
statement is asked for.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from ledger.errors import InvalidInput
from ledger.fy import parse_date
from statements.reports.distribution import DistributionStatement, build_statement
from web import db
from web.forms import ReconcileForm
from web.lookups import pot_or_404
from web.permissions import requires, signed_in_user

bp = Blueprint("statements", __name__)


def _statement(
    pot_id: int, as_at: dt.date | None, since: dt.date | None = None
) -> DistributionStatement:
    user = signed_in_user()
    session = db.session()
    pot = pot_or_404(session, user, pot_id)
    return build_statement(session, pot.name, as_at=as_at, since=since)


DATE_PARTS = ("day", "month", "year")
DATE_LABELS = {"as_at": "The as-at date", "since": "The 'since' date"}


def _as_at(name: str = "as_at") -> tuple[dt.date | None, str | None]:
    """The date asked for in ``name`` (None: not given), or why it cannot be read. It comes
    as one ``name`` (``31/03/2023``, as links and downloads give it) or as the page's three
    boxes, ``name-day``, ``name-month`` and ``name-year``."""
    text = request.args.get(name, "").strip()
    parts = [request.args.get(f"{name}-{part}", "").strip() for part in DATE_PARTS]
    label = DATE_LABELS.get(name, "The date")
    if not text and any(parts):
        missing = [part for part, value in zip(DATE_PARTS, parts, strict=True) if not value]
        if missing:
            return None, f"{label} must include a {missing[0]}"
        widths = (2, 2, 4)
        if not all(
            v.isascii() and v.isdigit() and len(v) <= w for v, w in zip(parts, widths, strict=True)
        ):
            return None, f"{label} must be a day, month and year in numbers, like 31 3 2023"
        day, month, year = (int(v) for v in parts)
        text = f"{day:02d}/{month:02d}/{year:04d}"
    if not text:
        return None, None
    try:
        return parse_date(text, field=name), None
    except InvalidInput as error:
        return None, str(error)


def _date_boxes(name: str, parsed: dt.date | None) -> dict[str, str]:
    """What the day, month and year boxes show: what was typed, else the date shown."""
    typed = {part: request.args.get(f"{name}-{part}", "").strip() for part in DATE_PARTS}
    if any(typed.values()) or parsed is None:
        return typed
    return {"day": str(parsed.day), "month": str(parsed.month), "year": str(parsed.year)}


def _since(as_at: dt.date | None) -> tuple[dt.date | None, str | None]:
    """The ``since`` date ("progress since"), which must not come after the as-at date."""
    since, problem = _as_at("since")
    if since is not None and since > (as_at or dt.date.today()):
        return None, "The 'since' date must be on or before the as-at date"
    return since, problem


def _as_at_or_400() -> dt.date | None:
    as_at, problem = _as_at()
    if problem:
        abort(400)
    return as_at


def _since_or_400(as_at: dt.date | None) -> dt.date | None:
    since, problem = _since(as_at)
    if problem:
        abort(400)
    return since


def _filename(statement: DistributionStatement, extension: str) -> str:
    ascii_name = (
        unicodedata.normalize("NFKD", statement.section.pot).encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower() or "pot"
    return f"statement-{slug}-{statement.as_at.isoformat()}.{extension}"


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/pots/<id:pot_id>/statement")
@requires("view_statement")
def statement(pot_id: int) -> ResponseReturnValue:
    from statements.render.render_html import render_html
    from statements.reports.signoff import signoffs
    from web.overtime import SIGNOFF_PREFIX, SignoffForm

    as_at, problem = _as_at()
    since, since_problem = _since(as_at)
    found = _statement(pot_id, as_at, since)
    fragment = Markup(render_html(found, standalone=False))  # autoescaped by the renderer
    user = signed_in_user()
    sign_form = (
        SignoffForm(formdata=None, prefix=SIGNOFF_PREFIX) if user.may("sign_statement") else None
    )
    as_at_text = f"{as_at:%d/%m/%Y}" if as_at is not None else ""
    since_text = f"{since:%d/%m/%Y}" if since is not None else ""
    if sign_form is not None:
        sign_form.as_at.data = as_at_text
        sign_form.since.data = since_text
    page = render_template(
        "statements/statement.html",
        statement=found,
        fragment=fragment,
        pot_id=pot_id,
        pot=found.section,
        as_at=as_at_text,
        since=since_text,
        as_at_boxes=_date_boxes("as_at", as_at),
        since_boxes=_date_boxes("since", since),
        problem=problem,
        since_problem=since_problem,
        sign_form=sign_form,
        sign_action=url_for("overtime.sign", pot_id=pot_id),
        signoffs=signoffs(db.session(), pot_id),
    )
    return page, 422 if problem or since_problem else 200


@bp.route("/pots/<id:pot_id>/statement.pdf")
@requires("view_statement")
def statement_pdf(pot_id: int) -> Response:
    from statements.render.render_pdf import render_pdf

    as_at = _as_at_or_400()
    found = _statement(pot_id, as_at, _since_or_400(as_at))
    return _download(render_pdf(found), "application/pdf", _filename(found, "pdf"))


@bp.route("/pots/<id:pot_id>/statement.csv")
@requires("view_statement")
def statement_csv(pot_id: int) -> Response:
    from statements.render.render_csv import render_csv

    as_at = _as_at_or_400()
    found = _statement(pot_id, as_at, _since_or_400(as_at))
    out = io.StringIO()
    render_csv(found, out)
    # A byte-order mark so spreadsheets open the £ signs and accents as UTF-8.
    body = ("\ufeff" + out.getvalue()).encode("utf-8")
    return _download(body, "text/csv", _filename(found, "csv"))


@bp.route("/reconciliation", methods=["GET", "POST"])
@requires("reconcile")
def reconciliation() -> ResponseReturnValue:
    from statements.reports.finance_match import FinanceFileError, reconcile_finance

    form = ReconcileForm()
    result = None
    if form.validate_on_submit():
        upload = form.file.data
        name = _upload_name(upload.filename)
        try:
            content = upload.read().decode("utf-8-sig")
            result = reconcile_finance(
                db.session(),
                io.StringIO(content, newline=None),
                name,
                date_from=form.date_from.day,
                date_to=form.date_to.day,
            )
        except UnicodeDecodeError as error:
            form.file.errors = [
                *form.file.errors,
                f"{name} is not UTF-8 text (byte {error.start}); save it as 'CSV UTF-8'."
                " Nothing was matched.",
            ]
        except FinanceFileError as error:
            form.file.errors = [*form.file.errors, f"{error}. Nothing was matched."]
    status = 422 if request.method == "POST" and result is None else 200
    from statements.reports.finance_match import plural

    page = render_template(
        "statements/reconciliation.html", form=form, result=result, plural=plural
    )
    return page, status


def _upload_name(filename: str | None) -> str:
    base = (filename or "the finance export").replace("\\", "/").rsplit("/", 1)[-1]
    return base[:100] or "the finance export"
