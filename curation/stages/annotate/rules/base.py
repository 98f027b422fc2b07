"""What a heuristic rule set is: named signals computed per batch, each with optional min/max limits.

A rule set computes one float64 value per document and rule (NaN where the value is undefined, e.g. a
ratio over zero lines). The values become columns `<ruleset>__<rule>`; the limits decide drops with
reason `<ruleset>:<rule>`. Keeping value and limit apart is what lets thresholds change later without
recomputing (the what-if view and the selection stage read the columns).

A rule set may also rewrite the texts (PII redaction, C4 line removal): when `rewrites()` is true the stage
calls `rewrite` instead of `compute`, and every later step (other rule sets, language id, word and token
counts, the stored text, dedup after this stage) sees the new text. Design: docs/DESIGN.md#annotate-line-cleaning
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.stages.annotate import textops
from curation.stages.annotate.textops import Parts

Mode = Literal["drop", "annotate", "off"]


@dataclass(frozen=True)
class Rule:
    """One signal; `min_key`/`max_key` name the config fields holding its limits (None: annotate only)."""

    name: str
    doc: str
    min_key: str | None = None
    max_key: str | None = None


class TextBatch:
    """The texts of one record batch with the splits every rule set shares, each computed once.

    `languages`: each document's language code (from language id, or the input's `language` column), for
    rule sets with per-language data; None where the stage has none.
    """

    def __init__(self, texts: pa.Array, languages: list[str | None] | None = None):
        self.texts = textops.as_text(texts)
        self.n = len(self.texts)
        self.languages = languages

    def replaced(self, texts: pa.Array) -> TextBatch:
        """A batch of new texts for the same documents (the splits are computed again, lazily)."""
        return TextBatch(texts, self.languages)

    @cached_property
    def char_len(self) -> np.ndarray:
        return pc.utf8_length(self.texts).to_numpy(zero_copy_only=False).astype(np.float64)

    @cached_property
    def lines(self) -> Parts:
        """str.splitlines()"""
        return textops.splitlines(self.texts)

    @cached_property
    def newline_lines(self) -> Parts:
        """str.split('\\n')"""
        return textops.split(self.texts, "\n")

    @cached_property
    def pieces(self) -> Parts:
        """str.split(): whitespace-separated pieces (word_count, and the first step of `words`)"""
        from curation.stages.annotate.words import whitespace_pieces

        return whitespace_pieces(self.texts)

    @cached_property
    def words(self) -> Parts:
        """word and punctuation tokens (spaCy-like, see words.py)"""
        from curation.stages.annotate.words import tokenize

        return tokenize(self.texts, self.pieces)

    @cached_property
    def newlines(self) -> np.ndarray:
        return pc.count_substring(self.texts, "\n").to_numpy(zero_copy_only=False).astype(np.float64)

    def count(self, pattern: str, regex: bool = False) -> np.ndarray:
        fn = pc.count_substring_regex if regex else pc.count_substring
        return fn(self.texts, pattern).to_numpy(zero_copy_only=False).astype(np.float64)


@dataclass
class Rewrite:
    """What a text-rewriting rule set returns: every document's text (changed or not), which ones changed,
    and the rule values (computed on the text the rule set was given)."""

    texts: pa.Array
    changed: np.ndarray
    values: dict[str, np.ndarray]


@dataclass
class Failure:
    rule: str
    value: float
    limit: float
    kind: str  # "min" | "max"

    def detail(self) -> str:
        op = "<" if self.kind == "min" else ">"
        return f"{self.rule}={_fmt(self.value)} {op} {self.kind} {_fmt(self.limit)}"


def _fmt(x: float) -> str:
    if math.isfinite(x) and float(x).is_integer():
        return str(int(x))
    return f"{x:.4g}"


class RuleSet:
    """Base class: subclasses set `name`, `doc`, `Config`, `rules` and implement `compute`.

    `Config` is the rule set's config section (`annotate.<name>`): a dataclass with a `mode` field
    (drop | annotate | off) and the fields that `Rule.min_key`/`max_key` name. `order` places the rule
    set in the default `annotate.rulesets` list (drops are attributed to the first rule set that fires).
    """

    name: ClassVar[str] = ""
    doc: ClassVar[str] = ""
    Config: ClassVar[type]
    order: ClassVar[int] = 100
    rules: ClassVar[tuple[Rule, ...]] = ()

    def __init__(self, cfg: Any):
        self.cfg = cfg

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def active(self) -> bool:
        """Whether the stage runs this rule set at all (mode off and no rewriting: skipped, columns null)."""
        return self.cfg.mode != "off" or self.rewrites()

    def drops(self) -> bool:
        """Whether its limits drop documents (mode drop; a rule set may add modes, e.g. pii's redact)."""
        return self.cfg.mode == "drop"

    def rewrites(self) -> bool:
        """Whether, as configured, this rule set rewrites the texts (then the stage calls `rewrite`)."""
        return False

    #: The rule whose reason (`<name>:<rule>`) drops a document that a rewrite left empty.
    rewrite_rule: ClassVar[str | None] = None

    def rewrite(self, tb: TextBatch) -> Rewrite:
        """New texts and the rule values; only called when `rewrites()` is true."""
        raise NotImplementedError(f"rule set {self.name} says it rewrites texts but has no rewrite()")

    @classmethod
    def column(cls, rule: str) -> str:
        return f"{cls.name}__{rule}"

    @classmethod
    def columns(cls) -> list[tuple[str, str]]:
        """(column name, doc) of every signal this rule set emits (all float64, null when undefined)."""
        return [(cls.column(r.name), f"{cls.name}: {r.doc}; null when undefined (e.g. no lines) or the rule set is off.")
                for r in cls.rules]

    def limits(self) -> list[tuple[Rule, float | None, float | None]]:
        out = []
        for r in self.rules:
            lo = getattr(self.cfg, r.min_key) if r.min_key else None
            hi = getattr(self.cfg, r.max_key) if r.max_key else None
            out.append((r, lo, hi))
        return out

    def first_failure(self, values: dict[str, np.ndarray], n: int) -> list[Failure | None]:
        """Per document, the first rule (in declaration order) whose limit it breaks; NaN never fails."""
        failed = np.zeros(n, dtype=bool)
        out: list[Failure | None] = [None] * n
        for rule, lo, hi in self.limits():
            v = values[rule.name]
            for kind, limit, bad in (("min", lo, None if lo is None else v < lo), ("max", hi, None if hi is None else v > hi)):
                if bad is None:
                    continue
                hit = np.flatnonzero(bad & ~failed)
                for i in hit:
                    out[i] = Failure(rule.name, float(v[i]), float(limit), kind)
                failed[hit] = True
        return out


REGISTERED: dict[str, type[RuleSet]] = {}


def register(cls: type[RuleSet]) -> type[RuleSet]:
    """Class decorator: add a rule set to the registry (checked: a unique name, a Config, rule limit keys)."""
    if not cls.name or cls.name in REGISTERED and REGISTERED[cls.name] is not cls:
        raise ValueError(f"rule set {cls.__name__}: missing or duplicate name {cls.name!r}")
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    keys = [k for r in cls.rules for k in (r.min_key, r.max_key) if k] if cls.limits is RuleSet.limits else []
    missing = [k for k in keys if k not in fields] + ([] if "mode" in fields else ["mode"])
    if missing or not cls.rules:
        raise ValueError(f"rule set {cls.name}: no rules, or Config lacks {missing}")
    REGISTERED[cls.name] = cls
    return cls
