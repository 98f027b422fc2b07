"""Pipeline stages. Each module `curation/stages/<name>.py` defines `STAGE`, a Stage subclass.

Discovery by module name keeps stages independent: adding one is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache


@cache
def registry() -> dict[str, type]:
    from curation.stages.base import Stage

    found: dict[str, type] = {}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_") or mod.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        stage = getattr(module, "STAGE", None)
        if isinstance(stage, type) and issubclass(stage, Stage):
            found[stage.name] = stage
    return found


def get_stage(name: str) -> type:
    stages = registry()
    if name not in stages:
        raise KeyError(f"unknown stage {name!r} (known: {', '.join(sorted(stages))})")
    return stages[name]
