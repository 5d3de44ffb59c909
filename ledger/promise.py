"""The Promise Plan catalogue: foundations, pillars and action codes.

Transcribed from Clackmannanshire Council's *Keeping The Promise Plan 2023-2026* (seed 004) and
checked against the same table in Appendix 1 of the Audit and Scrutiny report of 8 February 2024
(seed 003). Allocations in the ledger serve one of these actions, e.g. Aberlour's "Sustain"
service is the "New Intensive Support for children on the edge of care" commissioned under WFS 1.

Transcription notes (where the documents are inconsistent or silent):

* Foundations are numbered as in the plan's key: 1 Voice, 2 Family, 3 Care, 4 People,
  5 Scaffolding. The "What is the Promise?" leaflet (seed 002) calls the third foundation
  "Focus" but describes the Care foundation (brothers and sisters living together); the plan
  itself says "care" throughout, so the name here is "Care" and "Focus" is accepted only as an
  alias by :func:`parse_foundation`.
* GC 10 and BC 4 list no Promise Foundation in either document. Their ``foundations`` are an
  empty tuple; nothing is guessed.
* Outcomes are the plan's (004) wording with its PDF line breaks, hyphenation and doubled spaces
  removed (003's HTML markup is not used). Cells holding two statements (GC 3, STW 6, BC 2) are
  joined with " / ".
* WFS 2 reads "Support to families will and communities will be non-stigmatising" in the plan
  (004); the December 2023 update (003) corrects it to the wording used here.
* The pillar column says "Supporting the workforce"; the plan's key and headings, and the
  leaflet, say "Supporting the Workforce", which is the name used here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ACTIONS",
    "FOUNDATIONS",
    "PILLARS",
    "Action",
    "Foundation",
    "Pillar",
    "UnknownActionCode",
    "UnknownFoundation",
    "action",
    "actions_in",
    "foundation",
    "normalise_code",
    "parse_foundation",
    "pillar_of",
]


class UnknownActionCode(ValueError):
    """Text that is not one of the Promise Plan action codes (GC 1 ... BC 4)."""


class UnknownFoundation(ValueError):
    """Text or number that is not one of the five Promise foundations."""


@dataclass(frozen=True, slots=True)
class Foundation:
    """One of the five Promise foundations, numbered as in the plan's key."""

    number: int
    name: str


@dataclass(frozen=True, slots=True)
class Pillar:
    """A Promise key priority area ("Promise Pillar"), e.g. WFS, Whole Family Support."""

    prefix: str
    name: str


@dataclass(frozen=True, slots=True)
class Action:
    """One row of the plan: an action code with its outcome and the foundations it lists."""

    code: str
    prefix: str
    number: int
    outcome: str
    foundations: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.code != f"{self.prefix} {self.number}":
            raise ValueError(
                f"action code {self.code!r} does not match {self.prefix!r} {self.number}"
            )
        if any(n not in range(1, 6) for n in self.foundations):
            raise ValueError(
                f"{self.code}: foundations must be numbered 1-5, got {self.foundations}"
            )
        if list(self.foundations) != sorted(set(self.foundations)):
            raise ValueError(f"{self.code}: foundations must be ascending and distinct")


FOUNDATIONS: tuple[Foundation, ...] = (
    Foundation(1, "Voice"),
    Foundation(2, "Family"),
    Foundation(3, "Care"),
    Foundation(4, "People"),
    Foundation(5, "Scaffolding"),
)

PILLARS: tuple[Pillar, ...] = (
    Pillar("GC", "A Good Childhood"),
    Pillar("WFS", "Whole Family Support"),
    Pillar("STW", "Supporting the Workforce"),
    Pillar("P", "Planning"),
    Pillar("BC", "Building Capacity"),
)


def _a(code: str, foundations: tuple[int, ...], outcome: str) -> Action:
    prefix, _, number = code.partition(" ")
    return Action(code, prefix, int(number), outcome, foundations)


