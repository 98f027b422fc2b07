"""DuckDB over a run's Parquet files: paged row queries, point look-ups and cached aggregates.

A page of rows is a LIMIT/OFFSET query that reads only the columns it shows (long text is cut to a
preview inside DuckDB), so a page costs the same on a 1,000- and a 1,000,000-document run. Aggregates
that must read a whole column (histograms, cluster sizes) are computed once per file set and kept in a
small in-process cache keyed on the files' names, sizes and modification times.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

_local = threading.local()
_open: list[duckdb.DuckDBPyConnection] = []
_cache: OrderedDict[tuple, Any] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_ENTRIES = 256


def connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection per server thread (connections are not shared across threads)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:", config={"threads": 2})
        _local.con = con
        with _cache_lock:
            _open.append(con)
    return con


def close_all() -> None:
    """Close every thread's connection (at shutdown: DuckDB objects left for interpreter teardown can abort it)."""
    with _cache_lock:
        cons = list(_open)
        _open.clear()
    for con in cons:
        try:
            con.close()
        except duckdb.Error:
            pass


atexit.register(close_all)


def qident(name: str) -> str:
    """A column name as a quoted SQL identifier (names come from Parquet schemas, never from requests)."""
    return '"' + name.replace('"', '""') + '"'


def source(files: Sequence[str], filename: bool = False) -> str:
    """A FROM clause over Parquet files; the list is inlined as string literals (paths come from listings)."""
    if not files:
        raise ValueError("no files")
    quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"read_parquet([{quoted}], union_by_name=true{', filename=true' if filename else ''})"


def rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = connection().execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def page(sql: str, number: int, size: int, params: Sequence[Any] = ()) -> tuple[list[dict[str, Any]], bool]:
    """Rows of page `number` (1-based) of `sql`, and whether another page follows."""
    got = rows(f"{sql} LIMIT {size + 1} OFFSET {(number - 1) * size}", params)
    return got[:size], len(got) > size


def scalar(sql: str, params: Sequence[Any] = ()) -> Any:
    got = connection().execute(sql, list(params)).fetchone()
    return got[0] if got else None


def _fingerprint(files: Sequence[str]) -> tuple:
    out = []
    for f in files:
        try:
            st = os.stat(f)
            out.append((f, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((f, -1, -1))
    return tuple(out)


def cached(name: str, files: Sequence[str], compute: Callable[[], Any], *extra: Any) -> Any:
    """compute() once per (name, files as they are on disk, extra); later calls are served from memory."""
    key = (name, _fingerprint(files), extra)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = compute()
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return value


def select_list(columns: Sequence[str], text_preview: int | None = 300, skip: Sequence[str] = ()) -> str:
    """Columns to show in a table: text cut to a preview, vectors left out."""
    parts = []
    for c in columns:
        if c in skip:
            continue
        if c == "text" and text_preview is not None:
            parts.append(f"left({qident(c)}, {int(text_preview)}) AS text_preview, length({qident(c)}) AS text_chars")
        else:
            parts.append(qident(c))
    return ", ".join(parts) or "*"
