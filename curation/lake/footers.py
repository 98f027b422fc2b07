"""Dataset statistics from Parquet footers alone: schema, rows, bytes, per-column min/max and null counts.

Nothing here reads data pages, so a lake of thousands of datasets is described in seconds. Statistics are
used only where they are certain to bound the data: a column's min/max counts only when every row group
holding non-null values of it carries them, and string/binary min/max only from writers known to write
them untruncated (a truncated minimum of the contained side could otherwise prune a true containment).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.lake.discover import Dataset

# Writers whose footer min/max for byte arrays are the exact values (Arrow C++ and parquet-mr/Spark).
EXACT_BYTE_STATS_WRITERS = ("parquet-cpp-arrow", "parquet-cpp", "parquet-mr")


@dataclass
class ColumnStats:
    """Bounds of one column over the whole dataset; `min`/`max` are None when unknown or all-null."""

    min: Any = None
    max: Any = None
    null_count: int | None = 0
    has_bounds: bool = True  # False: some row group with values lacks usable statistics
    nonnull: int = 0


@dataclass
class DatasetStats:
    """What the footers say about one dataset; `error` is set (and the dataset left out) when unreadable."""

    path: str
    files: list[str]
    rows: int = 0
    bytes: int = 0
    row_groups: int = 0
    schema: dict[str, str] = field(default_factory=dict)  # column name -> canonical type
    arrow_schema: pa.Schema | None = None
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    distinct_lb: int = 0  # a lower bound on the number of distinct rows
    snapshot: list[dict] = field(default_factory=list)  # file, size, mtime_ns: to detect later changes
    error: str | None = None

    @property
    def schema_key(self) -> str:
        blob = "\n".join(f"{n}\t{t}" for n, t in sorted(self.schema.items()))
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


def canonical_type(t: pa.DataType) -> str:
    """Type name used for schema containment: encodings that hold the same values compare equal."""
    if pa.types.is_dictionary(t):
        return canonical_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return f"list<{canonical_type(t.value_type)}>"
    if pa.types.is_list(t):
        return f"list<{canonical_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{canonical_type(f.type)}" for f in t) + ">"
    if pa.types.is_map(t):
        return f"map<{canonical_type(t.key_type)},{canonical_type(t.item_type)}>"
    return str(t)


def _orderable(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
            or pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_temporal(t)
            or pa.types.is_boolean(t) or pa.types.is_decimal(t))


def _is_bytes_like(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)


def _bad_float(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def read_stats(ds: Dataset) -> DatasetStats:
    """Footer statistics of a dataset (never raises for bad files: sets `error` instead)."""
    out = DatasetStats(ds.path, list(ds.files))
    types: dict[str, pa.DataType] = {}
    fields: dict[str, pa.Field] = {}
    per_file: list[tuple[pq.FileMetaData, pa.Schema]] = []
    try:
        for f in ds.files:
            st = os.stat(f)
            out.snapshot.append({"file": f, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
            out.bytes += st.st_size
            pf = pq.ParquetFile(f)
            schema = pf.schema_arrow
            per_file.append((pf.metadata, schema))
            for fld in schema:
                prev = types.get(fld.name)
                if prev is not None and canonical_type(prev) != canonical_type(fld.type):
                    raise ValueError(f"column {fld.name!r} is {prev} in one file and {fld.type} in {f}")
                types.setdefault(fld.name, fld.type)
                fields.setdefault(fld.name, fld)
            if len(set(schema.names)) != len(schema.names):
                raise ValueError(f"{f}: duplicate column names")
    except Exception as e:  # corrupt footer, unreadable file, inconsistent schema
        out.error = f"{type(e).__name__}: {e}"
        return out
    out.schema = {n: canonical_type(t) for n, t in types.items()}
    out.arrow_schema = pa.schema([fields[n] for n in types])
    cols = {n: ColumnStats() for n in types}
    for meta, schema in per_file:
        out.rows += meta.num_rows
        out.row_groups += meta.num_row_groups
        exact_bytes = (meta.created_by or "").startswith(EXACT_BYTE_STATS_WRITERS)
        present = set(schema.names)
        for n, cs in cols.items():
            if n not in present:  # column absent from this file: its rows are null there
                if cs.null_count is not None:
                    cs.null_count += meta.num_rows
        leaf = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        for n in present:
            cs = cols[n]
            t = types[n]
            i = leaf.get(n)
            usable = i is not None and _orderable(t) and (exact_bytes or not _is_bytes_like(t))
            for rg in range(meta.num_row_groups):
                rgm = meta.row_group(rg)
                if i is None:  # nested column: no single leaf to read stats from
                    cs.has_bounds = False
                    cs.null_count = None
                    break
                stats = rgm.column(i).statistics
                if stats is None or not stats.has_null_count:
                    cs.null_count = None
                    nonnull = None
                else:
                    if cs.null_count is not None:
                        cs.null_count += stats.null_count
                    nonnull = rgm.num_rows - stats.null_count
                if nonnull == 0:
                    continue
                cs.nonnull += nonnull or 0
                if not usable or stats is None or not stats.has_min_max:
                    cs.has_bounds = False
                    continue
                try:
                    lo, hi = stats.min, stats.max
                except Exception:  # a logical type pyarrow cannot convert
                    cs.has_bounds = False
                    continue
                if lo is None or hi is None or _bad_float(lo) or _bad_float(hi):
                    cs.has_bounds = False
                    continue
                try:
                    cs.min = lo if cs.min is None or lo < cs.min else cs.min
                    cs.max = hi if cs.max is None or hi > cs.max else cs.max
                except TypeError:
                    cs.has_bounds = False
    for cs in cols.values():
        if not cs.has_bounds:
            cs.min = cs.max = None
    out.columns = cols
    # Distinct rows >= 1 when there is any row, >= 2 when some column provably holds two values.
    lb = 1 if out.rows else 0
    for cs in cols.values():
        if cs.has_bounds and cs.min is not None and cs.min != cs.max:
            lb = 2
        if cs.null_count and cs.nonnull:
            lb = 2
    out.distinct_lb = min(lb, out.rows)
    return out


def read_all(datasets: list[Dataset]) -> list[DatasetStats]:
    return [read_stats(d) for d in datasets]
