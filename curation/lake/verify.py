"""Exact containment check on Spark: count the rows of C that have no equal row in P's projection.

C is contained in P iff `C left-anti-join P` on all of C's columns is empty. To check many pairs in few
jobs, every row is turned into an exact key (JSON of its columns in sorted order, with -0.0 folded into
0.0, timestamps at full microsecond precision, maps as sorted entry lists, nulls written out), so pairs
with different schemas share one union and one anti-join on (parent, projection, key). Each dataset is
scanned once per projection in a batch, with the schema taken from its footer (no inference job).
A batch that fails is retried pair by pair; a pair whose check fails is never reported as contained.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

JSON_OPTIONS = {
    "ignoreNullFields": "false",
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
}


@dataclass
class Check:
    """One containment question: are the rows of `child_files` (over `columns`) all in `parent_files`?"""

    child_files: list[str]
    parent_files: list[str]
    columns: list[str]
    schema: pa.Schema | None = field(default=None, repr=False)  # Arrow types of `columns`, from the footers


@dataclass
class Outcome:
    missing: int | None = None  # rows of the child absent from the parent; None when the check failed
    error: str | None = None

    @property
    def contained(self) -> bool:
        return self.missing == 0 and self.error is None


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def read_dataset(spark: SparkSession, files: list[str], schema: pa.Schema | None = None,
                 columns: list[str] | None = None) -> DataFrame:
    """The dataset's rows; with a footer schema Spark skips inference (files lacking a column give nulls)."""
    if schema is not None and columns is not None:
        try:
            from pyspark.sql.pandas.types import from_arrow_type
            from pyspark.sql.types import StructField, StructType

            st = StructType([StructField(c, from_arrow_type(schema.field(c).type), True) for c in columns])
            return spark.read.schema(st).parquet(*files)
        except Exception:  # an Arrow type Spark cannot name (e.g. unsigned ints): let Spark infer
            pass
    return spark.read.option("mergeSchema", "true").parquet(*files)


