"""MinHash signatures with our own numpy code, value-identical to datasketch's default `affine32` scheme.

For every shingle hash h (64-bit, folded to 32 bits) and permutation k:
    phv_k = a_k * fmix32(h) + b_k   (uint32, wrapping = mod 2^32),
with (a_k, b_k) drawn exactly as datasketch 2.x draws them from `np.random.RandomState(seed)`.
The min over a document's shingles is datasketch's `MinHash(num_perm, seed, scheme="affine32")`
hash value when fed the same 32-bit inputs (tests check it). We also keep the per-permutation *max*,
which the containment stage's min-max bound test needs (R2D2's statistical pruning, mapped to sets).

The batch is processed in chunks of shingles, so memory is bounded by `chunk * num_perm * 4` bytes
whatever the document sizes; `np.minimum.reduceat` does the per-document reduction.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from curation.stages.dedup.shingles import Shingles, fmix64

U32 = np.uint32
EMPTY = np.uint32(0xFFFFFFFF)
CHUNK_SHINGLES = 16_384


@cache
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 parameters: odd a, any b, from RandomState(seed)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=U32) * U32(2) + U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=U32)
    return a, b


def fold32(h64: np.ndarray) -> np.ndarray:
    """The 32-bit MinHash input of a 64-bit shingle hash."""
    return ((h64 >> np.uint64(32)) ^ (h64 & np.uint64(0xFFFFFFFF))).astype(U32)


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> U32(16))
    h = h * U32(0x85EBCA6B)
    h = h ^ (h >> U32(13))
    h = h * U32(0xC2B2AE35)
    return h ^ (h >> U32(16))


def signatures(sh: Shingles, num_perm: int, seed: int = 1, with_max: bool = True
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """(min, max) signature matrices, shape (docs, num_perm) uint32; empty docs get EMPTY / 0."""
    a, b = permutations(num_perm, seed)
    n_docs = len(sh.offsets) - 1
    mins = np.full((n_docs, num_perm), EMPTY, dtype=U32)
    maxs = np.zeros((n_docs, num_perm), dtype=U32) if with_max else None
    sizes = sh.sizes()
    docs = np.nonzero(sizes > 0)[0]
    if not len(docs):
        return mins, maxs
    x = fmix32(fold32(sh.values))
    # Walk documents in groups whose shingles fit one chunk (a huge document is split across chunks).
    start_doc = 0
    while start_doc < len(docs):
        lo = sh.offsets[docs[start_doc]]
        end_doc = start_doc
        while end_doc < len(docs) and sh.offsets[docs[end_doc] + 1] - lo <= CHUNK_SHINGLES:
            end_doc += 1
        if end_doc == start_doc:  # one document larger than a chunk: reduce it piecewise
            d = docs[start_doc]
            for s in range(sh.offsets[d], sh.offsets[d + 1], CHUNK_SHINGLES):
                part = x[s:min(s + CHUNK_SHINGLES, sh.offsets[d + 1])]
                phv = part[:, None] * a[None, :] + b[None, :]
                np.minimum(mins[d], phv.min(axis=0), out=mins[d])
                if maxs is not None:
                    np.maximum(maxs[d], phv.max(axis=0), out=maxs[d])
            start_doc += 1
            continue
        group = docs[start_doc:end_doc]
        hi = sh.offsets[group[-1] + 1]
        # Permutation-major layout: reduceat along the contiguous axis is ~15x faster than along rows.
        phv = a[:, None] * x[None, lo:hi] + b[:, None]
        idx = sh.offsets[group] - lo
        mins[group] = np.minimum.reduceat(phv, idx, axis=1).T
        if maxs is not None:
            maxs[group] = np.maximum.reduceat(phv, idx, axis=1).T
        start_doc = end_doc
    return mins, maxs


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """64-bit hash of each band (rows consecutive values) of each signature: shape (docs, bands) uint64."""
    if bands * rows > sig.shape[1]:
        raise ValueError(f"bands*rows={bands * rows} exceeds num_perm={sig.shape[1]}")
    cube = sig[:, : bands * rows].reshape(sig.shape[0], bands, rows).astype(np.uint64)
    acc = np.full(cube.shape[:2], np.uint64(rows), dtype=np.uint64)
    for k in range(rows):
        acc = fmix64(acc ^ (cube[:, :, k] + np.uint64(0x9E3779B97F4A7C15 * (k + 1) % (1 << 64))))
    return acc


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Share of equal MinHash values (row-wise for 2-D inputs)."""
    return (sig_a == sig_b).mean(axis=-1)


def minmax_violation(min_a: np.ndarray, max_a: np.ndarray, min_b: np.ndarray, max_b: np.ndarray) -> np.ndarray:
    """Share of the 2K bound tests where B cannot cover A (min_B > min_A or max_B < max_A).

    For A ⊆ B every test passes (the share is exactly 0), so pruning on it never loses an exact
    containment; in general each test fails with probability |A \\ B| / |A ∪ B|.
    """
    bad = (min_b > min_a).sum(axis=-1) + (max_b < max_a).sum(axis=-1)
    return bad / (2.0 * min_a.shape[-1])


# --- LSH parameters --------------------------------------------------------------------------------

_GRID = np.linspace(0.0, 1.0, 2001)


def _collision(b: np.ndarray, r: np.ndarray, s: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - s[None, :] ** r[:, None]) ** b[:, None]


def optimal_bands(threshold: float, num_perm: int, max_rows: int | None = None,
                  fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false-positive + false-negative areas (datasketch's rule).

    Integrates on a fixed grid with numpy instead of scipy.quad, so it is cheap enough to call for
    every (partition, query size) cell of the containment plan.
    """
    if not 0.0 < threshold < 1.0:
        threshold = min(max(threshold, 1e-4), 1 - 1e-4)
    rmax = min(num_perm, max_rows or num_perm)
    br = [(b, r) for r in range(1, rmax + 1) for b in range(1, num_perm // r + 1)]
    bs = np.array([x[0] for x in br], dtype=float)
    rs = np.array([x[1] for x in br], dtype=float)
    lo, hi = _GRID[_GRID <= threshold], _GRID[_GRID >= threshold]
    fp = np.trapezoid(_collision(bs, rs, lo), lo, axis=1)
    fn = np.trapezoid(1.0 - _collision(bs, rs, hi), hi, axis=1)
    i = int(np.argmin(fp * fp_weight + fn * fn_weight))
    return br[i]