ACTIONS: tuple[Action, ...] = (
    # A Good Childhood
    _a("GC 1", (5,), "No Care Experienced Children or Young People excluded in Clackmannanshire"),
    _a(
        "GC 2",
        (1, 4, 5),
        "Young people have access to the appropriate support they need to thrive at school",
    ),
    _a(
        "GC 3",
        (1, 4, 5),
        "Clearer understanding of the impact of Care Experience on Children’s development aged 2-8 "
        "/ Appropriate and timely interventions aged 2-8 to ensure children meet developmental "
        "outcomes.",
    ),
    _a(
        "GC 4",
        (1, 4, 5),
        "Improved educational outcomes (SCQF) and improved SLDR statistics for Care Experienced "
        "Children and Young People",
    ),
    _a(
        "GC 5",
        (1, 4, 5),
        "Care Experienced Young People to have access to wide ranging opportunities",
    ),
    _a(
        "GC 6",
        (4, 5),
        "Children are supported to have safe, quality time with people they care about",
    ),
    _a("GC 7", (4, 5), "Brothers and sisters live together when safe to do so"),
    _a(
        "GC 8",
        (1, 2, 3, 4, 5),
        "Transformation in youth justice reduces the criminalisation of care experienced young "
        "people",
    ),
    _a(
        "GC 9",
        (4, 5),
        "Children and young people in care are receiving trauma-informed, safe care without "
        "physical intervention",
    ),
    # No Promise Foundation is listed for GC 10 in the plan (004) or the update (003).
    _a("GC 10", (), "CECYP and families have access to independent advocacy and legal advice"),
    _a(
        "GC 11",
        (4, 5),
        "Clackmannanshire Care Leavers’ Guaranteed Interview Scheme is extended to lead to more "
        "employment opportunities for care experienced young people",
    ),
    # Whole Family Support
    _a(
        "WFS 1",
        (1, 4, 5),
        "High quality family support for Care Experienced Children and Young People",
    ),
    _a("WFS 2", (1, 4, 5), "Support to families and communities will be non-stigmatising"),
    _a(
        "WFS 3",
        (1, 4, 5),
        "Care Community will experience high quality support – with measurable improvement",
    ),
    _a("WFS 4", (1, 3, 4, 5), "Improved support for young people leaving care"),
    _a(
        "WFS 5",
        (1, 2, 5),
        "School leaders to be aware of attendance concerns, to proactively support families",
    ),
    # Supporting the Workforce
    _a("STW 1", (1, 2), "Enhanced Support for Foster carers, adopters and kinship carers"),
    _a("STW 2", (4, 5), "Enhanced knowledge and skills of staff in trauma informed practice"),
    _a("STW 3", (4, 5), "Improved support for practitioners"),
    _a(
        "STW 4",
        (1, 2, 4, 5),
        "Improved policy and guidance to support staff in effective practice and engagement with "
        "children/young people.",
    ),
    _a("STW 5", (4, 5), "Increased staff awareness of their responsibilities under The Promise"),
    _a(
        "STW 6",
        (5,),
        "Clackmannanshire Council to be the first local authority in Scotland to be part of "
        "Education Scotland’s Keeping The Promise Award (KTPA). / Improving life chances for CECYP "
        "through a highly-skilled workforce",
    ),
    _a("STW 7", (4, 5), "All establishments provide excellent support to CECYP"),
    # Planning
    _a("P 1", (4, 5), "Improved delivery of relationship based services to families"),
    _a(
        "P 2",
        (2, 5),
        "Improved policies which positively reflect on children/young people who are care "
        "experienced and their families",
    ),
    _a(
        "P 3",
        (5,),
        "Improved service delivery incorporating the principles of Scottish Service Design",
    ),
    _a(
        "P 4",
        (2, 5),
        "Improved understanding of UNCRC and the implications for practice, processes and systems",
    ),
    # Building Capacity
    _a(
        "BC 1",
        (5,),
        "Improved local care provision and housing options for children and young people who are "
        "care experienced.",
    ),
    _a(
        "BC 2",
        (5,),
        "Integrated support from Skills Development Scotland with Senior Manager and Virtual Head "
        "teacher. / Wide range of bespoke opportunities for young people including work experience "
        "in the locale.",
    ),
    _a(
        "BC 3",
        (4, 5),
        "Robust tracking, monitoring and intervention in place to support young people",
    ),
    # No Promise Foundation is listed for BC 4 in the plan (004) or the update (003).
    _a("BC 4", (), "Improved data collection and analysis to demonstrate impact of actions"),
)

_ACTIONS_BY_CODE: dict[str, Action] = {a.code: a for a in ACTIONS}
_PILLARS_BY_PREFIX: dict[str, Pillar] = {p.prefix: p for p in PILLARS}
_FOUNDATIONS_BY_NUMBER: dict[int, Foundation] = {f.number: f for f in FOUNDATIONS}
_FOUNDATION_NAMES: dict[str, int] = {f.name.casefold(): f.number for f in FOUNDATIONS}
# The leaflet (seed 002) names the third foundation "Focus"; the plan (004) calls it "Care".
_FOUNDATION_NAMES["focus"] = 3

# Letters, then an optional space / hyphen / dash / underscore / full stop, then digits.
_CODE_RE = re.compile(r"([A-Za-z]+)[\s\-–—_.]*([0-9]+)")
# "1", "Voice", "Foundation 1", "Foundation 1 Voice", "1. Voice", "1 - Voice".
_FOUNDATION_RE = re.compile(
    r"(?:foundation\s*)?(?:([0-9]+)\s*[.:)\-–—]?\s*)?([a-z]*)", re.IGNORECASE
)


