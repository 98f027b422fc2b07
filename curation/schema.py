"""Language-neutral JSON schemas (schemas/*.json) turned into pyarrow schemas.

The JSON files are the contract between stages, the UI and outside readers; the code never
hard-codes a column list of its own, so a schema change is one edit in one place.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import pyarrow as pa

# importlib.resources, not a file path: the package also runs from a zip (spark-submit --py-files).
SCHEMA_DIR = resources.files("curation") / "resources" / "schemas"
DOCUMENT_SCHEMA_VERSION = 1
LEDGER_SCHEMA_VERSION = 1
MANIFEST_SCHEMA_VERSION = 1

# Columns a stage adds to every row it emits to say what happened to the document.
DECISION_FIELDS = [
    pa.field("decision", pa.string(), nullable=False),
    pa.field("reason", pa.string()),
    pa.field("related_id", pa.string()),
    pa.field("detail", pa.string()),
]
KEPT, DROPPED, QUARANTINED = "kept", "dropped", "quarantined"
DECISIONS = (KEPT, DROPPED, QUARANTINED)


def arrow_type(name: str) -> pa.DataType:
    """Map a schema type name (string, int64, list<float32>, ...) to an Arrow type."""
    name = name.strip()
    if name.startswith("list<") and name.endswith(">"):
        return pa.list_(arrow_type(name[5:-1]))
    if name.startswith("map<") and name.endswith(">"):
        key, value = (part.strip() for part in name[4:-1].split(",", 1))
        return pa.map_(arrow_type(key), arrow_type(value))
    simple = {
        "string": pa.string(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float32": pa.float32(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "binary": pa.binary(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
    }
    if name not in simple:
        raise ValueError(f"unknown schema type {name!r}")
    return simple[name]


def _fields(spec: dict, force_nullable: bool = False) -> list[pa.Field]:
    out = []
    for f in spec["fields"]:
        meta = {"doc": f.get("doc", "")}
        out.append(
            pa.field(f["name"], arrow_type(f["type"]), nullable=force_nullable or f.get("nullable", True), metadata=meta)
        )
    return out


@cache
def load_spec(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text())


@cache
def signal_specs() -> tuple[dict, ...]:
    """Signal column sets declared by stages in schemas/signals/<stage>.json (sorted by file name)."""
    signals = SCHEMA_DIR / "signals"
    files = sorted((p for p in signals.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)
    return tuple(json.loads(p.read_text()) for p in files)


@cache
def core_document_schema() -> pa.Schema:
    spec = load_spec(f"document.v{DOCUMENT_SCHEMA_VERSION}.json")
    return pa.schema(_fields(spec), metadata={"schema": "document", "version": str(DOCUMENT_SCHEMA_VERSION)})


@cache
def signal_fields() -> tuple[pa.Field, ...]:
    fields: dict[str, pa.Field] = {}
    for spec in signal_specs():
        for f in _fields(spec, force_nullable=True):
            fields.setdefault(f.name, f)
    return tuple(fields.values())


def document_schema(with_signals: bool = True) -> pa.Schema:
    core = core_document_schema()
    if not with_signals:
        return core
    return pa.schema(list(core) + list(signal_fields()), metadata=core.metadata)


@cache
def ledger_schema() -> pa.Schema:
    spec = load_spec(f"ledger.v{LEDGER_SCHEMA_VERSION}.json")
    return pa.schema(_fields(spec), metadata={"schema": "ledger", "version": str(LEDGER_SCHEMA_VERSION)})


def decided_schema(schema: pa.Schema) -> pa.Schema:
    """A document schema plus the decision columns a stage emits."""
    names = set(schema.names)
    return pa.schema(list(schema) + [f for f in DECISION_FIELDS if f.name not in names])


def core_names() -> list[str]:
    return core_document_schema().names


def check_compatible(schema: pa.Schema, required: pa.Schema) -> list[str]:
    """Problems that make `schema` unusable where `required` is expected (missing or mistyped columns)."""
    problems = []
    for f in required:
        if f.name not in schema.names:
            if not f.nullable:
                problems.append(f"missing required column {f.name!r}")
            continue
        got = schema.field(f.name).type
        if got != f.type and not _castable(got, f.type):
            problems.append(f"column {f.name!r} has type {got}, expected {f.type}")
    return problems


def _castable(got: pa.DataType, want: pa.DataType) -> bool:
    if pa.types.is_null(got):
        return True
    if pa.types.is_integer(got) and pa.types.is_integer(want):
        return True
    if pa.types.is_floating(want) and (pa.types.is_integer(got) or pa.types.is_floating(got)):
        return True
    if pa.types.is_large_string(got) and pa.types.is_string(want):
        return True
    if pa.types.is_timestamp(got) and pa.types.is_timestamp(want):
        return True
    return False


def conform(table: pa.Table | pa.RecordBatch, schema: pa.Schema, keep_extra: bool = True) -> pa.Table:
    """Cast to `schema`, adding missing nullable columns as nulls; extra columns kept after the schema's."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    cols, fields = [], []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            if col.type != f.type:
                col = col.cast(f.type)
        else:
            col = pa.nulls(table.num_rows, type=f.type)
        cols.append(col)
        fields.append(f)
    if keep_extra:
        for name in table.column_names:
            if name not in schema.names:
                cols.append(table.column(name))
                fields.append(table.schema.field(name))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields, metadata=schema.metadata))
