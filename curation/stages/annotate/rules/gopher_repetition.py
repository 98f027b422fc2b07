"""Gopher repetition rules: duplicated lines, paragraphs and word n-grams (Rae et al. 2021, table A1).

Defaults and definitions follow datatrove's GopherRepetitionFilter (characters are counted against the
whole text, n-gram characters without the spaces between words). datatrove's greedy count of repeated
n-grams is replayed exactly, but only over the positions of n-grams that occur twice or more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow.compute as pc

from curation.engine.options import opt
from curation.stages.annotate import textops
from curation.stages.annotate.rules.base import Mode, Rule, RuleSet, TextBatch, register
from curation.stages.annotate.textops import Parts, mix64, safe_div

TOP_NGRAMS = {2: 0.20, 3: 0.18, 4: 0.16}
MAX_GREEDY = 20_000
DENSE_SHARE = 0.5
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


@register
class GopherRepetition(RuleSet):
    name = "gopher_repetition"
    doc = "Gopher repetition rules (datatrove defaults)."
    Config = GopherRepetitionConfig
    order = 10
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
        for n in TOP_NGRAMS:  # documents (or batches) with fewer than n words: no top n-gram, no repeats
            out[f"top_{n}gram_char_frac"] = np.full(tb.n, np.nan)
        for n in DUP_NGRAMS:
            out[f"dup_{n}gram_char_frac"] = safe_div(np.zeros(tb.n), n_chars)
        for n, group, starts in ngram_groups(words, max(max(TOP_NGRAMS), max(DUP_NGRAMS))):
            if n in TOP_NGRAMS:
                out[f"top_{n}gram_char_frac"] = safe_div(top_ngram_chars(words, n, group, starts, cum), n_chars)
            if n in DUP_NGRAMS:
                out[f"dup_{n}gram_char_frac"] = safe_div(dup_ngram_chars(words, n, group, starts, cum), n_chars)
        return out


def ngram_groups(words: Parts, max_n: int):
    """Yield (n, group, starts) for n = 2..max_n: the start of word n-grams that may occur twice and,
    for each, a group code shared by equal n-grams (numbered in order of first appearance).

    An n-gram can repeat only if both (n-1)-grams inside it repeat, so after the bigrams (all of them)
    each n looks only at the positions that pass this test: in normal prose a small and fast-shrinking
    share. (While more than DENSE_SHARE of the positions repeat, as in degenerate text, every position
    is kept instead: contiguous arrays are cheaper than gathering nearly all of them.) Every occurrence of a repeated n-gram is among the positions yielded, in text order, so
    counts >= 2 and first occurrences are exact; n-grams that occur once may be left out.
    Groups come from 64-bit keys built incrementally (key_n = mix(key_{n-1} ^ code of the n-th word)),
    seeded with the document index so that equal n-grams of different documents never meet.
    """
    import pandas as pd

    m = len(words.parents)
    if m < 2:
        return
    codes = words.codes.astype(np.uint64)
    h = mix64(mix64(words.parents.astype(np.uint64)) ^ codes)
    h = mix64(h[:-1] ^ codes[1:])  # bigram key at every start
    starts = np.flatnonzero(words.parents[:-1] == words.parents[1:])
    dense = True  # h holds the key of every position; switches to candidates only once they are few
    for n in range(2, max_n + 1):
        group = pd.factorize(h[starts])[0]
        yield n, group, starts
        if n == max_n:
            return
        repeated = np.bincount(group)[group] >= 2
        if dense and repeated.mean() > DENSE_SHARE:  # (degenerate text) pruning would cost more than it saves
            h = mix64(h[:-1] ^ codes[n:])
            starts = np.flatnonzero(words.parents[:max(m - n, 0)] == words.parents[n:])
            continue
        dense = False
        rep = np.zeros(m, dtype=bool)
        rep[starts[repeated]] = True
        starts = starts[rep[starts] & rep[starts + 1]]  # the n-grams at p and p+1 both repeat (same document)
        starts = starts[starts + n < m]
        h[starts] = mix64(h[starts] ^ codes[starts + n])


def first_of_group(group: np.ndarray) -> np.ndarray:
    """Mask of each group's first element (groups are numbered in order of first appearance)."""
    first = np.empty(group.size, dtype=bool)
    if group.size:
        running = np.maximum.accumulate(group)
        first[0] = True
        first[1:] = running[1:] > running[:-1]
    return first


