"""FineWeb's own quality rules (Penedo et al. 2024), defaults as in datatrove's FineWebQualityFilter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from curation.engine.options import opt
from curation.stages.annotate.rules.base import Mode, Rule, RuleSet, TextBatch, register
from curation.stages.annotate.textops import TERMINAL_CLASS, safe_div


@dataclass
class FineWebConfig:
    mode: Mode = opt("drop", "drop | annotate | off (see gopher_quality.mode).")
    min_line_punct_ratio: float | None = opt(0.12, "Smallest share of non-blank lines ending in sentence-final punctuation.")
    short_line_length: int = opt(30, "Lines of at most this many characters are short.")
    max_short_line_ratio: float | None = opt(0.67, "Largest share of short non-blank lines.")
    max_char_dup_ratio: float | None = opt(0.01, "Largest share of characters (newlines excluded) in repeated lines "
                                                 "(datatrove's code default; the FineWeb blog is said to use 0.1).")
    max_list_ratio: float | None = opt(0.3, "Most newlines per word token (list-like pages).")


@register
class FineWeb(RuleSet):
    name = "fineweb"
    doc = "FineWeb quality rules (datatrove defaults)."
    Config = FineWebConfig
    order = 40
    rules = (
        Rule("line_punct_ratio", "share of lines ending in sentence-final punctuation", "min_line_punct_ratio", None),
        Rule("short_line_ratio", "share of short lines", None, "max_short_line_ratio"),
        Rule("char_dup_ratio", "share of characters in repeated lines", None, "max_char_dup_ratio"),
        Rule("list_ratio", "newlines per word token", None, "max_list_ratio"),
    )

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        raw = tb.newline_lines
        nonblank = pc.not_equal(pc.utf8_trim_whitespace(raw.values), "").to_numpy(zero_copy_only=False) \
            if len(raw.values) else np.zeros(0, dtype=bool)
        lines = raw.select(nonblank)
        n = lines.count()
        _, dup_chars = lines.duplicates()
        return {
            "line_punct_ratio": safe_div(lines.count(lines.matches(TERMINAL_CLASS + "$")), n),
            "short_line_ratio": safe_div(lines.count(lines.lengths <= self.cfg.short_line_length), n),
            "char_dup_ratio": safe_div(dup_chars, tb.char_len - tb.newlines),
            "list_ratio": safe_div(tb.newlines, tb.words.count()),
        }
