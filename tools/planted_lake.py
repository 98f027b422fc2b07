"""A planted data lake for tests and benchmarks: families of small Parquet datasets with known relations.

Each family has a base table and variants: exact copies (split differently into files and row groups),
row subsets (some with duplicated rows, so a child may have more rows than its parent), column
projections, supersets, and near misses that are *not* contained: one foreign row whose values each lie
inside the parent's ranges (only content or exact checks can see it), one out-of-range value (min-max
sees it), one null where the parent has none. `true_containments` computes the truth by brute force
with Python sets, independently of the scan's code.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COLUMN_POOL = {
    "id": pa.int64(), "name": pa.string(), "score": pa.float64(), "ts": pa.timestamp("us", tz="UTC"),
    "flag": pa.bool_(), "count": pa.int32(), "tag": pa.string(), "day": pa.date32(),
}
DOC_COLUMNS = {"doc_id": pa.string(), "source_id": pa.string(), "text": pa.string(), "url": pa.string(),
               "token_count": pa.int64()}
VARIANTS = ("base", "copy", "subset", "subset_dups", "projection", "projection_subset", "superset",
            "near_foreign", "near_range", "near_null", "big_subset_foreign")


def _values(rng: np.random.Generator, name: str, t: pa.DataType, n: int, offset: int = 0) -> list:
    if name == "id":
        return rng.choice(1_000_000, size=n, replace=False).tolist()
    if name == "doc_id":
        return [f"{int(x):032x}" for x in rng.integers(0, 2**63, size=n)]
    if name == "source_id":
        return [f"src-{offset}-{i}" for i in range(n)]
    if name == "text":
        words = ["lake", "shard", "parquet", "corpus", "token", "crawl", "snapshot", "copy"]
        return [" ".join(rng.choice(words, size=8)) for _ in range(n)]
    if name == "url":
        return [f"https://example{int(x)}.org/p" for x in rng.integers(0, 50, size=n)]
    if pa.types.is_string(t):
        return [f"v{int(x)}" for x in rng.integers(0, 40, size=n)]
    if pa.types.is_floating(t):
        return np.round(rng.random(n) * 100, 3).tolist()
    if pa.types.is_timestamp(t):
        base = datetime(2024, 1, 1, tzinfo=UTC)
        return [base + timedelta(seconds=int(x)) for x in rng.integers(0, 10**7, size=n)]
    if pa.types.is_boolean(t):
        return rng.random(n).__lt__(0.5).tolist()
    if pa.types.is_date(t):
        return [datetime(2020, 1, 1).date() + timedelta(days=int(x)) for x in rng.integers(0, 1000, size=n)]
    return rng.integers(0, 10_000, size=n).tolist()


def _write(path: str, table: pa.Table, rng: np.random.Generator) -> None:
    os.makedirs(path, exist_ok=True)
    n_files = int(rng.integers(1, 3)) if table.num_rows > 1 else 1
    bounds = np.linspace(0, table.num_rows, n_files + 1).astype(int)
    for k in range(n_files):
        part = table.slice(bounds[k], bounds[k + 1] - bounds[k])
        pq.write_table(part, os.path.join(path, f"part-{k:05d}.parquet"),
                       row_group_size=int(rng.integers(8, 64)))


def _foreign_row(rng: np.random.Generator, table: pa.Table) -> dict:
    """A row not in `table` whose every value occurs in its column (so inside all min/max ranges)."""
    rows = table.to_pylist()
    existing = {tuple(r.values()) for r in rows}
    for _ in range(1000):
        r = dict(rows[int(rng.integers(len(rows)))])
        col = list(r)[int(rng.integers(len(r)))]
        r[col] = rows[int(rng.integers(len(rows)))][col]
        if tuple(r.values()) not in existing:
            return r
    raise RuntimeError("could not plant a foreign row")


def make_family(root: str, f: int, rng: np.random.Generator, rows: int = 40, doc_schema: bool = False,
                big_rows: int = 1200) -> list[str]:
    """Write one family's datasets under root/fNNNN/<variant>; returns their paths."""
    pool = DOC_COLUMNS if doc_schema else COLUMN_POOL
    names = list(pool)
    if not doc_schema:
        k = int(rng.integers(3, len(names) + 1))
        names = ["id"] + sorted(rng.choice(names[1:], size=k - 1, replace=False).tolist())
    schema = pa.schema([(n, pool[n]) for n in names])
    base = pa.table({n: pa.array(_values(rng, n, pool[n], rows, f), pool[n]) for n in names}, schema=schema)
    base = base.group_by(names).aggregate([]).select(names) if base.num_rows else base  # distinct rows
    n = base.num_rows
    out = []

    def put(variant: str, table: pa.Table) -> None:
        p = os.path.join(root, f"f{f:04d}", variant)
        _write(p, table, rng)
        out.append(p)

    def take(table: pa.Table, frac: float) -> pa.Table:
        idx = np.sort(rng.choice(table.num_rows, size=max(1, int(table.num_rows * frac)), replace=False))
        return table.take(pa.array(idx))

    proj_cols = names[: max(1, len(names) - 1)] if doc_schema else ["id"] + names[1:][: len(names) // 2]
    put("base", base)
    put("copy", base.take(pa.array(rng.permutation(n))))
    put("subset", take(base, 0.5))
    sub = take(base, 0.3)
    put("subset_dups", pa.concat_tables([sub, sub, sub]))
    put("projection", base.select(proj_cols))
    put("projection_subset", take(base.select(proj_cols), 0.6))
    extra = pa.table({c: pa.array(_values(rng, c, pool[c], rows // 2, f + 7919), pool[c]) for c in names},
                     schema=schema)
    put("superset", pa.concat_tables([base, extra]))
    near = take(base, 0.5)
    put("near_foreign", pa.concat_tables([near, pa.Table.from_pylist([_foreign_row(rng, base)], schema=schema)]))
    bad = take(base, 0.5).to_pylist()
    first = names[-1] if not doc_schema else "token_count"
    col_vals = [v for v in base.column(first).to_pylist() if v is not None]
    t = pool[first]
    if pa.types.is_string(t):
        bad[0][first] = max(col_vals) + "~"
    elif pa.types.is_boolean(t):
        first = "id"
        bad[0]["id"] = max(base.column("id").to_pylist()) + 1
    elif pa.types.is_timestamp(t):
        bad[0][first] = max(col_vals) + timedelta(seconds=1)
    elif pa.types.is_date(t):
        bad[0][first] = max(col_vals) + timedelta(days=1)
    else:
        bad[0][first] = max(col_vals) + 1
    put("near_range", pa.Table.from_pylist(bad, schema=schema))
    nul = take(base, 0.5).to_pylist()
    nul[0][names[-1]] = None
    put("near_null", pa.Table.from_pylist(nul, schema=schema))
    if big_rows:
        big = pa.table({c: pa.array(_values(rng, c, pool[c], big_rows, f + 104729), pool[c]) for c in names},
                       schema=schema)
        big = big.group_by(names).aggregate([]).select(names)
        p = os.path.join(root, f"f{f:04d}", "big_parent")
        _write(p, big, rng)
        out.append(p)
        child = take(big, 0.9)
        put("big_subset_foreign", pa.concat_tables([child, pa.Table.from_pylist([_foreign_row(rng, big)],
                                                                                schema=schema)]))
    return out


def make_lake(root: str, families: int = 20, seed: int = 0, rows: int = 40, doc_every: int = 5,
              big_every: int = 4, big_rows: int = 1200, extras: bool = True) -> list[str]:
    """A planted lake: `families` families (every `doc_every`-th in the document schema), plus an empty
    dataset and a corrupt one when `extras`. Returns the dataset paths written."""
    rng = np.random.default_rng(seed)
    paths = []
    for f in range(families):
        paths += make_family(root, f, rng, rows, doc_schema=doc_every > 0 and f % doc_every == 0,
                             big_rows=big_rows if big_every > 0 and f % big_every == 0 else 0)
    if extras:
        empty = os.path.join(root, "extras", "empty")
        os.makedirs(empty, exist_ok=True)
        pq.write_table(pa.schema([("id", pa.int64()), ("name", pa.string())]).empty_table(),
                       os.path.join(empty, "part-00000.parquet"))
        paths.append(empty)
        corrupt = os.path.join(root, "extras", "corrupt")
        os.makedirs(corrupt, exist_ok=True)
        with open(os.path.join(corrupt, "part-00000.parquet"), "wb") as fh:
            fh.write(b"PAR1 this is not a parquet file")
        paths.append(corrupt)
    return paths


def true_containments(paths: list[str]) -> set[tuple[str, str]]:
    """All (contained, container) pairs among readable datasets, by brute force over Python row sets."""
    data = {}
    for p in paths:
        try:
            t = pq.read_table(p)
        except Exception:
            continue
        data[os.path.abspath(p)] = ({(f.name, str(f.type)) for f in t.schema}, t)
    out = set()
    projected: dict[tuple[str, tuple], set] = {}
    for c, (sc, tc) in data.items():
        cols = sorted(n for n, _ in sc)
        rows_c = set(zip(*[tc.column(x).to_pylist() for x in cols], strict=True)) if cols else set()
        for p, (sp, tp) in data.items():
            if p == c or not sc <= sp:
                continue
            key = (p, tuple(cols))
            if key not in projected:
                projected[key] = set(zip(*[tp.column(x).to_pylist() for x in cols], strict=True))
            if rows_c <= projected[key]:
                out.add((c, p))
    return out
