"""Vectorised text primitives over Arrow string arrays: split into parts, per-document sums, duplicates.

Every rule set works on the same representation: a flat array of parts (lines, paragraphs, words) plus
the index of the document each part came from (`parents`). Per-document statistics are then numpy
reductions (`np.bincount` with weights) instead of Python loops over documents, and duplicate counting
is one hashing pass (pandas) over (document, part-code) keys for the whole batch. Word tokens repeat
a lot, so their Parts (`by_value`) run per-part tests once per distinct token.

RE2 (Arrow's regex engine) has ASCII-only `\\w` and `\\s`, so the Unicode classes below spell out
letters, numbers and marks explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WORD_CHARS = r"\pL\pN\pM_"
SPACE_CHARS = r"\s\pZ"
#: Python's str.splitlines() line boundaries (\r\n first so it counts once).
LINE_BREAK = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"
_TERMINAL_RANGES = (
    0x21, 0x2E, 0x3F, 0x589, (0x61D, 0x61F), 0x6D4, (0x700, 0x702), 0x7F9, 0x837, 0x839, (0x83D, 0x83E),
    (0x964, 0x965), (0x104A, 0x104B), 0x1362, (0x1367, 0x1368), 0x166E, (0x1735, 0x1736), (0x17D4, 0x17D6),
    (0x17D9, 0x17DA), 0x1803, 0x1809, (0x1944, 0x1945), (0x1AA8, 0x1AAB), (0x1B5A, 0x1B5B), (0x1B5E, 0x1B5F),
    (0x1B7D, 0x1B7E), (0x1C3B, 0x1C3C), (0x1C7E, 0x1C7F), (0x203C, 0x203D), (0x2047, 0x2049), 0x2E2E, 0x2E3C,
    (0x2E53, 0x2E54), 0x3002, 0xA4FF, (0xA60E, 0xA60F), 0xA6F3, 0xA6F7, (0xA876, 0xA877), (0xA8CE, 0xA8CF),
    0xA92F, (0xA9C8, 0xA9C9), (0xAA5D, 0xAA5F), (0xAAF0, 0xAAF1), 0xABEB, 0xFE52, (0xFE56, 0xFE57), 0xFF01,
    0xFF0E, 0xFF1F, 0xFF61, (0x10A56, 0x10A57), (0x10F55, 0x10F59), (0x10F86, 0x10F89), (0x11047, 0x11048),
    (0x110BE, 0x110C1), (0x11141, 0x11143), (0x111C5, 0x111C6), 0x111CD, (0x111DE, 0x111DF), (0x11238, 0x11239),
    (0x1123B, 0x1123C), 0x112A9, (0x1144B, 0x1144C), (0x115C2, 0x115C3), (0x115C9, 0x115D7), (0x11641, 0x11642),
    (0x1173C, 0x1173E), 0x11944, 0x11946, (0x11A42, 0x11A43), (0x11A9B, 0x11A9C), (0x11C41, 0x11C42),
    (0x11EF7, 0x11EF8), (0x11F43, 0x11F44), (0x16A6E, 0x16A6F), 0x16AF5, (0x16B37, 0x16B38), 0x16B44, 0x16E98,
    0x1BC9F, 0x1DA88,
)


def _char_class(ranges: tuple) -> str:
    parts = []
    for r in ranges:
        a, b = r if isinstance(r, tuple) else (r, r)
        parts.append(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}")
    return "[" + "".join(parts) + "]"


#: Unicode Sentence_Terminal characters (the set datatrove's FineWeb filter calls TERMINAL_PUNCTUATION).
TERMINAL_CLASS = _char_class(_TERMINAL_RANGES)


def as_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A plain (non-chunked) string array with nulls replaced by ''."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.fill_null(arr, "")


def bincount(parents: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-document sum (or count) of parts; float64, length n."""
    if parents.size == 0:
        return np.zeros(n, dtype=np.float64)
    return np.bincount(parents, weights=weights, minlength=n).astype(np.float64)


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den == 0 (a ratio that is undefined, never a fake 0)."""
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass
class Parts:
    """A flat array of text parts with the document index each belongs to.

    `by_value=True` (word tokens, which repeat a lot) makes per-part tests (`matches`, `isin`,
    `lengths`) run once per distinct value of the batch and be spread back through `codes`.
    """

    values: pa.Array
    parents: np.ndarray
    n_docs: int
    by_value: bool = False

    @cached_property
    def encoded(self) -> tuple[np.ndarray, pa.Array]:
        """(code per part, distinct values): codes number the distinct values batch-wide."""
        if len(self.values) == 0:
            return np.zeros(0, dtype=np.int64), self.values
        enc = pc.dictionary_encode(self.values)
        return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary

    @property
    def codes(self) -> np.ndarray:
        """An integer per distinct part value (batch-wide), for duplicate counting and n-grams."""
        return self.encoded[0]

    @cached_property
    def lengths(self) -> np.ndarray:
        """Code points per part (Python len())."""
        if self.by_value and len(self.values):
            codes, distinct = self.encoded
            return pc.utf8_length(distinct).to_numpy(zero_copy_only=False).astype(np.int64)[codes]
        return pc.utf8_length(self.values).to_numpy(zero_copy_only=False).astype(np.int64)

    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        return bincount(self.parents if mask is None else self.parents[mask], self.n_docs)

    def total(self, weights: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if mask is not None:
            return bincount(self.parents[mask], self.n_docs, weights[mask].astype(np.float64))
        return bincount(self.parents, self.n_docs, weights.astype(np.float64))

    def matches(self, pattern: str) -> np.ndarray:
        """Boolean mask: parts that match an RE2 pattern."""
        if len(self.values) == 0:
            return np.zeros(0, dtype=bool)
        if self.by_value:
            codes, distinct = self.encoded
            return pc.match_substring_regex(distinct, pattern).to_numpy(zero_copy_only=False)[codes]
        return pc.match_substring_regex(self.values, pattern).to_numpy(zero_copy_only=False)

    def isin(self, values: list[str]) -> np.ndarray:
        """Boolean mask: parts equal to one of `values`."""
        if len(self.values) == 0:
            return np.zeros(0, dtype=bool)
        target = self.encoded[1] if self.by_value else self.values
        hit = pc.is_in(target, value_set=pa.array(values, pa.string())).to_numpy(zero_copy_only=False)
        return hit[self.codes] if self.by_value else hit

    def select(self, mask: np.ndarray) -> Parts:
        out = Parts(self.values.filter(pa.array(mask)), self.parents[mask], self.n_docs, self.by_value)
        if "encoded" in self.__dict__:  # same distinct values, fewer parts: no new encoding
            codes, distinct = self.encoded
            out.__dict__["encoded"] = (codes[mask], distinct)
        return out

    def _first(self) -> np.ndarray:
        """Mask of parts that are the first of their value within their document (hashing, O(n))."""
        import pandas as pd

        keys = self.parents * (int(self.codes.max()) + 1) + self.codes
        return ~pd.Series(keys).duplicated(keep="first").to_numpy()

    def distinct_count(self) -> np.ndarray:
        """Distinct part values per document."""
        if len(self.values) == 0:
            return np.zeros(self.n_docs)
        return bincount(self.parents[self._first()], self.n_docs)

    def duplicates(self) -> tuple[np.ndarray, np.ndarray]:
        """Per document: (parts that repeat an earlier equal part, their characters) — Gopher's find_duplicates."""
        if len(self.values) == 0:
            z = np.zeros(self.n_docs)
            return z, z.copy()
        rep = ~self._first()
        return self.count(rep), self.total(self.lengths, rep)


