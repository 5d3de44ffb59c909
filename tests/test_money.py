"""ledger.money, worked through the Clackmannanshire documents.

The figures are from Appendix 2 of the Audit and Scrutiny report of 8 February 2024 (seeds/003):
the Whole Family Wellbeing Fund award of £337,000, its five top-level lines, and CTSI's
£82,336.18 pot with its five sub-grants, typed as they were printed (Homestart's "£9058" has
no comma).
"""

import pickle
from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import example, given
from hypothesis import strategies as st

from ledger.money import (
    MAX_PENCE,
    AmountError,
    format_pence,
    format_plain,
    parse_pence,
    pence_to_decimal,
    split_by_ratios,
    split_evenly,
)

WFWF_YEAR_1_AWARD = "£337,000"
APPENDIX_2_LINES = {
    "Participation Development Officer": "£39,000",
    "Aberlour Sustain – Intensive Support Service": "£100,000",
    "Action for Children Additional Functional Family Therapy": "£70,767",
    "Barnardo's Additional support for Young People returning from Care": "£45,000",
    "Allocation of Award for CTSI managed WFWF Grant": "£82,336.18",
}
CTSI_SUB_GRANTS = {
    "Homestart: Family Support Workers to 25 hours from 20": "£9058",
    "Barnardos and Volunteering Matters: Two's Company, young people": "£24,000",
    "Barnardos and Action for Children: Two's Company, young single parents": "£20,000",
    "Community House: Family Link Worker": "£14,000",
    "Action for Children: crèche for parenting groups, children 0-5": "£15,278.18",
}

amounts = st.integers(min_value=-MAX_PENCE, max_value=MAX_PENCE)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


# --- The documents, in pence -------------------------------------------------------------------


def test_ctsi_pot_as_printed_parses_to_8_233_618_pence() -> None:
    assert parse_pence("£82,336.18") == 8_233_618


def test_homestart_cost_printed_without_a_comma_parses_to_905_800_pence() -> None:
    assert parse_pence("£9058") == 905_800


def test_appendix_2_five_lines_add_to_337_103_18_which_is_103_18_more_than_the_award() -> None:
    spent = sum(parse_pence(amount) for amount in APPENDIX_2_LINES.values())
    award = parse_pence(WFWF_YEAR_1_AWARD)

    assert format_pence(spent) == "£337,103.18"
    assert format_pence(award - spent) == "-£103.18"


def test_ctsi_sub_grants_add_up_exactly_to_ctsi_pot() -> None:
    pot = parse_pence(APPENDIX_2_LINES["Allocation of Award for CTSI managed WFWF Grant"])

    assert sum(parse_pence(amount) for amount in CTSI_SUB_GRANTS.values()) == pot


# --- parse_pence: what is accepted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "allow_negative", "pence"),
    [
        pytest.param("£82,336.18", False, 8_233_618, id="CTSI pot as printed"),
        pytest.param("82336.18", False, 8_233_618, id="CTSI pot, no symbol or commas"),
        pytest.param("£15,278.18", False, 1_527_818, id="Action for Children crèche"),
        pytest.param("9058", False, 905_800, id="whole pounds"),
        pytest.param("£9058", False, 905_800, id="Homestart as printed"),
        pytest.param("£9,058", False, 905_800, id="whole pounds with comma"),
        pytest.param("9,058.00", False, 905_800, id="comma and pence"),
        pytest.param("£337,000", False, 33_700_000, id="WFWF award"),
        pytest.param("0.5", False, 50, id="one decimal place is tenths of a pound"),
        pytest.param(".50", False, 50, id="no leading zero"),
        pytest.param(".5", False, 50, id="no leading zero, one place"),
        pytest.param("£.05", False, 5, id="symbol and no leading zero"),
        pytest.param("0.05", False, 5, id="five pence"),
        pytest.param("007", False, 700, id="leading zeros"),
        pytest.param("0", False, 0, id="zero"),
        pytest.param("£0.00", False, 0, id="zero with symbol"),
        pytest.param("  £1,000  ", False, 100_000, id="surrounding spaces"),
        pytest.param("\t£39,000\n", False, 3_900_000, id="tab and newline"),
        pytest.param("\u00a0£70,767\u00a0", False, 7_076_700, id="no-break spaces from a paste"),
        pytest.param("£1,000,000,000.00", False, MAX_PENCE, id="the largest amount"),
        pytest.param("1000000000", False, MAX_PENCE, id="the largest amount, plain"),
        pytest.param("1,234,567.89", False, 123_456_789, id="several thousands groups"),
        pytest.param("-500.00", True, -50_000, id="minus first"),
        pytest.param("-£500.00", True, -50_000, id="minus before symbol"),
        pytest.param("£-500.00", True, -50_000, id="minus after symbol"),
        pytest.param("-£103.18", True, -10_318, id="Appendix 2 shortfall"),
        pytest.param("-0", True, 0, id="minus zero"),
        pytest.param("-0.00", True, 0, id="minus zero pence"),
        pytest.param("-£1,000,000,000.00", True, -MAX_PENCE, id="the most negative amount"),
        pytest.param("82336.18", True, 8_233_618, id="positive when negatives allowed"),
    ],
)
def test_accepted_amounts(typed: str, allow_negative: bool, pence: int) -> None:
    assert parse_pence(typed, allow_negative=allow_negative) == pence


