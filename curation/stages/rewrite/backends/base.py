"""The backend interface, its value types and the factory that builds a backend from the config."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    pass


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