def comparable(df: DataFrame, name: str) -> Column:
    """The column in a form Spark can compare for equality (maps become sorted entry arrays)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType, MapType

    col = F.col(_quote(name))
    dt = df.schema[name].dataType
    if isinstance(dt, MapType):
        return F.array_sort(F.map_entries(col))
    if isinstance(dt, DoubleType | FloatType):
        return col + F.lit(0.0).cast(dt)  # -0.0 + 0.0 == 0.0, as Spark's join equality has it
    return col


def row_key(df: DataFrame, columns: list[str]) -> Column:
    """An exact string key of a row over `columns` (sorted order), equal iff the values are equal."""
    from pyspark.sql import functions as F

    cols = sorted(columns)
    return F.to_json(F.struct(*[comparable(df, c).alias(f"k{j}") for j, c in enumerate(cols)]), JSON_OPTIONS)


def _union_all(frames: list[DataFrame]) -> DataFrame:
    """Balanced union: PySpark analyses eagerly, so a left-deep chain of n unions costs O(n^2)."""
    while len(frames) > 1:
        frames = [frames[i].union(frames[i + 1]) if i + 1 < len(frames) else frames[i]
                  for i in range(0, len(frames), 2)]
    return frames[0]


def _local(uri: str) -> str:
    return os.path.abspath(unquote(urlparse(uri).path)) if uri.startswith("file:") else uri


def _norm_uri(uri: str) -> str:
    """`file:/x` and `file:///x` name the same file (Spark's file listing and row metadata differ)."""
    return re.sub(r"^file:/+", "file:///", uri)


def _scan_many(spark: SparkSession, members: dict[int, list[str]], ch: Check) -> DataFrame:
    """One scan over the files of several datasets with the same projection, rows tagged by dataset."""
    from pyspark.sql import functions as F

    owner: dict[str, int] = {}
    for d, files in members.items():
        for f in files:
            if owner.setdefault(os.path.abspath(f), d) != d:  # overlapping datasets (a glob and a folder)
                raise RuntimeError(f"{f} belongs to two datasets in one scan")
    df = read_dataset(spark, sorted(owner), ch.schema, ch.columns)
    mapping = []
    for uri in df.inputFiles():
        d = owner.get(_local(uri))
        if d is None:
            raise RuntimeError(f"cannot tell which dataset Spark's file {uri} belongs to")
        mapping.append((_norm_uri(uri), d))
    if len(mapping) != len(owner):
        raise RuntimeError(f"Spark lists {len(mapping)} files, expected {len(owner)}")
    files = spark.createDataFrame(mapping, "__uri string, __d int")
    uri = F.regexp_replace(F.col("_metadata.file_path"), "^file:/+", "file:///")
    keyed = df.select(uri.alias("__uri"), row_key(df, ch.columns).alias("__k"))
    # A left join: a row whose file is not recognised keeps __d = null and is caught in `_run`.
    return keyed.join(F.broadcast(files), "__uri", "left").select("__d", "__k")


def _run(spark: SparkSession, checks: list[Check]) -> list[int]:
    """Missing-row counts for a batch of checks, in one Spark job (two scans per projection)."""
    from pyspark.sql import functions as F

    projections: dict[tuple[str, ...], int] = {}
    datasets: dict[tuple[str, ...], int] = {}
    edges = []
    children: dict[int, dict[int, list[str]]] = {}
    parents: dict[int, dict[int, list[str]]] = {}
    sample: dict[int, Check] = {}
    for i, ch in enumerate(checks):
        g = projections.setdefault(tuple(sorted(ch.columns)), len(projections))
        c = datasets.setdefault(tuple(ch.child_files), len(datasets))
        p = datasets.setdefault(tuple(ch.parent_files), len(datasets))
        children.setdefault(g, {})[c] = ch.child_files
        parents.setdefault(g, {})[p] = ch.parent_files
        sample.setdefault(g, ch)
        edges.append((i, c, p, g))
    child = _union_all([_scan_many(spark, m, sample[g]).withColumn("__g", F.lit(g)) for g, m in children.items()])
    parent = _union_all([_scan_many(spark, m, sample[g]).withColumn("__g", F.lit(g)) for g, m in parents.items()])
    edge_df = spark.createDataFrame(edges, "__e int, __d int, __p int, __g int")
    child = child.join(F.broadcast(edge_df), ["__d", "__g"], "left").select("__e", "__p", "__g", "__k")
    parent = parent.select(F.col("__d").alias("__p"), "__g", "__k")
    rows = child.join(parent, ["__p", "__g", "__k"], "left_anti").groupBy("__e").count().collect()
    missing = [0] * len(checks)
    for r in rows:
        if r["__e"] is None:  # child rows that lost their dataset tag: never conclude "contained"
            raise RuntimeError(f"{r['count']} child rows could not be attributed to their dataset")
        missing[r["__e"]] = int(r["count"])
    return missing


def _batches(idx: list[int], checks: list[Check], max_scans: int) -> list[list[int]]:
    out, cur, scans = [], [], set()
    for i in idx:
        ch = checks[i]
        g = tuple(sorted(ch.columns))
        new = {(tuple(ch.child_files), g, "c"), (tuple(ch.parent_files), g, "p")} - scans
        if cur and len(scans) + len(new) > max_scans:
            out.append(cur)
            cur, scans = [], set()
            new = {(tuple(ch.child_files), g, "c"), (tuple(ch.parent_files), g, "p")}
        cur.append(i)
        scans |= new
    if cur:
        out.append(cur)
    return out


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}"


def verify(spark: SparkSession, checks: list[Check], max_scans: int = 2000) -> list[Outcome]:
    """Exact outcome for every check, in order; each batch reads at most `max_scans` dataset scans."""
    out = [Outcome() for _ in checks]
    if checks:
        with driver_listing(spark):
            _verify(spark, checks, max_scans, out)
    return out


@contextlib.contextmanager
def driver_listing(spark: SparkSession) -> Iterator[None]:
    """List explicit file paths on the driver: above 32 paths Spark would start a listing job per read."""
    key = "spark.sql.sources.parallelPartitionDiscovery.threshold"
    previous = spark.conf.get(key, None)
    spark.conf.set(key, "1000000")
    try:
        yield
    finally:
        if previous is not None:
            spark.conf.set(key, previous)
        else:
            spark.conf.unset(key)


def _verify(spark: SparkSession, checks: list[Check], max_scans: int, out: list[Outcome]) -> None:
    order = sorted(range(len(checks)), key=lambda i: (sorted(checks[i].columns), checks[i].parent_files))
    for part in _batches(order, checks, max_scans):
        try:
            for i, m in zip(part, _run(spark, [checks[i] for i in part]), strict=True):
                out[i] = Outcome(missing=m)
        except Exception as e:
            log.warning("verification batch of %d pairs failed (%s); checking them one by one", len(part), _error(e))
            if len(part) == 1:
                out[part[0]] = Outcome(error=_error(e))
                continue
            for i in part:
                try:
                    out[i] = Outcome(missing=_run(spark, [checks[i]])[0])
                except Exception as e1:
                    out[i] = Outcome(error=_error(e1))