# --- parse_pence: what is refused, and why -----------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "allow_negative", "reason_mentions"),
    [
        pytest.param("", False, "blank", id="empty"),
        pytest.param("   ", False, "blank", id="spaces only"),
        pytest.param("\t\n", True, "blank", id="whitespace only"),
        pytest.param("0.001", False, "at most 2 decimal places", id="sub-penny"),
        pytest.param("£82,336.181", False, "at most 2 decimal places", id="three places"),
        pytest.param("1.000", False, "at most 2 decimal places", id="three places of zeros"),
        pytest.param("1e3", False, "exponents", id="exponent"),
        pytest.param("1E3", False, "exponents", id="capital exponent"),
        pytest.param("£1.5e3", False, "exponents", id="exponent with symbol"),
        pytest.param("1e-2", False, "exponents", id="negative exponent"),
        pytest.param("NaN", False, "NaN and infinity", id="NaN"),
        pytest.param("nan", True, "NaN and infinity", id="lower-case nan"),
        pytest.param("inf", False, "NaN and infinity", id="inf"),
        pytest.param("-inf", True, "NaN and infinity", id="minus inf"),
        pytest.param("Infinity", False, "NaN and infinity", id="Infinity"),
        pytest.param("∞", False, "NaN and infinity", id="infinity sign"),
        pytest.param("12,34.5", False, "groups of exactly 3", id="comma in the wrong place"),
        pytest.param("1,0000", False, "groups of exactly 3", id="group of four"),
        pytest.param("1,00", False, "groups of exactly 3", id="group of two"),
        pytest.param("1234,567", False, "groups of exactly 3", id="first group of four"),
        pytest.param("0,100", False, "cannot start with 0", id="grouped with leading zero"),
        pytest.param(",100", False, "starts with a comma", id="leading comma"),
        pytest.param("100,", False, "ends with a comma", id="trailing comma"),
        pytest.param("1,,000", False, "two commas in a row", id="double comma"),
        pytest.param("100,.50", False, "before the decimal point", id="comma before point"),
        pytest.param("1.5,0", False, "after the decimal point", id="comma after point"),
        pytest.param("1.2.3", False, "more than one decimal point", id="two points"),
        pytest.param("82.336.18", False, "more than one decimal point", id="points as commas"),
        pytest.param("100.", False, "nothing follows the decimal point", id="trailing point"),
        pytest.param("abc", False, "letter 'a'", id="letters"),
        pytest.param("£82,336.18p", False, "letter 'p'", id="pence suffix"),
        pytest.param("GBP 100", False, "letter 'G'", id="currency code"),
        pytest.param("£1,000,000,000.01", False, "£1,000,000,000.00", id="a penny over"),
        pytest.param("1000000000.01", False, "largest amount", id="a penny over, plain"),
        pytest.param("-£1,000,000,000.01", True, "£1,000,000,000.00", id="a penny under"),
        pytest.param("9" * 30, False, "largest amount", id="thirty nines"),
        pytest.param("9" * 5000, False, "largest amount", id="longer than int() allows"),
        pytest.param("-500.00", False, "negative amounts are not allowed here", id="minus"),
        pytest.param("-£500.00", False, "negative amounts are not allowed here", id="-£"),
        pytest.param("£-500.00", False, "negative amounts are not allowed here", id="£-"),
        pytest.param("-0", False, "negative amounts are not allowed here", id="minus zero"),
        pytest.param("-0.00", False, "negative amounts are not allowed here", id="-0.00"),
        pytest.param("500-", False, "negative amounts are not allowed here", id="minus after"),
        pytest.param("(500.00)", False, "negative amounts are not allowed here", id="brackets"),
        pytest.param("\u2212500", False, "negative amounts are not allowed here", id="U+2212"),
        pytest.param("\u2013500", False, "negative amounts are not allowed here", id="en dash"),
        pytest.param("(500.00)", True, "use a minus sign", id="brackets, negatives allowed"),
        pytest.param("\u2212500", True, "plain hyphen", id="U+2212, negatives allowed"),
        pytest.param("500-", True, "minus sign must come first", id="minus after number"),
        pytest.param("--500", True, "more than one minus sign", id="two minus signs"),
        pytest.param("-£-500", True, "more than one minus sign", id="minus both sides of £"),
        pytest.param("١٢٣", False, "0-9", id="Arabic-Indic digits"),
        pytest.param("£１２３", False, "0-9", id="fullwidth digits"),
        pytest.param("5²", False, "0-9", id="superscript two"),
        pytest.param("£", False, "no number", id="bare pound sign"),
        pytest.param("-", True, "no number", id="bare minus"),
        pytest.param("-", False, "no number", id="bare minus, negatives refused"),
        pytest.param("-£", True, "no number", id="minus and symbol"),
        pytest.param("£-", True, "no number", id="symbol and minus"),
        pytest.param(".", False, "no number", id="bare point"),
        pytest.param("£,", False, "no number", id="symbol and comma"),
        pytest.param("££500", False, "more than once", id="two pound signs"),
        pytest.param("500£", False, "before the number", id="symbol after"),
        pytest.param("+500", False, "plus signs", id="plus sign"),
        pytest.param("$500", False, "only pounds", id="dollars"),
        pytest.param("€500", False, "only pounds", id="euros"),
        pytest.param("£ 500", False, "space inside", id="space after symbol"),
        pytest.param("1 000", False, "space inside", id="space as thousands separator"),
        pytest.param("1_000", False, "'_'", id="underscore"),
        pytest.param("50%", False, "'%'", id="percent"),
    ],
)
def test_refused_amounts_say_why(typed: str, allow_negative: bool, reason_mentions: str) -> None:
    with pytest.raises(AmountError) as refused:
        parse_pence(typed, allow_negative=allow_negative)

    error = refused.value
    assert reason_mentions in error.reason
    assert error.text == typed
    assert str(error).endswith(f" is not a valid amount: {error.reason}")