def split(texts: pa.Array, pattern: str) -> Parts:
    """Split every text on an RE2 pattern (separators dropped, empty parts kept, like re.split)."""
    lists = pc.split_pattern_regex(texts, pattern)
    return Parts(pc.list_flatten(lists), pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64),
                 len(texts))


def splitlines(texts: pa.Array) -> Parts:
    """Python's str.splitlines(): no trailing empty part after a final line break; '' has no lines."""
    lists = pc.split_pattern_regex(texts, LINE_BREAK)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    sizes = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    ends = np.cumsum(sizes) - 1
    trailing = pc.match_substring_regex(texts, "(" + LINE_BREAK + ")$").to_numpy(zero_copy_only=False)
    empty = pc.equal(texts, "").to_numpy(zero_copy_only=False)
    keep = np.ones(len(flat), dtype=bool)
    drop = ends[(trailing | empty) & (sizes > 0)]
    keep[drop] = False
    if keep.all():
        return Parts(flat, parents, len(texts))
    return Parts(flat.filter(pa.array(keep)), parents[keep], len(texts))


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads integer keys so that combined n-gram hashes rarely collide."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _M1
        z = (z ^ (z >> np.uint64(30))) * _M2
        z = (z ^ (z >> np.uint64(27))) * _M3
        return z ^ (z >> np.uint64(31))