def top_ngram_chars(words: Parts, n: int, group: np.ndarray, starts: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Characters of the most frequent n-gram (joined with spaces) times its count; ties: first seen.

    `group`/`starts` hold at least every occurrence of every repeated n-gram; a document without one has
    all its n-grams once, and its first n-gram wins the tie. NaN for documents with fewer than n words
    (datatrove skips the rule for them).
    """
    out = np.full(words.n_docs, np.nan)
    doc_words = np.bincount(words.parents, minlength=words.n_docs)
    long_enough = np.flatnonzero(doc_words >= n)
    first_word = np.cumsum(doc_words) - doc_words
    s = first_word[long_enough]
    out[long_enough] = (cum[s + n] - cum[s]) + (n - 1)  # count 1: the document's first n-gram
    if group.size == 0:
        return out
    counts = np.bincount(group)
    first_start = starts[first_of_group(group)]  # group g's first position; groups are numbered in order of appearance,
    docs = words.parents[first_start]  # so each document's groups are one contiguous, ordered run
    seg = np.flatnonzero(np.concatenate([[True], docs[1:] != docs[:-1]]))
    seg_of = np.repeat(np.arange(seg.size), np.diff(np.append(seg, docs.size)))
    best = np.maximum.reduceat(counts, seg)
    hit = np.flatnonzero((counts == best[seg_of]) & (counts >= 2))
    pick = hit[np.concatenate([[True], seg_of[hit][1:] != seg_of[hit][:-1]])] if hit.size else hit
    s = first_start[pick]  # first maximal repeated group per document
    out[docs[pick]] = counts[pick] * ((cum[s + n] - cum[s]) + (n - 1))
    return out


def dup_ngram_chars(words: Parts, n: int, group: np.ndarray, starts: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Characters (without spaces) of repeated n-grams, counted exactly the way datatrove's greedy scan does.

    datatrove walks the words; at an n-gram it has remembered it counts the n-gram's characters and jumps
    n words (the skipped n-grams are not remembered), otherwise it remembers the n-gram and moves one word.
    Only n-grams that occur at least twice can change the outcome, so only their positions matter. In a
    document where no two such positions are closer than n words nothing is ever skipped: every
    occurrence but the first counts (vectorised). The other documents (overlapping repeats) replay the
    scan over those positions in Python; one with more than MAX_GREEDY of them (highly repetitive, far
    over any limit) gets the vectorised union of the words covered by repeated n-grams instead, an upper
    bound of the greedy count.
    """
    out = np.zeros(words.n_docs)
    if group.size == 0:
        return out
    multi = np.bincount(group)[group] >= 2
    if not multi.any():
        return out
    first = first_of_group(group)[multi]
    pos, gcode = starts[multi], group[multi]
    gram_chars = cum[pos + n] - cum[pos]
    docs = words.parents[pos]
    bounds = np.flatnonzero(np.concatenate([[True], docs[1:] != docs[:-1], [True]]))
    doc_of = docs[bounds[:-1]]
    # Where no two repeated positions of a document are closer than n words the scan never skips one,
    # so it counts every occurrence but the first: vectorised. Only the other documents are replayed.
    gaps = np.diff(pos) < n
    gaps[bounds[1:-1] - 1] = False  # a gap across a document boundary is no gap
    replay = np.zeros(words.n_docs, dtype=bool)
    replay[docs[1:][gaps]] = True
    later = ~first
    simple = np.bincount(docs[later], weights=gram_chars[later], minlength=words.n_docs)
    out[~replay] = simple[~replay]
    for k in np.flatnonzero(replay[doc_of]).tolist():
        a, b = int(bounds[k]), int(bounds[k + 1])
        if b - a > MAX_GREEDY:
            rep = pos[a:b][~first[a:b]]
            lo = int(rep.min())
            span = int(rep.max()) + n - lo + 1
            covered = np.cumsum(np.bincount(rep - lo, minlength=span) - np.bincount(rep - lo + n, minlength=span))[:-1] > 0
            out[doc_of[k]] = float(words.lengths[lo:lo + span - 1][covered].sum())
            continue
        total, nxt, seen = 0, -1, set()
        for p, g, chars in zip(pos[a:b].tolist(), gcode[a:b].tolist(), gram_chars[a:b].tolist(), strict=True):
            if p < nxt:
                continue
            if g in seen:
                total += chars
                nxt = p + n
            else:
                seen.add(g)
        out[doc_of[k]] = total
    return out
