"""What makes a password acceptable, following the NCSC's password guidance.

Length over complexity: at least ``MIN_CHARS`` characters (spaces welcome, so a passphrase of
three or four words is the easy way to meet it), and no composition rules (no demand for a
digit, a capital or a symbol: they push people towards ``Password1!``). Instead the commonest
choices are refused outright:

* a password on the deny-list of common passwords shipped in ``ledger/data/common-passwords.txt``
  (compared without regard to case);
* one of those with only digits or symbols added at either end (``password123456``,
  ``!qwerty2024!``), or one repeated (``monkeymonkey``);
* a run of one to three characters repeated (``aaaaaaaaaaaa``, ``abcabcabcabc``);
* the person's own username, however decorated the same way (``officer12345``).

Pure rules: plain values in, an ``InvalidInput`` out. The web forms and ``commonpurse user``
both call ``check_new_password``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from ledger.errors import InvalidInput

MIN_CHARS = 12
MAX_CHARS = 1000
DENY_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_SHORT_RUN = re.compile(r"(.{1,3})\1+", re.DOTALL)


@cache
def common_passwords() -> frozenset[str]:
    """The deny-list, lower case."""
    with DENY_LIST.open(encoding="utf-8") as handle:
        return frozenset(
            line.rstrip("\n").lower()
            for line in handle
            if line.strip() and not line.startswith("#")
        )


def check_new_password(password: str, username: str) -> None:
    """Refuse a password that is too short, too long, common, or the username; else return."""
    if len(password) < MIN_CHARS:
        raise InvalidInput(
            f"A password needs at least {MIN_CHARS} characters; a few words with spaces"
            " between them are easy to remember and hard to guess",
            field="password",
        )
    if len(password) > MAX_CHARS:
        raise InvalidInput(f"A password can be at most {MAX_CHARS:,} characters", field="password")
    lowered = password.lower()
    core = _DECORATION.sub("", lowered)
    name = username.strip().lower()
    if name and (name in {lowered, core} or _repeats(core, name)):
        raise InvalidInput("A password cannot be your username", field="password")
    common = common_passwords()
    if lowered in common or core in common or _repeats_common(core, common):
        raise InvalidInput(
            "That is one of the most commonly used passwords, so it is among the first an"
            " attacker tries. Choose another, for example three or four random words",
            field="password",
        )
    if _SHORT_RUN.fullmatch(lowered):
        raise InvalidInput(
            "A password cannot be a few characters repeated; choose something less predictable",
            field="password",
        )


def _repeats(text: str, unit: str) -> bool:
    return bool(unit) and len(text) % len(unit) == 0 and text == unit * (len(text) // len(unit))


def _repeats_common(text: str, common: frozenset[str]) -> bool:
    """``text`` is one common password said twice or more (``qwertyqwerty``)."""
    for parts in range(2, 5):
        if len(text) % parts == 0:
            unit = text[: len(text) // parts]
            if unit in common and _repeats(text, unit):
                return True
    return False
