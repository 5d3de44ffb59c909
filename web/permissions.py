"""Who may do what: each action and the roles allowed, one decorator, and the pot scope.

Roles (``ledger.models.USER_ROLES``): ``admin``; commissioning ``officer`` (awards, pots,
allocations, variations, delegations); ``intermediary`` administrator, scoped to the pots their
organisation administers (sub-grants and their payments there, read-only on those pots and their
statements, nothing else); ``finance`` (receipts, payments, returns, reconciliation, all
statements); ``viewer`` (read-only).

Every view names its action with ``@requires("record_allocation")``; a view that touches a pot or
an allocation also checks ``pot_in_scope`` / ``allocation_in_scope`` on the server, whatever the
URL or the form said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, g, redirect, request, url_for
from sqlalchemy import ColumnElement, true
from werkzeug.wrappers import Response

from ledger.models import Allocation, Pot

P = ParamSpec("P")
R = TypeVar("R")

ADMIN = "admin"
OFFICER = "officer"
INTERMEDIARY = "intermediary"
FINANCE = "finance"
VIEWER = "viewer"
EVERYONE = frozenset({ADMIN, OFFICER, INTERMEDIARY, FINANCE, VIEWER})

ACTIONS: dict[str, frozenset[str]] = {
    "view_pots": EVERYONE,
    "view_statement": EVERYONE,
    "record_award": frozenset({ADMIN, OFFICER}),
    "record_allocation": frozenset({ADMIN, OFFICER}),
    "record_delegation": frozenset({ADMIN, OFFICER}),
    "record_variation": frozenset({ADMIN, OFFICER}),
    "record_subgrant": frozenset({ADMIN, INTERMEDIARY}),
    "record_payment": frozenset({ADMIN, FINANCE, INTERMEDIARY}),
    "record_receipt": frozenset({ADMIN, FINANCE}),
    "record_return": frozenset({ADMIN, FINANCE}),
    "approve": frozenset({ADMIN, OFFICER, FINANCE, INTERMEDIARY}),
    "reconcile": frozenset({ADMIN, FINANCE}),
    "import_csv": frozenset({ADMIN}),
    "view_audit": frozenset({ADMIN, OFFICER, FINANCE, VIEWER}),
    # Reports over every organisation's money, and exports of the whole ledger: the council's.
    "view_reports": frozenset({ADMIN, OFFICER, FINANCE, VIEWER}),
    "export": frozenset({ADMIN, OFFICER, FINANCE, VIEWER}),
    # What the signed-in person entered, and what became of it (a viewer enters nothing).
    "view_own_entries": EVERYONE - {VIEWER},
    "manage_organisations": frozenset({ADMIN}),
    "manage_people": frozenset({ADMIN}),
    "change_own_password": EVERYONE,
    # Corrections: a reversal of any council entry, which waits for a second person.
    "reverse_entry": frozenset({ADMIN, OFFICER, FINANCE}),
    # Closing a confirmed, fully paid allocation, which waits for a second person.
    "close_allocation": frozenset({ADMIN, OFFICER, FINANCE}),
    # Money over time: officers schedule allocations, an intermediary its sub-grants (scoped to
    # its pots); finance signs statements.
    "schedule_payments": frozenset({ADMIN, OFFICER, INTERMEDIARY}),
    "sign_statement": frozenset({ADMIN, FINANCE}),
}

ROLE_NAMES = {
    ADMIN: "Administrator",
    OFFICER: "Commissioning officer",
    INTERMEDIARY: "Intermediary administrator",
    FINANCE: "Finance",
    VIEWER: "Viewer",
}


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person, as plain values (safe to use after the request's session closes)."""

    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    organisation_name: str | None
    must_change_password: bool = False

    @property
    def scoped(self) -> bool:
        """True when this person only sees their own organisation's pots."""
        return self.role == INTERMEDIARY

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)

    def may(self, action: str) -> bool:
        return self.role in ACTIONS[action]


def current_user() -> CurrentUser | None:
    user: CurrentUser | None = g.get("user")
    return user


def signed_in_user() -> CurrentUser:
    """The signed-in person; only for views behind ``@requires``."""
    user = current_user()
    if user is None:  # pragma: no cover - @requires redirects first
        abort(401)
    return user


def requires(action: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Sign-in required; then 403 unless the person's role may do ``action``."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=_here()))
            if not user.may(action):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _here() -> str:
    path = request.full_path if request.query_string else request.path
    return path if request.method == "GET" else request.path


def pot_in_scope(user: CurrentUser, pot: Pot) -> bool:
    """An intermediary administrator sees only the pots their organisation administers."""
    return not user.scoped or pot.administered_by_id == user.organisation_id


def allocation_in_scope(user: CurrentUser, allocation: Allocation) -> bool:
    """An intermediary acts only on allocations made from their organisation's pots."""
    return all(pot_in_scope(user, share.pot) for share in allocation.shares)


def require_pot(user: CurrentUser, pot: Pot) -> None:
    if not pot_in_scope(user, pot):
        abort(403)


def require_allocation(user: CurrentUser, allocation: Allocation) -> None:
    if not allocation_in_scope(user, allocation):
        abort(403)


def scope_organisation(user: CurrentUser) -> int | None:
    """The organisation whose pots are all this person may see, or None for every pot."""
    return user.organisation_id if user.scoped else None


def pots_in_scope(user: CurrentUser) -> ColumnElement[bool]:
    """A WHERE clause limiting a query on ``Pot`` to what this person may see."""
    organisation = scope_organisation(user)
    if organisation is not None:
        return Pot.administered_by_id == organisation
    return true()
