"""Readers for document inputs (JSONL, Parquet) that validate every record and never lose one.

A record that cannot become a document (bad JSON, invalid UTF-8, no text, too large, a field out of range)
is emitted as a *quarantined* row with a reason code, and the reader goes on: the ledger accounts for every
input line. Design: docs/DESIGN.md#bad-input.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from curation import schema as S
from curation.config import InputConfig
from curation.engine.batches import spark_schema
from curation.ids import doc_id
from curation.io import fs
from curation.io.streams import Decompressed, split_records
from curation.text.tokens import approx_token_count

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".ndjson", ".jsonl.zstd")
PARQUET_SUFFIXES = (".parquet", ".pq")
CORE_COLUMNS = ("url", "domain", "crawl_date", "language", "language_score", "token_count", "source_type")


def reader_schema() -> pa.Schema:
    return S.decided_schema(S.core_document_schema())


def input_format(path: str, configured: str = "auto") -> str | None:
    if configured != "auto":
        return configured
    low = path.lower()
    if low.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if low.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def domain_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


class BadField(ValueError):
    """A field of a record has a value the document schema cannot hold (reason `bad_field:<name>`)."""

    def __init__(self, name: str, detail: str):
        super().__init__(detail)
        self.name = name


INT64_MAX = 2**63 - 1


def parse_date(value: object) -> datetime | None:
    """A UTC datetime from an ISO string, a Unix timestamp or a datetime; None when empty or unparseable text.

    Raises ValueError for a number that is no date (NaN, infinite, out of datetime's range)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a date")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as e:
            raise ValueError(f"{str(value)[:40]} is not a Unix timestamp ({e})") from None
    text = str(value).strip().replace("Z", "+00:00")
    for candidate in (text, text[:10]):
        try:
            d = datetime.fromisoformat(candidate)
            return d if d.tzinfo else d.replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


class RecordBuilder:
    """Accumulates document rows (kept or quarantined) and hands them out as Arrow batches."""

    def __init__(self, batch_size: int = 1000):
        self.schema = reader_schema()
        self.batch_size = batch_size
        self.rows: list[dict] = []

    def add(self, **row: object) -> Iterator[pa.RecordBatch]:
        self.rows.append(row)
        if len(self.rows) >= self.batch_size:
            yield self.flush()

    def flush(self) -> pa.RecordBatch:
        rows, self.rows = self.rows, []
        try:
            return self._batch(rows)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return self._batch([self._fit(r) for r in rows])  # find the row Arrow refuses; it alone is quarantined

    def _batch(self, rows: list[dict]) -> pa.RecordBatch:
        cols = {f.name: [r.get(f.name) for r in rows] for f in self.schema}
        return pa.RecordBatch.from_pydict(cols, schema=self.schema)

    def _fit(self, row: dict) -> dict:
        try:
            self._batch([row])
            return row
        except (pa.ArrowException, OverflowError, TypeError, ValueError) as e:
            source = str(row.get("source"))
            return {"doc_id": row["doc_id"] if isinstance(row.get("doc_id"), str) else doc_id(source, "?", repr(row)[:1000]),
                    "source_id": str(row.get("source_id"))[:1000], "source": source,
                    "source_type": str(row.get("source_type")), "text": None, "decision": S.QUARANTINED,
                    "reason": "record_error", "detail": f"not representable in the document schema: {e}"[:500]}

    def drain(self) -> Iterator[pa.RecordBatch]:
        if self.rows:
            yield self.flush()

    def quarantine(self, source: str, source_type: str, position: str, reason: str, detail: str,
                   raw: bytes | str | None = None, source_id: str | None = None) -> Iterator[pa.RecordBatch]:
        yield from self.add(
            doc_id=doc_id(source, position, raw if raw is not None else reason),
            source_id=source_id or f"{source}:{position}",
            source=source,
            source_type=source_type,
            text=None,
            decision=S.QUARANTINED,
            reason=reason,
            detail=detail[:2000],
        )


def json_lines(path: str, on_error: Callable[[int, Exception], None] | None = None,
               max_bytes: int = 64 << 20) -> Iterator[Any]:
    """The parsed value of every non-blank line of a JSONL file (plain, .gz or .zst; local or URI).

    For side readers that need a few fields of scored documents (select, quality training); a line that does
    not parse is skipped and given to `on_error(line_number, error)`. The pipeline's input reader is
    `read_jsonl`, which accounts for every line in the ledger instead.
    """
    for n, rec in enumerate(split_records(Decompressed(path), max_bytes), 1):
        if rec.data is None or not rec.complete:
            if on_error is not None:
                on_error(n, ValueError(f"line of {rec.size} bytes {'cut off' if rec.data else 'over the limit'}"))
            continue
        if not rec.data.strip():
            continue
        try:
            yield json.loads(rec.data.decode("utf-8", "replace"))
        except (ValueError, RecursionError) as e:
            if on_error is not None:
                on_error(n, e)


def _decode(line: bytes, cfg: InputConfig) -> tuple[str | None, str | None]:
    """(text, problem): problem is set when the bytes were not valid UTF-8."""
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as e:
        if cfg.invalid_utf8 == "repair":
            return line.decode("utf-8", "replace"), f"repaired invalid UTF-8 at byte {e.start}"
        return None, f"invalid UTF-8 at byte {e.start}: {e.reason}"


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _number(record: dict, name: str, low: float, high: float, integer: bool = False) -> float | int | None:
    """A numeric field within [low, high], or None when absent or not a number; BadField when out of range."""
    v = record.get(name)
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        raise BadField(name, f"{name} is {v}")
    if not low <= v <= high:
        raise BadField(name, f"{name}={str(v)[:40]} is outside [{low:g}, {high:g}]")
    return int(v) if integer else float(v)


#: Fields whose input values are kept under metadata (`input_<name>`): identity is the reader's to assign.
PROVENANCE = ("doc_id", "source", "source_type")


def document_row(record: dict, source: str, source_type: str, position: str, cfg: InputConfig,
                 note: str | None = None) -> tuple[dict | None, str | None, str | None]:
    """Turn one input record into a document row, or return (None, reason, detail).

    `doc_id`, `source` and `source_type` come from where the record was read (file and position); what the
    record says about them is kept in `metadata` as `input_doc_id`, `input_source`, `input_source_type`.
    """
    text = record.get(cfg.text_field)
    if text is None:
        return None, "missing_text", f"no {cfg.text_field!r} field (keys: {', '.join(map(str, list(record)[:10]))})"[:500]
    if not isinstance(text, str):
        return None, "bad_type", f"{cfg.text_field!r} is {type(text).__name__}, not a string"
    if _has_surrogates(text):
        if cfg.invalid_utf8 != "repair":
            return None, "invalid_utf8", "text holds lone surrogates (escaped invalid UTF-8)"
        text = text.encode("utf-8", "replace").decode("utf-8")
        note = "repaired lone surrogates"
    if len(text) > cfg.max_text_bytes or len(text.encode("utf-8")) > cfg.max_text_bytes:
        return None, "too_large", f"text of {len(text.encode('utf-8'))} bytes > input.max_text_bytes={cfg.max_text_bytes}"
    try:
        crawl_date = parse_date(record.get("crawl_date") or record.get("date"))
    except ValueError as e:
        return None, "bad_field:crawl_date", str(e)
    try:
        score = _number(record, "language_score", 0.0, 1.0)
        tokens = _number(record, "token_count", 0, INT64_MAX, integer=True)
    except BadField as e:
        return None, f"bad_field:{e.name}", str(e)
    rid = record.get(cfg.id_field)
    source_id = str(rid) if rid is not None and rid != "" else f"{source}:{position}"
    url = record.get("url") if isinstance(record.get("url"), str) else None
    extra = {k: v for k, v in record.items()
             if k not in (cfg.text_field, cfg.id_field, "source_id", *PROVENANCE, *CORE_COLUMNS, "metadata")}
    extra.update({f"input_{k}": record[k] for k in PROVENANCE if record.get(k) not in (None, "")})
    meta = record.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except (ValueError, RecursionError):
            meta = {"metadata": meta}
    if isinstance(meta, dict):
        extra = {**meta, **extra}
    row = {
        "doc_id": doc_id(source, position, text),
        "source_id": str(record["source_id"]) if record.get("source_id") not in (None, "") and cfg.id_field not in record else source_id,
        "source": source,
        "source_type": source_type,
        "url": url,
        "domain": record.get("domain") if isinstance(record.get("domain"), str) else domain_of(url),
        "crawl_date": crawl_date,
        "text": text,
        "language": record.get("language") if isinstance(record.get("language"), str) else None,
        "language_score": score,
        "token_count": tokens if tokens is not None else approx_token_count(text),
        "metadata": json.dumps(extra, ensure_ascii=False, default=str) if extra else None,
        "decision": S.KEPT,
        "reason": None,
        "related_id": None,
        "detail": note,
    }
    return row, None, None


def _parse_json(text: str) -> tuple[object, str | None, str | None]:
    """(value, reason, detail): the reasons a line that is not a usable JSON object gets."""
    try:
        value = json.loads(text)
    except RecursionError:
        return None, "nesting_too_deep", "JSON nested deeper than the parser's limit"
    except json.JSONDecodeError as e:
        return None, "invalid_json", f"{e}: {text[:200]!r}"
    except ValueError as e:  # e.g. an integer over Python's digit limit
        return None, "number_too_large" if "digits" in str(e) else "invalid_json", str(e)[:300]
    if not isinstance(value, dict):
        return None, "invalid_json", f"line is a JSON {type(value).__name__}, not an object"
    return value, None, None


def read_jsonl(path: str, cfg: InputConfig, batch_size: int = 1000) -> Iterator[pa.RecordBatch]:
    """One row per non-blank line (kept, or quarantined with its reason); one row when the stream was cut off,
    corrupt or a decompression bomb; one `empty_file` row for a file without records. Linear time, and memory
    bounded by `input.max_record_bytes` whatever the input."""
    out = RecordBuilder(batch_size)
    stream = Decompressed(path, cfg.max_decompression_ratio)
    lineno = rows = 0
    cut_reported = False
    try:
        for rec in split_records(stream, cfg.max_record_bytes):
            lineno += 1
            if rec.data is not None and not rec.data.strip():
                continue
            rows += 1
            position = str(lineno)
            if not rec.complete:
                cut_reported = True
                yield from out.quarantine(path, "jsonl", position, stream.problem[0] if stream.problem else "truncated_stream",
                                          f"line {lineno} was cut off after {rec.size} bytes: "
                                          f"{stream.problem[1] if stream.problem else ''}")
            elif rec.data is None:
                yield from out.quarantine(path, "jsonl", position, "record_too_large",
                                          f"line of {rec.size} bytes > input.max_record_bytes={cfg.max_record_bytes} "
                                          "(skipped unread)", raw=str(rec.size))
            else:
                try:
                    yield from _jsonl_record(out, path, position, rec.data, cfg)
                except Exception as e:  # one record's bug costs one row, never the rest of the file
                    yield from out.quarantine(path, "jsonl", position, "record_error",
                                              f"{type(e).__name__}: {e}"[:500], raw=rec.data)
    except OSError as e:  # unreadable file, lost connection: what was read stands, one row says why it stopped
        rows += 1
        yield from out.quarantine(path, "jsonl", f"after-line-{lineno}", "read_error",
                                  f"{type(e).__name__}: {e} after line {lineno}")
    if stream.problem is not None and not cut_reported:
        rows += 1
        reason, detail = stream.problem
        yield from out.quarantine(path, "jsonl", f"after-line-{lineno}", reason,
                                  f"{detail}; the {lineno} lines before it were read")
    if rows == 0:
        yield from out.quarantine(path, "jsonl", "file", "empty_file", "the file holds no records")
    yield from out.drain()


def _jsonl_record(out: RecordBuilder, path: str, position: str, line: bytes, cfg: InputConfig) -> Iterator[pa.RecordBatch]:
    text, problem = _decode(line.rstrip(b"\r"), cfg)
    if text is None:
        yield from out.quarantine(path, "jsonl", position, "invalid_utf8", problem or "", raw=line)
        return
    record, reason, detail = _parse_json(text)
    if record is None:
        yield from out.quarantine(path, "jsonl", position, reason or "invalid_json", detail or "", raw=line)
        return
    assert isinstance(record, dict)
    row, reason, detail = document_row(record, path, "jsonl", position, cfg, note=problem)
    if row is None:
        rid = record.get(cfg.id_field)
        yield from out.quarantine(path, "jsonl", position, reason or "bad_record", detail or "", raw=line,
                                  source_id=str(rid)[:1000] if rid not in (None, "") else None)
    else:
        yield from out.add(**row)


def read_parquet(path: str, cfg: InputConfig, batch_size: int = 1000) -> Iterator[pa.RecordBatch]:
    """Foreign Parquet (id/text and other columns), validated row by row like JSONL."""
    out = RecordBuilder(batch_size)
    row_index = 0
    try:
        with fs.open_input(path) as raw:
            pf = pq.ParquetFile(io.BytesIO(raw.read()) if fs.is_uri(path) else path)
            for batch in pf.iter_batches(batch_size=batch_size):
                for record in batch.to_pylist():
                    position = str(row_index)
                    row_index += 1
                    try:
                        row, reason, detail = document_row(record, path, "parquet", position, cfg)
                    except Exception as e:  # one row's bug costs one row
                        row, reason, detail = None, "record_error", f"{type(e).__name__}: {e}"[:500]
                    if row is None:
                        yield from out.quarantine(path, "parquet", position, reason or "bad_record", detail or "")
                    else:
                        yield from out.add(**row)
    except Exception as e:  # corrupt footer or page, truncated file: what was read stands, one row says why
        row_index += 1
        yield from out.quarantine(path, "parquet", f"after-row-{row_index - 1}", "read_error",
                                  f"{type(e).__name__}: {e}"[:500])
    if row_index == 0:
        yield from out.quarantine(path, "parquet", "file", "empty_file", "the file holds no rows")
    yield from out.drain()


def read_file(path: str, cfg: InputConfig, batch_size: int = 1000) -> Iterator[pa.RecordBatch]:
    fmt = input_format(path, cfg.format)
    if fmt == "jsonl":
        yield from read_jsonl(path, cfg, batch_size)
    elif fmt == "parquet":
        yield from read_parquet(path, cfg, batch_size)
    else:
        out = RecordBuilder(1)
        yield from out.quarantine(path, "unknown", "file", "unsupported_format",
                                  "not a document input (.jsonl[.gz|.zst] or .parquet); use `curation ingest` for WARC/HTML/PDF")
        yield from out.drain()


def read_file_isolated(path: str, cfg: InputConfig, batch_size: int = 1000) -> Iterator[pa.RecordBatch]:
    """`read_file`, and if a reader bug escapes it anyway, one `reader_error` row instead of a dead task."""
    try:
        yield from read_file(path, cfg, batch_size)
    except Exception as e:
        out = RecordBuilder(1)
        yield from out.quarantine(path, input_format(path, cfg.format) or "unknown", "reader-error", "reader_error",
                                  f"{type(e).__name__}: {e}"[:500])
        yield from out.drain()


def is_document_parquet(path: str) -> bool:
    """Our own output (document schema, exact core types) is read natively by Spark, keeping every signal column.

    Anything else (other columns, other timestamp units, ids as integers) goes through the validating
    Python reader, which casts or quarantines row by row instead of failing the whole read.
    """
    try:
        fsys, p = fs.resolve(path)
        with fsys.open_input_file(p) as f:
            schema = pq.read_schema(f)
    except Exception:
        return False
    core = S.core_document_schema()
    if not all(c in schema.names for c in ("doc_id", "source_id", "text", "source")):
        return False
    return all(schema.field(f.name).type == f.type for f in core if f.name in schema.names)


# -- on Spark: one task per input file ------------------------------------------------------------

def expand_inputs(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        found = fs.list_files(p)
        if not found:
            raise FileNotFoundError(f"input not found or empty: {p}")
        files += found
    return sorted(dict.fromkeys(files))


def files_frame(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row and one partition per file, so each file is read by its own task with bounded memory."""
    rdd = spark.sparkContext.parallelize([(f,) for f in files], max(1, len(files)))
    return spark.createDataFrame(rdd, "path string")


def read_documents(spark: SparkSession, files: list[str], cfg: InputConfig, batch_size: int = 1000) -> DataFrame:
    from pyspark.sql import functions as F

    native = [f for f in files if f.lower().endswith((".parquet", ".pq")) and is_document_parquet(f)]
    native_set = set(native)
    foreign = [f for f in files if f not in native_set]
    frames = []
    if foreign:
        out_schema = reader_schema()

        def run(batches):
            for b in batches:
                for path in b.column("path").to_pylist():
                    yield from read_file_isolated(path, cfg, batch_size)

        frames.append(files_frame(spark, foreign).mapInArrow(run, spark_schema(out_schema)))
    if native:
        df = spark.read.option("mergeSchema", "true").parquet(*[fs.spark_path(f) for f in native])
        for c in S.DECISION_FIELDS:
            if c.name in df.columns:
                df = df.drop(c.name)
        bad = F.col("text").isNull() | F.col("doc_id").isNull() | F.col("source_id").isNull()
        df = (
            df.withColumn("decision", F.when(bad, F.lit(S.QUARANTINED)).otherwise(F.lit(S.KEPT)))
            .withColumn("reason", F.when(bad, F.lit("missing_text")))
            .withColumn("related_id", F.lit(None).cast("string"))
            .withColumn("detail", F.when(bad, F.lit("document row without text, doc_id or source_id")))
        )
        frames.append(df)
    result = frames[0]
    for f in frames[1:]:
        result = result.unionByName(f, allowMissingColumns=True)
    return result