def test_sub_penny_message_reads_as_one_line_for_finance() -> None:
    with pytest.raises(AmountError) as refused:
        parse_pence("0.001")

    assert str(refused.value) == (
        "'0.001' is not a valid amount: amounts are in pounds and pence, at most 2 decimal places"
    )


def test_message_quotes_what_was_typed_including_its_spaces() -> None:
    with pytest.raises(AmountError) as refused:
        parse_pence("  -£103.18 ")

    assert str(refused.value) == (
        "'  -£103.18 ' is not a valid amount: negative amounts are not allowed here"
    )


def test_message_shortens_a_long_paste_but_keeps_all_of_it_in_text() -> None:
    pasted = "£82,336.18 " + "x" * 200

    with pytest.raises(AmountError) as refused:
        parse_pence(pasted)

    assert refused.value.text == pasted
    assert len(str(refused.value)) < 160


def test_amount_error_is_a_value_error_and_survives_pickling() -> None:
    with pytest.raises(ValueError) as refused:
        parse_pence("1,0000")

    original = refused.value
    copy = pickle.loads(pickle.dumps(original))
    assert isinstance(original, AmountError)
    assert isinstance(copy, AmountError)
    assert (copy.text, copy.reason, str(copy)) == (original.text, original.reason, str(original))


