"""The backend interface, its value types and the factory that builds a backend from the config."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from curation.stages.rewrite.config import RewriteConfig


class BackendUnavailable(ValueError):
    """The backend cannot work at all (server unreachable, model file missing); the message says what to do.

    A ValueError so that the CLI reports it as a one-line error instead of a traceback."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 0.9
    max_tokens: int = 1024
    seed: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Generation:
    text: str | None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    """None on success, else a reason code after `backend_error:` (timeout, unreachable, http_500, bad_response...)."""
    detail: str | None = None
    attempts: int = 1


class Backend(Protocol):
    model: str
    """The model's name as recorded with every rewrite (and in the cache key)."""

    def check(self) -> None: ...

    def generate(self, prompts: list[str], sampling: Sampling) -> list[Generation]: ...


def make_backend(cfg: RewriteConfig, concurrency: int | None = None) -> Backend:
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
