"""What a stage is: a DataFrame in (kept documents), the same rows out with a decision for each.

The runner owns reading, writing, the ledger and the manifest; a stage only decides. Per-document
work goes through `ctx.map_batches` (a pure Arrow-batch function); global work is a DataFrame program.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from curation import schema as S
from curation.engine.batches import BatchFn, map_batches

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from curation.config import Config


@dataclass
class Upstream:
    """What an earlier stage of the run left that a later stage declared it reads (`Stage.reads`)."""

    name: str
    rejected: DataFrame | None
    """That stage's dropped and quarantined rows with their reasons and signals; None when it rejected nothing
    or the run does not write rejected rows (`output.write_rejected: false`)."""
    rejected_path: str | None


@dataclass
class StageContext:
    spark: SparkSession
    config: Config
    run_dir: str
    stage_dir: str
    """Folder for this stage's side outputs (signatures, embeddings, models); kept with the run."""
    run_id: str
    index: int
    inputs: list[str] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    upstream: dict[str, Upstream] = field(default_factory=dict)
    """Outputs of the earlier stages named in `Stage.reads` that ran in this run, by stage name."""

    def map_batches(self, df: DataFrame, fn: BatchFn, output_schema: pa.Schema) -> DataFrame:
        return map_batches(df, fn, output_schema)

    def record_model(self, name: str, path: str | Path | None = None, **info: Any) -> None:
        """Name a model (and hash its file) in the manifest, so a run says exactly what it used."""
        entry: dict[str, Any] = dict(info)
        if path is not None:
            p = Path(path)
            entry["path"] = str(p)
            if p.is_file():
                entry["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
            elif p.is_dir():
                h = hashlib.sha256()
                for f in sorted(p.rglob("*")):
                    if f.is_file() and f.stat().st_size < 500_000_000:
                        h.update(f.relative_to(p).as_posix().encode())
                        h.update(f.read_bytes())
                entry["sha256"] = h.hexdigest()
        self.models[name] = entry

    def record(self, key: str, value: Any) -> None:
        """Stage facts for the manifest (chosen thresholds, policies, timings); must be JSON-serialisable."""
        json.dumps(value, default=str)
        self.extra[key] = value


class Stage:
    """Base class. Subclasses set `name`, optionally `Config` (a dataclass) and override `apply`."""

    name: ClassVar[str] = ""
    Config: ClassVar[type | None] = None
    #: A source stage reads raw inputs itself (`read`, `ingest`); others get the previous stage's documents.
    source: ClassVar[bool] = False
    #: Extra CLI flags for `curation <stage>`: flag -> config key (e.g. {"--budget-tokens": "select.budget_tokens"}).
    cli_options: ClassVar[dict[str, str]] = {}
    #: True for a stage that adds documents of its own to its output (rewrite): its input count may grow.
    creates_documents: ClassVar[bool] = False
    #: Earlier stages whose outputs (beyond the kept documents) this stage reads; the runner passes them in
    #: `ctx.upstream`, so no stage opens another stage's files.
    reads: ClassVar[tuple[str, ...]] = ()
    #: Named sub-commands: `curation <stage> <cmd> ...` -> fn(argv) -> exit code.
    commands: ClassVar[dict[str, str]] = {}

    def __init__(self, config: Config):
        self.config = config
        self.cfg = config.section(self.name)

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        """Schema of the documents this stage emits (default: unchanged input + decisions)."""
        return S.decided_schema(input_schema)

    def read(self, ctx: StageContext, paths: list[str]) -> DataFrame:
        raise NotImplementedError(f"stage {self.name} is not a source stage")

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        """Return every input row with decision/reason/related_id/detail set."""
        raise NotImplementedError
