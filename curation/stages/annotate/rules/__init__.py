"""Heuristic rule sets, one file each, found by the `@register` decorator (see docs/ARCHITECTURE.md).

A rule set is a `RuleSet` subclass in a module of this folder. Its `Config` becomes the config section
`annotate.<name>`, its rules the float64 columns `<name>__<rule>` (schemas/signals/annotate.json is
generated from here) and its limits the drop reasons `<name>:<rule>`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from curation.stages.annotate.rules.base import (
    REGISTERED,
    Failure,
    Mode,
    Rewrite,
    Rule,
    RuleSet,
    TextBatch,
    register,
)

__all__ = ["Failure", "Mode", "Rewrite", "Rule", "RuleSet", "TextBatch", "register", "rulesets"]


@cache
def rulesets() -> dict[str, type[RuleSet]]:
    """Every registered rule set, by name, in default attribution order (`order`, then name)."""
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "base" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(REGISTERED.items(), key=lambda kv: (kv[1].order, kv[0])))
