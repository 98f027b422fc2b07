"""Any OpenAI-compatible chat-completions server: vLLM in production, llama.cpp's server locally.

Bounded concurrency (a thread pool of `concurrency` in-flight requests per Python worker), a timeout per
request, retries with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx. What
still fails becomes a `Generation` with an error code; `check()` raises a clear `BackendUnavailable` when
the server cannot be reached at all before any document is sent.

The API key is sent as `Authorization: Bearer`. It comes from the environment variable `api_key_env`
(OPENAI_API_KEY by default) or, when that is unset, from the file named by `<api_key_env>_FILE` (e.g.
OPENAI_API_KEY_FILE=/run/secrets/llm_api_key, a mounted Docker or Kubernetes secret). Never from a config file.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from curation.stages.rewrite.backends.base import BackendUnavailable, Generation, Sampling

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def api_key(env: str | None) -> str | None:
    """$env, else the contents of the file named by ${env}_FILE; None when neither is set."""
    if not env:
        return None
    if os.environ.get(env):
        return os.environ[env]
    path = os.environ.get(f"{env}_FILE")
    if not path:
        return None
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ValueError(f"cannot read the API key file {path} ({type(e).__name__}: {e})") from e
    if not key:
        raise ValueError(f"the API key file {path} is empty")
    return key


class OpenAIHTTPBackend:
    def __init__(self, base_url: str, model: str, *, concurrency: int = 8, timeout_s: float = 120.0, retries: int = 3,
                 backoff_s: float = 1.0, api_key_env: str | None = "OPENAI_API_KEY"):
        if not base_url:
            raise ValueError("rewrite.http.base_url is required for the http backend (e.g. http://127.0.0.1:8000/v1)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = timeout_s
        self.retries = max(0, int(retries))
        self.backoff_s = backoff_s
        key = api_key(api_key_env)
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:  # picklable for Spark: the client is rebuilt on the worker
        return {**self.__dict__, "_client": None}

    @property
    def client(self) -> Any:
        import httpx

        if self._client is None:
            limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)),
                                        limits=limits, headers=self.headers)
        return self._client

    def check(self) -> None:
        import httpx

        url = f"{self.base_url}/models"
        try:
            r = self.client.get(url, timeout=min(10.0, self.timeout_s))
        except httpx.HTTPError as e:
            raise BackendUnavailable(
                f"cannot reach the OpenAI-compatible server at {self.base_url} ({type(e).__name__}: {e}). Start one, "
                f"e.g. `python -m llama_cpp.server --model <file.gguf> --host 127.0.0.1 --port 8000` or vLLM's "
                f"`vllm serve <model>`, and set rewrite.http.base_url; or use rewrite.backend=embedded") from e
        if r.status_code >= 400:
            raise BackendUnavailable(f"{url} answered HTTP {r.status_code}: {r.text[:200]!r}")

    def generate(self, prompts: list[str], sampling: Sampling) -> list[Generation]:
        if not prompts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(lambda p: self._one(p, sampling), prompts))

    def _payload(self, prompt: str, s: Sampling) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
        if s.seed is not None:
            body["seed"] = s.seed
        return body

    def _one(self, prompt: str, s: Sampling) -> Generation:
        import httpx

        started = time.time()
        last = Generation(None, error="unreachable", detail="no attempt made")
        for attempt in range(1, self.retries + 2):
            try:
                r = self.client.post(f"{self.base_url}/chat/completions", json=self._payload(prompt, s))
            except httpx.TimeoutException as e:
                last = Generation(None, error="timeout", detail=f"no answer within {self.timeout_s} s ({type(e).__name__})")
            except httpx.TransportError as e:
                last = Generation(None, error="unreachable", detail=f"{type(e).__name__}: {e}")
            else:
                if r.status_code < 400:
                    out = self._parse(r)
                    out.seconds, out.attempts = time.time() - started, attempt
                    return out
                last = Generation(None, error=f"http_{r.status_code}", detail=r.text[:300])
                if r.status_code not in RETRY_STATUS:
                    break
            if attempt <= self.retries:
                time.sleep(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
        last.seconds, last.attempts = time.time() - started, attempt
        return last

    @staticmethod
    def _parse(r: Any) -> Generation:
        try:
            body = r.json()
            choice = body["choices"][0]
            text = choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError(f"content is {type(text).__name__}")
            usage = body.get("usage") or {}
            return Generation(text, choice.get("finish_reason"), int(usage.get("prompt_tokens") or 0),
                              int(usage.get("completion_tokens") or 0))
        except (ValueError, KeyError, IndexError, TypeError) as e:
            return Generation(None, error="bad_response", detail=f"{type(e).__name__}: {e}; body {r.text[:200]!r}")
