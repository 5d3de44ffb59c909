"""Money is an ``int`` of pence, everywhere.

Design:

* Every amount in the ledger is a Python ``int`` counting pence (``amount_pence``). There is no
  money type and no float anywhere: integer arithmetic is exact, so totals always add up.
* Text becomes pence in exactly one place, :func:`parse_pence`. It accepts what people type in
  spreadsheets (``£82,336.18``, ``9058``, ``-£103.18``), checks it against a strict regular
  expression and converts it with integer arithmetic. Anything else is refused with an
  :class:`AmountError` whose message says what is wrong in words a finance officer understands.
* Pence become text in :func:`format_pence` (``£82,336.18``, the same output as Babel's en_GB
  currency format for GBP) and :func:`format_plain` (``82336.18``, for CSV and machine formats).
  ``decimal.Decimal`` appears only at that boundary, in :func:`pence_to_decimal`.
* Splitting an amount never creates or loses a penny: :func:`split_evenly` and
  :func:`split_by_ratios` (largest remainder) always return parts that add up to the total.
"""

import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Final, Self

__all__ = [
    "MAX_PENCE",
    "AmountError",
    "format_pence",
    "format_plain",
    "parse_pence",
    "pence_to_decimal",
    "split_by_ratios",
    "split_evenly",
]

MAX_PENCE: Final[int] = 100_000_000_000
"""The largest amount accepted, £1,000,000,000.00 (and -£1,000,000,000.00 the smallest)."""

