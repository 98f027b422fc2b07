"""Gopher repetition rules: duplicated lines, paragraphs and word n-grams (Rae et al. 2021, table A1).

Defaults and definitions follow datatrove's GopherRepetitionFilter (characters are counted against the
whole text, n-gram characters without the spaces between words). One deliberate difference: the
duplicated n-gram share counts the characters of every word covered by a repeated occurrence of an
n-gram (the paper's "characters contained within all duplicate n-grams"), computed for the whole batch
with numpy; datatrove scans greedily and skips n words after each hit, which counts up to n-1 fewer
words per repeated block. The benchmark reports how often the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow.compute as pc

from curation.annotate import textops
from curation.annotate.gopher_quality import Mode
from curation.annotate.rules import Rule, RuleSet, TextBatch
from curation.annotate.textops import Parts, bincount, mix64, safe_div
from curation.config import opt

TOP_NGRAMS = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAMS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


@dataclass
class GopherRepetitionConfig:
    mode: Mode = opt("drop", "drop | annotate | off (see gopher_quality.mode).")
    max_dup_para_frac: float | None = opt(0.3, "Largest share of paragraphs (split on blank lines) that repeat an earlier one.")
    max_dup_para_char_frac: float | None = opt(0.2, "Largest share of characters in repeated paragraphs.")
    max_dup_line_frac: float | None = opt(0.3, "Largest share of lines that repeat an earlier one.")
    max_dup_line_char_frac: float | None = opt(0.2, "Largest share of characters in repeated lines.")
    max_top_ngram_char_frac: dict[str, float] = field(
        default_factory=lambda: {str(k): v for k, v in TOP_NGRAMS.items()},
        metadata={"doc": "n -> largest share of characters in the most frequent word n-gram (n = 2, 3, 4)."})
    max_dup_ngram_char_frac: dict[str, float] = field(
        default_factory=lambda: {str(k): v for k, v in DUP_NGRAMS.items()},
        metadata={"doc": "n -> largest share of characters in repeated word n-grams (n = 5..10)."})

    def validate(self) -> None:
        for key, table, allowed in (("max_top_ngram_char_frac", self.max_top_ngram_char_frac, TOP_NGRAMS),
                                    ("max_dup_ngram_char_frac", self.max_dup_ngram_char_frac, DUP_NGRAMS)):
            bad = sorted(set(table) - {str(k) for k in allowed})
            if bad:
                raise ValueError(f"{key}: n must be one of {sorted(allowed)} (columns are fixed), got {bad}")


class GopherRepetition(RuleSet):
    name = "gopher_repetition"
    rules = (
        Rule("dup_para_frac", "share of repeated paragraphs", None, "max_dup_para_frac"),
        Rule("dup_para_char_frac", "share of characters in repeated paragraphs", None, "max_dup_para_char_frac"),
        Rule("dup_line_frac", "share of repeated lines", None, "max_dup_line_frac"),
        Rule("dup_line_char_frac", "share of characters in repeated lines", None, "max_dup_line_char_frac"),
        *(Rule(f"top_{n}gram_char_frac", f"share of characters in the most frequent {n}-gram", None, f"top_{n}")
          for n in TOP_NGRAMS),
        *(Rule(f"dup_{n}gram_char_frac", f"share of characters in repeated {n}-grams", None, f"dup_{n}")
          for n in DUP_NGRAMS),
    )

    def limits(self):  # n-gram limits live in dicts keyed by n
        out = []
        for r in self.rules:
            if r.max_key and r.max_key.startswith(("top_", "dup_")) and r.max_key[4:].isdigit():
                table = self.cfg.max_top_ngram_char_frac if r.max_key.startswith("top_") else self.cfg.max_dup_ngram_char_frac
                out.append((r, None, table.get(r.max_key[4:])))
            else:
                out.append((r, None, getattr(self.cfg, r.max_key)))
        return out

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        n_chars = tb.char_len
        paras = textops.split(pc.utf8_trim_whitespace(tb.texts), r"\n\n+")
        lines = textops.split(tb.texts, r"\n+")
        p_dup, p_chars = paras.duplicates()
        l_dup, l_chars = lines.duplicates()
        out = {
            "dup_para_frac": safe_div(p_dup, paras.count()),
            "dup_para_char_frac": safe_div(p_chars, n_chars),
            "dup_line_frac": safe_div(l_dup, lines.count()),
            "dup_line_char_frac": safe_div(l_chars, n_chars),
        }
        words = tb.words
        cum = np.concatenate([[0], np.cumsum(words.lengths)])
        for n, keys, starts in ngram_hashes(words, max(max(TOP_NGRAMS), max(DUP_NGRAMS))):
            if n in TOP_NGRAMS:
                out[f"top_{n}gram_char_frac"] = safe_div(top_ngram_chars(words, n, keys, starts, cum), n_chars)
            if n in DUP_NGRAMS:
                out[f"dup_{n}gram_char_frac"] = safe_div(dup_ngram_chars(words, n, keys, starts), n_chars)
        return out


def ngram_hashes(words: Parts, max_n: int):
    """Yield (n, keys, starts) for n = 2..max_n: 64-bit keys of the word n-grams inside one document.

    Keys are built incrementally (key_n = mix(key_{n-1} ^ code of the n-th word)), seeded with the
    document index so that equal n-grams of different documents never meet.
    """
    m = len(words.parents)
    codes = words.codes.astype(np.uint64)
    h = mix64(mix64(words.parents.astype(np.uint64)) ^ codes)
    for n in range(2, max_n + 1):
        if m < n:
            return
        h = mix64(h[: m - n + 1] ^ codes[n - 1:])
        starts = np.flatnonzero(words.parents[: m - n + 1] == words.parents[n - 1:])
        yield n, h[starts], starts


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable sort of keys: (order, group start offsets in the sorted order, group sizes)."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    bounds = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    sizes = np.diff(np.append(bounds, sk.size))
    return order, bounds, sizes


def top_ngram_chars(words: Parts, n: int, keys: np.ndarray, starts: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Characters of the most frequent n-gram (joined with spaces) times its count; ties: first seen.

    NaN for documents with fewer than n words (datatrove skips the rule for them).
    """
    out = np.full(words.n_docs, np.nan)
    if keys.size == 0:
        return out
    order, bounds, counts = _groups(keys)
    first_start = starts[order[bounds]]  # stable sort: the group's earliest occurrence comes first
    docs = words.parents[first_start]
    pick = np.lexsort((first_start, -counts, docs))
    pick = pick[np.concatenate([[True], docs[pick][1:] != docs[pick][:-1]])]
    s = first_start[pick]
    out[docs[pick]] = counts[pick] * ((cum[s + n] - cum[s]) + (n - 1))
    return out


def dup_ngram_chars(words: Parts, n: int, keys: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Characters (without spaces) of words covered by a repeated occurrence of some n-gram."""
    if keys.size == 0:
        return np.zeros(words.n_docs)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    repeat = starts[order[1:][sk[1:] == sk[:-1]]]
    if repeat.size == 0:
        return np.zeros(words.n_docs)
    diff = np.zeros(len(words.parents) + 1, dtype=np.int64)
    np.add.at(diff, repeat, 1)
    np.add.at(diff, repeat + n, -1)
    covered = np.cumsum(diff[:-1]) > 0
    return bincount(words.parents[covered], words.n_docs, words.lengths[covered].astype(np.float64))
