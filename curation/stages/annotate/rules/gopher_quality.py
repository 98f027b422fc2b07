"""Gopher quality rules (Rae et al. 2021, MassiveText), defaults as in datatrove's GopherQualityFilter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation.engine.options import opt
from curation.stages.annotate.rules.base import Mode, Rule, RuleSet, TextBatch, register
from curation.stages.annotate.textops import safe_div
from curation.stages.annotate.words import ALPHA, SYMBOL_TOKEN

STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]


@dataclass
class GopherQualityConfig:
    mode: Mode = opt("drop", "drop: drop documents that break a limit; annotate: only add the columns; off: skip.")
    min_word_count: float | None = opt(50, "Fewest words (tokens that are not pure punctuation); null disables.")
    max_word_count: float | None = opt(100_000, "Most words.")
    min_mean_word_length: float | None = opt(3, "Shortest mean word length in characters.")
    max_mean_word_length: float | None = opt(10, "Longest mean word length.")
    max_hash_word_ratio: float | None = opt(0.1, "Most '#' characters per token.")
    max_ellipsis_word_ratio: float | None = opt(0.1, "Most ellipses ('...' or U+2026) per token.")
    max_bullet_lines_frac: float | None = opt(0.9, "Largest share of lines starting with a bullet (U+2022 or '-').")
    max_ellipsis_lines_frac: float | None = opt(0.3, "Largest share of lines ending with an ellipsis.")
    min_alpha_words_frac: float | None = opt(0.8, "Smallest share of tokens with at least one letter (DCLM writes 0.2 as a max non-alpha share).")
    min_stop_words: float | None = opt(2, "Fewest distinct stop words (English list: the be to of and that have with; case-sensitive).")
    stop_words: list[str] = opt(STOP_WORDS, "Stop words for min_stop_words (set per language).")


@register
class GopherQuality(RuleSet):
    name = "gopher_quality"
    doc = "Gopher quality rules (datatrove defaults)."
    Config = GopherQualityConfig
    order = 20
    rules = (
        Rule("word_count", "words that are not pure punctuation", "min_word_count", "max_word_count"),
        Rule("mean_word_length", "mean characters per word", "min_mean_word_length", "max_mean_word_length"),
        Rule("hash_word_ratio", "'#' characters per token", None, "max_hash_word_ratio"),
        Rule("ellipsis_word_ratio", "ellipses per token", None, "max_ellipsis_word_ratio"),
        Rule("bullet_lines_frac", "share of lines starting with a bullet", None, "max_bullet_lines_frac"),
        Rule("ellipsis_lines_frac", "share of lines ending with an ellipsis", None, "max_ellipsis_lines_frac"),
        Rule("alpha_words_frac", "share of tokens containing a letter", "min_alpha_words_frac", None),
        Rule("stop_words", "distinct stop words present", "min_stop_words", None),
    )

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        words = tb.words
        n_tokens = words.count()
        symbol = words.matches(SYMBOL_TOKEN)
        n_words = words.count(~symbol)
        lines = tb.lines
        n_lines = lines.count()
        stop = words.isin(self.cfg.stop_words)
        return {
            "word_count": n_words,
            "mean_word_length": safe_div(words.total(words.lengths, ~symbol), n_words),
            "hash_word_ratio": safe_div(tb.count("#"), n_tokens),
            "ellipsis_word_ratio": safe_div(tb.count("...") + tb.count("\u2026"), n_tokens),
            "bullet_lines_frac": safe_div(lines.count(lines.matches(r"^[\s\pZ]*[\x{2022}-]")), n_lines),
            "ellipsis_lines_frac": safe_div(lines.count(lines.matches(r"(\.\.\.|\x{2026})[\s\pZ]*$")), n_lines),
            "alpha_words_frac": safe_div(words.count(words.matches(ALPHA)), n_tokens),
            "stop_words": words.select(stop).distinct_count(),
        }