def actions_in(prefix: str) -> tuple[Action, ...]:
    """The actions of one pillar, in plan order: ``actions_in("WFS")`` is WFS 1 to WFS 5."""
    key = prefix.strip().upper()
    if key not in _PILLARS_BY_PREFIX:
        raise UnknownActionCode(
            f"{prefix.strip()!r} is not a Promise pillar prefix; {_prefix_list()}"
        )
    return tuple(a for a in ACTIONS if a.prefix == key)


def _prefix_list() -> str:
    return "the pillars are " + ", ".join(f"{p.prefix} {p.name}" for p in PILLARS)


def _span(p: Pillar) -> tuple[int, int]:
    numbers = [a.number for a in ACTIONS if a.prefix == p.prefix]
    return min(numbers), max(numbers)


def _all_spans() -> str:
    return ", ".join(f"{p.prefix} {_span(p)[0]}-{_span(p)[1]}" for p in PILLARS)


def normalise_code(text: str) -> str:
    """The canonical form of an action code as officers type it: "wfs1" -> "WFS 1".

    Case, surrounding spaces and a space, hyphen or dash between the letters and the number are
    forgiven. Anything that is not one of the plan's 31 codes raises :class:`UnknownActionCode`
    saying what the codes are.
    """
    typed = text.strip()
    match = _CODE_RE.fullmatch(typed)
    if match is None:
        raise UnknownActionCode(
            f"{typed!r} is not a Promise Plan action code; expected a pillar prefix and a number"
            f" such as 'WFS 1' (the codes are {_all_spans()})"
        )
    prefix, number = match.group(1).upper(), int(match.group(2))
    known = _PILLARS_BY_PREFIX.get(prefix)
    if known is None:
        raise UnknownActionCode(
            f"{typed!r} is not a Promise Plan action code; {prefix!r} is not a pillar prefix"
            f" ({_prefix_list()})"
        )
    code = f"{prefix} {number}"
    if code not in _ACTIONS_BY_CODE:
        first, last = _span(known)
        raise UnknownActionCode(
            f"{typed!r} is not a Promise Plan action code; {known.name} has"
            f" {prefix} {first} to {prefix} {last}"
        )
    return code


def action(code: str) -> Action:
    """The action for a code, typed in any form :func:`normalise_code` accepts."""
    return _ACTIONS_BY_CODE[normalise_code(code)]


def pillar_of(code: str) -> Pillar:
    """The pillar an action code belongs to: "WFS 1" -> Whole Family Support."""
    return _PILLARS_BY_PREFIX[action(code).prefix]


def _foundation_list() -> str:
    return "the foundations are " + ", ".join(f"{f.number} {f.name}" for f in FOUNDATIONS)


def foundation(number: int) -> Foundation:
    """The foundation numbered ``number``: 1 Voice, 2 Family, 3 Care, 4 People, 5 Scaffolding."""
    found = _FOUNDATIONS_BY_NUMBER.get(number)
    if found is None:
        raise UnknownFoundation(
            f"{number!r} is not a Promise foundation number; {_foundation_list()}"
        )
    return found


def parse_foundation(text: str) -> int:
    """The number of a foundation as officers type it.

    Accepts "1", "Voice", "voice", "Foundation 1", "Foundation 1 Voice" and "1. Voice" (and
    "Focus", the leaflet's name for Care). A number and a name given together must agree.
    Anything else raises :class:`UnknownFoundation`.
    """
    typed = text.strip()
    match = _FOUNDATION_RE.fullmatch(typed)
    number_text, name = (match.group(1), match.group(2)) if match else (None, "")
    by_name = _FOUNDATION_NAMES.get(name.casefold()) if name else None
    if match is None or (name and by_name is None):
        raise UnknownFoundation(f"{typed!r} is not a Promise foundation; {_foundation_list()}")
    if number_text is None:
        if by_name is None:  # e.g. "Foundation" or "" on its own
            raise UnknownFoundation(f"{typed!r} is not a Promise foundation; {_foundation_list()}")
        return by_name
    by_number = int(number_text)
    if by_number not in _FOUNDATIONS_BY_NUMBER:
        raise UnknownFoundation(
            f"{typed!r} is not a Promise foundation: there are five, numbered 1 to 5;"
            f" {_foundation_list()}"
        )
    if by_name is not None and by_name != by_number:
        raise UnknownFoundation(
            f"{typed!r} is contradictory: foundation {by_number} is"
            f" {_FOUNDATIONS_BY_NUMBER[by_number].name}, not {name}"
        )
    return by_number
