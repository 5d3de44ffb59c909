"""Names as people read them: who is acting, and what pots and organisations are called.

Two names are the same when they look the same. ``alice``, ``Alice``, ``ａｌｉｃｅ`` (full width),
``аlice`` (Cyrillic а) and ``ALİCE`` all read as one person, so none of them may approve what
``alice`` entered. The comparison key (``name_key``) is, after Unicode TR39's idea of a skeleton:

1. NFKC (full-width and compatibility forms become plain letters), then case folding;
2. decomposition with combining marks dropped (``İ`` and ``i`` compare equal);
3. each character that Unicode lists as confusable with a Latin one replaced by that letter.

Some names are refused outright, wherever they are typed (``check_name``): one with a control or
invisible character (a zero-width space makes ``P`` and ``P​`` two pots that look identical), and
one that mixes scripts (Latin with Cyrillic or Greek letters) the way look-alike spoofs do.
Names are stored as typed; ``name_key`` is what uniqueness and "same person" compare.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

from ledger.errors import InvalidInput

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
"""Control, format (zero-width, direction marks), separators, private-use and unassigned
characters: a name with one looks like another name, or rewrites the line it is printed on."""

MAX_NAME_CHARS = 200


def has_invisible(text: str) -> bool:
    return any(unicodedata.category(c) in INVISIBLE_CATEGORIES for c in text)


@cache
def _latin_lookalikes() -> dict[str, str]:
    """Characters of other scripts that Unicode lists as confusable with a Latin letter or
    digit, mapped to it. Loaded on first use: the table is large and most commands never
    compare names."""
    from confusable_homoglyphs import confusables

    table: dict[str, str] = {}
    for char, entries in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for entry in entries:
            glyph = entry.get("c", "")
            if len(glyph) == 1 and glyph.isascii() and glyph.isalnum():
                table[char] = glyph.casefold()
                break
    return table


@lru_cache(maxsize=8192)
def name_key(name: str) -> str:
    """The key two names share exactly when they look the same (see the module's docstring).
    Cached: an import compares the same few people's names on every row."""
    text = unicodedata.normalize("NFKC", name.strip()).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    if not text.isascii():
        table = _latin_lookalikes()
        text = "".join(table.get(c, c) for c in text)
    return " ".join(text.split())


def mixes_scripts(name: str) -> bool:
    """Whether ``name`` mixes letters of different scripts (``аlice``: Cyrillic and Latin).

    Digits, punctuation and marks belong to no script and never count."""
    if name.isascii():
        return False
    scripts = set()
    for char in unicodedata.normalize("NFKC", name):
        if not char.isalpha():
            continue
        script = unicodedata.name(char, "UNKNOWN").split(" ")[0]
        scripts.add(script)
    return len(scripts) > 1


@lru_cache(maxsize=8192)
def check_name(name: str, what: str, field: str | None) -> str:
    """``name`` trimmed, or a refusal saying why it cannot name a ``what``."""
    name = name.strip()
    if not name:
        raise InvalidInput(f"A {what} needs a name", field=field)
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"A {what} name can be at most {MAX_NAME_CHARS} characters; this one has {len(name)}",
            field=field,
        )
    if has_invisible(name):
        raise InvalidInput(
            f"A {what} name cannot contain control or invisible characters (line breaks, tabs,"
            " zero-width spaces, direction marks)",
            field=field,
        )
    if mixes_scripts(name):
        raise InvalidInput(
            f"'{name}' mixes letters of different alphabets (such as Latin and Cyrillic), so it"
            f" could pass for another {what}; type it in one alphabet",
            field=field,
        )
    return name


def same_person(first: str, second: str) -> bool:
    """Whether two names are one person's, however they are spelt (see ``name_key``)."""
    return name_key(first) == name_key(second)
