"""Document ids: a stable hash of where a document came from and what it said when it was read.

doc_id is computed once, when a record is first read, and then kept through every stage (stages that
change the text do not change the id), so the ledger joins a document's history on one key. A rewrite
is a new document and gets a new id.
"""

from __future__ import annotations

import xxhash


def doc_id(source: str, position: str, text: str | bytes | None) -> str:
    h = xxhash.xxh3_128()
    h.update(source.encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    h.update(position.encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    if text is not None:
        h.update(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def text_hash64(text: str) -> int:
    """Signed 64-bit hash of a text (fits a Spark LongType)."""
    v = xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))
    return v - (1 << 64) if v >= (1 << 63) else v
