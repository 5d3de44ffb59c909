"""Organisation identifiers and places, checked as people type them.

Every function here is pure: it takes text, returns the number in its one stored form, or raises
``InvalidInput`` with a message naming the register and showing a good example. The CLI, the web
form and anything else that records an organisation's numbers go through these functions.

Registers (the Organisation Identifier list, org-id.guide, and its prefixes):

=========================  ===========  ===================================  ===================
register                   prefix       form                                 stored as
=========================  ===========  ===================================  ===================
Scottish charity (OSCR)    ``GB-SC``    ``SC`` and 6 digits                  ``SC007991``
England and Wales charity  ``GB-CHC``   6 to 8 digits                        ``1097940``
Northern Ireland charity   ``GB-NIC``   5 or 6 digits, ``NIC`` optional      ``100002``
Companies House            ``GB-COH``   8 digits (leading zeros may be       ``00061625``,
                                        left off), or 2 letters + 6 digits   ``SC123456``
local authority            ``GB-LAS``   the register's 3 or 4 letter code;   ``GB-LAS-CLK``
                           ``GB-LAE``   a bare code is Scottish (``GB-LAS``)
                           ``GB-PLA``
                           ``GB-LANI``
any other register         ``XX-YYY``   the prefix, a hyphen and the id      ``GB-EDU-123456``
=========================  ===========  ===================================  ===================

Precedence. A grant names one identifier per organisation. When an organisation holds several,
the first of these wins, as 360Giving and its tools read them (charity numbers before company
numbers, England and Wales before Scotland for a charity registered in both): England and Wales
charity, Scottish charity, Northern Ireland charity, local authority, any other register,
Companies House. A charity registered in England and Wales and in Scotland (Action for Children:
1097940 and SC038092) is therefore ``GB-CHC-1097940``.

Places are ONS/GSS codes: a letter for the nation (E, W, S, N; K for areas across them), two
digits for the kind of area and six more (Clackmannanshire, a Scottish council area, is
``S12000005``). ``GEO_CODE_TYPES`` names the 360Giving geoCodeType of the kinds of area a
ledger is likely to use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.errors import InvalidInput

LOCAL_AUTHORITY_SCHEMES = ("GB-LAS", "GB-LAE", "GB-PLA", "GB-LANI")
"""Local authority registers: Scotland, England, Wales (principal authorities), Northern Ireland."""

PRECEDENCE = ("GB-CHC", "GB-SC", "GB-NIC", *LOCAL_AUTHORITY_SCHEMES, "other", "GB-COH")

# The 360Giving geoCodeType codelist entry for each GSS entity code a grant is likely to name.
GEO_CODE_TYPES = {
    "E05": "WD",  # electoral wards/divisions
    "E06": "UA",  # unitary authorities
    "E07": "NMD",  # non-metropolitan districts
    "E08": "MD",  # metropolitan districts
    "E09": "LONB",  # London boroughs
    "E10": "CTY",  # counties
    "E12": "RGN/GOR",  # regions
    "S12": "CA",  # Scottish council areas
    "W06": "UA",  # Welsh unitary authorities
}

_ASCII = re.ASCII
# An org-id.guide identifier: the prefix (country code, hyphen, register) and the register's id.
_OTHER = re.compile(r"([A-Z]{2}-[A-Z0-9_]{2,12})-([A-Za-z0-9][A-Za-z0-9./_-]{0,80})", _ASCII)


def _compact(text: str) -> str:
    """Spaces removed, upper case: ``sc 007 991`` → ``SC007991``."""
    return re.sub(r"\s+", "", text).upper()


def _shown(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 40 else text[:39] + "…"


def scottish_charity_number(text: str) -> str:
    """``SC007991`` (spaces and case forgiven), or ``InvalidInput``."""
    number = _compact(text)
    if not re.fullmatch(r"SC[0-9]{6}", number, _ASCII):
        raise InvalidInput(
            f"'{_shown(text)}' is not a Scottish charity number: it is SC followed by 6 digits,"
            " such as SC007991",
            field="scottish_charity_number",
        )
    return number


def england_wales_charity_number(text: str) -> str:
    """``1097940``: 6 to 8 digits, or ``InvalidInput``."""
    number = _compact(text)
    if not re.fullmatch(r"[0-9]{6,8}", number, _ASCII):
        raise InvalidInput(
            f"'{_shown(text)}' is not an England and Wales charity number: it is 6 to 8 digits,"
            " such as 1097940",
            field="charity_number",
        )
    return number


def northern_ireland_charity_number(text: str) -> str:
    """``NIC100002`` or ``100002`` → ``100002``: 5 or 6 digits, or ``InvalidInput``."""
    number = _compact(text).removeprefix("NIC")
    if not re.fullmatch(r"[0-9]{5,6}", number, _ASCII):
        raise InvalidInput(
            f"'{_shown(text)}' is not a Northern Ireland charity number: it is 5 or 6 digits,"
            " with or without NIC in front, such as NIC100002",
            field="ni_charity_number",
        )
    return number


def charity_number(text: str) -> tuple[str, str]:
    """Any charity number, its register read from its form: ``SC…`` is Scottish, ``NIC…`` is
    Northern Irish, digits are England and Wales. Returns (prefix, number)."""
    number = _compact(text)
    if number.startswith("SC"):
        return "GB-SC", scottish_charity_number(text)
    if number.startswith("NIC"):
        return "GB-NIC", northern_ireland_charity_number(text)
    if re.fullmatch(r"[0-9]+", number, _ASCII):
        return "GB-CHC", england_wales_charity_number(text)
    raise InvalidInput(
        f"'{_shown(text)}' is not a charity number: give SC and 6 digits (Scotland), 6 to 8"
        " digits (England and Wales) or NIC and 6 digits (Northern Ireland)",
        field="charity_number",
    )


def company_number(text: str) -> str:
    """``61625`` → ``00061625``; ``sc123456`` → ``SC123456``; else ``InvalidInput``."""
    number = _compact(text)
    if re.fullmatch(r"[0-9]{1,8}", number, _ASCII) and int(number) > 0:
        return number.zfill(8)
    if re.fullmatch(r"[A-Z]{2}[0-9]{6}", number, _ASCII):
        return number
    raise InvalidInput(
        f"'{_shown(text)}' is not a Companies House number: it is 8 characters, either 8 digits"
        " (such as 00061625) or 2 letters and 6 digits (such as SC123456)",
        field="company_number",
    )


def local_authority_code(text: str) -> str:
    """``GB-LAS-CLK``, ``GB-LAE-BIR``… or a bare ``CLK`` (read as Scottish) → the full
    identifier, or ``InvalidInput``."""
    code = _compact(text)
    match = re.fullmatch(r"(?:(GB-LA[SE]|GB-PLA|GB-LANI)-)?([A-Z]{3,4})", code, _ASCII)
    if match is None:
        raise InvalidInput(
            f"'{_shown(text)}' is not a local authority code: give the register's 3 or 4 letter"
            " code with its prefix, such as GB-LAS-CLK (Scotland), GB-LAE-BIR (England),"
            " GB-PLA-CRF (Wales) or GB-LANI-BFS (Northern Ireland); a bare code is Scottish",
            field="local_authority_code",
        )
    return f"{match[1] or 'GB-LAS'}-{match[2]}"


def other_identifier(text: str) -> str:
    """Any other register as ``XX-YYY-id`` (``GB-EDU-123456``, ``GB-GOR-PB188``), or
    ``InvalidInput``. The registers above have their own fields and are refused here."""
    identifier = text.strip()
    match = _OTHER.fullmatch(identifier)
    if match is None:
        raise InvalidInput(
            f"'{_shown(text)}' is not an organisation identifier: give the org-id.guide prefix,"
            " a hyphen and the identifier, such as GB-EDU-123456",
            field="other_identifier",
        )
    if match[1] in ("GB-CHC", "GB-SC", "GB-NIC", "GB-COH", *LOCAL_AUTHORITY_SCHEMES):
        raise InvalidInput(
            f"{match[1]} numbers have their own field: give '{match[2]}' there instead",
            field="other_identifier",
        )
    return identifier


def gss_code(text: str) -> str:
    """An ONS/GSS area code such as ``S12000005`` (Clackmannanshire), or ``InvalidInput``."""
    code = _compact(text)
    if not re.fullmatch(r"[EWSNK][0-9]{8}", code, _ASCII):
        raise InvalidInput(
            f"'{_shown(text)}' is not an ONS/GSS area code: it is E, W, S, N or K and 8 digits,"
            " such as S12000005 (Clackmannanshire)",
            field="location",
        )
    return code


def geo_code_type(code: str) -> str | None:
    """The 360Giving geoCodeType of a GSS code (``S12000005`` → ``CA``), if the ledger knows it."""
    return GEO_CODE_TYPES.get(code[:3])


def data_source_url(text: str) -> str:
    """A web address (http or https) where the figures can be checked, or ``InvalidInput``."""
    url = text.strip()
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:[0-9]+)?(/[^\s]*)?", url, _ASCII):
        raise InvalidInput(
            f"'{_shown(text)}' is not a web address: give the page or document the figures come"
            " from, starting https:// (a document without one goes in the source document)",
            field="data_source",
        )
    return url


@dataclass(frozen=True)
class Identifiers:
    """An organisation's registered numbers, each in its stored form (or None)."""

    england_wales_charity: str | None = None
    scottish_charity: str | None = None
    ni_charity: str | None = None
    company: str | None = None
    local_authority: str | None = None  # the full identifier: GB-LAS-CLK
    other: str | None = None  # the full identifier: GB-EDU-123456

    def org_ids(self) -> list[str]:
        """Every org-id.guide identifier, in precedence order (the first is the one to use)."""
        found = {
            "GB-CHC": f"GB-CHC-{self.england_wales_charity}" if self.england_wales_charity else "",
            "GB-SC": f"GB-SC-{self.scottish_charity}" if self.scottish_charity else "",
            "GB-NIC": f"GB-NIC-{self.ni_charity}" if self.ni_charity else "",
            "GB-COH": f"GB-COH-{self.company}" if self.company else "",
            "other": self.other or "",
        }
        if self.local_authority:
            found[self.local_authority.rsplit("-", 1)[0]] = self.local_authority
        return [found[scheme] for scheme in PRECEDENCE if found.get(scheme)]

    def charity_number(self) -> str | None:
        """The charity number 360Giving's ``charityNumber`` carries: the one the id uses."""
        return self.england_wales_charity or self.scottish_charity or self.ni_charity