@pytest.mark.parametrize("not_text", [Decimal("82336.18"), 8_233_618, None])
def test_parse_pence_takes_only_text(not_text: object) -> None:
    with pytest.raises(TypeError, match="str"):
        parse_pence(not_text)  # type: ignore[arg-type]


# --- format_pence, format_plain, pence_to_decimal ----------------------------------------------


@pytest.mark.parametrize(
    ("pence", "shown"),
    [
        (8_233_618, "£82,336.18"),
        (-10_318, "-£103.18"),
        (33_710_318, "£337,103.18"),
        (905_800, "£9,058.00"),
        (0, "£0.00"),
        (5, "£0.05"),
        (-5, "-£0.05"),
        (100, "£1.00"),
        (99_999, "£999.99"),
        (100_000, "£1,000.00"),
        (MAX_PENCE, "£1,000,000,000.00"),
        (-MAX_PENCE, "-£1,000,000,000.00"),
    ],
)
def test_format_pence(pence: int, shown: str) -> None:
    assert format_pence(pence) == shown


@pytest.mark.parametrize(
    ("pence", "shown"),
    [(8_233_618, "82,336.18"), (-10_318, "-103.18"), (0, "0.00"), (123_456_789, "1,234,567.89")],
)
def test_format_pence_without_symbol(pence: int, shown: str) -> None:
    assert format_pence(pence, symbol=False) == shown


@pytest.mark.parametrize(
    ("pence", "plain"),
    [
        (8_233_618, "82336.18"),
        (-10_318, "-103.18"),
        (0, "0.00"),
        (5, "0.05"),
        (-5, "-0.05"),
        (MAX_PENCE, "1000000000.00"),
    ],
)
def test_format_plain_and_pence_to_decimal(pence: int, plain: str) -> None:
    assert format_plain(pence) == plain
    as_decimal = pence_to_decimal(pence)
    assert as_decimal == Decimal(plain)
    assert str(as_decimal) == plain  # exactly 2 places, never 0E-2 or 82336.180


@pytest.mark.parametrize("not_pence", [Decimal("82336.18"), True, "8233618"])
@pytest.mark.parametrize("formatter", [format_pence, format_plain, pence_to_decimal])
def test_formatters_refuse_anything_but_int_pence(
    formatter: Callable[[int], object], not_pence: object
) -> None:
    with pytest.raises(TypeError, match="pence must be an int"):
        formatter(not_pence)  # type: ignore[arg-type]


@given(amounts)
@example(-10_318)
@example(MAX_PENCE)
@example(-MAX_PENCE)
def test_format_pence_is_identical_to_babel_en_gb(pence: int) -> None:
    assert format_pence(pence) == format_currency(pence_to_decimal(pence), "GBP", locale="en_GB")


@given(amounts)
@example(0)
@example(-1)
@example(MAX_PENCE)
@example(-MAX_PENCE)
def test_every_formatted_amount_parses_back_to_the_same_pence(pence: int) -> None:
    assert parse_pence(format_pence(pence), allow_negative=True) == pence
    assert parse_pence(format_pence(pence, symbol=False), allow_negative=True) == pence
    assert parse_pence(format_plain(pence), allow_negative=True) == pence
    assert pence_to_decimal(pence) * 100 == pence


# --- parse_pence: properties over anything typed -----------------------------------------------


@st.composite
def typed_forms(draw: st.DrawFn) -> tuple[str, int]:
    """An amount in pence and one of the ways a person might type it."""
    pence = draw(amounts)
    pounds, pennies = divmod(abs(pence), 100)
    whole = f"{pounds:,}" if draw(st.booleans()) else str(pounds)
    if pennies == 0:
        fraction = draw(st.sampled_from(["", ".0", ".00"]))
    elif pennies % 10 == 0:
        fraction = draw(st.sampled_from([f".{pennies // 10}", f".{pennies:02d}"]))
    else:
        fraction = f".{pennies:02d}"
    if pounds == 0 and fraction and draw(st.booleans()):
        whole = ""
    symbol = draw(st.sampled_from(["", "£"]))
    signed = f"{symbol}{whole}{fraction}"
    if pence < 0:
        signed = draw(st.sampled_from([f"-{signed}", f"{symbol}-{whole}{fraction}"]))
    padding = draw(st.sampled_from(["", " ", "\t", " \u00a0"]))
    return f"{padding}{signed}{padding}", pence


