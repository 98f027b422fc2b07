"""C4 rules (Raffel et al. 2020) as datatrove's C4QualityFilter applies them, as document signals.

C4 cleans line by line: a line is kept only if it ends in terminal punctuation, has at least 3 words,
no word over 1,000 characters and no mention of javascript or cookie/terms-of-use policies; a page is
dropped for "lorem ipsum" or a curly bracket in a kept line, or for fewer than 5 sentences in its kept
lines. The document signals are the counts those decisions rest on. FineWeb turned the terminal-punctuation
line rule off (`require_terminal_punct: false`, the default here); datatrove's class default is on.

Line cleaning (`lines`): C4 also rewrites the page to the lines it keeps. `lines: remove` does that here
(the removed lines are those `kept_line_frac` does not count, except lines with "lorem ipsum" or "{",
which C4 answers by dropping the whole page: they stay for the page rules); `annotate` only counts them
(`c4__lines_removed`). Design: docs/DESIGN.md#annotate-line-cleaning

Sentences are counted as runs of sentence-final punctuation followed by a space or the line end
(datatrove uses spaCy's sentencizer; abbreviations such as "e.g. " count as an extra sentence here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.engine.options import opt
from curation.stages.annotate.rules.base import Mode, Rewrite, Rule, RuleSet, TextBatch, register
from curation.stages.annotate.textops import TERMINAL_CLASS, Parts, safe_div

CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]
SENTENCE_END = TERMINAL_CLASS + r"+['\"\x{201d}\x{2019})\]]*(?:[\s\pZ]|$)"


@dataclass
class C4Config:
    mode: Mode = opt("drop", "drop | annotate | off (see gopher_quality.mode).")
    require_terminal_punct: bool = opt(False, "Count only lines ending in . ? ! \" ' (C4; FineWeb turned it off, so off here).")
    remove_citations: bool = opt(True, "Remove [1], [edit], [citation needed] before the line checks.")
    min_words_per_line: int = opt(3, "Lines with fewer whitespace-separated words do not count.")
    max_word_length: int = opt(1000, "Lines with a longer word do not count.")
    max_lorem_ipsum: float | None = opt(0, "Most counted lines containing 'lorem ipsum' (0: any drops the page).")
    max_curly_bracket: float | None = opt(0, "Most counted lines containing '{' (0: any drops the page).")
    min_sentences: float | None = opt(5, "Fewest sentences in the lines C4 would keep.")
    lines: Literal["remove", "annotate", "off"] = opt(
        "annotate", "C4 line cleaning: remove = rewrite the text without the lines C4 drops (too few words, a word over "
                    "max_word_length, javascript, cookie/terms/privacy policy, no terminal punctuation when "
                    "require_terminal_punct); annotate = only count them (c4__lines_removed); off = neither.")


@register
class C4(RuleSet):
    name = "c4"
    doc = "C4 rules (FineWeb's variant: no terminal-punctuation rule)."
    Config = C4Config
    order = 30
    rules = (
        Rule("lorem_ipsum", "counted lines containing 'lorem ipsum'", None, "max_lorem_ipsum"),
        Rule("curly_bracket", "counted lines containing '{'", None, "max_curly_bracket"),
        Rule("sentences", "sentences in the lines C4 keeps", "min_sentences", None),
        Rule("kept_line_frac", "share of lines C4 would keep (annotation only)"),
        Rule("lines_removed", "non-blank lines C4 line cleaning removes (c4.lines: remove) or would remove (annotate)"),
    )
    rewrite_rule = "lines_removed"

    def rewrites(self) -> bool:
        return self.cfg.lines == "remove"

    def active(self) -> bool:
        return self.cfg.mode != "off" or self.cfg.lines != "off"  # line counts without the page rules

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        return self._analyse(tb)[0]

    def rewrite(self, tb: TextBatch) -> Rewrite:
        """The texts without the removed lines; runs of blank lines between kept lines become one blank line
        (C4 joins its kept lines with one newline and so loses paragraphs; the paragraph rules need them)."""
        values, removed = self._analyse(tb)
        changed = values["lines_removed"] > 0
        if not changed.any():
            return Rewrite(tb.texts, changed, values)
        lines = tb.lines
        docs = np.flatnonzero(changed)
        pick = np.flatnonzero(np.isin(lines.parents, docs))
        vals = lines.values.take(pa.array(pick)).to_pylist()
        out: dict[int, list[str]] = {int(d): [] for d in docs}
        gap: dict[int, bool] = {}
        for j, line in zip(pick.tolist(), vals, strict=True):
            d = int(lines.parents[j])
            if removed[j]:
                continue
            if not line.strip():
                gap[d] = bool(out[d])  # a blank line after kept text: a paragraph break, if text follows
                continue
            if gap.pop(d, False):
                out[d].append("")
            out[d].append(line)
        new: list[str | None] = [None] * tb.n
        for d, kept in out.items():
            new[d] = "\n".join(kept)
        texts = pc.if_else(pa.array(changed), pa.array(new, pa.string()), tb.texts)
        return Rewrite(texts, changed, values)

    def _analyse(self, tb: TextBatch) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The rule values and, per line of `tb.lines`, whether line cleaning removes it."""
        cfg = self.cfg
        lines: Parts = tb.lines
        lines_removed = np.full(tb.n, np.nan) if cfg.lines == "off" else np.zeros(tb.n)
        if len(lines.values) == 0:
            z = np.zeros(tb.n)
            return ({"lorem_ipsum": z, "curly_bracket": z, "sentences": z, "kept_line_frac": np.full(tb.n, np.nan),
                     "lines_removed": lines_removed}, np.zeros(0, dtype=bool))
        stripped = pc.utf8_trim_whitespace(lines.values)
        n_words = pc.list_value_length(pc.utf8_split_whitespace(stripped)).to_numpy(zero_copy_only=False)
        ok = n_words >= cfg.min_words_per_line
        long_word = _has_long_word(stripped, cfg.max_word_length)
        ok &= ~long_word
        text = pc.replace_substring_regex(stripped, CITATION, "") if cfg.remove_citations else stripped
        if cfg.require_terminal_punct:
            ends = pc.match_substring_regex(text, r"[.?!\"']$").to_numpy(zero_copy_only=False)
            ellipsis = pc.ends_with(text, "...").to_numpy(zero_copy_only=False)
            ok &= ends & ~ellipsis
        lower = pc.utf8_lower(text)
        lorem = ok & pc.match_substring(lower, "lorem ipsum").to_numpy(zero_copy_only=False)
        js = ok & ~lorem & pc.match_substring(lower, "javascript").to_numpy(zero_copy_only=False)
        curly = ok & ~lorem & ~js & pc.match_substring(text, "{").to_numpy(zero_copy_only=False)
        policy_re = "|".join(POLICY)
        policy = ok & ~lorem & ~js & ~curly & pc.match_substring_regex(lower, policy_re).to_numpy(zero_copy_only=False)
        kept = ok & ~lorem & ~js & ~curly & ~policy
        sentences = np.maximum(pc.count_substring_regex(text, SENTENCE_END).to_numpy(zero_copy_only=False), 1)
        # line cleaning keeps what C4 keeps plus the lorem-ipsum and curly-bracket lines (page rules, not line rules)
        blank = pc.equal(stripped, "").to_numpy(zero_copy_only=False)
        removed = ~(kept | lorem | curly) & ~blank
        if cfg.lines != "off":
            lines_removed = lines.count(removed)
        return {
            "lorem_ipsum": lines.count(lorem),
            "curly_bracket": lines.count(curly),
            "sentences": lines.total(sentences, kept),
            "kept_line_frac": safe_div(lines.count(kept), lines.count()),
            "lines_removed": lines_removed,
        }, removed


def _has_long_word(lines: pa.Array, max_len: int) -> np.ndarray:
    """Lines with a whitespace-separated word longer than max_len (checked only on long lines)."""
    lengths = pc.utf8_length(lines).to_numpy(zero_copy_only=False)
    out = np.zeros(len(lines), dtype=bool)
    cand = np.flatnonzero(lengths > max_len)
    if cand.size == 0:
        return out
    words = pc.utf8_split_whitespace(lines.take(pa.array(cand)))
    wl = pc.utf8_length(pc.list_flatten(words)).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(words).to_numpy(zero_copy_only=False)
    longest = np.zeros(cand.size, dtype=np.int64)
    np.maximum.at(longest, parents, wl)
    out[cand] = longest > max_len
    return out
