"""The pipeline's stages, one folder each: `curation/stages/<name>/`.

A stage folder holds `stage.py` (`STAGE`, a `curation.engine.stage.Stage` subclass), `config.py` when the
stage has a config section (`SECTION`, a dataclass of `opt` fields) and the stage's algorithms. Lookups
import only what they name: loading a config imports config modules, never stage code.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache

#: Pipeline order, used for listings; a stage folder not named here is listed after these.
ORDER = ("read", "ingest", "normalize", "annotate", "dedup", "prune", "select", "rewrite", "export")


@cache
def names() -> tuple[str, ...]:
    """Every stage folder (a sub-package with a stage.py), in pipeline order."""
    found = [m.name for m in pkgutil.iter_modules(__path__) if m.ispkg and not m.name.startswith("_")
             and importlib.util.find_spec(f"{__name__}.{m.name}.stage") is not None]
    return tuple(sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)))


def get_stage(name: str) -> type:
    if name not in names():
        raise KeyError(f"unknown stage {name!r} (known: {', '.join(sorted(names()))})")
    return importlib.import_module(f"{__name__}.{name}.stage").STAGE


def registry() -> dict[str, type]:
    """name -> Stage class for every stage (imports every stage module)."""
    return {name: get_stage(name) for name in names()}


@cache
def config_sections() -> dict[str, type]:
    """name -> config dataclass for every stage with a `config.py` that declares `SECTION`."""
    out: dict[str, type] = {}
    for name in names():
        if importlib.util.find_spec(f"{__name__}.{name}.config") is not None:
            section = getattr(importlib.import_module(f"{__name__}.{name}.config"), "SECTION", None)
            if section is not None:
                out[name] = section
    return out
