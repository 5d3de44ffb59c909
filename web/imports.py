"""CSV import: upload, preview, confirm, and a second person approves.

The upload is kept on the server in a private folder under a random token (the token is bound to
the uploader's session), then checked by running the whole import in a transaction that is rolled
back: the preview shows the rows and either what the import would record or the first bad row,
with its spreadsheet row number, column and reason. Confirming does not record the rows: the file
waits in the approvals queue as one request, and a second signed-in person approves the whole
file, which applies it atomically with the guards of that day (``ledger.importer.import_rows``),
recording the uploader as entering each row and the approver as approving it. References are
idempotency keys, so applying a file twice changes nothing; a confirmed or cancelled upload is
deleted.
"""

from __future__ import annotations

import io
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from ledger.errors import LedgerError
from ledger.importer import COLUMNS, ImportResult, ImportRowError, import_rows, read_rows
from ledger.operations import request_import
from web import db
from web.forms import ImportConfirmForm, ImportUploadForm
from web.permissions import requires, signed_in_user

bp = Blueprint("imports", __name__, url_prefix="/imports")

PREVIEW_ROWS = 500
KEEP_UPLOADS_SECONDS = 24 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


PREVIEW_APPROVER = "the person who approves it"
"""Who a preview supposes approves the rows: someone other than the uploader."""


@dataclass(frozen=True)
class Upload:
    token: str
    name: str
    content: str


@dataclass(frozen=True)
class Preview:
    rows: list[tuple[int, dict[str, str]]]
    more_rows: int
    result: ImportResult | None
    problem: ImportRowError | LedgerError | None


def _folder() -> Path:
    configured = current_app.config.get("IMPORT_DIR")
    folder = Path(configured) if configured else Path(tempfile.gettempdir()) / "commonpurse-imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _store(name: str, content: str) -> Upload:
    folder = _folder()
    cutoff = time.time() - KEEP_UPLOADS_SECONDS
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.csv").write_text(content, encoding="utf-8")
    session["import"] = {"token": token, "name": name}
    return Upload(token, name, content)


def _stored(token: str | None) -> Upload | None:
    """The upload this session made under ``token``, if it is still there."""
    held = session.get("import")
    if not token or not _TOKEN.fullmatch(token) or not isinstance(held, dict):
        return None
    if held.get("token") != token:
        return None
    path = _folder() / f"{token}.csv"
    if not path.is_file():
        return None
    return Upload(token, str(held["name"]), path.read_text("utf-8"))


def _discard(upload: Upload) -> None:
    (_folder() / f"{upload.token}.csv").unlink(missing_ok=True)
    session.pop("import", None)


def _dry_run(upload: Upload, username: str, s: Session) -> ImportResult:
    return import_rows(
        s,
        io.StringIO(upload.content, newline=""),
        source_name=upload.name,
        entered_by=username,
        approved_by=PREVIEW_APPROVER,
    )


def _preview(upload: Upload, username: str) -> Preview:
    rows: list[tuple[int, dict[str, str]]] = []
    more = 0
    try:
        for number, row in read_rows(io.StringIO(upload.content, newline="")):
            if len(rows) < PREVIEW_ROWS:
                rows.append((number, row))
            else:
                more += 1
    except ImportRowError as error:
        return Preview(rows, more, None, error)
    try:
        result = db.dry_run(lambda s: _dry_run(upload, username, s))
    except LedgerError as error:
        return Preview(rows, more, None, error)
    return Preview(rows, more, result, None)


def _show(upload: Upload, preview: Preview) -> ResponseReturnValue:
    page = render_template(
        "imports/preview.html",
        upload=upload,
        preview=preview,
        header=COLUMNS,
        form=ImportConfirmForm(token=upload.token),
    )
    return page, 422 if preview.problem else 200


@bp.route("", methods=["GET", "POST"])
@requires("import_csv")
def upload() -> ResponseReturnValue:
    user = signed_in_user()
    form = ImportUploadForm()
    if form.validate_on_submit():
        file = form.file.data
        name = (file.filename or "upload.csv").replace("\\", "/").rsplit("/", 1)[-1][:100]
        try:
            content = file.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            form.file.errors = [
                *form.file.errors,
                f"{name} is not UTF-8 text (byte {error.start}); save it as 'CSV UTF-8'."
                " Nothing was imported.",
            ]
        else:
            stored = _store(name, content)
            return _show(stored, _preview(stored, user.username))
    status = 422 if request.method == "POST" else 200
    return render_template("imports/upload.html", form=form), status


@bp.route("/confirm", methods=["POST"])
@requires("import_csv")
def confirm() -> ResponseReturnValue:
    user = signed_in_user()
    form = ImportConfirmForm()
    stored = _stored(form.token.data if form.validate_on_submit() else None)
    if stored is None:
        flash(
            "That upload has already been imported or cancelled, or has expired. Nothing more"
            " was recorded. Upload the file again if you need to.",
            "warning",
        )
        return redirect(url_for("imports.upload"))
    try:
        waiting = db.write(
            lambda s: request_import(
                s, csv=stored.content, source_name=stored.name, entered_by=user.username
            )
        )
    except LedgerError as error:
        return _show(stored, Preview([], 0, None, error))
    _discard(stored)
    flash(
        f"{stored.name} is waiting as request {waiting.id}: a second person must approve it"
        " (see Approvals). Nothing is recorded until then.",
        "success",
    )
    return redirect(url_for("pots.dashboard"))


@bp.route("/cancel", methods=["POST"])
@requires("import_csv")
def cancel() -> ResponseReturnValue:
    form = ImportConfirmForm()
    stored = _stored(form.token.data if form.validate_on_submit() else None)
    if stored is not None:
        _discard(stored)
    flash("The upload was cancelled. Nothing was imported.", "info")
    return redirect(url_for("imports.upload"))
