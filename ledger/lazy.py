"""A module imported on first use, so that registering a command (``commonpurse --help``) never
pays for the database library, the ORM or the renderers its handler will need.

    if TYPE_CHECKING:
        from ledger import timeline
    else:
        timeline = lazy("ledger.timeline")
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class _LazyModule(types.ModuleType):
    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy(name: str) -> Any:
    """A stand-in for module ``name`` that imports it on the first attribute read."""
    return _LazyModule(name)
