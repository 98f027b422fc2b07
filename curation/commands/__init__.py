"""Tool commands that are not pipeline stages (`curation ui`, `curation lake`, `curation quality`, ...).

Each module here defines NAME, HELP and main(argv) -> int; the CLI discovers them by module.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType


@cache
def commands() -> dict[str, ModuleType]:
    found = {}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "NAME") and hasattr(module, "main"):
            found[module.NAME] = module
    return found
