"""Rewrites cached by (document hash, prompt version, model): one small JSON file per key.

One file per key, written to a temporary name and renamed, needs no lock and works from many Spark
executors on a shared filesystem. Only real generations are stored (a malformed answer is an answer:
the tokens were paid for); backend errors are not, so a rerun retries them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import xxhash


def document_hash(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogatepass"))


def cache_key(doc_hash: str, prompt_version: str, model: str) -> str:
    return hashlib.sha256(f"{doc_hash}\0{prompt_version}\0{model}".encode()).hexdigest()


class RewriteCache:
    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder else None

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        if self.folder is None:
            return None
        p = self._path(key)
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or half-written by a killed worker: generate again

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self.folder is None:
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, p)
