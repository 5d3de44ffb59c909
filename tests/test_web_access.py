"""Who may open what: every route against every role, in one table.

Each row is a route and the people allowed. Everyone else gets 403; nobody signed in is sent to
the sign-in page. ``{wfwf}`` is the council's WFWF 2022-23 pot and ``{ctsi}`` the pot CTSI
administers, so the rows also say that CTSI's administrator sees and acts on their own pot and
nothing else, whatever the URL or the form says.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from ledger import operations as ops
from ledger import second_person, timeline, users
from ledger.demo import CTSI_POT, PROMISE_POT, WFWF_POT
from tests.web_helpers import PEOPLE, counts, demo_app, fast_sign_in, pot_id, run, text_of

EVERYONE = frozenset(PEOPLE)
ADMIN = frozenset({"admin"})
ENTERERS = EVERYONE - {"viewer"}  # a viewer enters nothing, so has no entries of their own
OFFICERS = frozenset({"admin", "officer"})
FINANCE = frozenset({"admin", "finance"})
COUNCIL_READERS = frozenset({"admin", "officer", "finance", "viewer"})
APPROVERS = frozenset({"admin", "officer", "finance"})
SCHEDULERS = frozenset({"admin", "officer", "ctsi"})  # CTSI on its own sub-grants only


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: frozenset[str]
    data: tuple[tuple[str, str], ...] = ()


ROUTES = (
    Route("GET", "/", EVERYONE),
    Route("GET", "/pots/{wfwf}", COUNCIL_READERS),
    Route("GET", "/pots/{ctsi}", EVERYONE),
    Route("GET", "/pots/{wfwf}/journal", COUNCIL_READERS),
    Route("GET", "/pots/{ctsi}/journal", EVERYONE),
    Route("GET", "/pots/{wfwf}/statement", COUNCIL_READERS),
    Route("GET", "/pots/{ctsi}/statement", EVERYONE),
    Route("GET", "/pots/{wfwf}/statement.pdf", COUNCIL_READERS),
    Route("GET", "/pots/{ctsi}/statement.pdf", EVERYONE),
    Route("GET", "/pots/{wfwf}/statement.csv", COUNCIL_READERS),
    Route("GET", "/pots/{ctsi}/statement.csv", EVERYONE),
    Route("GET", "/awards/new", OFFICERS),
    Route("POST", "/awards/new", OFFICERS),
    Route("GET", "/awards/reduce", OFFICERS),
    Route("POST", "/awards/reduce", OFFICERS),
    Route("GET", "/carry-forwards/new", OFFICERS),
    Route("POST", "/carry-forwards/new", OFFICERS),
    Route("GET", "/hand-backs/new", FINANCE),
    Route("POST", "/hand-backs/new", FINANCE),
    Route("GET", "/pooled-contracts/new", OFFICERS),
    Route("POST", "/pooled-contracts/new", OFFICERS),
    Route("GET", "/entries/{award_entry}/reverse", APPROVERS),
    Route("POST", "/entries/{award_entry}/reverse", APPROVERS),
    # Closing an allocation: the council's money-changers, never CTSI or a viewer.
    Route("GET", "/allocations/WFWF-22-02/close", APPROVERS),
    Route("POST", "/allocations/WFWF-22-02/close", APPROVERS),
    Route("GET", "/allocations/CTSI-22-01/close", APPROVERS),
    Route("GET", "/receipts/new", FINANCE),
    Route("POST", "/receipts/new", FINANCE),
    Route("GET", "/allocations/new", OFFICERS),
    Route("POST", "/allocations/new", OFFICERS),
    Route("GET", "/delegations/new", OFFICERS),
    Route("POST", "/delegations/new", OFFICERS),
    Route("GET", "/subgrants/new", frozenset({"admin", "ctsi"})),
    Route("GET", "/subgrants/new?pot={ctsi}", frozenset({"admin", "ctsi"})),
    Route("GET", "/subgrants/new?pot={wfwf}", ADMIN),
    Route("POST", "/subgrants/new", frozenset({"admin", "ctsi"}), (("pot", "{ctsi}"),)),
    Route("POST", "/subgrants/new", ADMIN, (("pot", "{wfwf}"), ("amount", "1"))),
    Route("GET", "/variations/new", OFFICERS),
    Route("POST", "/variations/new", OFFICERS),
    Route("GET", "/payments/new", frozenset({"admin", "finance", "ctsi"})),
    Route("GET", "/payments/new?allocation=WFWF-22-02", FINANCE),
    Route("POST", "/payments/new", frozenset({"admin", "finance", "ctsi"})),
    Route("POST", "/payments/new", FINANCE, (("allocation", "WFWF-22-02"), ("amount", "1"))),
    Route("GET", "/returns/new", FINANCE),
    Route("POST", "/returns/new", FINANCE),
    Route("GET", "/approvals", APPROVERS | {"ctsi"}),
    Route("POST", "/approvals/allocations/WFWF-22-02/approve", APPROVERS),
    Route("POST", "/approvals/allocations/CTSI-22-01/approve", APPROVERS | {"ctsi"}),
    Route("GET", "/approvals/allocations/WFWF-22-03/reject", APPROVERS),
    Route("POST", "/approvals/allocations/WFWF-22-03/reject", APPROVERS),
    Route("GET", "/approvals/allocations/CTSI-22-01/reject", APPROVERS | {"ctsi"}),
    Route("GET", "/approvals/requests/{council_request}/reject", APPROVERS),
    Route("POST", "/approvals/requests/{council_request}/reject", APPROVERS),
    Route("POST", "/approvals/requests/{council_request}/approve", APPROVERS),
    Route("GET", "/approvals/requests/{ctsi_request}/reject", APPROVERS | {"ctsi"}),
    Route("POST", "/approvals/requests/{ctsi_request}/approve", APPROVERS | {"ctsi"}),
    Route("GET", "/reconciliation", FINANCE),
    Route("POST", "/reconciliation", FINANCE),
    Route("GET", "/imports", ADMIN),
    Route("POST", "/imports", ADMIN),
    Route("POST", "/imports/confirm", ADMIN),
    Route("POST", "/imports/cancel", ADMIN),
    Route("GET", "/audit", COUNCIL_READERS),
    Route("GET", "/audit?actor=officer", COUNCIL_READERS),
    Route("GET", "/audit.csv", COUNCIL_READERS),
    Route("GET", "/audit.csv?recipient=aberlour", COUNCIL_READERS),
    # Reports over every organisation's money and exports of the whole ledger: the council's.
    Route("GET", "/reports", COUNCIL_READERS),
    Route("GET", "/reports/funders", COUNCIL_READERS),
    Route("GET", "/reports/funders.pdf", COUNCIL_READERS),
    Route("GET", "/reports/funders.csv?funder=Scottish+Government", COUNCIL_READERS),
    Route("GET", "/reports/promise", COUNCIL_READERS),
    Route("GET", "/reports/promise.pdf", COUNCIL_READERS),
    Route("GET", "/reports/promise.csv", COUNCIL_READERS),
    Route("GET", "/reports/recipients", COUNCIL_READERS),
    Route("GET", "/reports/recipients?name=Homestart", COUNCIL_READERS),
    Route("GET", "/reports/recipients.pdf?name=Homestart", COUNCIL_READERS),
    Route("GET", "/reports/recipients.csv", COUNCIL_READERS),
    Route("GET", "/exports", COUNCIL_READERS),
    Route("GET", "/exports/360giving.json", COUNCIL_READERS),
    Route("GET", "/exports/360giving.csv", COUNCIL_READERS),
    Route("GET", "/exports/journal.beancount", COUNCIL_READERS),
    Route("GET", "/exports/journal.csv", COUNCIL_READERS),
    # An intermediary's return: its own administrator and the council's readers, nobody else.
    Route("GET", "/intermediary-returns", EVERYONE),
    Route("GET", "/pots/{ctsi}/return", EVERYONE),
    Route("GET", "/pots/{ctsi}/return.pdf", EVERYONE),
    Route("GET", "/pots/{ctsi}/return.csv", EVERYONE),
    Route("GET", "/pots/{other_ctsi}/return", COUNCIL_READERS),
    Route("GET", "/pots/{other_ctsi}/return.pdf", COUNCIL_READERS),
    Route("GET", "/pots/{other_ctsi}/return.csv", COUNCIL_READERS),
    # What each person entered, and acknowledging a rejection of their own.
    Route("GET", "/my-entries", ENTERERS),
    Route(
        "POST",
        "/my-entries/acknowledge",
        ENTERERS,
        (("kind", "allocation"), ("item", "WFWF-22-03")),
    ),
    Route("GET", "/organisations", ADMIN),
    Route("GET", "/organisations/{aberlour}", ADMIN),
    Route("POST", "/organisations/{aberlour}", ADMIN, (("charity_numbers", "SC007991"),)),
    Route("GET", "/people", ADMIN),
    Route("GET", "/people/new", ADMIN),
    Route("POST", "/people/new", ADMIN),
    Route("GET", "/people/{person}", ADMIN),
    Route("POST", "/people/{person}", ADMIN),
    Route("POST", "/people/{person}/password", ADMIN),
    Route("POST", "/people/{person}/deactivate", ADMIN),
    Route("POST", "/people/{person}/reactivate", ADMIN),
    Route("GET", "/account/password", EVERYONE),
    Route("POST", "/account/password", EVERYONE),
    Route("GET", "/forecast", EVERYONE),
    Route("GET", "/forecast?pot={wfwf}", COUNCIL_READERS),
    Route("GET", "/forecast?pot={ctsi}", EVERYONE),
    Route("GET", "/forecast.csv", EVERYONE),
    Route("GET", "/allocations/WFWF-22-02/schedule", COUNCIL_READERS),
    Route("GET", "/allocations/CTSI-22-01/schedule", EVERYONE),
    Route("POST", "/allocations/WFWF-22-02/schedule", OFFICERS),
    Route("POST", "/allocations/CTSI-22-01/schedule", SCHEDULERS),
    Route("POST", "/allocations/WFWF-22-02/rebalance", OFFICERS),
    Route("POST", "/allocations/CTSI-22-01/rebalance", SCHEDULERS),
    Route("POST", "/pots/{wfwf}/signoffs", FINANCE),
    Route("POST", "/pots/{ctsi}/signoffs", FINANCE),
    Route("GET", "/signoffs/{council_signoff}", COUNCIL_READERS),
    Route("GET", "/signoffs/{ctsi_signoff}", EVERYONE),
    Route("GET", "/signoffs/{council_signoff}.pdf", COUNCIL_READERS),
    Route("GET", "/signoffs/{ctsi_signoff}.pdf", EVERYONE),
    Route("GET", "/requirements/{council_requirement}", COUNCIL_READERS),
    Route("GET", "/requirements/{ctsi_requirement}", EVERYONE),
    Route("POST", "/requirements/{council_requirement}/received", OFFICERS),
    Route("POST", "/requirements/{ctsi_requirement}/received", SCHEDULERS),
    Route("POST", "/requirements/{council_requirement}/due-date", OFFICERS),
    Route("POST", "/requirements/{ctsi_requirement}/due-date", SCHEDULERS),
    Route("POST", "/requirements/{council_requirement}/waiver", OFFICERS),
    Route("POST", "/requirements/{ctsi_requirement}/waiver", SCHEDULERS),
    # A waiver or phasing waiting for a second person: approvers decide, and whoever asked may
    # decline (withdraw) their own; CTSI only on its own sub-grants.
    Route("POST", "/second-approvals/{council_waiver}/approve", APPROVERS),
    Route("POST", "/second-approvals/{ctsi_waiver}/approve", APPROVERS | {"ctsi"}),
    Route("POST", "/second-approvals/{council_waiver}/decline", APPROVERS),
    Route("POST", "/second-approvals/{ctsi_waiver}/decline", APPROVERS | {"ctsi"}),
    Route("POST", "/second-approvals/{phasing}/approve", APPROVERS),
    Route("GET", "/awards/WFWF-2022-23-AWARD/phasing", COUNCIL_READERS),
    Route("POST", "/awards/WFWF-2022-23-AWARD/phasing", OFFICERS),
)
OTHER_INTERMEDIARY = "Carers Trust Scotland"
OTHER_POT = "Young carers grants 2021-22"
OPEN_ROUTES = {("GET", "auth.login"), ("POST", "auth.login"), ("POST", "auth.logout")}


def _requests(session: Session) -> dict[str, int]:
    """One variation waiting on a council allocation, one payment waiting on a CTSI grant, and a
    pot delegated to another intermediary, whose return CTSI must not see."""
    ops.ensure_organisation(session, OTHER_INTERMEDIARY, ["intermediary"])
    ops.allocate(
        session,
        reference="PROMISE-21-09",
        pot=PROMISE_POT,
        recipient=OTHER_INTERMEDIARY,
        amount_pence=1_000_000,
        date=dt.date(2021, 10, 1),
        entered_by="officer",
        approved_by="finance",
        purpose="Small grants for young carers",
        to_pot=OTHER_POT,
    )
    """One variation waiting on a council allocation, one payment waiting on a CTSI grant, and
    a person for the administrator to manage."""
    council = ops.vary(
        session,
        reference="VAR-TEST-1",
        allocation="WFWF-22-02",
        delta_pence=-50_000,
        date=dt.date(2022, 11, 1),
        reason="Start delayed by a month",
        entered_by="officer",
    )
    ops.pay(  # the council hands CTSI cash, so CTSI can pay its grants
        session,
        reference="HANDOVER-1",
        allocation="WFWF-22-05",
        amount_pence=100_000,
        date=dt.date(2022, 10, 15),
        memo="First instalment to CTSI",
        entered_by="finance",
        approved_by="officer",
    )
    ctsi = ops.pay(
        session,
        reference="PAY-TEST-1",
        allocation="CTSI-22-01",
        amount_pence=100_000,
        date=dt.date(2022, 11, 1),
        memo="First instalment",
        entered_by="ctsi",
    )
    leaver = users.add_user(
        session,
        username="leaver",
        password="tablet lighthouse porridge",
        role="viewer",
        added_by="admin",
    )
    council_signoff = timeline.sign_off(
        session, pot=WFWF_POT, as_at=dt.date(2024, 2, 8), signed_by="finance"
    )
    ctsi_signoff = timeline.sign_off(
        session, pot=CTSI_POT, as_at=dt.date(2024, 2, 8), signed_by="finance"
    )
    requirements = {
        key: timeline.add_requirement(
            session,
            allocation=allocation,
            kind="monitoring_return",
            title="Monitoring return",
            due_date=dt.date(2024, 1, 15),
            entered_by="officer",
        ).id
        for key, allocation in (
            ("council_requirement", "WFWF-22-02"),
            ("ctsi_requirement", "CTSI-22-01"),
        )
    }
    waivers = {
        f"{key.split('_')[0]}_waiver": second_person.ask_waiver(
            session, requirement_id=requirement_id, reason="Service paused", entered_by=asker
        ).id
        for (key, requirement_id), asker in zip(
            requirements.items(), ("officer", "ctsi"), strict=True
        )
    }
    phasing = second_person.ask_phasing(
        session,
        award="WFWF-2022-23-AWARD",
        parts={2022: 20_000_000, 2023: 13_700_000},
        entered_by="officer",
    )
    assert phasing is not None
    return {
        **requirements,
        **waivers,
        "phasing": phasing.id,
        "council_request": council.id,
        "ctsi_request": ctsi.id,
        "council_signoff": council_signoff.id,
        "ctsi_signoff": ctsi_signoff.id,
        "person": leaver.id,
    }


def _app_and_keys(database_url: str) -> tuple[Flask, dict[str, int]]:
    app = demo_app(database_url)
    keys = run(app, _requests)
    keys.update(
        wfwf=pot_id(app, WFWF_POT), ctsi=pot_id(app, CTSI_POT), other_ctsi=pot_id(app, OTHER_POT)
    )
    keys["aberlour"] = run(app, lambda s: ops.find_organisation(s, "Aberlour").id)
    keys["award_entry"] = run(app, lambda s: ops.find_entry(s, "WFWF-2022-23-AWARD").id)
    return app, keys


def _call(client: object, route: Route, keys: dict[str, int]) -> tuple[int, str | None]:
    path = route.path.format(**keys)
    data = {name: value.format(**keys) for name, value in route.data}
    response = client.open(path, method=route.method, data=data)  # type: ignore[attr-defined]
    assert response.status_code < 500, f"{route.method} {path}: {text_of(response)[:2000]}"
    return response.status_code, response.headers.get("Location")


@pytest.mark.parametrize("username", sorted(PEOPLE))
def test_every_route_checks_the_role_and_the_pot_scope(database_url: str, username: str) -> None:
    app, keys = _app_and_keys(database_url)
    client = app.test_client()
    fast_sign_in(app, client, username)
    wrong = []
    for route in ROUTES:
        status, _ = _call(client, route, keys)
        allowed = username in route.allowed
        if allowed == (status == 403):
            wrong.append(f"{route.method} {route.path} {route.data}: {status}")
    assert not wrong, f"{username} ({PEOPLE[username][0]}) got:\n" + "\n".join(wrong)


def test_nobody_signed_in_is_sent_to_sign_in(database_url: str) -> None:
    app, keys = _app_and_keys(database_url)
    client = app.test_client()
    for route in ROUTES:
        status, location = _call(client, route, keys)
        assert status == 302, f"{route.method} {route.path}"
        assert location is not None and location.startswith("/login?next=")


def test_the_table_covers_every_route(database_url: str) -> None:
    app, keys = _app_and_keys(database_url)
    adapter = app.url_map.bind("localhost")
    in_table = {
        (r.method, adapter.match(r.path.format(**keys).split("?")[0], method=r.method)[0])
        for r in ROUTES
    }
    every = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    missing = every - in_table - OPEN_ROUTES
    assert not missing, f"routes missing from the access table: {sorted(missing)}"


def test_an_intermediary_cannot_reach_another_organisations_pot(database_url: str) -> None:
    app, keys = _app_and_keys(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "ctsi")
    before = counts(app)

    # Editing the URL.
    assert client.get(f"/pots/{keys['wfwf']}").status_code == 403
    assert client.get(f"/pots/{keys['wfwf']}/statement.pdf").status_code == 403
    # Editing the form: a sub-grant from the council's pot, a payment on a council allocation.
    sub_grant = {
        "pot": str(keys["wfwf"]),
        "recipient": "Homestart",
        "amount": "100.00",
        "date": "01/10/2022",
        "purpose": "Edited form",
        "reference": "SUB-20221001-AAAAAAAA",
    }
    assert client.post("/subgrants/new", data=sub_grant).status_code == 403
    payment = {
        "allocation": "WFWF-22-02",
        "amount": "100.00",
        "date": "01/10/2022",
        "memo": "Edited form",
        "reference": "PAY-20221001-AAAAAAAA",
    }
    assert client.post("/payments/new", data=payment).status_code == 403
    assert client.post("/approvals/allocations/WFWF-22-04/approve").status_code == 403
    assert counts(app) == before

    # Their own pot, through the same forms, is fine.
    sub_grant["pot"] = str(keys["ctsi"])
    response = client.post("/subgrants/new", data=sub_grant)
    assert response.status_code == 422  # CTSI's pot is fully granted: refused, not forbidden
    assert "CTSI managed WFWF Grant 2022-23 has £0.00 available" in text_of(response)


def test_an_intermediary_sees_only_their_pots_on_the_dashboard(database_url: str) -> None:
    app, keys = _app_and_keys(database_url)
    client = app.test_client()
    fast_sign_in(app, client, "ctsi")
    page = text_of(client.get("/"))
    assert f'href="/pots/{keys["ctsi"]}"' in page
    assert f'href="/pots/{keys["wfwf"]}"' not in page  # named as the source, never linked
    assert "Promise Partnership" not in page
