"""normalize: Unicode NFC, whitespace and control characters, invalid UTF-8, empty documents.

Vectorised with Arrow compute kernels (RE2 regexes over whole batches), so it runs at I/O speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation import schema as S
from curation.engine.batches import arrow_schema, set_decisions, with_columns
from curation.engine.stage import Stage, StageContext
from curation.stages.normalize.config import NormalizeConfig
from curation.text.utf8 import repair_utf8

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{200b}\x{feff}]"


class NormalizeTransform:
    def __init__(self, cfg: NormalizeConfig):
        self.cfg = cfg

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        cfg = self.cfg
        text, bad = repair_utf8(batch.column("text"))
        repaired = bad if bad is not None else np.zeros(len(text), dtype=bool)
        text = pc.replace_substring_regex(text, r"\r\n?", "\n")
        text = pc.replace_substring_regex(text, CONTROL, "")
        if cfg.form != "none":
            text = pc.utf8_normalize(text, cfg.form)
        if cfg.collapse_spaces:
            text = pc.replace_substring_regex(text, r"[ \t\x{00a0}\x{3000}\x{2000}-\x{200a}]+", " ")
        if cfg.strip_lines:
            text = pc.replace_substring_regex(text, r"(?m)[ \t]+$", "")
        text = pc.replace_substring_regex(text, rf"\n{{{cfg.max_blank_lines + 2},}}", "\n" * (cfg.max_blank_lines + 1))
        text = pc.utf8_trim_whitespace(text)
        length = pc.utf8_length(text).to_pylist()
        fffd = pc.count_substring(text, "\ufffd").to_pylist()
        decisions = []
        for i in range(batch.num_rows):
            n = length[i] or 0
            if text[i].as_py() is None or n < cfg.min_chars:
                decisions.append((S.DROPPED, "empty", None, f"{n} characters after normalisation (< normalize.min_chars={cfg.min_chars})"))
            elif n and fffd[i] / n > cfg.max_replacement_frac:
                decisions.append((S.QUARANTINED, "invalid_utf8",
                                  None, f"{fffd[i]} of {n} characters are U+FFFD (> {cfg.max_replacement_frac})"))
            elif repaired[i] and cfg.invalid_utf8 == "quarantine":
                decisions.append((S.QUARANTINED, "invalid_utf8", None, "text was not valid UTF-8"))
            else:
                decisions.append(None)
        out = with_columns(batch, {"text": text})
        return set_decisions(out, decisions)


class NormalizeStage(Stage):
    name = "normalize"
    Config = NormalizeConfig

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        return ctx.map_batches(docs, NormalizeTransform(self.cfg), arrow_schema(docs))


STAGE = NormalizeStage
