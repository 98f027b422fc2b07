"""Per-document transforms: pure functions on Arrow record batches, run in-process or through mapInArrow.

A transform takes a batch of documents (with decision columns) and returns a batch with the same rows
(plus new columns, changed text or decisions). Because it is a plain function it is unit-tested without
Spark; `map_batches` runs the very same function on executors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from curation import schema as S

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

BatchFn = Callable[[pa.RecordBatch], pa.RecordBatch]


def spark_schema(schema: pa.Schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def arrow_schema(df: DataFrame) -> pa.Schema:
    """The Arrow schema of a Spark DataFrame (timestamps in UTC, as the document schema has them)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema, timezone="UTC", prefers_large_types=False)


def _runner(fn: BatchFn, schema: pa.Schema) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            yield from isolated(fn, batch, schema).to_batches()

    return run


def isolated(fn: BatchFn, batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """`fn(batch)` conformed to `schema`; if it raises, the batch again row by row, and a row that still raises
    comes out quarantined (`transform_error`, with the exception) while the others are transformed as usual.

    A bug that one document triggers costs that document, never the task; an undeclared column is not data's
    fault and still raises.
    """
    try:
        out = fn(batch)
    except Exception as first:
        rows = [_one_row(fn, batch.slice(i, 1), schema) for i in range(batch.num_rows)]
        if batch.num_rows > 1 and all(failed for _, failed in rows):
            raise first  # every document fails: a broken setup (a missing model, a dead server), not bad data
        return pa.concat_tables([table for table, _ in rows])
    check_declared(out.schema, schema)
    return S.conform(out, schema, keep_extra=False)


def _one_row(fn: BatchFn, row: pa.RecordBatch, schema: pa.Schema) -> tuple[pa.Table, bool]:
    """The row transformed, or quarantined as `transform_error`; and whether it failed."""
    try:
        out = fn(row)
    except Exception as e:
        failed = set_decisions(row, [(S.QUARANTINED, "transform_error", None, f"{type(e).__name__}: {e}"[:1000])])
        return S.conform(failed, schema, keep_extra=False), True
    check_declared(out.schema, schema)
    return S.conform(out, schema, keep_extra=False), False


def check_declared(emitted: pa.Schema, declared: pa.Schema) -> None:
    """A transform may only emit declared columns: an undeclared one is a bug, never silently dropped."""
    extra = [n for n in emitted.names if n not in declared.names]
    if extra:
        raise ValueError(f"transform emitted undeclared columns {extra}: declare them in the stage's output schema "
                         "(schemas/signals/<stage>.json, or the rule set's `rules`)")


def map_batches(df: DataFrame, fn: BatchFn, output_schema: pa.Schema) -> DataFrame:
    """Apply `fn` to every Arrow batch of `df` on the executors; the output must fit `output_schema`."""
    return df.mapInArrow(_runner(fn, output_schema), spark_schema(output_schema))


def run_in_process(fn: BatchFn, table: pa.Table, batch_size: int = 2000) -> pa.Table:
    """The same transform without Spark (tests, benchmarks of Spark overhead)."""
    outs = [fn(b) for b in table.to_batches(max_chunksize=batch_size) if b.num_rows]
    if not outs:
        return table.slice(0, 0)
    return pa.Table.from_batches(outs)


def with_columns(batch: pa.RecordBatch, columns: dict[str, pa.Array]) -> pa.RecordBatch:
    """Replace or add columns on a batch."""
    arrays = {name: batch.column(name) for name in batch.schema.names}
    arrays.update(columns)
    return pa.RecordBatch.from_pydict(arrays)


def set_decisions(batch: pa.RecordBatch, decisions: list[tuple[str, str | None, str | None, str | None] | None]
                  ) -> pa.RecordBatch:
    """Overwrite decision columns where `decisions[i]` is given; rows already dropped/quarantined stay so.

    Each entry is (decision, reason, related_id, detail) or None to leave the row unchanged.
    """
    dec = batch.column("decision").to_pylist()
    rea = batch.column("reason").to_pylist()
    rel = batch.column("related_id").to_pylist()
    det = batch.column("detail").to_pylist()
    for i, d in enumerate(decisions):
        if d is None or dec[i] != S.KEPT:
            continue
        dec[i], rea[i], rel[i], det[i] = d
    return with_columns(batch, {
        "decision": pa.array(dec, pa.string()),
        "reason": pa.array(rea, pa.string()),
        "related_id": pa.array(rel, pa.string()),
        "detail": pa.array(det, pa.string()),
    })
