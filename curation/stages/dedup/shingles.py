"""Text normalisation and word n-gram shingles, hashed to 64 bits, for whole Arrow batches at once.

Normalisation follows the peers (datatrove/FineWeb): lower-case, diacritics removed (NFD, drop
combining marks), digits mapped to 0, punctuation turned into spaces, split on whitespace. All of it
runs as Arrow compute kernels over a batch; words are hashed once per distinct word in the batch, and
n-gram hashes are combined from word hashes with numpy, so there is no Python loop over shingles.

A document with fewer than `n` words gets one shingle made of all its words (so short texts still
compare); a document with no words has no shingles and never matches anything (exact dedup still
applies to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

_U64 = np.uint64
# Distinct odd 64-bit multipliers, one per n-gram position (order matters: "a b" != "b a").
_POS_MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                      0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9,
                      0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63, 0x2545F4914F6CDD1D, 0x9FB21C651E98DF25,
                      0xDB4F0B9175AE2165], dtype=_U64)
MAX_NGRAM = len(_POS_MULT)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (a bijection that avalanches); wraps modulo 2^64 on purpose."""
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def normalize_for_shingles(text: pa.Array) -> pa.Array:
    """Lower-case, strip diacritics, digits -> 0, punctuation -> space (the peers' normalisation)."""
    t = pc.utf8_lower(text)
    t = pc.utf8_normalize(t, "NFD")
    t = pc.replace_substring_regex(t, r"\p{Mn}+", "")
    t = pc.replace_substring_regex(t, r"\p{Nd}", "0")
    t = pc.replace_substring_regex(t, r"[^\p{L}\p{N}\s]+", " ")
    return pc.utf8_trim_whitespace(t)  # split_whitespace yields "" for a trailing space


def _word_hashes(words: pa.Array) -> np.ndarray:
    """64-bit hash of every word; each distinct word of the batch is hashed once."""
    if len(words) == 0:
        return np.zeros(0, dtype=_U64)
    enc = pc.dictionary_encode(words)
    vocab = enc.dictionary.to_pylist()
    table = np.fromiter((xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass")) for w in vocab),
                        dtype=_U64, count=len(vocab))
    return table[enc.indices.to_numpy(zero_copy_only=False)]


@dataclass
class Shingles:
    """Sorted unique shingle hashes of a batch, flattened: doc i owns values[offsets[i]:offsets[i+1]]."""

    values: np.ndarray  # uint64
    offsets: np.ndarray  # int64, len = docs + 1

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def doc(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]


def shingle_batch(text: pa.Array | pa.ChunkedArray, n: int = 5) -> Shingles:
    """Unique word n-gram hashes per document of an Arrow string array (nulls have no shingles)."""
    if not 1 <= n <= MAX_NGRAM:
        raise ValueError(f"ngram must be in 1..{MAX_NGRAM}, got {n}")
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if pa.types.is_large_string(text.type):
        text = text.cast(pa.string())
    lists = pc.utf8_split_whitespace(normalize_for_shingles(text))
    n_docs = len(lists)
    words = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    nonempty = pc.greater(pc.utf8_length(words), 0)  # "" (empty text) is not a word
    words = pc.filter(words, nonempty)
    parents = parents[nonempty.to_numpy(zero_copy_only=False)]
    lengths = np.bincount(parents, minlength=n_docs).astype(np.int64)
    wh = _word_hashes(words)
    starts = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    # Full n-grams: position p is a start when p + n <= end of its doc.
    total = len(wh)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    if total >= n:
        pos = np.arange(total - n + 1, dtype=np.int64)
        valid = pos + n <= starts[1:][doc_of[: total - n + 1]]
        pos = pos[valid]
        acc = np.zeros(len(pos), dtype=_U64)
        for k in range(n):
            acc += wh[pos + k] * _POS_MULT[k]
        full_h, full_doc = fmix64(acc), doc_of[pos]
    else:
        full_h, full_doc = np.zeros(0, dtype=_U64), np.zeros(0, dtype=np.int64)
    # Short docs (1..n-1 words): one shingle of all their words, length-tagged so it differs from n-grams.
    short = np.nonzero((lengths > 0) & (lengths < n))[0]
    if len(short):
        acc = np.full(len(short), _U64(0x51ED270B27D4EB2F), dtype=_U64) * lengths[short].astype(_U64)
        for k in range(n - 1):
            has = lengths[short] > k
            idx = np.where(has, starts[short] + k, 0)
            acc += np.where(has, wh[idx] * _POS_MULT[k], _U64(0))
        full_h = np.concatenate([full_h, fmix64(acc)])
        full_doc = np.concatenate([full_doc, short])
    order = np.lexsort((full_h, full_doc))
    h, d = full_h[order], full_doc[order]
    keep = np.ones(len(h), dtype=bool)
    if len(h) > 1:
        keep[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
    h, d = h[keep], d[keep]
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(d, minlength=n_docs), out=offsets[1:])
    return Shingles(h, offsets)


def shingle_set(text: str, n: int = 5) -> np.ndarray:
    """Unique shingle hashes of one text (tests, the corpus builder's labels)."""
    return shingle_batch(pa.array([text], pa.string()), n).doc(0)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique hash arrays."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """|A ∩ B| / |A| for sorted unique hash arrays (0 for an empty A)."""
    if len(a) == 0:
        return 0.0
    return len(np.intersect1d(a, b, assume_unique=True)) / len(a)
