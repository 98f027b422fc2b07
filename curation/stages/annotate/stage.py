"""annotate: language id, Gopher/C4/FineWeb heuristic signals, fastText quality score, real token counts.

Every signal is a column (`language`, `language_score`, `quality_score`, `word_count`, `token_count`,
`<ruleset>__<rule>`), computed for every document whatever the drop settings, so thresholds can be
changed later without recomputing. Drops name the rule that fired (`gopher_repetition:dup_line_frac`,
`language:de`) with the value and the limit in `detail`. The work is one Arrow-batch function
(`AnnotateTransform`), unit-testable without Spark; models load lazily once per Python worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation import schema as S
from curation.engine.batches import arrow_schema, set_decisions, with_columns
from curation.engine.stage import Stage, StageContext
from curation.stages.annotate.config import AnnotateConfig, default_quality_model
from curation.stages.annotate.rules import TextBatch, rulesets
from curation.text.utf8 import repair_utf8

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SIGNALS_SPEC = "signals/annotate.json"
#: Signal columns of the stage itself; each rule set adds its own (`RuleSet.columns`).
STAGE_SIGNALS: list[dict[str, Any]] = [
    {"name": "word_count", "type": "int64", "nullable": True,
     "doc": "Whitespace-separated words in the text (set by annotate)."},
    {"name": "quality_score", "type": "float64", "nullable": True,
     "doc": "Probability of __label__hq from the fastText quality classifier (annotate.quality.model); null for "
            "empty text. The select stage sorts on it."},
]
DESCRIPTION = ("Signals added by the annotate stage: word count, fastText quality score and one column per heuristic "
               "rule (<ruleset>__<rule>). The core columns language, language_score and token_count are filled too. "
               "Limits live in the config (annotate.<ruleset>.*), so the columns can be re-thresholded without "
               "recomputing.")


def signal_spec() -> dict[str, Any]:
    """schemas/signals/annotate.json as generated from the rule registry (scripts/generate.py writes it)."""
    fields = list(STAGE_SIGNALS)
    for rs in rulesets().values():
        fields += [{"name": name, "type": "float64", "nullable": True, "doc": doc} for name, doc in rs.columns()]
    return {"name": "annotate", "version": 1, "description": DESCRIPTION, "fields": fields}


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


def _input_languages(batch: pa.RecordBatch) -> list[str | None] | None:
    """The input's `language` column (a reader or an earlier run may have filled it), for rule sets with
    per-language data when language id is off; language id replaces it."""
    if "language" not in batch.schema.names:
        return None
    langs = batch.column("language").to_pylist()
    return langs if any(langs) else None


class AnnotateTransform:
    """Arrow batch in, same rows out with signal columns and drop decisions (picklable)."""

    def __init__(self, cfg: AnnotateConfig):
        self.cfg = cfg
        known = rulesets()
        self.rulesets = [known[name](getattr(cfg, name)) for name in cfg.rulesets]
        self.quality_model = cfg.quality.model  # None: the shipped model, resolved where the batch runs

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        cfg = self.cfg
        n = batch.num_rows
        texts = batch.column("text")
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        repaired, bad = repair_utf8(texts)
        invalid = bad if bad is not None else np.zeros(n, dtype=bool)
        # invalid rows are quarantined and analysed as ''; the repaired text keeps them readable in rejected/
        texts = pc.if_else(pa.array(invalid), "", repaired) if bad is not None else texts
        repaired = repaired if bad is not None else None
        original = texts.cast(pa.string()) if pa.types.is_large_string(texts.type) else texts
        texts = pc.fill_null(texts, "")
        tb = TextBatch(texts, _input_languages(batch))
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

        # Text-rewriting rule sets first, in list order: everything after them (other rule sets, language id,
        # word and token counts, the stored text) sees the rewritten text.
        active = [rs for rs in self.rulesets if rs.active()]
        values_of: dict[str, dict[str, np.ndarray]] = {}
        changed = np.zeros(n, dtype=bool)
        for rs in active:
            if not rs.rewrites():
                continue
            rw = rs.rewrite(tb)
            values_of[rs.name] = rw.values
            now = np.asarray(rw.changed, dtype=bool) & ~invalid
            # a document the rewrite would empty is dropped, and keeps the text it had (rejected/ shows it)
            left = pc.equal(pc.utf8_trim_whitespace(rw.texts), "").to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(now & left & ~empty):
                decide(int(i), S.DROPPED, f"{rs.name}:{rs.rewrite_rule}", f"no text left after {rs.name} rewrote it")
            now &= ~left | empty
            if now.any():
                tb = tb.replaced(pc.if_else(pa.array(now), rw.texts, tb.texts))
                changed |= now
        if changed.any():  # a rewrite never empties a text (that document is dropped above), so `empty` holds
            cols["text"] = pc.if_else(pa.array(changed), tb.texts, repaired if repaired is not None else original)

        if cfg.language.mode != "off":
            from curation.stages.annotate.langid import LanguageIdentifier

            text_list = tb.texts.to_pylist()
            keep = cfg.language.keep
            langs, scores, keep_scores = LanguageIdentifier(cfg.language.model).predict(text_list, keep)
            tb.languages = langs
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

        for rs in active:
            values = values_of[rs.name] if rs.name in values_of else rs.compute(tb)
            undefined = empty | invalid
            for rule in rs.rules:
                v = values[rule.name].astype(np.float64)
                v[undefined] = np.nan
                values[rule.name] = v
                cols[rs.column(rule.name)] = _float_column(v)
            if rs.drops():
                for i, fail in enumerate(rs.first_failure(values, n)):
                    if fail is not None:
                        decide(i, S.DROPPED, f"{rs.name}:{fail.rule}", fail.detail())

        cols["word_count"] = pa.array(tb.pieces.count().astype(np.int64))  # str.split() words

        if cfg.quality.enabled:
            from curation.text.classifier import FastTextScorer

            if text_list is None:
                text_list = tb.texts.to_pylist()
            q = FastTextScorer(self.quality_model or default_quality_model()).predict(text_list)
            q[empty | invalid] = np.nan
            cols["quality_score"] = _float_column(q)
            if cfg.quality.min_score is not None:
                for i in np.flatnonzero(q < cfg.quality.min_score):
                    decide(int(i), S.DROPPED, "quality:score", f"quality_score={q[i]:.4g} < min {cfg.quality.min_score}")

        if cfg.tokenizer == "smollm2":
            from curation.text.tokenizer import token_counts

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
            from curation.stages.annotate.langid import default_model_path

            ctx.record_model("language_id", cfg.language.model or default_model_path(), model="fastText lid.176 (ftz)")
        if cfg.quality.enabled:
            ctx.record_model("quality_classifier", cfg.quality.model or default_quality_model(), labels=["hq", "cc"])
        if cfg.tokenizer == "smollm2":
            from curation.text import tokenizer

            ctx.record_model("tokenizer", tokenizer.gguf_path(), model=tokenizer.NAME)
        ctx.record("rulesets", {name: getattr(cfg, name).mode for name in cfg.rulesets})
        schema = output_schema(arrow_schema(docs))
        return ctx.map_batches(docs, AnnotateTransform(cfg), S.decided_schema(schema))


STAGE = AnnotateStage
