"""What a heuristic rule set is: named signals computed per batch, each with optional min/max limits.

A rule set computes one float64 value per document and rule (NaN where the value is undefined, e.g. a
ratio over zero lines). The values become columns `<ruleset>__<rule>`; the limits decide drops with
reason `<ruleset>:<rule>`. Keeping value and limit apart is what lets thresholds change later without
recomputing (the what-if view and the selection stage read the columns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.annotate import textops
from curation.annotate.textops import Parts


@dataclass(frozen=True)
class Rule:
    """One signal; `min_key`/`max_key` name the config fields holding its limits (None: annotate only)."""

    name: str
    doc: str
    min_key: str | None = None
    max_key: str | None = None


class TextBatch:
    """The texts of one record batch with the splits every rule set shares, each computed once."""

    def __init__(self, texts: pa.Array):
        self.texts = textops.as_text(texts)
        self.n = len(self.texts)

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
        from curation.annotate.words import whitespace_pieces

        return whitespace_pieces(self.texts)

    @cached_property
    def words(self) -> Parts:
        """word and punctuation tokens (spaCy-like, see words.py)"""
        from curation.annotate.words import tokenize

        return tokenize(self.texts, self.pieces)

    @cached_property
    def newlines(self) -> np.ndarray:
        return pc.count_substring(self.texts, "\n").to_numpy(zero_copy_only=False).astype(np.float64)

    def count(self, pattern: str, regex: bool = False) -> np.ndarray:
        fn = pc.count_substring_regex if regex else pc.count_substring
        return fn(self.texts, pattern).to_numpy(zero_copy_only=False).astype(np.float64)


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
    """Base class: subclasses set `name`, `rules` and implement `compute`."""

    name: ClassVar[str] = ""
    rules: ClassVar[tuple[Rule, ...]] = ()

    def __init__(self, cfg: Any):
        self.cfg = cfg

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def column(self, rule: str) -> str:
        return f"{self.name}__{rule}"

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