@given(typed_forms())
def test_every_ordinary_way_of_typing_an_amount_is_accepted(
    typed_and_pence: tuple[str, int],
) -> None:
    typed, pence = typed_and_pence

    assert parse_pence(typed, allow_negative=True) == pence
    if pence < 0:
        with pytest.raises(AmountError, match="negative amounts are not allowed here"):
            parse_pence(typed)


@given(st.text(), st.booleans())
def test_any_text_is_either_an_amount_in_range_or_an_amount_error(
    typed: str, allow_negative: bool
) -> None:
    try:
        pence = parse_pence(typed, allow_negative=allow_negative)
    except AmountError as refused:
        assert refused.text == typed
        assert refused.reason
    else:
        assert (-MAX_PENCE if allow_negative else 0) <= pence <= MAX_PENCE


@given(st.text(alphabet="0123456789,.£- ", max_size=16))
@example("1,234,567.8")
@example("£-0,100")
def test_whatever_is_accepted_means_exactly_what_it_says(typed: str) -> None:
    try:
        pence = parse_pence(typed, allow_negative=True)
    except AmountError:
        return
    number = typed.strip().replace("£", "")
    assert Decimal(number.replace(",", "")) * 100 == pence
    pounds = number.lstrip("-").partition(".")[0]
    if "," in pounds:
        assert pounds == f"{int(pounds.replace(',', '')):,}", "commas only between thousands"


# --- split_evenly ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "parts", "split"),
    [
        pytest.param(100, 3, [34, 33, 33], id="a pound in three"),
        pytest.param(-100, 3, [-34, -33, -33], id="minus a pound in three"),
        pytest.param(2, 5, [1, 1, 0, 0, 0], id="fewer pennies than parts"),
        pytest.param(0, 4, [0, 0, 0, 0], id="nothing to split"),
        pytest.param(
            8_233_618,
            5,
            [1_646_724, 1_646_724, 1_646_724, 1_646_723, 1_646_723],
            id="CTSI pot in five equal shares",
        ),
        pytest.param(10_318, 1, [10_318], id="one part is the whole"),
    ],
)
def test_split_evenly(total: int, parts: int, split: list[int]) -> None:
    assert split_evenly(total, parts) == split


