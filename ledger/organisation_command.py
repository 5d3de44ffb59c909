"""``commonpurse organisation set|show`` and ``commonpurse pot set``: what publishers need to know
beyond the money. Registered numbers and places are checked by ``ledger.identifiers``; a bad
value is refused with one line naming the register, and nothing is written.

    commonpurse organisation set "Action for Children" --charity-number 1097940 \\
        --charity-number SC038092
    commonpurse organisation set "Clackmannanshire Council" --location S12000005 \\
        --location-name Clackmannanshire
    commonpurse organisation set "Clackmannanshire Council (post)" --internal
    commonpurse pot set "WFWF 2022-23" --data-source https://www.clacks.gov.uk/ \\
        --source-document "Audit and Scrutiny Committee report, 8 February 2024, Appendix 2"
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ledger.cli import CliError, in_transaction, user_of

if TYPE_CHECKING:  # imported where used, so that registering the command stays cheap
    from sqlalchemy.orm import Session

    from ledger.models import Organisation, Pot

IMPORT_HEADER = (
    "name",
    "charity_numbers",
    "ni_charity_number",
    "company_number",
    "local_authority_code",
    "other_identifier",
    "location_code",
    "location_name",
    "internal",
)
"""``ledger.organisations.IMPORT_HEADER`` (a test checks they agree)."""

DEFAULT_AREA = "the accountable body's place"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    organisation = sub.add_parser(
        "organisation",
        help="an organisation's registered numbers, place, and whether it is part of the"
        " accountable body",
    )
    actions = organisation.add_subparsers(dest="organisation_command", required=True)
    change = actions.add_parser(
        "set",
        help="record registered numbers and a place (an empty value clears a field)",
        description="Record an organisation's registered numbers and place. Each is checked"
        " against its register's form. 360Giving exports name the organisation by the first"
        " of: England and Wales charity, Scottish charity, Northern Ireland charity, local"
        " authority, other register, Companies House.",
    )
    change.add_argument("name", help="the organisation, as the ledger names it")
    change.add_argument(
        "--charity-number",
        action="append",
        default=[],
        metavar="N",
        help="a charity number: SC and 6 digits (Scotland), 6-8 digits (England and Wales) or"
        " NIC and 6 digits (Northern Ireland); repeat for a charity in several registers",
    )
    change.add_argument(
        "--clear-charity-numbers", action="store_true", help="forget the charity numbers first"
    )
    change.add_argument(
        "--ni-charity-number", metavar="N", help="a Northern Ireland number given as digits only"
    )
    change.add_argument("--company-number", metavar="N", help="Companies House: 00061625, SC123456")
    change.add_argument(
        "--local-authority-code",
        metavar="CODE",
        help="GB-LAS-CLK (Scotland), GB-LAE-…, GB-PLA-…, GB-LANI-…; a bare code is Scottish",
    )
    change.add_argument(
        "--org-id", metavar="ID", help="another org-id.guide register: GB-EDU-123456"
    )
    change.add_argument("--location", metavar="CODE", help="ONS/GSS code of where it is: S12000005")
    change.add_argument("--location-name", metavar="NAME", help="the place's name")
    internal = change.add_mutually_exclusive_group()
    internal.add_argument(
        "--internal",
        dest="internal",
        action="store_true",
        default=None,
        help="part of the accountable body (a post, an internal service): its allocations are"
        " internal spend, left out of 360Giving",
    )
    internal.add_argument("--not-internal", dest="internal", action="store_false")
    change.set_defaults(func=cmd_organisation_set)

    load = actions.add_parser(
        "import",
        help="registered numbers and places for many organisations from a CSV file",
        description="Apply a CSV with the header " + ",".join(IMPORT_HEADER) + ". A blank cell"
        " leaves that field as it is; separate several charity numbers with semicolons; internal"
        " is yes or no. Every value is checked; the first bad cell stops the import with its row"
        " and column, and nothing is written.",
    )
    load.add_argument("file", help="the CSV file")
    load.add_argument("--reason", required=True, help="why (the audit log keeps it)")
    load.set_defaults(func=cmd_organisation_import)

    show = actions.add_parser("show", help="what the ledger knows about an organisation")
    show.add_argument("name")
    show.set_defaults(func=cmd_organisation_show)

    pot = sub.add_parser("pot", help="what a pot's 360Giving grants cite")
    pot_actions = pot.add_subparsers(dest="pot_command", required=True)
    cite = pot_actions.add_parser(
        "set",
        help="the web address and document a pot's figures come from, and its area",
        description="Record where a pot's figures can be checked (360Giving dataSource, a web"
        " address), the document that records them, and the area its money is for (ONS/GSS"
        " code; by default the accountable body's place). An empty value clears a field.",
    )
    cite.add_argument("name", help="the pot")
    cite.add_argument("--data-source", metavar="URL", help="https://… where the figures are")
    cite.add_argument("--source-document", metavar="TEXT", help="the report, with its date")
    cite.add_argument("--area", metavar="CODE", help="ONS/GSS code: S12000005")
    cite.add_argument("--area-name", metavar="NAME", help="the area's name")
    cite.set_defaults(func=cmd_pot_set)


def cmd_organisation_set(args: argparse.Namespace, out: TextIO) -> int:
    from ledger.organisations import IdentifierChange, set_identifiers

    change = IdentifierChange(
        charity_numbers=args.charity_number,
        clear_charity_numbers=args.clear_charity_numbers,
        ni_charity_number=args.ni_charity_number,
        company_number=args.company_number,
        local_authority_code=args.local_authority_code,
        other_identifier=args.org_id,
        location_code=args.location,
        location_name=args.location_name,
        is_internal=args.internal,
    )

    def work(session: Session) -> str:
        return show(set_identifiers(session, args.name, change, actor=user_of(args)))

    out.write(in_transaction(args, work))
    return 0


def cmd_organisation_import(args: argparse.Namespace, out: TextIO) -> int:
    from ledger.organisations import import_identifiers

    path = Path(args.file)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CliError(f"Cannot read {path}: {error}") from error

    def work(session: Session) -> str:
        count = import_identifiers(session, rows, actor=user_of(args), reason=args.reason)
        return f"Updated {count} organisation{'' if count == 1 else 's'} from {path}\n"

    out.write(in_transaction(args, work))
    return 0


def cmd_organisation_show(args: argparse.Namespace, out: TextIO) -> int:
    from ledger import operations as ops

    out.write(
        in_transaction(args, lambda s: show(ops.find_organisation(s, args.name, "organisation")))
    )
    return 0


def show(org: Organisation) -> str:
    from ledger.organisations import identifiers_of

    found = identifiers_of(org).org_ids()
    lines = [
        org.name,
        f"  360Giving identifier: {found[0] if found else 'none registered (a 360G id is minted)'}",
    ]
    if len(found) > 1:
        lines.append(f"  also registered as:   {', '.join(found[1:])}")
    place = " ".join(p for p in (org.location_code, org.location_name) if p)
    lines.append(f"  place:                {place or 'not recorded'}")
    if org.is_internal:
        lines.append("  part of the accountable body: its allocations are internal spend")
    return "\n".join(lines) + "\n"


def cmd_pot_set(args: argparse.Namespace, out: TextIO) -> int:
    from ledger.organisations import set_publication

    def work(session: Session) -> str:
        pot = set_publication(
            session,
            args.name,
            actor=user_of(args),
            data_source=args.data_source,
            source_document=args.source_document,
            area_code=args.area,
            area_name=args.area_name,
        )
        return _describe_pot(pot)

    out.write(in_transaction(args, work))
    return 0


def _describe_pot(pot: Pot) -> str:
    area = " ".join(p for p in (pot.area_code, pot.area_name) if p)
    return (
        f"{pot.name}\n"
        f"  data source:     {pot.data_source or 'not recorded'}\n"
        f"  source document: {pot.source_document or 'not recorded'}\n"
        f"  area:            {area or DEFAULT_AREA}\n"
    )
