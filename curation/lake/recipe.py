"""Apply a deletion plan safely, and rebuild a deleted dataset from its recipe.

`apply_plan` re-verifies every deletion when it acts, writes the recipe, then deletes the child's files;
`reconstruct` brings the files back with the same rows in the same order and checks their stored digests.
Design (the checks, what a recipe holds): docs/DESIGN.md#lake-deletion-recipes
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import xxhash

from curation.lake.discover import discover
from curation.lake.rowhash import row_hashes
from curation.lake.verify import Check, comparable, driver_listing, read_dataset, verify

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

RECIPE_VERSION = 1


class ApplyError(RuntimeError):
    """A deletion that must not happen (data changed, containment no longer holds, ...)."""


def file_digest(table: pa.Table) -> str:
    """Order-sensitive digest of a table's rows over all its columns."""
    return xxhash.xxh3_128_hexdigest(row_hashes(table, table.column_names).tobytes()) + f":{table.num_rows}"


def _schema_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _schema_from_b64(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _local(uri: str) -> str:
    return os.path.abspath(unquote(urlparse(uri).path)) if uri.startswith("file:") else os.path.abspath(uri)


def _row_hash_cols(df: DataFrame, columns: list[str]) -> list[Column]:
    from pyspark.sql import functions as F

    exprs = [comparable(df, c) for c in columns]
    return [F.xxhash64(*exprs).alias("__h1"), F.hash(*exprs).alias("__h2")]


def _snapshot(files: list[str]) -> list[dict]:
    out = []
    for f in files:
        st = os.stat(f)
        out.append({"file": f, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def _same(snap_a: list[dict], snap_b: list[dict]) -> bool:
    key = lambda s: (s["file"], s["size"], s["mtime_ns"])  # noqa: E731
    return sorted(map(key, snap_a)) == sorted(map(key, snap_b))


def _current_files(path: str) -> list[str]:
    found = [d for d in discover([path]) if d.path == os.path.abspath(path) or d.path == path]
    if not found:
        raise ApplyError(f"{path}: no Parquet files there any more")
    return found[0].files


def _safe_name(path: str) -> str:
    return xxhash.xxh64_hexdigest(path.encode()) + "-" + os.path.basename(path.rstrip("/"))[:60]


def prepare_recipe(spark: SparkSession, deletion: dict[str, Any], recipes_dir: str) -> str:
    """Re-verify one planned deletion and write its recipe; returns the recipe path. Deletes nothing."""
    with driver_listing(spark):
        return _prepare_recipe(spark, deletion, recipes_dir)


def _prepare_recipe(spark: SparkSession, deletion: dict[str, Any], recipes_dir: str) -> str:
    from pyspark.sql import functions as F

    child, parent = deletion["delete"], deletion["parent"]
    child_files = _current_files(child)
    if not _same(_snapshot(child_files), deletion["child_snapshot"]):
        raise ApplyError(f"{child}: files changed since the scan; scan again")
    parent_files = _current_files(parent)
    if not _same(_snapshot(parent_files), deletion["parent_snapshot"]):
        raise ApplyError(f"{parent}: files changed since the scan; scan again")
    schema = pq.ParquetFile(child_files[0]).schema_arrow
    for f in child_files[1:]:
        schema = pa.unify_schemas([schema, pq.ParquetFile(f).schema_arrow], promote_options="permissive")
    columns = schema.names
    if sorted(columns) != sorted(deletion["columns"]):
        raise ApplyError(f"{child}: columns differ from the plan")
    outcome = verify(spark, [Check(child_files, parent_files, sorted(columns))])[0]
    if not outcome.contained:
        raise ApplyError(f"{child}: re-verification failed against {parent} "
                         f"(missing rows: {outcome.missing}, error: {outcome.error})")
    out_dir = os.path.join(recipes_dir, _safe_name(child))
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    # Key table: which parent row goes to which file and position.
    files_df = spark.createDataFrame([(f, i) for i, f in enumerate(child_files)], "__path string, __file int")
    cdf = read_dataset(spark, child_files)
    keyed = cdf.select(F.col("_metadata.file_path").alias("__uri"), F.col("_metadata.row_index").alias("__row"),
                       *_row_hash_cols(cdf, columns))
    paths = {r["__uri"]: _local(r["__uri"]) for r in keyed.select("__uri").distinct().collect()}
    uri_df = spark.createDataFrame([(u, p) for u, p in paths.items()] or [("", "")], "__uri string, __path string")
    keys = keyed.join(uri_df, "__uri").join(files_df, "__path").select("__file", "__row", "__h1", "__h2")
    keys_dir = os.path.join(out_dir, "keys")
    keys.write.mode("overwrite").parquet(keys_dir)
    # Dry run of the rebuild join: every child row hash must meet exactly one distinct parent row.
    pdf = read_dataset(spark, parent_files)
    phash = pdf.select(*[comparable(pdf, c).alias(f"k{j}") for j, c in enumerate(columns)]).distinct()
    phash = phash.select(F.xxhash64(*[F.col(f"k{j}") for j in range(len(columns))]).alias("__h1"),
                         F.hash(*[F.col(f"k{j}") for j in range(len(columns))]).alias("__h2"))
    counts = phash.groupBy("__h1", "__h2").count()
    ck = spark.read.parquet(keys_dir).select("__h1", "__h2").distinct()
    bad = ck.join(counts, ["__h1", "__h2"], "left").where(F.col("count").isNull() | (F.col("count") != 1)).count()
    if bad:
        raise ApplyError(f"{child}: {bad} row keys do not map to exactly one parent row; not deleting")
    base = child if os.path.isdir(child) else os.path.dirname(child)
    files = []
    for f in child_files:
        t = pq.read_table(f)
        files.append({"name": os.path.relpath(f, base), "rows": t.num_rows, "digest": file_digest(t),
                      "bytes": os.path.getsize(f), "schema": _schema_b64(t.schema)})
    recipe = {
        "version": RECIPE_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dataset": child, "dataset_is_dir": os.path.isdir(child), "columns": columns,
        "schema": _schema_b64(schema), "files": files, "keys": "keys",
        "parent": {"path": parent, "snapshot": _snapshot(parent_files)},
        "verified": {"missing_rows": 0, "method": "spark left_anti join + rebuild dry run"},
    }
    path = os.path.join(out_dir, "recipe.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(recipe, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(path + ".tmp", path)
    return path


def delete_dataset(recipe_path: str) -> None:
    """Remove the files a recipe covers (and the folder if it is left empty)."""
    recipe = json.loads(open(recipe_path).read())
    child = recipe["dataset"]
    base = child if recipe["dataset_is_dir"] else os.path.dirname(child)
    for f in recipe["files"]:
        p = os.path.join(base, f["name"])
        if os.path.exists(p):
            os.remove(p)
    if recipe["dataset_is_dir"] and os.path.isdir(child) and not os.listdir(child):
        os.rmdir(child)


def apply_plan(spark: SparkSession, report: dict, recipes_dir: str, dry_run: bool = False) -> list[dict]:
    """Re-verify and delete every planned deletion; a failed check skips that deletion only."""
    deletions = report.get("plan", {}).get("deletions", [])
    deleted = {d["delete"] for d in deletions}
    results = []
    for d in deletions:
        entry = {"delete": d["delete"], "parent": d["parent"], "bytes": d["bytes"]}
        try:
            if d["parent"] in deleted:
                raise ApplyError("parent is itself planned for deletion (chained reconstruction)")
            recipe = prepare_recipe(spark, d, recipes_dir)
            entry["recipe"] = recipe
            if not dry_run:
                delete_dataset(recipe)
            entry["status"] = "verified" if dry_run else "deleted"
        except ApplyError as e:
            entry["status"], entry["error"] = "skipped", str(e)
        results.append(entry)
    return results


def reconstruct(spark: SparkSession, recipe_path: str, output: str | None = None) -> dict:
    """Rebuild a deleted dataset from its parent (into `output`, default its original place)."""
    with driver_listing(spark):
        return _reconstruct(spark, recipe_path, output)


def _reconstruct(spark: SparkSession, recipe_path: str, output: str | None = None) -> dict:
    from pyspark.sql import functions as F

    recipe = json.loads(open(recipe_path).read())
    if recipe.get("version") != RECIPE_VERSION:
        raise ValueError(f"{recipe_path}: unsupported recipe version {recipe.get('version')}")
    rdir = os.path.dirname(os.path.abspath(recipe_path))
    target = output or recipe["dataset"]
    if not recipe["dataset_is_dir"] and output:
        target = os.path.join(output, os.path.basename(recipe["dataset"]))
    base = target if recipe["dataset_is_dir"] else os.path.dirname(target)
    for f in recipe["files"]:
        if os.path.exists(os.path.join(base, f["name"])):
            raise FileExistsError(f"{os.path.join(base, f['name'])} exists; not overwriting")
    parent_files = _current_files(recipe["parent"]["path"])
    columns = recipe["columns"]
    pdf = read_dataset(spark, parent_files)
    prows = pdf.select(*[F.col("`" + c.replace("`", "``") + "`").alias(f"k{j}") for j, c in enumerate(columns)],
                       *_row_hash_cols(pdf, columns)).dropDuplicates(["__h1", "__h2"])
    keys = spark.read.parquet(os.path.join(rdir, recipe["keys"]))
    tmp = os.path.join(rdir, f"_rebuild-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    # Partition folders must not start with "_" (pyarrow skips those when it lists the dataset).
    (keys.join(prows, ["__h1", "__h2"], "inner").drop("__h1", "__h2").withColumnRenamed("__file", "file_no")
     .write.partitionBy("file_no").parquet(tmp))
    staged = os.path.join(base, f"._rebuild-{os.getpid()}")
    os.makedirs(staged, exist_ok=True)
    problems = []
    try:
        rebuilt = pads.dataset(tmp, format="parquet", partitioning="hive") if os.path.exists(tmp) else None
        for i, f in enumerate(recipe["files"]):
            schema = _schema_from_b64(f["schema"])
            if rebuilt is not None:
                t = rebuilt.to_table(filter=pads.field("file_no") == i).sort_by("__row")
            else:
                t = pa.table({"__row": pa.array([], pa.int64())})
            arrays = []
            for j, c in enumerate(columns):
                if c not in schema.names:
                    continue
                src = t.column(f"k{j}") if f"k{j}" in t.column_names else pa.nulls(t.num_rows)
                arrays.append((c, src.cast(schema.field(c).type)))
            table = pa.Table.from_arrays([a for _, a in arrays], names=[c for c, _ in arrays])
            table = table.select(schema.names).cast(schema)
            if file_digest(table) != f["digest"]:
                problems.append(f"{f['name']}: rebuilt rows differ from the original (digest mismatch)")
            dest = os.path.join(staged, f["name"])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            pq.write_table(table, dest)
        if problems:
            raise ApplyError("; ".join(problems))
        for f in recipe["files"]:
            dest = os.path.join(base, f["name"])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.replace(os.path.join(staged, f["name"]), dest)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"dataset": target, "files": len(recipe["files"]), "rows": int(np.sum([f["rows"] for f in recipe["files"]]))}