@pytest.mark.parametrize("parts", [0, -1])
def test_split_evenly_needs_at_least_one_part(parts: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_evenly(8_233_618, parts)


@given(amounts, st.integers(min_value=1, max_value=200))
def test_split_evenly_adds_up_and_parts_differ_by_at_most_a_penny(total: int, parts: int) -> None:
    split = split_evenly(total, parts)

    assert len(split) == parts
    assert sum(split) == total
    assert max(split) - min(split) <= 1
    assert [abs(part) for part in split] == sorted((abs(part) for part in split), reverse=True)
    if total >= 0:
        assert min(split) >= 0
    else:
        assert max(split) <= 0
    assert split == split_by_ratios(total, [1] * parts)


# --- split_by_ratios ---------------------------------------------------------------------------


def test_appendix_2_overspend_shared_across_its_five_lines_in_proportion() -> None:
    lines = [parse_pence(amount) for amount in APPENDIX_2_LINES.values()]

    # Quotas 1193.71, 3060.78, 2166.02, 1377.35, 2520.13: floors add to 10,316, so the two
    # leftover pennies go to the two largest remainders, .78 (Aberlour) then .71.
    assert split_by_ratios(10_318, lines) == [1_194, 3_061, 2_166, 1_377, 2_520]


def test_fifty_thousand_of_ctsi_pot_shared_in_proportion_to_its_sub_grants() -> None:
    sub_grants = [parse_pence(amount) for amount in CTSI_SUB_GRANTS.values()]

    # Remainders .95, .49, .91, .03, .62 with 3 pennies left over: the 1st, 3rd and 5th get one.
    split = split_by_ratios(5_000_000, sub_grants)

    assert split == [550_062, 1_457_439, 1_214_533, 850_173, 927_793]
    assert format_pence(split[0]) == "£5,500.62", "Homestart's share"


@pytest.mark.parametrize(
    ("total", "ratios", "split"),
    [
        pytest.param(10, [1, 2], [3, 7], id="largest remainder, not first index, gets the penny"),
        pytest.param(1, [1, 1, 1], [1, 0, 0], id="tie goes to the lower index"),
        pytest.param(2, [1, 1, 1], [1, 1, 0], id="ties go to lower indexes"),
        pytest.param(5, [0, 1, 1], [0, 3, 2], id="zero ratio gets nothing"),
        pytest.param(-10, [1, 2], [-3, -7], id="negative total mirrored"),
        pytest.param(0, [3, 4], [0, 0], id="nothing to split"),
        pytest.param(7, [5], [7], id="one ratio takes the whole"),
        pytest.param(100, (1, 1, 1), [34, 33, 33], id="any sequence of ratios"),
    ],
)
def test_split_by_ratios(total: int, ratios: Sequence[int], split: list[int]) -> None:
    assert split_by_ratios(total, ratios) == split


@pytest.mark.parametrize(
    ("ratios", "message"),
    [
        ([], "add up to more than 0"),
        ([0, 0], "add up to more than 0"),
        ([3, -1, 2], "ratio 1 is -1"),
    ],
)
def test_split_by_ratios_refuses_ratios_that_cannot_share(ratios: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_by_ratios(10_318, ratios)


ratio_lists = st.one_of(
    st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=12),  # many ties
    st.lists(st.integers(min_value=0, max_value=MAX_PENCE), min_size=1, max_size=12),
).filter(lambda ratios: sum(ratios) > 0)
totals = st.one_of(st.integers(min_value=-50, max_value=50), amounts)


@given(totals, ratio_lists)
def test_split_by_ratios_is_the_largest_remainder_split(total: int, ratios: list[int]) -> None:
    given_ratios = list(ratios)
    split = split_by_ratios(total, ratios)

    assert ratios == given_ratios, "ratios are not changed"
    assert split == split_by_ratios(total, tuple(ratios))
    assert len(split) == len(ratios)
    assert sum(split) == total
    assert split_by_ratios(-total, ratios) == [-part for part in split]

    whole = sum(ratios)
    shares = [divmod(abs(total) * ratio, whole) for ratio in ratios]
    magnitudes = [abs(part) for part in split]
    for part, ratio, (floor, _) in zip(magnitudes, ratios, shares, strict=True):
        assert floor <= part <= ceil_div(abs(total) * ratio, whole)
        if ratio == 0:
            assert part == 0
    assert all(part >= 0 for part in split) if total >= 0 else all(part <= 0 for part in split)
    got_penny = [i for i, part in enumerate(magnitudes) if part == shares[i][0] + 1]
    no_penny = [i for i, part in enumerate(magnitudes) if part == shares[i][0]]
    for i in got_penny:
        for j in no_penny:
            assert (shares[i][1], j) > (shares[j][1], i), "largest remainders, then lower index"


@st.composite
def owed_and_payment(draw: st.DrawFn) -> tuple[list[int], int]:
    owed = draw(ratio_lists)
    return owed, draw(st.integers(min_value=0, max_value=sum(owed)))


@given(owed_and_payment())
@example(([905_800, 2_400_000, 2_000_000, 1_400_000, 1_527_818], 8_233_618))
def test_sharing_a_payment_by_amounts_owed_never_pays_more_than_is_owed(
    owed_and_paid: tuple[list[int], int],
) -> None:
    owed, paid = owed_and_paid

    split = split_by_ratios(paid, owed)

    assert sum(split) == paid
    assert all(0 <= part <= still_owed for part, still_owed in zip(split, owed, strict=True))
