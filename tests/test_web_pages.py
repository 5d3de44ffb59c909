"""Every page is well formed for assistive technology: one ``<h1>``, unique ids, every form
control labelled, every ``aria-describedby`` and in-page link pointing at something that exists,
and tables with captions and header cells. (Browser tests with axe come later; these catch the
mistakes a template can make.)"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from ledger.demo import CTSI_POT, WFWF_POT
from tests.web_helpers import demo_app, fast_sign_in, hidden_reference, pot_id, text_of

VOID = {"input", "br", "img", "meta", "link", "hr", "source", "use", "path", "col", "wbr"}


@dataclass
class Page(HTMLParser):
    ids: Counter[str] = field(default_factory=Counter)
    label_for: set[str] = field(default_factory=set)
    controls: list[str] = field(default_factory=list)
    described_by: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)
    h1: int = 0
    tables: int = 0
    captions: int = 0
    open_tags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids[a["id"]] += 1
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a.get("id", f"<{tag} name={a.get('name')} without an id>"))
        if "aria-describedby" in a:
            self.described_by += a["aria-describedby"].split()
        if tag == "a" and a.get("href", "").startswith("#") and len(a["href"]) > 1:
            self.fragments.append(a["href"][1:])
        self.h1 += tag == "h1"
        self.tables += tag == "table"
        self.captions += tag == "caption"
        if tag not in VOID:
            self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open_tags or self.open_tags[-1] != tag:
            self.problems.append(
                f"</{tag}> closes <{self.open_tags[-1] if self.open_tags else ''}>"
            )
            if tag in self.open_tags:
                while self.open_tags and self.open_tags.pop() != tag:
                    pass
            return
        self.open_tags.pop()


def check(html: str) -> list[str]:
    page = Page()
    page.feed(html)
    page.close()
    problems = list(page.problems)
    problems += [f"id {i!r} used {n} times" for i, n in page.ids.items() if n > 1]
    problems += [f"control {c!r} has no label" for c in page.controls if c not in page.label_for]
    problems += [f"aria-describedby {d!r} missing" for d in page.described_by if d not in page.ids]
    problems += [f"link to #{f} goes nowhere" for f in page.fragments if f not in page.ids]
    if page.h1 != 1:
        problems.append(f"{page.h1} <h1> elements")
    if page.tables != page.captions:
        problems.append(f"{page.tables} tables but {page.captions} captions")
    if page.open_tags:
        problems.append(f"unclosed {page.open_tags}")
    return problems


PAGES = [
    "/",
    "/pots/{wfwf}",
    "/pots/{ctsi}",
    "/pots/{wfwf}/journal",
    "/pots/{wfwf}/statement",
    "/pots/{ctsi}/statement?as_at=not a date",
    "/awards/new",
    "/receipts/new",
    "/allocations/new",
    "/delegations/new",
    "/subgrants/new",
    "/variations/new",
    "/payments/new",
    "/returns/new",
    "/approvals",
    "/reconciliation",
    "/imports",
    "/audit",
    "/audit?date_from=nonsense",
    "/audit?recipient=aberlour&txn_from=01/10/2022",
    "/intermediary-returns",
    "/pots/{ctsi}/return",
    "/pots/{ctsi}/return?as_at=31/02/2023",
    "/reports",
    "/reports/funders",
    "/reports/promise",
    "/reports/recipients",
    "/reports/recipients?name=Action for Children",
    "/reports/recipients?name=Nobody",
    "/exports",
    "/my-entries",
    "/nowhere",
]


@pytest.mark.parametrize("username", ["admin", "ctsi"])
def test_every_page_is_well_formed_and_labelled(database_url: str, username: str) -> None:
    app = demo_app(database_url)
    keys = {"wfwf": pot_id(app, WFWF_POT), "ctsi": pot_id(app, CTSI_POT)}
    client = app.test_client()
    assert not check(text_of(client.get("/login")))
    fast_sign_in(app, client, username)
    found = {}
    for path in PAGES:
        response = client.get(path.format(**keys))
        found[path] = check(text_of(response))
    # A form refused by the ledger, with its error summary and field errors.
    page = text_of(client.get("/subgrants/new" if username == "ctsi" else "/allocations/new"))
    refused = client.post(
        "/subgrants/new" if username == "ctsi" else "/allocations/new",
        data={"reference": hidden_reference(page), "pot": "", "amount": "lots"},
    )
    found["refused form"] = check(text_of(refused))
    assert not {path: problems for path, problems in found.items() if problems}


def test_a_viewer_is_not_offered_entries_of_their_own(database_url: str) -> None:
    app = demo_app(database_url)
    for username, offered in (("viewer", False), ("officer", True)):
        client = app.test_client()
        fast_sign_in(app, client, username)
        page = text_of(client.get("/"))
        assert ("My entries" in page) is offered, username
