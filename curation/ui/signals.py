"""Which columns are signals, where their thresholds are configured, and their histograms.

Stages add columns as they are built, so nothing here lists them: numeric columns found in the Parquet
schema are signals; `<ruleset>__<rule>` columns are heuristic values. Thresholds are looked up in the
run's recorded config and in the stages' recorded facts (manifest `extra`) by name, and shown with the
key they came from so a reviewer can check the match.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa

from curation.ui import query as Q

CORE_NUMERIC_SKIP = {"doc_id", "source_id", "run_id"}
PREFERRED = ["quality_score", "language_score", "token_count", "word_count", "prototype_distance", "containment_score"]


def numeric_columns(schema: pa.Schema) -> list[str]:
    """Numeric, non-bool columns in a sensible order: the well-known signals first, heuristics last."""
    names = [f.name for f in schema
             if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)) and f.name not in CORE_NUMERIC_SKIP
             and not f.name.endswith("_id")]
    first = [n for n in PREFERRED if n in names]
    rest = sorted(n for n in names if n not in first and "__" not in n)
    heur = sorted(n for n in names if "__" in n)
    return first + rest + heur


def with_values(files: list[str], columns: list[str]) -> list[str]:
    """The columns that hold at least one non-null value (one scan of those columns, cached)."""
    if not files or not columns:
        return []

    def compute() -> list[str]:
        counts = Q.rows("SELECT " + ", ".join(f"count({Q.qident(c)}) AS c{i}" for i, c in enumerate(columns))
                        + f" FROM {Q.source(files)}")[0]
        return [c for i, c in enumerate(columns) if counts[f"c{i}"]]

    return Q.cached("with_values", files, compute, tuple(columns))


def _leaves(obj: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], float]]:
    out: list[tuple[tuple[str, ...], float]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_leaves(v, (*path, str(k))))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj):
        out.append((path, float(obj)))
    return out


def _matches(column: str, path: tuple[str, ...]) -> bool:
    if not path:
        return False
    leaf = path[-1].lower()
    col = column.lower()
    lowered = [p.lower() for p in path]
    if leaf in {col, f"min_{col}", f"max_{col}", f"{col}_min", f"{col}_max", f"{col}_threshold"}:
        return True
    if "__" in col:
        ruleset, rule = col.split("__", 1)
        if ruleset in lowered[:-1] and leaf in {rule, f"min_{rule}", f"max_{rule}", f"{rule}_min", f"{rule}_max"}:
            return True
    if col == "quality_score":
        return leaf in {"threshold", "quality_threshold", "min_quality", "min_score", "score_threshold"} and any(
            "select" in p or "quality" in p for p in lowered[:-1])
    if col == "language_score":
        return leaf in {"min_language_score", "language_threshold", "min_lang_score", "min_score", "threshold"} and any(
            "lang" in p for p in lowered)
    if col == "token_count":  # document-length filters, not generation limits (rewrite.max_tokens)
        return leaf in {"min_tokens", "max_tokens"} and not any(
            p in ("rewrite", "proxy", "fit", "llm") for p in lowered[:-1])
    if col == "prototype_distance":
        return "distance" in leaf and any("prune" in p for p in lowered)
    return False


def thresholds(manifest: dict[str, Any], column: str) -> list[tuple[str, float]]:
    """(where, value) of every configured or recorded threshold that applies to `column`."""
    found: list[tuple[str, float]] = []
    for path, value in _leaves(manifest.get("config") or {}):
        if _matches(column, path):
            found.append(("config " + ".".join(path), value))
    for st in manifest.get("stages") or []:
        if not isinstance(st, dict):
            continue
        for path, value in _leaves(st.get("extra") or {}):
            if _matches(column, (str(st.get("name", "")), *path)):
                found.append((f"{st.get('name')} recorded " + ".".join(path), value))
    seen, out = set(), []
    for where, v in found:
        if (where, v) not in seen:
            seen.add((where, v))
            out.append((where, v))
    return out[:6]


def histogram(files: list[str], column: str, bins: int = 40, has_tokens: bool = True) -> dict[str, Any]:
    """Equal-width histogram of a numeric column (docs and tokens per bin); one column scan, cached."""

    def compute() -> dict[str, Any]:
        src = Q.source(files)
        c = Q.qident(column)
        finite = f"{c} IS NOT NULL AND isfinite({c}::DOUBLE)"
        stats = Q.rows(f"SELECT min({c})::DOUBLE AS lo, max({c})::DOUBLE AS hi, count({c}) AS n, "
                       f"count(*) AS total, avg({c})::DOUBLE AS mean FROM {src} WHERE {finite} OR {c} IS NULL")[0]
        total = int(stats["total"] or 0)
        n = int(stats["n"] or 0)
        lo, hi = stats["lo"], stats["hi"]
        result: dict[str, Any] = {"column": column, "n": n, "missing": total - n, "lo": lo, "hi": hi,
                                  "mean": stats["mean"], "bins": []}
        if n == 0 or lo is None:
            return result
        width = (hi - lo) / bins if hi > lo else 1.0
        tok = "sum(coalesce(token_count, 0))" if has_tokens else "0"
        got = Q.rows(f"SELECT least({bins - 1}, floor(({c}::DOUBLE - ?) / ?))::INT AS b, count(*) AS docs, "
                     f"{tok} AS tokens FROM {src} WHERE {finite} GROUP BY b ORDER BY b", [lo, width])
        by = {int(r["b"]): r for r in got}
        result["bins"] = [{"lo": lo + i * width, "hi": lo + (i + 1) * width,
                           "docs": int(by[i]["docs"]) if i in by else 0,
                           "tokens": int(by[i]["tokens"] or 0) if i in by else 0} for i in range(bins if hi > lo else 1)]
        return result

    return Q.cached("histogram", files, compute, column, bins, has_tokens)
