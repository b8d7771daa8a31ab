"""Lazy public names (PEP 562) for package `__init__` modules.

A package's top-level names (`Config`, its models) live in modules that import torch; importing them
eagerly makes every `<pkg> --help` pay torch's import time. `lazy_getattr` gives the package a module-level
`__getattr__` that imports the defining module on first use instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """`__getattr__` for `package`: name -> `getattr(import_module(f"{package}.{where[name]}"), name)`."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
