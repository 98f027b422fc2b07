"""Proxy runs: train a small LM on each quality bucket alone and record loss vs tokens seen (docs/PAPERS.md 4c.2).

The curves are what `fit` needs when the user has none; their token counts are the documents' own, so the
laws plan in the budget's unit. The model is `proxy.model` ("byte-tiny": 2 CPU cores, minutes at demo scale;
"byte-base": the GPU setting). Design (the protocol and its choices): docs/DESIGN.md#select-proxy-runs
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curation.engine.histogram import bin_index, document_files, histogram_files, quality_buckets
from curation.io import fs
from curation.io.readers import json_lines
from curation.stages.select.config import ProxyConfig, SelectConfig
from curation.stages.select.fit import CurvePoint, write_curves

MODELS: dict[str, dict[str, int]] = {
    "byte-tiny": {"layers": 2, "d_model": 64, "heads": 4},
    "byte-small": {"layers": 4, "d_model": 256, "heads": 4},
    "byte-base": {"layers": 8, "d_model": 512, "heads": 8},
}
log = logging.getLogger("curation.stages.select.proxy")
SEP = 256  # document separator token (bytes are 0..255)
VOCAB = 257


@dataclass
class Sample:
    texts: list[str]
    tokens: int
    bytes: int


def _priority(key: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) per document (sampling without holding the corpus)."""
    return xxhash.xxh64_intdigest(key.encode("utf-8", "surrogatepass"), seed=seed) / 2.0 ** 64


def _iter_docs(paths: list[str], score_col: str, token_col: str):
    """(key, text, score, tokens) for every document, streamed."""

    for f in document_files(paths):
        if f.lower().endswith((".parquet", ".pq")):
            with fs.open_input(f) as raw:
                pf = pq.ParquetFile(pa.BufferReader(raw.read()) if fs.is_uri(f) else f)
                names = pf.schema_arrow.names
                if score_col not in names or "text" not in names:
                    raise ValueError(f"{f}: need columns text and {score_col!r}")
                cols = ["text", score_col] + [c for c in ("doc_id", token_col) if c in names]
                for batch in pf.iter_batches(columns=cols, batch_size=4096):
                    d = batch.to_pydict()
                    for i, text in enumerate(d["text"]):
                        key = d["doc_id"][i] if "doc_id" in d else text or ""
                        yield key, text, d[score_col][i], d.get(token_col, [None] * batch.num_rows)[i]
        else:
            for r in json_lines(f):
                if isinstance(r, dict):
                    text = r.get("text")
                    yield str(r.get("doc_id") or r.get("id") or text), text, r.get(score_col), r.get(token_col)


def _tokens_of(text: str, tokens: Any) -> int:
    if isinstance(tokens, int | float) and tokens > 0:
        return int(tokens)
    from curation.text.tokens import approx_token_count

    return approx_token_count(text) or 0


def sample_buckets(paths: list[str], cfg: SelectConfig) -> tuple[dict[int, Sample], Sample, list[dict[str, Any]]]:
    """Hash-random samples of the best proxy.buckets buckets (each <= max_pool_tokens) and a reference set."""
    pc = cfg.proxy
    hist = histogram_files(paths, cfg.score_column, cfg.token_column, cfg.histogram_bins)
    buckets = quality_buckets(hist, cfg.buckets)
    m = min(pc.buckets, cfg.buckets)
    half_bin = quality_buckets(hist, 2)[0].first_bin
    top_half_docs = int(hist.docs[half_bin:].sum())
    # Hold out at most a fifth of the top half, so small corpora keep most of their best documents for training.
    ref_rate = 0.0 if pc.reference else min(0.2, 1.5 * pc.reference_docs / max(top_half_docs, 1))
    # Sample ~1.3x the cap (and at least ~8 documents) per bucket by hash, then trim to the cap in hash order.
    rates = {b.index: min(1.0, max(1.3 * pc.max_pool_tokens / max(b.tokens * (1 - ref_rate), 1), 8 / max(b.docs, 1)))
             for b in buckets[:m]}
    picked: dict[int, list[tuple[float, str, int]]] = {k: [] for k in rates}
    ref: list[tuple[float, str, int]] = []
    for key, text, score, tokens in _iter_docs(paths, cfg.score_column, cfg.token_column):
        if not text or score is None or not math.isfinite(float(score)):
            continue
        b = int(bin_index(np.array([float(score)]), hist.lo, hist.hi, hist.bins)[0])
        pri = _priority(str(key), pc.seed)
        if b >= half_bin and pri < ref_rate:
            ref.append((pri, text, _tokens_of(text, tokens)))
            continue
        for bk in buckets[:m]:
            if bk.first_bin <= b <= bk.last_bin:
                u = (pri - ref_rate) / (1 - ref_rate) if b >= half_bin else pri
                if u < rates[bk.index]:
                    picked[bk.index].append((u, text, _tokens_of(text, tokens)))
                break
    samples = {}
    for k, docs in picked.items():
        docs.sort()
        out, tok, byt = [], 0, 0
        for _, text, t in docs:
            if tok >= pc.max_pool_tokens:
                break
            out.append(text)
            tok += t
            byt += len(text.encode("utf-8", "surrogatepass"))
        if out:
            samples[k] = Sample(out, tok, byt)
    if pc.reference:
        reference = _read_reference(pc.reference, pc.reference_docs)
    else:
        ref.sort()
        texts = [t for _, t, _ in ref[:pc.reference_docs]]
        reference = Sample(texts, sum(t for _, _, t in ref[:pc.reference_docs]),
                           sum(len(t.encode("utf-8", "surrogatepass")) for t in texts))
    if not reference.texts:
        raise ValueError("no reference documents for the validation loss (set select.proxy.reference)")
    return samples, reference, [b.to_dict() for b in buckets]


