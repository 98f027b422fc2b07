"""Per-batch generation: every pool document in, one NEW rewrite row per generation attempt out.

The rows follow the document schema (source_type "rewrite", a new doc_id, related_id = the original's
source_id) plus the rewrite signal columns. A valid rewrite leaves as kept (the post-filter decides later
whether it enters the mix); a malformed answer leaves as dropped `malformed_output:<why>` with the raw answer
as its text (for review); a backend failure as dropped `backend_error:<why>` with no text. So every attempt
is in the ledger, whatever the server did.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from curation import schema as S
from curation.ids import doc_id
from curation.stages.rewrite.backends import Backend, Generation, Sampling
from curation.stages.rewrite.cache import RewriteCache, cache_key, document_hash
from curation.stages.rewrite.parse import parse_output
from curation.stages.rewrite.prompts import PromptTemplate

CARRIED = ("source", "url", "domain", "crawl_date", "language", "language_score", "metadata")
REWRITE_FIELDS = [
    pa.field("rewrite_of", pa.string()),
    pa.field("rewrite_model", pa.string()),
    pa.field("rewrite_prompt_version", pa.string()),
    pa.field("rewrite_sampling", pa.string()),
    pa.field("rewrite_score", pa.float64()),
    pa.field("rewrite_source_score", pa.float64()),
    pa.field("rewrite_generated_tokens", pa.int64()),
    pa.field("rewrite_seconds", pa.float64()),
    pa.field("rewrite_cached", pa.bool_()),
    pa.field("mix_weight", pa.float64()),
]


def rewrite_schema(doc_schema: pa.Schema) -> pa.Schema:
    """The input document schema (with decisions) plus the rewrite columns it lacks."""
    base = S.decided_schema(doc_schema)
    return pa.schema(list(base) + [f for f in REWRITE_FIELDS if f.name not in base.names])


def count_tokens(texts: list[str | None]) -> list[int | None]:
    """Real token counts (annotate's tokenizer) when it is available, the cheap estimate otherwise."""
    try:
        from curation.text.tokenizer import token_counts

        counts = token_counts(texts)
        return [None if t is None else int(c) for t, c in zip(texts, counts, strict=True)]
    except Exception:  # noqa: BLE001  (no tokenizer file: fall back rather than fail the batch)
        from curation.text.tokens import approx_token_count

        return [approx_token_count(t) for t in texts]


@dataclass
class RewriteTransform:
    backend: Backend
    template: PromptTemplate
    sampling: Sampling
    out_schema: pa.Schema
    cache_dir: str | None = None
    max_input_chars: int = 6000
    score_column: str = "quality_score"
    chunk: int = 64

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = batch.to_pylist()
        cache = RewriteCache(self.cache_dir)
        out: list[dict[str, Any]] = []
        for start in range(0, len(rows), self.chunk):
            part = rows[start:start + self.chunk]
            out += self._rewrite(part, cache)
        table = S.conform(pa.Table.from_pylist(out, schema=self.out_schema), self.out_schema, keep_extra=False)
        return table.combine_chunks().to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], schema=self.out_schema)

    def _rewrite(self, rows: list[dict[str, Any]], cache: RewriteCache) -> list[dict[str, Any]]:
        model = self.backend.model
        version = self.template.id
        drafts, keys, gens = [], [], {}
        todo: list[int] = []
        for i, r in enumerate(rows):
            text = r.get("text") or ""
            draft = text[: self.max_input_chars]
            drafts.append(draft)
            key = cache_key(document_hash(draft), version, model)
            keys.append(key)
            hit = cache.get(key)
            if hit is not None:
                gens[i] = (Generation(hit.get("text"), hit.get("finish_reason"), hit.get("prompt_tokens", 0),
                                      hit.get("completion_tokens", 0), hit.get("seconds", 0.0)), True)
            elif text.strip():
                todo.append(i)
            else:
                gens[i] = (Generation(None, error="empty_input", detail="the pool document has no text"), False)
        if todo:
            results = self.backend.generate([self.template.build(drafts[i]) for i in todo], self.sampling)
            for i, g in zip(todo, results, strict=True):
                gens[i] = (g, False)
                if g.error is None:
                    cache.put(keys[i], {"text": g.text, "finish_reason": g.finish_reason, "prompt_tokens": g.prompt_tokens,
                                        "completion_tokens": g.completion_tokens, "seconds": g.seconds, "model": model,
                                        "prompt_version": version, "created": time.time()})
        built = [self._row(r, drafts[i], *gens[i]) for i, r in enumerate(rows)]
        counts = count_tokens([b["text"] for b in built])
        for b, c in zip(built, counts, strict=True):
            b["token_count"] = c
        return built

    def _row(self, orig: dict[str, Any], draft: str, g: Generation, cached: bool) -> dict[str, Any]:
        model, version = self.backend.model, self.template.id
        cut = len(orig.get("text") or "") > len(draft)
        note = f"; input cut to {self.max_input_chars} characters" if cut else ""
        if g.error is not None:
            text, decision, reason = None, S.DROPPED, f"backend_error:{g.error}"
            detail = f"{g.detail or g.error} (after {g.attempts} attempt(s)){note}"
        else:
            parsed = parse_output(g.text, self.template.parse, g.finish_reason)
            if parsed.problem:
                text, decision, reason = g.text, S.DROPPED, f"malformed_output:{parsed.problem}"
                detail = f"finish_reason={g.finish_reason}, {g.completion_tokens} tokens generated{note}"
            else:
                text, decision, reason = parsed.text, S.KEPT, None
                detail = f"rewritten by {model} with {version}{' (cached)' if cached else ''}{note}"
        src_score = orig.get(self.score_column)
        row = {k: orig.get(k) for k in CARRIED}
        row.update(
            doc_id=doc_id("rewrite", f"{orig.get('doc_id')}|{version}|{model}", text or ""),
            source_id=f"rewrite:{version}:{orig.get('source_id')}",
            source_type="rewrite",
            text=text,
            decision=decision, reason=reason, related_id=orig.get("source_id"), detail=detail,
            rewrite_of=orig.get("doc_id"), rewrite_model=model, rewrite_prompt_version=version,
            rewrite_sampling=self.sampling.to_json(), rewrite_score=None,
            rewrite_source_score=float(src_score) if isinstance(src_score, int | float) else None,
            rewrite_generated_tokens=g.completion_tokens, rewrite_seconds=round(g.seconds, 3), rewrite_cached=cached,
            mix_weight=None,
        )
        return row


def sampling_json(s: Sampling) -> str:
    return json.dumps(s.__dict__, sort_keys=True)
