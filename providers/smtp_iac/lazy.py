"""Names of a package loaded on first use (PEP 562), so that importing the package costs only
what its importer uses: ``__getattr__ = lazy.names(__name__, {"Name": "module", ...})``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def names(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """The package's ``__getattr__``: ``name`` from its module ``where[name]``, kept in the
    package once loaded; AttributeError for any other name."""

    def load(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    return load
