"""Invalid UTF-8 in string columns: Arrow does not validate strings read from foreign Parquet files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def repair_utf8(arr: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """(text with bad bytes replaced by U+FFFD, mask of the rows that were invalid), or (arr, None) when every
    row is valid: the common case costs one validation pass; repair goes row by row."""
    if not pa.types.is_binary(arr.type):
        try:
            arr.validate(full=True)
            return arr, None
        except pa.ArrowInvalid:
            pass
    raw = arr.to_pylist() if pa.types.is_binary(arr.type) else arr.cast(pa.binary()).to_pylist()
    bad = np.zeros(len(raw), dtype=bool)
    fixed: list[str | None] = []
    for i, b in enumerate(raw):
        try:
            fixed.append(None if b is None else b.decode("utf-8"))
        except UnicodeDecodeError:
            bad[i] = True
            fixed.append(b.decode("utf-8", "replace"))
    return pa.array(fixed, pa.string()), bad
