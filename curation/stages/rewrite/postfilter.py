"""After rewriting: a second fastText classifier, the top fraction of rewrites, and the mixture weights.

REWIRE trains a fastText classifier on high-quality positives vs a random sample of the rewrites themselves
and keeps the top 10 % of rewrites by it, so the selected rewrites are the ones that look most like the
positives and least like an average rewrite. The training and scoring code is annotate's
(`curation.text.classifier`): one fastText implementation in the repo.

The mixture (raw kept : selected rewrites, 1:1 in tokens by default) is expressed as a per-document
`mix_weight` (sampling weight): the documents themselves stay whole and the ledger stays exact, and a
training loader that samples proportionally to mix_weight x tokens sees the configured token shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from curation import schema as S
from curation.engine.batches import with_columns


def train_postfilter(positives: list[str], rewrites: list[str], output: str | Path, seed: int = 0) -> Path:
    from curation.text.classifier import train_fasttext

    return train_fasttext(positives, rewrites, output, label="hq", word_ngrams=2, seed=seed)


@dataclass
class ScoreRewrites:
    """Batch transform: rewrite_score = P(hq) for kept rewrite rows (others keep a null score)."""

    model_path: str

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        from curation.text.classifier import FastTextScorer

        texts = batch.column("text").to_pylist()
        kept = [d == S.KEPT for d in batch.column("decision").to_pylist()]
        scores = np.full(len(texts), np.nan)
        idx = [i for i, k in enumerate(kept) if k]
        if idx:
            scores[idx] = FastTextScorer(self.model_path).predict([texts[i] for i in idx])
        arr = pa.array([None if math.isnan(s) else float(s) for s in scores], pa.float64())
        return with_columns(batch, {"rewrite_score": arr})


def keep_count(valid: int, fraction: float) -> int:
    """ceil(fraction x valid) (at least one when there is anything valid)."""
    return min(valid, math.ceil(fraction * valid - 1e-9)) if valid else 0


def mix_weights(raw_tokens: int, rewrite_tokens: int, rewrite_share: float) -> tuple[float, float]:
    """(raw weight, rewrite weight) so that weighted tokens split rewrite_share : 1 - rewrite_share, total unchanged."""
    total = raw_tokens + rewrite_tokens
    if raw_tokens <= 0 or rewrite_tokens <= 0:
        return 1.0, 1.0
    return (1 - rewrite_share) * total / raw_tokens, rewrite_share * total / rewrite_tokens
