"""Canonical 64-bit hashes of table rows, equal whenever the rows are equal under the verifier's equality.

Only equal-rows-give-equal-hashes matters for soundness (a hash collision can only keep a pair alive
for the exact check). So every column is brought to one representation first: dictionaries decoded,
-0.0 folded into 0.0 and NaNs made one NaN, temporal values as integers, nulls as a fixed value.
Nested columns are left out of the hash (which can only weaken pruning, never make it wrong).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
MULT = np.uint64(0x100000001B3)


def _decode(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(arr.type):
        return pa.chunked_array([c.dictionary_decode() for c in arr.chunks], type=arr.type.value_type)
    return arr


def column_hash(arr: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """Hash of each value of one column, or None for types that are not hashed (nested, exotic)."""
    try:
        return _column_hash(arr)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, TypeError):
        return None


def _column_hash(arr: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr], type=arr.type)
    arr = _decode(arr)
    t = arr.type
    if pa.types.is_nested(t) or pa.types.is_union(t) or pa.types.is_null(t) or pa.types.is_float16(t):
        return None
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool) if len(arr) else np.zeros(0, bool)
    if pa.types.is_floating(t):
        vals = arr.fill_null(0.0).to_numpy().astype(np.float64) + 0.0  # -0.0 + 0.0 == +0.0
        vals[np.isnan(vals)] = np.nan
        h = pd.util.hash_array(vals)
    elif pa.types.is_temporal(t) or pa.types.is_boolean(t) or pa.types.is_integer(t):
        if pa.types.is_boolean(t):
            arr = arr.cast(pa.int8())
        elif pa.types.is_temporal(t):
            arr = arr.cast(pa.int64() if t.bit_width == 64 else pa.int32())
        h = pd.util.hash_array(arr.fill_null(0).to_numpy())
    elif pa.types.is_decimal(t):
        h = pd.util.hash_array(np.asarray(pc.cast(arr, pa.string()).fill_null("").to_numpy(zero_copy_only=False),
                                          object))
    else:  # string / binary family
        h = pd.util.hash_array(np.asarray(arr.fill_null(b"" if pa.types.is_binary(t) or pa.types.is_large_binary(t)
                                                          or pa.types.is_fixed_size_binary(t) else "")
                                          .to_numpy(zero_copy_only=False), object))
    h = np.asarray(h, np.uint64)
    h[~valid] = NULL_HASH
    return h


def row_hashes(table: pa.Table, columns: list[str]) -> np.ndarray:
    """One uint64 per row over `columns` (taken in sorted order so the result ignores column order)."""
    return combine({c: column_hash(table.column(c)) for c in columns}, columns, table.num_rows)


def combine(hashes: dict[str, np.ndarray | None], columns: list[str], num_rows: int) -> np.ndarray:
    """Row hashes from per-column hashes (computed once per table, combined per projection)."""
    acc = np.zeros(num_rows, np.uint64)
    with np.errstate(over="ignore"):
        for name in sorted(columns):
            h = hashes[name]
            if h is not None:
                acc = acc * MULT + h
                acc ^= acc >> np.uint64(29)
    return acc


def hashable_columns(schema: pa.Schema, columns: list[str]) -> list[str]:
    """The columns that contribute to row_hashes (for evidence)."""
    out = []
    for name in columns:
        t = schema.field(name).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if not (pa.types.is_nested(t) or pa.types.is_union(t) or pa.types.is_null(t) or pa.types.is_float16(t)):
            out.append(name)
    return out
