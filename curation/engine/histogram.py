"""Equal-token quality buckets from a histogram of the quality score.

Sorting a trillion-token corpus to cut it into deciles is a global sort; a fine histogram of the score
(100,000 bins by default) weighted by tokens gives the same cut to within one bin, in one pass, with
bounded memory, on Spark (`histogram_spark`) or streamed from files with pyarrow (`histogram_files`, what
`curation select plan` and the UI use). Bucket 1 is the best (highest scores).

A document's bin is floor((score - lo) / (hi - lo) * bins), clipped to [0, bins-1]; both the planner and the
stage compute it the same way, so "in the top-k pool" means "bin >= first bin of bucket k".
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.io import fs, run_folder
from curation.io.readers import json_lines

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


@dataclass
class Histogram:
    lo: float
    hi: float
    tokens: np.ndarray
    docs: np.ndarray
    missing_docs: int = 0
    """Documents without a score (not ranked; the stage drops them as `no_quality_score`)."""
    missing_tokens: int = 0

    @property
    def bins(self) -> int:
        return len(self.tokens)

    def edge(self, b: int) -> float:
        """Lower score edge of bin b."""
        return self.lo + (self.hi - self.lo) * b / self.bins


@dataclass
class Bucket:
    index: int
    first_bin: int
    last_bin: int
    threshold: float
    """Lowest score in this bucket's bins (the score cut for a pool that ends with this bucket)."""
    upper: float
    tokens: int
    docs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bin_index(scores: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    if hi <= lo:
        return np.zeros(len(scores), dtype=np.int64)
    idx = np.floor((np.asarray(scores, dtype=float) - lo) / (hi - lo) * bins)
    return np.clip(idx, 0, bins - 1).astype(np.int64)


def bin_column(score: Column, lo: float, hi: float, bins: int) -> Column:
    """The same bin index as a Spark expression."""
    from pyspark.sql import functions as F

    if hi <= lo:
        return F.lit(0).cast("long")
    raw = F.floor((score - F.lit(lo)) / F.lit(hi - lo) * F.lit(bins)).cast("long")
    return F.least(F.greatest(raw, F.lit(0).cast("long")), F.lit(bins - 1).cast("long"))


def _range(lo: float | None, hi: float | None) -> tuple[float, float]:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    if hi <= lo:
        return lo, lo + 1e-9
    return lo, hi


def histogram_from_arrays(chunks: list[tuple[np.ndarray, np.ndarray]], bins: int) -> Histogram:
    """Histogram from in-memory (scores, tokens) chunks (NaN score = missing)."""
    scores = np.concatenate([c[0] for c in chunks]) if chunks else np.array([])
    tokens = np.concatenate([c[1] for c in chunks]) if chunks else np.array([])
    ok = np.isfinite(scores)
    lo, hi = _range(float(scores[ok].min()) if ok.any() else None, float(scores[ok].max()) if ok.any() else None)
    idx = bin_index(scores[ok], lo, hi, bins)
    return Histogram(lo, hi, np.bincount(idx, weights=tokens[ok], minlength=bins).astype(np.int64),
                     np.bincount(idx, minlength=bins).astype(np.int64),
                     int((~ok).sum()), int(tokens[~ok].sum()))


def histogram_spark(df: DataFrame, score_col: str, token_col: str, bins: int) -> Histogram:
    """Two aggregations over the DataFrame; only `bins` numbers come back to the driver."""
    from pyspark.sql import functions as F

    score = F.col(score_col).cast("double")
    valid = score.isNotNull() & ~F.isnan(score)
    toks = F.coalesce(F.col(token_col).cast("long"), F.lit(0).cast("long"))
    row = df.agg(F.min(F.when(valid, score)).alias("lo"), F.max(F.when(valid, score)).alias("hi"),
                 F.sum(F.when(~valid | score.isNull(), 1).otherwise(0)).alias("md"),
                 F.sum(F.when(~valid | score.isNull(), toks).otherwise(0)).alias("mt")).collect()[0]
    lo, hi = _range(row["lo"], row["hi"])
    counts = (df.where(valid).groupBy(bin_column(score, lo, hi, bins).alias("bin"))
              .agg(F.count(F.lit(1)).alias("docs"), F.sum(toks).alias("tokens")).collect())
    tok = np.zeros(bins, dtype=np.int64)
    doc = np.zeros(bins, dtype=np.int64)
    for r in counts:
        tok[int(r["bin"])] = int(r["tokens"] or 0)
        doc[int(r["bin"])] = int(r["docs"])
    return Histogram(lo, hi, tok, doc, int(row["md"] or 0), int(row["mt"] or 0))


def document_files(paths: list[str]) -> list[str]:
    """Parquet/JSONL files behind the given paths; a run folder means its kept documents/."""
    files: list[str] = []
    for p in paths:
        if run_folder.is_run(p):
            p = run_folder.documents_dir(p)
        files += fs.list_files(p, (".parquet", ".pq", ".jsonl", ".json", ".ndjson", ".jsonl.gz"))
    if not files:
        raise FileNotFoundError(f"no Parquet or JSONL documents under {', '.join(paths)}")
    return files


def iter_score_chunks(paths: list[str], score_col: str, token_col: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(scores, tokens) per batch, reading only those two columns; missing values become NaN / 0."""
    for f in document_files(paths):
        if f.lower().endswith((".parquet", ".pq")):
            with fs.open_input(f) as raw:
                pf = pq.ParquetFile(pa.BufferReader(raw.read()) if fs.is_uri(f) else f)
                names = pf.schema_arrow.names
                if score_col not in names:
                    raise ValueError(f"{f}: no column {score_col!r} (run the annotate stage first, or set select.score_column)")
                cols = [score_col] + ([token_col] if token_col in names else [])
                for batch in pf.iter_batches(columns=cols, batch_size=65536):
                    yield _to_numpy(batch, score_col, token_col)
        else:
            scores, toks = [], []
            for rec in json_lines(f):
                s = rec.get(score_col) if isinstance(rec, dict) else None
                scores.append(float(s) if isinstance(s, int | float) else math.nan)
                t = rec.get(token_col) if isinstance(rec, dict) else None
                toks.append(int(t) if isinstance(t, int | float) else 0)
            yield np.array(scores, dtype=float), np.array(toks, dtype=float)


def _to_numpy(batch: pa.RecordBatch, score_col: str, token_col: str) -> tuple[np.ndarray, np.ndarray]:
    s = batch.column(score_col).cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False)
    if token_col in batch.schema.names:
        t = batch.column(token_col).cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
    else:
        t = np.zeros(batch.num_rows)
    return s, t


def histogram_files(paths: list[str], score_col: str = "quality_score", token_col: str = "token_count",
                    bins: int = 100_000) -> Histogram:
    """Histogram streamed from files without Spark (chunks are kept only as two numeric columns)."""
    return histogram_from_arrays(list(iter_score_chunks(paths, score_col, token_col)), bins)


def quality_buckets(hist: Histogram, n_buckets: int = 10) -> list[Bucket]:
    """Cut the score range into n_buckets of (as near as the bins allow) equal tokens, best first.

    Bucket j ends at the first bin (counting down from the top score) where the cumulative tokens reach
    j/n of the total. A bin heavier than one bucket makes the next buckets empty: that is reported, not hidden.
    """
    if n_buckets < 1:
        raise ValueError("n_buckets must be >= 1")
    total = int(hist.tokens.sum())
    rev = hist.tokens[::-1]
    cum = np.cumsum(rev)
    out: list[Bucket] = []
    start = 0  # position in reversed bins
    for j in range(1, n_buckets + 1):
        target = total * j / n_buckets
        end = int(np.searchsorted(cum, target - 1e-9, side="left")) if total > 0 else hist.bins - 1
        end = min(max(end, start - 1), hist.bins - 1)
        if j == n_buckets:
            end = hist.bins - 1
        if end < start:  # empty bucket: a single bin held more than one bucket's tokens
            first_bin = last_bin = hist.bins - start
            out.append(Bucket(j, first_bin, first_bin - 1, hist.edge(first_bin), hist.edge(first_bin), 0, 0))
            continue
        last_bin = hist.bins - 1 - start
        first_bin = hist.bins - 1 - end
        out.append(Bucket(j, first_bin, last_bin, hist.edge(first_bin),
                          hist.hi if last_bin == hist.bins - 1 else hist.edge(last_bin + 1),
                          int(hist.tokens[first_bin:last_bin + 1].sum()), int(hist.docs[first_bin:last_bin + 1].sum())))
        start = end + 1
    return out
