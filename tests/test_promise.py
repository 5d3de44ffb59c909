"""The Promise Plan catalogue, checked against worked examples from the council's documents.

Sources: Keeping The Promise Plan 2023-2026 (seed 004) and Appendix 1 of the Audit and Scrutiny
report of 8 February 2024 (seed 003), which repeats the plan's table with a progress column.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from pathlib import Path

import pytest

from ledger.promise import (
    ACTIONS,
    FOUNDATIONS,
    PILLARS,
    Action,
    UnknownActionCode,
    UnknownFoundation,
    action,
    actions_in,
    foundation,
    normalise_code,
    parse_foundation,
    pillar_of,
)

SEEDS = Path(os.environ.get("COMMONPURSE_SEEDS", "/work/shared/seeds"))
APPENDIX_1 = SEEDS / "003_ea00778461d57997.txt"


# --- Worked examples -------------------------------------------------------------------------


def test_aberlour_sustain_serves_wfs_1() -> None:
    # "'Sustain' - a new intensive support service has been commissioned from Aberlour" (003,
    # progress on WFS 1), delivering the plan's "New Intensive Support for children on the edge
    # of care" under the WFS 1 outcome.
    wfs1 = action("WFS 1")
    assert wfs1.outcome == (
        "High quality family support for Care Experienced Children and Young People"
    )
    assert pillar_of("WFS 1").name == "Whole Family Support"
    assert [foundation(n).name for n in wfs1.foundations] == ["Voice", "People", "Scaffolding"]


def test_an_officer_typing_wfs1_gets_the_same_action() -> None:
    assert action("wfs1") is action("WFS 1")
    assert pillar_of(" Wfs-1 ").prefix == "WFS"


def test_youth_justice_gc_8_is_the_only_action_resting_on_all_five_foundations() -> None:
    assert action("GC 8").outcome.startswith("Transformation in youth justice")
    assert action("GC 8").foundations == (1, 2, 3, 4, 5)
    assert [a.code for a in ACTIONS if len(a.foundations) == 5] == ["GC 8"]


def test_carers_training_stw_1_rests_on_voice_and_family() -> None:
    stw1 = action("STW 1")
    assert stw1.outcome == "Enhanced Support for Foster carers, adopters and kinship carers"
    assert [foundation(n).name for n in stw1.foundations] == ["Voice", "Family"]


def test_leaving_care_wfs_4_is_the_only_family_support_action_touching_care() -> None:
    assert action("WFS 4").outcome == "Improved support for young people leaving care"
    assert [a.code for a in actions_in("WFS") if 3 in a.foundations] == ["WFS 4"]


def test_advocacy_gc_10_and_data_map_bc_4_list_no_foundation() -> None:
    # Both documents leave the Promise Foundation cell empty for these two rows.
    assert action("GC 10").outcome == (
        "CECYP and families have access to independent advocacy and legal advice"
    )
    assert action("GC 10").foundations == ()
    assert action("BC 4").foundations == ()
    assert [a.code for a in ACTIONS if not a.foundations] == ["GC 10", "BC 4"]


def test_two_statement_outcomes_keep_both_statements() -> None:
    assert action("GC 3").outcome.split(" / ") == [
        "Clearer understanding of the impact of Care Experience on Children’s development aged 2-8",
        "Appropriate and timely interventions aged 2-8 to ensure children meet developmental "
        "outcomes.",
    ]
    assert "Keeping The Promise Award (KTPA)." in action("STW 6").outcome
    assert action("BC 2").outcome.endswith("including work experience in the locale.")


def test_wfs_2_uses_the_corrected_wording_of_the_december_2023_update() -> None:
    # The plan (004) reads "Support to families will and communities will be ..."
    assert action("WFS 2").outcome == "Support to families and communities will be non-stigmatising"


# --- Shape of the catalogue ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "name", "count"),
    [
        ("GC", "A Good Childhood", 11),
        ("WFS", "Whole Family Support", 5),
        ("STW", "Supporting the Workforce", 7),
        ("P", "Planning", 4),
        ("BC", "Building Capacity", 4),
    ],
)
def test_each_pillar_numbers_its_actions_from_one(prefix: str, name: str, count: int) -> None:
    actions = actions_in(prefix)
    assert [a.code for a in actions] == [f"{prefix} {n}" for n in range(1, count + 1)]
    assert {pillar_of(a.code).name for a in actions} == {name}


def test_thirty_one_codes_in_plan_order() -> None:
    assert len(ACTIONS) == 31
    assert len({a.code for a in ACTIONS}) == 31
    assert [p.prefix for p in PILLARS] == ["GC", "WFS", "STW", "P", "BC"]
    order = [p.prefix for p in PILLARS]
    assert [a.prefix for a in ACTIONS] == sorted((a.prefix for a in ACTIONS), key=order.index)
    assert ACTIONS[0].code == "GC 1"
    assert ACTIONS[-1].code == "BC 4"


def test_foundations_are_numbered_as_in_the_plan_key() -> None:
    assert [(f.number, f.name) for f in FOUNDATIONS] == [
        (1, "Voice"),
        (2, "Family"),
        (3, "Care"),
        (4, "People"),
        (5, "Scaffolding"),
    ]
    assert [foundation(n).name for n in range(1, 6)] == [f.name for f in FOUNDATIONS]


def test_outcomes_are_clean_text() -> None:
    for a in ACTIONS:
        assert a.outcome == a.outcome.strip(), a.code
        assert "  " not in a.outcome, a.code
        assert not re.search(r"<[^>]+>|&[a-z]+;|\n", a.outcome), a.code


def test_foundations_are_ascending_and_in_range() -> None:
    for a in ACTIONS:
        assert list(a.foundations) == sorted(set(a.foundations)), a.code
        assert set(a.foundations) <= {1, 2, 3, 4, 5}, a.code


def test_catalogue_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        action("WFS 1").outcome = "something else"  # type: ignore[misc]
    assert isinstance(ACTIONS, tuple)
    assert isinstance(action("WFS 1").foundations, tuple)


def test_an_action_whose_code_disagrees_with_its_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        Action("WFS 1", "GC", 1, "x", ())
    with pytest.raises(ValueError, match="numbered 1-5"):
        Action("WFS 1", "WFS", 1, "x", (6,))
    with pytest.raises(ValueError, match="ascending"):
        Action("WFS 1", "WFS", 1, "x", (5, 1))


# --- Normalising what officers type ----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("wfs1", "WFS 1"),
        ("WFS 1", "WFS 1"),
        (" WFS-1 ", "WFS 1"),
        ("Wfs  1", "WFS 1"),
        ("WFS–1", "WFS 1"),  # en dash, as Word turns a hyphen into
        ("WFS 01", "WFS 1"),
        ("gc10", "GC 10"),
        ("GC 11", "GC 11"),
        ("stw 7", "STW 7"),
        ("p4", "P 4"),
        ("P-1", "P 1"),
        ("Bc 3", "BC 3"),
        ("\tBC 4\n", "BC 4"),
    ],
)
def test_normalise_code(typed: str, code: str) -> None:
    assert normalise_code(typed) == code


def test_every_canonical_code_normalises_to_itself() -> None:
    for a in ACTIONS:
        assert normalise_code(a.code) == a.code
        assert normalise_code(a.code.lower().replace(" ", "")) == a.code


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "WFS 9",
            "'WFS 9' is not a Promise Plan action code; Whole Family Support has WFS 1 to WFS 5",
        ),
        (
            "gc 12",
            "'gc 12' is not a Promise Plan action code; A Good Childhood has GC 1 to GC 11",
        ),
        ("GC 0", "'GC 0' is not a Promise Plan action code; A Good Childhood has GC 1 to GC 11"),
        ("STW 8", "'STW 8' is not a Promise Plan action code; Supporting the Workforce has STW 1"),
        ("P 5", "'P 5' is not a Promise Plan action code; Planning has P 1 to P 4"),
        ("BC 5", "'BC 5' is not a Promise Plan action code; Building Capacity has BC 1 to BC 4"),
    ],
)
def test_unknown_number_names_the_pillar_range(typed: str, message: str) -> None:
    with pytest.raises(UnknownActionCode) as caught:
        normalise_code(typed)
    assert str(caught.value).startswith(message)


def test_unknown_prefix_lists_the_pillars() -> None:
    with pytest.raises(UnknownActionCode) as caught:
        normalise_code("HECM 1")
    message = str(caught.value)
    assert message.startswith("'HECM 1' is not a Promise Plan action code; 'HECM' is not a pillar")
    for p in PILLARS:
        assert f"{p.prefix} {p.name}" in message


@pytest.mark.parametrize(
    "typed", ["", "   ", "WFS", "1", "WFS 1 2", "GC5 (2)", "WFS 1a", "Sustain", "W F S 1", "£50"]
)
def test_garbage_is_not_a_code(typed: str) -> None:
    with pytest.raises(UnknownActionCode) as caught:
        normalise_code(typed)
    message = str(caught.value)
    assert message.startswith(f"{typed.strip()!r} is not a Promise Plan action code")
    assert "GC 1-11, WFS 1-5, STW 1-7, P 1-4, BC 1-4" in message


def test_unknown_codes_are_value_errors_to_callers() -> None:
    with pytest.raises(ValueError, match="WFS 1 to WFS 5"):
        action("WFS 6")
    with pytest.raises(ValueError, match="not a Promise Plan action code"):
        pillar_of("nonsense")
    with pytest.raises(ValueError, match="not a Promise pillar prefix"):
        actions_in("HECM")


# --- Foundations as officers type them -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("1", 1),
        ("Voice", 1),
        ("voice", 1),
        ("Foundation 1", 1),
        ("foundation 1 voice", 1),
        ("1. Voice", 1),
        (" 2 ", 2),
        ("FAMILY", 2),
        ("Care", 3),
        ("Focus", 3),  # the leaflet's (002) name for the Care foundation
        ("People", 4),
        ("Foundation 5", 5),
        ("5 - Scaffolding", 5),
    ],
)
def test_parse_foundation(typed: str, number: int) -> None:
    assert parse_foundation(typed) == number


@pytest.mark.parametrize("typed", ["", "Foundation", "Love", "Focus group", "one", "1 2"])
def test_unknown_foundation_lists_the_five(typed: str) -> None:
    with pytest.raises(UnknownFoundation) as caught:
        parse_foundation(typed)
    message = str(caught.value)
    assert message.startswith(f"{typed.strip()!r} is not a Promise foundation")
    assert "1 Voice, 2 Family, 3 Care, 4 People, 5 Scaffolding" in message


@pytest.mark.parametrize("typed", ["0", "6", "Foundation 6", "10"])
def test_foundation_numbers_stop_at_five(typed: str) -> None:
    with pytest.raises(UnknownFoundation, match="there are five, numbered 1 to 5"):
        parse_foundation(typed)


def test_number_and_name_must_agree() -> None:
    with pytest.raises(UnknownFoundation) as caught:
        parse_foundation("1 Family")
    assert str(caught.value) == "'1 Family' is contradictory: foundation 1 is Voice, not Family"


def test_foundation_lookup_by_number() -> None:
    assert foundation(4).name == "People"
    with pytest.raises(UnknownFoundation, match="6 is not a Promise foundation number"):
        foundation(6)
    assert isinstance(UnknownFoundation("x"), ValueError)


# --- Cross-check against the council's own table ---------------------------------------------


def _appendix_1_rows() -> dict[str, tuple[str, str]]:
    """Code -> (pillar, foundation cell) from the tab-separated Appendix 1 table in seed 003."""
    rows: dict[str, tuple[str, str]] = {}
    for line in APPENDIX_1.read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")
        if len(cells) > 4 and re.fullmatch(r"(GC|WFS|STW|P|BC) \d+", cells[0].strip()):
            rows[cells[0].strip()] = (html.unescape(cells[2]).strip(), cells[3].strip())
    return rows


@pytest.mark.skipif(not APPENDIX_1.exists(), reason=f"source document {APPENDIX_1} not present")
def test_catalogue_matches_appendix_1_of_the_february_2024_report() -> None:
    rows = _appendix_1_rows()
    assert sorted(rows) == sorted(a.code for a in ACTIONS)
    for a in ACTIONS:
        pillar_cell, foundation_cell = rows[a.code]
        assert pillar_cell.casefold() == pillar_of(a.code).name.casefold(), a.code
        listed = tuple(int(n) for n in re.findall(r"[0-9]+", foundation_cell))
        assert a.foundations == listed, a.code