def _read_reference(path: str, limit: int) -> Sample:
    """Reference texts from a Parquet or JSONL file/folder (only the text column is read)."""
    texts: list[str] = []
    for f in document_files([path]):
        if f.lower().endswith((".parquet", ".pq")):
            texts += [t for t in pq.read_table(f, columns=["text"]).column("text").to_pylist() if t]
        else:
            texts += [r["text"] for r in json_lines(f) if isinstance(r, dict) and isinstance(r.get("text"), str) and r["text"]]
        if len(texts) >= limit:
            break
    texts = texts[:limit]
    return Sample(texts, 0, sum(len(t.encode("utf-8", "surrogatepass")) for t in texts))


def _encode(texts: list[str]) -> np.ndarray:
    parts = []
    for t in texts:
        parts.append(np.frombuffer(t.encode("utf-8", "surrogatepass"), dtype=np.uint8).astype(np.int64))
        parts.append(np.array([SEP], dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _chunks(stream: np.ndarray, context: int) -> np.ndarray:
    """Non-overlapping (context+1)-token windows (input + shifted target) covering the stream once."""
    n = (len(stream) - 1) // context
    if n <= 0:
        stream = np.concatenate([stream, np.full(context + 1 - len(stream), SEP)])
        n = 1
    idx = np.arange(n)[:, None] * context + np.arange(context + 1)[None, :]
    return stream[np.minimum(idx, len(stream) - 1)]


def build_model(name: str, context: int):
    """A pre-norm causal Transformer over bytes."""
    import torch
    from torch import nn

    if name not in MODELS:
        raise ValueError(f"unknown proxy model {name!r} (known: {', '.join(MODELS)})")
    spec = MODELS[name]

    class ByteGPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = spec["d_model"]
            self.tok = nn.Embedding(VOCAB, d)
            self.pos = nn.Embedding(context, d)
            layer = nn.TransformerEncoderLayer(d, spec["heads"], 4 * d, dropout=0.0, batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, spec["layers"], enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, VOCAB, bias=False)
            self.register_buffer("mask", torch.triu(torch.full((context, context), float("-inf")), diagonal=1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            t = x.shape[1]
            h = self.tok(x) + self.pos(torch.arange(t, device=x.device))[None]
            h = self.blocks(h, mask=self.mask[:t, :t], is_causal=True)
            return self.head(self.norm(h))

    return ByteGPT()


def _device(pc: ProxyConfig) -> str:
    import torch

    if pc.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return pc.device


def train_curve(train: Sample, reference: Sample, pc: ProxyConfig, multiples: list[float]) -> list[dict[str, Any]]:
    """One proxy run on one pool; the validation loss each time the tokens seen pass multiple * pool size."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(pc.seed)
    if pc.threads > 0:
        torch.set_num_threads(pc.threads)
    device = _device(pc)
    rng = np.random.default_rng(pc.seed)
    chunks = torch.from_numpy(_chunks(_encode(train.texts), pc.context))
    ref = torch.from_numpy(_chunks(_encode(reference.texts), pc.context)[:max(pc.batch_size * 4, 64)]).to(device)
    pool_bytes = chunks.shape[0] * pc.context
    model = build_model(pc.model, pc.context).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=pc.learning_rate, weight_decay=0.1, betas=(0.9, 0.95))
    targets = sorted(multiples)
    total_steps = math.ceil(targets[-1] * pool_bytes / (pc.batch_size * pc.context))
    warmup = max(1, min(100, total_steps // 10))

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            losses = []
            for i in range(0, ref.shape[0], 64):
                x = ref[i:i + 64]
                logits = model(x[:, :-1])
                losses.append(F.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1), reduction="sum").item())
        model.train()
        return sum(losses) / (ref.shape[0] * pc.context)

    order: list[int] = []
    seen = 0
    out = []
    ti = 0
    started = time.time()
    for step in range(total_steps):
        if len(order) < pc.batch_size:
            order += list(rng.permutation(chunks.shape[0]))  # next epoch over the pool, shuffled
        idx, order = order[:pc.batch_size], order[pc.batch_size:]
        x = chunks[idx].to(device)
        for g in opt.param_groups:
            g["lr"] = pc.learning_rate * min(1.0, (step + 1) / warmup)
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += len(idx) * pc.context
        while ti < len(targets) and seen >= targets[ti] * pool_bytes - 1e-9:
            out.append({"multiple": targets[ti], "bytes_seen": seen, "pool_bytes": pool_bytes, "steps": step + 1,
                        "loss": evaluate(), "train_loss": float(loss.item()), "seconds": round(time.time() - started, 2)})
            log.info("  %.2gx pool: step %d/%d, validation loss %.4f (%.1f s)", targets[ti], step + 1, total_steps,
                     out[-1]["loss"], out[-1]["seconds"])
            ti += 1
    return out


def run_proxies(paths: list[str], cfg: SelectConfig, output: str | Path) -> tuple[Path, list[CurvePoint]]:
    """Sample the buckets, train one proxy per bucket, write the curves CSV (+ a JSON summary beside it)."""
    pc = cfg.proxy
    samples, reference, buckets = sample_buckets(paths, cfg)
    if not samples:
        raise ValueError("no scored documents with text in the best buckets")
    points, extra, runs = [], [], []
    for k in sorted(samples):
        s = samples[k]
        tokens_per_byte = s.tokens / s.bytes if s.bytes else 0.25
        log.info("bucket %d: %d docs, %d tokens (%d bytes)", k, len(s.texts), s.tokens, s.bytes)
        curve = train_curve(s, reference, pc, list(pc.multiples))
        for c in curve:
            pool_tokens = c["pool_bytes"] * tokens_per_byte
            points.append(CurvePoint(k, pool_tokens, c["bytes_seen"] * tokens_per_byte, c["loss"]))
            extra.append({"model": pc.model, "multiple": c["multiple"], "pool_bytes": c["pool_bytes"],
                          "bytes_seen": c["bytes_seen"], "steps": c["steps"], "train_loss": round(c["train_loss"], 5),
                          "seconds": c["seconds"], "docs": len(s.texts)})
        runs.append({"bucket": k, "docs": len(s.texts), "tokens": s.tokens, "bytes": s.bytes, "curve": curve})
    out = write_curves(points, output, extra)
    summary = {"model": pc.model, "device": _device(pc), "context": pc.context, "batch_size": pc.batch_size,
               "learning_rate": pc.learning_rate, "multiples": list(pc.multiples), "reference_docs": len(reference.texts),
               "loss_unit": "nats per byte on the reference set", "buckets": buckets, "runs": runs}
    Path(out).with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    return out, points


def main(argv: list[str]) -> int:
    """`curation select proxy --input DOCS --output CURVES.csv [--fit]`."""
    from curation.stages.select.cli import load_select_config
    from curation.stages.select.fit import fit_laws, format_fit

    p = argparse.ArgumentParser(prog="curation select proxy",
                                description="Train a small proxy LM per quality bucket and record loss-vs-tokens curves.")
    p.add_argument("--input", "-i", nargs="+", required=True, help="scored documents (Parquet/JSONL, run folders)")
    p.add_argument("--output", "-o", required=True, help="curves CSV to write")
    p.add_argument("--fit", action="store_true", help="also fit the laws (<output>.laws.json) and print the fit quality")
    p.add_argument("--config", "-c")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    a = p.parse_args(argv)
    if not a.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_select_config(a.config, a.set)
    started = time.time()
    out, points = run_proxies(a.input, cfg, a.output)
    print(f"curves: {out} ({len(points)} points, {time.time() - started:.1f} s, model {cfg.proxy.model} on {_device(cfg.proxy)})")
    for pt in points:
        print(f"  bucket {pt.bucket}  pool {pt.pool_tokens:>10.0f}  seen {pt.tokens_seen:>11.0f}  loss {pt.loss:.4f}")
    if a.fit:
        fc = cfg.fit
        laws = fit_laws(points, form=fc.form, unit_tokens=fc.unit_tokens, a=fc.a, d=fc.d, polish=fc.polish, source=str(out))
        laws.save(Path(out).with_suffix(".laws.json"))
        print(format_fit(laws))
        print(f"laws: {Path(out).with_suffix('.laws.json')}")
    return 0