_ASCII_DIGITS: Final = "0123456789"
_MAX_POUNDS_DIGITS: Final = len(str(MAX_PENCE // 100))

# The whole grammar of an accepted amount (after surrounding whitespace is trimmed):
#   optional minus, optional £, optional minus (only one minus in all), then pounds and/or pence.
#   Pounds are plain digits (9058) or comma-grouped thousands (9,058 / 1,234,567): a first group
#   of 1-3 digits not starting with 0, then groups of exactly 3. Pence are 1 or 2 digits after
#   a single decimal point. At least one of pounds or pence must be present (".50" is 50p).
_AMOUNT: Final = re.compile(
    r"""
    (?P<minus>-)?
    £?
    (?P<minus_after_symbol>-)?
    (?P<pounds>[0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+)?
    (?:\.(?P<pence>[0-9]{1,2}))?
    """,
    re.VERBOSE | re.ASCII,
)
_NON_FINITE: Final = re.compile(r"[-+]?£?[-+]?(?:s?nan|inf|infinity|∞)", re.IGNORECASE)
_EXPONENT: Final = re.compile(r"[-+]?£?[-+]?[0-9.,]*[0-9.][eE][-+]?[0-9]+")
_BRACKETED: Final = re.compile(r"\(£?[0-9][0-9,.]*\)", re.ASCII)  # accountants' (500.00)
_OTHER_DASHES: Final = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")

_NEGATIVE_REFUSED: Final = "negative amounts are not allowed here"
_SUB_PENNY: Final = "amounts are in pounds and pence, at most 2 decimal places"
_TOO_LARGE: Final = "it is more than the largest amount accepted, £1,000,000,000.00"


class AmountError(ValueError):
    """An amount that was typed but cannot be accepted.

    ``text`` is exactly what was typed; ``reason`` says what is wrong with it. ``str(error)``
    is one line for a finance officer, e.g.
    ``'0.001' is not a valid amount: amounts are in pounds and pence, at most 2 decimal places``.
    """

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        shown = text if len(text) <= 40 else text[:37] + "..."
        super().__init__(f"{shown!r} is not a valid amount: {reason}")

    def __reduce__(self) -> tuple[type[Self], tuple[str, str]]:
        return (type(self), (self.text, self.reason))


def parse_pence(text: str, *, allow_negative: bool = False) -> int:
    """Parse an amount of pounds typed by a person into exact integer pence.

    Accepted, after trimming surrounding whitespace: ``£82,336.18`` -> 8233618, ``82336.18``,
    ``9058`` -> 905800, ``£9,058``, ``9,058.00``, ``0.5`` -> 50, ``.50`` -> 50 (a missing
    leading zero is accepted: spreadsheets show ``.5``), leading zeros such as ``007``.
    With ``allow_negative=True`` a minus sign may come first or straight after the £ sign:
    ``-500.00``, ``-£500.00`` and ``£-500.00`` all mean -50000 (the last is unambiguous, and some
    exports write it). ``-0`` and ``-0.00`` are 0, but still need ``allow_negative=True``.

    Refused with :class:`AmountError`: blank text; more than 2 decimal places (``0.001``,
    even ``1.000``); a decimal point with nothing after it (``100.``); exponents (``1e3``);
    ``NaN`` and infinities; commas anywhere but between groups of 3 thousands
    (``12,34.5``, ``1,0000``, ``,100``, ``100,``); more than one decimal point; letters and
    other characters, including spaces inside the amount, ``+``, brackets, other currency
    symbols, digits other than ASCII 0-9 and dashes other than ``-``; a bare ``£`` or ``-``;
    anything beyond ±£1,000,000,000.00; any minus sign unless ``allow_negative`` is true.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_pence takes the typed text as a str, not {type(text).__name__}")
    trimmed = text.strip()
    pounds_text, _, pence_text = trimmed.partition(".")
    if (
        len(pence_text) == 2
        and len(pounds_text) <= _MAX_POUNDS_DIGITS
        and pounds_text.isdigit()
        and pence_text.isdigit()
        and trimmed.isascii()
    ):  # the usual 9058.00, read without the grammar (as the grammar would read it)
        value = int(pounds_text) * 100 + int(pence_text)
        if value <= MAX_PENCE:
            return value
    if not trimmed:
        raise AmountError(text, "it is blank")
    match = _AMOUNT.fullmatch(trimmed)
    if match is None or (match["minus"] and match["minus_after_symbol"]):
        raise AmountError(text, _why_not_an_amount(trimmed, allow_negative=allow_negative))
    if match["pounds"] is None and match["pence"] is None:
        raise AmountError(text, "there is no number in it")
    if (match["minus"] or match["minus_after_symbol"]) and not allow_negative:
        raise AmountError(text, _NEGATIVE_REFUSED)
    pounds_digits = (match["pounds"] or "0").replace(",", "").lstrip("0") or "0"
    if len(pounds_digits) > _MAX_POUNDS_DIGITS:  # also keeps int() away from huge strings
        raise AmountError(text, _TOO_LARGE)
    pence = int(pounds_digits) * 100 + int((match["pence"] or "0").ljust(2, "0"))
    if pence > MAX_PENCE:
        raise AmountError(text, _TOO_LARGE)
    return -pence if match["minus"] or match["minus_after_symbol"] else pence


def _why_not_an_amount(trimmed: str, *, allow_negative: bool) -> str:
    """Say, in one clause, why ``trimmed`` (already refused by the grammar) is not an amount."""
    for char in trimmed:
        if char.isdigit() and char not in _ASCII_DIGITS:
            return f"it contains the character {char!r}; type digits as 0-9"
    if _NON_FINITE.fullmatch(trimmed):
        return "NaN and infinity are not amounts of money"
    if _EXPONENT.fullmatch(trimmed):
        return "exponents such as 1e3 are not accepted; type the amount in full, e.g. 1000"
    if _BRACKETED.fullmatch(trimmed):
        if not allow_negative:
            return _NEGATIVE_REFUSED
        return "brackets are not accepted for negative amounts; use a minus sign, e.g. -£500.00"
    if any(char in _OTHER_DASHES for char in trimmed):
        if not allow_negative:
            return _NEGATIVE_REFUSED
        return "type the minus sign as a plain hyphen '-', e.g. -£500.00"
    if "+" in trimmed:
        return "plus signs are not accepted; type the amount without one"
    for char in trimmed:
        if char != "£" and unicodedata.category(char) == "Sc":
            return f"only pounds (£) are accepted, not {char!r}"
    for char in trimmed:
        if char.isalpha():
            return f"it contains the letter {char!r}; type only digits, commas, a point and £"
    if any(char.isspace() for char in trimmed):
        return "it has a space inside it; type the amount without spaces, e.g. £1,000"
    for char in trimmed:
        if char not in "0123456789,.£-":
            return f"it contains the character {char!r}, which is not part of an amount"
    return _why_not_well_formed(trimmed, allow_negative=allow_negative)


def _why_not_well_formed(trimmed: str, *, allow_negative: bool) -> str:
    """Explain a refusal of text made only of digits, commas, points, £ and minus signs."""
    if trimmed.count("£") > 1:
        return "the £ sign appears more than once"
    if trimmed.count("-") > 1:
        return "it has more than one minus sign"
    unsigned = trimmed.removeprefix("-").removeprefix("£").removeprefix("-")
    if "£" in unsigned:
        return "the £ sign must come before the number, e.g. £500.00"
    if "-" in unsigned:
        if not allow_negative:
            return _NEGATIVE_REFUSED
        return "the minus sign must come first, e.g. -£500.00"
    if not any(char in _ASCII_DIGITS for char in unsigned):
        return "there is no number in it"
    if unsigned.count(".") > 1:
        return "it has more than one decimal point"
    pounds, point, pence = unsigned.partition(".")
    if "," in pence:
        return "a comma cannot come after the decimal point"
    if len(pence) > 2:
        return _SUB_PENNY
    if point and not pence:
        return "nothing follows the decimal point; type the pence too, e.g. 100.00"
    if pounds.startswith(","):
        return "it starts with a comma"
    if pounds.endswith(","):
        return "a comma comes right before the decimal point" if point else "it ends with a comma"
    if ",," in pounds:
        return "it has two commas in a row"
    if pounds.startswith("0"):
        return "an amount written with thousands commas cannot start with 0"
    return "commas must separate thousands, in groups of exactly 3 digits, e.g. 1,234,567.89"


def format_pence(pence: int, *, symbol: bool = True) -> str:
    """Format pence for people: ``8233618`` -> ``£82,336.18``, ``-10318`` -> ``-£103.18``.

    ``0`` is ``£0.00``; ``symbol=False`` leaves out the £ sign (``82,336.18``, ``-103.18``).
    The output is identical to Babel's ``format_currency(..., "GBP", locale="en_GB")``.
    """
    _require_int(pence, "pence")
    pounds, pennies = divmod(abs(pence), 100)
    return f"{'-' if pence < 0 else ''}{'£' if symbol else ''}{pounds:,}.{pennies:02d}"


def format_plain(pence: int) -> str:
    """Format pence for machines (CSV, JSON): ``8233618`` -> ``82336.18``.

    No £ sign and no thousands commas; always exactly 2 decimal places; ``-10318`` -> ``-103.18``.
    """
    _require_int(pence, "pence")
    pounds, pennies = divmod(abs(pence), 100)
    return f"{'-' if pence < 0 else ''}{pounds}.{pennies:02d}"


def pence_to_decimal(pence: int) -> Decimal:
    """Return pounds as an exact ``Decimal`` with 2 places: ``8233618`` -> ``Decimal('82336.18')``.

    Built from :func:`format_plain`'s text, so no decimal context can round it.
    """
    return Decimal(format_plain(pence))


def split_evenly(total_pence: int, parts: int) -> list[int]:
    """Split ``total_pence`` into ``parts`` parts that differ by at most 1p and add up exactly.

    The larger parts come first: ``split_evenly(100, 3) == [34, 33, 33]``. A negative total is
    split as its absolute value and negated, ``split_evenly(-100, 3) == [-34, -33, -33]``.
    ``parts`` below 1 raises ``ValueError``.
    """
    _require_int(total_pence, "total_pence")
    _require_int(parts, "parts")
    if parts < 1:
        raise ValueError(f"cannot split an amount into {parts} parts: need at least 1")
    base, extra = divmod(abs(total_pence), parts)
    split = [base + 1] * extra + [base] * (parts - extra)
    return [-part for part in split] if total_pence < 0 else split


def split_by_ratios(total_pence: int, ratios: Sequence[int]) -> list[int]:
    """Split ``total_pence`` in proportion to ``ratios``, with parts adding up exactly to the total.

    Largest remainder (Hamilton) method: part i is ``floor(total * r_i / sum(ratios))``, and the
    pennies left over go one each to the parts with the largest remainders, ties going to the
    lower index. The result depends only on the arguments. A negative total is split as its
    absolute value and negated. ``split_by_ratios(10, [1, 2]) == [3, 7]``.

    Guarantee, for ``total_pence >= 0`` (mirrored for negative totals), for every i::

        floor(total * r_i / sum) <= part_i <= ceil(total * r_i / sum)

    so a zero ratio always gets 0, and if each ``r_i`` is an amount still owed and
    ``total_pence <= sum(ratios)``, no part exceeds what is owed (``part_i <= r_i``).

    Ratios must be non-negative ints with a positive sum; otherwise ``ValueError``.
    """
    if len(ratios) == 1:  # most payments have one funder: the whole is its part
        (only,) = ratios
        if only.__class__ is int and only > 0 and total_pence.__class__ is int:
            return [total_pence]
    _require_int(total_pence, "total_pence")
    weights = list(ratios)
    for index, weight in enumerate(weights):
        _require_int(weight, f"ratio {index}")
        if weight < 0:
            raise ValueError(f"ratios cannot be negative: ratio {index} is {weight}")
    whole = sum(weights)
    if whole <= 0:
        raise ValueError(f"ratios must add up to more than 0 to split an amount; got {weights}")
    if len(weights) == 1:
        return [total_pence]
    magnitude = abs(total_pence)
    shares = [divmod(magnitude * weight, whole) for weight in weights]
    split = [floor for floor, _ in shares]
    leftover = magnitude - sum(split)  # < len(weights), and only parts with a remainder get one
    by_remainder = sorted(range(len(weights)), key=lambda index: (-shares[index][1], index))
    for index in by_remainder[:leftover]:
        split[index] += 1
    return [-part for part in split] if total_pence < 0 else split


def _require_int(value: int, name: str) -> None:
    """Refuse floats, Decimals and bools where pence (or counts of pence) are expected."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
